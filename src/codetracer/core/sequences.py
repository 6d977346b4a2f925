"""Stored runs read as sequences: the attempts of one reflective replay (or of a framework's own retry loop), linked
by ``parent_run_id`` (each attempt names the one before it), told from any attempt.

Why a module of its own, reading the store without its tree model: ``ls`` lists dozens of runs and must stay quick
(it starts without pydantic's models), yet to tell runs apart and to tell a sequence it needs a few facts that only
the tree holds -- the framework detail (LangGraph or a plain LangChain runnable, mini's model class) and the
``replay`` entry of each attempt (verdict, the correction sent, the budget given and used, why the sequence ended).
Those sit in the tree's head: a stored tree is the run's JSON with its fields in model order, so ``metadata`` comes
before messages, steps and the diagnosis, and :func:`head_of` decompresses only as much of it as it takes to read
the head (usually the first few KiB), with the standard library alone.

Only reads: nothing here writes the store.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from codetracer.core.store_api import RunStore

HEAD_FIELDS = frozenset({"id", "framework", "task", "outcome", "exit_status", "parent_run_id", "metadata"})
"""The fields of a stored tree's head that this module reads (all of them come before ``messages``)."""

_CHUNK = 8192
_DECODER = json.JSONDecoder()
_MAX_DEPTH = 1000
"""Parent links followed at most (a sequence longer than this is a broken link loop, not a replay)."""


def head_of(tree: bytes) -> dict[str, Any]:
    """The head fields of a stored (zlib-compressed JSON) tree, decompressing no more than needed.

    Reads the top-level object key by key and stops after ``metadata``; a tree that cannot be read that way gives
    what was read so far (never raises: a listing must not fail on one odd row)."""
    inflater = zlib.decompressobj()
    text = ""
    pos = 0
    out: dict[str, Any] = {}
    try:
        for offset in range(0, len(tree) + 1, _CHUNK):
            text += inflater.decompress(tree[offset : offset + _CHUNK]).decode("utf-8", "surrogatepass")
            pos, done = _read_keys(text, pos, out)
            if done:
                break
    except (zlib.error, UnicodeDecodeError, ValueError):
        pass
    return out


def _read_keys(text: str, pos: int, out: dict[str, Any]) -> tuple[int, bool]:
    """Read ``"key": value`` pairs of the top-level object from ``pos``; returns where the next pair starts and
    whether the head is complete. A pair cut off by the end of ``text`` is left for the next chunk."""
    if pos == 0:
        start = text.find("{")
        if start < 0:
            return 0, False
        pos = start + 1
    while True:
        at = pos
        while at < len(text) and text[at] in " \n\r\t,":
            at += 1
        if at >= len(text):
            return pos, False
        if text[at] == "}":
            return at, True
        try:
            key, end = _DECODER.raw_decode(text, at)
            colon = text.index(":", end)
            value_at = colon + 1
            while value_at < len(text) and text[value_at] in " \n\r\t":
                value_at += 1
            value, end = _DECODER.raw_decode(text, value_at)
        except (ValueError, json.JSONDecodeError):
            return pos, False  # cut off: wait for more text
        if end >= len(text) and not isinstance(value, dict | list | str):
            return pos, False  # a number or literal that may go on in the next chunk
        if key in HEAD_FIELDS:
            out[key] = value
        pos = end
        if key == "metadata":
            return pos, True


# --------------------------------------------------------------------------------------------------------------------
# What ls tells runs apart by
# --------------------------------------------------------------------------------------------------------------------


def framework_detail(framework: str, metadata: Mapping[str, Any] | None) -> str | None:
    """What tells runs of one framework apart: LangGraph's graph path vs a plain LangChain runnable, mini's model
    class (``DeterministicModel``, ``LitellmModel``), else the model name; ``None`` when the run says nothing."""
    meta = metadata or {}
    if framework == "langchain":
        if meta.get("langgraph") or meta.get("trace_path") == "graph":
            return "LangGraph"
        return "LangChain" if meta.get("live") or meta.get("trace_path") else None
    for key in ("model_class", "model"):
        value = meta.get(key)
        if isinstance(value, str) and value:
            return value
    return None


# --------------------------------------------------------------------------------------------------------------------
# Sequences
# --------------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Member:
    """One attempt of a sequence, as stored: its columns and its ``replay`` entry (``{}`` when it has none)."""

    run_id: str
    parent_run_id: str | None
    framework: str
    detail: str | None
    task: str | None
    outcome: str
    n_steps: int
    onset_step: int | None
    started_at: float | None
    replay: dict[str, Any]
    number: int = 0
    n_error_steps: int = 0
    complete: bool = True
    source: str | None = None

    def as_dict(self) -> dict[str, Any]:
        r = self.replay
        return {
            "attempt": self.number,
            "run_id": self.run_id,
            "parent_run_id": self.parent_run_id,
            "outcome": self.outcome,
            "verdict": r.get("verdict"),
            "reason": r.get("reason"),
            "n_steps": self.n_steps,
            "usage": r.get("usage"),
            "onset_step": self.onset_step,
            "correction": r.get("message"),
            "delivered": r.get("delivered"),
            "rolled_back": r.get("rolled_back") or [],
        }


@dataclass
class RunSequence:
    """The attempts of one sequence, first (the root) to last."""

    members: list[Member] = field(default_factory=list)

    @property
    def root(self) -> str:
        return self.members[0].run_id

    @property
    def last(self) -> Member:
        return self.members[-1]

    @property
    def outcome(self) -> str:
        """The sequence's final outcome: its last attempt's."""
        return self.last.outcome

    @property
    def stop_reason(self) -> str | None:
        value = self.last.replay.get("stop_reason")
        return value if isinstance(value, str) else None

    @property
    def budget(self) -> dict[str, Any]:
        """The budget given, per axis (``{}`` when nothing bounded it or it was not recorded)."""
        for member in reversed(self.members):
            value = member.replay.get("budget")
            if isinstance(value, dict):
                return value
        return {}

    @property
    def used(self) -> dict[str, Any]:
        """What all attempts used: the last attempt's running total, else the steps of the stored attempts."""
        for member in reversed(self.members):
            value = member.replay.get("used")
            if isinstance(value, dict) and member is self.last:
                return value
        return {"steps": sum(m.n_steps for m in self.members)}

    def number_of(self, run_id: str) -> int | None:
        for member in self.members:
            if member.run_id == run_id:
                return member.number
        return None

    def budget_line(self) -> str:
        """``7 of 12 steps`` (and the other axes that were bounded: ``cost 0.05 of 3``), or ``7 steps`` without a
        step budget."""
        used, given = self.used, self.budget
        parts = [_of(used.get("steps", 0), given.get("steps"), "steps")]
        for axis, unit in (("tokens", "tokens"), ("cost", "cost"), ("seconds", "seconds")):
            if given.get(axis) is not None:
                parts.append(f"{unit} {_of(used.get(axis, 0), given[axis], '').strip()}")
        return ", ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        return {
            "root_run_id": self.root,
            "attempts": len(self.members),
            "outcome": self.outcome,
            "stop_reason": self.stop_reason,
            "budget": self.budget,
            "used": self.used,
            "members": [m.as_dict() for m in self.members],
        }


def _of(used: Any, given: Any, unit: str) -> str:
    used_text = f"{used:.4g}" if isinstance(used, float) else str(used)
    if given is None:
        return f"{used_text} {unit}"
    given_text = f"{given:g}" if isinstance(given, float) else str(given)
    return f"{used_text} of {given_text} {unit}"


_MEMBER_SQL = (
    "SELECT id, parent_run_id, framework, task, outcome, n_steps, n_error_steps, complete, onset_step, started_at, "
    "source, "
    f"substr(tree, 1, {4 * _CHUNK}) AS head FROM runs WHERE project = ? AND "
)


def heads(store: RunStore, run_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The head (:func:`head_of`) of each stored run named, reading only the first bytes of its tree (the whole
    tree when the head is longer: a very long task)."""
    ids = list(dict.fromkeys(run_ids))
    out: dict[str, dict[str, Any]] = {}
    for chunk in _chunks(ids):
        marks = ",".join("?" * len(chunk))
        rows = store.query(
            f"SELECT id, substr(tree, 1, {4 * _CHUNK}) AS head FROM runs WHERE project = ? AND id IN ({marks})",
            [store.project, *chunk],
        )
        for row in rows:
            out[row["id"]] = _head(store, row["id"], row["head"])
    return out


def _head(store: RunStore, run_id: str, first: bytes) -> dict[str, Any]:
    found = head_of(first)
    if "metadata" in found or len(first) < 4 * _CHUNK:
        return found
    rows = store.query("SELECT tree FROM runs WHERE project = ? AND id = ?", (store.project, run_id))
    return head_of(rows[0]["tree"]) if rows else found


def _chunks(ids: Sequence[str], size: int = 500) -> Iterable[Sequence[str]]:
    for i in range(0, len(ids), size):
        yield ids[i : i + size]


def root_of(store: RunStore, run_id: str) -> str:
    """The first run of ``run_id``'s sequence (``run_id`` itself when it has no stored parent)."""
    seen = {run_id}
    current = run_id
    for _ in range(_MAX_DEPTH):
        rows = store.query("SELECT parent_run_id FROM runs WHERE project = ? AND id = ?", (store.project, current))
        parent = rows[0]["parent_run_id"] if rows else None
        if not parent or parent in seen:
            return current
        if not store.query("SELECT 1 FROM runs WHERE project = ? AND id = ?", (store.project, parent)):
            return current  # the parent was deleted or never stored: the sequence starts here
        seen.add(parent)
        current = parent
    return current


def sequence_of(store: RunStore, run_id: str) -> RunSequence | None:
    """The whole sequence ``run_id`` belongs to (any attempt of it), or ``None`` for a run on its own."""
    found = _descendants(store, root_of(store, run_id))
    if len(found) < 2:
        return None
    return _sequence(store, found)


def sequences_for(store: RunStore, run_ids: Sequence[str]) -> dict[str, RunSequence]:
    """Run id -> its sequence, for the runs of ``run_ids`` that belong to one (for ``ls``: two queries tell which
    runs have a parent or a child; only those are read further)."""
    linked: set[str] = set()
    for chunk in _chunks(list(dict.fromkeys(run_ids))):
        marks = ",".join("?" * len(chunk))
        params = [store.project, *chunk]
        linked.update(
            r["id"] for r in store.query(
                f"SELECT id FROM runs WHERE project = ? AND id IN ({marks}) AND parent_run_id IS NOT NULL", params
            )
        )
        linked.update(
            r["parent_run_id"] for r in store.query(
                f"SELECT DISTINCT parent_run_id FROM runs WHERE project = ? AND parent_run_id IN ({marks})", params
            )
        )
    out: dict[str, RunSequence] = {}
    for run_id in run_ids:
        if run_id not in linked or run_id in out:
            continue
        sequence = sequence_of(store, run_id)
        for member in sequence.members if sequence is not None else ():
            out[member.run_id] = sequence  # type: ignore[assignment]
    return out


def _descendants(store: RunStore, root: str) -> list[dict[str, Any]]:
    """The row of ``root`` and the rows of every run below it through ``parent_run_id`` (one query per level)."""
    rows = [dict(r) for r in store.query(_MEMBER_SQL + "id = ?", (store.project, root))]
    seen = {r["id"] for r in rows}
    level = list(seen)
    while level and len(seen) < _MAX_DEPTH:
        marks = ",".join("?" * len(level))
        found = [dict(r) for r in store.query(_MEMBER_SQL + f"parent_run_id IN ({marks})", [store.project, *level])]
        found = [r for r in found if r["id"] not in seen]
        seen.update(r["id"] for r in found)
        rows.extend(found)
        level = [r["id"] for r in found]
    return rows


def _sequence(store: RunStore, rows: list[dict[str, Any]]) -> RunSequence:
    members = []
    for row in rows:
        head = _head(store, row["id"], row["head"])
        found = head.get("metadata")
        metadata: dict[str, Any] = found if isinstance(found, dict) else {}
        entry = metadata.get("replay")
        replay: dict[str, Any] = entry if isinstance(entry, dict) else {}
        members.append(
            Member(
                run_id=row["id"],
                parent_run_id=row["parent_run_id"],
                framework=row["framework"],
                detail=framework_detail(row["framework"], metadata),
                task=row["task"],
                outcome=row["outcome"],
                n_steps=int(row["n_steps"]),
                onset_step=row["onset_step"],
                started_at=row["started_at"],
                replay=dict(replay),
                n_error_steps=int(row["n_error_steps"]),
                complete=bool(row["complete"]),
                source=row["source"],
            )
        )
    # replay's own attempt numbers first (they are the truth), else the start time, else the id
    members.sort(key=lambda m: (_attempt(m) or 10**9, m.started_at or 0.0, m.run_id))
    members = [_numbered(m, n) for n, m in enumerate(members, 1)]
    return RunSequence(members)


def _attempt(member: Member) -> int | None:
    value = member.replay.get("attempt")
    return value if isinstance(value, int) else None


def _numbered(member: Member, n: int) -> Member:
    from dataclasses import replace

    return replace(member, number=n)

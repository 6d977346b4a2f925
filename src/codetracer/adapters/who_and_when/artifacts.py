"""Who&When / AG2 multi-agent failure logs as trace trees.

A Who&When file is one JSON object: ``history`` (a list of chat turns), ``question`` (the task), ``ground_truth``,
the verdict and the human failure labels ``mistake_step`` (a 0-based index into ``history``, stored as a string),
``mistake_agent`` and ``mistake_reason``. Two variants are read, whatever the order of their keys:

* **algorithm-generated** (AG2 group chats): turns ``{"role", "name", "content"}`` where ``name`` is the agent,
  verdict ``is_correct``, plus ``system_prompt`` (the agents) and ``level``;
* **hand-crafted** (Magentic-One logs): turns ``{"role", "content"}`` where the role carries the agent
  (``Orchestrator (thought)``, ``Orchestrator (-> WebSurfer)``, ``WebSurfer``, ``human``), verdict ``is_corrected``,
  no ``system_prompt`` nor ``level``; ``history`` usually comes first and can be long.

Mapping (one run per file):

* every history entry is one step, in order, so step id = history index + 1 (``mistake_step`` k is step k + 1);
  ``agent`` is the entry's ``name``, else the agent its role names (``Orchestrator (thought)`` -> ``Orchestrator``;
  not the generic ``user``/``assistant``), and ``raw_ref`` is ``"history[i]"``;
* the content is kept whole as a message of the step (role and name as given); for speaking agents it is also the
  step's thought. The ``Computer_terminal`` executor does not think: its turn ``exitcode: N (...)`` is recorded as an
  observation with that exit code instead of a thought;
* task = ``question``; outcome = ``"failed"`` when ``is_correct`` (or ``is_corrected``) is false, ``"solved"`` when
  true, else unknown;
* the gold labels go to run metadata ``"gold"`` = ``{"mistake_step": k, "mistake_step_id": k + 1, "mistake_agent":
  ..., "mistake_reason": ...}`` so evaluation can compare them with a localizer's answer without re-reading the file.

Detection looks at the content, not at key order: the file's head and tail together must name ``history`` and two
Who&When fields (labels sit at the end of hand-crafted logs, beyond any head window); a chat log whose labels are
in neither is parsed and its keys checked. Other JSON is not claimed.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from codetracer.core.errors import ExtractError
from codetracer.core.events import Events
from codetracer.core.extractor import Candidate, load_json, stable_run_id

FRAMEWORK = "ag2"
_EXECUTOR_NAMES = frozenset({"Computer_terminal", "ComputerTerminal"})
_EXITCODE = re.compile(r"exitcode: (-?\d+)")
_MARKERS = ('"mistake_step"', '"mistake_agent"', '"is_correct"', '"is_corrected"', '"question_ID"', '"ground_truth"')
_LABEL_KEYS = frozenset(m.strip('"') for m in _MARKERS)
_GENERIC_ROLES = frozenset({"user", "assistant", "system", "tool", "function"})
_ROLE_NOTE = re.compile(r"\s*\(.*\)\s*$")
_TAIL_BYTES = 8192
_PARSE_LIMIT = 50_000_000
"""Bytes up to which a chat log whose head and tail show no label is parsed to look for them."""


class WhoAndWhenExtractor:
    """Reads one Who&When JSON file (AG2 group-chat history plus failure labels)."""

    name = "who-and-when"

    def detect(self, candidate: Candidate) -> float:
        if candidate.is_dir or not candidate.head.lstrip().startswith(b"{"):
            return 0.0
        head = candidate.head_text
        text = head + _tail(candidate.path, len(candidate.head))
        if '"history"' not in text:
            return 0.0
        hits = sum(marker in text for marker in _MARKERS)
        if hits >= 2 and ('"role"' in text or '"question"' in text):
            return 0.9
        if '"role"' in head and '"content"' in head and _labelled(candidate.path):
            return 0.85
        return 0.0

    def extract(self, path: Path, events: Events) -> None:
        data = load_json(path)
        if not isinstance(data, dict):
            raise ExtractError(path, f"top level is {type(data).__name__}", expected="a JSON object with 'history'")
        history = data.get("history")
        if not isinstance(history, list):
            raise ExtractError(path, "'history' is missing or not a list", position="history", expected="a list")
        if not history:
            raise ExtractError(path, "'history' is empty", position="history", expected="at least one turn")
        turns = [_turn(path, i, entry) for i, entry in enumerate(history)]
        task = _optional_str(path, data, "question")
        gold = _gold(path, data, len(history))
        run_id = stable_run_id(FRAMEWORK, path)
        metadata: dict[str, Any] = {"source_path": str(path), "format": self.name}
        for key in ("question_ID", "level", "ground_truth"):
            if isinstance(data.get(key), str | int | float):
                metadata[key] = data[key]
        if isinstance(data.get("system_prompt"), dict):
            metadata["agents"] = sorted(str(k) for k in data["system_prompt"])
        if gold is not None:
            metadata["gold"] = gold
        metadata["variant"] = "algorithm-generated" if any(name for _, name, _ in turns) else "hand-crafted"
        events.run_started(run_id, FRAMEWORK, task=task, metadata=metadata)
        for i, (role, name, content) in enumerate(turns):
            _emit_turn(events, run_id, i, role, name, content)
        events.run_finished(run_id, _outcome(path, data))


def _tail(path: Path, skip: int) -> str:
    """The last bytes of a file, past what the head already holds."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, 2)
            size = fh.tell()
            if size <= skip:
                return ""
            fh.seek(max(skip, size - _TAIL_BYTES))
            return fh.read().decode("utf-8", "replace")
    except OSError:
        return ""


def _labelled(path: Path) -> bool:
    """Whether a JSON chat log holds a ``history`` list and a Who&When label, wherever its keys are."""
    try:
        if path.stat().st_size > _PARSE_LIMIT:
            return False
        data = load_json(path)
    except (OSError, ExtractError):
        return False
    return isinstance(data, dict) and isinstance(data.get("history"), list) and bool(_LABEL_KEYS & data.keys())


def _agent(role: str, name: str | None) -> str | None:
    """The agent of a turn: its name, else the agent its role names (hand-crafted logs put the agent there)."""
    if name:
        return name
    base = _ROLE_NOTE.sub("", role).strip()
    return base if base and base.lower() not in _GENERIC_ROLES else None


def _turn(path: Path, index: int, entry: object) -> tuple[str, str | None, str]:
    """Validate one history entry: why each field is checked is that a wrong type must name its position."""
    where = f"history[{index}]"
    if not isinstance(entry, dict):
        raise ExtractError(path, f"entry is {type(entry).__name__}", position=where, expected="an object")
    content = entry.get("content")
    if content is None:
        content = ""
    if not isinstance(content, str):
        raise ExtractError(path, "'content' is not a string", position=where + ".content", expected="a string")
    role = entry.get("role", "assistant")
    name = entry.get("name")
    if not isinstance(role, str):
        raise ExtractError(path, "'role' is not a string", position=where + ".role", expected="a string")
    if name is not None and not isinstance(name, str):
        raise ExtractError(path, "'name' is not a string", position=where + ".name", expected="a string or null")
    return role, name, content


def _emit_turn(events: Events, run_id: str, index: int, role: str, name: str | None, content: str) -> None:
    key = str(index + 1)
    ref = f"history[{index}]"
    agent = _agent(role, name)
    is_executor = agent in _EXECUTOR_NAMES
    events.step_started(run_id, key, agent=agent, thought=None if is_executor else (content or None), raw_ref=ref)
    events.message(run_id, role, content, step_key=key, name=name, raw_ref=ref)
    if is_executor:
        match = _EXITCODE.match(content)
        exit_code = int(match.group(1)) if match else None
        events.observation(
            run_id, key, content, exit_code=exit_code, is_error=exit_code not in (None, 0), raw_ref=ref
        )
    events.step_finished(run_id, key)


def _optional_str(path: Path, data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None or isinstance(value, str):
        return value
    raise ExtractError(path, f"'{key}' is not a string", position=key, expected="a string")


def _gold(path: Path, data: dict[str, Any], n_turns: int) -> dict[str, Any] | None:
    """The human labels, checked against the history so a bad label is reported, not carried along."""
    raw = data.get("mistake_step")
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, str | int):
        raise ExtractError(path, "'mistake_step' is not an index", position="mistake_step", expected="an integer")
    try:
        step = int(raw)
    except ValueError:
        raise ExtractError(
            path, f"'mistake_step' is {raw!r}", position="mistake_step", expected="an integer index into history"
        ) from None
    if not 0 <= step < n_turns:
        raise ExtractError(
            path, f"'mistake_step' {step} is outside history", position="mistake_step",
            expected=f"0..{n_turns - 1}",
        )
    gold: dict[str, Any] = {"mistake_step": step, "mistake_step_id": step + 1}
    for key in ("mistake_agent", "mistake_reason"):
        gold[key] = _optional_str(path, data, key)
    return gold


def _outcome(path: Path, data: dict[str, Any]) -> str:
    key = "is_correct" if "is_correct" in data else "is_corrected"
    verdict = data.get(key)
    if verdict is None:
        return "unknown"
    if not isinstance(verdict, bool):
        raise ExtractError(path, f"'{key}' is not a boolean", position=key, expected="true or false")
    return "solved" if verdict else "failed"


EXTRACTORS = [WhoAndWhenExtractor()]

"""Who&When / AG2 multi-agent failure logs as trace trees.

A Who&When file is one JSON object: ``history`` (a list of ``{"role", "name", "content"}`` chat turns of an AG2 group
chat), ``question`` (the task), ``ground_truth``, ``is_correct`` and the human failure labels ``mistake_step`` (a
0-based index into ``history``, stored as a string), ``mistake_agent`` and ``mistake_reason``.

Mapping (one run per file):

* every history entry is one step, in order, so step id = history index + 1 (``mistake_step`` k is step k + 1);
  ``agent`` is the entry's ``name`` and ``raw_ref`` is ``"history[i]"``;
* the content is kept whole as a message of the step (role and name as given); for speaking agents it is also the
  step's thought. The ``Computer_terminal`` executor does not think: its turn ``exitcode: N (...)`` is recorded as an
  observation with that exit code instead of a thought;
* task = ``question``; outcome = ``"failed"`` when ``is_correct`` is false, ``"solved"`` when true, else unknown;
* the gold labels go to run metadata ``"gold"`` = ``{"mistake_step": k, "mistake_step_id": k + 1, "mistake_agent":
  ..., "mistake_reason": ...}`` so evaluation can compare them with a localizer's answer without re-reading the file.

Detection looks at the content: a JSON object whose head names ``history`` and ``question`` together with one of the
Who&When fields; other JSON is not claimed.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from codetracer.core.errors import ExtractError
from codetracer.core.events import Events
from codetracer.core.extract import Candidate, load_json, stable_run_id

FRAMEWORK = "ag2"
_EXECUTOR_NAMES = frozenset({"Computer_terminal"})
_EXITCODE = re.compile(r"exitcode: (-?\d+)")
_MARKERS = ('"mistake_step"', '"mistake_agent"', '"is_correct"', '"question_ID"', '"ground_truth"')


class WhoAndWhenExtractor:
    """Reads one Who&When JSON file (AG2 group-chat history plus failure labels)."""

    name = "who-and-when"

    def detect(self, candidate: Candidate) -> float:
        if candidate.is_dir or not candidate.head.lstrip().startswith(b"{"):
            return 0.0
        head = candidate.head_text
        if '"history"' not in head or '"question"' not in head:
            return 0.0
        hits = sum(marker in head for marker in _MARKERS)
        if hits >= 2:
            return 0.9
        return 0.6 if hits == 1 and '"name"' in head and '"role"' in head else 0.0

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
        events.run_started(run_id, FRAMEWORK, task=task, metadata=metadata)
        for i, (role, name, content) in enumerate(turns):
            _emit_turn(events, run_id, i, role, name, content)
        events.run_finished(run_id, _outcome(path, data))


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
    is_executor = name in _EXECUTOR_NAMES
    events.step_started(run_id, key, agent=name, thought=None if is_executor else (content or None), raw_ref=ref)
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
    verdict = data.get("is_correct")
    if verdict is None:
        return "unknown"
    if not isinstance(verdict, bool):
        raise ExtractError(path, "'is_correct' is not a boolean", position="is_correct", expected="true or false")
    return "solved" if verdict else "failed"


EXTRACTORS = [WhoAndWhenExtractor()]

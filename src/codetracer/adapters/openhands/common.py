"""What the OpenHands readers share: the framework name, agent states, edits and outcome, and the step opener.

The SDK conversation reader (:mod:`~codetracer.adapters.openhands.sdk`), the legacy v0 readers
(:mod:`~codetracer.adapters.openhands.v0`) and the live adapter (:mod:`~codetracer.adapters.openhands.live`) all
import it; it imports none of them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from codetracer.core.events import Events

FRAMEWORK = "openhands"

EDITOR_WRITES = frozenset({"create", "str_replace", "insert", "undo_edit", "write"})
"""File-editor commands that change a file (``view`` only reads)."""

FAILED_STATES = frozenset({"error", "stuck", "rejected"})
"""Final agent / execution states that mean the run did not complete its task."""

OPEN_STATES = frozenset({"running", "loading", "init"})
"""States of a conversation that was still going when it was saved: the run stays incomplete."""


def _dict(value: Any) -> dict[str, Any]:
    """``value`` when it is an object, else an empty one: optional sub-objects are read without type errors."""
    return value if isinstance(value, dict) else {}


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _timestamp(value: Any) -> float | None:
    """OpenHands writes naive ISO timestamps; read them as UTC so the same file always gives the same numbers."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _content_text(content: Any) -> str:
    """Text of SDK content: a string, or a list of ``{"type": "text", "text": ...}`` blocks (images skipped)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            block["text"] for block in content if isinstance(block, dict) and isinstance(block.get("text"), str)
        )
    return ""


def _json_args(raw: Any) -> dict[str, Any]:
    """Tool-call arguments as the model gave them: a JSON string, or already a dict."""
    if isinstance(raw, dict):
        return raw
    if isinstance(raw, str) and raw.strip():
        try:
            parsed = json.loads(raw)
        except ValueError:
            return {"raw": raw}
        return parsed if isinstance(parsed, dict) else {"value": parsed}
    return {}


def _edit_of(data: Mapping[str, Any], command: Any = None) -> list[dict[str, Any]]:
    """A file edit described by editor arguments (``path`` + ``old_str``/``new_str``/``file_text``/``content``)."""
    path = data.get("path")
    if not isinstance(path, str) or not path:
        return []
    command = data.get("command") if command is None else command
    if command not in EDITOR_WRITES and command not in ("", None):
        return []
    edit: dict[str, Any] = {"path": path}
    if command in _EDIT_KINDS:
        edit["kind"] = _EDIT_KINDS[command]
    if isinstance(data.get("old_str"), str):
        edit["old"] = data["old_str"]
    for key in ("new_str", "file_text", "content"):
        if isinstance(data.get(key), str):
            edit["new"] = data[key]
            break
    return [edit]


_EDIT_KINDS = {"create": "create", "str_replace": "replace", "insert": "insert", "undo_edit": "undo"}
_PATCH_MARKS = {"*** Add File: ": "create", "*** Update File: ": "patch", "*** Delete File: ": "delete"}


def _patch_paths(patch: str) -> list[dict[str, Any]]:
    """The files of an ``apply_patch`` envelope (``*** Update File: path`` ...) and the lines each gains."""
    edits: list[dict[str, Any]] = []
    added: list[str] = []
    for line in patch.splitlines():
        mark = next((m for m in _PATCH_MARKS if line.startswith(m)), None)
        if mark is not None:
            if edits and added:
                edits[-1]["new"] = "\n".join(added)
            added = []
            edits.append({"path": line[len(mark) :].strip(), "kind": _PATCH_MARKS[mark]})
        elif edits and line.startswith("+") and not line.startswith("+++"):
            added.append(line[1:])
    if edits and added:
        edits[-1]["new"] = "\n".join(added)
    return edits


def _outcome_from_state(state: str | None, verdict: str | None) -> str:
    if verdict is not None:
        return verdict
    if state in FAILED_STATES:
        return "failed"
    return "unknown"


class _Steps:
    """Opens and closes steps so that each ``step_started`` is matched by one ``step_finished``."""

    def __init__(self, events: Events, run_id: str) -> None:
        self.ev = events
        self.run_id = run_id
        self.current: str | None = None
        self.group: Any = None

    def open(
        self,
        key: str,
        *,
        group: Any = None,
        thought: str | None = None,
        raw_ref: str | None = None,
        timestamp: float | None = None,
    ) -> None:
        self.close(timestamp)
        self.ev.step_started(self.run_id, key, thought=thought or None, raw_ref=raw_ref, timestamp=timestamp)
        self.current, self.group = key, group

    def close(self, timestamp: float | None = None) -> None:
        if self.current is not None:
            self.ev.step_finished(self.run_id, self.current, timestamp=timestamp)
        self.current, self.group = None, None

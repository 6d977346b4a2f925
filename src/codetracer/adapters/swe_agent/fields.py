"""SWE-agent's vocabulary and single-field readers, shared by the ``.traj`` extractor and the live hook: its command
names and exit statuses, how its tools word a failed command, and the readers of one record field each (a
message's text, a function call, the open file, the model's name, the format version, the verdict).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

FRAMEWORK = "swe-agent"

SWE_COMMANDS = frozenset(
    {
        "open",
        "goto",
        "scroll_up",
        "scroll_down",
        "create",
        "edit",
        "insert",
        "append",
        "find_file",
        "search_dir",
        "search_file",
        "submit",
        "str_replace_editor",
        "filemap",
        "exit_forfeit",
        "exit_cost",
        "exit_context",
        "exit_format",
        "exit_error",
        "skip",
        "view_image",
        "forfeit",
    }
)
"""Commands SWE-agent's tool bundles define; any other first word is a plain shell command (tool ``bash``)."""

OPEN_FILE_EDITS = frozenset({"edit", "insert", "append"})
"""Windowed-editor commands that change the file currently open in SWE-agent's editor."""

EDITOR_WRITES = frozenset({"create", "str_replace", "insert", "undo_edit"})
"""``str_replace_editor`` sub-commands that change a file (``view`` only reads)."""

FAILED_EXITS = frozenset(
    {
        "exit_cost",
        "exit_context",
        "exit_format",
        "exit_error",
        "exit_api",
        "exit_forfeit",
        "early_exit",
        "exit_total_execution_time",
        "exit_command_timeout",
        "exit_environment_error",
        "total_cost_limit_exceeded",
    }
)
"""Exit statuses that, without a submission, mean the run produced no patch: a failed run."""

_OPEN_MARK = "(Open file: "

ERROR_PREFIXES = (
    "Your proposed edit has introduced new syntax error",
    "Your bash command contained syntax errors and was NOT executed",
    "The command '",  # "... was cancelled because it took more than N seconds"
)
"""How SWE-agent's own tools start an observation that reports a rejected or failed command (no exit codes exist)."""


def observation_failed(observation: str | None) -> bool:
    """SWE-agent records no exit codes: a rejected or cancelled command is told by how its tools word the output."""
    if not observation:
        return False
    head = observation.lstrip()
    if not head.startswith(ERROR_PREFIXES):
        return False
    if head.startswith("The command '"):
        return "was cancelled because it took more than" in observation[:2000]
    return True


_EDITOR_KINDS = {"create": "create", "str_replace": "replace", "insert": "insert", "undo_edit": "undo"}


def _windowed_edit(tool: str, action: str, arguments: Mapping[str, Any]) -> dict[str, Any]:
    """The text of a windowed-editor command: ``edit N:M`` / ``insert N`` / ``append`` with the lines up to
    ``end_of_edit``, or the function-calling ``edit`` with ``search``/``replace`` arguments."""
    if isinstance(arguments.get("replace"), str):
        found: dict[str, Any] = {"kind": "replace", "new": arguments["replace"]}
        if isinstance(arguments.get("search"), str):
            found["old"] = arguments["search"]
        return found
    lines = action.split("\n")
    if len(lines) < 2:
        return {"kind": "insert" if tool != "edit" else "replace"}
    body = lines[1:]
    while body and not body[-1].strip():
        body.pop()
    if body and body[-1].strip() == "end_of_edit":
        body.pop()
    return {"kind": "insert" if tool != "edit" else "replace", "new": "\n".join(body)}


def message_text(content: Any) -> str | None:
    """The text of a history message: a string, or the ``text`` of the content blocks SWE-agent's history
    processors turn it into (``cache_control`` rewrites the last messages in place, so the ``.traj`` holds
    ``[{"type": "text", "text": ...}]`` where the hook saw a string). ``None`` for anything else."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = [b["text"] for b in content if isinstance(b, dict) and isinstance(b.get("text"), str)]
        if texts or not content:
            return "\n".join(texts)
    return None


def _assistant_actions(history: list[Any]) -> list[tuple[str, Any]]:
    """``(action, tool_calls)`` of the run's own assistant messages in order (demonstrations left out)."""
    found: list[tuple[str, Any]] = []
    for msg in history:
        if isinstance(msg, dict) and msg.get("role") == "assistant" and not msg.get("is_demo"):
            action = msg.get("action")
            if isinstance(action, str):
                found.append((action, msg.get("tool_calls")))
    return found


def _function_call(tool_calls: Any) -> tuple[str | None, dict[str, Any], str | None]:
    """Name, parsed arguments and id of the first function call of a message; tolerant of odd shapes."""
    if not isinstance(tool_calls, list) or not tool_calls or not isinstance(tool_calls[0], dict):
        return None, {}, None
    call = tool_calls[0]
    function = call.get("function")
    if not isinstance(function, dict):
        return None, {}, None
    name = function.get("name") if isinstance(function.get("name"), str) else None
    raw = function.get("arguments")
    arguments: dict[str, Any] = {}
    if isinstance(raw, dict):
        arguments = raw
    elif isinstance(raw, str) and raw.strip():
        try:
            parsed = json.loads(raw)
        except ValueError:
            parsed = {"raw": raw}
        arguments = parsed if isinstance(parsed, dict) else {"value": parsed}
    call_id = call.get("id") if isinstance(call.get("id"), str) else None
    return name, arguments, call_id


def _open_file_from_state(state: Any) -> str | None:
    """``state.open_file``: a dict in 1.x, a JSON string in 0.7; ``"n/a"`` means none."""
    if isinstance(state, str):
        if '"open_file"' not in state:
            return None
        try:
            state = json.loads(state)
        except ValueError:
            return None
    if not isinstance(state, dict):
        return None
    name = state.get("open_file")
    return name if isinstance(name, str) and name and name != "n/a" else None


def _replay_config(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    return value if isinstance(value, dict) else {}


def _model_name(replay: dict[str, Any]) -> str | None:
    agent = replay.get("agent")
    model = agent.get("model") if isinstance(agent, dict) else None
    name = model.get("name") if isinstance(model, dict) else None
    return name if isinstance(name, str) else None


def _format_version(info: dict[str, Any], trajectory: list[Any] | None) -> str:
    version = info.get("swe_agent_version")
    if isinstance(version, str):
        return version
    if trajectory and isinstance(trajectory[0], dict):
        first = trajectory[0]
        if isinstance(first.get("state"), str):
            return "0.7"
        if "execution_time" in first:
            return "1.0"
    return "unknown"


def _outcome(path: Path, info: dict[str, Any], exit_status: str | None, submitted: bool, instance_id: Any) -> str:
    """Solved/failed only when something says so; a submitted patch alone is ``unknown``."""
    resolved = info.get("resolved")
    if isinstance(resolved, bool):
        return "solved" if resolved else "failed"
    verdict = _report_verdict(path, instance_id)
    if verdict is not None:
        return verdict
    if not submitted and exit_status in FAILED_EXITS:
        return "failed"
    return "unknown"


def _report_verdict(path: Path, instance_id: Any) -> str | None:
    """A SWE-bench ``report.json`` beside the trajectory: ``{instance_id: {"resolved": bool}}``."""
    report = path.parent / "report.json"
    if not isinstance(instance_id, str) or not report.is_file():
        return None
    try:
        data = json.loads(report.read_bytes())
    except (OSError, ValueError):
        return None
    entry = data.get(instance_id) if isinstance(data, dict) else None
    resolved = entry.get("resolved") if isinstance(entry, dict) else None
    if isinstance(resolved, bool):
        return "solved" if resolved else "failed"
    return None

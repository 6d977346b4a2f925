"""Claude Code's own stream-json log (``claude -p --output-format stream-json``) as trace trees.

Harbor / terminal-bench 2 trials of the ``claude-code`` agent keep this log as ``agent/claude-code.txt`` and write the
ATIF ``agent/trajectory.json`` only when the agent finishes. A trial folder *without* ``trajectory.json`` (the agent
timed out or crashed) is read from the log here; a trial with one stays with the ATIF extractor (no double runs). A
bare log file (first record ``{"type":"system","subtype":"init",...}``) is read too.

The log holds one JSON object per line:

* ``system``/``init`` names the model, Claude Code's version and the session (run metadata); other ``system``
  records (``api_retry``, background-task notices) are not steps.
* ``assistant`` records carry ``message.content`` blocks (``text``, ``thinking``, ``tool_use``). Claude Code writes
  one block per line, consecutive lines sharing ``message.id``: lines with the same id are one model response and so
  one step. Thinking is the step's thought, text its LLM response (with ``message.usage`` tokens), every ``tool_use``
  a tool call of the step (several are parallel siblings), shell commands and file edits read from the arguments as
  for ATIF (:func:`~codetracer.adapters.atif.artifacts.shell_command`, :func:`~.file_edits`).
* ``user`` records carry ``tool_result`` blocks, matched to the latest call with that ``tool_use_id`` (ids such as
  ``functions.Bash:0`` recur across responses; ``is_error`` honoured, a leading ``Exit code N`` line read as the exit
  code); results no call asked for become observations of the latest step, and a call no result answered ends
  ``cancelled``. A user text before the first response is the task; a later one is a step of its own.
* ``result`` closes a session (cost, turns); a session that was cut off has none.

The outcome of a trial comes from the verifier and ``result.json`` exactly as for ATIF trials
(:func:`~codetracer.adapters.atif.artifacts.trial_outcome`); an ``exception_info`` (``AgentTimeoutError``) is the run's
exit status and a run-level error. The framework name is ``claude-code`` (what the harness's ATIF files say), so a run
id is the one the ATIF reader gives the same trial.

A line that is not a JSON object is an :class:`ExtractError` naming the file and the line number, except a last line
cut off mid-record with no newline after it (the agent was killed while Claude Code wrote it): the run is read up to
there and ``metadata["torn_line"]`` says which line was left out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from codetracer.adapters.atif.artifacts import (
    file_edits,
    leading_exit_code,
    shell_command,
    trial_outcome,
    trial_verification,
)
from codetracer.core.endings import CANCELLED
from codetracer.core.errors import ExtractError
from codetracer.core.events import Events
from codetracer.core.extractor import Candidate, stable_run_id

FRAMEWORK = "claude-code"
LOG_NAME = "claude-code.txt"


def _is_stream_head(head: bytes) -> bool:
    start = head.lstrip()[:200]
    return start.startswith(b'{"type":') and b'"session_id"' in head


class ClaudeCodeLogExtractor:
    """Reads a Claude Code stream-json log: a trial folder without ATIF trajectory, or the bare log file."""

    name = "claude-code-log"

    def detect(self, candidate: Candidate) -> float:
        if not candidate.is_dir:
            head = candidate.head
            return 0.9 if head.lstrip().startswith(b'{"type":"system","subtype":"init"') else 0.0
        if "agent" not in candidate.names:
            return 0.0
        agent = candidate.path / "agent"
        if (agent / "trajectory.json").exists():
            return 0.0  # the ATIF trajectory is the trial's story
        log = agent / LOG_NAME
        # above the ATIF reader's 0.55 claim on trajectory-less Harbor trials
        return 0.9 if _is_stream_head(Candidate(log, False).head) else 0.0

    def extract(self, path: Path, events: Events) -> None:
        if path.is_dir():
            replay_log(path / "agent" / LOG_NAME, events, run_path=path, trial=path)
        else:
            replay_log(path, events, run_path=path, trial=None)


# -- reading ---------------------------------------------------------------------------------------------------------


@dataclass
class _ToolUse:
    call_id: str
    tool: str
    arguments: dict[str, Any]
    line: int
    result: tuple[str, bool, float | None] | None = None  # text, is_error, timestamp


@dataclass
class _Turn:
    """One step: an assistant response (its lines share ``message.id``) or a user message after the first response."""

    line: int
    message_id: str | None = None
    model: str | None = None
    usage: dict[str, Any] = field(default_factory=dict)
    thinking: list[str] = field(default_factory=list)
    text: list[str] = field(default_factory=list)
    calls: list[_ToolUse] = field(default_factory=list)
    user_text: str | None = None
    orphans: list[tuple[str, bool, int, float | None]] = field(default_factory=list)  # unmatched results


@dataclass
class _Log:
    init: dict[str, Any] = field(default_factory=dict)
    result: dict[str, Any] = field(default_factory=dict)
    task: str | None = None
    turns: list[_Turn] = field(default_factory=list)
    waiting: dict[str, _ToolUse] = field(default_factory=dict)  # tool_use_id -> the latest call without a result
    first_ts: float | None = None
    last_ts: float | None = None
    torn_line: int | None = None
    """The number of a last line cut off mid-record (the agent was killed while writing it), left out."""


def _records(file: Path, log: _Log) -> list[tuple[int, dict[str, Any]]]:
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise ExtractError(file, f"cannot read the log ({exc.strerror or exc})") from None
    out: list[tuple[int, dict[str, Any]]] = []
    lines = data.splitlines()
    for number, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        try:
            record = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            if number == len(lines) and out and not data.endswith(b"\n"):
                # a timed-out or killed agent's log ends mid-record: the run up to there is still the run
                log.torn_line = number
                break
            raise ExtractError(
                file,
                f"not JSON ({exc})",
                position=f"line {number}",
                expected="one JSON object per line (Claude Code stream-json)",
            ) from None
        if not isinstance(record, dict) or not isinstance(record.get("type"), str):
            raise ExtractError(
                file,
                f"found {type(record).__name__} without a 'type'",
                position=f"line {number}",
                expected="a JSON object with a 'type'",
            )
        out.append((number, record))
    if not out:
        raise ExtractError(file, "the log is empty", position="line 1", expected="Claude Code stream-json records")
    return out


def _content(file: Path, record: dict[str, Any], number: int) -> list[dict[str, Any]]:
    message = record.get("message")
    if not isinstance(message, dict):
        raise ExtractError(
            file, "'message' is missing or not an object", position=f"line {number}.message", expected="an object"
        )
    content = message.get("content")
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if not isinstance(content, list):
        raise ExtractError(
            file,
            "'content' is not a list",
            position=f"line {number}.message.content",
            expected="a list of content blocks",
        )
    for j, block in enumerate(content):
        if not isinstance(block, dict):
            raise ExtractError(
                file,
                f"found {type(block).__name__}",
                expected="a content block object",
                position=f"line {number}.message.content[{j}]",
            )
    return content


def _timestamp(record: dict[str, Any]) -> float | None:
    raw = record.get("timestamp")
    if not isinstance(raw, str) or not raw:
        return None
    try:
        return datetime.fromisoformat(raw).timestamp()
    except ValueError:
        return None


def read_log(file: Path) -> _Log:
    """Group the log's records into turns and index the tool results by ``tool_use_id``."""
    log = _Log()
    for number, record in _records(file, log):
        kind = record["type"]
        ts = _timestamp(record)
        if ts is not None:
            log.first_ts = ts if log.first_ts is None else log.first_ts
            log.last_ts = ts
        if kind == "system":
            if record.get("subtype") == "init" and not log.init:
                log.init = record
        elif kind == "result":
            log.result = record
        elif kind == "assistant":
            _assistant(file, log, record, number)
        elif kind == "user":
            _user(file, log, record, number, ts)
    return log


def _assistant(file: Path, log: _Log, record: dict[str, Any], number: int) -> None:
    blocks = _content(file, record, number)
    message = record["message"]
    mid = message.get("id") if isinstance(message.get("id"), str) else None
    last = log.turns[-1] if log.turns else None
    if last is None or last.user_text is not None or mid is None or last.message_id != mid:
        last = _Turn(line=number, message_id=mid)
        log.turns.append(last)
    if isinstance(message.get("model"), str):
        last.model = message["model"]
    if isinstance(message.get("usage"), dict):
        last.usage = message["usage"]
    for j, block in enumerate(blocks):
        kind = block.get("type")
        if kind == "thinking" and isinstance(block.get("thinking"), str):
            last.thinking.append(block["thinking"])
        elif kind == "text" and isinstance(block.get("text"), str):
            last.text.append(block["text"])
        elif kind == "tool_use":
            call_id, tool, arguments = block.get("id"), block.get("name"), block.get("input", {})
            at = f"line {number}.message.content[{j}]"
            if not isinstance(call_id, str) or not call_id:
                raise ExtractError(file, f"tool_use id is {call_id!r}", position=at, expected="a non-empty string")
            if not isinstance(tool, str):
                raise ExtractError(file, f"tool_use name is {tool!r}", position=at, expected="a string")
            if not isinstance(arguments, dict):
                raise ExtractError(
                    file, "tool_use input is not an object", position=at + ".input", expected="an object"
                )
            use = _ToolUse(call_id, tool, arguments, number)
            last.calls.append(use)
            log.waiting[call_id] = use  # ids recur across responses (functions.Bash:0): the latest call is the one


def _user(file: Path, log: _Log, record: dict[str, Any], number: int, ts: float | None) -> None:
    texts: list[str] = []
    for block in _content(file, record, number):
        kind = block.get("type")
        if kind == "tool_result":
            call_id = block.get("tool_use_id")
            text = _result_text(block.get("content"))
            is_error = block.get("is_error") is True
            use = log.waiting.pop(call_id, None) if isinstance(call_id, str) else None
            if use is not None:
                use.result = (text, is_error, ts)
            elif log.turns:
                log.turns[-1].orphans.append((text, is_error, number, ts))
        elif kind == "text" and isinstance(block.get("text"), str):
            texts.append(block["text"])
    if not texts:
        return
    if not log.turns and log.task is None:
        log.task = "\n".join(texts)
    else:
        log.turns.append(_Turn(line=number, user_text="\n".join(texts)))


def _result_text(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts: keep their text, name what is not text
        parts = []
        for part in content:
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                parts.append(part["text"])
            elif isinstance(part, dict) and isinstance(part.get("type"), str):
                parts.append(f"[{part['type']}]")
        return "\n".join(parts)
    return ""


# -- replay ----------------------------------------------------------------------------------------------------------


def replay_log(file: Path, events: Events, *, run_path: Path, trial: Path | None) -> str:
    """Emit the trace events of one Claude Code stream-json log; returns the run id."""
    log = read_log(file)
    if not log.turns:
        raise ExtractError(
            file,
            "the log has no assistant response",
            position="assistant records",
            expected="at least one assistant message",
        )
    run_id = stable_run_id(FRAMEWORK, run_path)
    events.run_started(run_id, FRAMEWORK, task=log.task, metadata=_metadata(file, log, trial), timestamp=log.first_ts)
    for index, turn in enumerate(log.turns, 1):
        _replay_turn(events, run_id, str(index), turn)
    outcome, exit_status, end_meta = trial_outcome(trial) if trial is not None else ("unknown", None, {})
    if trial is not None:
        trial_verification(trial, events, run_id, outcome)
        _exception(trial, events, run_id)
    if outcome == "unknown" and trial is None and log.result.get("is_error") is True:
        outcome = "failed"
    if "cost" not in end_meta and isinstance(log.result.get("total_cost_usd"), int | float):
        end_meta["cost"] = log.result["total_cost_usd"]
    events.run_finished(run_id, outcome, exit_status=exit_status, metadata=end_meta, timestamp=log.last_ts)
    return run_id


def _metadata(file: Path, log: _Log, trial: Path | None) -> dict[str, Any]:
    meta: dict[str, Any] = {"source_path": str(file), "format": "claude-code-stream-json"}
    for key, out in (("session_id", "session_id"), ("claude_code_version", "agent_version"), ("model", "model")):
        value = log.init.get(key)
        if isinstance(value, str):
            meta[out] = value
    meta["agent_name"] = FRAMEWORK
    if isinstance(log.result.get("num_turns"), int):
        meta["num_turns"] = log.result["num_turns"]
    if not log.result:
        meta["unfinished"] = "the log has no result record (the session was cut off)"
    if log.torn_line is not None:
        meta["torn_line"] = log.torn_line  # its last line was cut off mid-record and is left out
    if trial is not None:
        meta["trial_path"] = str(trial)
    return meta


def _replay_turn(events: Events, run_id: str, key: str, turn: _Turn) -> None:
    ref = f"line {turn.line}"
    thought = "\n".join(t.strip() for t in turn.thinking if t.strip())
    events.step_started(run_id, key, thought=thought or None, raw_ref=ref)
    if turn.user_text is not None:
        events.message(run_id, "user", turn.user_text, step_key=key, raw_ref=ref)
    else:
        call_id = f"{key}:llm"
        usage = turn.usage
        prompt = [usage.get(k) for k in ("input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")]
        counted = [n for n in prompt if isinstance(n, int) and not isinstance(n, bool)]
        output = usage.get("output_tokens")
        events.llm_call_started(run_id, key, call_id, model=turn.model)
        events.llm_call_finished(
            run_id,
            call_id,
            response="\n".join(t.strip() for t in turn.text if t.strip()),
            input_tokens=sum(counted) if counted else None,
            output_tokens=output if isinstance(output, int) and not isinstance(output, bool) else None,
        )
    last_ts: float | None = None
    for use in turn.calls:
        tree_id = f"{key}:{use.call_id}"
        events.tool_call_started(
            run_id,
            key,
            tree_id,
            use.tool,
            arguments=use.arguments,
            command=shell_command(use.tool, use.arguments),
            edits=file_edits(use.tool, use.arguments),
            raw_ref=f"line {use.line}",
        )
        found = use.result
        if found is None:
            # Claude Code answers every call it runs with a tool_result: this one never ran, or the session was cut
            # off around it (a timeout); either way it is not an error of the agent (core/endings.py)
            events.call_ended(run_id, tree_id, CANCELLED)
            continue
        text, is_error, ts = found
        exit_code = leading_exit_code(text)
        events.tool_call_finished(
            run_id,
            tree_id,
            output=text,
            exit_code=exit_code,
            is_error=is_error or exit_code not in (None, 0),
            timestamp=ts,
        )
        last_ts = ts or last_ts
    for text, is_error, line, ts in turn.orphans:
        exit_code = leading_exit_code(text)
        events.observation(
            run_id,
            key,
            text,
            exit_code=exit_code,
            is_error=is_error or exit_code not in (None, 0),
            raw_ref=f"line {line}",
            timestamp=ts,
        )
    events.step_finished(run_id, key, timestamp=last_ts)


def _exception(trial: Path, events: Events, run_id: str) -> None:
    """``result.json``'s ``exception_info`` (an ``AgentTimeoutError``, say) as a run-level error."""
    path = trial / "result.json"
    try:
        result = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return  # trial_outcome has already read (and judged) result.json
    info = result.get("exception_info") if isinstance(result, dict) else None
    if not isinstance(info, dict) or not isinstance(info.get("exception_type"), str):
        return
    message = info.get("exception_message")
    text = f"{info['exception_type']}: {message}" if isinstance(message, str) and message else info["exception_type"]
    events.error(run_id, text.split("\n", 1)[0], kind=info["exception_type"])


EXTRACTORS = [ClaudeCodeLogExtractor()]

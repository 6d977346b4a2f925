"""Extractor for mini-swe-agent trajectories (``*.traj.json``) and mini-swe-agent console output.

Formats read, judged by content:

* ``mini-swe-agent-1`` (mini 1.x): ``{"info", "messages", "trajectory_format"}``; the action is the one fenced
  ```` ```bash ```` block of the assistant's text, the observation the next user message
  (``<returncode>N</returncode>``).
* ``mini-swe-agent-1.1`` (mini 2.x): the same with ``extra.actions`` on assistant messages, native ``tool_calls`` with
  ``role: "tool"`` observations, ```` ```mswea_bash_command ```` blocks for text models and a final ``role: "exit"``
  message.
* a bare JSON list of mini-swe-agent messages (what mini's test data and old versions save).
* the console transcript ``mini`` prints (``mini-swe-agent (step N, $cost):`` ... ``User:``), which is all that survives
  of a mini run inside a terminal-bench trial; :func:`parse_console_log` reads it for the terminal-bench extractor.

Each assistant message is one step; its text before the command is the thought, the command a ``bash`` tool call and
the following user/tool message that call's observation. The outcome comes from a SWE-bench ``report.json`` beside the
trajectory when there is one; otherwise only a non-submitted exit is known to have failed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codetracer.adapters.mini_swe_agent.responses import as_chat
from codetracer.core.errors import ExtractError
from codetracer.core.events import Events
from codetracer.core.extractor import Candidate, load_json, stable_run_id

FRAMEWORK = "mini-swe-agent"

_ACTION_RE = re.compile(r"```(?:bash|mswea_bash_command)\s*\n(.*?)\n```", re.DOTALL)
"""mini's own action regexes (1.x: ``bash``, 2.x: ``mswea_bash_command``); exactly one match is a valid action."""

_MARKERS = ("mswea_bash_command", "COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT", "MINI_SWE_AGENT_FINAL_OUTPUT")
_FORMAT_ERROR_PREFIX = "Please always provide EXACTLY ONE action"
_TIMEOUT_PREFIX = "The last command <command>"
TAIL_BYTES = 4096


# ----------------------------------------------------------------------------------------------------------------------
# Small readers: each validates its input's type so malformed files raise ExtractError, never KeyError/TypeError.
# ----------------------------------------------------------------------------------------------------------------------


def _number(value: Any) -> float | None:
    """A JSON number, or ``None`` (``bool`` is not a number here)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _dict(value: Any) -> Mapping[str, Any]:
    """Optional sub-objects of the wrong type are treated as absent: they only carry extra facts."""
    return value if isinstance(value, dict) else {}


def message_text(content: Any, path: Path, position: str) -> str | None:
    """The text of a chat ``content``: a string, ``None`` or a list of multimodal parts."""
    if content is None or isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, dict) and isinstance(part.get("text"), str):
                parts.append(part["text"])
        return "\n".join(parts)
    raise ExtractError(path, f"content is {type(content).__name__}", position=position, expected="text or null")


def parse_returncode(text: str) -> int | None:
    """The ``<returncode>N</returncode>`` mini puts at the start of an observation; only the head is looked at."""
    if not text.startswith("<returncode>"):
        return None
    end = text.find("</returncode>", 12, 40)
    if end < 0:
        return None
    try:
        return int(text[12:end])
    except ValueError:
        return None


def split_thought(content: str) -> tuple[str | None, list[str]]:
    """The thought (text before the first command block, without mini's ``THOUGHT:`` label) and the commands found."""
    matches = list(_ACTION_RE.finditer(content))
    commands = [m.group(1).strip() for m in matches]
    thought = content[: matches[0].start()] if matches else content
    thought = thought.strip()
    if thought.startswith("THOUGHT:"):
        thought = thought[8:].lstrip()
    return (thought or None), commands


# ----------------------------------------------------------------------------------------------------------------------
# Replay of a message list as trace events (shared with the terminal-bench extractor)
# ----------------------------------------------------------------------------------------------------------------------


@dataclass
class _Replay:
    """Walks mini's messages once, emitting events; keeps only the open step and its open calls."""

    events: Events
    run_id: str
    path: Path
    model: str | None
    ref: str
    llm_calls: bool = False
    step_key: str | None = None
    open_calls: list[str] = field(default_factory=list)
    used_ids: set[str] = field(default_factory=set)
    step_ts: float | None = None
    answered: bool = False
    exit_status: str | None = None
    submission: str | None = None
    n_steps: int = 0

    def pos(self, i: int) -> str:
        return f"{self.ref}[{i}]"

    def feed(self, i: int, msg: dict[str, Any], timestamp: float | None = None) -> None:
        """Message ``i`` of the history, whatever its role: the one loop body of file and live replay.
        ``timestamp`` stamps the system message (mini stamps model answers itself, not the system prompt).
        Responses-API messages are read as the chat messages they stand for (:mod:`.responses`)."""
        msg = as_chat(msg)
        role = msg.get("role")
        if not isinstance(role, str):
            return
        text = message_text(msg.get("content"), self.path, f"{self.ref}[{i}].content")
        if role == "assistant":
            self.assistant(i, msg, text)
        elif role == "exit":
            self.exit(msg)
        elif role == "system":
            self.events.message(self.run_id, role, text or "", raw_ref=f"{self.ref}[{i}]", timestamp=timestamp)
        else:
            self.answer(i, msg, role, text)

    def close_step(self) -> None:
        if self.step_key is not None and self.step_ts is not None:  # without a time, run_finished closes it alike
            self.events.step_finished(self.run_id, self.step_key, timestamp=self.step_ts)
        self.step_key = None
        self.open_calls = []
        self.answered = False

    def call_id(self, wanted: Any, i: int, k: int) -> str:
        cid = wanted if isinstance(wanted, str) and wanted else f"{i}:{k}"
        if cid in self.used_ids:
            cid = f"{cid}@{i}:{k}"
        self.used_ids.add(cid)
        return cid

    # -- assistant turns ----------------------------------------------------------------------------------------------

    def assistant(self, i: int, msg: Mapping[str, Any], text: str | None) -> None:
        self.close_step()
        extra = _dict(msg.get("extra"))
        ts = _number(extra.get("timestamp"))
        key = str(i)
        thought, found = split_thought(text) if text else (None, [])
        self.events.step_started(self.run_id, key, thought=thought, raw_ref=self.pos(i), timestamp=ts)
        self.step_key, self.step_ts, self.n_steps = key, ts, self.n_steps + 1
        if self.llm_calls:
            self._llm_call(i, key, extra, text, ts)
        actions = self._actions(i, msg, extra, found)
        for k, (wanted_id, command, arguments) in enumerate(actions):
            cid = self.call_id(wanted_id, i, k)
            self.events.tool_call_started(
                self.run_id, key, cid, "bash", arguments=arguments, command=command, raw_ref=self.pos(i), timestamp=ts
            )
            self.open_calls.append(cid)

    def _llm_call(self, i: int, key: str, extra: Mapping[str, Any], text: str | None, ts: float | None) -> None:
        response = _dict(extra.get("response"))
        usage = _dict(response.get("usage"))
        model = response.get("model") if isinstance(response.get("model"), str) else self.model
        cost = _number(extra.get("cost"))
        if cost is None:
            cost = _number(usage.get("cost"))
        cid = f"llm:{i}"
        self.events.llm_call_started(self.run_id, key, cid, model=model, input_messages=i, timestamp=ts)
        self.events.llm_call_finished(
            self.run_id,
            cid,
            response=text,
            input_tokens=_int(usage.get("prompt_tokens")),
            output_tokens=_int(usage.get("completion_tokens")),
            cost=cost,
            timestamp=ts,
        )

    def _actions(
        self, i: int, msg: Mapping[str, Any], extra: Mapping[str, Any], found: list[str]
    ) -> list[tuple[Any, str | None, dict[str, Any]]]:
        """(call id, command, arguments) per action: mini 2.x ``extra.actions``, else tool calls, else the text."""
        listed = extra.get("actions")
        if isinstance(listed, list) and listed:
            out: list[tuple[Any, str | None, dict[str, Any]]] = []
            for action in listed:
                if not isinstance(action, dict):
                    raise ExtractError(self.path, "action is not an object", position=f"{self.pos(i)}.extra.actions")
                command = action.get("command")
                command = command if isinstance(command, str) else None
                out.append((action.get("tool_call_id"), command, {"command": command}))
            return out
        tool_calls = msg.get("tool_calls")
        if tool_calls:
            return self._tool_calls(i, tool_calls)
        return [(None, found[0], {"command": found[0]})] if len(found) == 1 else []

    def _tool_calls(self, i: int, tool_calls: Any) -> list[tuple[Any, str | None, dict[str, Any]]]:
        if not isinstance(tool_calls, list):
            raise ExtractError(self.path, "tool_calls is not a list", position=f"{self.pos(i)}.tool_calls")
        out: list[tuple[Any, str | None, dict[str, Any]]] = []
        for k, call in enumerate(tool_calls):
            function = call.get("function") if isinstance(call, dict) else None
            if not isinstance(function, dict):
                raise ExtractError(
                    self.path, "tool call without function", position=f"{self.pos(i)}.tool_calls[{k}]",
                    expected='{"function": {"name", "arguments"}}',
                )
            raw = function.get("arguments")
            try:
                arguments = json.loads(raw) if isinstance(raw, str) else raw
            except ValueError:
                arguments = {"raw": raw}  # the model's own malformed call: kept as it was
            arguments = arguments if isinstance(arguments, dict) else {"raw": arguments}
            command = arguments.get("command")
            out.append((call.get("id"), command if isinstance(command, str) else None, arguments))
        return out

    # -- environment answers ------------------------------------------------------------------------------------------

    def answer(self, i: int, msg: Mapping[str, Any], role: str, text: str | None) -> None:
        extra = _dict(msg.get("extra"))
        text = text or ""
        ts = _number(extra.get("timestamp"))
        if extra.get("interrupt_type") == "FormatError" and (self.step_key is None or self.answered):
            self.close_step()
            self._orphan_format_error(i, extra, text, ts)
            return
        if self.step_key is None:  # the task and other user text before any step: part of the run's story
            self.events.message(self.run_id, role, text, raw_ref=self.pos(i), timestamp=ts)
            return
        self.answered = not self.open_calls or len(self.open_calls) == 1
        self.step_ts = ts if ts is not None else self.step_ts
        exit_code = _int(extra.get("returncode"))
        if exit_code is None:
            exit_code = parse_returncode(text)
        is_error = bool(extra.get("exception_info")) or text.startswith(_TIMEOUT_PREFIX)
        cid = self._match_call(msg.get("tool_call_id"))
        if cid is not None:
            self.events.tool_call_finished(
                self.run_id, cid, output=text, exit_code=exit_code, is_error=is_error, timestamp=ts
            )
            return
        format_error = extra.get("interrupt_type") == "FormatError" or text.startswith(_FORMAT_ERROR_PREFIX)
        self.events.observation(
            self.run_id, self.step_key, text, exit_code=exit_code, is_error=is_error or format_error,
            raw_ref=self.pos(i), timestamp=ts,
        )
        if format_error:
            self.events.error(self.run_id, text.split("\n", 1)[0], step_key=self.step_key, kind="FormatError",
                              timestamp=ts)

    def _match_call(self, tool_call_id: Any) -> str | None:
        if not self.open_calls:
            return None
        if isinstance(tool_call_id, str) and tool_call_id in self.open_calls:
            self.open_calls.remove(tool_call_id)
            return tool_call_id
        return self.open_calls.pop(0)

    def _orphan_format_error(self, i: int, extra: Mapping[str, Any], text: str, ts: float | None) -> None:
        """mini 2.x drops the rejected model answer from the history and keeps it in ``extra.model_response``."""
        response = extra.get("model_response")
        key = str(i)
        thought = split_thought(response)[0] if isinstance(response, str) else None
        self.events.step_started(self.run_id, key, thought=thought, raw_ref=self.pos(i), timestamp=ts)
        self.step_key, self.step_ts, self.n_steps, self.answered = key, ts, self.n_steps + 1, True
        self.events.observation(self.run_id, key, text, is_error=True, raw_ref=self.pos(i), timestamp=ts)
        self.events.error(self.run_id, text.split("\n", 1)[0], step_key=key, kind="FormatError", timestamp=ts)

    def exit(self, msg: Mapping[str, Any]) -> None:
        status, submission = exit_facts(msg)
        self.exit_status = status or self.exit_status
        self.submission = submission if submission is not None else self.submission


def exit_facts(msg: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """The exit status and submission that mini's final ``exit`` message carries in its ``extra``."""
    extra = _dict(msg.get("extra"))
    status, submission = extra.get("exit_status"), extra.get("submission")
    return (status if isinstance(status, str) else None), (submission if isinstance(submission, str) else None)


def replay_messages(
    events: Events,
    run_id: str,
    messages: Any,
    path: Path,
    *,
    model: str | None = None,
    ref: str = "messages",
    llm_calls: bool = False,
) -> _Replay:
    """Emit the steps of mini's ``messages`` into an already started run; returns what the walk learnt (exit status,
    submission, step count). Used for ``.traj.json`` files and for mini trajectories inside terminal-bench trials.

    ``llm_calls`` adds one LLM call per step (model, tokens, cost, whole response). It is off by default: it costs
    two more hook calls per step, and the step's thought and command already hold what the response said."""
    if not isinstance(messages, list):
        raise ExtractError(path, f"messages is {type(messages).__name__}", position=ref, expected="a list of messages")
    if not messages:
        raise ExtractError(path, "the trajectory holds no messages", position=ref, expected="at least one message")
    replay = _Replay(events, run_id, path, model, ref, llm_calls)
    for i, msg in enumerate(messages):
        if not isinstance(msg, dict):
            raise ExtractError(path, f"message is {type(msg).__name__}", position=f"{ref}[{i}]",
                               expected="a message object")
        if not isinstance(as_chat(msg).get("role"), str):
            raise ExtractError(path, "message without a role", position=f"{ref}[{i}].role", expected="a string")
        replay.feed(i, msg)
    replay.close_step()
    return replay


def first_user_text(messages: list[Any]) -> str | None:
    """The task: the first user message's text (a string, or the parts of a Responses-API ``input_text`` list)."""
    for msg in messages:
        if isinstance(msg, dict) and msg.get("role") == "user" and isinstance(msg.get("content"), str | list):
            return message_text(msg["content"], Path("<messages>"), "content")
        if isinstance(msg, dict) and (msg.get("role") == "assistant" or msg.get("object") == "response"):
            return None
    return None


# ----------------------------------------------------------------------------------------------------------------------
# Outcome: SWE-bench report beside the trajectory, else the exit status
# ----------------------------------------------------------------------------------------------------------------------


def report_verdict(report: Any, instance_id: str | None) -> bool | None:
    """``resolved`` from a SWE-bench report: per-instance (``{"resolved": ...}``), keyed by instance id, or an
    sb-cli summary with ``resolved_ids``. ``None`` when the report does not speak about this instance."""
    if not isinstance(report, dict):
        return None
    if isinstance(report.get("resolved"), bool):
        return bool(report["resolved"])
    if instance_id is not None:
        entry = report.get(instance_id)
        if isinstance(entry, dict) and isinstance(entry.get("resolved"), bool):
            return bool(entry["resolved"])
        for key, verdict in (("resolved_ids", True), ("unresolved_ids", False)):
            ids = report.get(key)
            if isinstance(ids, list) and instance_id in ids:
                return verdict
    return None


def report_tests(report: Any, instance_id: str | None) -> tuple[list[str], list[str]]:
    """Failed and passed test ids of a per-instance SWE-bench report (``tests_status``: FAIL_TO_PASS and
    PASS_TO_PASS, each with ``success`` and ``failure`` lists); empty when the report does not list them."""
    if not isinstance(report, dict):
        return [], []
    entry = report.get(instance_id) if instance_id is not None and isinstance(report.get(instance_id), dict) else report
    status = _dict(_dict(entry).get("tests_status"))
    failed: list[str] = []
    passed: list[str] = []
    for group in ("FAIL_TO_PASS", "PASS_TO_PASS"):
        results = _dict(status.get(group))
        failed += [t for t in results.get("failure") or [] if isinstance(t, str)]
        passed += [t for t in results.get("success") or [] if isinstance(t, str)]
    return failed, passed


def outcome_for(exit_status: str | None, resolved: bool | None) -> str:
    """Verified results win; an unverified submission is unknown; any other exit never submitted a fix."""
    if resolved is not None:
        return "solved" if resolved else "failed"
    if exit_status is None or exit_status == "Submitted":
        return "unknown"
    return "failed"


# ----------------------------------------------------------------------------------------------------------------------
# The extractor
# ----------------------------------------------------------------------------------------------------------------------


def read_tail(path: Path, size: int = TAIL_BYTES) -> str:
    """The end of a file: ``trajectory_format`` is the last key mini writes, beyond the head of big trajectories."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, 2)
            end = fh.tell()
            fh.seek(max(0, end - size))
            return fh.read().decode("utf-8", "replace")
    except OSError:
        return ""


def looks_like_trajectory(head: str, tail: str) -> float:
    """Confidence that a JSON text is a mini-swe-agent trajectory, from its first and last bytes."""
    if '"trajectory_format": "mini-swe-agent' in tail or '"trajectory_format": "mini-swe-agent' in head:
        return 0.95
    if '"mini_version"' in head or '"mini_version"' in tail:
        return 0.9
    stripped = head.lstrip()
    if stripped.startswith("[") and '"role": "system"' in head and any(m in head for m in _MARKERS):
        return 0.7  # a bare message list: only mini's own prompt vocabulary tells it apart
    return 0.0


class MiniSweAgentExtractor:
    """mini-swe-agent ``*.traj.json`` trajectories (formats 1 and 1.1, bare message lists)."""

    name = FRAMEWORK

    def __init__(self, llm_calls: bool = False) -> None:
        self.llm_calls = llm_calls

    def detect(self, candidate: Candidate) -> float:
        if candidate.is_dir or not candidate.looks_like_json():
            return 0.0
        return looks_like_trajectory(candidate.head_text, read_tail(candidate.path))

    def extract(self, path: Path, events: Events) -> None:
        data = load_json(path)
        if isinstance(data, list):
            messages: Any = data
            info: Mapping[str, Any] = {}
            fmt: str | None = "messages-list"
            instance_id: str | None = None
        elif isinstance(data, dict):
            if "messages" not in data:
                raise ExtractError(path, "no messages", position="messages", expected="a list of chat messages")
            messages, info = data["messages"], _dict(data.get("info"))
            fmt = data.get("trajectory_format") if isinstance(data.get("trajectory_format"), str) else None
            instance_id = data.get("instance_id") if isinstance(data.get("instance_id"), str) else None
        else:
            raise ExtractError(path, f"top level is {type(data).__name__}", position="line 1 column 1",
                               expected="a trajectory object or a list of messages")
        self._emit(path, events, messages, info, fmt, instance_id)

    def _emit(
        self, path: Path, events: Events, messages: Any, info: Mapping[str, Any], fmt: str | None,
        instance_id: str | None,
    ) -> None:
        config = _dict(info.get("config"))
        model_name = _dict(config.get("model")).get("model_name")
        model = model_name if isinstance(model_name, str) else None
        instance_id = instance_id or _instance_from_name(path)
        stats = _dict(info.get("model_stats"))
        metadata: dict[str, Any] = {"source_path": str(path), "instance_id": instance_id, "model": model,
                                    "trajectory_format": fmt, "mini_version": info.get("mini_version")}
        run_id = stable_run_id(FRAMEWORK, path)
        task = first_user_text(messages) if isinstance(messages, list) else None
        events.run_started(run_id, FRAMEWORK, task=task, metadata={k: v for k, v in metadata.items() if v})
        replay = replay_messages(events, run_id, messages, path, model=model, llm_calls=self.llm_calls)
        exit_status = info.get("exit_status") if isinstance(info.get("exit_status"), str) else replay.exit_status
        submission = info.get("submission") if isinstance(info.get("submission"), str) else replay.submission
        resolved, report_name = self._report(path, instance_id, events, run_id)
        end: dict[str, Any] = {"exit_status": exit_status, "submission": submission,
                               "cost": _number(stats.get("instance_cost")), "api_calls": _int(stats.get("api_calls")),
                               "resolved": resolved, "report": report_name}
        events.run_finished(run_id, outcome_for(exit_status, resolved), exit_status=exit_status,
                            metadata={k: v for k, v in end.items() if v is not None})

    def _report(
        self, path: Path, instance_id: str | None, events: Events, run_id: str
    ) -> tuple[bool | None, str | None]:
        """The SWE-bench verdict from ``report.json`` beside the trajectory; an unreadable report is an error event
        on the run (the trajectory itself is still good), not a lost run."""
        report_path = path.parent / "report.json"
        if not report_path.is_file():
            return None, None
        try:
            report = load_json(report_path)
        except ExtractError as exc:
            events.error(run_id, str(exc), kind="ReportError")
            return None, None
        verdict = report_verdict(report, instance_id)
        if verdict is None:
            return None, None
        failed, passed = report_tests(report, instance_id)
        events.verification(run_id, "SWE-bench report.json", passed=verdict, failed_tests=failed, passed_tests=passed)
        return verdict, str(report_path)


def _instance_from_name(path: Path) -> str | None:
    name = path.name
    for ext in (".traj.json", ".json"):
        if name.endswith(ext):
            return name[: -len(ext)] or None
    return None


# ----------------------------------------------------------------------------------------------------------------------
# mini's console transcript (terminal-bench keeps only this of an installed mini run)
# ----------------------------------------------------------------------------------------------------------------------

_ANSI_RE = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()][0-9A-Za-z]|\x1b[=>78]")
_STEP_HEADER_RE = re.compile(r"^mini-swe-agent \(step (\d+), \$([0-9.]+)\):[ \t]*$", re.M)
_SPINNER = "Waiting for the LM to respond..."


@dataclass
class ConsoleStep:
    """One step as mini printed it: the step number, the cumulative cost, what the model said and the answer."""

    number: int
    cost: float | None
    line: int
    response: str
    thought: str | None
    command: str | None
    observation: str | None
    exit_code: int | None


def strip_terminal(text: str) -> str:
    """Plain text of terminal output: ANSI sequences removed and carriage-return overwrites applied per line."""
    text = _ANSI_RE.sub("", text)
    lines = []
    for line in text.replace("\r\n", "\n").split("\n"):
        if "\r" in line:
            line = line.rstrip("\r").rsplit("\r", 1)[-1]
        lines.append(line)
    return "\n".join(lines)


def parse_console_log(raw: str) -> list[ConsoleStep]:
    """Steps from mini's console transcript. Lines are as the terminal wrapped them (hard breaks at its width)."""
    text = strip_terminal(raw)
    headers = list(_STEP_HEADER_RE.finditer(text))
    steps = []
    for n, header in enumerate(headers):
        end = headers[n + 1].start() if n + 1 < len(headers) else len(text)
        steps.append(_console_step(text, header, end))
    return steps


def _console_step(text: str, header: re.Match[str], end: int) -> ConsoleStep:
    body = text[header.end(): end]
    lines = [ln for ln in body.split("\n") if _SPINNER not in ln]
    body = "\n".join(lines)
    user_at = body.find("\nUser:\n")
    response = (body if user_at < 0 else body[:user_at]).strip("\n")
    observation = None if user_at < 0 else _console_observation(body[user_at + 7:])
    thought, commands = split_thought(response)
    try:
        cost: float | None = float(header.group(2))
    except ValueError:
        cost = None
    return ConsoleStep(
        number=int(header.group(1)), cost=cost, line=text.count("\n", 0, header.start()) + 1, response=response,
        thought=thought, command=commands[0] if len(commands) == 1 else None, observation=observation,
        exit_code=parse_returncode(observation) if observation else None,
    )


def _console_observation(rest: str) -> str:
    """The answer ends at mini's horizontal rule, or where mini reports the saved trajectory at the very end."""
    out = []
    for line in rest.split("\n"):
        if line.startswith("─") or line.startswith("Saved trajectory to "):
            break
        out.append(line)
    return "\n".join(out).strip("\n")


EXTRACTORS = [MiniSweAgentExtractor()]

"""Extractors for OpenHands run artifacts.

* **SDK conversations** (openhands-sdk): a folder with ``base_state.json`` and ``events/event-NNNNN-<id>.json``; each
  event has a ``kind``. ``ActionEvent``s sharing an ``llm_response_id`` came from one model response: they form one
  step whose tool calls are parallel siblings. Observations (``ObservationEvent``, ``UserRejectObservation``,
  ``AgentErrorEvent``) answer a call by ``tool_call_id`` / ``action_id``.
* **legacy v0 event streams**: ``sessions/<sid>/events/<N>.json`` (sorted by N), the exported ``trajectory.json``
  (a list of the same events) and SWE-bench style ``output.jsonl`` rows whose ``history`` holds them (newer rows) or
  ``[action, observation]`` pairs (older rows). Actions sharing ``tool_call_metadata.model_response.id`` form one
  step; observations answer an action through ``cause`` (the action's id) or the tool call id.

Outcome: ``solved``/``failed`` only from an evaluation verdict (``report``/``test_result``); otherwise the final
agent state decides between ``failed`` (error, stuck, rejected) and ``unknown`` (finished: the agent's own claim).
A conversation still marked running is left incomplete.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from codetracer.core.errors import ExtractError
from codetracer.core.events import Events
from codetracer.core.extractor import Candidate, load_json, load_jsonl, stable_run_id

FRAMEWORK = "openhands"

EDITOR_WRITES = frozenset({"create", "str_replace", "insert", "undo_edit", "write"})
"""File-editor commands that change a file (``view`` only reads)."""

FAILED_STATES = frozenset({"error", "stuck", "rejected"})
"""Final agent / execution states that mean the run did not complete its task."""

OPEN_STATES = frozenset({"running", "loading", "init"})
"""States of a conversation that was still going when it was saved: the run stays incomplete."""

V0_SKIPPED_ACTIONS = frozenset(
    {"recall", "condensation", "condensation_request", "change_agent_state", "null", "pause", "resume", "stop"}
)
V0_SKIPPED_OBSERVATIONS = frozenset({"recall", "null", "condense", "agent_condensation"})

SDK_SKIPPED = frozenset(
    {
        "PauseEvent",
        "Condensation",
        "CondensationRequest",
        "CondensationSummaryEvent",
        "TokenEvent",
        "LLMCompletionLogEvent",
        "StreamingDeltaEvent",
        "ConversationIterationLimitEvent",
    }
)


# --------------------------------------------------------------------------------------------------------------------
# shared helpers
# --------------------------------------------------------------------------------------------------------------------


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
    if isinstance(data.get("old_str"), str):
        edit["old"] = data["old_str"]
    for key in ("new_str", "file_text", "content"):
        if isinstance(data.get(key), str):
            edit["new"] = data[key]
            break
    return [edit]


def _patch_paths(patch: str) -> list[dict[str, Any]]:
    """Files named by an ``apply_patch`` envelope (``*** Update File: path`` ...)."""
    edits = []
    for line in patch.splitlines():
        for mark in ("*** Add File: ", "*** Update File: ", "*** Delete File: "):
            if line.startswith(mark):
                edits.append({"path": line[len(mark) :].strip()})
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


# --------------------------------------------------------------------------------------------------------------------
# OpenHands SDK conversations
# --------------------------------------------------------------------------------------------------------------------


def _sdk_event_files(folder: Path) -> list[Path]:
    """``event-NNNNN-<id>.json`` files in order of their index."""
    try:
        names = os.listdir(folder)
    except OSError as exc:
        raise ExtractError(folder, f"cannot list events: {exc.strerror or exc}") from None
    indexed = []
    for name in names:
        if name.startswith("event-") and name.endswith(".json"):
            number = name[6:].split("-", 1)[0]
            indexed.append((int(number) if number.isdigit() else 1 << 62, name))
    indexed.sort()
    return [folder / name for _, name in indexed]


class OpenHandsSdkExtractor:
    """A persisted openhands-sdk conversation folder: ``base_state.json`` + ``events/``."""

    name = "openhands-sdk"

    def detect(self, candidate: Candidate) -> float:
        if not candidate.is_dir or "events" not in candidate.names:
            return 0.0
        try:
            with os.scandir(candidate.path / "events") as entries:
                has_events = any(e.name.startswith("event-") and e.name.endswith(".json") for e in entries)
        except OSError:
            return 0.0
        if not has_events:
            return 0.0
        return 0.95 if "base_state.json" in candidate.names else 0.8

    def extract(self, path: Path, events: Events) -> None:
        state: dict[str, Any] = {}
        base = path / "base_state.json"
        if base.is_file():
            loaded = load_json(base)
            if not isinstance(loaded, dict):
                raise ExtractError(
                    base, f"{type(loaded).__name__} at top level", expected="the conversation state object"
                )
            state = loaded
        files = _sdk_event_files(path / "events")
        if not files:
            raise ExtractError(path / "events", "no event files", expected="events/event-NNNNN-<id>.json files")
        _SdkReplay(path, state, events).run(files)


MAPPED_KINDS = frozenset(
    {
        "ActionEvent",
        "ObservationEvent",
        "UserRejectObservation",
        "AgentErrorEvent",
        "MessageEvent",
        "SystemPromptEvent",
        "ConversationErrorEvent",
        "ConversationStateUpdateEvent",
    }
)
"""SDK event kinds the replay maps (or reads the status from); others are counted as ``skipped_events``."""


def status_of_update(data: Mapping[str, Any]) -> str | None:
    """The execution status a ``ConversationStateUpdateEvent`` sets, if it sets one."""
    key, value = data.get("key"), data.get("value")
    if key == "execution_status" and isinstance(value, str):
        return value
    if key == "full_state" and isinstance(value, dict) and isinstance(value.get("execution_status"), str):
        return str(value["execution_status"])
    return None


class _SdkReplay:
    """Replays the events of one SDK conversation."""

    def __init__(self, folder: Path, state: dict[str, Any], events: Events) -> None:
        self.folder = folder
        self.state = state
        self.ev = events
        self.run_id = stable_run_id(FRAMEWORK, folder)
        self.steps = _Steps(events, self.run_id)
        self.calls: dict[str, str] = {}  # tool_call_id / action event id -> call id
        self.step_of_call: dict[str, str] = {}
        self.execution_status = _str(state.get("execution_status"))
        self.conversation_error = False
        self.model = _sdk_model(state)
        self.skipped = 0

    def run(self, files: list[Path]) -> None:
        loaded = []
        for file in files:
            data = load_json(file)
            if not isinstance(data, dict):
                raise ExtractError(file, f"{type(data).__name__} at top level", expected="an event object with 'kind'")
            kind = data.get("kind")
            if not isinstance(kind, str):
                raise ExtractError(file, "event without a 'kind' string", position="kind", expected="an event kind")
            loaded.append((file, data, kind))
        task, first_ts = self._task(loaded)
        self.ev.run_started(self.run_id, FRAMEWORK, task=task, metadata=self._metadata(), timestamp=first_ts)
        last_ts = first_ts
        for file, data, kind in loaded:
            ts = _timestamp(data.get("timestamp"))
            last_ts = ts if ts is not None else last_ts
            self._event(file, data, kind, ts)
        self.steps.close(last_ts)
        self._finish(last_ts)

    def _task(self, loaded: list[tuple[Path, dict[str, Any], str]]) -> tuple[str | None, float | None]:
        first_ts = _timestamp(loaded[0][1].get("timestamp")) if loaded else None
        for _, data, kind in loaded:
            if kind == "MessageEvent" and data.get("source") == "user":
                message = data.get("llm_message")
                if isinstance(message, dict):
                    return _content_text(message.get("content")) or None, first_ts
        return None, first_ts

    def _metadata(self) -> dict[str, Any]:
        meta: dict[str, Any] = {"source_path": str(self.folder), "format": "openhands-sdk"}
        state = self.state
        if isinstance(state.get("id"), str):
            meta["conversation_id"] = state["id"]
        if self.model:
            meta["model"] = self.model
        if isinstance(state.get("max_iterations"), int):
            meta["max_iterations"] = state["max_iterations"]
        agent = state.get("agent")
        if isinstance(agent, dict) and isinstance(agent.get("tools"), list):
            meta["tools"] = [t.get("name") for t in agent["tools"] if isinstance(t, dict)]
        cost = _sdk_cost(state)
        if cost is not None:
            meta["cost"] = cost
        return meta

    def _ref(self, file: Path) -> str:
        return f"events/{file.name}"

    # -- event dispatch -------------------------------------------------------------------------------------------

    def _event(self, file: Path, data: dict[str, Any], kind: str, ts: float | None) -> None:
        if kind == "ActionEvent":
            self._action(file, data, ts)
        elif kind in ("ObservationEvent", "UserRejectObservation", "AgentErrorEvent"):
            self._observation(file, data, kind, ts)
        elif kind == "MessageEvent":
            self._message(file, data, ts)
        elif kind == "SystemPromptEvent":
            prompt = data.get("system_prompt")
            text = _content_text([prompt] if isinstance(prompt, dict) else prompt)
            if text:
                self.ev.message(self.run_id, "system", text, raw_ref=self._ref(file), timestamp=ts)
        elif kind == "ConversationErrorEvent":
            self.conversation_error = True
            code = _str(data.get("code"))
            detail = data.get("detail") if isinstance(data.get("detail"), str) else ""
            self.ev.error(self.run_id, detail or code or "conversation error", kind=code, timestamp=ts)
        elif kind == "ConversationStateUpdateEvent":
            self.execution_status = status_of_update(data) or self.execution_status
        else:
            self.skipped += 1  # pauses, condensations, token streams: no step content

    def _action(self, file: Path, data: dict[str, Any], ts: float | None) -> None:
        ref = self._ref(file)
        event_id = _str(data.get("id")) or file.name
        response_id = data.get("llm_response_id")
        tool_name = data.get("tool_name")
        if not isinstance(tool_name, str):
            raise ExtractError(
                file, "ActionEvent without a tool_name string", position="tool_name", expected="a tool name"
            )
        if self.steps.current is None or response_id is None or response_id != self.steps.group:
            thought = _content_text(data.get("thought"))
            reasoning = data.get("reasoning_content")
            step_key = str(response_id) if isinstance(response_id, str) else event_id
            self.steps.open(
                step_key,
                group=response_id,
                thought=thought or (reasoning if isinstance(reasoning, str) else None),
                raw_ref=ref,
                timestamp=ts,
            )
            llm_id = f"{step_key}/llm"
            self.ev.llm_call_started(self.run_id, step_key, llm_id, model=self.model, timestamp=ts)
            self.ev.llm_call_finished(self.run_id, llm_id, response=thought or None, timestamp=ts)
        current = self.steps.current
        assert current is not None
        tool_call = _dict(data.get("tool_call"))
        tool_call_id = _str(data.get("tool_call_id"))
        call_id = tool_call_id or event_id
        action = data.get("action") if isinstance(data.get("action"), dict) else None
        arguments = _json_args(tool_call.get("arguments"))
        if not arguments and action is not None:
            arguments = {k: v for k, v in action.items() if k != "kind"}
        command, edits = _sdk_command_and_edits(action)
        self.ev.tool_call_started(
            self.run_id,
            current,
            call_id,
            tool_name,
            arguments=arguments,
            command=command,
            edits=edits,
            raw_ref=ref,
            timestamp=ts,
        )
        self.calls[call_id] = call_id
        self.calls[event_id] = call_id
        self.step_of_call[call_id] = current

    def _observation(self, file: Path, data: dict[str, Any], kind: str, ts: float | None) -> None:
        call_id = None
        for key in ("tool_call_id", "action_id"):
            value = data.get(key)
            if isinstance(value, str) and value in self.calls:
                call_id = self.calls[value]
                break
        if kind == "ObservationEvent":
            observation = data.get("observation")
            if not isinstance(observation, dict):
                raise ExtractError(
                    file,
                    "ObservationEvent without an observation object",
                    position="observation",
                    expected="an object with content",
                )
            text = _content_text(observation.get("content"))
            exit_code = observation.get("exit_code")
            exit_code = exit_code if isinstance(exit_code, int) and not isinstance(exit_code, bool) else None
            is_error = observation.get("is_error") is True
        elif kind == "UserRejectObservation":
            reason = data.get("rejection_reason")
            text, exit_code, is_error = f"rejected: {reason if isinstance(reason, str) else ''}", None, True
        else:  # AgentErrorEvent
            error = data.get("error")
            text, exit_code, is_error = (error if isinstance(error, str) else "agent error"), None, True
            step_key = self.step_of_call.get(call_id) if call_id else self.steps.current
            self.ev.error(self.run_id, text, step_key=step_key, kind="AgentErrorEvent", timestamp=ts)
        if call_id is not None:
            self.ev.tool_call_finished(
                self.run_id, call_id, output=text, exit_code=exit_code, is_error=is_error, timestamp=ts
            )
        elif self.steps.current is not None and kind != "AgentErrorEvent":
            self.ev.observation(
                self.run_id,
                self.steps.current,
                text,
                exit_code=exit_code,
                is_error=is_error,
                raw_ref=self._ref(file),
                timestamp=ts,
            )

    def _message(self, file: Path, data: dict[str, Any], ts: float | None) -> None:
        message = data.get("llm_message")
        if not isinstance(message, dict):
            raise ExtractError(
                file,
                "MessageEvent without an llm_message object",
                position="llm_message",
                expected="an object with role and content",
            )
        role = _str(message.get("role")) or "user"
        text = _content_text(message.get("content"))
        ref = self._ref(file)
        if data.get("source") == "agent" or role == "assistant":
            event_id = _str(data.get("id")) or file.name
            response_id = data.get("llm_response_id")
            key = response_id if isinstance(response_id, str) else event_id
            if self.steps.current is None or response_id is None or response_id != self.steps.group:
                self.steps.open(key, group=response_id, raw_ref=ref, timestamp=ts)
                llm_id = f"{key}/llm"
                self.ev.llm_call_started(self.run_id, key, llm_id, model=self.model, timestamp=ts)
                self.ev.llm_call_finished(self.run_id, llm_id, response=text, timestamp=ts)
            self.ev.message(self.run_id, "assistant", text, step_key=self.steps.current, raw_ref=ref, timestamp=ts)
        else:
            self.steps.close(ts)
            self.ev.message(self.run_id, role, text, raw_ref=ref, timestamp=ts)

    def _finish(self, ts: float | None) -> None:
        status = self.execution_status
        if status in OPEN_STATES and not self.conversation_error:
            return  # saved while running: the builder marks the run incomplete
        outcome = "failed" if self.conversation_error else _outcome_from_state(status, None)
        meta: dict[str, Any] = {}
        if self.skipped:
            meta["skipped_events"] = self.skipped
        self.ev.run_finished(self.run_id, outcome, exit_status=status, metadata=meta, timestamp=ts)


def _sdk_model(state: dict[str, Any]) -> str | None:
    agent = state.get("agent")
    llm = agent.get("llm") if isinstance(agent, dict) else None
    model = llm.get("model") if isinstance(llm, dict) else None
    return model if isinstance(model, str) else None


def _sdk_cost(state: dict[str, Any]) -> float | None:
    stats = state.get("stats")
    usage = stats.get("usage_to_metrics") if isinstance(stats, dict) else None
    if not isinstance(usage, dict) or not usage:
        return None
    total = 0.0
    for metrics in usage.values():
        cost = metrics.get("accumulated_cost") if isinstance(metrics, dict) else None
        if isinstance(cost, (int, float)):
            total += cost
    return total


def _sdk_command_and_edits(action: dict[str, Any] | None) -> tuple[str | None, list[dict[str, Any]]]:
    """The shell command of terminal actions; the edited file of editor and patch actions."""
    if action is None:
        return None, []
    kind = _str(action.get("kind")) or ""
    if isinstance(action.get("path"), str) and ("Edit" in kind or "edit" in kind or "command" in action):
        return None, _edit_of(action)
    if isinstance(action.get("patch"), str):
        return None, _patch_paths(action["patch"])
    command = action.get("command")
    return (command if isinstance(command, str) else None), []


# --------------------------------------------------------------------------------------------------------------------
# legacy v0 events (session folders, trajectory.json, output.jsonl)
# --------------------------------------------------------------------------------------------------------------------


class _V0Replay:
    """Replays a list of v0 events (``{"action": ...}`` / ``{"observation": ...}`` dicts) as one run."""

    def __init__(self, path: Path, events: Events, run_id: str) -> None:
        self.path = path
        self.ev = events
        self.run_id = run_id
        self.steps = _Steps(events, run_id)
        self.by_event: dict[int, str] = {}
        self.by_tool_call: dict[str, str] = {}
        self.open_calls: list[str] = []
        self.step_of_call: dict[str, str] = {}
        self.agent_state: str | None = None
        self.finished = False
        self.model: str | None = None
        self.errors = 0

    def task_of(self, items: list[tuple[str, Any]]) -> str | None:
        for _, event in items:
            if isinstance(event, dict) and event.get("action") == "message" and event.get("source") == "user":
                args = event.get("args")
                content = args.get("content") if isinstance(args, dict) else None
                text = content if isinstance(content, str) else event.get("message")
                return text if isinstance(text, str) and text else None
        return None

    def replay(self, items: list[tuple[str, Any]]) -> float | None:
        """Emit every event; ``items`` are ``(raw_ref, event)``. Returns the last timestamp."""
        last_ts: float | None = None
        for ref, event in items:
            if not isinstance(event, dict):
                raise ExtractError(
                    self.path,
                    f"{type(event).__name__} where an event object was expected",
                    position=ref,
                    expected="an object with 'action' or 'observation'",
                )
            ts = _timestamp(event.get("timestamp"))
            last_ts = ts if ts is not None else last_ts
            if isinstance(event.get("action"), str):
                self._action(ref, event, event["action"], ts)
            elif isinstance(event.get("observation"), str):
                self._observation(ref, event, event["observation"], ts)
            elif "action" in event or "observation" in event:
                raise ExtractError(
                    self.path,
                    "event type is not a string",
                    position=ref,
                    expected="'action' or 'observation' naming the event type",
                )
        self.steps.close(last_ts)
        return last_ts

    def _args(self, ref: str, event: dict[str, Any]) -> dict[str, Any]:
        args = event.get("args", {})
        if args is None:
            return {}
        if not isinstance(args, dict):
            raise ExtractError(
                self.path,
                f"{type(args).__name__} where args were expected",
                position=f"{ref}.args",
                expected="an object",
            )
        return args

    def _action(self, ref: str, event: dict[str, Any], kind: str, ts: float | None) -> None:
        args = self._args(ref, event)
        source = event.get("source")
        if kind in V0_SKIPPED_ACTIONS:
            return
        if kind == "system":
            content = args.get("content")
            if isinstance(content, str) and content:
                self.ev.message(self.run_id, "system", content, raw_ref=ref, timestamp=ts)
            return
        if kind == "message":
            content = args.get("content")
            text = content if isinstance(content, str) else (event.get("message") or "")
            if source == "agent":
                key = self._step_for(ref, event, args, ts)
                self.ev.message(self.run_id, "assistant", str(text), step_key=key, raw_ref=ref, timestamp=ts)
            else:
                self.steps.close(ts)
                self.ev.message(self.run_id, "user", str(text), raw_ref=ref, timestamp=ts)
            return
        if source == "user" and kind != "finish":
            return  # user-side actions (e.g. a user running a command in the UI) are not agent steps
        key = self._step_for(ref, event, args, ts)
        if kind == "finish":
            self.finished = True
        tcm = _dict(event.get("tool_call_metadata"))
        tool_call_id = _str(tcm.get("tool_call_id"))
        tool = _str(tcm.get("function_name")) or kind
        arguments = _v0_model_arguments(tcm, tool_call_id) or {
            k: v for k, v in args.items() if k not in ("thought", "confirmation_state", "security_risk", "hidden")
        }
        command = args.get("command") if kind == "run" and isinstance(args.get("command"), str) else None
        edits: list[dict[str, Any]] = []
        if kind in ("edit", "write"):
            edits = _edit_of(args, command=args.get("command") if kind == "edit" else "write")
        event_id = event.get("id")
        call_id = f"{ref}" if not isinstance(event_id, int) else f"event-{event_id}"
        self.ev.tool_call_started(
            self.run_id,
            key,
            call_id,
            tool,
            arguments=arguments,
            command=command,
            edits=edits,
            raw_ref=ref,
            timestamp=ts,
        )
        if isinstance(event_id, int):
            self.by_event[event_id] = call_id
        if tool_call_id:
            self.by_tool_call[tool_call_id] = call_id
        self.open_calls.append(call_id)
        self.step_of_call[call_id] = key

    def _step_for(self, ref: str, event: dict[str, Any], args: dict[str, Any], ts: float | None) -> str:
        """The step of an agent action: actions answering the same model response share one step."""
        tcm = _dict(event.get("tool_call_metadata"))
        response = _dict(tcm.get("model_response"))
        response_id = _str(response.get("id"))
        if response_id is not None and self.steps.current is not None and response_id == self.steps.group:
            return self.steps.current
        thought = _str(args.get("thought"))
        key = ref
        self.steps.open(key, group=response_id, thought=thought, raw_ref=ref, timestamp=ts)
        if response:
            self._llm_call(key, response, thought, ts)
        return key

    def _llm_call(self, key: str, response: dict[str, Any], thought: str | None, ts: float | None) -> None:
        model = _str(response.get("model")) or self.model
        usage = _dict(response.get("usage"))
        choices = response.get("choices")
        text = thought
        if isinstance(choices, list) and choices and isinstance(choices[0], dict):
            message = choices[0].get("message")
            if isinstance(message, dict) and isinstance(message.get("content"), str):
                text = message["content"]
        llm_id = f"{key}/llm"
        self.ev.llm_call_started(self.run_id, key, llm_id, model=model, timestamp=ts)
        prompt, completion = usage.get("prompt_tokens"), usage.get("completion_tokens")
        self.ev.llm_call_finished(
            self.run_id,
            llm_id,
            response=text,
            input_tokens=prompt if isinstance(prompt, int) else None,
            output_tokens=completion if isinstance(completion, int) else None,
            timestamp=ts,
        )

    def _observation(self, ref: str, event: dict[str, Any], kind: str, ts: float | None) -> None:
        extras = _dict(event.get("extras"))
        if kind == "agent_state_changed":
            state = extras.get("agent_state")
            if isinstance(state, str):
                self.agent_state = state
            return
        if kind in V0_SKIPPED_OBSERVATIONS:
            return
        content = event.get("content")
        text = content if isinstance(content, str) else str(event.get("message") or "")
        metadata = _dict(extras.get("metadata"))
        exit_code = metadata.get("exit_code")
        exit_code = exit_code if isinstance(exit_code, int) and not isinstance(exit_code, bool) else None
        is_error = kind in ("error", "user_rejected") or event.get("success") is False
        call_id = self._call_for(event)
        if kind == "error":
            self.errors += 1
            step_key = self.step_of_call.get(call_id) if call_id else self.steps.current
            self.ev.error(self.run_id, text, step_key=step_key, kind="ErrorObservation", timestamp=ts)
        if call_id is not None:
            self.ev.tool_call_finished(
                self.run_id, call_id, output=text, exit_code=exit_code, is_error=is_error, timestamp=ts
            )
        elif self.steps.current is not None and kind != "error":
            self.ev.observation(
                self.run_id, self.steps.current, text, exit_code=exit_code, is_error=is_error, raw_ref=ref, timestamp=ts
            )

    def _call_for(self, event: dict[str, Any]) -> str | None:
        """The open call an observation answers: by ``cause``, by tool call id, else the oldest open call."""
        call_id = None
        cause = event.get("cause")
        if isinstance(cause, int) and cause in self.by_event:
            call_id = self.by_event[cause]
        if call_id is None:
            tcm = event.get("tool_call_metadata")
            tcid = tcm.get("tool_call_id") if isinstance(tcm, dict) else None
            if isinstance(tcid, str):
                call_id = self.by_tool_call.get(tcid)
        if call_id is None and cause is None and self.open_calls:
            call_id = self.open_calls[0]
        if call_id is not None and call_id in self.open_calls:
            self.open_calls.remove(call_id)
            return call_id
        return None

    def finish(
        self,
        ts: float | None,
        verdict: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        error: str | None = None,
    ) -> None:
        state = self.agent_state or ("finished" if self.finished else None)
        if error and state not in FAILED_STATES:
            state = state or "error"
        if verdict is None and (state is None or state in OPEN_STATES):
            return  # the stream stops without a final state: the run stays incomplete
        outcome = _outcome_from_state(state, verdict)
        if error and verdict is None:
            outcome = "failed"
        self.ev.run_finished(self.run_id, outcome, exit_status=state, metadata=dict(metadata or {}), timestamp=ts)


def _v0_model_arguments(tcm: dict[str, Any], tool_call_id: str | None) -> dict[str, Any]:
    """The arguments the model wrote for this tool call, found in the stored model response."""
    response = tcm.get("model_response")
    choices = response.get("choices") if isinstance(response, dict) else None
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return {}
    message = choices[0].get("message")
    calls = message.get("tool_calls") if isinstance(message, dict) else None
    if not isinstance(calls, list):
        return {}
    for call in calls:
        if isinstance(call, dict) and (tool_call_id is None or call.get("id") == tool_call_id):
            function = call.get("function")
            if isinstance(function, dict):
                return _json_args(function.get("arguments"))
    return {}


def _v0_event_files(folder: Path) -> list[tuple[int, Path]]:
    try:
        names = os.listdir(folder)
    except OSError as exc:
        raise ExtractError(folder, f"cannot list events: {exc.strerror or exc}") from None
    found = []
    for name in names:
        stem, dot, ext = name.partition(".")
        if dot and ext == "json" and stem.isdigit():
            found.append((int(stem), folder / name))
    found.sort()
    return found


def _looks_like_v0_event(head: bytes) -> bool:
    return b'"source"' in head and (b'"action"' in head or b'"observation"' in head)


class OpenHandsV0EventsExtractor:
    """A legacy v0 session folder (``sessions/<sid>/`` holding ``events/0.json``, ``1.json`` ...)."""

    name = "openhands-v0-events"

    def detect(self, candidate: Candidate) -> float:
        if not candidate.is_dir:
            return 0.0
        folder = candidate.path / "events" if "events" in candidate.names else None
        if folder is None:
            return 0.0
        first = folder / "0.json"
        try:
            with open(first, "rb") as fh:
                head = fh.read(4096)
        except OSError:
            return 0.0
        return 0.9 if _looks_like_v0_event(head) else 0.0

    def extract(self, path: Path, events: Events) -> None:
        files = _v0_event_files(path / "events")
        if not files:
            raise ExtractError(path / "events", "no numbered event files", expected="events/0.json, 1.json ...")
        items: list[tuple[str, Any]] = [(f"events/{file.name}", load_json(file)) for _, file in files]
        run_id = stable_run_id(FRAMEWORK, path)
        _replay_v0_run(
            path,
            events,
            run_id,
            items,
            {"source_path": str(path), "format": "openhands-v0-events", "session_id": path.name},
        )


def _replay_v0_run(
    path: Path,
    events: Events,
    run_id: str,
    items: list[tuple[str, Any]],
    metadata: dict[str, Any],
    task: str | None = None,
    verdict: str | None = None,
    end: Mapping[str, Any] | None = None,
    error: str | None = None,
) -> None:
    replay = _V0Replay(path, events, run_id)
    for ref, event in items:
        if not isinstance(event, dict):
            raise ExtractError(
                path,
                f"{type(event).__name__} where an event object was expected",
                position=ref,
                expected="an object with 'action' or 'observation'",
            )
    first_ts = next((t for t in (_timestamp(e.get("timestamp")) for _, e in items) if t is not None), None)
    events.run_started(run_id, FRAMEWORK, task=task or replay.task_of(items), metadata=metadata, timestamp=first_ts)
    last_ts = replay.replay(items)
    replay.finish(last_ts, verdict=verdict, metadata=end, error=error)


class OpenHandsTrajectoryExtractor:
    """An exported v0 ``trajectory.json``: a JSON list of events."""

    name = "openhands-trajectory"

    def detect(self, candidate: Candidate) -> float:
        if candidate.is_dir:
            return 0.0
        head = candidate.head.lstrip()
        if not head.startswith(b"[") or b'"step_id"' in head:
            return 0.0
        return 0.85 if _looks_like_v0_event(head) and b'"id"' in head else 0.0

    def extract(self, path: Path, events: Events) -> None:
        data = load_json(path)
        if isinstance(data, dict) and isinstance(data.get("trajectory"), list):
            data = data["trajectory"]
        if not isinstance(data, list):
            raise ExtractError(path, f"{type(data).__name__} at top level", expected="a list of OpenHands events")
        if not data:
            raise ExtractError(path, "empty event list", expected="at least one event")
        items: list[tuple[str, Any]] = [(f"[{i}]", event) for i, event in enumerate(data)]
        _replay_v0_run(
            path,
            events,
            stable_run_id(FRAMEWORK, path),
            items,
            {"source_path": str(path), "format": "openhands-trajectory"},
        )


class OpenHandsOutputExtractor:
    """SWE-bench style ``output.jsonl``: one run per row, events in ``history``."""

    name = "openhands-output"

    def detect(self, candidate: Candidate) -> float:
        if candidate.is_dir:
            return 0.0
        head = candidate.head.lstrip()
        if not head.startswith(b"{") or b'"model_patch"' in head or b'"instance_id"' not in head:
            return 0.0
        if b'"history"' in head and (b'"source"' in head or b'"agent_class"' in head):
            return 0.85
        if b'"agent_class"' in head and (b'"instruction"' in head or b'"test_result"' in head):
            return 0.75
        return 0.0

    def extract(self, path: Path, events: Events) -> None:
        rows = load_jsonl(path)
        if not rows:
            raise ExtractError(path, "no rows", expected="one JSON object per line with a 'history' list")
        seen: set[str] = set()
        for n, row in enumerate(rows, 1):
            self._row(path, events, n, row, seen)

    def _row(self, path: Path, events: Events, n: int, row: Any, seen: set[str]) -> None:
        where = f"line {n}"
        if not isinstance(row, dict):
            raise ExtractError(path, f"{type(row).__name__} row", position=where, expected="an object")
        history = row.get("history")
        if not isinstance(history, list):
            raise ExtractError(
                path,
                "row without a history list",
                position=f"{where}: history",
                expected="a list of events or [action, observation] pairs",
            )
        instance = _str(row.get("instance_id"))
        suffix = instance or f"line-{n}"
        if suffix in seen:
            suffix = f"{suffix}@line-{n}"
        seen.add(suffix)
        items = list(_flatten_history(history, where))
        meta = _output_metadata(path, row, n, instance)
        instruction = _str(row.get("instruction"))
        error = row.get("error") if isinstance(row.get("error"), str) and row.get("error") else None
        end: dict[str, Any] = {}
        test_result = row.get("test_result")
        if isinstance(test_result, dict) and isinstance(test_result.get("git_patch"), str):
            end["git_patch"] = test_result["git_patch"]
        if error:
            end["error"] = error
        _replay_v0_run(
            path,
            events,
            stable_run_id(FRAMEWORK, path, suffix),
            items,
            meta,
            task=instruction,
            verdict=_output_verdict(row),
            end=end,
            error=error,
        )


def _flatten_history(history: list[Any], where: str) -> Iterable[tuple[str, Any]]:
    """Events with their raw refs; older rows store ``[action, observation]`` pairs."""
    for i, item in enumerate(history):
        if isinstance(item, list):
            for j, part in enumerate(item):
                if isinstance(part, dict) and not part:
                    continue  # an empty observation slot
                yield f"{where}: history[{i}][{j}]", part
        else:
            yield f"{where}: history[{i}]", item


def _output_metadata(path: Path, row: dict[str, Any], n: int, instance: str | None) -> dict[str, Any]:
    meta: dict[str, Any] = {"source_path": str(path), "format": "openhands-output", "line": n}
    if instance:
        meta["instance_id"] = instance
    info = _dict(row.get("metadata"))
    llm = _dict(info.get("llm_config"))
    model = llm.get("model") or info.get("model_name")
    if isinstance(model, str):
        meta["model"] = model
    if isinstance(info.get("agent_class"), str):
        meta["agent_class"] = info["agent_class"]
    metrics = _dict(row.get("metrics"))
    cost = metrics.get("accumulated_cost")
    if isinstance(cost, (int, float)):
        meta["cost"] = cost
    return meta


def _output_verdict(row: dict[str, Any]) -> str | None:
    """``resolved`` from an evaluation report in the row, if the row was evaluated."""
    candidates = [row.get("report"), row.get("resolved")]
    test_result = row.get("test_result")
    if isinstance(test_result, dict):
        candidates += [test_result.get("report"), test_result.get("resolved")]
    for value in candidates:
        if isinstance(value, dict):
            value = value.get("resolved")
        if isinstance(value, bool):
            return "solved" if value else "failed"
    return None


EXTRACTORS = [
    OpenHandsSdkExtractor(),
    OpenHandsV0EventsExtractor(),
    OpenHandsTrajectoryExtractor(),
    OpenHandsOutputExtractor(),
]

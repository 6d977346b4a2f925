"""OpenHands SDK conversations: a folder with ``base_state.json`` and ``events/event-NNNNN-<id>.json``.

Each event has a ``kind``. ``ActionEvent``s sharing an ``llm_response_id`` came from one model response: they form
one step whose tool calls are parallel siblings. Observations (``ObservationEvent``, ``UserRejectObservation``,
``AgentErrorEvent``) answer a call by ``tool_call_id`` / ``action_id``. The live adapter maps recorded SDK events with
the same replay (:class:`_SdkReplay`), so a live tree is the persisted conversation's tree.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from codetracer.adapters.openhands.common import (
    FRAMEWORK,
    OPEN_STATES,
    _content_text,
    _dict,
    _edit_of,
    _json_args,
    _outcome_from_state,
    _patch_paths,
    _Steps,
    _str,
    _timestamp,
)
from codetracer.core.errors import ExtractError
from codetracer.core.events import Events
from codetracer.core.extractor import Candidate, load_json, stable_run_id

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

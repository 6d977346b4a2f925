"""Legacy OpenHands v0 event streams: session folders, the exported ``trajectory.json`` and ``output.jsonl`` rows.

``sessions/<sid>/events/<N>.json`` (sorted by N), ``trajectory.json`` (a list of the same events) and SWE-bench style
``output.jsonl`` rows whose ``history`` holds them (newer rows) or ``[action, observation]`` pairs (older rows).
Actions sharing ``tool_call_metadata.model_response.id`` form one step; observations answer an action through
``cause`` (the action's id) or the tool call id.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from codetracer.adapters.openhands.common import (
    FAILED_STATES,
    FRAMEWORK,
    OPEN_STATES,
    _dict,
    _edit_of,
    _json_args,
    _outcome_from_state,
    _Steps,
    _str,
    _timestamp,
)
from codetracer.core.errors import ExtractError
from codetracer.core.events import Events
from codetracer.core.extractor import Candidate, load_json, load_jsonl, stable_run_id

V0_SKIPPED_ACTIONS = frozenset(
    {"recall", "condensation", "condensation_request", "change_agent_state", "null", "pause", "resume", "stop"}
)
V0_SKIPPED_OBSERVATIONS = frozenset({"recall", "null", "condense", "agent_condensation"})


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

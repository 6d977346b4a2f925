"""The tree builder: a plugin that folds trace-event hook calls into :class:`~codetracer.core.model.Run` trees.

Live adapters and offline extractors both speak only hook calls, and this one plugin turns them into trees, so a run
traced live and the same run parsed from its artifacts give the same tree.

The builder is tolerant by design: events for unknown runs start the run implicitly, events for unknown steps start
the step, and a finished run closes whatever is still open. A tracer must never raise into the agent.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

if TYPE_CHECKING:  # pragma: no cover
    from codetracer.core.events import Events

from codetracer.core.blobs import INLINE_LIMIT, BlobStore, make_text
from codetracer.core.model import Outcome, Run
from codetracer.core.records import MapperError, RecordMapper, load_mapper
from codetracer.hooks.specs import hookimpl

Node = dict[str, Any]
"""Open trees are plain dicts (cheap on the agent's thread); they are validated into pydantic models once, when the
run is handed on (:func:`to_run`), off the hot path where a tracer has a writer thread."""


@dataclass
class _OpenRun:
    run: Node
    steps: dict[str, Node] = field(default_factory=dict)
    calls: dict[str, Node] = field(default_factory=dict)
    open_steps: set[str] = field(default_factory=set)
    open_calls: set[str] = field(default_factory=set)
    mappers: dict[str, RecordMapper | None] = field(default_factory=dict)
    """The run's record mappers by name (``None``: the name did not load; its records are skipped)."""


def _new_run(run_id: str, timestamp: float | None = None) -> Node:
    return {
        "id": run_id,
        "framework": "unknown",
        "started_at": timestamp,
        "metadata": {},
        "messages": [],
        "errors": [],
        "stages": [],
        "steps": [],
    }


def to_run(node: Node) -> Run:
    """Validate an open-tree dict into a :class:`Run` (types checked, defaults filled).

    Values an adapter passed that JSON cannot hold (in metadata or arguments) are kept here and written as their
    ``repr`` when the tree is serialised (:meth:`Run.to_json`), so a stored tree always loads back. A value of the
    wrong type (a ``None`` role, a number as a tool name) is coerced rather than losing the run: tracing must not
    fail on an adapter's sloppiness.
    """
    for _ in range(50):
        try:
            return Run.model_validate(node)
        except ValidationError as exc:
            for error in exc.errors():
                _coerce(node, error["loc"], error["type"])
    return Run.model_validate(node)


_NUMBER_ERRORS = frozenset(
    {"int_type", "int_parsing", "int_from_float", "float_type", "float_parsing", "bool_type", "bool_parsing"}
)


def _coerce(node: Any, loc: tuple[int | str, ...], kind: str) -> None:
    parent = node
    for key in loc[:-1]:
        try:
            parent = parent[key]
        except (KeyError, IndexError, TypeError):
            return
    last = loc[-1] if loc else None
    if last is None:
        return
    try:
        value = parent[last]
    except (KeyError, IndexError, TypeError):
        return
    if kind in {"string_type", "string_unicode"}:
        parent[last] = "" if value is None else str(value)
    elif kind in _NUMBER_ERRORS:
        parent[last] = None
    elif isinstance(parent, dict) and kind == "extra_forbidden":
        del parent[last]
    elif kind == "dict_type":
        parent[last] = {}
    elif kind == "list_type":
        parent[last] = []
    else:
        parent[last] = None


RunSink = Callable[[Node], None]


class TreeBuilder:
    """Builds one tree per ``run_id``; hands each finished run to ``on_finished``.

    Thread-safe: one lock guards the table of open runs; runs of different threads never share state. With no sink,
    finished runs are validated and kept in :attr:`finished` (offline parsing, tests).
    """

    def __init__(self, on_finished: RunSink | None = None, blobs: BlobStore | None = None) -> None:
        self._runs: dict[str, _OpenRun] = {}
        self._lock = threading.Lock()
        self._on_finished = on_finished
        self._blobs = blobs
        self.finished: list[Run] = []
        """Finished runs, kept when no ``on_finished`` sink is given."""

    def _text(self, value: str | Node) -> Node:
        if isinstance(value, dict):
            if "blob" in value:  # already elided by the live run log (see RunLog)
                return dict(value)
            value = str(value)  # an adapter's sloppiness: a text is expected
        if len(value) <= INLINE_LIMIT:
            return {"text": value, "size": len(value)}
        return make_text(value, self._blobs).model_dump()

    # -- access -------------------------------------------------------------------------------------------------------

    def open_run_ids(self) -> list[str]:
        with self._lock:
            return list(self._runs)

    def snapshot(self, run_id: str) -> Run | None:
        """An open run as it stands, validated (for periodic saves of long runs)."""
        with self._lock:
            state = self._runs.get(run_id)
            return to_run(state.run) if state else None

    def _state(self, run_id: str, timestamp: float | None = None) -> _OpenRun:
        state = self._runs.get(run_id)
        if state is None:
            state = _OpenRun(_new_run(run_id, timestamp))
            self._runs[run_id] = state
        return state

    def _step(self, state: _OpenRun, step_key: str | None, timestamp: float | None) -> Node | None:
        if step_key is None:
            return None
        step = state.steps.get(step_key)
        if step is None:
            step = self._new_step(state, step_key, None, None, None, timestamp)
        return step

    def _new_step(
        self,
        state: _OpenRun,
        step_key: str,
        agent: str | None,
        thought: str | None,
        raw_ref: str | None,
        timestamp: float | None,
    ) -> Node:
        steps = state.run["steps"]
        step = {
            "id": len(steps) + 1,
            "key": step_key,
            "agent": agent,
            "thought": self._text(thought) if thought else None,
            "started_at": timestamp,
            "raw_ref": raw_ref,
            "calls": [],
            "messages": [],
            "observations": [],
            "errors": [],
        }
        steps.append(step)
        state.steps[step_key] = step
        state.open_steps.add(step_key)
        return step

    # -- run lifecycle ------------------------------------------------------------------------------------------------

    @hookimpl
    def codetracer_run_started(
        self,
        run_id: str,
        framework: str,
        task: str | None,
        metadata: Mapping[str, Any],
        parent_run_id: str | None,
        timestamp: float | None,
    ) -> None:
        with self._lock:
            run = self._state(run_id, timestamp).run
            run["framework"] = framework
            run["task"] = task
            run["parent_run_id"] = parent_run_id
            if run["started_at"] is None:
                run["started_at"] = timestamp
            run["metadata"].update(metadata)

    @hookimpl
    def codetracer_run_finished(
        self,
        run_id: str,
        outcome: str,
        exit_status: str | None,
        metadata: Mapping[str, Any],
        timestamp: float | None,
    ) -> None:
        self._close_mappers(run_id)
        with self._lock:
            state = self._runs.pop(run_id, None) or _OpenRun(_new_run(run_id))
        run = state.run
        run["outcome"] = Outcome.parse(outcome)
        run["exit_status"] = exit_status
        run["ended_at"] = timestamp
        run["metadata"].update(metadata)
        self._close_open(state, timestamp, complete=True)
        self._emit(run)

    def finalize_incomplete(self, timestamp: float | None = None) -> int:
        """Close every open run children-first, marked incomplete (process exit, journal recovery).

        Returns how many runs were closed; they go where finished runs go.
        """
        for run_id in self.open_run_ids():
            self._close_mappers(run_id)
        with self._lock:
            states = list(self._runs.values())
            self._runs.clear()
        for state in states:
            self._close_open(state, timestamp, complete=False)
            state.run["complete"] = False
            state.run["ended_at"] = state.run.get("ended_at") or timestamp
            self._emit(state.run)
        return len(states)

    def _close_open(self, state: _OpenRun, timestamp: float | None, complete: bool) -> None:
        for call_id in sorted(state.open_calls):
            call = state.calls[call_id]
            call["complete"] = complete
            call["ended_at"] = call.get("ended_at") or timestamp
        state.open_calls.clear()
        for key in state.open_steps:
            step = state.steps[key]
            step["complete"] = complete and all(c.get("complete", True) for c in step["calls"])
            step["ended_at"] = step.get("ended_at") or timestamp
        state.open_steps.clear()

    def _emit(self, run: Node) -> None:
        if self._on_finished is None:
            self.finished.append(to_run(run))
        else:
            self._on_finished(run)

    @hookimpl
    def codetracer_stage_declared(self, run_id: str, kind: str, start_step: int, end_step: int, source: str) -> None:
        with self._lock:
            stages = self._state(run_id).run["stages"]
            stages.append(
                {"id": len(stages) + 1, "kind": kind, "start_step": start_step, "end_step": end_step, "source": source}
            )

    # -- steps --------------------------------------------------------------------------------------------------------

    @hookimpl
    def codetracer_step_started(
        self,
        run_id: str,
        step_key: str,
        agent: str | None,
        thought: str | None,
        raw_ref: str | None,
        timestamp: float | None,
    ) -> None:
        with self._lock:
            state = self._state(run_id, timestamp)
            step = state.steps.get(step_key)
            if step is None:
                self._new_step(state, step_key, agent, thought, raw_ref, timestamp)
                return
            # a step announced implicitly (e.g. by an early call) gets its details now
            step["agent"] = step["agent"] or agent
            if thought and step["thought"] is None:
                step["thought"] = self._text(thought)
            step["raw_ref"] = step["raw_ref"] or raw_ref

    @hookimpl
    def codetracer_step_finished(self, run_id: str, step_key: str, timestamp: float | None) -> None:
        with self._lock:
            state = self._runs.get(run_id)
            if state is None or step_key not in state.steps:
                return
            state.open_steps.discard(step_key)
            step = state.steps[step_key]
            step["ended_at"] = timestamp
            for call in step["calls"]:
                if call["id"] in state.open_calls:
                    state.open_calls.discard(call["id"])
                    call["ended_at"] = timestamp

    # -- calls --------------------------------------------------------------------------------------------------------

    def _add_call(self, run_id: str, step_key: str, call: Node) -> None:
        with self._lock:
            state = self._runs.get(run_id)
            if state is None:
                state = self._state(run_id, call["started_at"])
            step = state.steps.get(step_key)
            if step is None:
                step = self._new_step(state, step_key, None, None, None, call["started_at"])
            step["calls"].append(call)
            state.calls[call["id"]] = call
            state.open_calls.add(call["id"])

    def _finish_call(self, run_id: str, call_id: str, timestamp: float | None) -> Node | None:
        with self._lock:
            state = self._runs.get(run_id)
            if state is None:
                return None
            call = state.calls.get(call_id)
            if call is not None:
                state.open_calls.discard(call_id)
                call["ended_at"] = timestamp
            return call

    @hookimpl
    def codetracer_llm_call_started(
        self,
        run_id: str,
        step_key: str,
        call_id: str,
        model: str | None,
        input_messages: int | None,
        timestamp: float | None,
    ) -> None:
        call = {
            "id": call_id,
            "kind": "llm",
            "name": model or "llm",
            "started_at": timestamp,
            "input_messages": input_messages,
        }
        self._add_call(run_id, step_key, call)

    @hookimpl
    def codetracer_llm_call_finished(
        self,
        run_id: str,
        call_id: str,
        response: str | None,
        input_tokens: int | None,
        output_tokens: int | None,
        cost: float | None,
        timestamp: float | None,
    ) -> None:
        call = self._finish_call(run_id, call_id, timestamp)
        if call is None:
            return
        call["response"] = self._text(response) if response is not None else None
        call["input_tokens"] = input_tokens
        call["output_tokens"] = output_tokens
        call["cost"] = cost

    @hookimpl
    def codetracer_tool_call_started(
        self,
        run_id: str,
        step_key: str,
        call_id: str,
        tool: str,
        arguments: Mapping[str, Any],
        command: str | None,
        edits: Sequence[Mapping[str, Any]],
        raw_ref: str | None,
        timestamp: float | None,
    ) -> None:
        action = {
            "tool": tool,
            "arguments": dict(arguments),
            "command": command,
            "edits": [dict(edit) for edit in edits] if edits else [],
        }
        call = {
            "id": call_id,
            "kind": "tool",
            "name": tool,
            "started_at": timestamp,
            "action": action,
            "raw_ref": raw_ref,
        }
        self._add_call(run_id, step_key, call)

    @hookimpl
    def codetracer_tool_call_finished(
        self,
        run_id: str,
        call_id: str,
        output: str | None,
        exit_code: int | None,
        is_error: bool,
        timestamp: float | None,
    ) -> None:
        call = self._finish_call(run_id, call_id, timestamp)
        if call is None:
            return
        text = self._text(output) if output is not None else None
        call["observation"] = {"text": text, "exit_code": exit_code, "is_error": is_error}

    @hookimpl
    def codetracer_call_ended(self, run_id: str, call_id: str, ending: str, timestamp: float | None) -> None:
        """A call that never returned: it stays incomplete, with the word for why (``core/endings.py``)."""
        call = self._finish_call(run_id, call_id, timestamp)
        if call is None:
            return
        call["complete"] = False
        call["ending"] = ending

    # -- content ------------------------------------------------------------------------------------------------------

    @hookimpl
    def codetracer_observation(
        self,
        run_id: str,
        step_key: str,
        text: str,
        exit_code: int | None,
        is_error: bool,
        raw_ref: str | None,
        timestamp: float | None,
    ) -> None:
        observation = {"text": self._text(text), "exit_code": exit_code, "is_error": is_error}
        with self._lock:
            state = self._state(run_id, timestamp)
            step = self._step(state, step_key, timestamp)
            assert step is not None
            step["observations"].append(observation)

    @hookimpl
    def codetracer_message(
        self,
        run_id: str,
        step_key: str | None,
        role: str,
        content: str,
        name: str | None,
        raw_ref: str | None,
        timestamp: float | None,
    ) -> None:
        message = {
            "role": role,
            "content": self._text(content),
            "name": name,
            "raw_ref": raw_ref,
            "timestamp": timestamp,
        }
        with self._lock:
            state = self._state(run_id, timestamp)
            step = self._step(state, step_key, timestamp)
            (step["messages"] if step is not None else state.run["messages"]).append(message)

    # -- framework records --------------------------------------------------------------------------------------------

    @hookimpl
    def codetracer_record(self, run_id: str, mapper: str, payload: Any, timestamp: float | None) -> None:
        """Feed the record to the run's mapper (made on first use), which emits its events back into this builder.

        A mapper that does not load or raises is recorded as an error of the run; the rest of the tree is kept.
        """
        failure = None
        with self._lock:
            mappers = self._state(run_id, timestamp).mappers
            if mapper not in mappers:
                try:
                    mappers[mapper] = load_mapper(mapper)(self._events, run_id)
                except MapperError as exc:  # its records are skipped; the error is recorded once, below
                    mappers[mapper], failure = None, str(exc)
            target = mappers[mapper]
        if failure is not None:
            self.codetracer_error(run_id, None, failure, "codetracer.record", timestamp)
        if target is None:
            return
        try:
            target.feed(payload, timestamp)
        except Exception as exc:  # noqa: BLE001 - one bad record must not lose the run
            self.codetracer_error(
                run_id, None, f"record mapper {mapper} failed: {type(exc).__name__}: {exc}", "codetracer.record",
                timestamp,
            )

    def _close_mappers(self, run_id: str) -> None:
        """Let the run's mappers emit what they hold back (the last step's end) before the run closes."""
        with self._lock:
            state = self._runs.get(run_id)
            mappers = list(state.mappers.items()) if state is not None else []
            if state is not None:
                state.mappers = {}
        for name, mapper in mappers:
            if mapper is None:
                continue
            try:
                mapper.close()
            except Exception as exc:  # noqa: BLE001 - one bad mapper must not lose the run
                self.codetracer_error(
                    run_id, None, f"record mapper {name} failed to close: {type(exc).__name__}: {exc}",
                    "codetracer.record", None,
                )

    @functools.cached_property
    def _events(self) -> Events:
        """Events that go straight into this builder (what record mappers emit)."""
        from codetracer.core.events import DirectRelay, Events

        return Events(DirectRelay(self))

    @hookimpl
    def codetracer_verification(
        self,
        run_id: str,
        verifier: str,
        passed: bool | None,
        command: str | None,
        exit_code: int | None,
        output: str | None,
        failed_tests: Sequence[str],
        passed_tests: Sequence[str],
        timestamp: float | None,
    ) -> None:
        node = {
            "verifier": verifier,
            "passed": passed,
            "command": command,
            "exit_code": exit_code,
            "output": self._text(output) if output else None,
            "failed_tests": [str(t) for t in failed_tests or ()],
            "passed_tests": [str(t) for t in passed_tests or ()],
            "timestamp": timestamp,
        }
        with self._lock:
            self._state(run_id, timestamp).run["verification"] = node

    @hookimpl
    def codetracer_error(
        self, run_id: str, step_key: str | None, error: str, kind: str | None, timestamp: float | None
    ) -> None:
        event = {"error": error, "kind": kind, "timestamp": timestamp}
        with self._lock:
            state = self._state(run_id, timestamp)
            step = self._step(state, step_key, timestamp)
            (step["errors"] if step is not None else state.run["errors"]).append(event)

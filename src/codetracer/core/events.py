"""A friendly front for the trace-event hooks, with defaults, used by adapters and extractors.

pluggy requires every hook argument on every call; adapters should only say what they know. ``Events`` fills in the
rest and is the only way adapters talk to the tree: they never build nodes themselves.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

_EMPTY: Mapping[str, Any] = {}


class Events:
    """Emits trace events into a plugin manager's hooks (``pm.hook``)."""

    __slots__ = ("_h",)

    def __init__(self, hook: Any) -> None:
        self._h = hook

    def run_started(
        self,
        run_id: str,
        framework: str,
        *,
        task: str | None = None,
        metadata: Mapping[str, Any] = _EMPTY,
        parent_run_id: str | None = None,
        timestamp: float | None = None,
    ) -> None:
        self._h.codetracer_run_started(
            run_id=run_id,
            framework=framework,
            task=task,
            metadata=metadata,
            parent_run_id=parent_run_id,
            timestamp=timestamp,
        )

    def run_finished(
        self,
        run_id: str,
        outcome: str = "unknown",
        *,
        exit_status: str | None = None,
        metadata: Mapping[str, Any] = _EMPTY,
        timestamp: float | None = None,
    ) -> None:
        self._h.codetracer_run_finished(
            run_id=run_id, outcome=outcome, exit_status=exit_status, metadata=metadata, timestamp=timestamp
        )

    def stage_declared(self, run_id: str, kind: str, start_step: int, end_step: int, *, source: str = "human") -> None:
        self._h.codetracer_stage_declared(
            run_id=run_id, kind=kind, start_step=start_step, end_step=end_step, source=source
        )

    def step_started(
        self,
        run_id: str,
        step_key: str,
        *,
        agent: str | None = None,
        thought: str | None = None,
        raw_ref: str | None = None,
        timestamp: float | None = None,
    ) -> None:
        self._h.codetracer_step_started(
            run_id=run_id, step_key=step_key, agent=agent, thought=thought, raw_ref=raw_ref, timestamp=timestamp
        )

    def step_finished(self, run_id: str, step_key: str, *, timestamp: float | None = None) -> None:
        self._h.codetracer_step_finished(run_id=run_id, step_key=step_key, timestamp=timestamp)

    def llm_call_started(
        self,
        run_id: str,
        step_key: str,
        call_id: str,
        *,
        model: str | None = None,
        input_messages: int | None = None,
        timestamp: float | None = None,
    ) -> None:
        self._h.codetracer_llm_call_started(
            run_id=run_id,
            step_key=step_key,
            call_id=call_id,
            model=model,
            input_messages=input_messages,
            timestamp=timestamp,
        )

    def llm_call_finished(
        self,
        run_id: str,
        call_id: str,
        *,
        response: str | None = None,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
        cost: float | None = None,
        timestamp: float | None = None,
    ) -> None:
        self._h.codetracer_llm_call_finished(
            run_id=run_id,
            call_id=call_id,
            response=response,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cost=cost,
            timestamp=timestamp,
        )

    def tool_call_started(
        self,
        run_id: str,
        step_key: str,
        call_id: str,
        tool: str,
        *,
        arguments: Mapping[str, Any] = _EMPTY,
        command: str | None = None,
        edits: Sequence[Mapping[str, Any]] = (),
        raw_ref: str | None = None,
        timestamp: float | None = None,
    ) -> None:
        self._h.codetracer_tool_call_started(
            run_id=run_id,
            step_key=step_key,
            call_id=call_id,
            tool=tool,
            arguments=arguments,
            command=command,
            edits=edits,
            raw_ref=raw_ref,
            timestamp=timestamp,
        )

    def tool_call_finished(
        self,
        run_id: str,
        call_id: str,
        *,
        output: str | None = None,
        exit_code: int | None = None,
        is_error: bool = False,
        timestamp: float | None = None,
    ) -> None:
        self._h.codetracer_tool_call_finished(
            run_id=run_id, call_id=call_id, output=output, exit_code=exit_code, is_error=is_error, timestamp=timestamp
        )

    def observation(
        self,
        run_id: str,
        step_key: str,
        text: str,
        *,
        exit_code: int | None = None,
        is_error: bool = False,
        raw_ref: str | None = None,
        timestamp: float | None = None,
    ) -> None:
        self._h.codetracer_observation(
            run_id=run_id,
            step_key=step_key,
            text=text,
            exit_code=exit_code,
            is_error=is_error,
            raw_ref=raw_ref,
            timestamp=timestamp,
        )

    def message(
        self,
        run_id: str,
        role: str,
        content: str,
        *,
        step_key: str | None = None,
        name: str | None = None,
        raw_ref: str | None = None,
        timestamp: float | None = None,
    ) -> None:
        self._h.codetracer_message(
            run_id=run_id,
            step_key=step_key,
            role=role,
            content=content,
            name=name,
            raw_ref=raw_ref,
            timestamp=timestamp,
        )

    def error(
        self,
        run_id: str,
        error: str,
        *,
        step_key: str | None = None,
        kind: str | None = None,
        timestamp: float | None = None,
    ) -> None:
        self._h.codetracer_error(run_id=run_id, step_key=step_key, error=error, kind=kind, timestamp=timestamp)

"""A friendly front for the trace-event hooks, with defaults, used by adapters and extractors.

pluggy requires every hook argument on every call; adapters should only say what they know. ``Events`` fills in the
rest and is the only way adapters talk to the tree: they never build nodes themselves.

``Events`` passes the hook arguments positionally, in the order of the hook specs (:mod:`codetracer.hooks.specs`):
on the live path a keyword call costs a dict per call and per plugin, a third of an event's dispatch. Hooks that
take only keywords (pluggy's ``pm.hook``) are reached through :class:`_Keywords`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

_EMPTY: Mapping[str, Any] = {}

Recorder = Callable[[Any, "float | None"], None]
"""Records one framework record of a given run and mapper: ``record(payload, timestamp)`` (:meth:`Events.recorder`)."""


class _Keywords:
    """Calls a keyword-only hook relay (pluggy's ``pm.hook``) with positional arguments in the spec's order."""

    def __init__(self, hook: Any) -> None:
        self._hook = hook

    def __getattr__(self, name: str) -> Callable[..., None]:
        caller = getattr(self._hook, name)
        names = tuple(caller.spec.argnames)

        def call(*args: Any) -> None:
            caller(**dict(zip(names, args, strict=True)))

        self.__dict__[name] = call
        return call


class Events:
    """Emits trace events into a plugin manager's hooks.

    :param hook: ``pm.hook``, or a relay that takes the arguments positionally in the spec order and says so with a
        true ``positional`` attribute (:class:`~codetracer.hooks.manager.HookRelay`,
        :class:`DirectRelay`).
    """

    __slots__ = ("_h",)

    def __init__(self, hook: Any) -> None:
        self._h: Any
        if isinstance(hook, DirectRelay):  # the one plugin's methods themselves: no lookup through the relay per call
            self._h = hook.plugin
        else:
            self._h = hook if getattr(hook, "positional", False) is True else _Keywords(hook)

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
        self._h.codetracer_run_started(run_id, framework, task, metadata, parent_run_id, timestamp)

    def run_finished(
        self,
        run_id: str,
        outcome: str = "unknown",
        *,
        exit_status: str | None = None,
        metadata: Mapping[str, Any] = _EMPTY,
        timestamp: float | None = None,
    ) -> None:
        self._h.codetracer_run_finished(run_id, outcome, exit_status, metadata, timestamp)

    def stage_declared(self, run_id: str, kind: str, start_step: int, end_step: int, *, source: str = "human") -> None:
        self._h.codetracer_stage_declared(run_id, kind, start_step, end_step, source)

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
        self._h.codetracer_step_started(run_id, step_key, agent, thought, raw_ref, timestamp)

    def step_finished(self, run_id: str, step_key: str, *, timestamp: float | None = None) -> None:
        self._h.codetracer_step_finished(run_id, step_key, timestamp)

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
        self._h.codetracer_llm_call_started(run_id, step_key, call_id, model, input_messages, timestamp)

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
        self._h.codetracer_llm_call_finished(run_id, call_id, response, input_tokens, output_tokens, cost, timestamp)

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
            run_id, step_key, call_id, tool, arguments, command, edits, raw_ref, timestamp
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
        self._h.codetracer_tool_call_finished(run_id, call_id, output, exit_code, is_error, timestamp)

    def call_ended(self, run_id: str, call_id: str, ending: str, *, timestamp: float | None = None) -> None:
        """A call that did not return: ``"cancelled"`` or ``"interrupted"`` (:mod:`codetracer.core.endings`)."""
        self._h.codetracer_call_ended(run_id, call_id, ending, timestamp)

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
        self._h.codetracer_observation(run_id, step_key, text, exit_code, is_error, raw_ref, timestamp)

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
        self._h.codetracer_message(run_id, step_key, role, content, name, raw_ref, timestamp)

    def error(
        self,
        run_id: str,
        error: str,
        *,
        step_key: str | None = None,
        kind: str | None = None,
        timestamp: float | None = None,
    ) -> None:
        self._h.codetracer_error(run_id, step_key, error, kind, timestamp)

    def verification(
        self,
        run_id: str,
        verifier: str,
        *,
        passed: bool | None,
        command: str | None = None,
        exit_code: int | None = None,
        output: str | None = None,
        failed_tests: Sequence[str] = (),
        passed_tests: Sequence[str] = (),
        timestamp: float | None = None,
    ) -> None:
        """What judged the run (tests, a verifier): its verdict, output and failing tests."""
        self._h.codetracer_verification(
            run_id, verifier, passed, command, exit_code, output, failed_tests, passed_tests, timestamp
        )

    def record(self, run_id: str, mapper: str, payload: Any, *, timestamp: float | None = None) -> None:
        """A framework's own record, mapped onto the events above later by ``mapper`` (a registered name)."""
        self._h.codetracer_record(run_id, mapper, payload, timestamp)

    def recorder(self, run_id: str, mapper: str) -> Recorder:
        """``record`` for one started run and mapper, as a function of ``(payload, timestamp=None)``: the cheapest
        way to record a run's many records (a LangGraph update, a mini-swe-agent message, an OpenHands event).

        With no third-party plugin implementing ``codetracer_record``, the function writes straight into the run's
        kept events and journal (:meth:`~codetracer.hooks.manager.HookRelay.recorder`); otherwise it calls the hook.
        Either way every plugin gets what :meth:`record` would give it.
        """
        direct = getattr(self._h, "recorder", None)
        found = direct(run_id, mapper) if direct is not None else None
        if found is not None:
            return found
        hook = self._h

        def record(payload: Any, timestamp: float | None = None) -> None:
            hook.codetracer_record(run_id, mapper, payload, timestamp)

        return record


class DirectRelay:
    """Forwards hook calls straight to one plugin's implementations.

    Offline parsing has exactly one consumer, the tree builder, so it skips pluggy's dispatch (several µs per call,
    half the parse time of a corpus) while running the very same builder code a live trace runs.
    """

    __slots__ = ("_plugin",)
    positional = True
    """The builder's hook implementations take their arguments in the spec's order, so
    :class:`~codetracer.core.events.Events` passes them positionally."""

    def __init__(self, plugin: object) -> None:
        self._plugin = plugin

    @property
    def plugin(self) -> object:
        """The plugin the hook calls go to; :class:`Events` calls it directly."""
        return self._plugin

    def __getattr__(self, name: str) -> Any:
        return getattr(self._plugin, name)

"""The SWE-agent agent hook: one agent's hook calls become codetracer runs, steps and calls (see
:mod:`codetracer.adapters.swe_agent.live` for the mapping). Imports no SWE-agent: duck typing is all
``agent.add_hook`` needs.
"""

from __future__ import annotations

import functools
import logging
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from codetracer.adapters.swe_agent.artifacts import _RunReader, _Source
from codetracer.adapters.swe_agent.fields import (
    FAILED_EXITS,
    FRAMEWORK,
    SWE_COMMANDS,
    _function_call,
    _open_file_from_state,
    message_text,
    observation_failed,
)
from codetracer.core import checks, ids
from codetracer.core.checks import Check

if TYPE_CHECKING:  # pragma: no cover
    from codetracer.core.events import Events
    from codetracer.core.tracer import Tracer

log = logging.getLogger("codetracer.adapters.swe_agent")

SUBMISSION_MARKER = "<<SWE_AGENT_SUBMISSION>>"
"""What SWE-agent's ``submit`` tool prints around the patch; the agent replaces that output with the patch itself
(empty when the patch is) before the step is recorded, so a call showing it is finished from ``on_step_done``."""

_RETRY_TOKENS = ("###SWE-AGENT-RETRY-WITH-OUTPUT###", "###SWE-AGENT-RETRY-WITHOUT-OUTPUT###")
"""Control tokens SWE-agent strips from an observation before it records it."""

_F = TypeVar("_F", bound=Callable[..., Any])
_reported: set[str] = set()

Verifier = Callable[[Any], Any]
"""``verify(result)``: ``result`` is what ``agent.run`` returns (an ``AgentRunResult``: ``info``, ``trajectory``)."""


def _guarded(method: _F) -> _F:
    """Run a callback body so that nothing it raises reaches the agent; the first failure per callback is logged."""

    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        try:
            method(*args, **kwargs)
        except Exception:  # tracing must never break the agent
            name = method.__qualname__
            if name not in _reported:
                _reported.add(name)
                log.exception("codetracer: %s failed; the agent goes on, later failures there are not logged", name)

    return wrapper  # type: ignore[return-value]


def _get(obj: Any, name: str, default: Any = None) -> Any:
    """A field of a StepOutput / trajectory entry / info, whether it is an object or a dict."""
    if isinstance(obj, Mapping):
        return obj.get(name, default)
    return getattr(obj, name, default)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def outcome_of(info: Any, exit_status: str | None) -> str:
    """Solved/failed only when the run says so: a verdict in ``info``, or an exit that produced no patch."""
    resolved = _get(info, "resolved")
    if isinstance(resolved, bool):
        return "solved" if resolved else "failed"
    submission = _get(info, "submission")
    submitted = isinstance(submission, str) and bool(submission.strip())
    if not submitted and exit_status in FAILED_EXITS:
        return "failed"
    return "unknown"


def _end_metadata(info: Any) -> dict[str, Any]:
    """What the extractor keeps of ``info`` at the end of a run: submission, model stats, cost, review."""
    end: dict[str, Any] = {}
    submission = _get(info, "submission")
    if isinstance(submission, str) and submission.strip():
        end["submission"] = submission
    stats = _get(info, "model_stats")
    if hasattr(stats, "model_dump"):
        stats = stats.model_dump()
    if isinstance(stats, Mapping):
        end["model_stats"] = {k: v for k, v in stats.items() if isinstance(v, (int, float))}
        if isinstance(stats.get("instance_cost"), (int, float)):
            end["cost"] = stats["instance_cost"]
    review = _get(info, "review")
    if isinstance(review, Mapping):
        end["review"] = dict(review)
    return end


def _run_result(info: Any, trajectory: Any) -> Any:
    """What ``agent.run`` is about to return: SWE-agent's own ``AgentRunResult`` when its module is loaded (it is,
    in the agent's process), else a dict of the same two fields."""
    trajectory = list(trajectory) if isinstance(trajectory, list) else []
    types = sys.modules.get("sweagent.types")
    result_type = getattr(types, "AgentRunResult", None)
    if result_type is not None:
        try:
            return result_type(info=dict(info) if isinstance(info, Mapping) else info, trajectory=trajectory)
        except Exception:  # noqa: BLE001 - an odd info shape: the plain fields still serve the verifier
            pass
    return {"info": info, "trajectory": trajectory}


class SweAgentHook:
    """An ``AbstractAgentHook`` for ``agent.add_hook(...)`` that traces the agent's runs into codetracer.

    :param tracer: where the events go (default: the process-wide tracer).
    :param metadata: extra facts stored on every run of this hook (e.g. ``{"experiment": "baseline"}``).
    :param instance_id: the task's id when the problem statement is not visible to the hook.
    :param verify: called with the run's result (an ``AgentRunResult`` of ``info`` and ``trajectory``, as
        ``agent.run`` returns it) when the agent is done; ``True``/``False`` make the run solved/failed, ``None``
        leaves the agent's own outcome (a submission alone is ``unknown``). It runs on the agent's thread, before the
        run is closed, so the stored tree carries the verdict.
    """

    def __init__(
        self,
        tracer: Tracer | None = None,
        *,
        metadata: Mapping[str, Any] | None = None,
        instance_id: str | None = None,
        verify: Verifier | None = None,
    ) -> None:
        if tracer is None:
            from codetracer import get_tracer

            tracer = get_tracer()
        self.tracer = tracer
        self.ev: Events = tracer.events
        self.metadata = dict(metadata or {})
        self.instance_id = instance_id
        self.verify = verify
        self.run_ids: list[str] = []
        """Every run this hook started, in order (attempts of a RetryAgent are separate runs)."""
        self._agent: Any = None
        self._attempt = -1
        self._first_run: str | None = None
        self._run_id: str | None = None
        self._started = False
        self._open = False
        self._run_done = True
        self._system: tuple[str, int | None] | None = None
        self._task: tuple[str, int | None] | None = None
        self._seen_assistant = False
        self.retry_of: str | None = None
        """Set by reflective replay (:mod:`codetracer.adapters.swe_agent.replay`): the next run's parent."""
        self._resumed: list[tuple[str, int | None]] | None = None
        """Messages added to the history of a resumed run before its first step (the correction of a retry)."""
        self._reset_step_state()

    def _reset_step_state(self) -> None:
        self._n_steps = 0
        self._accounted = 0  # trajectory entries already turned into steps
        self._step_ts: float | None = None
        self._query_ts: float | None = None
        self._n_in: int | None = None
        self._live_key: str | None = None
        self._live_step: Any = None
        self._live_action = ""
        self._live_output = ""
        self._open_call: str | None = None
        self._held_output: str | None = None
        self._reader: _RunReader | None = None

    # -- run lifecycle ------------------------------------------------------------------------------------------------

    def _begin_attempt(self) -> None:
        """A new attempt (a fresh run): RetryAgent's later attempts hang under its first one."""
        if self._open:  # the previous attempt never reported its end: close it rather than lose it
            self._finish(None, exit_status=None, note="a new attempt began before this one reported its end")
        retry = not self._run_done and self._first_run is not None
        self._attempt = self._attempt + 1 if retry else 0
        if not retry:
            self._first_run = None
        self._run_id = None
        self._started = False
        self._run_done = False
        self._system = None
        self._task = None
        self._seen_assistant = False
        self._reset_step_state()
        trajectory = _get(self._agent, "trajectory")
        if isinstance(trajectory, list):  # an agent run again keeps its old entries: count from here
            self._accounted = len(trajectory)

    def resume(self, parent_run_id: str | None) -> None:
        """The agent goes on from its current history (a retry of reflective replay): its next steps are a new run,
        a child of ``parent_run_id``, with the system prompt and task of the history it continues, and the user
        messages added to that history from now on (the correction) as the run's messages."""
        system, task = self._system, self._task
        if self._open:
            self._finish(None, exit_status=None, note="the agent was resumed before this run reported its end")
        self._run_done = True  # a fresh sequence: the resumed run hangs under ``parent_run_id``, not a RetryAgent's
        self._begin_attempt()
        self._system, self._task = system, task
        self.retry_of = parent_run_id
        self._resumed = []

    def _ensure_run(self) -> str:
        """Announce the run once its task is known (or once a step needs it)."""
        if self._started and self._run_id is not None:
            return self._run_id
        if self._attempt < 0:
            self._begin_attempt()
        instance = self.instance_id or self._instance_id()
        stem = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in (instance or "run"))[:60]
        run_id = f"{FRAMEWORK}:{stem}:{ids.hex_id(12)}"
        parent = self._first_run if self._attempt > 0 else self.retry_of
        self.retry_of = None
        meta: dict[str, Any] = {**self.metadata, "live": True}
        if instance:
            meta["instance_id"] = instance
        model = self._model_name()
        if model:
            meta["model"] = model
        if self._attempt > 0 or parent is not None:
            meta["attempt"] = self._attempt
        task = self._task[0] if self._task else self._problem_statement()
        self._run_id, self._started, self._open = run_id, True, True
        if self._first_run is None:
            self._first_run = run_id
        self.run_ids.append(run_id)
        self._reader = _RunReader(_Source(Path(f"<live {run_id}>")), self.ev, run_id, "")
        self.ev.run_started(run_id, FRAMEWORK, task=task, metadata=meta, parent_run_id=parent, timestamp=time.time())
        told = [("system", self._system), ("user", self._task), *(("user", m) for m in self._resumed or ())]
        self._resumed = None
        for role, found in told:
            if found is not None and found[0]:
                ref = None if found[1] is None else f"history[{found[1]}]"
                self.ev.message(run_id, role, found[0], raw_ref=ref)
        return run_id

    def _finish(self, info: Any, *, exit_status: str | None, note: str | None = None) -> None:
        if not self._open or self._run_id is None:
            return
        self._close_live_step()
        run_id, now = self._run_id, time.time()
        end = _end_metadata(info) if info is not None else {}
        if note:
            self.ev.error(run_id, note, kind="Incomplete", timestamp=now)
            end["incomplete"] = True
        outcome = outcome_of(info, exit_status) if info is not None else "failed"
        if info is not None and self.verify is not None:
            check = self._verdict(info)
            if check is not None:
                check.emit(self.ev, run_id, time.time())
                if check.passed is not None:
                    outcome = "solved" if check.passed else "failed"
                    end["resolved"] = check.passed
                if check.error is not None:
                    end["verifier_error"] = check.error
        self._open = False
        self.ev.run_finished(run_id, outcome, exit_status=exit_status, metadata=end, timestamp=now)

    def _verdict(self, info: Any) -> Check | None:
        """What the ``verify`` callback said (its command and output when it returns them, see
        :mod:`codetracer.core.checks`); a verifier that raises is a verifier error and leaves the outcome to the
        agent. Never raises."""
        assert self.verify is not None
        return checks.call(self.verify, _run_result(info, _get(self._agent, "trajectory")))

    def _instance_id(self) -> str | None:
        ident = _get(_get(self._agent, "_problem_statement"), "id")
        return ident if isinstance(ident, str) and ident else None

    def _problem_statement(self) -> str | None:
        statement = _get(self._agent, "_problem_statement")
        getter = getattr(statement, "get_problem_statement", None)
        if callable(getter):
            text = getter()
            return text if isinstance(text, str) and text else None
        return None

    def _model_name(self) -> str | None:
        model = _get(self._agent, "model")
        name = _get(_get(model, "config"), "name")
        return name if isinstance(name, str) else None

    # -- steps --------------------------------------------------------------------------------------------------------

    def _start_step(self, thought: Any, output: Any, query_len: int | None, ts: float | None) -> str:
        """step_started plus the LLM call that produced the step's answer."""
        run_id = self._ensure_run()
        self._n_steps += 1
        key = str(self._n_steps)
        ref = f"trajectory[{self._accounted}]"
        now = time.time()
        self.ev.step_started(run_id, key, thought=_text(thought) or None, raw_ref=ref, timestamp=ts or now)
        if isinstance(output, str):
            llm_id = f"{key}/llm"
            self.ev.llm_call_started(
                run_id, key, llm_id, model=self._model_name(), input_messages=query_len, timestamp=self._query_ts or ts
            )
            self.ev.llm_call_finished(run_id, llm_id, response=output, timestamp=now)
        return key

    def _start_action(self, key: str, action: str, tool_calls: Any) -> str | None:
        """The tool call of a step, named and with edits as the extractor names them."""
        if not action.strip():
            return None
        assert self._run_id is not None and self._reader is not None
        fc_name, arguments, fc_id = _function_call(tool_calls)
        first = action.split(None, 1)[0]
        tool = fc_name or (first if first in SWE_COMMANDS else "bash")
        edits = self._reader._edits(tool, action, arguments)
        call_id = f"{key}/{fc_id or 'tool'}"
        self.ev.tool_call_started(
            self._run_id, key, call_id, tool, arguments=arguments, command=action, edits=edits,
            raw_ref=f"trajectory[{self._accounted}]", timestamp=time.time(),
        )
        return call_id

    def _finish_call(self, output: str | None, *, is_error: bool | None = None) -> None:
        if self._open_call is None or self._run_id is None:
            return
        failed = observation_failed(output) if is_error is None else is_error
        self.ev.tool_call_finished(self._run_id, self._open_call, output=output, is_error=failed, timestamp=time.time())
        self._open_call = None
        self._held_output = None
        if self._reader is not None:
            self._reader.prev_observation = output

    def _close_live_step(self, observation: str | None = None, *, is_error: bool | None = None) -> None:
        """Close the step opened by ``on_actions_generated`` (its call with ``observation`` if still open)."""
        if self._live_key is None or self._run_id is None:
            return
        if self._open_call is not None:
            output = observation if observation is not None else self._held_output
            if output is None:
                output = _text(_get(self._live_step, "observation"))
            self._finish_call(output, is_error=is_error)
        self.ev.step_finished(self._run_id, self._live_key, timestamp=time.time())
        self._live_key = None
        self._live_step = None

    def _emit_recorded(self, entry: Any) -> None:
        """A whole step at once, from a trajectory entry or a StepOutput no earlier hook call announced."""
        output = _get(entry, "response")
        if output is None:
            output = _get(entry, "output")
        query = _get(entry, "query")
        key = self._start_step(_get(entry, "thought"), output, len(query) if isinstance(query, list) else None,
                               time.time())
        self._note_state(_get(entry, "state"))
        action = _text(_get(entry, "action"))
        observation = _get(entry, "observation")
        observation = observation if isinstance(observation, str) else None
        self._open_call = self._start_action(key, action, _get(entry, "tool_calls"))
        assert self._run_id is not None
        if self._open_call is not None:
            self._finish_call(observation)
        elif observation:
            self.ev.observation(self._run_id, key, observation, raw_ref=f"trajectory[{self._accounted}]",
                                timestamp=time.time())
            if self._reader is not None:
                self._reader.prev_observation = observation
        self.ev.step_finished(self._run_id, key, timestamp=time.time())
        self._accounted += 1

    def _catch_up(self, upto_end: int = 0) -> None:
        """Steps the agent recorded without any hook call for them (answers that failed to parse and were re-queried):
        read them from the agent's own trajectory, which is what the ``.traj`` file will hold."""
        trajectory = _get(self._agent, "trajectory")
        if not isinstance(trajectory, list):
            return
        end = len(trajectory) - upto_end
        while self._accounted < end:
            self._emit_recorded(trajectory[self._accounted])

    def _note_state(self, state: Any) -> None:
        open_file = _open_file_from_state(state)
        if open_file and self._reader is not None:
            self._reader.last_open = open_file

    # -- AbstractAgentHook --------------------------------------------------------------------------------------------

    @_guarded
    def on_init(self, *, agent: Any = None, **_: Any) -> None:
        """The hook was added to an agent (RetryAgent adds it to the agent of every attempt)."""
        self._agent = agent

    @_guarded
    def on_tools_installation_started(self, **_: Any) -> None:
        """Nothing to record: the run begins with the attempt that follows."""

    @_guarded
    def on_setup_attempt(self, **_: Any) -> None:
        self._begin_attempt()

    @_guarded
    def on_query_message_added(
        self,
        *,
        agent: Any = None,
        role: str = "",
        content: Any = "",
        message_type: str = "",
        is_demo: bool = False,
        **_: Any,
    ) -> None:
        """Before the first step: the system prompt and the task (the first user message that is no demonstration).
        Later messages repeat what the step hooks already told (a resumed run keeps the user messages added before its
        first step: the correction)."""
        text = message_text(content)
        history = _get(self._agent, "history")
        index = len(history) if isinstance(history, list) else None  # the hook is called before the append
        if self._resumed is not None and not self._started:
            if role == "user" and text:
                self._resumed.append((text, index))
            return
        if self._started or self._seen_assistant:
            return
        if role == "system" and self._system is None and text is not None:
            self._system = (text, index) if text else None
        elif role == "user" and not is_demo and self._task is None and text is not None:
            self._task = (text, index) if text else None
            if self._task is None:
                self._seen_assistant = True  # an empty task message still ends the search, as in the extractor
        elif role in ("assistant", "tool"):
            self._seen_assistant = True

    @_guarded
    def on_setup_done(self, **_: Any) -> None:
        if self._attempt >= 0 and not self._started:
            self._ensure_run()

    @_guarded
    def on_run_start(self, **_: Any) -> None:
        """DefaultAgent: after setup, the run can be announced. RetryAgent calls it before its first attempt."""
        if self._attempt >= 0 and not self._run_done and not self._started:
            self._ensure_run()

    @_guarded
    def on_step_start(self, **_: Any) -> None:
        if self._run_done:  # a step without any setup we saw (hook added late): a fresh run
            self._begin_attempt()
        self._ensure_run()
        self._close_live_step()
        self._step_ts = time.time()
        self._query_ts = None

    @_guarded
    def on_model_query(self, *, messages: Any = None, agent: Any = None, **_: Any) -> None:
        """A (re-)query. A re-query inside one step means the previous answer was rejected: it is a step of its own
        in the trajectory, closed here, and answers that never reached ``on_actions_generated`` are caught up."""
        if self._live_key is not None:
            self._close_live_step()
            self._accounted += 1
        if self._started:
            self._catch_up()
        self._query_ts = time.time()
        self._n_in = len(messages) if isinstance(messages, list) else None

    @_guarded
    def on_actions_generated(self, *, step: Any = None, **_: Any) -> None:
        if self._live_key is not None:  # two answers without a query between: close the first
            self._close_live_step()
            self._accounted += 1
        query = _get(step, "query")
        n_in = len(query) if isinstance(query, list) and query else self._n_in
        ts = self._step_ts or self._query_ts
        self._step_ts = None  # a re-queried answer starts its step at its own query
        output = _get(step, "output")
        key = self._start_step(_get(step, "thought"), output if isinstance(output, str) else "", n_in, ts)
        self._live_key, self._live_step = key, step
        self._live_action, self._live_output = _text(_get(step, "action")), _text(output)
        self._open_call = self._start_action(key, self._live_action, _get(step, "tool_calls"))

    @_guarded
    def on_action_started(self, **_: Any) -> None:
        """The tool call is already open since ``on_actions_generated`` (``exit`` never gets here)."""

    @_guarded
    def on_action_executed(self, *, step: Any = None, **_: Any) -> None:
        observation = _get(step, "observation")
        if not isinstance(observation, str):
            return
        for token in _RETRY_TOKENS:
            observation = observation.replace(token, "")
        if SUBMISSION_MARKER in observation:
            self._held_output = observation  # the agent swaps in the patch before it records the step
            return
        self._finish_call(observation)

    @_guarded
    def on_step_done(self, *, step: Any = None, info: Any = None, **_: Any) -> None:
        self._ensure_run()
        action, output = _text(_get(step, "action")), _text(_get(step, "output"))
        observation = _get(step, "observation")
        observation = observation if isinstance(observation, str) else None
        if self._live_key is not None and (action, output) == (self._live_action, self._live_output):
            self._note_state(_get(step, "state"))
            self._close_live_step(observation)
            self._accounted += 1
        else:
            if self._live_key is not None:  # its command broke the step; the agent recorded a substitute step
                assert self._run_id is not None
                self.ev.error(self._run_id, _text(_get(step, "thought")) or "the step failed",
                              step_key=self._live_key, kind=_get(step, "exit_status") or "StepError",
                              timestamp=time.time())
                self._close_live_step(is_error=True)
            self._catch_up(upto_end=1)
            self._emit_recorded(step)
        if _get(step, "done"):
            status = _get(step, "exit_status")
            if not isinstance(status, str):
                status = _get(info, "exit_status")
            self._finish(info, exit_status=status if isinstance(status, str) else None)

    @_guarded
    def on_run_done(self, *, trajectory: Any = None, info: Any = None, **_: Any) -> None:
        """The agent's run is over: close what is still open (a run whose last step never said ``done``)."""
        if self._open:
            status = _get(info, "exit_status")
            self._finish(info, exit_status=status if isinstance(status, str) else None)
        self._run_done = True

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
from typing import TYPE_CHECKING, Any, TypeVar

from codetracer.adapters.swe_agent.fields import FAILED_EXITS, FRAMEWORK, _open_file_from_state, message_text
from codetracer.adapters.swe_agent.steps import MAPPER
from codetracer.core import checks, ids
from codetracer.core.checks import Check

if TYPE_CHECKING:  # pragma: no cover
    from codetracer.core.events import Events
    from codetracer.core.tracer import Tracer

log = logging.getLogger("codetracer.adapters.swe_agent")

_F = TypeVar("_F", bound=Callable[..., Any])
_reported: set[str] = set()

Verifier = Callable[[Any], Any]
"""``verify(result)``: ``result`` is what ``agent.run`` returns (an ``AgentRunResult``: ``info``, ``trajectory``)."""


def _failed(name: str) -> None:
    """Log the exception being handled, the first time the callback ``name`` fails (the agent goes on)."""
    if name not in _reported:
        _reported.add(name)
        log.exception("codetracer: %s failed; the agent goes on, later failures there are not logged", name)


def _guarded(method: _F) -> _F:
    """Run a callback body so that nothing it raises reaches the agent; the first failure per callback is logged.

    The callbacks of every step guard themselves inline instead (``try``/``_failed``): a wrapper's extra frame
    and keyword packing cost more than their whole body on the agent's thread."""

    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        try:
            method(*args, **kwargs)
        except Exception:  # noqa: BLE001 - tracing must never break the agent (_failed logs it)
            _failed(method.__qualname__)

    return wrapper  # type: ignore[return-value]


def _get(obj: Any, name: str, default: Any = None) -> Any:
    """A field of a StepOutput / trajectory entry / info, whether it is an object or a dict."""
    if type(obj) is dict or isinstance(obj, Mapping):
        return obj.get(name, default)
    return getattr(obj, name, default)


def _fields(obj: Any) -> Mapping[str, Any]:
    """The fields of a StepOutput as one dict to read with ``.get``: its ``__dict__`` (pydantic and plain objects keep
    their fields there), the dict itself, or, for anything else, a mapping that reads through :func:`_get`. One
    attribute read instead of a call and an ``isinstance`` per field: on the agent's thread, cold after every
    command, each costs several µs."""
    if type(obj) is dict:
        return obj
    found = getattr(obj, "__dict__", None)
    if type(found) is dict and "action" in found:
        return found
    return _Fields(obj)


class _Fields(Mapping[str, Any]):
    """:func:`_get` over an object whose fields are not in its ``__dict__`` (slots, properties, odd mappings)."""

    def __init__(self, obj: Any) -> None:
        self._obj = obj

    def __getitem__(self, name: str) -> Any:
        return _get(self._obj, name)

    def get(self, name: str, default: Any = None) -> Any:
        return _get(self._obj, name, default)

    def __iter__(self) -> Any:
        return iter(())

    def __len__(self) -> int:
        return 0


def _entry(entry: Any) -> list[Any]:
    """What the mapper needs of a step recorded without the hook calls that announce one (a trajectory entry, or
    the substitute StepOutput of a broken step): :data:`~codetracer.adapters.swe_agent.steps.STEP_FIELDS`. The
    query the model saw is only counted (it is the whole history)."""
    query = _get(entry, "query")
    return [_get(entry, "response"), _get(entry, "output"), len(query) if isinstance(query, list) else None,
            _get(entry, "thought"), _get(entry, "action"), _get(entry, "observation"),
            _open_file_from_state(_get(entry, "state")), _get(entry, "tool_calls"), _get(entry, "exit_status")]


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
        self._record: Any = None  # the run's recorder (mapper "swe-agent"), once the run is announced
        self._pending: list[list[Any]] = []  # items of hook calls that close or open nothing, for the next record
        self._step_obj: Any = None  # the StepOutput on_actions_generated announced, until its step is closed
        self._live_action = ""
        self._live_output = ""
        self._traj_len = 0  # trajectory entries already handed to the mapper (or known not to be needed)

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
            self._traj_len = len(trajectory)

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
        now = time.time()
        self.ev.run_started(run_id, FRAMEWORK, task=task, metadata=meta, parent_run_id=parent, timestamp=now)
        told = [("system", self._system), ("user", self._task), *(("user", m) for m in self._resumed or ())]
        self._resumed = None
        for role, found in told:
            if found is not None and found[0]:
                ref = None if found[1] is None else f"history[{found[1]}]"
                self.ev.message(run_id, role, found[0], raw_ref=ref)
        self._record = self.ev.recorder(run_id, MAPPER)
        self._record([["init", self._traj_len, model]], now)
        return run_id

    def _finish(self, info: Any, *, exit_status: str | None, note: str | None = None) -> None:
        if not self._open or self._run_id is None:
            return
        run_id, now = self._run_id, time.time()
        self._flush(["e", now, note, self._live_observation()], now)  # the mapper closes the step and says why
        self._step_obj = None
        end = _end_metadata(info) if info is not None else {}
        if note:
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

    # -- what the mapper gets ----------------------------------------------------------------------------------------

    def _flush(self, item: list[Any], ts: float) -> None:
        """One record: the items waiting and ``item`` (:mod:`codetracer.adapters.swe_agent.steps` maps them)."""
        record = self._record
        if record is None:  # not announced yet (a query before any step): the items wait for the run
            self._pending.append(item)
            return
        if self._pending:
            payload, self._pending = [*self._pending, item], []
        else:
            payload = [item]
        record(payload, ts)

    def _live_observation(self) -> str | None:
        """The observation of the step on_actions_generated announced, as it stands now (what closes the step if
        nothing better arrives); ``None`` when no such step is open."""
        step = self._step_obj
        return None if step is None else _text(_get(step, "observation"))

    def _new_entries(self, upto: int) -> tuple[int, list[list[Any]]]:
        """Trajectory entries ``[handed over, upto)`` in the mapper's form; from now on all up to ``upto`` count as
        handed over."""
        first, self._traj_len = self._traj_len, max(self._traj_len, upto)
        if upto <= first:
            return first, []
        trajectory = _get(self._agent, "trajectory")
        return first, [_entry(e) for e in trajectory[first:upto]]

    def _trajectory_len(self) -> int | None:
        trajectory = _get(self._agent, "trajectory")
        return len(trajectory) if isinstance(trajectory, list) else None

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

    def on_query_message_added(self, **message: Any) -> None:
        """Before the first step: the system prompt and the task (the first user message that is no demonstration).
        Later messages repeat what the step hooks already told (a resumed run keeps the user messages added before its
        first step: the correction)."""
        if not self._started:  # once started, a message costs this one test
            self._message_before_start(**message)

    @_guarded
    def _message_before_start(
        self,
        *,
        agent: Any = None,
        role: str = "",
        content: Any = "",
        message_type: str = "",
        is_demo: bool = False,
        **_: Any,
    ) -> None:
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

    def on_step_start(self, **_: Any) -> None:
        try:
            if self._run_done:  # a step without any setup we saw (hook added late): a fresh run
                self._begin_attempt()
            if not self._started:
                self._ensure_run()
            step = self._step_obj
            self._pending.append(["s", time.time(), None if step is None else _text(_get(step, "observation"))])
            self._step_obj = None
        except Exception:  # noqa: BLE001 - tracing must never break the agent (_failed logs it)
            _failed("SweAgentHook.on_step_start")

    def on_model_query(self, *, messages: Any = None, agent: Any = None, **_: Any) -> None:
        """A (re-)query. A re-query inside one step means the previous answer was rejected: it is a step of its own
        in the trajectory (the mapper closes it), and answers that never reached ``on_actions_generated`` are caught
        up from the trajectory entries handed over here."""
        try:
            ts = time.time()
            end = self._trajectory_len() if self._started else None
            first, entries = self._new_entries(end) if end is not None else (0, [])
            n_in = len(messages) if isinstance(messages, list) else None
            self._pending.append(["q", ts, n_in, first, entries, end, self._live_observation()])
            self._step_obj = None
        except Exception:  # noqa: BLE001 - tracing must never break the agent (_failed logs it)
            _failed("SweAgentHook.on_model_query")

    def on_actions_generated(self, *, step: Any = None, **_: Any) -> None:
        try:
            if not self._started:
                self._ensure_run()
            ts = time.time()
            f = _fields(step)
            query = f.get("query")
            output = _text(f.get("output"))
            action = _text(f.get("action"))
            self._flush(["a", ts, _text(f.get("thought")), output, action, f.get("tool_calls"),
                         len(query) if isinstance(query, list) and query else None, self._live_observation()], ts)
            self._step_obj, self._live_action, self._live_output = step, action, output
        except Exception:  # noqa: BLE001 - tracing must never break the agent (_failed logs it)
            _failed("SweAgentHook.on_actions_generated")

    def on_action_started(self, **_: Any) -> None:
        """The tool call is already open since ``on_actions_generated`` (``exit`` never gets here)."""

    def on_action_executed(self, *, step: Any = None, **_: Any) -> None:
        try:
            observation = _fields(step).get("observation")
            if isinstance(observation, str) and self._record is not None:
                ts = time.time()
                self._flush(["x", ts, observation], ts)
        except Exception:  # noqa: BLE001 - tracing must never break the agent (_failed logs it)
            _failed("SweAgentHook.on_action_executed")

    def on_step_done(self, *, step: Any = None, info: Any = None, **_: Any) -> None:
        try:
            self._step_done(step, info)
        except Exception:  # noqa: BLE001 - tracing must never break the agent (_failed logs it)
            _failed("SweAgentHook.on_step_done")

    def _step_done(self, step: Any, info: Any) -> None:
        if not self._started:
            self._ensure_run()
        ts = time.time()
        f = _fields(step)
        action, output = _text(f.get("action")), _text(f.get("output"))
        matched = self._step_obj is not None and (action, output) == (self._live_action, self._live_output)
        if matched:
            observation = f.get("observation")
            fields: list[Any] = [observation if isinstance(observation, str) else None,
                                 _open_file_from_state(f.get("state"))]
        else:
            fields = _entry(step)
        trajectory = _get(self._agent, "trajectory")
        if isinstance(trajectory, list):
            end: int | None = len(trajectory)
            first, entries = self._new_entries(len(trajectory) - 1)
            self._traj_len = max(self._traj_len, len(trajectory))
        else:
            end, first, entries = None, 0, []
        self._flush(["d", ts, matched, fields, first, entries, end], ts)
        self._step_obj = None
        if f.get("done"):
            status = f.get("exit_status")
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

"""Live tracing of mini-swe-agent: ``codetracer.trace(agent)`` on a ``DefaultAgent`` (or any subclass).

mini-swe-agent has no callback system; its documented extension point is overriding the agent's methods, and every
message of a run -- the system prompt, the task, each model answer, each observation, format errors, interruptions
and the final ``exit`` message -- goes through ``agent.add_messages``. So the adapter wraps two methods *of this one
agent instance* (never the class, so other agents and subclasses are untouched):

* ``add_messages``: each message is recorded as it arrives (``codetracer_record``: journaled, kept with the run) and
  mapped later, off the agent's thread, by :class:`MessageMapper` -- the very replay the ``.traj.json`` extractor
  uses (:class:`~codetracer.adapters.mini_swe_agent.artifacts._Replay`), so the live tree is the tree of the
  trajectory ``agent.save()`` writes: same steps, thoughts, commands, observations and exit codes. Each model answer
  also carries an LLM call (response, cost, tokens). A step costs the agent two journal lines, not its mapping;
* ``run``: the run ends when ``run()`` returns (its ``exit_status``: ``Submitted`` is ``unknown`` unless the optional
  ``verify`` callback says whether the fix works -- what it ran, its exit code and output become the run's
  verification node, see :mod:`codetracer.core.checks`; ``LimitsExceeded`` and other exits are ``failed``) or
  raises (an error event and a ``failed`` run, then the exception goes on to the caller).

The wrappers call the agent's own (possibly overridden) methods first and trace after; anything failing inside
codetracer is logged once and never reaches the agent. Tracing an agent twice changes nothing;
:func:`uninstrument` takes the wrappers off again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codetracer.adapters.mini_swe_agent.artifacts import (
    FRAMEWORK,
    _number,
    _Replay,
    exit_facts,
    first_user_text,
    outcome_for,
)
from codetracer.core import checks, ids
from codetracer.core.checks import Check

if TYPE_CHECKING:  # pragma: no cover
    from codetracer.core.events import Events, Recorder
    from codetracer.core.tracer import Tracer

log = logging.getLogger("codetracer.adapters.mini_swe_agent")

FRAMEWORK_MODULES = ("minisweagent",)
"""Top-level package of the objects :func:`instrument` handles (read by :mod:`codetracer.live`)."""

_ATTR = "_codetracer_live"
"""Instance attribute holding the agent's :class:`_LiveRun` (its presence makes tracing idempotent)."""

Verifier = Callable[[Mapping[str, Any]], Any] | str
"""``verify(result)`` answering ``True``/``False``/``None``, a :class:`~codetracer.core.checks.Check` or a
``CompletedProcess``; or a shell command run in the environment's folder (see :mod:`codetracer.core.checks`)."""

MAPPER = "mini-swe-agent"
"""The registered name of :class:`MessageMapper`, the record mapper of live mini-swe-agent runs (its records are the
agent's messages; see :mod:`codetracer.plugins`)."""


class MessageMapper:
    """Maps one live run's recorded messages onto trace events with the ``.traj.json`` extractor's replay.

    Records are mini's message dicts, in the order the agent added them, plus a first ``{"settings": ...}`` record
    (model name, whether to add LLM calls). Runs off the agent's thread, when the tree is built.
    """

    def __init__(self, events: Events, run_id: str) -> None:
        self.events = events
        self.run_id = run_id
        self.replay: _Replay | None = None
        self.index = 0

    def _replay(self, model: str | None = None, llm_calls: bool = True) -> _Replay:
        self.replay = _Replay(self.events, self.run_id, Path(f"<live {self.run_id}>"), model, "messages", llm_calls)
        return self.replay

    def feed(self, payload: Any, timestamp: float | None) -> None:
        settings = payload.get("settings") if "role" not in payload else None
        if isinstance(settings, dict):
            self._replay(settings.get("model"), bool(settings.get("llm_calls", True)))
            return
        replay = self.replay or self._replay()
        extra = payload.get("extra")
        if not isinstance(extra, dict) or _number(extra.get("timestamp")) is None:  # mini stamps model answers only
            payload = {**payload, "extra": {**(extra if isinstance(extra, dict) else {}), "timestamp": timestamp}}
        replay.feed(self.index, payload, timestamp=timestamp)
        self.index += 1

    def close(self) -> None:
        if self.replay is not None:
            self.replay.close_step()


class _LiveRun:
    """The tracing state of one agent: the current run and the replay its messages are fed to."""

    def __init__(
        self,
        agent: Any,
        tracer: Tracer,
        *,
        llm_calls: bool,
        verify: Verifier | None,
        metadata: Mapping[str, Any] | None,
    ) -> None:
        self.tracer = tracer
        self.ev = tracer.events
        self.llm_calls = llm_calls
        self.verify = verify
        self.metadata = dict(metadata or {})
        self.agent_class = f"{type(agent).__module__}.{type(agent).__name__}"
        self.run_id: str | None = None
        self.record: Recorder | None = None
        """Records a message of the current run (:meth:`~codetracer.core.events.Events.recorder`), once started."""
        self.run_ids: list[str] = []
        """Every run traced on this agent, in order."""
        self.pending: list[dict[str, Any]] = []
        self.started = False
        self.exit_status: str | None = None
        self.submission: str | None = None
        self.failures: set[str] = set()
        self.parent_run_id: str | None = None
        """Set by reflective replay (:mod:`codetracer.adapters.mini_swe_agent.replay`) for a retry's run."""
        self.task: str | None = None
        """The task of the current run when its first user message is not the task (a replay's correction)."""
        self.announced_task: str | None = None
        """The task the last run started with (the first user message: mini's rendered instance template), which
        reflective replay gives every retry of the sequence, so all attempts carry one task."""

    def guard(self, where: str, fn: Callable[..., None], *args: Any) -> None:
        """Run a tracing step; a failure is logged once per place and never reaches the agent."""
        try:
            fn(*args)
        except Exception:  # tracing must never break the agent
            if where not in self.failures:
                self.failures.add(where)
                log.exception("codetracer: tracing mini-swe-agent failed in %s; the agent goes on", where)

    # -- run lifecycle ------------------------------------------------------------------------------------------------

    def begin(self, agent: Any, *, parent_run_id: str | None = None, task: str | None = None) -> None:
        """``run()`` was called: a new run whose start is announced with its first non-system message (the task).

        ``parent_run_id`` and ``task`` are given by reflective replay for a retry resumed on the same history.
        """
        self.parent_run_id = parent_run_id
        self.task = task
        if self.run_id is not None and self.started:  # a run() that never returned (re-entered): close it first
            self.end(agent, None, RuntimeError("run() was called again before the previous run ended"))
        self.run_id = f"{FRAMEWORK}:{ids.hex_id(12)}"
        self.run_ids.append(self.run_id)
        self.pending = []
        self.started = False
        self.exit_status = self.submission = None

    def _start(self, agent: Any, batch: list[dict[str, Any]]) -> None:
        assert self.run_id is not None
        meta: dict[str, Any] = {**self.metadata, "live": True, "agent_class": self.agent_class}
        model = _model_name(agent)
        if model:
            meta["model"] = model
        model_class = type(getattr(agent, "model", None)).__name__
        if model_class != "NoneType":
            meta["model_class"] = model_class  # what `ls` tells runs apart by (DeterministicModel, LitellmModel ...)
        version = _mini_version()
        if version:
            meta["mini_version"] = version
        if self.parent_run_id is not None:
            meta["attempt_of"] = self.parent_run_id
        now = time.time()
        self.started = True  # first: whatever announcing raises, end() must not announce the run a second time
        self.announced_task = self.task or first_user_text(batch)
        self.ev.run_started(self.run_id, FRAMEWORK, task=self.announced_task, metadata=meta,
                            parent_run_id=self.parent_run_id, timestamp=now)
        self.record = self.ev.recorder(self.run_id, MAPPER)
        self.record({"settings": {"model": model, "llm_calls": self.llm_calls}}, now)

    def add(self, agent: Any, messages: tuple[Any, ...]) -> None:
        """Messages the agent just added. System messages wait for the task, whose arrival starts the run."""
        if self.run_id is None:  # messages outside run() (a caller driving step() by hand): a run of their own
            self.begin(agent)
        batch = [m for m in messages if isinstance(m, dict)]
        if not self.started:
            self.pending.extend(batch)
            if all(m.get("role") == "system" for m in self.pending):
                return
            batch, self.pending = self.pending, []
            self._start(agent, batch)
        self._record(batch)

    def _record(self, batch: list[dict[str, Any]]) -> None:
        """The messages, as they are, into the run (mapped later by :class:`MessageMapper`), stamped with now."""
        record, now = self.record, time.time()
        assert record is not None
        for msg in batch:
            if msg.get("role") == "exit":
                status, submission = exit_facts(msg)
                self.exit_status = status or self.exit_status
                self.submission = submission if submission is not None else self.submission
            record(msg, now)

    def end(self, agent: Any, result: Any, error: BaseException | None) -> None:
        """``run()`` returned ``result`` or raised ``error``: close the last step and the run."""
        if self.run_id is None:
            return
        run_id = self.run_id
        if not self.started:  # not even the task arrived: announce the run so its end is not lost
            batch, self.pending = self.pending, []
            self._start(agent, batch)
            self._record(batch)
        self.run_id = None
        now = time.time()
        result_map = result if isinstance(result, Mapping) else {}
        exit_status = result_map.get("exit_status") if isinstance(result_map.get("exit_status"), str) else None
        exit_status = exit_status or self.exit_status
        submission = result_map.get("submission") if isinstance(result_map.get("submission"), str) else None
        submission = submission if submission is not None else self.submission
        end: dict[str, Any] = {"exit_status": exit_status, "submission": submission,
                               "cost": _number(getattr(agent, "cost", None)),
                               "api_calls": getattr(agent, "n_calls", None)}
        resolved: bool | None = None
        if error is not None:
            self.ev.error(run_id, f"{type(error).__name__}: {error}", kind=type(error).__name__, timestamp=now)
            exit_status = exit_status or type(error).__name__
            outcome = "failed"
        else:
            if self.verify is not None:
                check = self._verdict(agent, result_map)
                if check is not None:
                    check.emit(self.ev, run_id, time.time())
                    resolved = check.passed
                    if check.error is not None:
                        end["verifier_error"] = check.error
            outcome = outcome_for(exit_status, resolved)
        end["resolved"] = resolved
        self.ev.run_finished(run_id, outcome, exit_status=exit_status,
                             metadata={k: v for k, v in end.items() if v is not None}, timestamp=now)

    def _verdict(self, agent: Any, result: Mapping[str, Any]) -> Check | None:
        """What the verifier said (never raises: a broken verifier is a verifier error and the outcome stays the
        agent's own). A command string runs in the ``LocalEnvironment``'s folder."""
        assert self.verify is not None
        verify: Any = self.verify
        if isinstance(verify, str):
            verify = checks.CommandCheck(verify, cwd=_local_cwd(agent))
        return checks.call(verify, result)


def _local_cwd(agent: Any) -> Path | None:
    """The folder a ``LocalEnvironment`` runs commands in (other environments have none here)."""
    env = getattr(agent, "env", None)
    cwd = getattr(getattr(env, "config", None), "cwd", "") or None
    return Path(cwd) if type(env).__name__ == "LocalEnvironment" and cwd else None


def _model_name(agent: Any) -> str | None:
    config = getattr(getattr(agent, "model", None), "config", None)
    name = getattr(config, "model_name", None)
    return name if isinstance(name, str) else None


def _mini_version() -> str | None:
    import sys

    module = sys.modules.get("minisweagent")
    version = getattr(module, "__version__", None)
    return version if isinstance(version, str) else None


def instrument(
    target: Any,
    tracer: Tracer,
    *,
    llm_calls: bool = True,
    verify: Verifier | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> Any:
    """Trace ``target`` (a mini-swe-agent ``DefaultAgent`` or subclass instance) into ``tracer``; returns ``target``.

    :param llm_calls: give each step the LLM call that produced it (response, cost, tokens).
    :param verify: called with the dict ``run()`` returns (``exit_status``, ``submission``) once the agent stopped;
        ``True``/``False`` make the run solved/failed, ``None`` leaves a submission's outcome unknown. A
        ``CompletedProcess`` it returns (or a shell command string given instead, run in the ``LocalEnvironment``'s
        folder) is kept whole: command, exit code and output become the run's verification node, the localizer's
        evidence. A verifier that raises or cannot run is a verifier error: the outcome stays the agent's own.
    :param metadata: extra facts stored on every run of this agent.
    """
    if isinstance(target.__dict__.get(_ATTR), _LiveRun):
        return target  # already traced: no second wrapper, no double events
    if not (callable(getattr(target, "add_messages", None)) and callable(getattr(target, "run", None))):
        from codetracer.core.errors import CodetracerError

        raise CodetracerError(
            f"codetracer cannot trace a {type(target).__name__}: expected a mini-swe-agent agent "
            "(with run() and add_messages())"
        )
    live = _LiveRun(target, tracer, llm_calls=llm_calls, verify=verify, metadata=metadata)
    original_add = target.add_messages  # bound methods of the agent's own class: overrides are kept
    original_run = target.run

    def add_messages(*messages: dict[str, Any]) -> Any:
        added = original_add(*messages)
        live.guard("add_messages", live.add, target, messages)
        return added

    def run(*args: Any, **kwargs: Any) -> Any:
        live.guard("run start", live.begin, target)
        try:
            result = original_run(*args, **kwargs)
        except BaseException as exc:
            live.guard("run end", live.end, target, None, exc)
            raise
        live.guard("run end", live.end, target, result, None)
        return result

    add_messages.__wrapped__ = original_add  # type: ignore[attr-defined]
    run.__wrapped__ = original_run  # type: ignore[attr-defined]
    target.__dict__[_ATTR] = live
    target.add_messages = add_messages
    target.run = run
    return target


def uninstrument(target: Any) -> None:
    """Stop tracing ``target``: its own methods are in charge again (a run in progress is left to finish untraced)."""
    if target.__dict__.pop(_ATTR, None) is not None:
        target.__dict__.pop("add_messages", None)
        target.__dict__.pop("run", None)


def live_state(target: Any) -> _LiveRun | None:
    """The tracing state of an instrumented agent (its ``run_ids``), or ``None``."""
    state = target.__dict__.get(_ATTR)
    return state if isinstance(state, _LiveRun) else None

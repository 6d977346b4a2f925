"""The reflective replay loop: run an attempt, judge it, diagnose a failure, hand the diagnosis back, try again.

Per attempt:

1. an :class:`AttemptRunner` (one per framework, in ``codetracer.adapters.<fw>.replay``) runs the agent -- the
   first attempt as the caller asked, later ones resumed *in the same run* (same conversation, same agent history,
   same graph thread) -- traced live, with ``parent_run_id`` pointing at the previous attempt's run (a chain whose
   first run is the sequence's root);
2. the policy judges it (exception, the agent's own exit, the shared budget, the verifier) before the traced run is
   closed, so the tree carries the verdict as its outcome;
3. on failure ``pm.hook.codetracer_on_failure(run=tree, attempt=n)`` fires once; the first plugin answering wins,
   and :class:`DefaultDiagnosis` (tried last) answers with the default localizer;
4. unless the policy says stop (attempts, budget, a failure kind it does not retry), the workspace is optionally
   rolled back and ``pm.hook.codetracer_reinject(run, diagnosis, handle=runner)`` delivers the correction message
   through the framework's own channel; the next attempt starts with it.

Every attempt's tree is stored with its diagnosis and a ``replay`` entry in its metadata (attempt number, verdict,
the sequence's root, the budget given and used so far, the correction sent, and on the last attempt the stop
reason), so ``codetracer ls`` / ``show`` / ``report`` tell the whole sequence from any attempt
(:mod:`codetracer.core.sequences` reads it back). Nothing here imports a framework.

Running out of the shared budget ends the sequence with a value, never with the framework's own limit exception:
when the last attempt raised because codetracer's limit stopped it (LangGraph's ``GraphRecursionError``, ...),
``run()`` returns an :class:`OutOfBudget` carrying the ``stop_reason``.
"""

from __future__ import annotations

import importlib
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codetracer.core.model import Diagnosis, Run
from codetracer.hooks.specs import hookimpl
from codetracer.replay.message import correction_message
from codetracer.replay.policy import Budget, BudgetMeter, RetryPolicy, Usage, Verdict
from codetracer.replay.workspace import Snapshot, files_to_roll_back

if TYPE_CHECKING:  # pragma: no cover
    from codetracer.core.tracer import Tracer
    from codetracer.hooks.manager import PluginManager

log = logging.getLogger("codetracer.replay")

PLAIN_RETRY = "[codetracer] Your previous attempt failed. Try again."
"""What a retry *without* diagnosis says (the benchmark's "plain retry" arm)."""


# --------------------------------------------------------------------------------------------------------------------
# What a runner gets and returns
# --------------------------------------------------------------------------------------------------------------------


class Judge:
    """Decides an attempt once (the runner calls it right before it closes the traced run; later calls repeat it)."""

    def __init__(self, policy: RetryPolicy, workspace: Path | None, meter: BudgetMeter) -> None:
        self.policy = policy
        self.workspace = workspace
        self.meter = meter
        self.verdict: Verdict | None = None

    def __call__(
        self,
        *,
        result: Any = None,
        error: BaseException | None = None,
        exit_status: str | None = None,
        agent_failed: bool = False,
    ) -> Verdict:
        if self.verdict is None:
            over = None
            seconds = self.meter.budget.seconds
            if seconds is not None and self.meter.elapsed() > seconds:
                over = "seconds"
            self.verdict = self.policy.judge(
                result=result,
                error=error,
                exit_status=exit_status,
                agent_failed=agent_failed,
                workspace=self.workspace,
                over_budget=over,
            )
        return self.verdict


@dataclass
class AttemptResult:
    """What one attempt gave back: the framework's return value or exception, and the traced run's id."""

    value: Any = None
    error: BaseException | None = None
    run_id: str | None = None
    exit_status: str | None = None
    agent_failed: bool = False


class AttemptRunner:
    """Runs the attempts of one framework object. Subclasses live in ``codetracer.adapters.<fw>.replay``.

    The runner is also the ``handle`` the reinject hook receives: :meth:`deliver` keeps or sends the correction.
    """

    framework = "unknown"

    def __init__(self, target: Any, tracer: Tracer) -> None:
        self.target = target
        self.tracer = tracer
        self.with_diagnosis = True
        self.rolled_back: list[str] = []
        self.pending: str | None = None
        """The correction waiting for the next attempt (for frameworks that take it at the attempt's start)."""
        self.last_attempt = 0
        """The number of the attempt running or last run (the engine sets it before each attempt)."""

    # -- to override --------------------------------------------------------------------------------------------------

    def default_budget(self) -> Budget:
        """The framework's own limits of the original run (they become the shared budget's open axes)."""
        return Budget()

    def workspace(self) -> Path | None:
        """The local folder the agent works in, when the framework says (for verifiers and rollback)."""
        return None

    def attempt(
        self,
        n: int,
        args: tuple[Any, ...],
        kwargs: Mapping[str, Any],
        *,
        parent_run_id: str | None,
        remaining: Budget,
        judge: Judge,
    ) -> AttemptResult:
        """Run attempt ``n`` (1: as the caller asked with ``args``/``kwargs``; later: resume with the correction)."""
        raise NotImplementedError

    def deliver(self, text: str) -> None:
        """Hand ``text`` to the agent for the next attempt. Default: keep it for :meth:`attempt`."""
        self.pending = text

    def reinject(self, run: Run, diagnosis: Diagnosis) -> bool:
        """What each adapter's ``codetracer_reinject`` does with its own runner: write the correction for the agent
        and deliver it the framework's way (:meth:`deliver`)."""
        self.deliver(self.correction(run, diagnosis, self.last_attempt))
        return True

    # -- shared -------------------------------------------------------------------------------------------------------

    def partial_value(self, result: AttemptResult) -> Any:
        """What the agent had got to when its framework stopped it on the budget (e.g. a graph thread's state);
        ``None`` when the framework keeps nothing. Becomes :attr:`OutOfBudget.value`."""
        return None

    def correction(self, run: Run, diagnosis: Diagnosis, attempt: int = 1) -> str:
        """The message for the agent: the diagnosis in its terms (or the plain retry line in the no-diagnosis arm)."""
        if not self.with_diagnosis:
            return PLAIN_RETRY
        return correction_message(run, diagnosis, attempt=attempt, rolled_back=self.rolled_back)


@dataclass
class Attempt:
    """One attempt of a replay, as the report shows it."""

    number: int
    run_id: str | None
    verdict: Verdict
    usage: Usage
    diagnosis: Diagnosis | None = None
    message: str | None = None
    delivered: bool | None = None
    rolled_back: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "attempt": self.number,
            "run_id": self.run_id,
            "success": self.verdict.success,
            "verdict": self.verdict.kind,
            "reason": self.verdict.reason,
            "usage": self.usage.as_dict(),
            "onset_step": self.diagnosis.onset_step if self.diagnosis else None,
            "delivered": self.delivered,
            "rolled_back": self.rolled_back,
        }


@dataclass
class OutOfBudget:
    """What :meth:`Retrying.run` returns when the shared budget stopped the last attempt by raising inside the
    framework: the sequence ended on the budget, which is a result (why, how far it got), not a crash.

    :param stop_reason: why the sequence ended (as :attr:`Retrying.stop_reason`).
    :param error: the framework's own exception (e.g. ``GraphRecursionError``), kept for inspection, not raised.
    :param value: what the agent had got to (:meth:`AttemptRunner.partial_value`), or ``None``.
    """

    stop_reason: str
    error: BaseException
    value: Any = None
    attempts: int = 0
    used: dict[str, Any] = field(default_factory=dict)
    budget: dict[str, Any] = field(default_factory=dict)

    def __bool__(self) -> bool:  # `if result:` reads as "did it work"
        return False


# --------------------------------------------------------------------------------------------------------------------
# The default on-failure answer
# --------------------------------------------------------------------------------------------------------------------


class DefaultDiagnosis:
    """Answers ``codetracer_on_failure`` with a localizer (default: the registry's first, the signal localizer).

    Registered ``trylast`` so any other plugin's diagnosis wins.
    """

    def __init__(self, localizer: str | None = None) -> None:
        self.localizer = localizer

    @hookimpl(trylast=True)
    def codetracer_on_failure(self, run: Run, attempt: int) -> Diagnosis | None:
        from codetracer.localize.registry import LocalizerRegistry

        found = LocalizerRegistry.from_plugins().get(self.localizer)
        return None if found is None else found.localize(run)


DEFAULT_PLUGIN_NAME = "codetracer.replay.default-diagnosis"


# --------------------------------------------------------------------------------------------------------------------
# The loop
# --------------------------------------------------------------------------------------------------------------------


class Retrying:
    """The one-line handle :func:`auto_retry` returns: ``.run(...)`` runs the attempts and returns the last result.

    After ``run``: :attr:`attempts` (one :class:`Attempt` each), :attr:`stop_reason`, :attr:`succeeded`,
    :attr:`run_ids` (the first is the root; the others are its children through ``parent_run_id``).
    """

    def __init__(
        self,
        runner: AttemptRunner,
        policy: RetryPolicy,
        *,
        pm: PluginManager | None = None,
        reinject_plugin: object | None = None,
        localizer: str | None = None,
        diagnose: bool = True,
    ) -> None:
        self.runner = runner
        self.policy = policy
        self.diagnose = diagnose
        runner.with_diagnosis = diagnose
        if pm is None:
            from codetracer.hooks.manager import get_plugin_manager

            pm = get_plugin_manager()
        self.pm = pm
        name = DEFAULT_PLUGIN_NAME if localizer is None else f"{DEFAULT_PLUGIN_NAME}:{localizer}"
        if not pm.has_plugin(name):
            pm.register(DefaultDiagnosis(localizer), name=name)
        if reinject_plugin is not None:
            plugin_name = getattr(reinject_plugin, "__name__", None) or type(reinject_plugin).__name__
            if not pm.has_plugin(plugin_name):
                pm.register(reinject_plugin, name=plugin_name)
        self.attempts: list[Attempt] = []
        self.stop_reason: str | None = None
        self.budget: Budget | None = None
        self.used: Usage | None = None

    @property
    def succeeded(self) -> bool:
        return bool(self.attempts) and self.attempts[-1].verdict.success

    @property
    def run_ids(self) -> list[str]:
        return [a.run_id for a in self.attempts if a.run_id is not None]

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.run(*args, **kwargs)

    def report(self) -> dict[str, Any]:
        """The replay as JSON-ready data (what the docs' and the benchmark's tables are made of)."""
        return {
            "framework": self.runner.framework,
            "succeeded": self.succeeded,
            "stop_reason": self.stop_reason,
            "budget": None if self.budget is None else vars(self.budget),
            "used": None if self.used is None else self.used.as_dict(),
            "attempts": [a.as_dict() for a in self.attempts],
        }

    # -- the loop -----------------------------------------------------------------------------------------------------

    def run(self, *args: Any, **kwargs: Any) -> Any:
        """Run attempts until one succeeds or the policy stops; returns the last attempt's value.

        The last attempt's exception is raised again when it failed by raising (so callers see what they would
        have seen without codetracer); exceptions of earlier attempts are recorded and retried. One exception: when
        the budget stopped it (the framework's limit, set by codetracer to what the shared budget had left), an
        :class:`OutOfBudget` is returned instead.
        """
        policy, runner = self.policy, self.runner
        self.budget = policy.budget.merged(runner.default_budget())
        meter = BudgetMeter(self.budget)
        self.used = meter.used
        self.attempts = []
        self.stop_reason = None
        runner.rolled_back = []
        workspace = policy.workspace or runner.workspace()
        root: str | None = None
        previous: str | None = None
        last = AttemptResult()
        store = None
        try:
            for n in range(1, policy.max_attempts + 1):
                snapshot = self._snapshot(workspace) if policy.rollback else None
                judge = Judge(policy, workspace, meter)
                started = time.monotonic()
                runner.last_attempt = n
                last = runner.attempt(n, args, kwargs, parent_run_id=previous, remaining=meter.remaining(),
                                      judge=judge)
                verdict = judge(
                    result=last.value, error=last.error, exit_status=last.exit_status, agent_failed=last.agent_failed
                )
                tree = self._tree(last.run_id)
                usage = Usage.of_run(tree, seconds=time.monotonic() - started)
                meter.charge(usage)
                root = root or last.run_id
                previous = last.run_id or previous
                record = Attempt(n, last.run_id, verdict, usage)
                self.attempts.append(record)
                if verdict.success:
                    self.stop_reason = "succeeded"
                    store = self._annotate(tree, record, store, root)
                    break
                diagnosis = self._diagnosis(tree, n) if self.diagnose else None
                record.diagnosis = diagnosis
                reason = self._stop(n, verdict, meter, tree, diagnosis)
                if reason is not None:
                    self.stop_reason = reason
                    store = self._annotate(tree, record, store, root)
                    break
                assert tree is not None
                runner.rolled_back = []
                if snapshot is not None:
                    onset = diagnosis.onset_step if diagnosis is not None else None
                    runner.rolled_back = snapshot.restore(files_to_roll_back(snapshot, tree, onset))
                    record.rolled_back = list(runner.rolled_back)
                used = diagnosis or Diagnosis(localizer="none", reasoning="plain retry without a diagnosis")
                delivered = self.pm.hook.codetracer_reinject(run=tree, diagnosis=used, handle=runner)
                record.delivered = bool(delivered)
                record.message = runner.correction(tree, used, n)
                if not delivered:
                    self.stop_reason = "no plugin could deliver the diagnosis to this agent"
                store = self._annotate(tree, record, store, root)
                if not delivered:
                    break
            else:  # pragma: no cover - the loop always breaks on its last attempt
                self.stop_reason = "max_attempts"
        finally:
            if store is not None:
                store.close()
        if last.error is not None and not self.succeeded:
            if self.attempts and self.attempts[-1].verdict.kind == "budget":
                return OutOfBudget(
                    stop_reason=self.stop_reason or "budget exhausted",
                    error=last.error,
                    value=runner.partial_value(last),
                    attempts=len(self.attempts),
                    used=meter.used.as_dict(),
                    budget=vars(self.budget),
                )
            raise last.error
        return last.value

    def _stop(
        self, n: int, verdict: Verdict, meter: BudgetMeter, tree: Run | None, diagnosis: Diagnosis | None
    ) -> str | None:
        """Why the replay ends after failed attempt ``n``, or ``None`` to retry."""
        if n >= self.policy.max_attempts:
            return "max_attempts"
        if verdict.kind not in self.policy.retry_on:
            return f"{verdict.kind} failures are not retried by the policy"
        axis = meter.exhausted()
        if axis is not None:
            return f"budget exhausted ({axis})"
        if verdict.kind == "budget":
            return "budget exhausted (the framework's own limit)"
        if tree is None:
            return "the attempt left no trace tree to diagnose"
        if self.diagnose and diagnosis is None:
            return "no plugin could diagnose the failure"
        return None

    def _snapshot(self, workspace: Path | None) -> Snapshot | None:
        if workspace is None or not Path(workspace).is_dir():
            log.warning("codetracer replay: rollback asked for, but the workspace (%s) is no local folder", workspace)
            return None
        return Snapshot.take(workspace, exclude=(self.runner.tracer.home,))

    def _tree(self, run_id: str | None) -> Run | None:
        if run_id is None:
            return None
        tracer = self.runner.tracer
        tracer.flush()
        for run in reversed(tracer.runs):
            if run.id == run_id:
                return run
        return None

    def _diagnosis(self, tree: Run | None, attempt: int) -> Diagnosis | None:
        if tree is None:
            return None
        found = self.pm.hook.codetracer_on_failure(run=tree, attempt=attempt)
        return found if isinstance(found, Diagnosis) else None

    def _annotate(self, tree: Run | None, record: Attempt, store: Any, root: str | None) -> Any:
        """Keep the diagnosis and the replay facts on the attempt's tree, in memory and in the store.

        Each attempt carries what a reader of *any* attempt needs to tell the sequence: its root, the budget given
        and used up to and including this attempt, the correction it was sent off with, and -- on the last one --
        why the sequence ended (``stop_reason``; absent on an attempt that was followed by another)."""
        if tree is None:
            return store
        tree.metadata["replay"] = {
            **record.as_dict(),
            "sequence": root or record.run_id,
            "max_attempts": self.policy.max_attempts,
            "with_diagnosis": self.diagnose,
            "budget": None if self.budget is None else {k: v for k, v in vars(self.budget).items() if v is not None},
            "used": None if self.used is None else self.used.as_dict(),
            **({"message": record.message} if record.message else {}),
            **({"stop_reason": self.stop_reason} if self.stop_reason else {}),
        }
        if record.diagnosis is not None and record.verdict.kind != "verifier_error":
            # a verifier that could not run proved nothing against the agent: the attempt's tree stays undiagnosed
            # (``unknown``); the diagnosis behind a retry's correction is in its replay record
            tree.diagnosis = record.diagnosis
        tracer = self.runner.tracer
        if not tracer.persist:
            return store
        try:
            if store is None:
                from codetracer.core.store_open import open_store

                store = open_store(tracer.store_location, project=tracer.project)
            store.save_run(tree)
        except Exception as exc:  # noqa: BLE001 - a store problem must not stop the replay
            log.warning("codetracer replay: could not store attempt %d (%s)", record.number, exc)
        return store


# --------------------------------------------------------------------------------------------------------------------
# codetracer.auto_retry
# --------------------------------------------------------------------------------------------------------------------


def _as_budget(budget: Budget | Mapping[str, Any] | int | None) -> Budget:
    if budget is None:
        return Budget()
    if isinstance(budget, Budget):
        return budget
    if isinstance(budget, int):
        return Budget(steps=budget)
    return Budget(**dict(budget))


def replay_module(target: Any) -> Any:
    """The ``codetracer.adapters.<fw>.replay`` module for ``target`` (found as :func:`codetracer.trace` finds its
    live adapter)."""
    from codetracer.live import adapter_for

    live = adapter_for(target)
    return importlib.import_module(live.__name__.rsplit(".", 1)[0] + ".replay")


def auto_retry(
    target: Any,
    verify: Any = None,
    max_attempts: int = 2,
    budget: Budget | Mapping[str, Any] | int | None = None,
    rollback: bool = False,
    *,
    tracer: Tracer | None = None,
    retry_on: Any = None,
    unknown_is_failure: bool = False,
    workspace: Path | str | None = None,
    diagnose: bool = True,
    localizer: str | None = None,
    pm: PluginManager | None = None,
    **options: Any,
) -> Retrying:
    """Reflective replay in one line: ``codetracer.auto_retry(agent, verify="pytest -q").run(task)``.

    :param target: the framework object (a mini-swe-agent agent, an OpenHands conversation, a LangChain runnable or
        LangGraph graph, a SWE-agent agent); it is traced live if it is not already.
    :param verify: what decides success: a callable (``verify()`` or ``verify(result)``), a shell command run in the
        workspace (exit code 0 = success), or ``None`` for the agent's own exit status.
    :param max_attempts: attempts in all, the original one included.
    :param budget: shared by all attempts: a :class:`Budget`, a dict of its fields, or an int (steps). Axes left
        open take the framework's own limits of the original run.
    :param rollback: restore files touched after the diagnosed onset before each retry (local folders, git repos).
    :param diagnose: ``False`` retries with a plain "try again" (the baseline the benchmark compares against).
    :param options: framework-specific (see ``docs/replay.md``), e.g. ``callback=`` for OpenHands, ``config=`` for
        LangChain, ``env=`` for SWE-agent.
    """
    if tracer is None:
        from codetracer import get_tracer

        tracer = get_tracer()
    module = replay_module(target)
    policy = RetryPolicy(
        max_attempts=max_attempts,
        verify=verify,
        budget=_as_budget(budget),
        rollback=rollback,
        unknown_is_failure=unknown_is_failure,
        workspace=Path(workspace) if workspace is not None else None,
    )
    if retry_on is not None:
        policy.retry_on = frozenset(retry_on)
        policy.__post_init__()
    runner = module.attempt_runner(target, tracer, **options)
    return Retrying(runner, policy, pm=pm, reinject_plugin=module, localizer=localizer, diagnose=diagnose)

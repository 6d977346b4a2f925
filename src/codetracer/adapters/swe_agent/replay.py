"""Reflective replay for SWE-agent: the diagnosis appended to the agent's history and its step loop resumed.

``codetracer.auto_retry(agent, verify=..., env=env, output_dir=out).run(problem_statement=ps)``. The first attempt is
the agent's own ``agent.run(env=env, problem_statement=ps, output_dir=out)``. A retry goes on from where the agent
stands, as SWE-agent documents driving an agent by hand (``setup`` once, then ``step`` in a loop): the correction is
appended to ``agent.history`` as a user message (through ``agent._append_history``, so every agent hook sees it),
then ``agent.step()`` runs until a step is ``done``, the trajectory saved after each as ``agent.run`` does. So the
model sees its whole first attempt and the diagnosis, and the environment is the one the first attempt left (a new
``agent.run`` would re-install the tools, which the ``local`` deployment refuses while ``/root/tools`` exists, and
rebuild the history from scratch). The ``.traj`` therefore holds the agent's one history, attempts included; the
live trace has a run per attempt, each retry a child of the previous one (``parent_run_id``).

Budget: all attempts draw on the shared budget. Its step axis is enforced on the model the agent already has: for
the attempt's duration ``agent.model.query`` is wrapped on that one instance (put back afterwards) and raises
SWE-agent's own ``InstanceCallLimitExceededError`` / ``InstanceCostLimitExceededError`` when the budget is used up,
which the agent answers as it answers its own limits (``exit_cost`` with an auto-submission: one last step, kept
within the budget). SWE-agent checks ``per_instance_call_limit`` only in its LiteLLM model, so its config alone would
leave scripted and replay models unbounded; the config's limits still set the budget's open axes.

Workspace: the repository copy of the ``local`` deployment (``/<repo name>``) for command verifiers and rollback;
other deployments (Docker) need ``workspace=`` pointing at a local folder holding the repository.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codetracer.adapters.swe_agent.hook import SweAgentHook, _get, _run_result, outcome_of
from codetracer.adapters.swe_agent.live import instrument
from codetracer.core.checks import Check
from codetracer.core.model import Diagnosis, Run
from codetracer.hooks.specs import hookimpl
from codetracer.replay.engine import AttemptResult, AttemptRunner, Judge
from codetracer.replay.policy import Budget

if TYPE_CHECKING:  # pragma: no cover
    from codetracer.core.tracer import Tracer


def _status(info: Any) -> str | None:
    status = _get(info, "exit_status")
    return status if isinstance(status, str) else None


class _CallBudget:
    """The shared budget applied to one attempt's model queries, on the model instance, for the attempt only.

    ``steps`` model queries are allowed but one: the query that would overrun raises SWE-agent's own limit error,
    and the agent's answer to it (an auto-submission) is the attempt's last step."""

    def __init__(self, model: Any, remaining: Budget) -> None:
        self.model = model
        self.steps = remaining.steps
        self.cost = remaining.cost
        self.calls = 0
        stats = getattr(model, "stats", None)
        self.cost_at_start = float(getattr(stats, "instance_cost", 0.0) or 0.0)
        self._original: Any = None

    def __enter__(self) -> _CallBudget:
        if self.model is None or (self.steps is None and self.cost is None):
            return self
        self._original = self.model.__dict__.get("query")
        bound = self.model.query

        def query(*args: Any, **kwargs: Any) -> Any:
            self._check()
            self.calls += 1
            return bound(*args, **kwargs)

        self.model.query = query
        return self

    def _check(self) -> None:
        errors = importlib.import_module("sweagent.exceptions")
        if self.steps is not None and self.calls >= self.steps - 1:
            raise errors.InstanceCallLimitExceededError(f"codetracer: the shared step budget is used up ({self.steps})")
        spent = float(getattr(getattr(self.model, "stats", None), "instance_cost", 0.0) or 0.0) - self.cost_at_start
        if self.cost is not None and spent >= self.cost:
            raise errors.InstanceCostLimitExceededError(f"codetracer: the shared cost budget is used up ({self.cost})")

    def __exit__(self, *exc: Any) -> None:
        if self.model is None or "query" not in self.model.__dict__:
            return
        if self._original is not None:
            self.model.query = self._original
        else:
            del self.model.query


class SweAgentAttempts(AttemptRunner):
    """Runs the attempts of one SWE-agent ``DefaultAgent`` (the handle the reinject hook receives)."""

    framework = "swe-agent"

    def __init__(self, agent: Any, tracer: Tracer, **run_kwargs: Any) -> None:
        instrument(agent, tracer)
        hook = getattr(agent, "_codetracer_hook", None)
        if not isinstance(hook, SweAgentHook):  # pragma: no cover - slotted agents
            raise TypeError("codetracer could not attach its hook to this SWE-agent agent")
        super().__init__(agent, hook.tracer)
        self.hook = hook
        self.run_kwargs = run_kwargs

    def _model_config(self) -> Any:
        return getattr(getattr(self.target, "model", None), "config", None)

    def default_budget(self) -> Budget:
        cfg = self._model_config()
        steps = getattr(cfg, "per_instance_call_limit", 0) or None
        cost = getattr(cfg, "per_instance_cost_limit", 0) or None
        return Budget(steps=steps, cost=cost)

    def workspace(self) -> Path | None:
        """The ``local`` deployment's copy of the repository (``/<repo name>``); no folder for other deployments."""
        env = self.run_kwargs.get("env") or getattr(self.target, "_env", None)
        deployment = getattr(env, "deployment", None)
        name = getattr(getattr(env, "repo", None), "repo_name", None)
        if type(deployment).__name__ != "LocalDeployment" or not isinstance(name, str) or not name:
            return None
        return Path("/") / name

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
        saved_verify = self.hook.verify

        def verify(result: Any) -> Check | None:
            info = _get(result, "info")
            verdict = judge(result=result, exit_status=_status(info), agent_failed=self._failed(info))
            if verdict.check is not None:  # the verifier ran: its command and output go into the tree
                return verdict.check
            if not verdict.success:
                return Check("", False)  # failed, but not by a verifier: no verification node
            return None

        self.hook.verify = verify
        value: Any = None
        error: BaseException | None = None
        try:
            with _CallBudget(getattr(self.target, "model", None), remaining):
                if n == 1:
                    value = self.target.run(*args, **{**self.run_kwargs, **kwargs})
                else:
                    value = self._resume(parent_run_id)
        except Exception as exc:  # noqa: BLE001 - judged; re-raised by the engine if it was the last try
            error = exc
        finally:
            self.hook.verify = saved_verify
        info = _get(value, "info") or {}
        run_id = self.hook.run_ids[-1] if self.hook.run_ids else None
        return AttemptResult(value=value, error=error, run_id=run_id, exit_status=_status(info),
                             agent_failed=value is not None and self._failed(info))

    @staticmethod
    def _failed(info: Any) -> bool:
        return outcome_of(info, _status(info)) == "failed"

    def _resume(self, parent_run_id: str | None) -> Any:
        """The retry: the correction appended to the agent's history, its step loop run again until done."""
        agent = self.target
        self.hook.resume(parent_run_id)
        text, self.pending = self.pending or "", None
        agent._append_history({"role": "user", "content": text, "agent": agent.name, "message_type": "user"})
        while True:
            step = agent.step()
            agent.save_trajectory()
            if step.done:
                break
        self.hook.on_run_done(trajectory=agent.trajectory, info=agent.info)
        data = agent.get_trajectory_data()
        return _run_result(data["info"], data["trajectory"])  # what agent.run returns

    def deliver(self, text: str) -> None:
        self.pending = text


def attempt_runner(target: Any, tracer: Tracer, **options: Any) -> SweAgentAttempts:
    """What :func:`codetracer.auto_retry` builds for a SWE-agent agent; ``options`` are ``agent.run`` keywords
    (``env=``, ``output_dir=``)."""
    return SweAgentAttempts(target, tracer, **options)


@hookimpl
def codetracer_reinject(run: Run, diagnosis: Diagnosis, handle: Any) -> bool | None:
    """Keep the correction; the retry appends it to the agent's history before its next step."""
    if not isinstance(handle, SweAgentAttempts):
        return None
    if not callable(getattr(handle.target, "_append_history", None)):
        return False  # a RetryAgent runs a fresh sub-agent per attempt: there is no one history to go on from
    return handle.reinject(run, diagnosis)

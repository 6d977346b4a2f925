"""Reflective replay for mini-swe-agent: the diagnosis appended to the agent's history and its loop resumed.

``codetracer.auto_retry(agent, verify="python -m pytest -q").run(task)``. The first attempt is the agent's own
``run(task)``. A failed attempt ends with mini's ``exit`` message; a retry removes that message, appends the
correction as a user message (through ``agent.add_messages``, so the trace sees it) and runs mini's step loop again
on the same history -- the loop of ``DefaultAgent.run`` without its reset, since ``run()`` starts from an empty
history. Each retry is a traced run of its own whose ``parent_run_id`` is the previous attempt's run, with the first
run's task (the rendered instance template).

Budget: mini's own limits (``step_limit`` over ``n_calls``, ``cost_limit`` over ``cost``, ``wall_time_limit_seconds``
from the agent's creation) already count across runs of one agent, so the shared budget is applied by setting them
to what is left before each attempt (and putting the user's values back afterwards).

Workspace: a ``LocalEnvironment``'s ``cwd`` (for command verifiers and rollback); other environments (Docker,
Singularity) have no local folder unless ``workspace=`` is given.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codetracer.adapters.mini_swe_agent.artifacts import FRAMEWORK, outcome_for
from codetracer.adapters.mini_swe_agent.live import instrument, live_state
from codetracer.core.checks import Check
from codetracer.core.model import Diagnosis, Run
from codetracer.hooks.specs import hookimpl
from codetracer.replay.engine import AttemptResult, AttemptRunner, Judge
from codetracer.replay.policy import Budget

if TYPE_CHECKING:  # pragma: no cover
    from codetracer.core.tracer import Tracer

log = logging.getLogger("codetracer.adapters.mini_swe_agent")


class MiniAttempts(AttemptRunner):
    """Runs the attempts of one mini-swe-agent agent (the handle the reinject hook receives)."""

    framework = FRAMEWORK

    def __init__(self, agent: Any, tracer: Tracer, **options: Any) -> None:
        state = live_state(agent)
        if state is None:
            instrument(agent, tracer, **options)
            state = live_state(agent)
        assert state is not None
        super().__init__(agent, state.tracer)
        self.live = state
        self.task: str | None = None

    # -- budget and workspace -----------------------------------------------------------------------------------------

    def default_budget(self) -> Budget:
        cfg = getattr(self.target, "config", None)
        steps = getattr(cfg, "step_limit", 0) or None
        cost = getattr(cfg, "cost_limit", 0) or None
        seconds = getattr(cfg, "wall_time_limit_seconds", 0) or None
        return Budget(steps=steps, cost=cost, seconds=seconds)

    def workspace(self) -> Path | None:
        env = getattr(self.target, "env", None)
        if type(env).__name__ != "LocalEnvironment":
            return None
        cwd = getattr(getattr(env, "config", None), "cwd", "") or None
        return Path(cwd) if cwd else None

    def _limits(self, remaining: Budget) -> dict[str, Any]:
        """Set mini's cumulative limits to what the shared budget has left; returns the values to put back."""
        agent = self.target
        cfg = agent.config
        saved = {k: getattr(cfg, k) for k in ("step_limit", "cost_limit", "wall_time_limit_seconds") if hasattr(cfg, k)}
        if remaining.steps is not None and "step_limit" in saved:
            cfg.step_limit = max(1, int(getattr(agent, "n_calls", 0)) + remaining.steps)
        if remaining.cost is not None and "cost_limit" in saved:
            cfg.cost_limit = float(getattr(agent, "cost", 0.0)) + max(remaining.cost, 1e-9)
        if remaining.seconds is not None and "wall_time_limit_seconds" in saved:
            import time

            elapsed = time.time() - float(getattr(agent, "_start_time", time.time()))
            cfg.wall_time_limit_seconds = max(1, int(elapsed + remaining.seconds))
        return saved

    # -- attempts -----------------------------------------------------------------------------------------------------

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
        live = self.live
        saved_verify = live.verify
        saved_limits = self._limits(remaining)

        def verify(result: Mapping[str, Any]) -> Check | bool | None:
            status = result.get("exit_status") if isinstance(result.get("exit_status"), str) else None
            verdict = judge(result=result, exit_status=status, agent_failed=outcome_for(status, None) == "failed")
            if verdict.check is not None:  # the verifier ran: its command and output go into the tree
                return verdict.check
            if not verdict.success:
                return Check("", False)  # failed, but not by a verifier: no verification node
            return None

        live.verify = verify
        value: Any = None
        error: BaseException | None = None
        try:
            if n == 1:
                try:
                    value = self.target.run(*args, **kwargs)
                except Exception as exc:  # noqa: BLE001 - recorded; re-raised by the engine if it was the last try
                    error = exc
                # every retry carries the task the first run started with (mini's rendered instance template,
                # as its trajectory has it), not the raw argument: one task per sequence
                self.task = live.announced_task
            else:
                value, error = self._resume(parent_run_id)
        finally:
            live.verify = saved_verify
            for key, val in saved_limits.items():
                setattr(self.target.config, key, val)
        result = value if isinstance(value, Mapping) else {}
        status = result.get("exit_status") if isinstance(result.get("exit_status"), str) else None
        run_id = live.run_ids[-1] if live.run_ids else None
        return AttemptResult(value=value, error=error, run_id=run_id, exit_status=status,
                             agent_failed=outcome_for(status, None) == "failed")

    def _resume(self, parent_run_id: str | None) -> tuple[Any, BaseException | None]:
        """Retry on the same history: drop the exit message, append the correction, run mini's loop again."""
        agent, live = self.target, self.live
        while agent.messages and agent.messages[-1].get("role") == "exit":
            agent.messages.pop()
        live.guard("run start", lambda: live.begin(agent, parent_run_id=parent_run_id, task=self.task))
        text = self.pending or ""
        self.pending = None
        fmt = getattr(agent.model, "format_message", None)
        message = fmt(role="user", content=text) if callable(fmt) else {"role": "user", "content": text}
        agent.add_messages(message)
        value: Any = None
        error: BaseException | None = None
        try:
            value = _loop(agent)
        except Exception as exc:  # noqa: BLE001 - reported in the trace and to the engine
            error = exc
        live.guard("run end", live.end, agent, value, error)
        return value, error


def _loop(agent: Any) -> Any:
    """The body of ``DefaultAgent.run`` after its reset (mini 2.x): step until an ``exit`` message."""
    from minisweagent.exceptions import FormatError, InterruptAgentFlow

    while True:
        try:
            agent.step()
            agent.n_consecutive_format_errors = 0
        except FormatError as e:
            agent.cost += e.messages[0].get("extra", {}).get("cost", 0.0)
            agent.n_consecutive_format_errors += 1
            limit = agent.config.max_consecutive_format_errors
            if 0 < limit <= agent.n_consecutive_format_errors:
                agent.add_messages(
                    *e.messages,
                    {"role": "exit", "content": "RepeatedFormatError",
                     "extra": {"exit_status": "RepeatedFormatError", "submission": ""}},
                )
            else:
                agent.add_messages(*e.messages)
        except InterruptAgentFlow as e:
            agent.add_messages(*e.messages)
        except Exception as e:
            agent.handle_uncaught_exception(e)
            raise
        finally:
            agent.save(agent.config.output_path)
        if agent.messages[-1].get("role") == "exit":
            break
    return agent.messages[-1].get("extra", {})


def attempt_runner(target: Any, tracer: Tracer, **options: Any) -> MiniAttempts:
    """What :func:`codetracer.auto_retry` builds for a mini-swe-agent agent (``options`` go to ``instrument``)."""
    return MiniAttempts(target, tracer, **options)


@hookimpl
def codetracer_reinject(run: Run, diagnosis: Diagnosis, handle: Any) -> bool | None:
    """Keep the correction for the next attempt, which appends it to the agent's history."""
    if not isinstance(handle, MiniAttempts):
        return None
    return handle.reinject(run, diagnosis)

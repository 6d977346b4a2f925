"""Reflective replay for SWE-agent, through its hook system and without importing SWE-agent.

``codetracer.auto_retry(agent, verify=..., env=env, output_dir=out).run(problem_statement=ps)``: each attempt is
``agent.run(env=env, problem_statement=ps, output_dir=out)``. ``DefaultAgent.run`` rebuilds the history in
``setup`` (system prompt, demonstrations, the instance), so the next attempt starts with the diagnosis *in its
history*: a small agent hook (:class:`CorrectionHook`) appends the correction as a user message when setup is done
(``on_setup_done``; ``on_run_start`` on SWE-agent versions without it). The traced run of that attempt is linked to
the first attempt's run through ``parent_run_id`` (:class:`SweAgentHook` ``retry_of``).

Budget: SWE-agent's limits live in its model config (``per_instance_call_limit``, ``per_instance_cost_limit``);
they are set to what the shared budget has left before each attempt when the agent's model exposes them (and put
back afterwards). The tree's outcome is the agent's own (``info``); the verdict is in the run's ``replay`` metadata.

Workspace: SWE-agent runs in a Docker deployment; rollback and command verifiers need ``workspace=`` pointing at a
local folder holding the repository (e.g. a mounted volume).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from codetracer.adapters.swe_agent.hook import SweAgentHook, _get, outcome_of
from codetracer.adapters.swe_agent.live import instrument
from codetracer.core.model import Diagnosis, Run
from codetracer.hooks.specs import hookimpl
from codetracer.replay.engine import AttemptResult, AttemptRunner, Judge
from codetracer.replay.policy import Budget

if TYPE_CHECKING:  # pragma: no cover
    from codetracer.core.tracer import Tracer

_LIMITS = (("per_instance_call_limit", "steps"), ("per_instance_cost_limit", "cost"))


class CorrectionHook:
    """An ``AbstractAgentHook`` that puts a pending correction into the agent's history once setup is done."""

    def __init__(self) -> None:
        self.agent: Any = None
        self.pending: str | None = None

    def on_init(self, *, agent: Any = None, **_: Any) -> None:
        self.agent = agent

    def _inject(self) -> None:
        if self.pending is None or self.agent is None:
            return
        text, self.pending = self.pending, None
        entry = {"role": "user", "content": text, "agent": getattr(self.agent, "name", "main"), "message_type": "user"}
        append = getattr(self.agent, "_append_history", None)
        if callable(append):
            append(entry)
        else:
            self.agent.history.append(entry)

    def on_setup_done(self, **_: Any) -> None:
        self._inject()

    def on_run_start(self, **_: Any) -> None:
        self._inject()

    def __getattr__(self, name: str) -> Any:
        """Every other hook method of ``AbstractAgentHook``: nothing to do."""
        if name.startswith("on_"):
            return lambda *args, **kwargs: None
        raise AttributeError(name)


class SweAgentAttempts(AttemptRunner):
    """Runs the attempts of one SWE-agent agent (the handle the reinject hook receives)."""

    framework = "swe-agent"

    def __init__(self, agent: Any, tracer: Tracer, **run_kwargs: Any) -> None:
        instrument(agent, tracer)
        hook = getattr(agent, "_codetracer_hook", None)
        if not isinstance(hook, SweAgentHook):  # pragma: no cover - slotted agents
            raise TypeError("codetracer could not attach its hook to this SWE-agent agent")
        super().__init__(agent, hook.tracer)
        self.hook = hook
        self.correction_hook = CorrectionHook()
        agent.add_hook(self.correction_hook)
        self.correction_hook.agent = self.correction_hook.agent or agent
        self.run_kwargs = run_kwargs

    def _model_config(self) -> Any:
        return getattr(getattr(self.target, "model", None), "config", None)

    def default_budget(self) -> Budget:
        cfg = self._model_config()
        steps = getattr(cfg, "per_instance_call_limit", 0) or None
        cost = getattr(cfg, "per_instance_cost_limit", 0) or None
        return Budget(steps=steps, cost=cost)

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
        cfg = self._model_config()
        saved = {}
        for name, axis in _LIMITS:
            left = getattr(remaining, axis)
            if cfg is not None and left is not None and hasattr(cfg, name):
                saved[name] = getattr(cfg, name)
                setattr(cfg, name, max(1, left) if axis == "steps" else max(left, 1e-9))
        if n > 1:
            self.hook.retry_of = parent_run_id
            self.correction_hook.pending = self.pending
            self.pending = None
        value: Any = None
        error: BaseException | None = None
        try:
            value = self.target.run(*args, **{**self.run_kwargs, **kwargs})
        except Exception as exc:  # noqa: BLE001 - judged; re-raised by the engine if it was the last try
            error = exc
        finally:
            for name, old in saved.items():
                setattr(cfg, name, old)
        info = _get(value, "info") or {}
        status = _get(info, "exit_status")
        status = status if isinstance(status, str) else None
        run_id = self.hook.run_ids[-1] if self.hook.run_ids else None
        return AttemptResult(value=value, error=error, run_id=run_id, exit_status=status,
                             agent_failed=value is not None and outcome_of(info, status) == "failed")


def attempt_runner(target: Any, tracer: Tracer, **options: Any) -> SweAgentAttempts:
    """What :func:`codetracer.auto_retry` builds for a SWE-agent agent; ``options`` are ``agent.run`` keywords
    (``env=``, ``output_dir=``)."""
    return SweAgentAttempts(target, tracer, **options)


@hookimpl
def codetracer_reinject(run: Run, diagnosis: Diagnosis, handle: Any) -> bool | None:
    """Keep the correction; the next attempt's setup puts it into the agent's history."""
    if not isinstance(handle, SweAgentAttempts):
        return None
    return handle.reinject(run, diagnosis)

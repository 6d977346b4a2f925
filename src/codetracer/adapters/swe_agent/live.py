"""Live tracing of SWE-agent through its own hook system, without importing SWE-agent.

SWE-agent is not on PyPI, so nothing here imports it: :class:`SweAgentHook` has the 13 methods of
``sweagent.agent.hooks.abstract.AbstractAgentHook`` (duck typing is all ``agent.add_hook`` needs) and
:class:`SweAgentRunHook` the methods of ``sweagent.run.hooks.abstract.RunHook``, attaching one agent hook per agent
in single and batch runs::

    agent.add_hook(SweAgentHook())                 # one agent
    run_batch.add_hook(SweAgentRunHook())          # every instance of a batch (or a RunSingle)
    codetracer.trace(agent)                        # the same as the first line

How the hook calls become the tree (the mapping is the ``.traj`` extractor's, so live and offline trees match):

* ``on_setup_attempt`` begins a run; RetryAgent calls it once per attempt, and attempts after the first become runs
  of their own with ``parent_run_id`` set to the first attempt's run. The run is announced once the system prompt
  and the task message have arrived (``on_setup_done``, ``on_run_start`` or the first step, whichever comes first:
  ``on_setup_done`` does not exist in older SWE-agent versions).
* ``on_step_start`` .. ``on_step_done`` is one step; ``on_actions_generated`` gives its thought and the model's
  answer (an LLM call) and starts the tool call, ``on_action_executed`` finishes it. A step whose model answer was
  rejected and re-queried (format error, blocked command, bash syntax error) is a step of its own, as in the
  trajectory; answers that failed to parse are read from ``agent.trajectory`` when the agent is known.
* ``on_step_done`` with ``done`` ends the run: its ``exit_status`` and ``info`` decide the outcome, exactly as the
  extractor decides it from the saved ``info``.

Every callback body is guarded: an exception inside codetracer is logged once per callback and never reaches the
agent. One hook serves one agent (SWE-agent runs an agent on one thread); use one hook per agent for parallel runs,
which :class:`SweAgentRunHook` does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from codetracer.adapters.swe_agent.hook import SweAgentHook, outcome_of
from codetracer.adapters.swe_agent.run_hook import SweAgentRunHook
from codetracer.adapters.swe_agent.steps import SUBMISSION_MARKER

if TYPE_CHECKING:  # pragma: no cover
    from codetracer.core.tracer import Tracer

__all__ = ["FRAMEWORK_MODULES", "SUBMISSION_MARKER", "SweAgentHook", "SweAgentRunHook", "instrument", "outcome_of"]

FRAMEWORK_MODULES = ("sweagent",)
"""Top-level package of the objects :func:`instrument` handles (read by :mod:`codetracer.live`)."""


def instrument(target: Any, tracer: Tracer, **options: Any) -> Any:
    """``codetracer.trace(agent_or_run)``: a SWE-agent agent gets a :class:`SweAgentHook`, a ``RunSingle`` /
    ``RunBatch`` (anything with ``add_hook`` taking run hooks) a :class:`SweAgentRunHook`. Returns the target.

    Tracing the same agent twice adds no second hook."""
    if callable(getattr(target, "step", None)) and callable(getattr(target, "add_hook", None)):
        existing = getattr(target, "_codetracer_hook", None)
        if isinstance(existing, SweAgentHook):
            return target
        hook = SweAgentHook(tracer, **options)
        target.add_hook(hook)
        hook._agent = hook._agent or target
        try:
            target._codetracer_hook = hook
        except (AttributeError, TypeError):  # pragma: no cover - slotted or frozen agents
            pass
        return target
    if callable(getattr(target, "add_hook", None)):
        existing = getattr(target, "_codetracer_run_hook", None)
        if isinstance(existing, SweAgentRunHook):
            return target
        run_hook = SweAgentRunHook(tracer, **options)
        target.add_hook(run_hook)
        try:
            target._codetracer_run_hook = run_hook
        except (AttributeError, TypeError):  # pragma: no cover
            pass
        return target
    from codetracer.core.errors import CodetracerError

    raise CodetracerError(f"codetracer cannot trace a {type(target).__name__}: expected a SWE-agent agent or run")

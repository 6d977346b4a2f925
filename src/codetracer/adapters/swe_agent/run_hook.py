"""SWE-agent run hooks: every instance of a ``RunSingle`` or ``RunBatch`` traced, through SWE-agent's hook API only.

How each kind of run is reached (and why not otherwise):

* ``RunSingle`` holds its one agent: ``on_init(run=...)`` hands the hook the run, and a live
  :class:`~codetracer.adapters.swe_agent.hook.SweAgentHook` is added to ``run.agent``.
* ``RunBatch`` builds each instance's agent inside ``RunBatch._run_instance`` and never shows it to a run hook:
  ``on_instance_start`` gets the environment and the problem statement, ``on_instance_completed`` the result, and the
  only agent hook ``RunBatch`` adds is its own progress display. So the hook does not reach for the agent (reading it
  from the caller's stack frame, as an earlier version did, depends on a local variable's name in SWE-agent's
  source): an instance is traced when it completes, from the ``.traj`` SWE-agent has just written for it
  (``<output_dir>/<id>/<id>.traj``, RetryAgent attempts included), read by the ``.traj`` extractor -- the same
  mapping the live hook uses, so the tree is the live tree (the integration tests compare them field by field). The
  run reaches the store when its instance ends rather than step by step; a batch killed mid-instance leaves that
  instance's ``.traj`` (SWE-agent saves it after every step) for ``codetracer analyze``.
* A fork of SWE-agent that announces each agent it makes (``on_agent_created(agent=...)``) is traced live.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codetracer.adapters.swe_agent.hook import SweAgentHook, Verifier, _get, _guarded

if TYPE_CHECKING:  # pragma: no cover
    from codetracer.core.tracer import Tracer

log = logging.getLogger("codetracer.adapters.swe_agent")


def _agent_of(run: Any) -> Any:
    """The run's own agent (``RunSingle.agent``), if it has one that takes hooks."""
    agent = _get(run, "agent")
    return agent if agent is not None and callable(getattr(agent, "add_hook", None)) else None


class SweAgentRunHook:
    """A ``RunHook`` (``run.add_hook(SweAgentRunHook())``) that traces every instance of the run it is added to.

    :param tracer: where the events go (default: the process-wide tracer).
    :param metadata: extra facts stored on every run.
    :param verify: given to the agent hook of a ``RunSingle`` (see :class:`SweAgentHook`); batch instances take
        their verdict, as offline, from a SWE-bench ``report.json`` beside their trajectory.
    """

    def __init__(
        self,
        tracer: Tracer | None = None,
        *,
        metadata: Mapping[str, Any] | None = None,
        verify: Verifier | None = None,
    ) -> None:
        if tracer is None:
            from codetracer import get_tracer

            tracer = get_tracer()
        self.tracer = tracer
        self.metadata = dict(metadata or {})
        self.verify = verify
        self.hooks: list[SweAgentHook] = []
        """The live agent hooks attached so far, one per agent."""
        self.run_ids: list[str] = []
        """Runs of batch instances read from their trajectories, in the order the instances completed."""
        self._run: Any = None
        self._attached: weakref.WeakKeyDictionary[Any, SweAgentHook] = weakref.WeakKeyDictionary()
        self._current = threading.local()
        self._lock = threading.Lock()

    def attach(self, agent: Any, instance_id: str | None = None) -> SweAgentHook:
        """Add a :class:`SweAgentHook` to ``agent`` unless it has one from this run hook already."""
        with self._lock:
            try:
                hook = self._attached.get(agent)
            except TypeError:  # not weak-referenceable: track it by identity on the hook list
                hook = next((h for h in self.hooks if h._agent is agent), None)
            if hook is not None:
                return hook
            hook = SweAgentHook(self.tracer, metadata=self.metadata, instance_id=instance_id, verify=self.verify)
            self.hooks.append(hook)
            try:
                self._attached[agent] = hook
            except TypeError:
                pass
        agent.add_hook(hook)
        hook._agent = hook._agent or agent
        return hook

    @_guarded
    def on_init(self, *, run: Any = None, **_: Any) -> None:
        """``RunSingle`` already holds its agent; ``RunBatch`` makes one per instance, out of the hook's sight."""
        self._run = run
        agent = _agent_of(run)
        if agent is not None:
            self.attach(agent)

    @_guarded
    def on_start(self, **_: Any) -> None:
        """Nothing to record: runs begin per instance."""

    @_guarded
    def on_agent_created(self, *, agent: Any = None, **_: Any) -> None:
        """Forks of SWE-agent that announce each new agent: traced live."""
        if agent is not None:
            self.attach(agent)

    @_guarded
    def on_instance_start(self, *, index: Any = None, env: Any = None, problem_statement: Any = None, **_: Any) -> None:
        ident = _get(problem_statement, "id")
        ident = ident if isinstance(ident, str) and ident else None
        self._current.instance = ident
        agent = _agent_of(self._run)
        hook = None
        if agent is not None:
            hook = self.attach(agent, ident)
            if hook.instance_id is None:
                hook.instance_id = ident
        self._current.hook = hook

    @_guarded
    def on_instance_skipped(self, **_: Any) -> None:
        """A skipped instance (its trajectory exists already) runs no agent."""

    @_guarded
    def on_instance_completed(self, *, result: Any = None, **_: Any) -> None:
        """Close a live run the agent never closed; trace a batch instance from the trajectory it just wrote."""
        hook = getattr(self._current, "hook", None)
        if hook is not None:
            if hook._open:
                info = _get(result, "info")
                status = _get(info, "exit_status")
                hook._finish(info, exit_status=status if isinstance(status, str) else None)
            return
        self._trace_completed(getattr(self._current, "instance", None))

    def _trace_completed(self, instance: str | None) -> None:
        output_dir = _get(self._run, "output_dir")
        if instance is None or output_dir is None:
            return
        path = Path(output_dir) / instance / f"{instance}.traj"
        if not path.is_file():
            log.warning("codetracer: no trajectory at %s for SWE-agent instance %s; it is not traced", path, instance)
            return
        from codetracer.adapters.swe_agent.artifacts import read_trajectory

        self.run_ids.extend(read_trajectory(path, self.tracer.events, metadata={**self.metadata, "batch": True}))

    @_guarded
    def on_end(self, **_: Any) -> None:
        """Runs still open now belong to agents that raised (RunSingle lets it propagate): close them as failed."""
        for hook in list(self.hooks):
            if hook._open:
                hook._finish(None, exit_status=None, note="the agent stopped without finishing its run")

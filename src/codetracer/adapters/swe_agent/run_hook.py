"""SWE-agent run hooks: one :class:`~codetracer.adapters.swe_agent.hook.SweAgentHook` per agent, for ``RunSingle``
and ``RunBatch`` (whose agents are made per instance, out of reach of a hook given to the run).
"""

from __future__ import annotations

import logging
import sys
import threading
import weakref
from collections.abc import Mapping
from types import FrameType
from typing import TYPE_CHECKING, Any

from codetracer.adapters.swe_agent.hook import SweAgentHook, _get, _guarded

if TYPE_CHECKING:  # pragma: no cover
    from codetracer.core.tracer import Tracer

log = logging.getLogger("codetracer.adapters.swe_agent")


def _agent_of_caller(depth: int = 6) -> Any:
    """The ``agent`` local of the calling SWE-agent frame.

    ``RunBatch`` builds each instance's agent inside ``_run_instance`` and hands run hooks only the environment and
    the problem statement, right before ``agent.run``; reading that local is the only way a run hook can reach the
    agent of a batch instance (on the instance's own worker thread, so parallel workers each find their own).
    """
    frame: FrameType | None = sys._getframe(2)
    for _ in range(depth):
        if frame is None:
            return None
        candidate = frame.f_locals.get("agent")
        if candidate is not None and not isinstance(candidate, str) and callable(getattr(candidate, "add_hook", None)):
            return candidate
        frame = frame.f_back
    return None


class SweAgentRunHook:
    """A ``RunHook`` (``run.add_hook(SweAgentRunHook())``) that attaches a :class:`SweAgentHook` to the agent of
    every instance, so batch runs are traced without touching the agent's construction.

    :param tracer: where the events go (default: the process-wide tracer).
    :param metadata: extra facts stored on every run.
    """

    def __init__(self, tracer: Tracer | None = None, *, metadata: Mapping[str, Any] | None = None) -> None:
        if tracer is None:
            from codetracer import get_tracer

            tracer = get_tracer()
        self.tracer = tracer
        self.metadata = dict(metadata or {})
        self.hooks: list[SweAgentHook] = []
        """The agent hooks attached so far, one per agent."""
        self._run: Any = None
        self._attached: weakref.WeakKeyDictionary[Any, SweAgentHook] = weakref.WeakKeyDictionary()
        self._current = threading.local()
        self._lock = threading.Lock()
        self._warned = False

    def attach(self, agent: Any, instance_id: str | None = None) -> SweAgentHook | None:
        """Add a :class:`SweAgentHook` to ``agent`` unless it has one from this run hook already."""
        with self._lock:
            try:
                hook = self._attached.get(agent)
            except TypeError:  # not weak-referenceable: track it by identity on the hook list
                hook = next((h for h in self.hooks if h._agent is agent), None)
            if hook is not None:
                return hook
            hook = SweAgentHook(self.tracer, metadata=self.metadata, instance_id=instance_id)
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
        """``RunSingle`` already holds its agent; ``RunBatch`` makes one per instance later."""
        self._run = run
        agent = _get(run, "agent")
        if agent is not None and callable(getattr(agent, "add_hook", None)):
            self.attach(agent)

    @_guarded
    def on_start(self, **_: Any) -> None:
        """Nothing to record: runs begin per instance."""

    @_guarded
    def on_agent_created(self, *, agent: Any = None, **_: Any) -> None:
        """Forks of SWE-agent that announce each new agent: the direct way in."""
        if agent is not None:
            self.attach(agent)

    @_guarded
    def on_instance_start(self, *, index: Any = None, env: Any = None, problem_statement: Any = None, **_: Any) -> None:
        agent = _get(self._run, "agent")
        if agent is None or not callable(getattr(agent, "add_hook", None)):
            agent = _agent_of_caller()
        ident = _get(problem_statement, "id")
        ident = ident if isinstance(ident, str) else None
        if agent is None:
            if not self._warned:
                self._warned = True
                log.warning("codetracer cannot find the agent of this SWE-agent run; add SweAgentHook() to the agent "
                            "with agent.add_hook(...) instead")
            self._current.hook = None
            return
        hook = self.attach(agent, ident)
        if hook is not None and hook.instance_id is None:
            hook.instance_id = ident
        self._current.hook = hook

    @_guarded
    def on_instance_skipped(self, **_: Any) -> None:
        """A skipped instance (its trajectory exists already) runs no agent."""

    @_guarded
    def on_instance_completed(self, *, result: Any = None, **_: Any) -> None:
        """Close the instance's run if the agent never did (its last step did not report ``done``)."""
        hook = getattr(self._current, "hook", None)
        if hook is not None and hook._open:
            info = _get(result, "info")
            status = _get(info, "exit_status")
            hook._finish(info, exit_status=status if isinstance(status, str) else None)

    @_guarded
    def on_end(self, **_: Any) -> None:
        """Runs still open now belong to agents that raised (RunBatch logs and skips those): close them as failed."""
        for hook in list(self.hooks):
            if hook._open:
                hook._finish(None, exit_status=None, note="the agent stopped without finishing its run")

"""One codetracer run for a block of code: the state behind ``with codetracer.task("fix the failing test"):``.

Why: a hand-written tool loop (``model.invoke``, then ``tool.invoke`` for each call it asked for, again and again)
is, to LangChain, one outermost run per call; traced as such it is ten runs for one task, none of which knows the
task or can be judged. A :class:`TaskScope` is the task: the framework runs that start inside the block (in its
context, so in its thread and in the asyncio tasks and threads that copy the context) join one codetracer run whose
task is the block's; the block's end ends that run, judged by its ``verify=`` as every live run is.

How: the block sets :data:`CURRENT` (a ``ContextVar``) while it runs. An adapter that would start a run of its own
asks :func:`current` for the block of its tracer and, when there is one, calls :meth:`TaskScope.join` instead: the
first join starts the run (with the adapter's framework name), later ones only get its id. The run is ended by
:meth:`TaskScope.finish` when the block exits: an exception that escapes it makes the run ``failed`` (the error is
the run's, unless a step already holds it), a cancellation ``unknown`` with that word (:mod:`codetracer.core.
endings`), otherwise ``verify(result)`` judges it (:func:`codetracer.core.checks.decide`: its command, exit code and
output are the run's verification node), else ``unknown``. A failed run is diagnosed when it is stored, on the
tracer's writer thread, like every failed live run.

A block in another thread, or one whose context was not copied, is not seen: calls made there are runs of their own.
A block inside a block is a run of its own (``metadata["task_parent"]`` names the enclosing block's run). Nothing
here imports a framework.
"""

from __future__ import annotations

import logging
import threading
import time
import warnings
from collections.abc import Callable, Mapping
from contextvars import ContextVar, Token
from typing import TYPE_CHECKING, Any

from codetracer.core import checks, endings, ids
from codetracer.core.model import Outcome

if TYPE_CHECKING:  # pragma: no cover
    from codetracer.core.tracer import Tracer

log = logging.getLogger("codetracer.task")

CURRENT: ContextVar[TaskScope | None] = ContextVar("codetracer_task", default=None)
"""The innermost ``codetracer.task`` block running in this context."""

Ender = Callable[[str, str, float], None]
"""What a joined adapter runs as the block ends, before the run does: ``ender(run_id, ending, timestamp)``,
``ending`` in the words of :mod:`codetracer.core.endings` (``"failed"`` for a failure)."""


def current(tracer: Tracer) -> TaskScope | None:
    """The ``codetracer.task`` block of ``tracer`` running in this context, if any (one ``ContextVar`` lookup)."""
    scope = CURRENT.get()
    if scope is None or scope.tracer is not tracer or scope.closed:
        return None
    return scope


class TaskScope:
    """A ``codetracer.task`` block: the task, how it is judged, and the one run the framework runs inside it join.

    :param verify: judges the block when it ends without an exception: a shell command (run in the working folder
        of the process), or ``verify(result)`` (``verify()`` for a callable that takes no argument) returning what
        every ``verify=`` may return (``True``/``False``, ``"solved"``/``"failed"``, ``None``, a
        ``CompletedProcess``). Without it, the verifier of the first handler that joins (``codetracer.langchain(
        verify=...)``), else the run is ``unknown``.
    """

    def __init__(self, tracer: Tracer, task: str | None = None, *, verify: Any = None,
                 metadata: Mapping[str, Any] | None = None) -> None:
        if task is not None and not isinstance(task, str):
            raise TypeError(f"codetracer.task() takes the task as a string, not {type(task).__name__}")
        self.tracer = tracer
        self.task = task
        self.verify = checks.CommandCheck(verify) if isinstance(verify, str) else verify
        self.metadata = dict(metadata or {})
        self.result: Any = None
        """What ``verify`` is called with (set it in the block: ``t.result = answer``)."""
        self.run_id: str | None = None
        """The block's run, once a framework run joined it."""
        self.reported: list[BaseException] = []
        """Exceptions already recorded in the run (shared with the joined adapters): the block does not repeat one."""
        self.closed = False
        self.started_at = time.time()
        self._lock = threading.Lock()
        self._enders: list[Ender] = []
        self._fallback: tuple[Any, str | bool | None] = (None, None)
        self._outer: TaskScope | None = None
        self._token: Token[TaskScope | None] | None = None

    # -- the block ---------------------------------------------------------------------------------------------------

    def __enter__(self) -> TaskScope:
        self._outer = CURRENT.get()
        self.started_at = time.time()
        self._token = CURRENT.set(self)
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        if self._token is not None:
            try:
                CURRENT.reset(self._token)
            except ValueError:  # exited in another context than it was entered in: leave that context as it is
                pass
            self._token = None
        self.finish(exc)

    async def __aenter__(self) -> TaskScope:
        return self.__enter__()

    async def __aexit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        self.__exit__(exc_type, exc, tb)

    # -- what adapters call ------------------------------------------------------------------------------------------

    def join(self, framework: str, *, task: str | None = None, metadata: Mapping[str, Any] | None = None,
             verify: Any = None, outcome: str | bool | None = None, on_end: Ender | None = None) -> str:
        """The id of the block's run; the first call starts it (``framework``; ``task`` when the block names none;
        ``verify``/``outcome``: the joining handler's own, used when the block has no ``verify``). ``on_end`` is run
        once as the block ends, before the run ends (an adapter closing what it still has in flight)."""
        with self._lock:
            if self.run_id is None:
                self.run_id = str(ids.uuid4())
                meta: dict[str, Any] = {**(metadata or {}), **self.metadata, "task_block": True}
                outer = self._outer
                if outer is not None and outer.run_id is not None:
                    meta["task_parent"] = outer.run_id
                self._fallback = (verify, outcome)
                self.tracer.events.run_started(self.run_id, framework, task=self.task or task, metadata=meta,
                                               timestamp=self.started_at)
            if on_end is not None and on_end not in self._enders:
                self._enders.append(on_end)
            return self.run_id

    # -- the end -----------------------------------------------------------------------------------------------------

    def finish(self, error: BaseException | None = None) -> str | None:
        """End the block's run (what leaving the block does); returns its id, ``None`` when nothing joined."""
        with self._lock:
            if self.closed:
                return self.run_id
            self.closed = True
            run_id, enders = self.run_id, list(self._enders)
        if run_id is None:
            warnings.warn(
                f"codetracer.task({self.task!r}) recorded no run: it groups the LangChain/LangGraph callback runs "
                "made inside it (register codetracer.langchain() or pass a codetracer handler); mini-swe-agent, "
                "OpenHands and SWE-agent runs are one run each already (give verify= to codetracer.trace)",
                RuntimeWarning, stacklevel=3)
            return None
        now = time.time()
        ending = endings.ending_of(error)
        for ender in enders:
            try:
                ender(run_id, ending or "failed", now)
            except Exception:  # tracing must never reach the agent
                log.exception("codetracer: closing a joined run of codetracer.task failed; the run still ends")
        events = self.tracer.events
        if ending is None:
            assert error is not None
            if not any(seen is error for seen in self.reported):
                events.error(run_id, str(error) or repr(error), kind=type(error).__name__, timestamp=now)
            outcome, exit_status = Outcome.FAILED.value, type(error).__name__
        elif ending == endings.FINISHED:
            verify, fixed = (self.verify, None) if self.verify is not None else self._fallback
            judge = checks.of_result(verify) if callable(verify) else verify
            outcome, exit_status = checks.decide(judge, self.result, fixed, events, run_id), ending
        else:
            outcome, exit_status = Outcome.UNKNOWN.value, ending
        events.run_finished(run_id, outcome, exit_status=exit_status, timestamp=now)
        return run_id


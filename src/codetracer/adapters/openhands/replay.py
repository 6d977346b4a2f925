"""Reflective replay for OpenHands: the diagnosis sent as a user message and the same conversation run again.

``codetracer.auto_retry(conversation, verify="python3 check.py").run(task)`` (the task is sent first when given;
without it the conversation runs on what was already sent). The conversation must carry codetracer's callback
(``Conversation(agent=agent, callbacks=[codetracer.trace(agent)])``): it is found among the conversation's callbacks
or passed as ``callback=``. A retry is ``conversation.send_message(correction)`` + ``conversation.run()``: the agent
keeps its whole event history, and the callback opens a new run with ``parent_run_id`` = the previous attempt's
run.

Budget: ``max_iteration_per_run`` (steps) and ``max_budget_per_run`` (cost) are per ``run()`` in the SDK, so each
attempt gets what the shared budget has left (the user's values are put back afterwards); by default the shared
budget is the conversation's own ``max_iteration_per_run`` (and ``max_budget_per_run`` when set).

Workspace: a ``LocalWorkspace``'s ``working_dir`` (verifiers and rollback); remote workspaces have none.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codetracer.adapters.openhands.live import CodetracerCallback
from codetracer.core.errors import CodetracerError
from codetracer.core.model import Diagnosis, Run
from codetracer.hooks.specs import hookimpl
from codetracer.replay.engine import AttemptResult, AttemptRunner, Judge
from codetracer.replay.policy import BUDGET_EXITS, Budget

if TYPE_CHECKING:  # pragma: no cover
    from codetracer.core.tracer import Tracer

FAILED_STATES = frozenset({"error", "stuck"})


def find_callback(conversation: Any) -> CodetracerCallback | None:
    """The :class:`CodetracerCallback` the conversation was built with.

    The SDK composes its callbacks once into a closure (``BaseConversation.compose_callbacks``) and keeps it as
    ``_base_callback``; there is no public accessor, so the closure's list is read (``None`` when the layout differs:
    then pass ``callback=``)."""
    composed = getattr(conversation, "_base_callback", None)
    for cell in getattr(composed, "__closure__", None) or ():
        try:
            value = cell.cell_contents
        except ValueError:  # an empty cell
            continue
        if isinstance(value, (list, tuple)):
            for item in value:
                if isinstance(item, CodetracerCallback):
                    return item
    return None


def _status(conversation: Any) -> str | None:
    status = getattr(getattr(conversation, "state", None), "execution_status", None)
    value = getattr(status, "value", status)
    return str(value).lower() if value is not None else None


def _last_error_code(conversation: Any, since: int) -> str | None:
    """The code of the last ``ConversationErrorEvent`` of this attempt (``MaxIterationsReached``, ...)."""
    events = getattr(getattr(conversation, "state", None), "events", None)
    if events is None:
        return None
    try:
        tail = list(events[since:])
    except Exception:  # noqa: BLE001 - an event log without slicing: no code
        return None
    for event in reversed(tail):
        if type(event).__name__ == "ConversationErrorEvent":
            code = getattr(event, "code", None)
            return code if isinstance(code, str) else None
    return None


class OpenHandsAttempts(AttemptRunner):
    """Runs the attempts of one OpenHands conversation (the handle the reinject hook receives)."""

    framework = "openhands"

    def __init__(self, conversation: Any, tracer: Tracer, *, callback: CodetracerCallback | None = None) -> None:
        cb = callback or find_callback(conversation)
        if cb is None:
            raise CodetracerError(
                "codetracer.auto_retry needs the conversation to be traced: build it with "
                "`Conversation(agent=agent, callbacks=[codetracer.trace(agent)])` or pass callback=<CodetracerCallback>"
            )
        super().__init__(conversation, cb.tracer)
        self.callback = cb
        self.task: str | None = None
        self.root: str | None = None

    def default_budget(self) -> Budget:
        steps = getattr(self.target, "max_iteration_per_run", None)
        cost = getattr(self.target, "max_budget_per_run", None)
        return Budget(steps=steps if isinstance(steps, int) else None,
                      cost=float(cost) if isinstance(cost, (int, float)) else None)

    def workspace(self) -> Path | None:
        folder = getattr(getattr(self.target, "workspace", None), "working_dir", None)
        return Path(folder) if isinstance(folder, (str, Path)) else None

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
        conv, cb = self.target, self.callback
        if n == 1:
            task = args[0] if args else kwargs.get("task")
            if isinstance(task, str):
                self.task = task
                conv.send_message(task)
        saved = {k: getattr(conv, k) for k in ("max_iteration_per_run", "max_budget_per_run") if hasattr(conv, k)}
        if remaining.steps is not None and "max_iteration_per_run" in saved:
            conv.max_iteration_per_run = max(1, remaining.steps)
        if remaining.cost is not None and "max_budget_per_run" in saved:
            conv.max_budget_per_run = max(remaining.cost, 1e-9)
        events = getattr(getattr(conv, "state", None), "events", None)
        since = len(events) if events is not None else 0
        error: BaseException | None = None
        cb.hold()  # the attempt's run ends below, with the verdict and the verifier's check in it
        try:
            conv.run()
        except Exception as exc:  # noqa: BLE001 - judged, recorded, re-raised by the engine if it was the last try
            error = exc
        finally:
            for key, value in saved.items():
                setattr(conv, key, value)
        status = _status(conv)
        code = _last_error_code(conv, since)
        exit_status = code if code in BUDGET_EXITS else status
        cause = error.__cause__ if error is not None and error.__cause__ is not None else error
        if code in BUDGET_EXITS:
            cause = None  # the SDK's own limit: a budget failure, not a crash
        try:
            verdict = judge(result=conv, error=cause, exit_status=exit_status, agent_failed=status in FAILED_STATES)
            cb.finish(verdict.outcome, status=getattr(conv.state, "execution_status", None), check=verdict.check)
        finally:
            cb.hold(False)
        run_id = cb.run_id
        if n == 1:
            self.root = run_id
        return AttemptResult(value=conv, error=error, run_id=run_id, exit_status=exit_status,
                             agent_failed=status in FAILED_STATES)

    def deliver(self, text: str) -> None:
        """``send_message`` on the same conversation; the callback files it under a new run of the same root."""
        self.callback.expect_retry(self.root, self.task)
        self.target.send_message(text)


def attempt_runner(target: Any, tracer: Tracer, **options: Any) -> OpenHandsAttempts:
    """What :func:`codetracer.auto_retry` builds for an OpenHands conversation (option: ``callback=``)."""
    return OpenHandsAttempts(target, tracer, **options)


@hookimpl
def codetracer_reinject(run: Run, diagnosis: Diagnosis, handle: Any) -> bool | None:
    """Send the correction into the conversation (``send_message``); the next attempt runs it."""
    if not isinstance(handle, OpenHandsAttempts):
        return None
    return handle.reinject(run, diagnosis)

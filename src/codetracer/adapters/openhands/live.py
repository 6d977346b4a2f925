"""Live tracing of OpenHands (``openhands-sdk``; ``openhands-ai`` builds on the same SDK) through its event callbacks.

One line registers it, at construction, because the SDK takes event callbacks only there::

    conversation = Conversation(agent=agent, callbacks=[codetracer.trace(agent)])

(or ``callbacks=[CodetracerCallback(tracer)]``). Every event the conversation emits reaches the callback right after
the SDK persisted it, in order. The callback turns each event into the SDK event *dict* the persisted
``events/event-NNNNN-<id>.json`` file holds and records it (``codetracer_record``: journaled, kept with the run);
off the agent's thread, :class:`EventMapper` hands the recorded dicts to the replay of the persisted-conversation
extractor (:mod:`codetracer.adapters.openhands.sdk`), so the live tree is, by construction, the tree
``codetracer analyze`` later extracts from the conversation's ``persistence_dir``: ``ActionEvent``s sharing an
``llm_response_id`` form one step whose tool calls are parallel siblings; ``ObservationEvent`` /
``AgentErrorEvent`` / ``UserRejectObservation`` answer a call by its tool call id; ``MessageEvent``s become messages.

Run boundaries: a run starts at the conversation's first event (a leading ``SystemPromptEvent`` waits for the next
event so the first user message can name the task). It ends on the conversation's own end, read from its events:
the agent's finish (the ``ObservationEvent`` answering its ``finish`` tool call, or an agent ``MessageEvent``, the
reply the SDK ends a turn with), a ``ConversationErrorEvent`` (``run()`` failed: the model raised, the iteration or
budget limit was hit) or a ``ConversationStateUpdateEvent`` whose execution status is ``finished`` or ``stuck``
(agent-server conversations emit them; a local one does when its ``state.set_on_state_change`` is given the
callback). Why events and not the status itself: the SDK hands callbacks events only, and the one channel that
reports status changes of a local conversation, ``set_on_state_change``, makes the SDK build an event (drawing a
``uuid4``) per state change, which would change the ids the traced conversation draws; codetracer never sets it.
A local conversation's stuck detector stops ``run()`` without any event: that run ends at :meth:`finish`
(``auto_retry`` and ``pytest --codetracer`` call it after ``run()``) or stays open until the process ends. An
event after a finished run (the conversation is run again, a stop hook or critic sends it on) starts a new run
``<run_id>#2``.

``verify=`` judges the run as it ends (a callable, or a shell command run in ``workspace=``, default the current
folder: the SDK's events do not name the conversation's): its command, exit code and output become the run's
verification node before the run is stored, so a failed run is diagnosed with that evidence. :meth:`finish` with an
outcome after the run ended records it as a late verdict on the stored run (``codetracer verdict RUN``).

The callback never raises into the agent: a failure is logged once, counted in ``failures``, and the agent goes on.
"""

from __future__ import annotations

import importlib.util
import logging
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from codetracer.adapters.openhands.common import FRAMEWORK, _content_text, _outcome_from_state, _Steps, _timestamp
from codetracer.adapters.openhands.sdk import MAPPED_KINDS, _SdkReplay, status_of_update
from codetracer.core import checks, ids
from codetracer.core.errors import CodetracerError

if TYPE_CHECKING:  # pragma: no cover
    from codetracer.core.checks import Check
    from codetracer.core.events import Events, Recorder
    from codetracer.core.tracer import Tracer

FRAMEWORK_MODULES = ("openhands",)
"""Top-level packages whose objects :func:`instrument` handles (``openhands.sdk``, ``openhands-ai``'s ``openhands``)."""

TERMINAL_STATES = frozenset({"finished", "error", "stuck"})
"""Execution statuses that end a run."""

FINISH_TOOL = "finish"
"""The name of the SDK's built-in ``FinishTool``: its observation is the agent's own end of the run."""

Verifier = Callable[..., Any] | str
"""``verify()`` or ``verify(result)`` (``result``: ``{"execution_status": ..., "workspace": ...}``) answering
``True``/``False``/``None``, a :class:`~codetracer.core.checks.Check` or a ``CompletedProcess``; or a shell command
run in the workspace (see :mod:`codetracer.core.checks`)."""

log = logging.getLogger("codetracer")

_ONE_LINE = "Conversation(agent=agent, callbacks=[codetracer.trace(agent)])"


class _LiveReplay(_SdkReplay):
    """The persisted-conversation replay, fed one event at a time instead of from a folder."""

    def __init__(self, events: Events, run_id: str, model: str | None) -> None:
        super().__init__(Path(run_id), {}, events)  # no folder live: only the mapping state is used
        self.run_id = run_id
        self.steps = _Steps(events, run_id)
        self.model = model


MAPPER = "openhands"
"""The registered name of :class:`EventMapper`, the record mapper of live OpenHands runs (see
:mod:`codetracer.plugins`)."""


class EventMapper:
    """Maps one live run's recorded SDK events with the persisted-conversation replay (off the agent's thread).

    Records are ``(file name, kind, event dict)`` in the conversation's order, after a first ``{"settings": ...}``
    record naming the model.
    """

    def __init__(self, events: Events, run_id: str) -> None:
        self.replay = _LiveReplay(events, run_id, None)
        self.last_ts: float | None = None

    def feed(self, payload: Any, timestamp: float | None) -> None:
        if isinstance(payload, dict):
            settings = payload.get("settings")
            if isinstance(settings, dict):
                self.replay.model = settings.get("model")
            return
        name, kind, data = payload
        ts = _timestamp(data.get("timestamp"))
        if ts is not None:
            self.last_ts = ts
        self.replay._event(_file(name), data, kind, ts)

    def close(self) -> None:
        self.replay.steps.close(self.last_ts)


class _EventFile:
    """The name of the file the SDK persists an event in: all the mapping reads of the file it is given, without a
    ``Path`` (building one costs more than the rest of an event's mapping)."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name


def _file(name: str) -> Path:
    return cast(Path, _EventFile(name))


def _status_text(status: Any) -> str | None:
    """An execution status as the persisted JSON writes it (``"finished"``), from the enum or a string."""
    if status is None:
        return None
    value = getattr(status, "value", status)
    return str(value).lower()


def _text_blocks(content: Any) -> list[dict[str, Any]]:
    """SDK content objects (``TextContent``, ``ImageContent``) as the ``{"type": "text", "text": ...}`` blocks of
    their JSON form; only the text matters to the mapping, images are skipped there too."""
    if not content:
        return []
    blocks = []
    for item in content:
        text = getattr(item, "text", None)
        if isinstance(text, str):
            blocks.append({"type": "text", "text": text})
    return blocks


def _action_event_data(event: Any) -> dict[str, Any]:
    """The fields of an ``ActionEvent``'s JSON form that the mapping reads, without dumping the whole event (the
    hot path: one per tool call)."""
    tool_call = event.tool_call
    action = event.action
    return {
        "id": event.id,
        "timestamp": event.timestamp,
        "llm_response_id": event.llm_response_id,
        "tool_name": event.tool_name,
        "tool_call_id": event.tool_call_id,
        "thought": _text_blocks(event.thought),
        "reasoning_content": event.reasoning_content,
        "tool_call": {"arguments": tool_call.arguments} if tool_call is not None else None,
        "action": action.model_dump(mode="json") if action is not None else None,
    }


def _observation_event_data(event: Any) -> dict[str, Any]:
    """The fields of an ``ObservationEvent``'s JSON form that the mapping reads (one per tool call)."""
    observation = event.observation
    fields = type(observation).model_fields
    return {
        "id": event.id,
        "timestamp": event.timestamp,
        "tool_call_id": event.tool_call_id,
        "action_id": event.action_id,
        "observation": {
            "content": _text_blocks(observation.content),
            "exit_code": observation.exit_code if "exit_code" in fields else None,
            "is_error": observation.is_error,
        },
    }


_PROJECTIONS = {"ActionEvent": _action_event_data, "ObservationEvent": _observation_event_data}


def event_data(event: Any) -> tuple[str, dict[str, Any]]:
    """``(kind, dict)`` of an SDK event as its persisted JSON holds it (as far as the mapping reads it)."""
    kind = type(event).__name__
    project = _PROJECTIONS.get(kind)
    if project is not None:
        try:
            return kind, project(event)
        except AttributeError:  # a future SDK moved a field: the full dump is slower but still right
            pass
    data = event.model_dump(mode="json")
    found = data.get("kind")
    return (found if isinstance(found, str) else kind), data


def _require_sdk() -> None:
    """A clear error where the live adapter cannot work: openhands-sdk is not importable (on Python 3.11 the
    ``[openhands]`` extra installs codetracer without it, since the SDK needs Python >= 3.12)."""
    try:
        found = importlib.util.find_spec("openhands.sdk") is not None
    except (ImportError, ValueError):  # no top-level ``openhands`` package
        found = False
    if found:
        return
    here = f"Python {sys.version_info.major}.{sys.version_info.minor}"
    if sys.version_info < (3, 12):
        raise CodetracerError(
            f"OpenHands needs Python >= 3.12 (openhands-sdk requires it) and this is {here}: "
            "`pip install 'codetracer[openhands]'` here installs codetracer without OpenHands. "
            "Use a Python 3.12+ environment for the agent; OpenHands runs left on disk are read on any Python "
            "(`codetracer analyze <persistence_dir>/<conversation id>`)"
        )
    raise CodetracerError(
        f"OpenHands live tracing needs openhands-sdk, which is not installed in this {here} environment: "
        "`pip install 'codetracer[openhands]'`"
    )


def _not_open(payload: Any, timestamp: float | None) -> None:
    raise RuntimeError("an OpenHands event was recorded with no run open")


class CodetracerCallback:
    """An OpenHands conversation callback that traces the conversation's runs into ``tracer``.

    Use one callback per conversation: the SDK's events do not name their conversation, so a callback's events are
    one run at a time.

    :param tracer: where the runs go (``codetracer.get_tracer()`` for the process-wide one).
    :param run_id: the first run's id (default: a fresh ``openhands:live:<hex>``); later runs get ``#2``, ``#3``.
    :param task: the task statement; by default the text of the conversation's first user message.
    :param model: the agent's model name for the tree's LLM calls (``codetracer.trace(agent)`` fills it in); the
        SDK's events do not carry it.
    :param metadata: extra run metadata (JSON-serialisable).
    :param verify: judges each run as it ends with the agent's finish (see :data:`Verifier`): ``True``/``False``
        make it solved/failed, ``None`` leaves it ``unknown`` (the agent's claim); its command, exit code and output
        become the run's verification node. A verifier that raises or cannot run is a verifier error: the outcome
        stays ``unknown``. Runs that end in an error or stuck are ``failed`` without asking it.
    :param workspace: the folder a command ``verify`` runs in (default: the current folder; the SDK's events do
        not name the conversation's workspace).
    """

    def __init__(
        self,
        tracer: Tracer,
        run_id: str | None = None,
        task: str | None = None,
        *,
        model: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        verify: Verifier | None = None,
        workspace: str | Path | None = None,
    ) -> None:
        _require_sdk()
        if verify is not None and not (isinstance(verify, str) or callable(verify)):
            raise CodetracerError(f"codetracer.trace(verify=...) takes a callable or a shell command, not "
                                  f"{type(verify).__name__}")
        self.tracer = tracer
        self.verify = verify
        self.workspace = Path(workspace) if workspace is not None else None
        self.base_run_id = run_id or f"{FRAMEWORK}:live:{ids.hex_id(12)}"
        self.task = task
        self.model = model
        self.metadata = dict(metadata or {})
        self.run_ids: list[str] = []
        """Ids of the runs this callback started, in order."""
        self.failures = 0
        """Events the callback could not trace (logged once; the agent never sees the error)."""
        self._events = tracer.events
        self._lock = threading.Lock()  # parallel tool calls may report from worker threads
        self._open: str | None = None  # the open run's id
        self._record_event: Recorder = _not_open  # records an event of the open run
        self._pending: list[tuple[str, str, dict[str, Any]]] = []
        self._index = 0  # position of the next event in the conversation's event log (its file name)
        self._last_raw_ts: Any = None  # the last event's timestamp as the SDK wrote it (parsed once, at the end)
        self._status: str | None = None  # the open run's execution status, as far as its events said
        self._conversation_error = False
        self._skipped = 0
        self._next: tuple[str | None, str | None] = (None, None)  # (parent run, task) of the next run: see retry()
        self._held = False  # while True the conversation's end only notes the status: the caller's finish() ends it

    def expect_retry(self, parent_run_id: str | None, task: str | None) -> None:
        """The next run is a reflective-replay attempt of ``parent_run_id`` (its first message is the correction,
        so ``task`` names the original task)."""
        with self._lock:
            self._next = (parent_run_id, task)

    def hold(self, held: bool = True) -> None:
        """While held, the conversation's own end (finish, error, stuck) does not end the run: the caller's
        :meth:`finish` does, with its verdict (``auto_retry`` holds each attempt so that its verifier's check lands
        in the run)."""
        with self._lock:
            self._held = held

    @property
    def run_id(self) -> str | None:
        """The id of the current (or last) run, ``None`` before the first event."""
        return self.run_ids[-1] if self.run_ids else None

    @property
    def active(self) -> bool:
        """True while a run is open."""
        return self._open is not None

    # -- the callback -------------------------------------------------------------------------------------------------

    def __call__(self, event: Any) -> None:
        """Trace one SDK event. Never raises: the conversation must not notice codetracer."""
        try:
            with self._lock:
                self._on_event(event)
        except Exception:  # noqa: BLE001 - whatever breaks in tracing, the agent goes on
            self._failed("event")

    def _on_event(self, event: Any) -> None:
        if type(event).__name__ == "ConversationStateUpdateEvent":
            self._on_state_update(event)
            return
        kind, data = event_data(event)
        name = f"event-{self._index:05d}-{data.get('id')}.json"
        self._index += 1
        if self._open is None:
            if kind == "SystemPromptEvent" and self.task is None:
                self._pending.append((name, kind, data))  # wait: the next event may be the task's message
                return
            self._start(self._task_of(kind, data), data.get("timestamp"))
        self._record(name, kind, data)
        if kind == "ConversationErrorEvent":
            self._conversation_error = True
            if self._status not in ("error", "stuck"):
                self._status = "error"  # the SDK sets it just before emitting the error
            self._end_here()
        elif (kind == "ObservationEvent" and getattr(event, "tool_name", None) == FINISH_TOOL) or (
            kind == "MessageEvent" and data.get("source") == "agent"
        ):
            # the agent's own end: the SDK sets the status to finished right after either
            self._status = "finished"
            self._end_here()

    def _on_state_update(self, event: Any) -> None:
        """State syncs are not tree content; they end the run when the status becomes finished or stuck. An
        ``error`` status waits for the ``ConversationErrorEvent`` the SDK emits right after it (so the error is in
        the run), unless the next status change comes first."""
        if self._open is None or getattr(event, "key", None) not in ("execution_status", "full_state"):
            return
        status = status_of_update(event_data(event)[1])
        if status is None:
            return
        waiting_error = self._status == "error" and not self._conversation_error
        self._status = status
        if status in ("finished", "stuck"):
            self._end_here()
        elif waiting_error and status != "error":
            self._status = "error"
            self._end_here()

    def _end_here(self) -> None:
        """The conversation ended the run (unless a caller holds it to end it with a verdict)."""
        if not self._held:
            self._end(None, None)

    def _record(self, name: str, kind: str, data: dict[str, Any]) -> None:
        """One event into the open run, as the dict its persisted file holds (mapped later by :class:`EventMapper`)."""
        assert self._open is not None
        raw_ts = data.get("timestamp")
        if raw_ts is not None:
            self._last_raw_ts = raw_ts
        if kind not in MAPPED_KINDS:
            self._skipped += 1
        self._record_event((name, kind, data), None)

    def _task_of(self, kind: str, data: dict[str, Any]) -> str | None:
        if self.task is not None:
            return self.task
        if kind == "MessageEvent" and data.get("source") == "user":
            message = data.get("llm_message")
            if isinstance(message, dict):
                return _content_text(message.get("content")) or None
        return None

    def _start(self, task: str | None, raw_ts: Any = None) -> None:
        """Open a run; its start is the first event's time, a waiting system prompt's if there is one."""
        n = len(self.run_ids) + 1
        run_id = self.base_run_id if n == 1 else f"{self.base_run_id}#{n}"
        self.run_ids.append(run_id)
        pending, self._pending = self._pending, []
        first_ts = _timestamp(pending[0][2].get("timestamp") if pending else raw_ts)
        meta: dict[str, Any] = {"format": "openhands-sdk-live", **self.metadata}
        if self.model:
            meta["model"] = self.model
        parent, retry_task = self._next
        self._next = (None, None)
        if parent is not None:
            meta["attempt_of"] = parent
            task = retry_task or task
        self._events.run_started(run_id, FRAMEWORK, task=task, metadata=meta, parent_run_id=parent, timestamp=first_ts)
        self._record_event = self._events.recorder(run_id, MAPPER)
        self._record_event({"settings": {"model": self.model}}, None)
        self._open = run_id
        self._status, self._conversation_error, self._skipped = None, False, 0
        for name, kind, data in pending:
            self._record(name, kind, data)

    def _end(self, outcome: str | None, status: str | None) -> None:
        run_id = self._open
        assert run_id is not None
        self._open = None
        if status is not None:
            self._status = status
        state = self._status
        meta: dict[str, Any] = {"skipped_events": self._skipped} if self._skipped else {}
        if outcome is None and self.verify is not None and state == "finished" and not self._conversation_error:
            check = self._verdict(state)
            if check is not None:
                check.emit(self._events, run_id, time.time())
                meta["resolved"] = check.passed
                if check.error is not None:
                    meta["verifier_error"] = check.error
                if check.passed is not None:
                    outcome = "solved" if check.passed else "failed"
        if outcome is None:
            outcome = "failed" if self._conversation_error else _outcome_from_state(state, None)
        if self.failures:
            meta["trace_failures"] = self.failures
        ts = _timestamp(self._last_raw_ts)
        self._events.run_finished(run_id, outcome, exit_status=state, metadata=meta, timestamp=ts)

    def _verdict(self, state: str | None) -> checks.Check | None:
        """What ``verify`` said about the run that just ended (never raises: a broken verifier is a verifier
        error). A command string runs in ``workspace``."""
        from codetracer.replay.policy import make_verifier

        fn = make_verifier(self.verify, self.workspace)
        assert fn is not None
        result = {"execution_status": state, "workspace": str(self.workspace) if self.workspace else None}
        return checks.call(fn, result, name=checks.describe(self.verify))

    # -- the caller's end of a run ------------------------------------------------------------------------------------

    def finish(self, outcome: str | None = None, *, status: Any = None, check: Check | None = None) -> None:
        """End the current run, or judge the last one when it already ended.

        The conversation's own end ends the run by itself; call this when it cannot (a stuck local run), when the
        run is held (:meth:`hold`), or to give the verdict of a check made after the run. On a run that already
        ended, an ``outcome`` is recorded as a late verdict on the stored run (as ``codetracer verdict RUN``
        does: a failed run is diagnosed then); without one it is a no-op, so it can sit in a ``finally``.

        :param outcome: ``"solved"`` / ``"failed"`` / ``"unknown"`` when the caller knows (a verifier's verdict);
            by default it is derived from ``status`` exactly as the offline extractor derives it from
            ``base_state.json``: ``failed`` for error/stuck, ``unknown`` for finished (the agent's own claim; a
            ``verify`` given to the callback judges it then).
        :param status: the conversation's execution status, ``conversation.state.execution_status``.
        :param check: what the verifier that gave ``outcome`` said (:class:`~codetracer.core.checks.Check`: its
            command, exit code and output), kept as the run's verification node (``auto_retry`` passes it); for a
            late verdict, it names who judged.
        """
        late: str | None = None
        try:
            with self._lock:
                if self._open is None and not self._pending:
                    if outcome is None or not self.run_ids:
                        return
                    late = self.run_ids[-1]
                else:
                    if self._open is None:
                        self._start(self.task)
                    if check is not None and self._open is not None:
                        check.emit(self._events, self._open)
                    self._end(None if outcome is None else str(outcome), _status_text(status))
            if late is not None:
                self._late_verdict(late, str(outcome), check)
        except Exception:  # noqa: BLE001 - the caller's run must not fail because tracing did
            self._failed("finish")

    def _late_verdict(self, run_id: str, outcome: str, check: Check | None) -> None:
        """``outcome`` given after ``run_id`` ended: recorded on the stored run (and the tree in ``tracer.runs``)."""
        tracer = self.tracer
        if not tracer.persist:
            log.warning("codetracer: the verdict %s for %s is not recorded: the tracer stores nothing", outcome, run_id)
            return
        from codetracer.verdicts import verdict

        tracer.flush()
        by = check.verifier if check is not None and check.ran else "CodetracerCallback.finish"
        judged = verdict(run_id, outcome, by=by, home=tracer.home, project=tracer.project)
        for run in tracer.runs:
            if run.id == run_id:
                run.outcome, run.diagnosis, run.metadata = judged.outcome, judged.diagnosis, judged.metadata

    def _failed(self, where: str) -> None:
        self.failures += 1
        if self.failures == 1:
            log.warning("codetracer could not trace an OpenHands %s; tracing goes on", where, exc_info=True)
        else:
            log.debug("codetracer could not trace an OpenHands %s", where, exc_info=True)


def _is_conversation(target: Any) -> bool:
    cls = target if isinstance(target, type) else type(target)
    return any(klass.__name__.endswith("Conversation") for klass in cls.__mro__)


def instrument(target: Any, tracer: Tracer, **options: Any) -> CodetracerCallback:
    """``codetracer.trace(agent)``: a :class:`CodetracerCallback` for the agent's conversation.

    Pass it at construction: ``Conversation(agent=agent, callbacks=[codetracer.trace(agent)])``. A conversation
    that already exists cannot be traced: openhands-sdk takes event callbacks only in the constructor (it composes
    them once into a private chain, with no public way to add one), so that raises a :class:`CodetracerError`
    saying the line to use. ``options`` go to :class:`CodetracerCallback` (``run_id``, ``task``, ``metadata``).
    """
    if _is_conversation(target):
        raise CodetracerError(
            f"codetracer cannot attach to an OpenHands {type(target).__name__} that already exists: openhands-sdk "
            f"takes event callbacks only when the conversation is built. Build it with `{_ONE_LINE}` "
            "(or callbacks=[CodetracerCallback(tracer)] from codetracer.adapters.openhands.live)"
        )
    llm = getattr(target, "llm", None)
    if llm is None:
        raise CodetracerError(
            f"codetracer cannot trace an OpenHands {type(target).__name__}: trace the agent and pass the result "
            f"as a conversation callback, `{_ONE_LINE}`"
        )
    model = getattr(llm, "model", None)
    options.setdefault("model", model if isinstance(model, str) else None)
    return CodetracerCallback(tracer, **options)

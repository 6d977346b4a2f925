"""The live tracer's trace-event sink: each open run's events, kept as they came; the tree is built when needed.

Building a tree event by event cost about 3 µs per event on the agent's thread (inside a real agent, whose own work
between two events evicts the builder from the CPU caches), and a mapped record (``codetracer_record``) costs far
more. Yet a live run's tree is only needed when the run finishes (on the tracer's writer thread), when someone looks
at an open run (:meth:`RunLog.snapshot`) or after a crash (recovery replays the journal, which holds the same events).
So on the agent's thread an event is one tuple, appended to its run's list and written to its run's journal, and
:func:`build_tree` replays the list through a :class:`~codetracer.core.builder.TreeBuilder` later: the same builder,
the same events in the same order, so the tree is the one the builder would have built on the spot.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from codetracer.core.blobs import INLINE_LIMIT, BlobStore, make_text
from codetracer.core.builder import Node, TreeBuilder
from codetracer.core.events import Recorder
from codetracer.core.journal import FIELDS, Journal
from codetracer.core.model import Run
from codetracer.hooks.specs import hookimpl

log = logging.getLogger("codetracer")

Op = tuple[Any, ...]
"""One event: ``(name, *arguments)``, the hook's name without ``codetracer_`` and its arguments in the spec's order
(the journal's line format)."""

_REMEMBERED = 4096
"""Finished run ids remembered to drop late events (a run's events arrive within seconds of its end)."""

FinishedSink = Callable[[str, list[Op], "float | None"], None]
"""Called with a run's id, its events and, for a run closed as incomplete, the closing time."""


class _Ops(list[Op]):
    """An open run's events, the function that journals each (``None`` without a journal), and whether the run is
    still open (a recorder's events go through the hook once it is not)."""

    __slots__ = ("open", "write")

    def __init__(self, write: Callable[[Op], None] | None) -> None:
        super().__init__()
        self.write = write
        self.open = True


def _replay(ops: Sequence[Op], builder: TreeBuilder) -> int:
    """Apply events to ``builder`` in order; returns how many made it raise (each skipped, as on the live path)."""
    methods = {name: getattr(builder, f"codetracer_{name}") for name in FIELDS}
    failed = 0
    for op in ops:
        try:
            methods[op[0]](*op[1:])
        except Exception:
            failed += 1
            if failed == 1:
                log.exception("codetracer: the tree builder failed on a %s event; it is skipped", op[0])
    return failed


def build_tree(ops: Sequence[Op], blobs: BlobStore | None = None, *, closed_at: float | None = None) -> Node:
    """The tree of one run's events. A run whose ``run_finished`` is missing is closed as incomplete at ``closed_at``.

    Events that make the builder raise are skipped and counted in the run's ``dropped_events``.
    """
    nodes: list[Node] = []
    builder = TreeBuilder(on_finished=nodes.append, blobs=blobs)
    failed = _replay(ops, builder)
    if not nodes:
        builder.finalize_incomplete(closed_at)
    node = nodes[0]
    node["dropped_events"] = node.get("dropped_events", 0) + failed
    return node


class RunLog:
    """Keeps the events of open runs (and journals them); hands each run's events on when it finishes.

    A text over :data:`~codetracer.core.blobs.INLINE_LIMIT` (a 100 MB log dump) goes to the blob store at once, as
    the tree builder would put it, and the kept event and its journal line hold the elided text (head, tail, blob
    digest): an open run never holds a huge output in memory until it ends.

    Thread-safe: events of one run arrive in order from whichever thread runs it; the table of open runs is guarded
    by a lock only where a run is opened or closed.

    :param on_finished: gets ``(run_id, events, None)`` when a run finishes, ``(run_id, events, closed_at)`` when
        :meth:`finalize_incomplete` closes it.
    :param journal: where each event is also written as it comes (crash safety), or ``None``.
    """

    def __init__(self, on_finished: FinishedSink, journal: Journal | None = None, blobs: BlobStore | None = None):
        self._open: dict[str, _Ops] = {}
        self._lock = threading.Lock()
        self._finished: dict[str, None] = {}  # recently finished run ids, oldest first (bounded)
        self.late_events = 0
        """Events that arrived after their run finished: dropped and counted, so a straggler (a worker thread's
        late callback) can never reopen a finished run and replace its stored tree with an empty one."""
        self._on_finished = on_finished
        self._blobs = blobs
        self._journal = journal
        self.run_context: Callable[[], Mapping[str, Any] | None] | None = None
        """Called as each run starts (on the agent's thread, must be cheap): metadata every run gets under what its
        adapter gives, e.g. the pytest plugin's ``pytest_test``, whatever framework the run is of."""

    # -- reading open runs --------------------------------------------------------------------------------------------

    def open_run_ids(self) -> list[str]:
        with self._lock:
            return list(self._open)

    def snapshot(self, run_id: str) -> Run | None:
        """An open run as it stands, validated (its open step and calls still open)."""
        with self._lock:
            ops = list(self._open.get(run_id, ()))
        if not ops:
            return None
        builder = TreeBuilder(blobs=self._blobs)
        _replay(ops, builder)
        return builder.snapshot(run_id)

    def finalize_incomplete(self, timestamp: float | None = None) -> int:
        """Close every open run as incomplete (process exit); returns how many. They go where finished runs go."""
        with self._lock:
            runs = list(self._open.items())
            self._open.clear()
        for run_id, ops in runs:
            ops.open = False
            self._on_finished(run_id, ops, timestamp)
        return len(runs)

    def _small(self, value: Any) -> Any:
        """``value``, or for a huge text its elided form with the whole text in the blob store."""
        if type(value) is str and len(value) > INLINE_LIMIT and self._blobs is not None:
            return make_text(value, self._blobs).model_dump()
        return value

    # -- the hot path -------------------------------------------------------------------------------------------------

    def _add(self, run_id: str, op: Op) -> None:
        ops = self._open.get(run_id)
        if ops is None:
            ops = self._opened(run_id, op[0])
            if ops is None:
                return
        ops.append(op)
        if ops.write is not None:
            ops.write(op)

    def _opened(self, run_id: str, event: str) -> _Ops | None:
        """The events of a run that has none yet (its journal opened now); ``None`` for a late event."""
        with self._lock:
            if run_id in self._finished and event != "run_started":
                self._late(run_id, event)
                return None
            self._finished.pop(run_id, None)  # a run id used again on purpose starts a new run
            ops = self._open.get(run_id)
            if ops is not None:  # another thread of the run came first
                return ops
        write = self._journal.writer(run_id) if self._journal is not None else None  # outside the lock: file work
        with self._lock:
            return self._open.setdefault(run_id, _Ops(write))

    def direct_recorder(
        self,
        run_id: str,
        mapper: str,
        *,
        valid: list[bool],
        fallback: Recorder,
        on_error: Callable[[Exception], None],
    ) -> Recorder | None:
        """A function that records ``(payload, timestamp)`` for an open run exactly as ``codetracer_record(run_id,
        mapper, payload, timestamp)`` does, without a hook dispatch or a lookup of the run: for adapters whose
        framework hands them a record per turn (a mini-swe-agent message, an OpenHands event, a LangGraph update).

        Once the run has finished, or ``valid[0]`` is false (the caller's way to say other plugins now want the
        records too), a record goes to ``fallback`` (the hook) instead. An exception is given to ``on_error``, never
        raised: the caller is the agent. ``None`` if the run is not open.
        """
        ops = self._open.get(run_id)
        if ops is None:
            return None
        write = ops.write

        def record(payload: Any, timestamp: float | None = None) -> None:
            if not valid[0] or not ops.open:
                fallback(payload, timestamp)
                return
            op = ("record", run_id, mapper, payload, timestamp)
            try:
                ops.append(op)
                if write is not None:
                    write(op)
            except Exception as exc:  # noqa: BLE001 - the agent must never see it
                on_error(exc)

        return record

    @hookimpl
    def codetracer_run_started(
        self,
        run_id: str,
        framework: str,
        task: str | None,
        metadata: Mapping[str, Any],
        parent_run_id: str | None,
        timestamp: float | None,
    ) -> None:
        if self.run_context is not None:
            context = self.run_context()
            if context:
                metadata = {**context, **metadata}
        self._add(run_id, ("run_started", run_id, framework, task, metadata, parent_run_id, timestamp))

    @hookimpl
    def codetracer_run_finished(
        self, run_id: str, outcome: str, exit_status: str | None, metadata: Mapping[str, Any], timestamp: float | None
    ) -> None:
        self._add(run_id, ("run_finished", run_id, outcome, exit_status, metadata, timestamp))
        with self._lock:
            ops = self._open.pop(run_id, None)
            if ops is not None:
                ops.open = False
                self._finished[run_id] = None
                if len(self._finished) > _REMEMBERED:
                    del self._finished[next(iter(self._finished))]
        if ops is not None:
            self._on_finished(run_id, ops, None)

    def _late(self, run_id: str, event: str) -> None:
        self.late_events += 1
        if self.late_events == 1:
            log.warning("codetracer dropped a %s event of run %s, which had already finished (counted in "
                        "late_events; the stored run is kept as it was)", event, run_id)

    @hookimpl
    def codetracer_stage_declared(self, run_id: str, kind: str, start_step: int, end_step: int, source: str) -> None:
        self._add(run_id, ("stage_declared", run_id, kind, start_step, end_step, source))

    @hookimpl
    def codetracer_step_started(
        self,
        run_id: str,
        step_key: str,
        agent: str | None,
        thought: str | None,
        raw_ref: str | None,
        timestamp: float | None,
    ) -> None:
        if type(thought) is str and len(thought) > INLINE_LIMIT:  # _small inline: this is the hot path
            thought = self._small(thought)
        self._add(run_id, ("step_started", run_id, step_key, agent, thought, raw_ref, timestamp))

    @hookimpl
    def codetracer_step_finished(self, run_id: str, step_key: str, timestamp: float | None) -> None:
        self._add(run_id, ("step_finished", run_id, step_key, timestamp))

    @hookimpl
    def codetracer_llm_call_started(
        self,
        run_id: str,
        step_key: str,
        call_id: str,
        model: str | None,
        input_messages: int | None,
        timestamp: float | None,
    ) -> None:
        self._add(run_id, ("llm_call_started", run_id, step_key, call_id, model, input_messages, timestamp))

    @hookimpl
    def codetracer_llm_call_finished(
        self,
        run_id: str,
        call_id: str,
        response: str | None,
        input_tokens: int | None,
        output_tokens: int | None,
        cost: float | None,
        timestamp: float | None,
    ) -> None:
        self._add(
            run_id,
            ("llm_call_finished", run_id, call_id, self._small(response), input_tokens, output_tokens, cost, timestamp),
        )

    @hookimpl
    def codetracer_tool_call_started(
        self,
        run_id: str,
        step_key: str,
        call_id: str,
        tool: str,
        arguments: Mapping[str, Any],
        command: str | None,
        edits: Sequence[Mapping[str, Any]],
        raw_ref: str | None,
        timestamp: float | None,
    ) -> None:
        self._add(
            run_id,
            ("tool_call_started", run_id, step_key, call_id, tool, arguments, command, edits, raw_ref, timestamp),
        )

    @hookimpl
    def codetracer_tool_call_finished(
        self,
        run_id: str,
        call_id: str,
        output: str | None,
        exit_code: int | None,
        is_error: bool,
        timestamp: float | None,
    ) -> None:
        if type(output) is str and len(output) > INLINE_LIMIT:  # _small inline: this is the hot path
            output = self._small(output)
        self._add(run_id, ("tool_call_finished", run_id, call_id, output, exit_code, is_error, timestamp))

    @hookimpl
    def codetracer_call_ended(self, run_id: str, call_id: str, ending: str, timestamp: float | None) -> None:
        self._add(run_id, ("call_ended", run_id, call_id, ending, timestamp))

    @hookimpl
    def codetracer_observation(
        self,
        run_id: str,
        step_key: str,
        text: str,
        exit_code: int | None,
        is_error: bool,
        raw_ref: str | None,
        timestamp: float | None,
    ) -> None:
        self._add(run_id, ("observation", run_id, step_key, self._small(text), exit_code, is_error, raw_ref, timestamp))

    @hookimpl
    def codetracer_message(
        self,
        run_id: str,
        step_key: str | None,
        role: str,
        content: str,
        name: str | None,
        raw_ref: str | None,
        timestamp: float | None,
    ) -> None:
        self._add(run_id, ("message", run_id, step_key, role, self._small(content), name, raw_ref, timestamp))

    @hookimpl
    def codetracer_error(
        self, run_id: str, step_key: str | None, error: str, kind: str | None, timestamp: float | None
    ) -> None:
        self._add(run_id, ("error", run_id, step_key, error, kind, timestamp))

    @hookimpl
    def codetracer_verification(
        self,
        run_id: str,
        verifier: str,
        passed: bool | None,
        command: str | None,
        exit_code: int | None,
        output: str | None,
        failed_tests: Sequence[str],
        passed_tests: Sequence[str],
        timestamp: float | None,
    ) -> None:
        self._add(run_id, ("verification", run_id, verifier, passed, command, exit_code, self._small(output),
                           failed_tests, passed_tests, timestamp))

    @hookimpl
    def codetracer_record(self, run_id: str, mapper: str, payload: Any, timestamp: float | None) -> None:
        self._add(run_id, ("record", run_id, mapper, payload, timestamp))

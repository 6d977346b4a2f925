"""The callback logic shared by the sync and the async handler: LangChain callbacks -> codetracer runs and records.

Each outermost LangChain run is one codetracer run; the runs below it are found by walking ``parent_run_id``. On the
agent's thread a callback is routed to its run and its model or tool facts are journaled as one record, which
:class:`~codetracer.adapters.langchain.turns.TurnMapper` turns into steps and calls when the tree is built.

LangGraph raises its control flow through the callbacks: a handoff (``ParentCommand``) is no error, an interrupt
(``GraphInterrupt``) pauses the run (it ends ``interrupted``, its tool call too), a cancellation or a stop ends the
calls in flight as ``cancelled``; an exception a graph node raises outside any model or tool call is a step of that
node. How a run ends is said in the words of :mod:`codetracer.core.endings`, as on the graph path.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast
from uuid import UUID

from codetracer.adapters.langchain.common import (
    FRAMEWORK,
    Verifier,
    claims_of,
    ending_outcome,
    error_text,
    is_control_flow,
    links_of,
    node_path,
    run_metadata,
    task_and_parent,
    thread_meta,
)
from codetracer.adapters.langchain.turns import MAPPER, content_text
from codetracer.core import endings, scope
from codetracer.core.events import Events, Recorder
from codetracer.core.tracer import Tracer

log = logging.getLogger("codetracer.langchain")

F = TypeVar("F", bound=Callable[..., None])


def _guarded(method: F) -> F:
    """Never let a tracing bug reach the agent: catch everything, log once per callback kind, go on."""
    name = method.__name__

    @functools.wraps(method)
    def wrapper(self: _Recorder, *args: Any, **kwargs: Any) -> None:
        try:
            method(self, *args, **kwargs)
        except Exception:  # noqa: BLE001 - tracing must never reach the agent
            self._failed(name)

    return cast(F, wrapper)


# --------------------------------------------------------------------------------------------------------------------
# State: one _Run per codetracer run, one _Node per LangChain run id seen
# --------------------------------------------------------------------------------------------------------------------


class _Muted:
    """Events of a run another handler of the same tracer already records: every call is a no-op."""

    def __getattr__(self, name: str) -> Callable[..., None]:
        return _no_op


def _no_op(*args: Any, **kwargs: Any) -> None:
    return None


_MUTED = _Muted()


@dataclass(slots=True)
class _Run:
    id: str
    root: UUID
    events: Any
    """The tracer's :class:`Events`, or :data:`_MUTED` when another handler of the tracer records this run."""
    lc_ids: list[int] = field(default_factory=list)
    """Keys of every LangChain run of the tree, dropped from the handler's table when the run ends."""
    record: Recorder = _no_op
    """Records a model or tool callback of the run (:meth:`~codetracer.core.events.Events.recorder`); a no-op when
    another handler records the run."""
    reported: list[BaseException] = field(default_factory=list)
    """Exceptions already recorded (LangChain re-raises one exception through every enclosing run)."""
    task: str | None = None
    interrupted: bool = False
    """LangGraph paused the run (``interrupt()``, ``interrupt_before``): it ends ``interrupted``, not ``finished``."""
    thread_id: str | None = None
    joined: bool = False
    """A run of a ``codetracer.task`` block (:mod:`codetracer.core.scope`): this LangChain root is one of its calls,
    and the block, not the root's end, ends the codetracer run."""


@dataclass(slots=True)
class _Node:
    run: _Run
    kind: str  # "chain" | "llm" | "tool"
    root: bool = False
    meta: Mapping[str, Any] | None = None
    """A chain's metadata: which graph node it belongs to, should it raise."""


def _where(metadata: Mapping[str, Any] | None) -> tuple[str | None, str | None]:
    """(graph node path, agent) of a model or tool run: ``lc_agent_name``, else the subgraph's node."""
    if not metadata:
        return None, None
    path, outer = node_path(metadata.get("langgraph_checkpoint_ns"))
    agent = metadata.get("lc_agent_name")
    return path, agent if isinstance(agent, str) and agent else outer


# --------------------------------------------------------------------------------------------------------------------
# Small readers of LangChain objects (duck-typed, so version drift degrades to less detail, never to an exception)
# --------------------------------------------------------------------------------------------------------------------


def _name(serialized: Any, kwargs: Mapping[str, Any]) -> str | None:
    name = kwargs.get("name")
    if isinstance(name, str) and name:
        return name
    if isinstance(serialized, Mapping):
        name = serialized.get("name")
        if isinstance(name, str) and name:
            return name
        ident = serialized.get("id")
        if isinstance(ident, list) and ident:
            return str(ident[-1])
    return None


def _model_name(serialized: Any, metadata: Mapping[str, Any] | None, kwargs: Mapping[str, Any]) -> str | None:
    if metadata:
        name = metadata.get("ls_model_name")
        if isinstance(name, str) and name:
            return name
    params = kwargs.get("invocation_params")
    if isinstance(params, Mapping):
        for key in ("model", "model_name", "model_id"):
            value = params.get(key)
            if isinstance(value, str) and value:
                return value
    return _name(serialized, kwargs)


def _generation_message(response: Any) -> tuple[Any, str | None]:
    """The first generation's message (chat models) and its text, from an ``LLMResult``."""
    generations = getattr(response, "generations", None) or []
    if not generations or not generations[0]:
        return None, None
    generation = generations[0][0]
    message = getattr(generation, "message", None)
    if message is not None:
        return message, content_text(getattr(message, "content", None))
    return None, getattr(generation, "text", None)


def _tokens(response: Any, message: Any) -> tuple[int | None, int | None]:
    usage = getattr(message, "usage_metadata", None)
    if isinstance(usage, Mapping):
        return usage.get("input_tokens"), usage.get("output_tokens")
    llm_output = getattr(response, "llm_output", None)
    if isinstance(llm_output, Mapping):
        usage = llm_output.get("token_usage") or llm_output.get("usage")
        if isinstance(usage, Mapping):
            return usage.get("prompt_tokens", usage.get("input_tokens")), usage.get(
                "completion_tokens", usage.get("output_tokens")
            )
    return None, None


def _tool_output(output: Any) -> tuple[str, bool]:
    """A tool's result as text, and whether the framework marked it an error (a ``ToolMessage`` with status error)."""
    if isinstance(output, str):
        return output, False
    if hasattr(output, "content"):
        return content_text(output.content), getattr(output, "status", None) == "error"
    update = getattr(output, "update", None)  # a LangGraph Command returned by the tool
    if isinstance(update, Mapping) and isinstance(update.get("messages"), list):
        messages = update["messages"]
        answers = [m for m in messages if getattr(m, "type", None) == "tool"]
        if answers:  # a handoff passes the whole history on, its own answer last
            return content_text(answers[-1].content), getattr(answers[-1], "status", None) == "error"
        texts = [content_text(getattr(m, "content", m)) for m in messages]
        return "\n".join(texts), any(getattr(m, "status", None) == "error" for m in messages)
    return str(output), False


# --------------------------------------------------------------------------------------------------------------------
# The recorder
# --------------------------------------------------------------------------------------------------------------------


class _Recorder:
    """Turns LangChain callbacks into codetracer events. Thread-safe; one instance may serve many runs at once.

    Events are emitted while holding the lock, so the events of one run keep their causal order even when LangGraph
    runs parallel tool calls in a thread pool.
    """

    def __init__(
        self,
        tracer: Tracer,
        *,
        outcome: str | bool | None = None,
        verifier: Verifier | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        self.tracer = tracer
        self.events: Events = tracer.events
        self.outcome = outcome
        self.verifier = verifier
        self.metadata = dict(metadata or {})
        self.failures = 0
        """Callbacks that failed inside the handler (logged once per kind, never raised)."""
        self._logged: set[str] = set()
        self._lock = threading.Lock()
        self._nodes: dict[int, _Node] = {}
        """LangChain run id (as ``UUID.int``: hashing a UUID runs Python code, an int does not) -> node."""
        self._runs: dict[str, _Run] = {}
        self._claims = claims_of(tracer)
        self._links = links_of(tracer)

    # -- bookkeeping --------------------------------------------------------------------------------------------------

    def _failed(self, name: str) -> None:
        """Called from an ``except`` block: count the failure, log it once per callback kind."""
        self.failures += 1
        if name not in self._logged:
            self._logged.add(name)
            log.exception("codetracer's LangChain handler failed in %s; the run goes on (logged once)", name)

    def open_run_ids(self) -> list[str]:
        """codetracer runs this handler has started and not yet finished."""
        with self._lock:
            return list(dict.fromkeys(run.id for run in self._runs.values()))

    def _child(self, key: int, parent_run_id: UUID | None, kind: str,
               meta: Mapping[str, Any] | None = None) -> _Node | None:
        """The hot path (call under the lock): a run inside a known run is one lookup and one small object."""
        parent = self._nodes.get(parent_run_id.int) if parent_run_id is not None else None
        if parent is None:
            return None
        node = self._nodes[key] = _Node(parent.run, kind, False, meta)
        parent.run.lc_ids.append(key)
        return node

    def _enter(
        self,
        key: int,
        run_id: UUID,
        parent_run_id: UUID | None,
        kind: str,
        *,
        inputs: Any,
        serialized: Any,
        kwargs: Mapping[str, Any],
        tags: list[str] | None,
        metadata: Mapping[str, Any] | None,
        now: float | None,
        name: str | None = None,
    ) -> _Node:
        """Register a LangChain run under its parent's codetracer run, or start a new one when it is outermost."""
        node = self._child(key, parent_run_id, kind)
        if node is not None:
            return node
        owned = self._claims.claim(run_id)
        block = scope.current(self.tracer) if owned else None
        if block is not None:
            return self._join(block, key, run_id, kind, inputs, metadata, now)
        run = _Run(str(run_id), run_id, self.events if owned else _MUTED, [key])
        self._runs[run.id] = run
        node = self._nodes[key] = _Node(run, kind, root=True, meta=metadata)
        if owned:
            name = name or _name(serialized, kwargs)
            meta = run_metadata(run_id, name, tags, metadata, parent_run_id, self.metadata)
            meta["trace_path"] = "callbacks"
            thread, paused_task = thread_meta(self._links, metadata.get("thread_id") if metadata else None)
            meta.update(thread)
            run.thread_id = meta.get("thread_id")
            task, parent = task_and_parent(inputs, metadata)
            run.task = task = task or paused_task
            run.events.run_started(run.id, FRAMEWORK, task=task, metadata=meta, parent_run_id=parent,
                                   timestamp=now or time.time())
            run.record = run.events.recorder(run.id, MAPPER)
        return node

    def _join(self, block: scope.TaskScope, key: int, run_id: UUID, kind: str, inputs: Any,
              metadata: Mapping[str, Any] | None, now: float | None) -> _Node:
        """An outermost LangChain run inside a ``codetracer.task`` block: one call of the block's run, which the
        first call starts (its task: the block's, else this call's first user message)."""
        task, _ = task_and_parent(inputs, metadata)
        meta: dict[str, Any] = {**self.metadata, "trace_path": "callbacks"}
        if metadata and metadata.get("ls_integration") == "langgraph":
            meta["langgraph"] = True
        block_run = block.join(FRAMEWORK, task=task, metadata=meta, verify=self.verifier, outcome=self.outcome,
                               on_end=self._block_ended)
        run = _Run(block_run, run_id, self.events, [key], reported=block.reported, joined=True)
        run.record = self.events.recorder(block_run, MAPPER)
        self._runs[str(run_id)] = run
        node = self._nodes[key] = _Node(run, kind, root=True, meta=metadata)
        return node

    def _block_ended(self, run_id: str, ending: str, now: float) -> None:
        """A ``codetracer.task`` block this recorder joined ends ``ending``: its calls still in flight end with it
        (the record every run's end writes, written once for the block's run)."""
        self.events.recorder(run_id, MAPPER)(("end", run_id, ending, now), None)

    @staticmethod
    def _first_report(run: _Run, error: BaseException) -> bool:
        """True the first time ``error`` reaches the run (LangChain re-raises it through every enclosing run)."""
        if any(seen is error for seen in run.reported):
            return False
        run.reported.append(error)
        return True

    def _report(self, run: _Run, error: BaseException, step_key: str | None, now: float) -> None:
        if self._first_report(run, error):
            run.events.error(run.id, error_text(error), step_key=step_key, kind=type(error).__name__, timestamp=now)

    def _finish_run(self, run: _Run, outputs: Any, error: BaseException | None, now: float) -> None:
        """End the run in the words of :mod:`codetracer.core.endings`: returned (``finished``, or ``interrupted``
        when LangGraph paused it), raised (``failed``), stopped by the caller or cancelled."""
        for lc_id in run.lc_ids:
            self._nodes.pop(lc_id, None)
        self._runs.pop(str(run.root), None)
        if run.events is _MUTED:
            return
        self._claims.release(run.root)
        if run.joined:  # one call of a codetracer.task block: the block ends the run
            if error is not None and endings.ending_of(error) is None:
                self._report(run, error, None, now)
            return
        ending = endings.ending_of(error)
        if ending == endings.FINISHED and run.interrupted:
            ending = endings.INTERRUPTED
        if ending is None:
            assert error is not None
            self._report(run, error, None, now)
        run.record(("end", run.root, ending or "failed", now), None)
        outcome, exit_status = ending_outcome(ending, error, self.outcome, self.verifier, outputs, run.events,
                                             run.id)
        run.events.run_finished(run.id, outcome, exit_status=exit_status, timestamp=now)
        self._links.ended(run.thread_id, run.id, ending or "failed", run.task)

    def _chain_failed(self, node: _Node, run_id: UUID, error: BaseException, now: float) -> None:
        """A chain inside the run raised. LangGraph's control flow is no error; an interrupt marks the run; the first
        report of a real exception is a step of the graph node it came from (when a model or tool raised it, their
        own callback reported it already), else an error of the run."""
        run = node.run
        ending = endings.ending_of(error)
        if ending == endings.INTERRUPTED:
            run.interrupted = True
            return
        if ending is not None or is_control_flow(error) or not self._first_report(run, error):
            return  # a cancellation or a stop: the outermost run says how the run ended
        path, outer = node_path(node.meta.get("langgraph_checkpoint_ns") if node.meta else None)
        if path is None:
            run.events.error(run.id, error_text(error), step_key=None, kind=type(error).__name__, timestamp=now)
            return
        agent = node.meta.get("lc_agent_name") if node.meta else None
        run.record(("node_error", run_id, error_text(error), type(error).__name__, path, agent or outer, now), None)

    def interrupted(self, run_id: UUID | None) -> None:
        """LangGraph paused the graph run ``run_id`` (its ``on_interrupt`` lifecycle callback)."""
        if run_id is None:
            return
        with self._lock:
            node = self._nodes.get(run_id.int)
            if node is not None:
                node.run.interrupted = True

    def _end_node(self, node: _Node, outputs: Any, error: BaseException | None, now: float) -> None:
        if node.root:
            self._finish_run(node.run, outputs, error, now)

    # -- chains -------------------------------------------------------------------------------------------------------

    def chain_start(
        self,
        serialized: Any,
        inputs: Any,
        run_id: UUID,
        parent_run_id: UUID | None,
        tags: list[str] | None,
        metadata: Mapping[str, Any] | None,
        kwargs: Mapping[str, Any],
    ) -> None:
        """Six of a LangGraph step's fourteen callbacks are chain starts inside a run already known (graph nodes,
        sequences, routers): that path is one lookup and one small object, with no guard frame around it."""
        try:
            with self._lock:
                key = run_id.int
                if key in self._nodes or self._child(key, parent_run_id, "chain", metadata) is not None:
                    return
                self._enter(
                    key,
                    run_id,
                    parent_run_id,
                    "chain",
                    inputs=inputs,
                    serialized=serialized,
                    kwargs=kwargs,
                    tags=tags,
                    metadata=metadata,
                    now=None,
                )
        except Exception:  # noqa: BLE001 - tracing must never reach the agent
            self._failed("chain_start")

    def chain_end(self, outputs: Any, run_id: UUID) -> None:
        """Only the outermost chain's end matters (it ends the run): every other one is a lookup."""
        try:
            node = self._nodes.get(run_id.int)
            if node is None or not node.root:
                return
            with self._lock:
                if self._nodes.get(run_id.int) is node:  # not ended meanwhile by another thread
                    self._finish_run(node.run, outputs, None, time.time())
        except Exception:  # noqa: BLE001 - tracing must never reach the agent
            self._failed("chain_end")

    @_guarded
    def chain_error(self, error: BaseException, run_id: UUID) -> None:
        now = time.time()
        with self._lock:
            node = self._nodes.get(run_id.int)
            if node is None:
                return
            if node.root:
                self._finish_run(node.run, None, error, now)
            else:
                self._chain_failed(node, run_id, error, now)

    # -- models -------------------------------------------------------------------------------------------------------

    @_guarded
    def model_start(
        self,
        serialized: Any,
        prompt: Any,
        n_messages: int | None,
        run_id: UUID,
        parent_run_id: UUID | None,
        tags: list[str] | None,
        metadata: Mapping[str, Any] | None,
        kwargs: Mapping[str, Any],
    ) -> None:
        now = time.time()
        with self._lock:
            key = run_id.int
            if key in self._nodes:
                return
            model = _model_name(serialized, metadata, kwargs)
            node = self._enter(
                key,
                run_id,
                parent_run_id,
                "llm",
                inputs=prompt,
                serialized=serialized,
                kwargs=kwargs,
                tags=tags,
                metadata=metadata,
                now=now,
                name=model,
            )
            path, agent = _where(metadata)
            node.run.record(("llm_start", run_id, model, n_messages, agent, now, path), None)

    @_guarded
    def llm_end(self, response: Any, run_id: UUID) -> None:
        now = time.time()
        with self._lock:
            node = self._nodes.get(run_id.int)
            if node is None or node.kind != "llm":
                return
            message, text = _generation_message(response)
            input_tokens, output_tokens = _tokens(response, message)
            record = ("llm_end", run_id, text, input_tokens, output_tokens,
                      getattr(message, "tool_calls", None), getattr(message, "invalid_tool_calls", None), now)
            node.run.record(record, None)
            self._end_node(node, response, None, now)

    @_guarded
    def llm_error(self, error: BaseException, run_id: UUID) -> None:
        self._call_failed("llm_error", "llm", error, run_id)

    def _call_failed(self, record_kind: str, node_kind: str, error: BaseException, run_id: UUID) -> None:
        """A model or tool run raised: its record (the error, and whether it is new to the run), then its end. A
        cancellation or an interrupt is no error: the call ends ``cancelled`` or ``interrupted``."""
        now = time.time()
        with self._lock:
            node = self._nodes.get(run_id.int)
            if node is None or node.kind != node_kind:  # a run its start callback did not announce
                return
            run = node.run
            ending = endings.ending_of(error)
            if ending is not None or is_control_flow(error):
                if ending == endings.INTERRUPTED:
                    run.interrupted = True
                if ending is not None:
                    run.record(("call_ended", run_id, endings.call_ending(ending), now), None)
                self._end_node(node, None, error, now)
                return
            report = self._first_report(run, error)
            record = (record_kind, run_id, error_text(error), type(error).__name__, report, now)
            run.record(record, None)
            self._end_node(node, None, error, now)

    # -- tools --------------------------------------------------------------------------------------------------------

    @_guarded
    def tool_start(
        self,
        serialized: Any,
        input_str: Any,
        inputs: Any,
        run_id: UUID,
        parent_run_id: UUID | None,
        tags: list[str] | None,
        metadata: Mapping[str, Any] | None,
        kwargs: Mapping[str, Any],
    ) -> None:
        now = time.time()
        with self._lock:
            key = run_id.int
            if key in self._nodes:
                return
            tool = _name(serialized, kwargs) or "tool"
            node = self._enter(
                key,
                run_id,
                parent_run_id,
                "tool",
                inputs=input_str,
                serialized=serialized,
                kwargs=kwargs,
                tags=tags,
                metadata=metadata,
                now=now,
                name=tool,
            )
            path, _ = _where(metadata)
            record = ("tool_start", run_id, tool, inputs, input_str, kwargs.get("tool_call_id"), now, path)
            node.run.record(record, None)

    @_guarded
    def tool_end(self, output: Any, run_id: UUID) -> None:
        now = time.time()
        with self._lock:
            node = self._nodes.get(run_id.int)
            if node is None or node.kind != "tool":  # a tool run tool_start saw
                return
            text, is_error = _tool_output(output)
            node.run.record(("tool_end", run_id, text, is_error, now), None)
            self._end_node(node, output, None, now)

    @_guarded
    def tool_error(self, error: BaseException, run_id: UUID) -> None:
        self._call_failed("tool_error", "tool", error, run_id)

"""Live tracing of a LangGraph graph through LangGraph's own ``updates`` stream, with no callback at all.

``codetracer.trace(graph)`` on a compiled LangGraph graph whose state has a ``messages`` channel (``create_agent``,
``create_react_agent``, any ``MessagesState`` graph) returns a traced copy of the graph: the same class underneath,
so ``get_state``, ``with_config`` (which stays traced), use as a subgraph and everything else work unchanged. Its
``stream`` and ``astream``, and so ``invoke``, ``ainvoke``, ``batch`` and ``astream_events``, which LangGraph runs
through them, also read LangGraph's ``"updates"`` stream: one chunk as each node's task ends, with what it wrote.
``invoke`` asks LangGraph for that stream anyway, so tracing it adds no work to LangGraph's loop. The caller gets
exactly the chunks it asked for, in LangGraph's own format. Each chunk's messages are journaled on the caller's thread
as one record (``codetracer_record``: the messages' field dicts, which the journal serialises in C), and
:class:`~codetracer.adapters.langchain.turns.GraphMapper` makes the steps when the tree is built: an AI message is a
model call (a step), the tool calls it requests start with it and end with the tool messages that answer them.

Why not LangChain callbacks: a LangGraph ReAct turn fires 14 of them, and merely having a handler that does nothing
costs about 4 % of an instant fake turn (LangChain's callback managers and dispatch). Reading the stream costs less
than that handler, and a third of codetracer's callback handler (``benchmarks/overhead_langchain.py``).

What the graph path sees is what the nodes write to the ``messages`` channel, and when: a model called twice inside
one node and written once is one model call, a model call's start is the end of the chunk before it, and an exception
is placed where it was raised (:mod:`~codetracer.adapters.langchain.sites`: the tool call, the model call that did
not return, else a step of the node; LangGraph's own errors, such as ``GraphRecursionError``, are the run's). A graph
with compiled subgraphs as nodes (subagents, a supervisor) is also read inside them (LangGraph's ``subgraphs``
stream, which the caller gets only if it asked), so their steps come as they happen, named after the node that ran
them; the message list a subgraph returns is not recorded again. A run of a checkpointed thread starts from the
thread's state (:mod:`~codetracer.adapters.langchain.threads`). Graphs without a ``messages`` channel, and any other
runnable, are traced through the callback handler (:mod:`codetracer.adapters.langchain.live`).

``codetracer.langchain()`` traces every outermost run of such a graph the same way, by wrapping ``Pregel.stream``
and ``astream`` while it is registered (:func:`patch_pregel`); its callback handler is kept out of those runs
(:data:`~codetracer.adapters.langchain.common.GRAPH_RUN`).

The codetracer run id is LangChain's root run id (``config["run_id"]``, set when absent) and is claimed for the
tracer, so a process-wide handler (``codetracer.langchain()``) does not record the same run a second time. Tracing
never breaks the graph: a failure in codetracer's code is logged and the chunks still flow.
"""

from __future__ import annotations

import functools
import logging
import time
import uuid
import weakref
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from codetracer.adapters.langchain.common import (
    FRAMEWORK,
    GRAPH_RUN,
    Verifier,
    claims_of,
    ending_outcome,
    error_text,
    framework_run_id,
    links_of,
    run_metadata,
    task_and_parent,
    thread_meta,
)
from codetracer.adapters.langchain.graph_turns import REF, ident
from codetracer.adapters.langchain.handlers import (
    AsyncCodetracerCallbackHandler,
    CodetracerCallbackHandler,
    global_handler,
)
from codetracer.adapters.langchain.sites import error_site
from codetracer.adapters.langchain.threads import Seeds, athread_state, thread_id_of, thread_state
from codetracer.adapters.langchain.turns import GRAPH_MAPPER
from codetracer.core import endings
from codetracer.core.tracer import Tracer

log = logging.getLogger("codetracer.langgraph")

_TASK_ID_KEY = "__pregel_task_id"
"""LangGraph's ``CONFIG_KEY_TASK_ID``: set in the config of a graph that runs as a node of another graph."""

_INTERRUPT = "__interrupt__"
"""The key of an ``updates`` chunk that reports an interrupt (``interrupt()`` in a node, ``interrupt_before``)."""

_now = time.time  # bound once: read twice per turn inside a running agent

_SKIP = object()
"""What :meth:`_Session.take` returns for a chunk codetracer asked for and the caller did not."""


_NESTABLE = frozenset({"updates", "values"})
"""The caller's stream modes whose chunks LangGraph's ``subgraphs`` stream leaves as they are (at the root): with
``messages``, ``custom`` and the others, a subgraph's chunks reach a caller that did not ask for subgraphs, so
codetracer does not ask for them either and reads a subgraph's work from what its node returns."""

_nested_graphs: weakref.WeakKeyDictionary[Any, bool] = weakref.WeakKeyDictionary()


def _has_subgraphs(graph: Any) -> bool:
    """Whether the graph runs compiled subgraphs as nodes (asked of LangGraph once per graph object)."""
    try:
        known = _nested_graphs.get(graph)
    except TypeError:  # a graph object that cannot be weakly referenced or hashed: ask every time
        known = None
    if known is None:
        try:
            known = next(iter(graph.get_subgraphs()), None) is not None
        except Exception:  # noqa: BLE001 - a graph that cannot list its subgraphs is read at the root only
            known = False
        try:
            _nested_graphs[graph] = known
        except TypeError:
            pass
    return known


def traceable(target: Any) -> bool:
    """A compiled LangGraph graph with a ``messages`` channel."""
    try:
        from langgraph.pregel import Pregel
    except ImportError:
        return False
    return isinstance(target, Pregel) and "messages" in (getattr(target, "channels", None) or {})


@dataclass(frozen=True, slots=True)
class GraphTracing:
    """Where a traced graph's runs go and how their outcome is decided (the options of ``codetracer.trace``)."""

    tracer: Tracer
    outcome: str | bool | None = None
    verifier: Verifier | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)


def instrument(
    graph: Any,
    tracer: Tracer,
    *,
    outcome: str | bool | None = None,
    verifier: Verifier | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> Any:
    """A traced copy of ``graph`` (the graph itself is left as it was): use the returned object."""
    tracing = GraphTracing(tracer, outcome, verifier, dict(metadata or {}))
    cls = type(graph) if isinstance(graph, _TracedGraph) else _traced_class(type(graph))
    attrs = {k: v for k, v in graph.__dict__.items() if k not in ("__orig_class__", "_codetracer")}
    return cls(**attrs, _codetracer=tracing)


def patch_pregel(current: Callable[[], GraphTracing | None]) -> Callable[[], None] | None:
    """Trace the outermost runs of every LangGraph graph with a ``messages`` channel through the graph path, with the
    options ``current()`` gives (``None``: untraced): ``Pregel.stream`` and ``astream`` are wrapped, as OpenTelemetry
    instrumentors wrap a library's methods. Returns what restores them, or ``None`` without LangGraph.

    What global registration (``codetracer.langchain()``) uses. The wrappers decide once per call and, for a run they
    do not record, return LangGraph's own iterator: nothing per chunk.
    """
    try:
        from langgraph.pregel import Pregel
    except ImportError:
        return None
    original_stream, original_astream = Pregel.__dict__["stream"], Pregel.__dict__["astream"]

    @functools.wraps(original_stream)
    def stream(self: Any, input: Any, config: Any = None, **kwargs: Any) -> Any:
        tracing = _outermost(self, config, current)
        if tracing is None:
            return original_stream(self, input, config, **kwargs)
        return _traced_stream(self, tracing, original_stream.__get__(self), input, config, kwargs)

    @functools.wraps(original_astream)
    def astream(self: Any, input: Any, config: Any = None, **kwargs: Any) -> Any:
        tracing = _outermost(self, config, current)
        if tracing is None:
            return original_astream(self, input, config, **kwargs)
        return _traced_astream(self, tracing, original_astream.__get__(self), input, config, kwargs)

    Pregel.stream, Pregel.astream = stream, astream

    def restore() -> None:
        if Pregel.__dict__.get("stream") is stream:
            Pregel.stream = original_stream
        if Pregel.__dict__.get("astream") is astream:
            Pregel.astream = original_astream

    return restore


def _outermost(graph: Any, config: Any, current: Callable[[], GraphTracing | None]) -> GraphTracing | None:
    """The options to record this ``stream`` call with, when it is the outermost run of a traceable graph and nothing
    else records it; ``None`` to leave it to LangGraph (and to the callback handler, if it is inside a traced run)."""
    tracing = current()
    if tracing is None or GRAPH_RUN.get() is not None or isinstance(graph, _TracedGraph):
        return None  # not registered, inside a recorded graph run (seen through its node's writes), traced itself
    try:
        if "messages" not in (getattr(graph, "channels", None) or {}):
            return None
        from langchain_core.runnables.config import ensure_config

        merged = ensure_config(config)  # with the config of the LangChain run this call is made in, if any
        if _TASK_ID_KEY in (merged.get("configurable") or {}):
            return None  # a subgraph: part of its parent graph's run
        bound = getattr(graph, "config", None) or {}
        for callbacks in (merged.get("callbacks"), bound.get("callbacks")):
            if getattr(callbacks, "parent_run_id", None) is not None:
                return None  # inside another LangChain run: the handler records it as part of that run
            handlers = getattr(callbacks, "handlers", callbacks) or ()
            if any(isinstance(h, CodetracerCallbackHandler | AsyncCodetracerCallbackHandler)
                   for h in handlers):
                return None  # a handler bound by the caller records it, with its own options
        return tracing
    except Exception:
        log.exception("codetracer could not tell whether a LangGraph run is an outermost one; callbacks trace it")
        return None


_traced_classes: dict[type, type] = {}


def _traced_class(cls: type) -> type:
    """``cls`` with :class:`_TracedGraph`'s ``stream``/``astream`` in front (one class per graph class)."""
    traced = _traced_classes.get(cls)
    if traced is None:
        traced = _traced_classes.setdefault(cls, type(f"Traced{cls.__name__}", (_TracedGraph, cls), {}))
    return traced


class _TracedGraph:
    """The mixin of traced graph classes. The tracing options travel in the instance's ``__dict__``, so LangGraph's
    own ``copy`` (behind ``with_config``), which rebuilds a graph from its ``__dict__``, keeps a copy traced."""

    _codetracer: GraphTracing

    def __init__(self, *args: Any, _codetracer: GraphTracing, **kwargs: Any) -> None:
        self._codetracer = _codetracer
        super().__init__(*args, **kwargs)

    def stream(self, input: Any, config: Any = None, **kwargs: Any) -> Iterator[Any]:
        return _traced_stream(self, self._codetracer, super().stream, input, config, kwargs)  # type: ignore[misc]

    def astream(self, input: Any, config: Any = None, **kwargs: Any) -> AsyncIterator[Any]:
        return _traced_astream(self, self._codetracer, super().astream, input, config, kwargs)  # type: ignore[misc]


def _traced_stream(graph: Any, tracing: GraphTracing, base: Callable[..., Iterator[Any]], input: Any, config: Any,
                   kwargs: dict[str, Any]) -> Iterator[Any]:
    """``base`` (the graph's own ``stream``) as one recorded run, or untraced when the run cannot be recorded."""
    session = _Session.open(graph, tracing, input, config, kwargs, thread_state(graph, config))
    if session is None:
        yield from base(input, config, **kwargs)
        return
    inner: Any = base(input, session.config, **session.kwargs)
    mark = session.mark
    try:
        with session:
            if mark is not None:
                session.token = GRAPH_RUN.set(mark)
            for chunk in inner:
                out = session.take(chunk)
                if out is not _SKIP:
                    yield out
                if mark is not None:
                    session.token = GRAPH_RUN.set(mark)  # LangGraph computes the next chunk (see _Session.mark)
    finally:
        inner.close()


async def _traced_astream(graph: Any, tracing: GraphTracing, base: Callable[..., AsyncIterator[Any]], input: Any,
                          config: Any, kwargs: dict[str, Any]) -> AsyncIterator[Any]:
    """``base`` (the graph's own ``astream``) as one recorded run, or untraced when the run cannot be recorded."""
    session = _Session.open(graph, tracing, input, config, kwargs, await athread_state(graph, config))
    if session is None:
        async for chunk in base(input, config, **kwargs):
            yield chunk
        return
    inner: Any = base(input, session.config, **session.kwargs)
    mark = session.mark
    try:
        with session:
            if mark is not None:
                session.token = GRAPH_RUN.set(mark)
            async for chunk in inner:
                out = session.take(chunk)
                if out is not _SKIP:
                    yield out
                if mark is not None:
                    session.token = GRAPH_RUN.set(mark)  # LangGraph computes the next chunk (see _Session.mark)
    finally:
        await inner.aclose()


class _Session:
    """One traced ``stream`` call: the codetracer run it records and the caller's stream format to give back."""

    __slots__ = (
        "as_list", "broken", "caller_subgraphs", "config", "events", "interrupted", "journaled", "kwargs", "last",
        "mark", "modes", "outputs", "record", "root", "run_id", "subgraphs", "task", "thread_id", "token", "tracing",
        "v2",
    )

    def __init__(self, tracing: GraphTracing, root: uuid.UUID, config: dict[str, Any], kwargs: dict[str, Any],
                 modes: Sequence[str], as_list: bool, caller_subgraphs: bool) -> None:
        self.tracing = tracing
        self.events = tracing.tracer.events
        self.root = root
        self.run_id = str(root)
        self.config = config
        self.kwargs = kwargs
        self.modes = frozenset(modes)
        """The stream modes the caller asked for (what it gets back)."""
        self.as_list = as_list
        """The caller named its modes in a list: chunks carry their mode."""
        self.subgraphs = bool(kwargs.get("subgraphs"))
        """LangGraph streams the subgraphs too: chunks carry their namespace."""
        self.caller_subgraphs = caller_subgraphs
        """The caller asked for the subgraphs' chunks (else they are codetracer's alone)."""
        self.journaled: set[str] | None = set() if self.subgraphs else None
        """Ids of the messages journaled whole (with subgraphs: a subgraph's node returns its whole message list, and
        what was journaled before is journaled again as a reference)."""
        self.thread_id: str | None = None
        self.task: str | None = None
        self.v2 = kwargs.get("version") == "v2"
        self.outputs: Any = None
        self.interrupted = False
        self.broken = False
        self.last = time.time()
        """When the previous chunk came: the start of whatever the next one reports."""
        self.record: Any = None
        """Journals one record of this run (:meth:`~codetracer.core.events.Events.recorder`), once it started."""
        handler = global_handler()
        self.mark = tracing.tracer if handler is not None and handler.recorder.tracer is tracing.tracer \
            else None
        """What :data:`~codetracer.adapters.langchain.common.GRAPH_RUN` names while LangGraph computes this run's chunks
        (and only then: between chunks the caller's own LangChain runs are the global handler's, as ever). Set when
        the tracer's process-wide handler is registered: it keeps that handler out of the run's own LangChain runs,
        which it would only follow silently (the run is claimed) at the cost of LangChain's dispatch."""
        self.token: Any = None
        """The :data:`GRAPH_RUN` token while LangGraph computes a chunk."""

    @classmethod
    def open(
        cls, graph: Any, tracing: GraphTracing, input: Any, config: Any, kwargs: dict[str, Any],
        thread: Seeds | None = None,
    ) -> _Session | None:
        """Start the run and the stream arguments that add the ``updates`` stream (and the subgraphs' streams, for a
        graph that has subgraphs); ``None`` (run untraced) when the run is already recorded by another codetracer
        layer, or when codetracer itself fails. ``thread``: the thread's checkpoint as the run starts."""
        try:
            config = dict(config or {})
            requested = kwargs.get("stream_mode")
            if requested is None:  # LangGraph's own default, which depends on the config
                requested = "values" if _TASK_ID_KEY in (config.get("configurable") or {}) else graph.stream_mode
            as_list = isinstance(requested, list)
            modes = list(requested) if isinstance(requested, list | tuple) else [requested]
            wanted = [*modes, "updates"] if "updates" not in modes else list(modes)
            if tracing.verifier is not None and "values" not in wanted:
                wanted.append("values")  # the verifier judges the final state
            root = config.get("run_id")
            if not isinstance(root, uuid.UUID):
                root = framework_run_id()
                config["run_id"] = root
            if not claims_of(tracing.tracer).claim(root):
                return None
            caller_subgraphs = bool(kwargs.get("subgraphs"))
            nested = caller_subgraphs or (_NESTABLE.issuperset(modes) and _has_subgraphs(graph))
            stream_kwargs = {**kwargs, "stream_mode": wanted, **({"subgraphs": True} if nested else {})}
            session = cls(tracing, root, config, stream_kwargs, modes, as_list, caller_subgraphs)
            bound = getattr(graph, "config", None) or {}  # what with_config bound, merged in as LangGraph does
            metadata = {**(bound.get("metadata") or {}), **(config.get("metadata") or {})}
            tags = [*(bound.get("tags") or ()), *(config.get("tags") or ())]
            task, parent = task_and_parent(input, metadata)
            meta = run_metadata(root, getattr(graph, "name", None), tags, metadata, None, tracing.metadata)
            meta["langgraph"] = True
            meta["trace_path"] = "graph"  # LangGraph's updates stream (the callback handler's runs say "callbacks")
            linked, paused_task = thread_meta(links_of(tracing.tracer), thread_id_of(graph, config))
            meta.update(linked)
            session.thread_id = meta.get("thread_id")
            session.task = task = task or paused_task
            events, run_id = session.events, session.run_id
            events.run_started(run_id, FRAMEWORK, task=task, metadata=meta, parent_run_id=parent,
                               timestamp=session.last)
            session.record = events.recorder(run_id, GRAPH_MAPPER)
            if thread is not None:
                session.record(("thread", session.thread_id, thread[0], thread[1], session.last))
            session.record(("input", _n_messages(input), session.last, _input_idents(input)))
            return session
        except Exception:
            log.exception("codetracer could not start tracing a LangGraph run; it runs untraced")
            return None

    # -- chunks -------------------------------------------------------------------------------------------------------

    def _computed(self) -> None:
        """LangGraph stopped computing (the stream ended or raised): :data:`GRAPH_RUN` as the caller had it."""
        if self.token is not None:
            GRAPH_RUN.reset(self.token)
            self.token = None

    def take(self, chunk: Any) -> Any:
        """Record a chunk of the root graph's updates; give the chunk back in the caller's format, or ``_SKIP``."""
        token = self.token
        if token is not None:  # the chunk is computed: GRAPH_RUN as the caller had it (see mark)
            GRAPH_RUN.reset(token)
            self.token = None
        try:
            if self.v2:
                mode, ns, payload = chunk["type"], chunk["ns"], chunk["data"]
            elif self.subgraphs:
                ns, mode, payload = chunk
            else:
                mode, payload = chunk
                ns = ()
        except Exception:  # a chunk format this LangGraph release invented: hand it on as it came, record no more
            if not self.broken:
                self.broken = True
                log.exception("codetracer cannot read a LangGraph stream chunk; the run goes on untraced from here")
            return chunk
        if not self.broken:
            if mode == "updates":
                self._record(payload, ns)
            elif mode == "values" and not ns:
                self.outputs = payload
        if mode not in self.modes or (ns and not self.caller_subgraphs):
            return _SKIP  # codetracer's own stream, or a subgraph's chunk the caller did not ask for
        if self.v2:
            return chunk
        if self.caller_subgraphs or not self.subgraphs:
            return chunk if self.as_list else ((ns, payload) if self.subgraphs else payload)
        return (mode, payload) if self.as_list else payload  # the caller's format, without the namespace

    def _record(self, updates: Any, ns: Any = ()) -> None:
        """Journal what the nodes of an ``updates`` chunk wrote to the messages channel (usually one node).

        Written for the common case, one node's dict with a list of messages: inside a running agent each lookup,
        call and type check costs a cache miss, and this runs twice per turn."""
        try:
            now = _now()
            for node, update in updates.items() if type(updates) is dict else _items(updates):
                if node == _INTERRUPT:
                    self.interrupted = True
                    continue
                # a node that wrote the channel more than once (or several tasks of one node) is a list
                for part in (update,) if type(update) is not list else update:
                    written = part.get("messages") if type(part) is dict else _messages_of(part)
                    if written is not None:
                        try:  # a list of message objects, most often one
                            written = [written[0].__dict__] if len(written) == 1 else [m.__dict__ for m in written]
                        except (AttributeError, TypeError, LookupError):  # tuples, dicts, one message
                            written = _message_fields(written)
                        if self.journaled is not None:
                            written = _by_reference(written, self.journaled)
                        if ns:
                            self.record(("sub", ns, node, written, self.last, now))
                        else:
                            self.record(("update", node, written, self.last, now))
            self.last = now
        except Exception:
            self.broken = True
            log.exception("codetracer failed recording a LangGraph update; the run goes on untraced from here")

    # -- the end ------------------------------------------------------------------------------------------------------

    def __enter__(self) -> _Session:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: Any) -> None:
        """End the run as the stream ended: returned, closed by the caller (``GeneratorExit``), or raised."""
        self._computed()
        ending = endings.ending_of(error)
        if ending == endings.FINISHED and self.interrupted:
            ending = endings.INTERRUPTED
        if ending is None:
            assert error is not None
            self.failed(error)
        self._end(ending, error)

    def failed(self, error: BaseException) -> None:
        """The graph raised. An exception of the agent's own code (a node, a tool, the model) goes to the mapper,
        with where it was raised (:func:`~codetracer.adapters.langchain.sites.error_site`); LangGraph's own
        (``GraphRecursionError`` ...) are errors of the run."""
        try:
            text, kind = error_text(error), type(error).__name__
            if isinstance(error, Exception) and not type(error).__module__.startswith("langgraph"):
                self.record(("error", text, kind, self.last, time.time(), list(error_site(error))))
            else:
                self.events.error(self.run_id, text, kind=kind, timestamp=time.time())
        except Exception:
            log.exception("codetracer failed recording a LangGraph run's error")

    def _end(self, ending: str | None, error: BaseException | None) -> None:
        """End the run in the words of :mod:`codetracer.core.endings` (``ending`` ``None``: it failed with
        ``error``); the mapper first hears how, to end the calls still in flight."""
        try:
            tracing, now = self.tracing, time.time()
            word = ending or "failed"
            if self.record is not None:
                self.record(("end", word, now))
            outcome, exit_status = ending_outcome(ending, error, tracing.outcome, tracing.verifier, self.outputs,
                                                 self.events, self.run_id)
            self.events.run_finished(self.run_id, outcome, exit_status=exit_status, timestamp=now)
            links_of(tracing.tracer).ended(self.thread_id, self.run_id, word, self.task)
        except Exception:
            log.exception("codetracer failed finishing a LangGraph run")
        finally:
            claims_of(self.tracing.tracer).release(self.root)


# --------------------------------------------------------------------------------------------------------------------
# Readers of task chunks (duck-typed: version drift degrades to less detail, never to an exception in the agent)
# --------------------------------------------------------------------------------------------------------------------


def _n_messages(input: Any) -> int | None:
    """How many messages the run's input holds (the first model call reads them all)."""
    messages = input.get("messages") if isinstance(input, Mapping) else getattr(input, "messages", None)
    return len(messages) if isinstance(messages, list) else None


def _input_idents(input: Any) -> list[Any] | None:
    """Ids and fingerprints of the run's input messages: a subgraph returns them among its own, and they are no
    model call's (a user's task is no new call)."""
    messages = input.get("messages") if isinstance(input, Mapping) else getattr(input, "messages", None)
    if not isinstance(messages, list):
        return None
    return [list(ident(message)) for message in messages]


def _by_reference(written: list[Any], journaled: set[str]) -> list[Any]:
    """The written messages, those journaled whole before as references to their id (a subgraph's node returns its
    whole message list: the journal would hold every message once per delegation)."""
    out = []
    for message in written:
        mid = message.get("id") if type(message) is dict else None
        if type(mid) is str:
            if mid in journaled:
                out.append({REF: mid})
                continue
            journaled.add(mid)
        out.append(message)
    return out


def _items(updates: Any) -> Any:
    """The (node, update) pairs of an ``updates`` payload that is not a plain dict (another mapping, or nothing)."""
    return updates.items() if isinstance(updates, Mapping) else ()


def _messages_of(update: Any) -> Any:
    """What a node's update that is not a plain dict wrote to ``messages`` (a mapping's entry, else nothing)."""
    return update.get("messages") if isinstance(update, Mapping) else None


def _message_fields(written: Any) -> list[Any]:
    """The messages a task wrote to the ``messages`` channel, as their field dicts (a message's ``__dict__``: the
    journal serialises it in C, and :class:`~codetracer.adapters.langchain.turns.GraphMapper` reads it later);
    messages written as tuples or plain dicts stay as they are."""
    if written is None:
        return []
    if not isinstance(written, list | tuple):
        written = (written,)
    return [getattr(message, "__dict__", message) for message in written]

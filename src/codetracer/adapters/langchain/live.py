"""Live tracing of LangChain / LangGraph runs through LangChain's own callback system.

Mapping (LangChain callback -> trace event), all keyed by LangChain's own ``run_id`` / ``parent_run_id``:

* the outermost LangChain run (no ``parent_run_id``, or a parent this handler never saw) is one codetracer run whose
  id is that LangChain run id; every run below it (graph nodes, nested chains, sub-agents) belongs to it by walking
  ``parent_run_id``, never by ambient context, so threads and asyncio tasks in parallel keep their trees apart;
* each chat-model (or completion-model) call opens a step holding its LLM call; the tool calls that model response
  requests become that step's tool calls (several = parallel siblings), matched on the ``tool_call_id`` LangChain
  passes to ``on_tool_start`` (or, on releases that do not pass it, on an unclaimed requested call of the same tool);
  a tool nobody requested is a step of its own;
* ``on_tool_end`` / ``on_tool_error`` finish the tool call (its observation; an error is flagged and recorded as a
  step error); the step ends when the last of its requested tool calls ends (at once when it requested none);
* ``on_llm_error`` and ``on_chain_error`` are error events, each exception reported once (LangChain re-raises it
  through every enclosing chain);
* the outermost run's end finishes the codetracer run: outcome ``failed`` when it raised, else what the user's
  ``verifier(outputs)`` or ``outcome`` says, else ``unknown`` (a chain that returns has not proved anything solved).

On the agent's thread the handler only routes callbacks to their run and records each model and tool callback as a
tuple of plain values (``codetracer_record``, journaled at once); :class:`~codetracer.adapters.langchain.turns.
TurnMapper` turns the records into steps and calls when the tree is built, off the agent's thread.

The handler never raises into LangChain (``raise_error = False`` and every callback body is guarded), is thread-safe
(one lock around its id tables) and runs inline (``run_inline = True``), so async runs do not hop to an executor
thread for it. Retriever, text, retry and custom events are ignored.

Where the pieces are: :mod:`~codetracer.adapters.langchain.recorder` (the callback logic),
:mod:`~codetracer.adapters.langchain.handlers` (the handler classes LangChain calls),
:mod:`~codetracer.adapters.langchain.common` (what the graph path shares with them) and this module, which traces a
runnable (:func:`instrument`) or every run in the process (:func:`register_global`) and names what callers import.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from typing import Any, cast

from codetracer.adapters.langchain import graph
from codetracer.adapters.langchain.common import (
    FRAMEWORK,
    FRAMEWORK_MODULES,
    GRAPH_RUN,
    Verifier,
    claims_of,
    decide_outcome,
    error_text,
    run_metadata,
    task_and_parent,
    verify_option,
)
from codetracer.adapters.langchain.handlers import (
    AsyncCodetracerCallbackHandler,
    CodetracerCallbackHandler,
    _slot,
    global_handler,
)
from codetracer.core import scope
from codetracer.core.tracer import Tracer

__all__ = [
    "FRAMEWORK",
    "FRAMEWORK_MODULES",
    "GRAPH_RUN",
    "AsyncCodetracerCallbackHandler",
    "CodetracerCallbackHandler",
    "Verifier",
    "claims_of",
    "decide_outcome",
    "error_text",
    "global_handler",
    "instrument",
    "register_global",
    "run_metadata",
    "task_and_parent",
    "unregister_global",
]

log = logging.getLogger("codetracer.langchain")


def instrument(
    target: Any,
    tracer: Tracer,
    *,
    outcome: str | bool | None = None,
    verify: Verifier | str | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> Any:
    """``codetracer.trace(runnable)``: a traced copy of the runnable; use the returned object.

    ``verify(outputs)`` judges a finished run: ``True``/``False`` make it solved/failed (``verifier=`` is the former
    name, accepted by :func:`codetracer.trace` with a deprecation warning). A ``CompletedProcess`` it returns, or a
    shell command string given instead (run in the process's working folder), is kept whole: command, exit code and
    output become the run's verification node (:mod:`codetracer.core.checks`). A verifier that raises or cannot run
    is a verifier error: the run's outcome is then ``unknown``.

    A LangGraph graph with a ``messages`` channel is traced through its own task stream, without callbacks
    (:mod:`codetracer.adapters.langchain.graph`, much cheaper). Any other runnable is bound with a codetracer handler:
    runnables are immutable, so ``with_config`` returns a new runnable whose every invocation (``invoke``, ``stream``,
    ``batch`` and their async forms) carries the handler, merged with any callbacks passed at call time.
    """
    if isinstance(verify, str):
        from codetracer.core.checks import CommandCheck

        verify = CommandCheck(verify)
    if graph.traceable(target):
        try:
            return graph.instrument(target, tracer, outcome=outcome, verifier=verify, metadata=metadata)
        except Exception as exc:  # noqa: BLE001 - a graph class codetracer cannot copy is traced by callbacks
            log.warning("codetracer cannot copy the %s graph (%s: %s); tracing it through callbacks",
                        type(target).__name__, type(exc).__name__, exc)
    handler = CodetracerCallbackHandler(tracer, outcome=outcome, verify=verify, metadata=metadata)
    return target.with_config(callbacks=[handler])


_hook_lock = threading.Lock()
_hook_installed = False
_unpatch_graphs: Callable[[], None] | None = None


def register_global(
    tracer: Tracer,
    *,
    outcome: str | bool | None = None,
    verify: Verifier | str | None = None,
    metadata: Mapping[str, Any] | None = None,
    graph_path: bool = True,
    verifier: Verifier | None = None,
) -> CodetracerCallbackHandler:
    """Trace every LangChain/LangGraph run in this process (what ``codetracer.langchain()`` calls); returns the handler.

    Uses langchain-core's supported extension point for process-wide handlers,
    ``langchain_core.tracers.context.register_configure_hook`` (the mechanism its own LangSmith tracer uses): every
    callback manager LangChain configures adds our handler, inheritable, so nested runs report to it too. Calling it
    again for the same tracer returns the registered handler; for another tracer it replaces it.

    With ``graph_path`` (the default) and LangGraph installed, an outermost run of a LangGraph graph with a
    ``messages`` channel is traced as ``codetracer.trace(graph)`` traces it, through LangGraph's own ``updates``
    stream, with the handler kept out of it (:data:`GRAPH_RUN`): ``Pregel.stream`` and ``astream`` are wrapped while
    the registration lasts (:func:`~codetracer.adapters.langchain.graph.patch_pregel`). A graph run inside another
    LangChain run (a tool's, a chain's, a node's) stays part of that run, through callbacks; so does a graph run
    inside a ``codetracer.task`` block, which joins the block's run (:mod:`codetracer.core.scope`).

    ``verify`` judges every run that returns (a shell command or ``verify(outputs)``, as ``codetracer.trace(graph,
    verify=...)``) and the run of a ``codetracer.task`` block without a ``verify`` of its own; ``verifier=`` is its
    former name (a :class:`DeprecationWarning`).
    """
    global _hook_installed, _unpatch_graphs
    verifier = verify_option("codetracer.langchain()", verify, verifier, stacklevel=3)
    with _hook_lock:
        current = _slot.handler
        if (current is not None and current.recorder.tracer is tracer and outcome is None and verifier is None
                and _slot.graph_path == graph_path):
            return current
        if not _hook_installed:
            from langchain_core.tracers.context import register_configure_hook

            register_configure_hook(cast("ContextVar[Any]", _slot), inheritable=True)
            _hook_installed = True
        handler = CodetracerCallbackHandler(tracer, outcome=outcome, verify=verifier, metadata=metadata)
        _slot.graphs, _slot.graph_path = None, graph_path
        if not graph_path:
            _give_pregel_back()
        else:
            if _unpatch_graphs is None:
                _unpatch_graphs = graph.patch_pregel(_graph_tracing)
            if _unpatch_graphs is not None:  # None: LangGraph is not installed
                _slot.graphs = graph.GraphTracing(tracer, outcome, verifier, dict(metadata or {}))
        _slot.handler = handler
        return handler


def _graph_tracing() -> graph.GraphTracing | None:
    """The graph path's options for an outermost graph run; none inside a ``codetracer.task`` block of the tracer,
    whose run the graph's callbacks join."""
    graphs = _slot.graphs
    if graphs is not None and scope.current(graphs.tracer) is not None:
        return None
    return graphs


def _give_pregel_back() -> None:
    """LangGraph's own ``Pregel.stream``/``astream`` again (call with the hook lock held)."""
    global _unpatch_graphs
    if _unpatch_graphs is not None:
        _unpatch_graphs()
        _unpatch_graphs = None


def unregister_global() -> None:
    """Stop tracing every run (runs already started keep reporting until they end, their callback managers hold the
    handler) and take codetracer's configure hook out of LangChain again: the process is left as it was found."""
    global _hook_installed
    with _hook_lock:
        _slot.handler = None
        _slot.graphs = None
        _give_pregel_back()
        if _hook_installed:
            _hook_installed = not _remove_configure_hook()


def _remove_configure_hook() -> bool:
    """Remove the entry :func:`register_configure_hook` added for :data:`_slot`. langchain-core has no function for
    it: its hooks are a module-level list (``_configure_hooks``), where the entry is found by its first element. A
    version that keeps them elsewhere keeps the (then empty) slot, which configures nothing."""
    try:
        from langchain_core.tracers import context

        hooks = context._configure_hooks
        hooks[:] = [entry for entry in hooks if entry[0] is not _slot]
        return True
    except Exception:  # noqa: BLE001 - a langchain-core without that list: the empty slot stays, harmless
        return False

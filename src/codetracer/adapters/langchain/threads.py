"""A LangGraph thread's checkpoint, read when a graph-path run of the thread starts.

A run of a thread with a checkpointer does not start from its input alone: the thread's earlier messages are in the
state its model reads, and a run resuming after ``interrupt()`` replays the writes its tasks made before the pause
(LangGraph saved them). The updates stream says neither, so the graph path
(:mod:`codetracer.adapters.langchain.graph`) reads the thread's state once, before the run, and journals what the
mapper needs (:class:`~codetracer.adapters.langchain.graph_turns.GraphMapper`): per graph namespace (the root graph,
each subgraph paused inside a task) how many messages it holds and their ids, and the tool calls asked for and not
answered (their arguments: the resumed run answers them). Messages in the checkpoint are never new calls; model calls
count them among the messages they read.

Read only for a graph with a checkpointer called with a ``thread_id``; a failure reading it is logged and the run is
traced without it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

log = logging.getLogger("codetracer.langgraph")

Seeds = tuple[list[list[Any]], dict[str, list[Any]]]
"""``(contexts, requested)``: ``[[ns, count, ids], ...]`` and ``{tool_call_id: [tool, arguments]}``."""


def thread_id_of(graph: Any, config: Mapping[str, Any] | None) -> str | None:
    """The ``thread_id`` the run is made with (the call's config, else what ``with_config`` bound)."""
    for source in (config or {}, getattr(graph, "config", None) or {}):
        configurable = source.get("configurable") if isinstance(source, Mapping) else None
        value = configurable.get("thread_id") if isinstance(configurable, Mapping) else None
        if isinstance(value, str | int) and not isinstance(value, bool):
            return str(value)
    return None


def _state_config(graph: Any, config: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The config to read the thread's state with, or ``None`` when the run has no checkpointed thread."""
    checkpointer = getattr(graph, "checkpointer", None)
    if not hasattr(checkpointer, "get_tuple") or thread_id_of(graph, config) is None:
        return None  # no saver of its own (``None``, or ``True``: a subgraph using its parent's)
    bound = (getattr(graph, "config", None) or {}).get("configurable") or {}
    configurable = {**bound, **((config or {}).get("configurable") or {})}
    return {"configurable": configurable}


def thread_state(graph: Any, config: Mapping[str, Any] | None) -> Seeds | None:
    """What the mapper needs of the thread's checkpoint (see the module docstring), or ``None``."""
    state_config = _state_config(graph, config)
    if state_config is None:
        return None
    try:
        return seeds(graph.get_state(state_config, subgraphs=True))
    except Exception:
        log.exception("codetracer could not read a LangGraph thread's state; the run is traced without it")
        return None


async def athread_state(graph: Any, config: Mapping[str, Any] | None) -> Seeds | None:
    """:func:`thread_state` for ``astream`` (an async checkpointer has no sync reads)."""
    state_config = _state_config(graph, config)
    if state_config is None:
        return None
    try:
        return seeds(await graph.aget_state(state_config, subgraphs=True))
    except Exception:
        log.exception("codetracer could not read a LangGraph thread's state; the run is traced without it")
        return None


def seeds(snapshot: Any) -> Seeds:
    """The namespaces of a ``StateSnapshot`` (with the subgraph states paused inside its tasks) and the calls asked
    for and not answered in them."""
    contexts: list[list[Any]] = []
    requested: dict[str, list[Any]] = {}
    _walk(snapshot, [], contexts, requested, 0)
    return contexts, requested


def _walk(snapshot: Any, ns: list[str], contexts: list[list[Any]], requested: dict[str, list[Any]],
          depth: int) -> None:
    values = getattr(snapshot, "values", None)
    messages = values.get("messages") if isinstance(values, Mapping) else None
    if not isinstance(messages, list):
        return
    ids = [m.id for m in messages if isinstance(getattr(m, "id", None), str)]
    contexts.append([ns, len(messages), ids])
    answered = {getattr(m, "tool_call_id", None) for m in messages if getattr(m, "type", None) == "tool"}
    for message in messages:
        for call in getattr(message, "tool_calls", None) or ():
            if isinstance(call, Mapping) and isinstance(call.get("id"), str) and call["id"] not in answered:
                requested[call["id"]] = [str(call.get("name") or ""), call.get("args")]
    if depth >= 8:
        return
    for task in getattr(snapshot, "tasks", None) or ():
        inner = getattr(task, "state", None)
        if inner is not None and hasattr(inner, "values"):  # a subgraph paused inside this task
            _walk(inner, [*ns, f"{task.name}:{task.id}"], contexts, requested, depth + 1)

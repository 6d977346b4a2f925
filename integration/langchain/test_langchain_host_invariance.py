"""A traced LangChain / LangGraph run behaves exactly as the untraced one: the same ids drawn, the host left as it was.

The program under test replaces the generators its framework draws from with deterministic sequences, as snapshot
tests do: ``uuid.uuid4`` (LangGraph's ids of messages written without one) and ``random.random`` (the ``sequences``
fixture), LangChain's run-id generator (``uuid7`` in ``langchain_core.callbacks.manager``, behind every run id and
every model answer's id) and LangGraph's checkpoint ids (``uuid6`` in ``langgraph.pregel._checkpoint``). A real
ReAct agent (``GenericFakeChatModel`` scripted with tool calls, a tool that itself draws an id and a sample, an
in-memory checkpointer) runs untraced, then traced each way codetracer traces LangChain: callbacks
(``codetracer.langchain(graph_path=False)``), the graph path of one graph (``codetracer.trace(graph)``) and the
process-wide graph path (``codetracer.langchain()``). Everything the framework showed (the final messages with
their ids, the run ids a user's own callback handler saw, the checkpoint ids) must be the same, and the
registration must leave no LangChain hook, ``Pregel`` method or other host state behind.
"""

from __future__ import annotations

import random
import uuid
import warnings
from collections.abc import Callable
from typing import Any

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessage
from langchain_core.tools import tool
from test_langchain_live import call, model

import codetracer
from codetracer.adapters.langchain import live

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.prebuilt import create_react_agent

pytestmark = pytest.mark.filterwarnings("ignore:create_react_agent has been moved")


@tool
def draw_ticket(queue: str) -> str:
    """Open a ticket in a queue (its id and priority drawn by the tool, as real tools draw ids)."""
    return f"{queue}-{uuid.uuid4()} priority {random.random():.6f}"


@tool
def read_file(path: str) -> str:
    """Read a file of the repository."""
    return "def add(a, b):\n    return a - b\n"


def script() -> list[AIMessage]:
    """One tool call per turn: LangGraph runs parallel calls in a thread pool, and which of them draws first is the
    scheduler's choice, traced or not."""
    return [
        AIMessage(content="Read it first.", tool_calls=[call("read_file", "t1", path="calc.py")]),
        AIMessage(content="", tool_calls=[call("draw_ticket", "t2", queue="bugs")]),
        AIMessage(content="", tool_calls=[call("draw_ticket", "t3", queue="review")]),
        AIMessage(content="Filed both."),
    ]


class Seen(BaseCallbackHandler):
    """The program's own callback handler: the run ids LangChain showed it."""

    def __init__(self) -> None:
        self.runs: list[tuple[str, str, str | None]] = []

    def on_chain_start(self, serialized: Any, inputs: Any, *, run_id: Any, parent_run_id: Any = None,
                       **kwargs: Any) -> None:
        self.runs.append(("chain", str(run_id), None if parent_run_id is None else str(parent_run_id)))

    def on_chat_model_start(self, serialized: Any, messages: Any, *, run_id: Any, parent_run_id: Any = None,
                            **kwargs: Any) -> None:
        self.runs.append(("model", str(run_id), None if parent_run_id is None else str(parent_run_id)))

    def on_tool_start(self, serialized: Any, input_str: Any, *, run_id: Any, parent_run_id: Any = None,
                      **kwargs: Any) -> None:
        self.runs.append(("tool", str(run_id), None if parent_run_id is None else str(parent_run_id)))


@pytest.fixture
def framework_sequences(monkeypatch: pytest.MonkeyPatch, sequences: Any) -> Callable[[], None]:
    """Besides ``sequences``: LangChain's run ids and LangGraph's checkpoint ids as sequences; returns the restart."""
    from langchain_core.callbacks import manager

    counters = {"run": 0, "checkpoint": 0}

    def uuid7() -> uuid.UUID:
        counters["run"] += 1
        return uuid.UUID(int=(7 << 76) | counters["run"])

    def uuid6(node: int | None = None, clock_seq: int | None = None) -> uuid.UUID:
        counters["checkpoint"] += 1
        return uuid.UUID(int=(6 << 76) | (counters["checkpoint"] << 16) | ((clock_seq or 0) & 0xFFFF))

    monkeypatch.setattr(manager, "uuid7", uuid7)
    checkpoint = pytest.importorskip("langgraph.pregel._checkpoint")
    monkeypatch.setattr(checkpoint, "uuid6", uuid6)

    def restart() -> None:
        sequences.restart()
        counters.update(run=0, checkpoint=0)

    return restart


def run_agent(traced: Callable[[Any], Any] | None = None) -> dict[str, Any]:
    """One run of the agent on thread ``t``; what the framework showed. ``traced(graph)`` returns the graph to run."""
    graph = create_react_agent(model(*script()), [read_file, draw_ticket], checkpointer=InMemorySaver())
    if traced is not None:
        graph = traced(graph)
    seen = Seen()
    config = {"configurable": {"thread_id": "t"}, "callbacks": [seen]}
    result = graph.invoke({"messages": [("user", "file the bug")]}, config)
    return {
        "messages": [(m.type, m.content, m.id, getattr(m, "tool_call_id", None)) for m in result["messages"]],
        "callback runs": seen.runs,
        "checkpoints": [s.config["configurable"]["checkpoint_id"] for s in graph.get_state_history(config)],
    }


def by_callbacks(tracer: codetracer.Tracer) -> Callable[[Any], Any]:
    codetracer.langchain(tracer=tracer, graph_path=False)
    return lambda graph: graph


def by_graph_path(tracer: codetracer.Tracer) -> Callable[[Any], Any]:
    return lambda graph: codetracer.trace(graph, tracer=tracer)


def by_global_graph_path(tracer: codetracer.Tracer) -> Callable[[Any], Any]:
    codetracer.langchain(tracer=tracer)
    return lambda graph: graph


WAYS = {"callbacks": by_callbacks, "graph path": by_graph_path, "global graph path": by_global_graph_path}


@pytest.mark.parametrize("way", sorted(WAYS))
def test_traced_agent_shows_the_ids_the_untraced_one_showed(
    way: str, tracer: codetracer.Tracer, framework_sequences: Callable[[], None], sequences: Any, host_snapshot: Any
) -> None:
    framework_sequences()
    untraced = run_agent()
    drawn = (sequences.uuids, sequences.randoms)
    assert drawn[0] >= 4 and drawn[1] >= 2, drawn  # the ids of the user and tool messages, the tool's samples

    before = host_snapshot.take()
    framework_sequences()
    try:
        traced = run_agent(WAYS[way](tracer))
    finally:
        live.unregister_global()
    assert tracer.flush()
    host_snapshot.same(before, host_snapshot.take())

    for key, seen in untraced.items():
        differ = [(n, a, b) for n, (a, b) in enumerate(zip(seen, traced[key], strict=False)) if a != b]
        assert traced[key] == seen, f"{key}: first difference (index, untraced, traced): {differ[:1]}"
    assert (sequences.uuids, sequences.randoms) == drawn
    (run,) = tracer.runs
    assert run.metadata["trace_path"] == ("callbacks" if way == "callbacks" else "graph")
    assert [len(s.tool_calls) for s in run.steps] == [1, 1, 1, 0]

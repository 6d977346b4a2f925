"""``codetracer.langchain()`` on LangGraph graphs: an outermost graph run takes the graph path (LangGraph's own
``updates`` stream, the process-wide handler kept out of it), everything else stays with the callback handler.

Real LangGraph ReAct agents driven by LangChain's ``GenericFakeChatModel``, as in ``test_langchain_live``.
"""

from __future__ import annotations

import asyncio
import threading
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.messages import AIMessage
from langchain_core.runnables import RunnableLambda
from test_langchain_graph import TWO_TURNS, tree
from test_langchain_live import SOLVING, agent, ask, call, finished, llm_responses, tool_calls

import codetracer
from codetracer.adapters.langchain import live

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from langgraph.graph import END, START, MessagesState, StateGraph
    from langgraph.pregel import Pregel

pytestmark = pytest.mark.filterwarnings("ignore:create_react_agent has been moved")


@pytest.fixture
def registered(tracer: codetracer.Tracer) -> Iterator[Any]:
    """``codetracer.langchain()`` for the test's tracer, with a count of the callbacks its handler receives."""
    handler = codetracer.langchain(tracer=tracer)
    calls: list[str] = []
    for name in ("on_chain_start", "on_chat_model_start", "on_tool_start"):
        method = getattr(handler, name)

        def counted(*args: Any, _name: str = name, _method: Any = method, **kwargs: Any) -> Any:
            calls.append(_name)
            return _method(*args, **kwargs)

        setattr(handler, name, counted)
    handler.calls = calls
    try:
        yield handler
    finally:
        live.unregister_global()


def test_an_outermost_graph_run_takes_the_graph_path_and_gives_the_callbacks_tree(tracer: codetracer.Tracer) -> None:
    handler = codetracer.langchain(tracer=tracer)
    try:
        result = agent(*TWO_TURNS).invoke(ask("through the updates stream"))
    finally:
        live.unregister_global()
    codetracer.langchain(tracer=tracer, graph_path=False)
    try:
        agent(*TWO_TURNS).invoke(ask("through callbacks"))
    finally:
        live.unregister_global()
    assert result["messages"][-1].content == "All green."
    runs = {r.task: r for r in finished(tracer, 2)}
    by_stream, by_callbacks = runs["through the updates stream"], runs["through callbacks"]
    assert (by_stream.metadata["trace_path"], by_callbacks.metadata["trace_path"]) == ("graph", "callbacks")
    assert tree(by_stream) == tree(by_callbacks)
    assert llm_responses(by_stream) == ["Read both.", "", "All green."]
    assert handler.recorder.failures == 0


def test_the_global_handler_sees_no_callback_of_a_graph_path_run(tracer: codetracer.Tracer, registered: Any) -> None:
    agent(*SOLVING).invoke(ask("fix it"))
    asyncio.run(agent(*SOLVING).ainvoke(ask("fix it, async")))
    assert registered.calls == [], "LangChain dispatched to the handler inside a run the graph path records"
    runs = {r.task: r for r in finished(tracer, 2)}
    for run in runs.values():
        assert run.metadata["trace_path"] == "graph"
        assert llm_responses(run) == [m.content for m in SOLVING]


def test_between_chunks_the_callers_own_runs_are_the_handlers(tracer: codetracer.Tracer, registered: Any) -> None:
    """The handler is kept out only while LangGraph computes a chunk: what the caller runs meanwhile is traced."""
    side = RunnableLambda(lambda text: text.upper(), name="side")
    chunks = 0
    for _ in agent(*SOLVING).stream(ask("streamed"), stream_mode="updates"):
        chunks += 1
        side.invoke("between chunks")
    runs = finished(tracer, 1 + chunks)
    assert [r.task for r in runs if r.metadata["trace_path"] == "graph"] == ["streamed"]
    assert sum(1 for r in runs if r.metadata["trace_path"] == "callbacks") == chunks
    assert registered.calls.count("on_chain_start") == chunks, "one chain start per side run, none from the graph"


def test_a_graph_inside_a_traced_chain_stays_part_of_that_run(tracer: codetracer.Tracer, registered: Any) -> None:
    inner = agent(AIMessage(content="", tool_calls=[call("read_file", "i1", path="setup.py")]), AIMessage("inner"))
    outer = RunnableLambda(lambda question: inner.invoke(ask(question))["messages"][-1].content, name="outer")
    assert outer.invoke("delegate") == "inner"
    (run,) = finished(tracer)
    assert run.metadata["trace_path"] == "callbacks", "recorded by the handler, as part of the chain's run"
    assert llm_responses(run) == ["", "inner"]
    assert tool_calls(run)[0] == [("read_file", {"path": "setup.py"}, "from setuptools import setup", False)]


def test_a_graph_invoked_inside_a_node_is_seen_through_what_the_node_writes(
    tracer: codetracer.Tracer, registered: Any
) -> None:
    inner = agent(*SOLVING)

    def delegate(state: MessagesState) -> dict[str, Any]:
        written = inner.invoke({"messages": state["messages"]})["messages"]
        return {"messages": written[len(state["messages"]):]}

    builder = StateGraph(MessagesState)
    builder.add_node("delegate", delegate)
    builder.add_edge(START, "delegate")
    builder.add_edge("delegate", END)
    builder.compile().invoke(ask("outer task"))
    (run,) = finished(tracer)
    assert run.task == "outer task" and run.metadata["trace_path"] == "graph"
    assert llm_responses(run) == [m.content for m in SOLVING]
    assert registered.calls == []


def test_threads_running_graphs_keep_their_runs_apart(tracer: codetracer.Tracer, registered: Any) -> None:
    def work(i: int) -> None:
        agent(AIMessage(content="", tool_calls=[call("run_shell", f"t{i}", command=f"pytest -k {i}")]),
              AIMessage(content=f"done {i}")).invoke(ask(f"thread {i}"))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    runs = {r.task: r for r in finished(tracer, 4)}
    for i in range(4):
        run = runs[f"thread {i}"]
        assert llm_responses(run) == ["", f"done {i}"]
        assert tool_calls(run)[0] == [("run_shell", {"command": f"pytest -k {i}"}, "1 passed", False)]


def test_unregistering_gives_langgraph_its_own_methods_back(tracer: codetracer.Tracer) -> None:
    own = Pregel.__dict__["stream"], Pregel.__dict__["astream"]
    codetracer.langchain(tracer=tracer)
    assert (Pregel.__dict__["stream"], Pregel.__dict__["astream"]) != own
    codetracer.langchain(tracer=tracer, graph_path=False)
    assert (Pregel.__dict__["stream"], Pregel.__dict__["astream"]) == own, "graphs through callbacks: no wrapping"
    codetracer.langchain(tracer=tracer)
    live.unregister_global()
    assert (Pregel.__dict__["stream"], Pregel.__dict__["astream"]) == own
    agent(AIMessage(content="untraced")).invoke(ask("after"))
    assert finished(tracer, 0) == []


def test_asyncio_tasks_running_graphs_keep_their_runs_apart(tracer: codetracer.Tracer, registered: Any) -> None:
    async def main() -> None:
        graphs = [agent(AIMessage(content="", tool_calls=[call("slow_lookup", f"a{i}", key=f"k{i}", delay=0.02 * i)]),
                        AIMessage(content=f"found {i}")) for i in range(3)]
        await asyncio.gather(*(g.ainvoke(ask(f"task {i}")) for i, g in enumerate(graphs)))

    asyncio.run(main())
    runs = {r.task: r for r in finished(tracer, 3)}
    for i in range(3):
        assert llm_responses(runs[f"task {i}"]) == ["", f"found {i}"]
        assert tool_calls(runs[f"task {i}"])[0] == [("slow_lookup", {"key": f"k{i}", "delay": 0.02 * i},
                                                     f"value-of-k{i}", False)]
    assert registered.calls == []


def test_the_graph_run_mark_never_outlives_a_chunk(tracer: codetracer.Tracer, registered: Any) -> None:
    """The variable that keeps the handler out is set only while LangGraph computes: not between chunks, not after a
    stream closed early, not after a graph raised."""
    stream = agent(*SOLVING).stream(ask("closed early"))
    next(stream)
    assert live.GRAPH_RUN.get() is None
    stream.close()
    assert live.GRAPH_RUN.get() is None
    script_ends_too_soon = agent(AIMessage(content="", tool_calls=[call("read_file", "x1", path="setup.py")]))
    with pytest.raises(Exception):  # noqa: B017 - the fake model has no answer left: whatever it raises
        script_ends_too_soon.invoke(ask("raises"))
    assert live.GRAPH_RUN.get() is None
    runs = {r.task: r for r in finished(tracer, 2)}
    assert runs["closed early"].exit_status == "stopped" and runs["raises"].outcome.value == "failed"

"""``codetracer.trace(graph)``'s graph path: a real LangGraph graph traced through its own ``updates`` stream.

The runs of ``test_langchain_live.py`` already go through this path (their agents are LangGraph graphs); these tests
cover what is particular to it: the traced copy is still the graph, the caller's stream formats are LangGraph's own,
the tree equals the callback handler's tree for the same run, and the ends of a run that are not a return (an
interrupt, a stop, LangGraph's recursion limit, a tracing failure, a graph without messages).
"""

from __future__ import annotations

import asyncio
import logging
import warnings
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, BaseMessage
from test_langchain_live import (
    SOLVING,
    TOOLS,
    agent,
    ask,
    call,
    finished,
    llm_responses,
    model,
    stored,
    tool_calls,
)

import codetracer
from codetracer.adapters.langchain import graph, live
from codetracer.core.events import Events
from codetracer.core.model import Run

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.errors import GraphRecursionError
    from langgraph.graph import END, START, StateGraph
    from langgraph.graph.state import CompiledStateGraph
    from langgraph.prebuilt import create_react_agent

pytestmark = pytest.mark.filterwarnings("ignore:create_react_agent has been moved")

TWO_TURNS = (
    AIMessage(content="Read both.", tool_calls=[call("read_file", "p1", path="setup.py"), call("run_shell", "p2",
                                                                                               command="pytest")]),
    AIMessage(content="", tool_calls=[call("edit_file", "p3", path="calc.py", old_str="-", new_str="+")]),
    AIMessage(content="All green."),
)


def shape(chunk: Any) -> Any:
    """A stream chunk with messages replaced by (type, content) and LangGraph's random ids left out."""
    if isinstance(chunk, BaseMessage):
        return (chunk.type, chunk.content)
    if isinstance(chunk, dict):
        return {k: shape(v) for k, v in chunk.items() if k not in ("id", "checkpoint_ns", "langgraph_checkpoint_ns")}
    if isinstance(chunk, list | tuple):
        return type(chunk)(shape(v) for v in chunk)
    return chunk


def tree(run: Run) -> list[Any]:
    """What a step-level comparison of two trees of the same run looks at (times and ids differ; the callback
    handler orders parallel tool calls as their threads start them, the graph path as the model requested them)."""
    return [
        (
            sorted((c.kind, c.name or "" if c.kind == "tool" else "", c.input_messages if c.kind == "llm" else 0,
                    c.response.text if c.response else "") for c in s.calls),
            s.thought.text if s.thought else None,
            [(e.kind, e.error) for e in s.errors],
            s.complete,
        )
        for s in run.steps
    ] + [[sorted(calls, key=repr) for calls in tool_calls(run)]]


def test_traced_copy_is_still_the_graph_and_the_original_is_untouched(tracer: codetracer.Tracer) -> None:
    original = agent(*SOLVING)
    traced = codetracer.trace(original, tracer=tracer)
    assert isinstance(traced, CompiledStateGraph) and type(original) is CompiledStateGraph
    assert traced is not original and traced.get_graph().nodes.keys() == original.get_graph().nodes.keys()
    configured = traced.with_config(tags=["nightly"])
    assert isinstance(configured, graph._TracedGraph), "LangGraph's own copy keeps a traced graph traced"
    assert isinstance(codetracer.trace(traced, tracer=tracer), graph._TracedGraph)
    configured.invoke(ask("fix add() in calc.py"))
    (run,) = finished(tracer)
    assert run.metadata["tags"] == ["nightly"] and len(run.steps) == 4


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"stream_mode": "values"},
        {"stream_mode": "messages"},
        {"stream_mode": ["updates", "custom"]},
        {"stream_mode": ["values", "updates"], "subgraphs": True},
        {"stream_mode": "updates", "subgraphs": True},
        {"stream_mode": ["messages", "values"], "version": "v2"},
    ],
    ids=lambda kwargs: ",".join(f"{k}={v}" for k, v in kwargs.items()) or "default",
)
def test_the_caller_gets_langgraphs_own_stream(tracer: codetracer.Tracer, kwargs: dict[str, Any]) -> None:
    plain = [shape(c) for c in agent(*TWO_TURNS).stream(ask("read and fix"), **kwargs)]
    traced = [shape(c) for c in codetracer.trace(agent(*TWO_TURNS), tracer=tracer).stream(ask("read and fix"),
                                                                                          **kwargs)]
    assert sorted(map(repr, traced)) == sorted(map(repr, plain)) and plain, "parallel tools may finish in any order"
    assert [type(c) for c in traced] == [type(c) for c in plain]
    (run,) = finished(tracer)
    assert llm_responses(run) == ["Read both.", "", "All green."]


def test_async_stream_and_invoke_give_langgraphs_own_results(tracer: codetracer.Tracer) -> None:
    async def chunks(target: Any) -> list[Any]:
        return [shape(c) async for c in target.astream(ask("read"), stream_mode=["updates", "values"])]

    plain = asyncio.run(chunks(agent(*TWO_TURNS)))
    traced = asyncio.run(chunks(codetracer.trace(agent(*TWO_TURNS), tracer=tracer)))
    assert sorted(map(repr, traced)) == sorted(map(repr, plain))
    result = asyncio.run(codetracer.trace(agent(*TWO_TURNS), tracer=tracer).ainvoke(ask("read")))
    assert shape(result) == shape(agent(*TWO_TURNS).invoke(ask("read")))
    runs = finished(tracer, 2)
    assert tree(runs[0]) == tree(runs[1])


def test_same_tree_as_the_callback_handler(tracer: codetracer.Tracer, home: Path) -> None:
    """The same scripted runs, one traced through the updates stream, one through LangChain's callbacks."""
    failing = (
        AIMessage(content="Check the package.", tool_calls=[call("read_file", "a1", path="setup.py")]),
        AIMessage(content="Build it.", tool_calls=[call("run_shell", "a2", command="mkae build")]),
    )
    for turns in (SOLVING, TWO_TURNS, failing):
        handler = live.CodetracerCallbackHandler(tracer)
        for target, config in ((codetracer.trace(agent(*turns), tracer=tracer), {}),
                               (agent(*turns), {"callbacks": [handler]})):
            try:
                target.invoke(ask("same task"), config=config)
            except RuntimeError:
                assert turns is failing
        by_path = finished(tracer, 2)
        tracer.runs.clear()
        assert tree(by_path[0]) == tree(by_path[1])
        first, second = by_path
        assert (first.outcome, first.exit_status) == (second.outcome, second.exit_status)
        assert [e.error for e in first.errors] == [e.error for e in second.errors]
        for run in by_path:
            stored(home, run)


def test_interrupt_ends_the_run_as_interrupted_and_resuming_is_a_new_run(tracer: codetracer.Tracer) -> None:
    traced = codetracer.trace(
        create_react_agent(model(*SOLVING[2:]), TOOLS, interrupt_before=["tools"], checkpointer=InMemorySaver()),
        tracer=tracer,
    )
    config = {"configurable": {"thread_id": "t1"}}
    traced.invoke(ask("run the tests"), config=config)
    (paused,) = finished(tracer)
    assert (paused.outcome.value, paused.exit_status) == ("unknown", "interrupted")
    assert [[c.name for c in s.tool_calls] for s in paused.steps] == [["run_shell"]]
    assert paused.steps[0].tool_calls[0].observation is None, "the tool waiting for approval had not run"
    tracer.runs.clear()
    traced.invoke(None, config=config)  # approve: LangGraph resumes the thread from its checkpoint
    (resumed,) = finished(tracer)
    assert resumed.id != paused.id and resumed.exit_status == "finished"
    # the approved call was requested by the first run: here it is a step of its own (with the arguments the
    # thread's checkpoint holds), then the model's answer
    assert tool_calls(resumed) == [[("run_shell", {"command": "pytest -q"}, "1 passed", False)], []]
    assert resumed.metadata["thread_id"] == "t1" and resumed.metadata["resumes"] == paused.id
    assert [[c.kind for c in s.calls] for s in resumed.steps] == [["tool"], ["llm"]]
    assert resumed.steps[1].calls[0].response.text == "Fixed: add now adds."  # type: ignore[union-attr]


def test_stopping_the_stream_early_finishes_the_run_as_stopped(tracer: codetracer.Tracer) -> None:
    stream = codetracer.trace(agent(*SOLVING), tracer=tracer).stream(ask("fix it"), stream_mode="updates")
    first = next(stream)
    assert list(first) == ["agent"]
    stream.close()
    (run,) = finished(tracer)
    assert (run.outcome.value, run.exit_status) == ("unknown", "stopped")
    assert llm_responses(run) == ["Look at the code first."]
    assert run.steps[0].tool_calls[0].observation is None, "the tool requested before the stop never answered"


def test_recursion_limit_is_an_error_of_the_run(tracer: codetracer.Tracer) -> None:
    looping = [AIMessage(content="", tool_calls=[call("run_shell", f"l{i}", command="pytest")]) for i in range(10)]
    with pytest.raises(GraphRecursionError):
        codetracer.trace(agent(*looping), tracer=tracer).invoke(ask("loop"), config={"recursion_limit": 5})
    (run,) = finished(tracer)
    assert (run.outcome.value, run.exit_status) == ("failed", "GraphRecursionError")
    assert [e.kind for e in run.errors] == ["GraphRecursionError"]
    assert not any(s.errors for s in run.steps), "the limit is the run's, not a step's"


def test_a_tracing_failure_never_reaches_the_graph(tracer: codetracer.Tracer, caplog: pytest.LogCaptureFixture) -> None:
    class Exploding:
        def __getattr__(self, name: str) -> Any:
            raise RuntimeError("tracer bug")

    traced = codetracer.trace(agent(*SOLVING), tracer=tracer)
    tracer.events = Exploding()  # type: ignore[assignment]
    with caplog.at_level(logging.ERROR, logger="codetracer.langgraph"):
        result = traced.invoke(ask("must still work"))
    assert result["messages"][-1].content == "Fixed: add now adds."
    assert "runs untraced" in caplog.text


def test_a_failing_record_stops_recording_but_not_the_run(
    tracer: codetracer.Tracer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    real = Events.recorder

    def breaking(self: Events, run_id: str, mapper: str) -> Any:
        record = real(self, run_id, mapper)

        def record_but_updates(payload: Any, timestamp: float | None = None) -> None:
            if payload[0] == "update":
                raise ValueError("unexpected message shape")
            record(payload, timestamp)

        return record_but_updates

    monkeypatch.setattr(Events, "recorder", breaking)
    with caplog.at_level(logging.ERROR, logger="codetracer.langgraph"):
        result = codetracer.trace(agent(*SOLVING), tracer=tracer).invoke(ask("fix it"))
    assert result["messages"][-1].content == "Fixed: add now adds."
    (run,) = finished(tracer)
    assert run.complete and run.exit_status == "finished" and run.steps == []
    assert "untraced from here" in caplog.text


def test_global_handler_and_traced_graph_record_one_run(tracer: codetracer.Tracer) -> None:
    codetracer.langchain(tracer=tracer)
    try:
        codetracer.trace(agent(*TWO_TURNS), tracer=tracer, outcome="solved").invoke(ask("once"))
    finally:
        live.unregister_global()
    (run,) = finished(tracer)
    assert run.outcome.value == "solved" and llm_responses(run) == ["Read both.", "", "All green."]


def test_graph_without_messages_is_traced_by_callbacks(tracer: codetracer.Tracer) -> None:
    from typing import TypedDict

    class State(TypedDict):
        text: str

    builder = StateGraph(State)
    builder.add_node("shout", lambda state: {"text": state["text"].upper()})
    builder.add_edge(START, "shout")
    builder.add_edge("shout", END)
    compiled = builder.compile()
    assert not graph.traceable(compiled)
    traced = codetracer.trace(compiled, tracer=tracer, outcome="solved")
    assert not isinstance(traced, graph._TracedGraph), "bound with the callback handler (LangGraph's with_config)"
    assert traced.invoke({"text": "hi"}) == {"text": "HI"}
    (run,) = finished(tracer)
    assert run.outcome.value == "solved" and run.steps == []


def test_batch_and_astream_events_are_traced_runs_too(tracer: codetracer.Tracer) -> None:
    """``batch`` runs ``invoke`` per input (in threads), ``astream_events`` runs ``astream``: both reach the traced
    stream, one run per input, no run shared."""
    traced = codetracer.trace(agent(*SOLVING[2:], AIMessage(content="second")), tracer=tracer)
    outputs = traced.batch([ask("first input"), ask("second input")], config={"max_concurrency": 1})
    assert [o["messages"][-1].content for o in outputs] == ["Fixed: add now adds.", "second"]

    async def events() -> list[str]:
        streamed = codetracer.trace(agent(AIMessage(content="evented")), tracer=tracer)
        return [e["event"] async for e in streamed.astream_events(ask("with events"), version="v2")]

    kinds = asyncio.run(events())
    assert "on_chat_model_end" in kinds and kinds[-1] == "on_chain_end"
    runs = {r.task: r for r in finished(tracer, 3)}
    assert llm_responses(runs["first input"]) == ["", "Fixed: add now adds."]
    assert llm_responses(runs["second input"]) == ["second"]
    assert llm_responses(runs["with events"]) == ["evented"]
    assert len({r.id for r in runs.values()}) == 3


def test_agent_as_a_node_of_another_graph(tracer: codetracer.Tracer) -> None:
    """A traced agent inside an untraced graph is its own run; an untraced agent inside a traced graph is seen
    through what its node writes: every message of the sub-agent, in order, in the parent's run."""
    from langgraph.graph import MessagesState

    def parent_of(node: Any) -> Any:
        builder = StateGraph(MessagesState)
        builder.add_node("coder", node)
        builder.add_edge(START, "coder")
        builder.add_edge("coder", END)
        return builder.compile()

    inside = parent_of(codetracer.trace(agent(*SOLVING), tracer=tracer)).invoke(ask("traced inside"))
    outside = codetracer.trace(parent_of(agent(*SOLVING)), tracer=tracer).invoke(ask("traced outside"))
    assert inside["messages"][-1].content == outside["messages"][-1].content == "Fixed: add now adds."
    runs = {r.task: r for r in finished(tracer, 2)}
    for task in ("traced inside", "traced outside"):
        assert llm_responses(runs[task]) == [m.content for m in SOLVING]
        assert [[c[0] for c in calls] for calls in tool_calls(runs[task])] == [["read_file"], ["edit_file"],
                                                                             ["run_shell"], []]


def test_a_graph_class_codetracer_cannot_extend_is_traced_by_callbacks(
    tracer: codetracer.Tracer, caplog: pytest.LogCaptureFixture
) -> None:
    class Final(CompiledStateGraph):  # type: ignore[misc]
        def __init_subclass__(cls, **kwargs: Any) -> None:
            raise TypeError("Final graphs cannot be subclassed")

    base = agent(AIMessage(content="final"))
    final = Final(**{k: v for k, v in base.__dict__.items() if k != "__orig_class__"})
    with caplog.at_level(logging.WARNING, logger="codetracer.langchain"):
        traced = codetracer.trace(final, tracer=tracer)
    assert type(traced) is Final and "through callbacks" in caplog.text
    traced.invoke(ask("still traced"))
    (run,) = finished(tracer)
    assert llm_responses(run) == ["final"]


def test_create_agent_same_tree_both_ways(tracer: codetracer.Tracer, home: Path) -> None:
    """``langchain.agents.create_agent``, the agent factory LangGraph 1.x points to: traced through its updates
    stream and through the callback handler, the same steps, calls and agent name."""
    from langchain.agents import create_agent

    traced = codetracer.trace(create_agent(model(*SOLVING), TOOLS, name="fixer"), tracer=tracer)
    assert isinstance(traced, graph._TracedGraph)
    traced.invoke(ask("fix add() in calc.py"))
    handler = live.CodetracerCallbackHandler(tracer)
    create_agent(model(*SOLVING), TOOLS, name="fixer").invoke(ask("fix add() in calc.py"),
                                                               config={"callbacks": [handler]})
    by_stream, by_callbacks = finished(tracer, 2)
    assert by_stream.metadata["langgraph"] is True and by_stream.metadata["name"] == "fixer"
    assert tree(by_stream) == tree(by_callbacks)
    assert llm_responses(by_stream) == [m.content for m in SOLVING]
    assert [s.agent for s in by_stream.steps] == [s.agent for s in by_callbacks.steps] == ["fixer"] * 4
    for run in (by_stream, by_callbacks):
        stored(home, run)


def test_a_node_writing_messages_twice_keeps_both(tracer: codetracer.Tracer) -> None:
    """LangGraph reports a node that wrote the channel more than once as a list of updates."""
    from langchain_core.messages import HumanMessage
    from langgraph.graph import MessagesState
    from langgraph.types import Command

    def twice(state: Any) -> list[Command]:
        return [Command(update={"messages": [AIMessage(content="first half")]}),
                Command(update={"messages": [HumanMessage(content="noted"), AIMessage(content="second half")]})]

    builder = StateGraph(MessagesState)
    builder.add_node("twice", twice)
    builder.add_edge(START, "twice")
    builder.add_edge("twice", END)
    codetracer.trace(builder.compile(), tracer=tracer).invoke(ask("split it"))
    (run,) = finished(tracer)
    assert llm_responses(run) == ["first half", "second half"]
    assert [c.input_messages for s in run.steps for c in s.calls] == [1, 3]


def test_a_chunk_codetracer_cannot_read_goes_to_the_caller_as_it_came(
    tracer: codetracer.Tracer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Should a LangGraph release stream chunks of a new shape, the agent must not notice codetracer."""
    real = graph._Session.open.__func__  # type: ignore[attr-defined]

    def expecting_subgraph_triples(cls: Any, *args: Any) -> Any:
        session = real(cls, *args)
        session.subgraphs = True  # reads (ns, mode, payload): invoke's (mode, payload) pairs do not fit
        return session

    monkeypatch.setattr(graph._Session, "open", classmethod(expecting_subgraph_triples))
    with caplog.at_level(logging.ERROR, logger="codetracer.langgraph"):
        result = codetracer.trace(agent(*SOLVING), tracer=tracer).invoke(ask("fix it"))
    assert result["messages"][-1].content == "Fixed: add now adds."
    assert "untraced from here" in caplog.text
    (run,) = finished(tracer)
    assert run.complete and run.steps == []

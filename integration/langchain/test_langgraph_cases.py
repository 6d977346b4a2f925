"""LangGraph runs that are more than one agent loop, traced both ways: a supervisor with two subagents, interrupt and
resume of a thread, a failing node that is no model, parallel tools of which one raises, and runs that end without
returning. Real LangGraph and ``langchain.agents.create_agent``, driven by scripted fake chat models.

Each case runs on the graph path (``codetracer.trace(graph)``, LangGraph's own stream) and on the callback path
(the handler in ``config["callbacks"]``), asserts the exact steps, calls and where the error sits, and checks that
the two paths give the same tree (``same_tree``): docs/adapters/langchain.md says where they may not.
"""

from __future__ import annotations

import asyncio
import re
import time
import warnings
from collections.abc import Callable
from typing import Annotated, Any

import pytest
from langchain_core.messages import AIMessage, ToolMessage
from langchain_core.tools import InjectedToolCallId, tool
from test_langchain_graph import shape
from test_langchain_live import ScriptedModel, ask, call, model, read_file, run_shell

import codetracer
from codetracer.adapters.langchain import live
from codetracer.core.model import Run

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from langchain.agents import create_agent
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.func import entrypoint, task
    from langgraph.graph import END, START, MessagesState, StateGraph
    from langgraph.prebuilt import InjectedState
    from langgraph.types import Command, interrupt

PATHS = pytest.mark.parametrize("graph_path", [True, False], ids=["graph-path", "callbacks"])


def traced(graph: Any, tracer: codetracer.Tracer, graph_path: bool) -> tuple[Any, dict[str, Any]]:
    """The graph as the path traces it and the config to call it with."""
    if graph_path:
        return codetracer.trace(graph, tracer=tracer), {}
    return graph, {"callbacks": [live.CodetracerCallbackHandler(tracer)]}


def runs_of(tracer: codetracer.Tracer, n: int = 1) -> list[Run]:
    assert tracer.flush()
    assert len(tracer.runs) == n, [r.task for r in tracer.runs]
    return list(tracer.runs)


def steps(run: Run) -> list[tuple[str | None, str | None, list[str]]]:
    """Per step: its agent, the graph node that ran it, and its calls (``llm`` or the tool's name)."""
    return [(s.agent, s.raw_ref, [c.name if c.kind == "tool" else "llm" for c in s.calls]) for s in run.steps]


def outcomes(run: Run) -> list[list[tuple[str, str | None, bool, bool, str | None]]]:
    """Per step, per tool call: (tool, output, is_error, complete, ending)."""
    return [
        [(c.name, c.observation.text.text if c.observation and c.observation.text else None,
          bool(c.observation and c.observation.is_error), c.complete, c.ending) for c in s.tool_calls]
        for s in run.steps
    ]


def inputs(run: Run) -> list[int | None]:
    """How many messages each model call read."""
    return [c.input_messages for s in run.steps for c in s.calls if c.kind == "llm"]


def same_tree(run: Run) -> Any:
    """What both paths must agree on: everything but ids, times and model names (the graph path reads the model's
    name from the message it wrote, the handler from the model; a fake model writes none)."""
    return (
        run.outcome.value, run.exit_status, [(e.kind, e.error) for e in run.errors],
        [
            (
                s.agent, s.raw_ref, s.thought.text if s.thought else None, [(e.kind, e.error) for e in s.errors],
                sorted(
                    (c.kind, c.name if c.kind == "tool" else "", c.input_messages,
                     c.response.text if c.response else None, c.action.arguments if c.action else None,
                     c.observation.text.text if c.observation and c.observation.text else None,
                     bool(c.observation and c.observation.is_error), c.complete, c.ending, c.raw_ref)
                    for c in s.calls
                ),
            )
            for s in run.steps
        ],
    )


def both_paths(tracer: codetracer.Tracer, case: Callable[[codetracer.Tracer, bool], list[Run]]) -> None:
    """The same case on the two paths gives the same trees."""
    by_graph = case(tracer, True)
    tracer.runs.clear()
    by_callbacks = case(tracer, False)
    assert [same_tree(r) for r in by_graph] == [same_tree(r) for r in by_callbacks]
    assert [r.metadata["trace_path"] for r in by_graph + by_callbacks] == ["graph"] * len(by_graph) + [
        "callbacks"] * len(by_callbacks)


# --------------------------------------------------------------------------------------------------------------------
# 1. A supervisor with two subagents (compiled subgraphs as nodes, handing off with Command(graph=PARENT))
# --------------------------------------------------------------------------------------------------------------------


def handoff(agent: str) -> Any:
    """A handoff tool as langgraph-supervisor makes them: the whole history and the tool's answer go to the parent,
    whose next node is the agent."""

    @tool(f"transfer_to_{agent}")
    def transfer(state: Annotated[dict[str, Any], InjectedState],
                 tool_call_id: Annotated[str, InjectedToolCallId]) -> Command:
        """Hand the task to an agent."""
        answer = ToolMessage(content=f"Transferred to {agent}", tool_call_id=tool_call_id, name=f"transfer_to_{agent}")
        return Command(goto=agent, graph=Command.PARENT, update={"messages": [*state["messages"], answer]})

    return transfer


@tool
def edit_file(path: str, old_str: str, new_str: str) -> str:
    """Replace text in a file."""
    return f"edited {path}"


def supervisor_graph(*, checkpointer: Any = None, researcher_tools: Any = None, researcher_turns: Any = None) -> Any:
    supervisor = create_agent(model(
        AIMessage(content="Research first.", tool_calls=[call("transfer_to_researcher", "h1")]),
        AIMessage(content="Now fix it.", tool_calls=[call("transfer_to_coder", "h2")]),
        AIMessage(content="All done."),
    ), [handoff("researcher"), handoff("coder")], name="supervisor")
    researcher = create_agent(model(*(researcher_turns or (
        AIMessage(content="", tool_calls=[call("read_file", "r1", path="calc.py")]),
        AIMessage(content="add() subtracts."),
    ))), researcher_tools or [read_file], name="researcher")
    coder = create_agent(model(
        AIMessage(content="", tool_calls=[call("edit_file", "c1", path="calc.py", old_str="a - b", new_str="a + b")]),
        AIMessage(content="", tool_calls=[call("run_shell", "c2", command="pytest -q")]),
        AIMessage(content="Fixed."),
    ), [edit_file, run_shell], name="coder")
    builder = StateGraph(MessagesState)
    builder.add_node("supervisor", supervisor, destinations=("researcher", "coder", END))
    builder.add_node("researcher", researcher)
    builder.add_node("coder", coder)
    builder.add_edge(START, "supervisor")
    builder.add_edge("researcher", "supervisor")
    builder.add_edge("coder", "supervisor")
    return builder.compile(checkpointer=checkpointer)


SUPERVISED = [
    ("supervisor", "node=supervisor/model", ["llm", "transfer_to_researcher"]),
    ("researcher", "node=researcher/model", ["llm", "read_file"]),
    ("researcher", "node=researcher/model", ["llm"]),
    ("supervisor", "node=supervisor/model", ["llm", "transfer_to_coder"]),
    ("coder", "node=coder/model", ["llm", "edit_file"]),
    ("coder", "node=coder/model", ["llm", "run_shell"]),
    ("coder", "node=coder/model", ["llm"]),
    ("supervisor", "node=supervisor/model", ["llm"]),
]


def supervised(tracer: codetracer.Tracer, graph_path: bool) -> list[Run]:
    target, config = traced(supervisor_graph(), tracer, graph_path)
    result = target.invoke(ask("fix add() in calc.py"), config=config)
    assert result["messages"][-1].content == "All done."
    (run,) = runs_of(tracer)
    assert steps(run) == SUPERVISED, "8 model turns, 3 real tool calls and 2 handoffs, each once, under its agent"
    assert sum(len(s.tool_calls) for s in run.steps) == 5
    assert outcomes(run)[1] == [("read_file", "def add(a, b):\n    return a - b\n", False, True, None)]
    assert [m for m in (s.thought.text if s.thought else None for s in run.steps) if m] == [
        "Research first.", "add() subtracts.", "Now fix it.", "Fixed.", "All done."]
    assert inputs(run) == [1, 3, 5, 6, 8, 10, 12, 13], "what each model read: its agent's state"
    assert (run.outcome.value, run.exit_status, run.errors) == ("unknown", "finished", [])
    assert not any(s.errors for s in run.steps), "a handoff (ParentCommand) is LangGraph's control flow, no error"
    return [run]


@PATHS
def test_a_supervisor_with_two_subagents_records_each_turn_once(tracer: codetracer.Tracer, graph_path: bool) -> None:
    supervised(tracer, graph_path)


def test_a_supervisor_gives_the_same_tree_both_ways(tracer: codetracer.Tracer) -> None:
    both_paths(tracer, supervised)


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"stream_mode": "updates"}, {"stream_mode": "messages"}, {"stream_mode": ["values", "updates"]},
     {"stream_mode": "updates", "subgraphs": True}, {"stream_mode": ["messages", "values"], "version": "v2"},
     {"stream_mode": ["updates", "messages"], "subgraphs": True}],
    ids=lambda kwargs: ",".join(f"{k}={v}" for k, v in kwargs.items()) or "default",
)
def test_reading_the_subagents_leaves_the_callers_stream_as_langgraph_gives_it(
    tracer: codetracer.Tracer, kwargs: dict[str, Any]
) -> None:
    """The graph path asks LangGraph for the subgraphs' chunks too; the caller gets only what it asked for."""

    def chunks(graph: Any) -> list[str]:
        return [re.sub(r":[0-9a-f-]{36}", ":<task>", repr(shape(c)))  # namespaces name LangGraph's task ids
                for c in graph.stream(ask("fix add() in calc.py"), **kwargs)]

    plain = chunks(supervisor_graph())
    assert chunks(codetracer.trace(supervisor_graph(), tracer=tracer)) == plain and plain
    (run,) = runs_of(tracer)
    modes = kwargs.get("stream_mode", "updates")
    if kwargs.get("subgraphs") or set([modes] if isinstance(modes, str) else modes) <= {"updates", "values"}:
        assert steps(run) == SUPERVISED
    else:  # a subgraph's chunks would reach the caller: its work is read from what its node returns
        assert steps(run) == [(agent, node.rsplit("/", 1)[0], names) for agent, node, names in SUPERVISED]
    assert inputs(run) == [1, 3, 5, 6, 8, 10, 12, 13]


# --------------------------------------------------------------------------------------------------------------------
# 2. interrupt() and resume of one thread (InMemorySaver)
# --------------------------------------------------------------------------------------------------------------------


@tool
def ask_human(question: str) -> str:
    """Ask the user and wait for the answer."""
    return str(interrupt({"question": question}))


def paused_agent() -> Any:
    """Reads a file, then asks a human and runs the tests in parallel: the tests finish, the question pauses."""
    return create_agent(model(
        AIMessage(content="Read it first.", tool_calls=[call("read_file", "t1", path="calc.py")]),
        AIMessage(content="Ask, and test meanwhile.", tool_calls=[call("ask_human", "q1", question="Fix add()?"),
                                                                  call("run_shell", "t2", command="pytest -q")]),
        AIMessage(content="Done: the user agreed."),
    ), [read_file, ask_human, run_shell], checkpointer=InMemorySaver())


def interrupted_and_resumed(tracer: codetracer.Tracer, graph_path: bool) -> list[Run]:
    target, config = traced(paused_agent(), tracer, graph_path)
    config = {**config, "configurable": {"thread_id": f"thread-{graph_path}"}}
    paused_state = target.invoke(ask("fix add()"), config=config)
    assert paused_state["__interrupt__"][0].value == {"question": "Fix add()?"}
    (paused,) = runs_of(tracer)
    tracer.runs.clear()
    result = target.invoke(Command(resume="yes"), config=config)
    assert result["messages"][-1].content == "Done: the user agreed."
    (resumed,) = runs_of(tracer)
    tracer.runs.clear()

    assert (paused.outcome.value, paused.exit_status) == ("unknown", "interrupted"), "an interrupt is no failure"
    # parallel siblings start in the scheduler's order (the callback path sees thread start order): compare as sets
    assert [sorted(c.name for c in s.tool_calls) for s in paused.steps] == [["read_file"], ["ask_human", "run_shell"]]
    assert sorted(outcomes(paused)[1]) == [("ask_human", None, False, False, "interrupted"),
                                           ("run_shell", "1 passed", False, True, None)]
    assert not paused.errors and not any(s.errors for s in paused.steps), "an interrupt is no error"

    assert (resumed.outcome.value, resumed.exit_status, resumed.errors) == ("unknown", "finished", [])
    assert resumed.metadata["thread_id"] == paused.metadata["thread_id"] == f"thread-{graph_path}"
    assert resumed.metadata["resumes"] == paused.id and "resumes" not in paused.metadata
    assert resumed.task == paused.task == "fix add()", "a resume's input is a Command: the task is the paused run's"
    # run_shell answered before the pause: not again; the answered question is a step of its own, with its arguments
    assert [names for _, _, names in steps(resumed)] == [["ask_human"], ["llm"]]
    (question,) = resumed.steps[0].tool_calls
    assert question.action is not None and question.action.arguments == {"question": "Fix add()?"}
    assert outcomes(resumed)[0] == [("ask_human", "yes", False, True, None)]
    assert inputs(resumed) == [6], "the thread's five messages and the answer"
    return [paused, resumed]


@PATHS
def test_interrupt_and_resume_are_two_linked_runs_without_duplicates(tracer: codetracer.Tracer,
                                                                    graph_path: bool) -> None:
    interrupted_and_resumed(tracer, graph_path)


def test_interrupt_and_resume_give_the_same_trees_both_ways(tracer: codetracer.Tracer) -> None:
    both_paths(tracer, interrupted_and_resumed)


def paused_before_tools(tracer: codetracer.Tracer, graph_path: bool) -> list[Run]:
    """``interrupt_before``: LangGraph pauses before the tools node; nothing raises, the callbacks see no error."""
    agent = create_agent(model(AIMessage(content="", tool_calls=[call("run_shell", "s1", command="pytest -q")]),
                               AIMessage(content="Tests pass.")), [run_shell], checkpointer=InMemorySaver(),
                         interrupt_before=["tools"])
    target, config = traced(agent, tracer, graph_path)
    config = {**config, "configurable": {"thread_id": "before"}}
    target.invoke(ask("run the tests"), config=config)
    (paused,) = runs_of(tracer)
    tracer.runs.clear()
    target.invoke(None, config=config)
    (resumed,) = runs_of(tracer)
    tracer.runs.clear()
    assert (paused.exit_status, outcomes(paused)) == ("interrupted", [[("run_shell", None, False, False,
                                                                         "interrupted")]])
    assert outcomes(resumed) == [[("run_shell", "1 passed", False, True, None)], []]
    assert resumed.metadata["resumes"] == paused.id
    return [paused, resumed]


def test_a_pause_before_a_node_is_an_interrupt_both_ways(tracer: codetracer.Tracer) -> None:
    both_paths(tracer, paused_before_tools)


def paused_inside_a_subagent(tracer: codetracer.Tracer, graph_path: bool) -> list[Run]:
    """The researcher (a subgraph) asks the human: the thread's state to resume from is the subgraph's."""
    researcher_turns = (
        AIMessage(content="", tool_calls=[call("read_file", "r1", path="calc.py")]),
        AIMessage(content="", tool_calls=[call("ask_human", "r2", question="Is add() meant to add?")]),
        AIMessage(content="add() should add."),
    )
    graph = supervisor_graph(checkpointer=InMemorySaver(), researcher_tools=[read_file, ask_human],
                             researcher_turns=researcher_turns)
    target, config = traced(graph, tracer, graph_path)
    config = {**config, "configurable": {"thread_id": "nested"}}
    target.invoke(ask("fix add() in calc.py"), config=config)
    (paused,) = runs_of(tracer)
    tracer.runs.clear()
    target.invoke(Command(resume="yes"), config=config)
    (resumed,) = runs_of(tracer)
    tracer.runs.clear()
    assert paused.exit_status == "interrupted" and steps(paused) == [
        ("supervisor", "node=supervisor/model", ["llm", "transfer_to_researcher"]),
        ("researcher", "node=researcher/model", ["llm", "read_file"]),
        ("researcher", "node=researcher/model", ["llm", "ask_human"]),
    ]
    assert outcomes(paused)[2] == [("ask_human", None, False, False, "interrupted")]
    assert [names for _, _, names in steps(resumed)] == [["ask_human"], ["llm"], ["llm", "transfer_to_coder"],
                                                         ["llm", "edit_file"], ["llm", "run_shell"], ["llm"],
                                                         ["llm"]], "nothing of the paused run again"
    assert outcomes(resumed)[0] == [("ask_human", "yes", False, True, None)]
    assert resumed.steps[1].agent == "researcher" and inputs(resumed)[0] == 7, "the researcher's state, resumed"
    return [paused, resumed]


def test_a_pause_inside_a_subagent_resumes_without_duplicates_both_ways(tracer: codetracer.Tracer) -> None:
    both_paths(tracer, paused_inside_a_subagent)


# --------------------------------------------------------------------------------------------------------------------
# 3. A failing node that is no model
# --------------------------------------------------------------------------------------------------------------------


def summarize(state: MessagesState) -> dict[str, Any]:
    """A post-processing node that fails on what the agent left."""
    raise KeyError("summary")


def with_failing_post_node() -> Any:
    agent = create_agent(model(AIMessage(content="", tool_calls=[call("read_file", "t1", path="calc.py")]),
                               AIMessage(content="It subtracts.")), [read_file], name="reader")
    builder = StateGraph(MessagesState)
    builder.add_node("agent", agent)
    builder.add_node("post", summarize)
    builder.add_edge(START, "agent")
    builder.add_edge("agent", "post")
    builder.add_edge("post", END)
    return builder.compile()


def failing_node(tracer: codetracer.Tracer, graph_path: bool) -> list[Run]:
    target, config = traced(with_failing_post_node(), tracer, graph_path)
    with pytest.raises(KeyError):
        target.invoke(ask("what does add() do?"), config=config)
    (run,) = runs_of(tracer)
    assert (run.outcome.value, run.exit_status) == ("failed", "KeyError")
    assert steps(run) == [("reader", "node=agent/model", ["llm", "read_file"]), ("reader", "node=agent/model",
                                                                                  ["llm"]),
                          (None, "node=post", [])], "the node that raised is a step of its own, with no model call"
    assert [[(e.kind, e.error) for e in s.errors] for s in run.steps] == [[], [], [("KeyError", "'summary'")]]
    assert not run.errors, "the error is the node's, not the run's"
    return [run]


def test_a_failing_node_is_blamed_not_a_model_call_that_never_happened_both_ways(tracer: codetracer.Tracer) -> None:
    both_paths(tracer, failing_node)


class BrokenModel(ScriptedModel):
    def _generate(self, *args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("model endpoint unreachable")


def failing_subagent_model(tracer: codetracer.Tracer, graph_path: bool) -> list[Run]:
    builder = StateGraph(MessagesState)
    builder.add_node("researcher", create_agent(BrokenModel(messages=iter([])), [read_file], name="researcher"))
    builder.add_edge(START, "researcher")
    builder.add_edge("researcher", END)
    target, config = traced(builder.compile(), tracer, graph_path)
    with pytest.raises(ConnectionError):
        target.invoke(ask("read calc.py"), config=config)
    (run,) = runs_of(tracer)
    assert steps(run) == [("researcher", "node=researcher/model", ["llm"])]
    (llm,) = run.steps[0].calls
    assert llm.response is None and llm.input_messages == 1
    assert [(e.kind, e.error) for e in run.steps[0].errors] == [("ConnectionError", "model endpoint unreachable")]
    return [run]


def test_a_model_failing_inside_a_subagent_is_that_model_call_both_ways(tracer: codetracer.Tracer) -> None:
    both_paths(tracer, failing_subagent_model)


# --------------------------------------------------------------------------------------------------------------------
# 4. Three parallel tools, one raising
# --------------------------------------------------------------------------------------------------------------------


@tool
async def quick(key: str) -> str:
    """Answer at once."""
    return f"quick {key}"


@tool
async def boom(x: str) -> str:
    """Raise, a moment after starting."""
    await asyncio.sleep(0.05)
    raise ValueError(f"boom {x}")


@tool
async def slow(key: str) -> str:
    """Take long: still running when its sibling raises."""
    await asyncio.sleep(5)
    return f"slow {key}"


THREE = AIMessage(content="All three at once.", tool_calls=[call("quick", "p1", key="a"), call("boom", "p2", x="1"),
                                                            call("slow", "p3", key="c")])


def parallel_one_raising(tracer: codetracer.Tracer, graph_path: bool) -> list[Run]:
    target, config = traced(create_agent(model(THREE, AIMessage(content="never")), [quick, boom, slow]), tracer,
                            graph_path)
    started = time.monotonic()
    with pytest.raises(ValueError, match="boom 1"):
        asyncio.run(target.ainvoke(ask("do three things"), config=config))
    assert time.monotonic() - started < 4, "LangGraph cancelled the slow sibling"
    (run,) = runs_of(tracer)
    assert (run.outcome.value, run.exit_status, run.errors) == ("failed", "ValueError", [])
    (step,) = run.steps
    assert [(e.kind, e.error) for e in step.errors] == [("ValueError", "boom 1")]
    assert sorted(outcomes(run)[0]) == [("boom", "boom 1", True, True, None), ("quick", "quick a", False, True, None),
                                        ("slow", None, False, False, "cancelled")]
    return [run]


@PATHS
def test_the_raising_tool_carries_the_error_and_its_cancelled_sibling_says_so(tracer: codetracer.Tracer,
                                                                             graph_path: bool) -> None:
    parallel_one_raising(tracer, graph_path)


def test_parallel_tools_one_raising_give_the_same_tree_both_ways(tracer: codetracer.Tracer) -> None:
    both_paths(tracer, parallel_one_raising)


@tool
def sync_boom(x: str) -> str:
    """Raise, a moment after starting (in LangGraph's thread pool)."""
    time.sleep(0.05)
    raise ValueError(f"boom {x}")


@tool
def sync_slow(key: str) -> str:
    """Take a while: a thread cannot be cancelled, so it runs to its end."""
    time.sleep(0.4)
    return f"slow {key}"


@PATHS
def test_a_sync_sibling_runs_to_its_end_which_only_the_callbacks_see(tracer: codetracer.Tracer,
                                                                     graph_path: bool) -> None:
    """Sync tools run in threads, which Python cannot stop: the slow sibling finishes, but LangGraph drops its
    result. The callback path records what the tool returned; the graph path, which sees only what LangGraph
    keeps, marks it cancelled (docs/adapters/langchain.md)."""
    three = AIMessage(content="", tool_calls=[call("sync_boom", "s1", x="1"), call("sync_slow", "s2", key="b")])
    target, config = traced(create_agent(model(three), [sync_boom, sync_slow]), tracer, graph_path)
    with pytest.raises(ValueError, match="boom 1"):
        target.invoke(ask("two things"), config=config)
    (run,) = runs_of(tracer)
    (step,) = run.steps
    assert [(e.kind, e.error) for e in step.errors] == [("ValueError", "boom 1")]
    slow_call = {name: result for name, *result in outcomes(run)[0]}["sync_slow"]
    assert slow_call == ([None, False, False, "cancelled"] if graph_path else ["slow b", False, True, None])


# --------------------------------------------------------------------------------------------------------------------
# 5. Runs that end without returning: one vocabulary
# --------------------------------------------------------------------------------------------------------------------


def stopped_early(tracer: codetracer.Tracer, graph_path: bool) -> list[Run]:
    agent = create_agent(model(AIMessage(content="Read it.", tool_calls=[call("read_file", "b1", path="calc.py")]),
                               AIMessage(content="never")), [read_file])
    target, config = traced(agent, tracer, graph_path)
    for _ in target.stream(ask("read calc.py"), config=config, stream_mode="updates"):
        break  # the caller has seen enough
    (run,) = runs_of(tracer)
    assert (run.outcome.value, run.exit_status, run.errors) == ("unknown", "stopped", [])
    assert outcomes(run) == [[("read_file", None, False, False, "cancelled")]]
    return [run]


def test_breaking_out_of_a_stream_is_stopped_both_ways(tracer: codetracer.Tracer) -> None:
    both_paths(tracer, stopped_early)


@tool
async def wait_long(key: str) -> str:
    """Wait for a long time."""
    await asyncio.sleep(5)
    return key


def cancelled(tracer: codetracer.Tracer, graph_path: bool) -> list[Run]:
    agent = create_agent(model(AIMessage(content="", tool_calls=[call("wait_long", "w1", key="k")])), [wait_long])
    target, config = traced(agent, tracer, graph_path)

    async def main() -> None:
        task = asyncio.ensure_future(target.ainvoke(ask("wait"), config=config))
        await asyncio.sleep(0.2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    (run,) = runs_of(tracer)
    assert (run.outcome.value, run.exit_status, run.errors) == ("unknown", "cancelled", [])
    assert outcomes(run) == [[("wait_long", None, False, False, "cancelled")]]
    assert "object at 0x" not in run.to_json(), "LangGraph's cancel marker is no error text"
    return [run]


def test_a_cancelled_run_is_cancelled_both_ways(tracer: codetracer.Tracer) -> None:
    both_paths(tracer, cancelled)


@task
async def slow_part(key: str) -> str:
    """A task of a functional-API workflow that takes long."""
    await asyncio.sleep(5)
    return key


@task
async def failing_part(key: str) -> str:
    """A task that raises a moment after starting, while its sibling still runs."""
    await asyncio.sleep(0.1)
    raise ValueError(f"part {key} failed")


def workflow(*parts: Any) -> Any:
    """An ``@entrypoint`` running its ``@task``s in parallel: LangGraph cancels the tasks still running, when the
    run is cancelled, with its marker object. It has no ``messages`` channel, so ``codetracer.trace`` traces it
    through callbacks too."""

    @entrypoint()
    async def both_parts(inputs: dict[str, Any]) -> list[str]:
        return [await future for future in [part(f"p{i}") for i, part in enumerate(parts)]]

    return both_parts


def cancelled_workflow(tracer: codetracer.Tracer, graph_path: bool) -> list[Run]:
    target, config = traced(workflow(slow_part, slow_part), tracer, graph_path)

    async def main() -> None:
        running = asyncio.ensure_future(target.ainvoke(ask("two parts"), config=config))
        await asyncio.sleep(0.1)
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running

    asyncio.run(main())
    (run,) = runs_of(tracer)
    assert (run.outcome.value, run.exit_status, run.errors, run.steps) == ("unknown", "cancelled", [], [])
    assert "object at 0x" not in run.to_json(), "LangGraph's cancel marker (task.cancel(sentinel)) is no error text"
    assert run.metadata["trace_path"] == "callbacks"
    return [run]


@PATHS
def test_a_cancelled_workflow_has_no_marker_for_an_error(tracer: codetracer.Tracer, graph_path: bool) -> None:
    cancelled_workflow(tracer, graph_path)


def failing_workflow_task(tracer: codetracer.Tracer, graph_path: bool) -> list[Run]:
    target, config = traced(workflow(slow_part, failing_part), tracer, graph_path)
    with pytest.raises(ValueError, match="part p1 failed"):
        asyncio.run(target.ainvoke(ask("two parts"), config=config))
    (run,) = runs_of(tracer)
    assert (run.outcome.value, run.exit_status, run.errors) == ("failed", "ValueError", [])
    assert [(s.raw_ref, [(e.kind, e.error) for e in s.errors], s.calls) for s in run.steps] == [
        ("node=both_parts/failing_part", [("ValueError", "part p1 failed")], [])], "the task that raised, once"
    return [run]


@PATHS
def test_a_failing_workflow_task_is_blamed(tracer: codetracer.Tracer, graph_path: bool) -> None:
    failing_workflow_task(tracer, graph_path)


def test_a_process_wide_registration_bounds_the_trees_in_memory(tracer: codetracer.Tracer) -> None:
    codetracer.langchain(tracer=tracer, keep_runs=2)
    try:
        for i in range(4):
            create_agent(model(AIMessage(content=f"answer {i}")), []).invoke(ask(f"task {i}"))
    finally:
        live.unregister_global()
    assert tracer.flush()
    assert [r.task for r in tracer.runs] == ["task 2", "task 3"]
    codetracer.langchain(tracer=tracer, keep_bytes=1)
    live.unregister_global()
    assert [r.task for r in tracer.runs] == ["task 3"], "the newest tree stays, whatever its size"

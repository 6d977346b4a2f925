"""LangChain / LangGraph traced live, offline: a real LangGraph ReAct agent driven by LangChain's own
``GenericFakeChatModel`` (scripted ``AIMessage``s with tool calls) and real ``@tool`` functions.

Covers a succeeding and a failing run, parallel tool calls in one model turn, streaming, async runs (alone and many
at once under ``asyncio.gather``), threads in parallel, a nested chain, handled tool errors, a failing model, the
async handler variant and the process-wide registration; each asserting steps, tool calls, observations, errors,
outcome and what the SQLite store holds.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import uuid
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_core.outputs import ChatGenerationChunk
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnableLambda
from langchain_core.tools import tool

import codetracer
from codetracer.adapters.langchain import live
from codetracer.core import config
from codetracer.core.model import Run
from codetracer.core.store import Store

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from langgraph.prebuilt import ToolNode, create_react_agent

# LangGraph 1.x points to langchain.agents.create_agent; the extra installs langchain-core + langgraph only
pytestmark = pytest.mark.filterwarnings("ignore:create_react_agent has been moved")


# --------------------------------------------------------------------------------------------------------------------
# The offline agent: LangChain's fake chat model, real tools, a real LangGraph ReAct graph
# --------------------------------------------------------------------------------------------------------------------


class ScriptedModel(GenericFakeChatModel):
    """``GenericFakeChatModel`` that accepts ``bind_tools`` (the agent binds its tools; the script already knows them)
    and, when streamed, streams tool calls too (the stock ``_stream`` drops them)."""

    def bind_tools(self, tools: Any, **kwargs: Any) -> ScriptedModel:
        return self

    def _stream(self, messages: Any, stop: Any = None, run_manager: Any = None, **kwargs: Any) -> Iterator[Any]:
        message = next(self.messages)
        assert isinstance(message, AIMessage)
        for token in re.split(r"(\s)", str(message.content)) if message.content else []:
            chunk = ChatGenerationChunk(message=AIMessageChunk(content=token, id=message.id))
            if run_manager:
                run_manager.on_llm_new_token(token, chunk=chunk)
            yield chunk
        if message.tool_calls:
            tool_chunks = [
                {"name": c["name"], "args": json.dumps(c["args"]), "id": c["id"], "index": i}
                for i, c in enumerate(message.tool_calls)
            ]
            yield ChatGenerationChunk(message=AIMessageChunk(content="", id=message.id, tool_call_chunks=tool_chunks))


def call(name: str, call_id: str, **args: Any) -> dict[str, Any]:
    return {"name": name, "args": args, "id": call_id, "type": "tool_call"}


def model(*turns: AIMessage) -> ScriptedModel:
    return ScriptedModel(messages=iter(turns))


@tool
def read_file(path: str) -> str:
    """Read a file of the repository."""
    return {"setup.py": "from setuptools import setup", "calc.py": "def add(a, b):\n    return a - b\n"}[path]


@tool
def run_shell(command: str) -> str:
    """Run a shell command."""
    if command.startswith("pytest"):
        return "1 passed"
    raise RuntimeError(f"command not found: {command.split()[0]}")


@tool
def edit_file(path: str, old_str: str, new_str: str) -> str:
    """Replace text in a file."""
    return f"edited {path}"


@tool
async def slow_lookup(key: str, delay: float) -> str:
    """Look a key up, slowly (lets parallel asyncio runs interleave)."""
    await asyncio.sleep(delay)
    return f"value-of-{key}"


TOOLS = [read_file, run_shell, edit_file, slow_lookup]


def agent(*turns: AIMessage, tools: Any = None) -> Any:
    return create_react_agent(model(*turns), tools if tools is not None else TOOLS)


def ask(text: str) -> dict[str, Any]:
    return {"messages": [("user", text)]}


# --------------------------------------------------------------------------------------------------------------------
# Fixtures and helpers
# --------------------------------------------------------------------------------------------------------------------


def finished(tracer: codetracer.Tracer, n: int = 1) -> list[Run]:
    assert tracer.flush()
    assert len(tracer.runs) == n, [r.task for r in tracer.runs]
    return list(tracer.runs)


def stored(home: Path, run: Run) -> Run:
    store = Store(config.store_path(home), project="tests")
    try:
        summaries = {s.id: s for s in store.list_runs(framework="langchain")}
        assert run.id in summaries
        summary = summaries[run.id]
        assert summary.outcome == run.outcome.value
        assert summary.n_steps == len(run.steps)
        assert summary.n_error_steps == sum(1 for s in run.steps if s.is_error)
        assert summary.task == run.task
        loaded = store.load_run(run.id)
    finally:
        store.close()
    assert loaded.to_json() == run.to_json()
    return loaded


def tool_calls(run: Run) -> list[list[tuple[str, dict[str, Any], str | None, bool]]]:
    """Per step: (tool, arguments, observation text, is_error) of each tool call."""
    return [
        [
            (
                c.name,
                c.action.arguments if c.action else {},
                c.observation.text.text if c.observation and c.observation.text else None,
                bool(c.observation and c.observation.is_error),
            )
            for c in step.tool_calls
        ]
        for step in run.steps
    ]


def llm_responses(run: Run) -> list[str | None]:
    out = []
    for step in run.steps:
        llm = [c for c in step.calls if c.kind == "llm"]
        assert len(llm) == 1, "every step holds exactly its one model call"
        out.append(llm[0].response.text if llm[0].response else None)
    return out


SOLVING = (
    AIMessage(content="Look at the code first.", tool_calls=[call("read_file", "t1", path="calc.py")]),
    AIMessage(
        content="add subtracts; fix it.",
        tool_calls=[call("edit_file", "t2", path="calc.py", old_str="a - b", new_str="a + b")],
    ),
    AIMessage(content="", tool_calls=[call("run_shell", "t3", command="pytest -q")]),
    AIMessage(content="Fixed: add now adds."),
)


# --------------------------------------------------------------------------------------------------------------------
# Runs
# --------------------------------------------------------------------------------------------------------------------


def test_succeeding_run(tracer: codetracer.Tracer, home: Path) -> None:
    traced = codetracer.trace(agent(*SOLVING), tracer=tracer)
    result = traced.invoke(ask("fix add() in calc.py"))
    assert result["messages"][-1].content == "Fixed: add now adds."

    (run,) = finished(tracer)
    assert run.framework == "langchain"
    assert run.task == "fix add() in calc.py"
    assert run.outcome.value == "unknown" and run.exit_status == "finished" and run.complete
    assert run.metadata["langgraph"] is True and run.metadata["name"] == "LangGraph"
    assert [s.id for s in run.steps] == [1, 2, 3, 4]
    assert tool_calls(run) == [
        [("read_file", {"path": "calc.py"}, "def add(a, b):\n    return a - b\n", False)],
        [("edit_file", {"path": "calc.py", "old_str": "a - b", "new_str": "a + b"}, "edited calc.py", False)],
        [("run_shell", {"command": "pytest -q"}, "1 passed", False)],
        [],
    ]
    assert llm_responses(run) == ["Look at the code first.", "add subtracts; fix it.", "", "Fixed: add now adds."]
    assert run.steps[0].thought is not None and run.steps[0].thought.text == "Look at the code first."
    assert run.steps[2].thought is None
    edit = run.steps[1].tool_calls[0].action
    assert edit is not None and [(e.path, e.old, e.new) for e in edit.edits] == [("calc.py", "a - b", "a + b")]
    shell = run.steps[2].tool_calls[0].action
    assert shell is not None and shell.command == "pytest -q"
    assert run.steps[0].tool_calls[0].raw_ref == "tool_call_id=t1"
    assert all(s.complete and s.ended_at is not None and not s.is_error for s in run.steps)
    assert not run.errors
    assert [c.input_messages for s in run.steps for c in s.calls if c.kind == "llm"] == [1, 3, 5, 7]
    stored(home, run)


def test_failing_run_tool_raises(tracer: codetracer.Tracer, home: Path) -> None:
    traced = codetracer.trace(
        agent(
            AIMessage(content="Check the package.", tool_calls=[call("read_file", "a1", path="setup.py")]),
            AIMessage(content="Build it.", tool_calls=[call("run_shell", "a2", command="mkae build")]),
            AIMessage(content="never reached"),
        ),
        tracer=tracer,
    )
    with pytest.raises(RuntimeError, match="command not found: mkae"):
        traced.invoke(ask("build the package"))

    (run,) = finished(tracer)
    assert run.outcome.value == "failed" and run.exit_status == "RuntimeError" and run.complete
    assert tool_calls(run) == [
        [("read_file", {"path": "setup.py"}, "from setuptools import setup", False)],
        [("run_shell", {"command": "mkae build"}, "command not found: mkae", True)],
    ]
    failing = run.steps[1]
    assert failing.is_error and not run.steps[0].is_error
    assert [(e.kind, e.error) for e in failing.errors] == [("RuntimeError", "command not found: mkae")]
    assert not run.errors, "the exception LangGraph re-raises through its chains is reported once, at its step"
    saved = stored(home, run)
    assert saved.steps[1].tool_calls[0].observation is not None
    assert saved.steps[1].tool_calls[0].observation.is_error
    store = Store(config.store_path(home), project="tests")
    try:
        assert [h.step_id for h in store.search_steps("mkae")] == [2]
        assert [s.id for s in store.list_runs(outcome="failed")] == [run.id]
    finally:
        store.close()


def test_parallel_tool_calls_are_siblings_of_one_step(tracer: codetracer.Tracer, home: Path) -> None:
    traced = codetracer.trace(
        agent(
            AIMessage(
                content="Read both.",
                tool_calls=[call("read_file", "p1", path="setup.py"), call("read_file", "p2", path="calc.py")],
            ),
            AIMessage(content="Both read."),
        ),
        tracer=tracer,
        verify=lambda outputs: outputs["messages"][-1].content == "Both read.",
    )
    traced.invoke(ask("read the sources"))

    (run,) = finished(tracer)
    assert run.outcome.value == "solved", "the verifier decides the outcome of a run that returned"
    assert len(run.steps) == 2
    first = run.steps[0]
    assert [c.kind for c in first.calls] == ["llm", "tool", "tool"]
    assert sorted(c.raw_ref or "" for c in first.tool_calls) == ["tool_call_id=p1", "tool_call_id=p2"]
    by_ref = {c.raw_ref: c for c in first.tool_calls}
    assert by_ref["tool_call_id=p1"].observation.text.text == "from setuptools import setup"  # type: ignore[union-attr]
    assert by_ref["tool_call_id=p2"].observation.text.text.startswith("def add")  # type: ignore[union-attr]
    assert all(c.complete and c.ended_at is not None for c in first.calls)
    assert first.ended_at is not None and first.ended_at >= max(c.ended_at or 0 for c in first.tool_calls)
    assert tool_calls(run)[1] == []
    stored(home, run)


def test_streaming_run(tracer: codetracer.Tracer, home: Path) -> None:
    traced = codetracer.trace(
        agent(
            AIMessage(content="Reading the setup file now.", tool_calls=[call("read_file", "s1", path="setup.py")]),
            AIMessage(content="It uses setuptools."),
        ),
        tracer=tracer,
    )
    tokens = [
        chunk.content
        for chunk, _meta in traced.stream(ask("what builds it?"), stream_mode="messages")
        if isinstance(chunk, AIMessageChunk)
    ]
    assert "".join(tokens) == "Reading the setup file now.It uses setuptools."

    (run,) = finished(tracer)
    assert run.outcome.value == "unknown" and run.complete
    assert llm_responses(run) == ["Reading the setup file now.", "It uses setuptools."]
    assert tool_calls(run) == [[("read_file", {"path": "setup.py"}, "from setuptools import setup", False)], []]
    stored(home, run)


def test_streaming_updates_run(tracer: codetracer.Tracer) -> None:
    traced = codetracer.trace(
        agent(AIMessage(content="", tool_calls=[call("run_shell", "u1", command="pytest")]), AIMessage(content="ok")),
        tracer=tracer,
    )
    updates = list(traced.stream(ask("test it")))
    assert [next(iter(u)) for u in updates] == ["agent", "tools", "agent"]
    (run,) = finished(tracer)
    assert tool_calls(run) == [[("run_shell", {"command": "pytest"}, "1 passed", False)], []]


def test_async_run(tracer: codetracer.Tracer, home: Path) -> None:
    traced = codetracer.trace(
        agent(
            AIMessage(content="", tool_calls=[call("slow_lookup", "x1", key="k", delay=0.01)]),
            AIMessage(content="found"),
        ),
        tracer=tracer,
    )
    result = asyncio.run(traced.ainvoke(ask("look k up")))
    assert result["messages"][-1].content == "found"
    (run,) = finished(tracer)
    assert run.task == "look k up"
    assert tool_calls(run) == [[("slow_lookup", {"key": "k", "delay": 0.01}, "value-of-k", False)], []]
    stored(home, run)


def test_parallel_async_runs_keep_their_trees_apart(tracer: codetracer.Tracer, home: Path) -> None:
    """Many agents under ``asyncio.gather``, their steps and tools interleaving on one loop, through one handler."""
    handler = live.CodetracerCallbackHandler(tracer)
    n = 8

    def one(i: int) -> Any:
        # run i makes two model turns; its first turn asks for two parallel lookups with staggered delays
        delays = (0.001 * ((i * 7) % 5), 0.001 * ((i * 3) % 4))
        return create_react_agent(
            model(
                AIMessage(
                    content=f"lookups of run {i}",
                    tool_calls=[
                        call("slow_lookup", "a", key=f"r{i}-a", delay=delays[0]),
                        call("slow_lookup", "b", key=f"r{i}-b", delay=delays[1]),
                    ],
                ),
                AIMessage(content="", tool_calls=[call("slow_lookup", "a", key=f"r{i}-c", delay=delays[1])]),
                AIMessage(content=f"answer {i}"),
            ),
            [slow_lookup],
        )

    async def main() -> list[Any]:
        return await asyncio.gather(
            *(one(i).ainvoke(ask(f"task {i}"), config={"callbacks": [handler]}) for i in range(n))
        )

    results = asyncio.run(main())
    assert [r["messages"][-1].content for r in results] == [f"answer {i}" for i in range(n)]

    runs = finished(tracer, n)
    assert handler.recorder.open_run_ids() == [] and handler.recorder.failures == 0
    assert max(r.started_at or 0 for r in runs) < min(r.ended_at or 0 for r in runs), "the runs really overlapped"
    by_task = {r.task: r for r in runs}
    assert set(by_task) == {f"task {i}" for i in range(n)}
    for i in range(n):
        run = by_task[f"task {i}"]
        assert run.outcome.value == "unknown" and run.complete
        assert llm_responses(run) == [f"lookups of run {i}", "", f"answer {i}"]
        calls = tool_calls(run)
        assert sorted((x[1]["key"], x[2]) for x in calls[0]) == [
            (f"r{i}-a", f"value-of-r{i}-a"),
            (f"r{i}-b", f"value-of-r{i}-b"),
        ]
        assert [x[2] for x in calls[1]] == [f"value-of-r{i}-c"]
        assert calls[2] == []
        assert all(s.complete for s in run.steps)
        # the tool_call_id "a" repeats in both turns: each call still hangs under the turn that asked for it
        assert [c.raw_ref for c in run.steps[1].tool_calls] == ["tool_call_id=a"]
    store = Store(config.store_path(home), project="tests")
    try:
        assert len(store.list_runs(framework="langchain")) == n
    finally:
        store.close()


def test_parallel_threads_keep_their_runs_apart(tracer: codetracer.Tracer) -> None:
    traced = [
        codetracer.trace(
            agent(
                AIMessage(content="", tool_calls=[call("run_shell", "t", command=f"pytest -k case{i}")]),
                AIMessage(content=f"done {i}"),
            ),
            tracer=tracer,
        )
        for i in range(6)
    ]
    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(lambda pair: pair[1].invoke(ask(f"thread task {pair[0]}")), enumerate(traced)))
    runs = {r.task: r for r in finished(tracer, 6)}
    for i in range(6):
        assert tool_calls(runs[f"thread task {i}"]) == [
            [("run_shell", {"command": f"pytest -k case{i}"}, "1 passed", False)],
            [],
        ]


def test_nested_chain_is_one_run(tracer: codetracer.Tracer, home: Path) -> None:
    """A chain calling an inner chain and a whole agent: everything below the outermost run is one tree."""
    summarize = ChatPromptTemplate.from_messages([("user", "summarize: {text}")]) | model(
        AIMessage(content="a summary")
    )
    inner_agent = agent(
        AIMessage(content="", tool_calls=[call("read_file", "n1", path="setup.py")]), AIMessage(content="inner done")
    )

    def pipeline(inputs: dict[str, Any]) -> str:
        summary = summarize.invoke({"text": inputs["input"]})  # config propagates to the nested runs
        answer = inner_agent.invoke(ask(summary.content))
        return str(answer["messages"][-1].content)

    outer = RunnableLambda(pipeline).with_config(run_name="pipeline")
    traced = codetracer.trace(outer, tracer=tracer, outcome="solved")
    assert traced.invoke({"input": "a long report"}) == "inner done"

    (run,) = finished(tracer)
    assert run.metadata["name"] == "pipeline" and "langgraph" not in run.metadata
    assert run.task == "a long report"
    assert run.outcome.value == "solved"
    assert llm_responses(run) == ["a summary", "", "inner done"]
    assert [c.input_messages for s in run.steps for c in s.calls if c.kind == "llm"] == [1, 1, 3]
    assert tool_calls(run) == [[], [("read_file", {"path": "setup.py"}, "from setuptools import setup", False)], []]
    stored(home, run)


def test_handled_tool_error_is_flagged_and_run_goes_on(tracer: codetracer.Tracer) -> None:
    traced = codetracer.trace(
        agent(
            AIMessage(content="", tool_calls=[call("run_shell", "h1", command="mkae")]),
            AIMessage(content="", tool_calls=[call("run_shell", "h2", command="pytest")]),
            AIMessage(content="recovered"),
            tools=ToolNode([run_shell], handle_tool_errors=True),
        ),
        tracer=tracer,
    )
    traced.invoke(ask("test it"))
    (run,) = finished(tracer)
    assert run.outcome.value == "unknown"
    (first,), (second,), last = tool_calls(run)
    assert first[0] == "run_shell" and first[3] is True and "command not found: mkae" in str(first[2])
    assert second == ("run_shell", {"command": "pytest"}, "1 passed", False)
    assert last == []
    assert [s.is_error for s in run.steps] == [True, False, False]


class BrokenModel(ScriptedModel):
    def _generate(self, *args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("model endpoint unreachable")


def test_model_error_fails_the_run(tracer: codetracer.Tracer) -> None:
    traced = codetracer.trace(create_react_agent(BrokenModel(messages=iter([])), TOOLS), tracer=tracer)
    with pytest.raises(ConnectionError):
        traced.invoke(ask("anything"))
    (run,) = finished(tracer)
    assert run.outcome.value == "failed" and run.exit_status == "ConnectionError"
    (step,) = run.steps
    assert [(e.kind, e.error) for e in step.errors] == [("ConnectionError", "model endpoint unreachable")]
    assert step.calls[0].kind == "llm" and step.calls[0].response is None
    assert not run.errors


def test_async_handler_variant(tracer: codetracer.Tracer) -> None:
    handler = live.AsyncCodetracerCallbackHandler(tracer, metadata={"suite": "integration"})
    graph = agent(AIMessage(content="", tool_calls=[call("read_file", "v1", path="setup.py")]), AIMessage(content="ok"))
    asyncio.run(graph.ainvoke(ask("read setup"), config={"callbacks": [handler]}))
    (run,) = finished(tracer)
    assert run.metadata["suite"] == "integration"
    assert tool_calls(run) == [[("read_file", {"path": "setup.py"}, "from setuptools import setup", False)], []]


def test_global_registration(tracer: codetracer.Tracer, home: Path) -> None:
    handler = codetracer.langchain(tracer=tracer)
    try:
        assert live.global_handler() is handler
        assert codetracer.langchain(tracer=tracer) is handler, "registering twice keeps one handler"
        graph = agent(AIMessage(content="", tool_calls=[call("run_shell", "g1", command="pytest")]), AIMessage("ok"))
        graph.invoke(ask("plain invoke, no callbacks passed"))

        # a thread started without the caller's context still reports: the registration is process-wide
        other = agent(AIMessage(content="from a thread"))
        worker = threading.Thread(target=lambda: other.invoke(ask("in a thread")))
        worker.start()
        worker.join()

        # an explicit handler for the same run does not hide the global one, and the global one is not doubled
        same = agent(AIMessage(content="explicit"))
        same.invoke(ask("with explicit global handler"), config={"callbacks": [handler]})

        # codetracer.trace() on top of the global registration: one run (no doubled calls), the bound handler's
        # verifier decides
        both = codetracer.trace(agent(AIMessage(content="bound")), tracer=tracer, outcome="solved")
        both.invoke(ask("traced and registered"))
    finally:
        live.unregister_global()
    graph_after = agent(AIMessage(content="untraced"))
    graph_after.invoke(ask("after unregistering"))

    runs = {r.task: r for r in finished(tracer, 4)}
    assert set(runs) == {
        "plain invoke, no callbacks passed",
        "in a thread",
        "with explicit global handler",
        "traced and registered",
    }
    assert llm_responses(runs["traced and registered"]) == ["bound"]
    assert runs["traced and registered"].outcome.value == "solved"
    assert tool_calls(runs["plain invoke, no callbacks passed"]) == [
        [("run_shell", {"command": "pytest"}, "1 passed", False)],
        [],
    ]
    assert llm_responses(runs["in a thread"]) == ["from a thread"]
    assert llm_responses(runs["with explicit global handler"]) == ["explicit"]
    for run in runs.values():
        stored(home, run)


def test_handler_never_raises_into_langchain(tracer: codetracer.Tracer) -> None:
    handler = live.CodetracerCallbackHandler(tracer)
    # callbacks for run ids the handler never saw are ignored
    stray = uuid.uuid4()
    handler.on_tool_end("late output", run_id=stray)
    handler.on_chain_error(RuntimeError("x"), run_id=stray)
    handler.on_llm_end(object(), run_id=stray)
    assert handler.recorder.failures == 0

    class Exploding:
        def __getattr__(self, name: str) -> Any:
            raise RuntimeError("tracer bug")

    handler.recorder.events = Exploding()  # type: ignore[assignment]
    graph = agent(AIMessage(content="", tool_calls=[call("read_file", "e1", path="setup.py")]), AIMessage("ok"))
    result = graph.invoke(ask("must still work"), config={"callbacks": [handler]})
    assert result["messages"][-1].content == "ok"
    assert handler.recorder.failures > 0


def test_model_alone_is_a_one_step_run(tracer: codetracer.Tracer) -> None:
    chat = codetracer.trace(
        model(AIMessage(content="hello", usage_metadata={"input_tokens": 5, "output_tokens": 1, "total_tokens": 6})),
        tracer=tracer,
    )
    assert chat.invoke("say hello").content == "hello"
    (run,) = finished(tracer)
    assert run.task == "say hello"
    (step,) = run.steps
    (llm,) = step.calls
    assert (llm.name, llm.input_tokens, llm.output_tokens) == ("ScriptedModel", 5, 1)


def test_tool_matched_without_tool_call_id(tracer: codetracer.Tracer) -> None:
    """Releases that do not pass ``tool_call_id`` to ``on_tool_start``: the tool still joins the step that asked."""
    from langchain_core.messages import ToolMessage
    from langchain_core.outputs import ChatGeneration, LLMResult

    handler = live.CodetracerCallbackHandler(tracer)
    root, llm, node, tool_run = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    handler.on_chain_start({}, {"input": "list files"}, run_id=root)
    handler.on_chat_model_start({"name": "M"}, [[("user", "list files")]], run_id=llm, parent_run_id=root)
    asked = AIMessage(content="", tool_calls=[call("run_shell", "q1", command="ls"), call("read_file", "q2", path="a")])
    handler.on_llm_end(LLMResult(generations=[[ChatGeneration(message=asked)]]), run_id=llm, parent_run_id=root)
    handler.on_chain_start({}, {}, run_id=node, parent_run_id=root)
    handler.on_tool_start({"name": "run_shell"}, "ls", run_id=tool_run, parent_run_id=node, inputs={"command": "ls"})
    handler.on_tool_end(ToolMessage(content="a b", tool_call_id="q1"), run_id=tool_run, parent_run_id=node)
    handler.on_chain_end({}, run_id=node, parent_run_id=root)
    handler.on_chain_end({"output": "a b"}, run_id=root)

    (run,) = finished(tracer)
    assert run.task == "list files"
    (step,) = run.steps
    assert [(c.name, c.raw_ref) for c in step.tool_calls] == [("run_shell", "tool_call_id=q1")]
    assert step.tool_calls[0].observation is not None and step.tool_calls[0].observation.text is not None
    assert step.tool_calls[0].observation.text.text == "a b"
    assert step.ended_at == run.ended_at  # q2 never ran: the run's end closed the step


KILLED_MID_TOOL = """
import os, signal, warnings
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langchain_core.tools import tool
import codetracer
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from langgraph.prebuilt import create_react_agent

class Scripted(GenericFakeChatModel):
    def bind_tools(self, tools, **kwargs):
        return self

@tool
def read_file(path: str) -> str:
    '''Read a file.'''
    return "def add(a, b):\\n    return a - b\\n"

@tool
def run_shell(command: str) -> str:
    '''Run a shell command: this one takes the whole process down, as the OOM killer would.'''
    os.kill(os.getpid(), signal.SIGKILL)

turns = iter([
    AIMessage(content="Read it.", tool_calls=[{"name": "read_file", "args": {"path": "calc.py"}, "id": "k1"}]),
    AIMessage(content="Run the tests.",
              tool_calls=[{"name": "run_shell", "args": {"command": "pytest -q"}, "id": "k2"}]),
])
tracer = codetracer.Tracer(load_plugins=False)
agent = codetracer.trace(create_react_agent(Scripted(messages=turns), [read_file, run_shell]), tracer=tracer)
agent.invoke({"messages": [("user", "fix add() in calc.py")]})
"""


def test_killed_mid_tool_recovers_the_steps_and_the_call_in_flight(home: Path) -> None:
    import os
    import signal
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", KILLED_MID_TOOL], env=os.environ.copy(), capture_output=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()[-2000:]
    (run,) = codetracer.recover()
    assert run.framework == "langchain" and run.task == "fix add() in calc.py" and not run.complete
    assert [[c.name for c in s.tool_calls] for s in run.steps] == [["read_file"], ["run_shell"]]
    done, in_flight = run.steps[0].tool_calls[0], run.steps[1].tool_calls[0]
    assert done.observation is not None and done.observation.text is not None
    assert done.observation.text.text.startswith("def add")
    assert in_flight.action is not None and in_flight.action.command == "pytest -q"
    assert in_flight.observation is None and not in_flight.complete, "the call the process died in stays open"
    assert llm_responses(run) == ["Read it.", "Run the tests."]


def test_one_verify_keyword_the_old_one_warns_and_unknown_options_name_the_public_function(
    tracer: codetracer.Tracer,
) -> None:
    def says_done(outputs: Any) -> bool:
        return outputs["messages"][-1].content == "Done."

    with pytest.warns(DeprecationWarning, match="use verify="):
        traced = codetracer.trace(agent(AIMessage(content="Done.")), tracer=tracer, verifier=says_done)
    traced.invoke(ask("finish"))
    (run,) = finished(tracer)
    assert run.outcome.value == "solved", "verifier= still judges the run"

    from codetracer.core.errors import CodetracerError

    with pytest.raises(CodetracerError, match=r"codetracer.trace\(\) of a .* takes no option 'verfy'.*verify"):
        codetracer.trace(agent(AIMessage(content="Done.")), tracer=tracer, verfy=says_done)
    with pytest.raises(CodetracerError, match="not both"):
        codetracer.trace(agent(AIMessage(content="Done.")), tracer=tracer, verify=says_done, verifier=says_done)

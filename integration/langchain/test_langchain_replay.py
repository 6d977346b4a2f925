"""Reflective replay with a real LangGraph ReAct agent, offline: ``codetracer.auto_retry(graph, verify=...)``.

The model is LangChain's ``GenericFakeChatModel`` in a subclass that picks its script from the messages it is given:
after a codetracer correction it recovers only when the correction names the wrong step (its number and the file it
wrote); a plain "try again" makes it repeat the mistake. Tools really write files in a tmp folder.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.tools import tool

import codetracer
from codetracer.core.tracer import Tracer
from codetracer.replay import HEADER, PLAIN_RETRY, OutOfBudget

sys.path.insert(0, str(Path(__file__).parents[1]))
from sequence_checks import assert_one_sequence

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.prebuilt import create_react_agent

pytestmark = pytest.mark.filterwarnings("ignore:create_react_agent has been moved")

TASK = "calc.add(a, b) must return the sum. Write calc.py."
WORKDIR: dict[str, Path] = {}
CORRECTION = """\
[codetracer] Your previous attempt failed.
The wrong turn was your step 1 of 2: write_file on calc.py.
It answered: wrote calc.py
What went wrong: it wrote the first change that the final state keeps; the last edit is never verified before the \
run ends; no stage of the run ever verifies its changes; wrote 2 line(s) of file calc.py that the final state keeps
What to undo: the edits to calc.py (check the current state of the files first).
What to do instead: Re-examine the change made at step 1 to calc.py: it is what the final state holds and the run \
failed; check it against every case the task names and run the relevant tests before submitting.
Continue from there; do not repeat the failed approach."""
"""What the agent is sent after its wrong write, word for word."""


@tool
def write_file(path: str, content: str) -> str:
    """Write a file of the project."""
    (WORKDIR["root"] / path).write_text(content)
    return f"wrote {path}"


def call(name: str, call_id: str, **args: Any) -> dict[str, Any]:
    return {"name": name, "args": args, "id": call_id, "type": "tool_call"}


def wrong(tag: str) -> list[AIMessage]:
    return [
        AIMessage(content="Write it.", tool_calls=[call("write_file", f"w{tag}", path="calc.py",
                                                        content="def add(a, b):\n    return a - b\n")]),
        AIMessage(content="Done: calc.py is written."),
    ]


RECOVERY = [
    AIMessage(content="My write at step 1 subtracted; write the sum.",
              tool_calls=[call("write_file", "r1", path="calc.py", content="def add(a, b):\n    return a + b\n")]),
    AIMessage(content="Fixed."),
]


def names_the_wrong_step(text: str) -> bool:
    return HEADER in text and "step 1" in text and "calc.py" in text


class ReflectiveModel(GenericFakeChatModel):
    corrections: list[str] = []

    def bind_tools(self, tools: Any, **kwargs: Any) -> ReflectiveModel:
        return self

    def _generate(self, messages: Any, stop: Any = None, run_manager: Any = None, **kwargs: Any) -> Any:
        last = messages[-1]
        if isinstance(last, HumanMessage) and str(last.content).startswith("[codetracer]"):
            self.corrections.append(str(last.content))
            script = RECOVERY if names_the_wrong_step(str(last.content)) else wrong(str(len(self.corrections)))
            self.messages = iter(script)
        return super()._generate(messages, stop=stop, run_manager=run_manager, **kwargs)


def verify(root: Path) -> Any:
    def check(outputs: Any) -> bool:
        source = (root / "calc.py").read_text()
        namespace: dict[str, Any] = {}
        exec(compile(source, "calc.py", "exec"), namespace)
        return bool(namespace["add"](2, 3) == 5)

    return check


@pytest.fixture
def tracer(home: Path) -> Iterator[Tracer]:
    tracer = Tracer(home, load_plugins=False)
    yield tracer
    tracer.close()


@pytest.fixture
def root(tmp_path: Path) -> Path:
    WORKDIR["root"] = tmp_path
    return tmp_path


def graph(checkpointer: Any = None) -> tuple[Any, ReflectiveModel]:
    model = ReflectiveModel(messages=iter(wrong("0")), corrections=[])
    return create_react_agent(model, [write_file], checkpointer=checkpointer), model


@pytest.mark.parametrize("threaded", [False, True], ids=["messages", "checkpointer-thread"])
def test_retry_with_diagnosis_recovers(root: Path, tracer: Tracer, threaded: bool) -> None:
    agent, model = graph(InMemorySaver() if threaded else None)
    config = {"configurable": {"thread_id": "t1"}} if threaded else None
    retrying = codetracer.auto_retry(agent, verify=verify(root), tracer=tracer, config=config)
    out = retrying.run({"messages": [("user", TASK)]})

    assert retrying.succeeded, retrying.report()
    first, second = retrying.attempts
    assert first.diagnosis is not None and first.diagnosis.onset_step == 1
    assert first.message is not None and names_the_wrong_step(first.message)
    assert model.corrections == [first.message]
    assert "a + b" in (root / "calc.py").read_text()
    # the retry saw everything: the task, the first attempt's turns, then the correction
    texts = [str(m.content) for m in out["messages"]]
    assert texts[0] == TASK and first.message in texts and texts.index(first.message) == 4

    assert tracer.flush()
    runs = {r.id: r for r in tracer.runs}
    parent, child = runs[first.run_id], runs[second.run_id]  # type: ignore[index]
    assert child.parent_run_id == parent.id and parent.parent_run_id is None
    assert (str(parent.outcome), str(child.outcome)) == ("failed", "solved")
    assert child.task == TASK and len(child.steps) == 2
    assert parent.metadata["replay"]["verdict"] == "verify"
    # the correction the agent got, verbatim: the wrong turn named by its step, its tool call and what it answered
    assert first.message == CORRECTION
    sequence = assert_one_sequence(retrying.run_ids, [CORRECTION], budget_steps=12, outcome="solved")
    assert [m["n_steps"] for m in sequence["members"]] == [2, 2] and sequence["stop_reason"] == "succeeded"


def test_plain_retry_and_no_infinite_loop(root: Path, tracer: Tracer) -> None:
    agent, model = graph()
    retrying = codetracer.auto_retry(agent, verify=verify(root), max_attempts=4, tracer=tracer, diagnose=False)
    retrying.run({"messages": [("user", TASK)]})
    assert not retrying.succeeded and len(retrying.attempts) == 4 and retrying.stop_reason == "max_attempts"
    assert model.corrections == [PLAIN_RETRY] * 3


def test_recursion_limit_is_the_shared_budget(root: Path, tracer: Tracer) -> None:
    """recursion_limit 5 = two steps in all: the first attempt takes both, no retry."""
    agent, _ = graph()
    retrying = codetracer.auto_retry(agent, verify=verify(root), max_attempts=3, tracer=tracer,
                                     config={"recursion_limit": 5})
    retrying.run({"messages": [("user", TASK)]})
    assert len(retrying.attempts) == 1 and retrying.stop_reason == "budget exhausted (steps)"


def loop_graph(model: Any) -> Any:
    """A hand-written model/tools loop (``StateGraph`` + ``ToolNode``): unlike ``create_react_agent`` it has no
    ``remaining_steps`` guard, so LangGraph's recursion limit stops it with ``GraphRecursionError``."""
    from langgraph.graph import START, MessagesState, StateGraph
    from langgraph.prebuilt import ToolNode, tools_condition

    builder = StateGraph(MessagesState)
    builder.add_node("agent", lambda state: {"messages": [model.invoke(state["messages"])]})
    builder.add_node("tools", ToolNode([write_file]))
    builder.add_edge(START, "agent")
    builder.add_conditional_edges("agent", tools_condition)
    builder.add_edge("tools", "agent")
    return builder.compile()


def test_graph_recursion_error_is_a_budget_failure(root: Path, tracer: Tracer) -> None:
    """One step of budget: the graph stops after the first model turn's tools; the caller gets a result, not
    LangGraph's exception."""
    from langgraph.errors import GraphRecursionError

    agent = loop_graph(ReflectiveModel(messages=iter(wrong("0")), corrections=[]))
    retrying = codetracer.auto_retry(agent, verify=verify(root), max_attempts=3, budget=1, tracer=tracer)
    out = retrying.run({"messages": [("user", TASK)]})
    assert isinstance(out, OutOfBudget) and not out and isinstance(out.error, GraphRecursionError)
    assert out.stop_reason == retrying.stop_reason == "budget exhausted (steps)"
    assert [a.verdict.kind for a in retrying.attempts] == ["budget"]
    assert retrying.used is not None and retrying.used.steps == 1


class HogModel(ReflectiveModel):
    """After the correction it keeps calling tools and never answers: only the budget can stop it."""

    def _generate(self, messages: Any, stop: Any = None, run_manager: Any = None, **kwargs: Any) -> Any:
        last = messages[-1]
        if isinstance(last, HumanMessage) and str(last.content).startswith("[codetracer]"):
            self.corrections.append(str(last.content))
            self.messages = iter(
                AIMessage(content=f"Try {i}.", tool_calls=[call("write_file", f"h{i}", path="calc.py",
                                                                content=f"def add(a, b):\n    return a * {i}\n")])
                for i in range(50)
            )
        return super(ReflectiveModel, self)._generate(messages, stop=stop, run_manager=run_manager, **kwargs)


@pytest.mark.parametrize("threaded", [False, True], ids=["messages", "checkpointer-thread"])
def test_budget_five_is_never_exceeded_and_ends_with_a_result(root: Path, tracer: Tracer, threaded: bool) -> None:
    """The issue's case, on a hand-written loop: budget=5, attempt 1 takes 2 steps, attempt 2 gets the 3 left
    (recursion_limit 6, not 7) and LangGraph stops it after its third model turn's tools: 5 steps of 5, and run()
    returns a result with the stop reason instead of raising GraphRecursionError."""
    from langgraph.errors import GraphRecursionError

    model = HogModel(messages=iter(wrong("0")), corrections=[])
    builder_graph = loop_graph(model)
    if threaded:
        builder_graph = builder_graph.builder.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "hog"}} if threaded else None
    retrying = codetracer.auto_retry(builder_graph, verify=verify(root), max_attempts=3, budget=5, tracer=tracer,
                                     config=config)
    out = retrying.run({"messages": [("user", TASK)]})

    assert isinstance(out, OutOfBudget) and out.stop_reason == "budget exhausted (steps)"
    assert isinstance(out.error, GraphRecursionError) and out.attempts == 2
    assert out.used["steps"] == 5 and out.budget["steps"] == 5
    if threaded:  # the thread's state: the task, attempt 1, the correction, attempt 2's three tool turns
        assert out.value is not None and str(out.value["messages"][-1].content) == "wrote calc.py"
        assert [str(m.content) for m in out.value["messages"]].count("wrote calc.py") == 4
    else:
        assert out.value is None
    assert [a.usage.steps for a in retrying.attempts] == [2, 3]
    assert [a.verdict.kind for a in retrying.attempts] == ["verify", "budget"]
    assert tracer.flush()
    runs = {r.id: r for r in tracer.runs}
    assert [len(runs[i].steps) for i in retrying.run_ids] == [2, 3]  # the trees agree: 5 steps of 5
    assert model.corrections == [retrying.attempts[0].message]
    assert_one_sequence(retrying.run_ids, model.corrections, budget_steps=5, outcome="failed")


def test_the_react_agents_own_step_guard_keeps_to_the_budget(root: Path, tracer: Tracer) -> None:
    """create_react_agent stops itself one turn before the limit ("need more steps"): still 5 of 5, no exception,
    the graph's own answer returned."""
    model = HogModel(messages=iter(wrong("0")), corrections=[])
    agent = create_react_agent(model, [write_file])
    retrying = codetracer.auto_retry(agent, verify=verify(root), max_attempts=3, budget=5, tracer=tracer)
    out = retrying.run({"messages": [("user", TASK)]})
    assert retrying.stop_reason == "budget exhausted (steps)" and retrying.used is not None
    assert [a.usage.steps for a in retrying.attempts] == [2, 3] and retrying.used.steps == 5
    assert "need more steps" in str(out["messages"][-1].content)
    assert_one_sequence(retrying.run_ids, model.corrections, budget_steps=5, outcome="failed")

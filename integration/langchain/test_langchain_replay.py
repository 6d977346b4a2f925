"""Reflective replay with a real LangGraph ReAct agent, offline: ``codetracer.auto_retry(graph, verify=...)``.

The model is LangChain's ``GenericFakeChatModel`` in a subclass that picks its script from the messages it is given:
after a codetracer correction it recovers only when the correction names the wrong step (its number and the file it
wrote); a plain "try again" makes it repeat the mistake. Tools really write files in a tmp folder.
"""

from __future__ import annotations

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
from codetracer.replay import HEADER, PLAIN_RETRY

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.prebuilt import create_react_agent

pytestmark = pytest.mark.filterwarnings("ignore:create_react_agent has been moved")

TASK = "calc.add(a, b) must return the sum. Write calc.py."
WORKDIR: dict[str, Path] = {}


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


def test_graph_recursion_error_is_a_budget_failure(root: Path, tracer: Tracer) -> None:
    agent, _ = graph()
    retrying = codetracer.auto_retry(agent, verify=verify(root), max_attempts=3, budget=1, tracer=tracer)
    from langgraph.errors import GraphRecursionError

    with pytest.raises(GraphRecursionError):
        retrying.run({"messages": [("user", TASK)]})
    assert [a.verdict.kind for a in retrying.attempts] == ["budget"]

"""The pytest plugin on a suite of many tiny LangGraph tests, as a framework's own unit suite looks.

``pytester`` writes a suite of state-machine tests (graphs with a ``messages`` channel whose nodes route and count
but call no model), a few ReAct agent tests (``GenericFakeChatModel`` with tool calls; one runs its agent in a
thread, one through callbacks as a plain chain), and snapshot tests that patch ``uuid.uuid4`` with a deterministic
sequence and assert the message ids LangGraph gave, as the framework suites that broke under ``--codetracer`` did.
With ``--codetracer`` every test passes as it does without; the runs that hold nothing are not stored, counted or
written; every stored run carries its test's id; and no journal is left when the session ends.
"""

from __future__ import annotations

import importlib.metadata
import re
from pathlib import Path

import pytest

pytest.importorskip("langgraph", reason="needs langchain-core and langgraph (tox -e integration-langchain)")

from codetracer.core import config
from codetracer.core.store import Store

pytest_plugins = ["pytester"]

PLUGIN_ARGS = (
    ()
    if any(ep.value == "codetracer.pytest_plugin" for ep in importlib.metadata.entry_points(group="pytest11"))
    else ("-p", "codetracer.pytest_plugin")
)

STATE_MACHINES = 40
"""Tiny graph tests whose runs hold nothing."""

SUITE = '''
import threading
import uuid
import warnings

import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.tools import tool

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from langgraph.graph import END, START, MessagesState, StateGraph
    from langgraph.prebuilt import create_react_agent

pytestmark = pytest.mark.filterwarnings("ignore:create_react_agent has been moved")


class Counter(MessagesState):
    hops: int


def router(n):
    builder = StateGraph(Counter)
    builder.add_node("hop", lambda state: {"hops": state["hops"] + 1})
    builder.add_edge(START, "hop")
    builder.add_conditional_edges("hop", lambda state: END if state["hops"] >= n else "hop")
    return builder.compile()


@pytest.mark.parametrize("n", range(1, MACHINES + 1))
def test_router_stops_after_n_hops(n):
    assert router(n).invoke({"messages": [], "hops": 0})["hops"] == n


class ScriptedModel(GenericFakeChatModel):
    def bind_tools(self, tools, **kwargs):
        return self


@tool
def lookup(key: str) -> str:
    """Look a key up."""
    return f"value of {key}"


def agent():
    model = ScriptedModel(messages=iter([
        AIMessage(content="Look it up.", tool_calls=[{"name": "lookup", "args": {"key": "k"}, "id": "c1",
                                                      "type": "tool_call"}]),
        AIMessage(content="It is the value of k."),
    ]))
    return create_react_agent(model, [lookup])


def test_agent_answers():
    assert agent().invoke({"messages": [("user", "what is k?")]})["messages"][-1].content == "It is the value of k."


def test_agent_in_a_thread():
    out = {}
    worker = threading.Thread(target=lambda: out.update(agent().invoke({"messages": [("user", "k?")]})))
    worker.start()
    worker.join()
    assert out["messages"][-1].content == "It is the value of k."


def test_a_plain_chain():
    chain = ChatPromptTemplate.from_messages([("user", "{q}")]) | ScriptedModel(messages=iter([AIMessage("42")]))
    assert chain.invoke({"q": "the answer?"}).content == "42"


@pytest.fixture
def fixed_uuids(monkeypatch):
    """A snapshot fixture: uuid.uuid4 as a deterministic sequence."""
    made = iter(range(1, 1000))
    monkeypatch.setattr(uuid, "uuid4", lambda: uuid.UUID(int=next(made), version=4))


def test_snapshot_of_message_ids(fixed_uuids):
    result = agent().invoke({"messages": [("user", "what is k?")]})
    human, _, tool_message, _ = result["messages"]
    assert (human.id, tool_message.id) == ("00000000-0000-4000-8000-000000000001",
                                           "00000000-0000-4000-8000-000000000002")


def test_snapshot_of_a_state_machine(fixed_uuids):
    builder = StateGraph(MessagesState)
    builder.add_node("greet", lambda state: {"messages": [("ai", "hello")]})
    builder.add_edge(START, "greet")
    result = builder.compile().invoke({"messages": [("user", "hi")]})
    assert [m.id for m in result["messages"]] == ["00000000-0000-4000-8000-000000000001",
                                                  "00000000-0000-4000-8000-000000000002"]
'''.replace("MACHINES", str(STATE_MACHINES))

WITH_RUNS = {
    "test_suite.py::test_agent_answers": 1,
    "test_suite.py::test_agent_in_a_thread": 1,
    "test_suite.py::test_a_plain_chain": 1,
    "test_suite.py::test_snapshot_of_message_ids": 1,
    "test_suite.py::test_snapshot_of_a_state_machine": 1,
}
"""The tests whose runs hold something, with how many runs each."""


@pytest.fixture
def suite(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.Pytester:
    monkeypatch.setenv("CODETRACER_PROJECT", "plugin-tiny-graphs")
    monkeypatch.setenv("CODETRACER_HOME", str(tmp_path / "ct-home"))
    pytester.makepyfile(test_suite=SUITE)
    return pytester


def test_many_tiny_graph_tests(suite: pytest.Pytester, tmp_path: Path) -> None:
    tests = STATE_MACHINES + len(WITH_RUNS)
    untraced = suite.runpytest_subprocess(*PLUGIN_ARGS, "-p", "no:cacheprovider")
    untraced.assert_outcomes(passed=tests)

    out = tmp_path / "ct"
    traced = suite.runpytest_subprocess(*PLUGIN_ARGS, "-p", "no:cacheprovider", "--codetracer",
                                        f"--codetracer-dir={out}")
    traced.assert_outcomes(passed=tests)  # the snapshot tests too: codetracer drew no uuid of theirs
    kept = sum(WITH_RUNS.values())
    summary = re.search(r"(\d+) agent run\(s\) traced", traced.stdout.str())
    assert summary is not None and int(summary.group(1)) == kept, traced.stdout.str()

    store = Store(config.store_path(out), project="plugin-tiny-graphs")
    try:
        runs = [store.load_run(r.id) for r in store.list_runs(limit=1000)]
    finally:
        store.close()
    by_test: dict[str, int] = {}
    for run in runs:
        assert not run.holds_nothing()
        by_test[run.metadata["pytest_test"]] = by_test.get(run.metadata["pytest_test"], 0) + 1
    assert by_test == WITH_RUNS
    assert list(config.journal_dir(out).glob("*.ctj")) == [], "a journal was left behind"
    # every test passed: JSON trace files are written for failing tests' runs only, the store has these runs
    assert sorted((out / "traces").glob("*.json")) == []

"""The pytest plugin on a test suite that runs a real LangGraph ReAct agent offline.

``pytester`` writes agent tests the way a LangChain maintainer would: a LangGraph ``create_react_agent`` driven by
LangChain's own ``GenericFakeChatModel`` (scripted tool calls) with real ``@tool`` functions acting on an in-memory
repository, and an assertion on the repository afterwards. The test file never mentions codetracer: with
``--codetracer`` the process-wide callback registration traces each graph run, and the failing test's report must
name the wrong edit (step 2) as the onset, with the failing check (step 3) in the chain.
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import pytest

pytest.importorskip("langgraph", reason="needs langchain-core and langgraph (tox -e integration-langchain)")

from codetracer.core.store import Store
from codetracer.pytest_plugin import SECTION

pytest_plugins = ["pytester"]

PLUGIN_ARGS = (
    ()
    if any(ep.value == "codetracer.pytest_plugin" for ep in importlib.metadata.entry_points(group="pytest11"))
    else ("-p", "codetracer.pytest_plugin")
)

AGENT_TESTS = '''
import warnings

import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langchain_core.tools import tool

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from langgraph.prebuilt import create_react_agent

pytestmark = pytest.mark.filterwarnings("ignore:create_react_agent has been moved")

REPO = {}


@pytest.fixture(autouse=True)
def repo():
    REPO.clear()
    REPO["calc.py"] = "def add(a, b):\\n    return a - b\\n"
    return REPO


@tool
def read_file(path: str) -> str:
    """Read a file of the repository."""
    return REPO[path]


@tool
def edit_file(path: str, old_str: str, new_str: str) -> str:
    """Replace old_str by new_str in a file."""
    if old_str not in REPO[path]:
        raise ValueError(f"{old_str!r} is not in {path}")
    REPO[path] = REPO[path].replace(old_str, new_str)
    return f"edited {path}"


def add_works():
    scope = {}
    exec(REPO["calc.py"], scope)
    return scope["add"](2, 3) == 5


@tool
def run_shell(command: str) -> str:
    """Run a shell command (only the test suite is available)."""
    if not command.startswith("pytest"):
        raise ValueError(f"command not found: {command.split()[0]}")
    if add_works():
        return "test_calc.py .\\n1 passed in 0.01s"
    return "test_calc.py F\\nFAILED test_calc.py::test_add - assert add(2, 3) == 5\\n1 failed in 0.01s"


class ScriptedModel(GenericFakeChatModel):
    def bind_tools(self, tools, **kwargs):
        return self


def call(name, call_id, **args):
    return {"name": name, "args": args, "id": call_id, "type": "tool_call"}


def run_agent(*turns):
    graph = create_react_agent(ScriptedModel(messages=iter(turns)), [read_file, edit_file, run_shell])
    return graph.invoke({"messages": [("user", "add(2, 3) should be 5; fix calc.py")]})


def test_agent_fixes_add():
    run_agent(
        AIMessage(content="Read the code.", tool_calls=[call("read_file", "t1", path="calc.py")]),
        AIMessage(content="add subtracts: make it add.",
                  tool_calls=[call("edit_file", "t2", path="calc.py", old_str="a - b", new_str="a + b")]),
        AIMessage(content="Check.", tool_calls=[call("run_shell", "t3", command="pytest -q")]),
        AIMessage(content="Fixed: add adds."),
    )
    assert add_works()


def test_agent_fixes_add_when_misled():
    run_agent(
        AIMessage(content="Read the code.", tool_calls=[call("read_file", "t1", path="calc.py")]),
        AIMessage(content="The sign must be the problem: take the absolute value.",
                  tool_calls=[call("edit_file", "t2", path="calc.py", old_str="a - b", new_str="abs(a - b)")]),
        AIMessage(content="Check.", tool_calls=[call("run_shell", "t3", command="pytest -q")]),
        AIMessage(content="Fixed: add returns a non-negative number now."),
    )
    assert add_works(), "the agent claims it fixed add(), but add(2, 3) != 5"
'''


@pytest.fixture
def suite(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.Pytester:
    monkeypatch.setenv("CODETRACER_PROJECT", "plugin-langchain")
    monkeypatch.setenv("CODETRACER_HOME", str(tmp_path / "ct-home"))
    pytester.makepyfile(test_agent=AGENT_TESTS)
    return pytester


def test_failing_agent_test_names_the_wrong_edit(suite: pytest.Pytester, tmp_path: Path) -> None:
    out = tmp_path / "traces"
    result = suite.runpytest_subprocess(*PLUGIN_ARGS, "-p", "no:cacheprovider", "--codetracer",
                                        f"--codetracer-dir={out}")
    result.assert_outcomes(passed=1, failed=1)
    text = result.stdout.str()
    assert text.count(SECTION) == 1
    section = text[text.index(SECTION) :]
    assert "went wrong at step 2 of 4: edit_file: edit calc.py" in section
    assert "chain: 3" in section
    assert "framework=langchain" in section
    store = Store(out / "codetracer.db", project="plugin-langchain")
    summaries = store.list_runs()
    assert len(summaries) == 2 and {s.n_steps for s in summaries} == {4}
    diagnosed = [store.load_run(s.id) for s in summaries if s.onset_step is not None]
    assert len(diagnosed) == 1 and diagnosed[0].diagnosis is not None
    assert diagnosed[0].diagnosis.onset_step == 2
    assert diagnosed[0].steps[1].actions[0].edits[0].new == "abs(a - b)"


def test_keep_failed_keeps_only_the_failing_run(suite: pytest.Pytester, tmp_path: Path) -> None:
    result = suite.runpytest_subprocess(*PLUGIN_ARGS, "-p", "no:cacheprovider", "--codetracer",
                                        f"--codetracer-dir={tmp_path}", "--codetracer-keep=failed")
    result.assert_outcomes(passed=1, failed=1)
    (summary,) = Store(tmp_path / "codetracer.db", project="plugin-langchain").list_runs()
    assert summary.onset_step == 2 and summary.framework == "langchain"

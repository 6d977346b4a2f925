"""The pytest plugin on a test suite that runs real OpenHands SDK conversations offline.

``pytester`` writes agent tests the way an OpenHands maintainer would: a real ``LocalConversation`` (agent loop, tool
execution, event persistence) driven by the SDK's own scripted ``TestLLM``, with the small shell tool of
``oh_shell_tool.py`` running real commands in a throwaway workspace, and an assertion on the workspace afterwards. The
test file never mentions codetracer: with ``--codetracer`` the plugin's class-level patch adds a codetracer callback to
each ``LocalConversation`` at construction and ends its run when ``run()`` returns. The failing test's agent edits
the wrong file at step 2 (``calc_old.py`` instead of ``calc.py``), its check at step 3 fails, it claims success anyway,
and the test's assertion on ``calc.py`` fails: the report must name step 2 as the onset, with step 3 in the chain.
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import pytest

pytest.importorskip("openhands.sdk", reason="needs openhands-sdk (Python >= 3.12; tox -e integration-openhands)")

from codetracer.core.model import Run
from codetracer.core.store import Store
from codetracer.pytest_plugin import SECTION

pytest_plugins = ["pytester"]

HERE = Path(__file__).resolve().parent  # holds oh_shell_tool.py
PLUGIN_ARGS = (
    ()
    if any(ep.value == "codetracer.pytest_plugin" for ep in importlib.metadata.entry_points(group="pytest11"))
    else ("-p", "codetracer.pytest_plugin")
)

AGENT_TESTS = f"""
import json
import sys

import pytest

sys.path.insert(0, {str(HERE)!r})
import oh_shell_tool  # registers the "ShellTool" tool
from openhands.sdk import Agent, Conversation, Tool
from openhands.sdk.llm import Message, MessageToolCall, TextContent
from openhands.sdk.testing import TestLLM

TASK = "add(2, 3) should be 5 but calc.add subtracts; fix calc.py"
CHECK = "import calc\\nassert calc.add(2, 3) == 5, calc.add(2, 3)\\nprint('ok')\\n"


@pytest.fixture
def workspace(tmp_path):
    folder = tmp_path / "ws"
    folder.mkdir()
    (folder / "calc.py").write_text("def add(a, b):\\n    return a - b\\n")
    (folder / "calc_old.py").write_text("def add(a, b):\\n    return a - b\\n")
    (folder / "check.py").write_text(CHECK)
    return folder


def reply(text, *calls):
    return Message(
        role="assistant",
        content=[TextContent(text=text)],
        tool_calls=[
            MessageToolCall(id=cid, name=name, arguments=json.dumps(args), origin="completion")
            for cid, name, args in calls
        ]
        or None,
    )


def shell(cid, command):
    return cid, oh_shell_tool.TOOL_NAME, {{"command": command}}


def run_agent(workspace, script):
    agent = Agent(llm=TestLLM.from_messages(script), tools=[Tool(name="ShellTool")])
    conversation = Conversation(agent=agent, workspace=str(workspace),
                                persistence_dir=str(workspace.parent / "conversations"), visualizer=None)
    conversation.send_message(TASK)
    conversation.run()
    return conversation


def add_works(workspace):
    scope = {{}}
    exec((workspace / "calc.py").read_text(), scope)
    return scope["add"](2, 3) == 5


def test_agent_fixes_add(workspace):
    conversation = run_agent(workspace, [
        reply("Read the code.", shell("c1", "cat calc.py")),
        reply("add subtracts: make it add.", shell("c2", "sed -i 's/a - b/a + b/' calc.py")),
        reply("Check it.", shell("c3", "python3 check.py")),
        reply("Fixed.", ("c4", "finish", {{"message": "calc.add adds now"}})),
    ])
    assert conversation.state.execution_status.value == "finished"
    assert add_works(workspace)


def test_agent_fixes_add_when_misled(workspace):
    conversation = run_agent(workspace, [
        reply("Read the code.", shell("c1", "cat calc.py")),
        reply("add subtracts: make it add.", shell("c2", "sed -i 's/a - b/a + b/' calc_old.py")),
        reply("Check it.", shell("c3", "python3 check.py")),
        reply("Fixed.", ("c4", "finish", {{"message": "calc.add adds now"}})),
    ])
    assert conversation.state.execution_status.value == "finished"
    assert add_works(workspace), "the agent claims it fixed add(), but calc.add(2, 3) != 5"
"""


@pytest.fixture
def suite(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.Pytester:
    monkeypatch.setenv("CODETRACER_PROJECT", "plugin-openhands")
    monkeypatch.setenv("CODETRACER_HOME", str(tmp_path / "ct-home"))
    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # litellm must not fetch its cost map at import
    monkeypatch.setenv("OPENHANDS_SUPPRESS_BANNER", "1")
    pytester.makepyfile(test_agent=AGENT_TESTS)
    return pytester


def test_failing_agent_test_names_the_wrong_edit(suite: pytest.Pytester, tmp_path: Path) -> None:
    out = tmp_path / "traces"
    result = suite.runpytest_subprocess(
        *PLUGIN_ARGS, "-p", "no:cacheprovider", "--codetracer", f"--codetracer-dir={out}"
    )
    result.assert_outcomes(passed=1, failed=1)
    text = result.stdout.str()
    assert text.count(SECTION) == 1  # only the failing test gets a section
    failure = text[text.index("_ test_agent_fixes_add_when_misled _") :]
    section = failure[failure.index(SECTION) :]
    assert "agent run 1 of 1: openhands:live:" in section
    assert "went wrong at step 2 of 4: shell: sed -i 's/a - b/a + b/' calc_old.py" in section
    assert "chain: 3" in section
    assert "unneeded_edit: edits calc_old.py" in section  # the localizer's reason: the wrong file
    assert ">> step 2" in section and "framework=openhands" in section
    assert "2 agent run(s) traced; 1 failing test(s) with a diagnosis" in text

    store = Store(out / "codetracer.db", project="plugin-openhands")
    runs = [store.load_run(s.id) for s in store.list_runs()]
    by_test = {str(run.metadata.get("pytest_test", "")).rsplit("::", 1)[-1]: run for run in runs}
    assert sorted(by_test) == ["test_agent_fixes_add", "test_agent_fixes_add_when_misled"]
    for run in runs:  # each conversation is its own complete run, ended when run() returned
        assert (run.framework, run.exit_status, run.complete) == ("openhands", "finished", True)
        assert run.task is not None and run.task.startswith("add(2, 3) should be 5")
        assert len(run.steps) == 4 and run.metadata["model"] == "test-model"
        assert run.steps[3].tool_calls[0].name == "finish"

    failing = by_test["test_agent_fixes_add_when_misled"]
    assert failing.diagnosis is not None and (failing.diagnosis.onset_step, failing.diagnosis.chain) == (2, [3])
    check = failing.steps[2].tool_calls[0]
    assert check.observation is not None and check.observation.exit_code == 1 and check.observation.is_error
    trace = Run.from_json((out / "traces" / f"{failing.id.replace(':', '_')}.json").read_text())
    assert trace.steps[1].actions[0].command == "sed -i 's/a - b/a + b/' calc_old.py"  # step 2: the wrong file
    assert (out / "reports" / "test_agent.py_test_agent_fixes_add_when_misled.txt").is_file()

    # the passing test's run is traced and stored (--codetracer-keep=all), but never diagnosed nor reported
    passing = by_test["test_agent_fixes_add"]
    assert passing.diagnosis is None and not any(s.is_error for s in passing.steps)
    assert passing.steps[2].tool_calls[0].observation is not None
    assert passing.steps[2].tool_calls[0].observation.exit_code == 0
    assert not (out / "traces" / f"{passing.id.replace(':', '_')}.json").exists()  # JSON files: failing tests only
    assert not (out / "reports" / "test_agent.py_test_agent_fixes_add.txt").exists()


def test_without_the_flag_the_suite_runs_untraced(suite: pytest.Pytester, tmp_path: Path) -> None:
    result = suite.runpytest_subprocess(*PLUGIN_ARGS, "-p", "no:cacheprovider", "-rA")
    result.assert_outcomes(passed=1, failed=1)  # the same outcomes as with --codetracer
    result.stdout.fnmatch_lines(
        [
            "PASSED test_agent.py::test_agent_fixes_add",
            "FAILED test_agent.py::test_agent_fixes_add_when_misled - AssertionError*",
        ]
    )
    text = result.stdout.str()
    assert SECTION not in text and "agent run(s) traced" not in text
    assert not (suite.path / ".codetracer").exists()
    assert not (tmp_path / "ct-home").exists()  # nothing reached the store either

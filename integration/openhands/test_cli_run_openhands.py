"""``codetracer run -- python agent.py``: an OpenHands SDK program traced without touching its code, offline.

The OpenHands CLI (``openhands-cli``) is not on the package registry these tests install from, so it is not run
here; it is an SDK program like the one below (it builds its conversations with ``Conversation(...)``), and
``codetracer run`` traces every ``LocalConversation`` and ``RemoteConversation`` a process builds, whoever builds
it. The program is written as an SDK user writes one and never mentions codetracer: a real ``LocalConversation``
driven by the SDK's ``TestLLM`` with the shell tool of ``oh_shell_tool.py`` running real commands in the project, or
a ``RemoteConversation`` against a real agent server on 127.0.0.1 (the fixtures of
``test_openhands_agent_server.py``) whose model is the scripted OpenAI-compatible stub.
"""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("OPENHANDS_SUPPRESS_BANNER", "1")

import pytest

pytest.importorskip("openhands.sdk", reason="needs openhands-sdk (Python >= 3.12; tox -e integration-openhands)")

from integration.cli_run import BROKEN_SAID, agent_project, broken_codetracer, codetracer_run, said, stored
from test_openhands_live import comparable
from test_openhands_provenance import WRONG_SED

from codetracer.adapters.openhands.artifacts import OpenHandsSdkExtractor
from codetracer.core.extract import build_runs
from codetracer.core.model import Run

HERE = Path(__file__).resolve().parent  # holds oh_shell_tool.py
VERIFY = "python -m pytest -q -p no:cacheprovider"
TASK = "add() subtracts; fix calc.py so that test_calc.py passes."

AGENT_PROGRAM = f'''
"""An OpenHands SDK program: a scripted agent works on the project in the current folder, then the program says
whether add() adds (exit code 0) or not (3)."""
import json
import os
import shlex
import sys

sys.path.insert(0, {str(HERE)!r})
import oh_shell_tool  # registers the "ShellTool" tool
from openhands.sdk import LLM, Agent, Conversation, Tool
from openhands.sdk.llm import Message, MessageToolCall, TextContent
from openhands.sdk.testing import TestLLM
from openhands.sdk.workspace import RemoteWorkspace
from pydantic import SecretStr


def reply(text, command):
    name, args = (oh_shell_tool.TOOL_NAME, {{"command": command}}) if command else ("finish", {{"message": text}})
    call = MessageToolCall(id="c-" + text, name=name, arguments=json.dumps(args), origin="completion")
    return Message(role="assistant", content=[TextContent(text=text)], tool_calls=[call])


tools = [Tool(name="ShellTool")]
if sys.argv[1] == "local":  # local STEPS_JSON PERSISTENCE_DIR [one-line]
    agent = Agent(llm=TestLLM.from_messages([reply(t, c) for t, c in json.loads(sys.argv[2])]), tools=tools)
    callbacks = []
    if sys.argv[4:] == ["one-line"]:  # a program that traces itself with codetracer's one line
        import codetracer

        callbacks.append(codetracer.trace(agent, run_id="its-own-line"))
    conversation = Conversation(agent=agent, workspace=".", persistence_dir=sys.argv[3], callbacks=callbacks,
                                visualizer=None)
else:  # remote SERVER_URL MODEL_URL
    llm = LLM(model="openai/scripted", base_url=sys.argv[3], api_key=SecretStr("sk-scripted"), usage_id="agent",
              num_retries=0)
    conversation = Conversation(agent=Agent(llm=llm, tools=tools), visualizer=None,
                                workspace=RemoteWorkspace(host=sys.argv[2], working_dir=os.getcwd()))
conversation.send_message({TASK!r})
conversation.run()
print("agent:", conversation.state.execution_status.value, flush=True)
if sys.argv[1] != "local":
    conversation.close()
scope = {{}}
exec(open("calc.py").read(), scope)
sys.exit(0 if scope["add"](2, 3) == 5 else 3)
'''

WRONG_FIX = [("Read the code.", "cat calc.py"), ("Make add() add.", WRONG_SED),
             ("Run the tests.", "python3 -m pytest -q -p no:cacheprovider"), ("Done.", None)]


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The project the agent works on; the program runs in it. ``python`` is this interpreter."""
    return agent_project(tmp_path / "ws", tmp_path / "agent.py", AGENT_PROGRAM, monkeypatch)


def local_program(tmp_path: Path, steps: list[tuple[str, str | None]], *extra: str) -> list[str]:
    return ["python", str(tmp_path / "agent.py"), "local", json.dumps(steps), str(tmp_path / "conversations"), *extra]


def assert_failed_run_listed(done: Any, run: Run) -> None:
    """``codetracer run``'s report on stderr: the run, then its diagnosis naming the wrong ``sed``."""
    lines = said(done.stderr)
    assert lines[0] == f"codetracer: run {run.id} [failed] 4 steps  (codetracer show {run.id})", done.stderr
    assert lines[1].startswith("  diagnosis (signals, confidence ")
    assert lines[1].endswith(f"onset step 2: shell: {WRONG_SED}")


def assert_wrong_fix_tree(run: Run, model: str) -> None:
    assert (run.framework, run.task, str(run.outcome), run.exit_status) == ("openhands", TASK, "failed", "finished")
    assert run.metadata["via"] == "codetracer run" and run.metadata["model"] == model
    commands = [s.tool_calls[0].action.command for s in run.steps[:3]]  # type: ignore[union-attr]
    assert commands == ["cat calc.py", WRONG_SED, "python3 -m pytest -q -p no:cacheprovider"]
    assert [s.tool_calls[0].observation.exit_code for s in run.steps[:3]] == [0, 0, 1]  # type: ignore[union-attr]
    assert run.steps[3].tool_calls[0].name == "finish"
    v = run.verification  # the --verify command's own output, kept as the run's verification node
    assert v is not None and (v.command, v.passed, v.exit_code) == (VERIFY, False, 1)
    assert v.failed_tests == ["test_calc.py::test_add"]
    assert run.diagnosis is not None and run.diagnosis.onset_step == 2  # stored with the run


def test_a_local_conversation_is_traced_with_its_diagnosis(workspace: Path, tmp_path: Path, home: Path) -> None:
    done = codetracer_run(["--verify", VERIFY, "--", *local_program(tmp_path, WRONG_FIX)], workspace, home)

    assert done.returncode == 3, done.stderr  # the program's own verdict: add() does not add
    assert done.stdout == "agent: finished\n"  # its output, untouched
    (run,) = stored(home, done.stderr)
    assert_failed_run_listed(done, run)
    assert_wrong_fix_tree(run, "test-model")
    assert "return a + b + 1" in (workspace / "calc.py").read_text()

    # the conversation the SDK persisted gives the same tree offline
    (folder,) = (tmp_path / "conversations").iterdir()
    (offline,) = build_runs(folder, OpenHandsSdkExtractor())
    live = comparable(run, outcome=False)
    assert live.pop("verification") is not None
    assert comparable(offline, outcome=False) == {**live, "verification": None}


def test_a_program_tracing_itself_is_traced_once(workspace: Path, tmp_path: Path, home: Path) -> None:
    """A conversation built with codetracer's one line keeps that callback and gets no second one: one run, the
    program's own (its id, none of ``codetracer run``'s metadata)."""
    done = codetracer_run(["--", *local_program(tmp_path, WRONG_FIX, "one-line")], workspace, home)

    assert done.returncode == 3, done.stderr
    (run,) = stored(home, done.stderr)
    assert run.id == "its-own-line" and "via" not in run.metadata and len(run.steps) == 4
    assert said(done.stderr)[0] == "codetracer: run its-own-line [unknown] 4 steps  (codetracer show its-own-line)"


def test_a_remote_conversation_is_traced_with_its_diagnosis(workspace: Path, tmp_path: Path, home: Path,
                                                            server: Any, model: Any) -> None:
    from openai_stub import Reply, ToolCall  # beside the model fixture's stub server

    model.script(*[Reply(thought, tool_calls=[ToolCall(f"r{i}", "shell", {"command": command})])
                   for i, (thought, command) in enumerate(WRONG_FIX[:3])],
                 Reply("Done.", tool_calls=[ToolCall("r9", "finish", {"message": "fixed add"})]))
    program = ["python", str(tmp_path / "agent.py"), "remote", server.url, model.base_url]
    done = codetracer_run(["--verify", VERIFY, "--", *program], workspace, home)

    assert done.returncode == 3, done.stderr
    assert done.stdout == "agent: finished\n"
    (run,) = stored(home, done.stderr)
    assert_failed_run_listed(done, run)
    assert_wrong_fix_tree(run, "openai/scripted")
    assert "return a + b + 1" in (workspace / "calc.py").read_text()  # the server ran the edit


def test_a_broken_codetracer_leaves_the_program_running_untraced(workspace: Path, tmp_path: Path,
                                                                 home: Path) -> None:
    broken = broken_codetracer(tmp_path / "broken")
    program = shlex.join(local_program(tmp_path, WRONG_FIX))
    shell = ["bash", "-c", f'PYTHONPATH="$PYTHONPATH:{broken}" {program}']  # only the program finds it
    done = codetracer_run(["--verify", VERIFY, "--", *shell], workspace, home)

    assert done.returncode == 3 and done.stdout == "agent: finished\n"  # the program did its whole run
    assert said(done.stderr) == [BROKEN_SAID]
    assert "return a + b + 1" in (workspace / "calc.py").read_text()
    assert len(list((tmp_path / "conversations").iterdir())) == 1
    assert not home.exists() or stored(home, done.stderr) == []

"""``codetracer run -- python agent.py``: a LangGraph program traced without touching its code, offline.

The program is written as a LangGraph user writes one and never mentions codetracer: a real ReAct agent
(``create_react_agent``) whose model is LangChain's ``GenericFakeChatModel`` with scripted tool calls, and real tools
that read and write the project's files and run its tests. It reads the README (missing: a tool error it works
around), writes a wrong fix, runs the tests (they fail) and stops. ``codetracer run`` registers codetracer as
``codetracer.langchain(verify=...)`` does, in the program's process only, keeps the program's output and exit code,
and prints the run and its diagnosis at the end.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
from integration.cli_run import BROKEN_SAID, agent_project, broken_codetracer, codetracer_run, said, stored

VERIFY = "python -m pytest -q -p no:cacheprovider"
TASK = "add() is wrong; fix calc.py"
WRONG = "def add(a, b):\n    return a + b + 1\n"

AGENT_PROGRAM = f'''
"""A LangGraph agent on the project in the current folder; exit code 0 if add() adds afterwards, else 3."""
import subprocess
import sys
import warnings
from pathlib import Path

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from langgraph.prebuilt import ToolNode, create_react_agent  # LangGraph first: it imports langchain_core itself
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langchain_core.tools import tool


class ScriptedModel(GenericFakeChatModel):
    def bind_tools(self, tools, **kwargs):
        return self


@tool
def read_file(path: str) -> str:
    """Read a file of the project."""
    return Path(path).read_text()


@tool
def write_file(path: str, content: str) -> str:
    """Write a whole file of the project."""
    Path(path).write_text(content)
    return f"wrote {{path}}"


@tool
def run_tests() -> str:
    """Run the project's tests."""
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], capture_output=True,
                          text=True)
    if done.returncode:
        raise RuntimeError(done.stdout[-2000:])
    return done.stdout[-2000:]


def call(name, call_id, **args):
    return {{"name": name, "args": args, "id": call_id, "type": "tool_call"}}


turns = [
    AIMessage(content="Read the README first.", tool_calls=[call("read_file", "r1", path="README.md")]),
    AIMessage(content="No README; fix add() directly.",
              tool_calls=[call("write_file", "w1", path="calc.py", content={WRONG!r})]),
    AIMessage(content="Run the tests.", tool_calls=[call("run_tests", "t1")]),
    AIMessage(content="Done."),
]
graph = create_react_agent(ScriptedModel(messages=iter(turns)),
                           ToolNode([read_file, write_file, run_tests], handle_tool_errors=True))
result = graph.invoke({{"messages": [("user", {TASK!r})]}})
print("agent:", result["messages"][-1].content, flush=True)
scope = {{}}
exec(Path("calc.py").read_text(), scope)
sys.exit(0 if scope["add"](2, 3) == 5 else 3)
'''


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The project the agent works on; the program (beside it) runs in it. ``python`` is this interpreter."""
    return agent_project(tmp_path / "project", tmp_path / "agent.py", AGENT_PROGRAM, monkeypatch)


def test_a_langgraph_program_is_traced_with_its_diagnosis(project: Path, tmp_path: Path, home: Path) -> None:
    done = codetracer_run(["--verify", VERIFY, "--", "python", str(tmp_path / "agent.py")], project, home)

    assert done.returncode == 3, done.stderr  # the program's own verdict: add() does not add
    assert done.stdout == "agent: Done.\n"  # its output, untouched
    (run,) = stored(home, done.stderr)
    lines = said(done.stderr)
    assert lines[0] == f"codetracer: run {run.id} [failed] 4 steps  (codetracer show {run.id})", done.stderr
    assert lines[1].startswith("  diagnosis (signals, confidence ")
    assert lines[1].endswith("onset step 2: write_file: edit calc.py")

    assert (run.framework, run.task, str(run.outcome)) == ("langchain", TASK, "failed")
    assert run.metadata["via"] == "codetracer run" and run.metadata["trace_path"] == "graph"
    assert [[c.name for c in s.tool_calls] for s in run.steps] == [["read_file"], ["write_file"], ["run_tests"], []]
    assert [s.thought.text if s.thought else None for s in run.steps][:3] == [
        "Read the README first.", "No README; fix add() directly.", "Run the tests."]
    read, write, tests = (s.tool_calls[0] for s in run.steps[:3])
    assert read.observation is not None and read.observation.is_error  # the missing README, worked around
    assert write.observation is not None and write.observation.text is not None
    assert write.observation.text.text == "wrote calc.py" and not write.observation.is_error
    assert tests.observation is not None and tests.observation.is_error
    assert [(c.path, c.how, c.fate) for c in run.steps[1].changes] == [("calc.py", "write", "survives")]
    v = run.verification  # the --verify command's own output, kept as the run's verification node
    assert v is not None and (v.command, v.passed, v.exit_code) == (VERIFY, False, 1)
    assert v.failed_tests == ["test_calc.py::test_add"]
    assert run.diagnosis is not None and run.diagnosis.onset_step == 2  # stored with the run
    assert (project / "calc.py").read_text() == WRONG


def test_a_broken_codetracer_leaves_the_program_running_untraced(project: Path, tmp_path: Path, home: Path) -> None:
    broken = broken_codetracer(tmp_path / "broken")
    program = shlex.join(["python", str(tmp_path / "agent.py")])
    shell = ["bash", "-c", f'PYTHONPATH="$PYTHONPATH:{broken}" {program}']  # only the program finds it
    done = codetracer_run(["--verify", VERIFY, "--", *shell], project, home)

    assert done.returncode == 3 and done.stdout == "agent: Done.\n"  # the program did its whole run
    assert said(done.stderr) == [BROKEN_SAID]
    assert (project / "calc.py").read_text() == WRONG

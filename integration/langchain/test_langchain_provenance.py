"""Edit provenance and the onset of a live LangGraph run whose file-writing tool makes the wrong change.

A real LangGraph ReAct agent (LangChain's fake chat model with scripted tool calls) works on real files: it reads
a README that does not exist (a harmless error it works around), writes a wrong fix with its ``write_file`` tool,
runs the tests (they fail) and stops. The run is traced on both LangGraph paths (the graph's own updates stream and
the callback handler); on both the tree must record the tool's change, and the diagnosis must name the write, not
the recovered read error.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest
from integration.shown import assert_shown_with_diagnosis
from langchain_core.messages import AIMessage
from langchain_core.tools import tool
from test_langchain_live import ask, call, model

import codetracer
from codetracer.localize.signal_localizer import SignalLocalizer

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from langgraph.prebuilt import ToolNode, create_react_agent

pytestmark = pytest.mark.filterwarnings("ignore:create_react_agent has been moved")

WRONG = "def add(a, b):\n    return a + b + 1\n"


def tools_in(folder: Path) -> list[Any]:
    @tool
    def read_file(path: str) -> str:
        """Read a file of the project."""
        return (folder / path).read_text()

    @tool
    def write_file(path: str, content: str) -> str:
        """Write a whole file of the project."""
        (folder / path).write_text(content)
        return f"wrote {path}"

    @tool
    def run_tests() -> str:
        """Run the project's tests."""
        done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=folder,
                              capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(done.stdout[-2000:])
        return done.stdout[-2000:]

    return [read_file, write_file, run_tests]


def scripted(tested: bool = True) -> Any:
    turns = [
        AIMessage(content="Read the README first.", tool_calls=[call("read_file", "r1", path="README.md")]),
        AIMessage(content="No README; fix add() directly.",
                  tool_calls=[call("write_file", "w1", path="calc.py", content=WRONG)]),
    ]
    if tested:
        turns.append(AIMessage(content="Run the tests.", tool_calls=[call("run_tests", "t1")]))
    return model(*turns, AIMessage(content="Done."))


PYTEST = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]


@pytest.mark.parametrize("tested", [True, False], ids=["tests-failed-visibly", "submitted-untested"])
@pytest.mark.parametrize("graph_path", [True, False], ids=["graph-path", "callbacks"])
def test_the_wrong_write_is_the_onset_not_the_recovered_read(
    tracer: codetracer.Tracer, tmp_path: Path, graph_path: bool, tested: bool
) -> None:
    """The failed live run is stored diagnosed, shown by ``ls``/``show``/``--json``/``report``, and names the
    wrong write whether the agent ran the tests itself or only the verifier (``verify=``) did."""
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    (folder / "test_calc.py").write_text("import calc\n\n\ndef test_add():\n    assert calc.add(2, 3) == 5\n")
    graph = create_react_agent(scripted(tested), ToolNode(tools_in(folder), handle_tool_errors=True))

    def tests_pass(outputs: Any) -> subprocess.CompletedProcess[str]:  # kept whole: command, exit code, output
        return subprocess.run(PYTEST, cwd=folder, capture_output=True, text=True)

    if graph_path:
        traced = codetracer.trace(graph, tracer=tracer, verify=tests_pass)
        traced.invoke(ask("add() is wrong; fix calc.py"))
    else:
        from codetracer.adapters.langchain.live import CodetracerCallbackHandler

        handler = CodetracerCallbackHandler(tracer, verify=tests_pass)
        graph.invoke(ask("add() is wrong; fix calc.py"), config={"callbacks": [handler]})
    assert tracer.flush()
    (run,) = tracer.runs
    assert str(run.outcome) == "failed"
    writes = [s for s in run.steps if any(c.path == "calc.py" for c in s.changes)]
    assert len(writes) == 1
    (write,) = writes
    assert [(c.path, c.how, c.fate) for c in write.changes] == [("calc.py", "write", "survives")]
    assert run.provenance is not None and run.provenance.patch_source == "final file contents"
    assert run.provenance.surviving_steps == [write.id]
    read = next(s for s in run.steps if any(c.name == "read_file" for c in s.tool_calls))
    assert read.is_error and read.id < write.id  # the missing README: an error the run went on without

    v = run.verification
    assert v is not None and (v.passed, v.exit_code, v.failed_tests) == (False, 1, ["test_calc.py::test_add"])
    assert v.verifier == shlex.join(PYTEST) and v.output is not None and "assert 6 == 5" in v.output.text
    diagnosis = SignalLocalizer().localize(run)
    assert diagnosis.onset_step == write.id
    assert diagnosis.confidence >= 0.5
    assert run.diagnosis == diagnosis  # diagnosed as it was stored
    assert_shown_with_diagnosis(run.id, write.id, "write_file", tmp_path, verifier=v.verifier)


def test_a_verifier_that_raises_leaves_the_langgraph_run_unknown(tracer: codetracer.Tracer, tmp_path: Path) -> None:
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    graph = create_react_agent(scripted(False), ToolNode(tools_in(folder), handle_tool_errors=True))

    def tests_pass(outputs: Any) -> bool:
        raise FileNotFoundError("no test_calc.py")

    result = codetracer.trace(graph, tracer=tracer, verify=tests_pass).invoke(ask("add() is wrong; fix calc.py"))
    assert result["messages"][-1].content == "Done."  # the agent's answer, untouched
    assert tracer.flush()
    (run,) = tracer.runs
    assert (str(run.outcome), run.diagnosis) == ("unknown", None)
    v = run.verification
    assert v is not None and v.passed is None and v.output is not None
    assert v.output.text.startswith("verifier error: the verifier raised FileNotFoundError: no test_calc.py")

"""A hand-written tool loop (``model.invoke``, then ``tool.invoke`` for each call it asked for) in one
``codetracer.task`` block: one run, whatever LangChain thinks of each call, judged by the block's ``verify=``.

The model is LangChain's ``GenericFakeChatModel`` with scripted tool calls; the tool runs real shell commands in a
throwaway project, and the verifier is its real test suite. Without the block, the same loop is one run per call
(the issue measured 10 for one task); with it, the model calls are the run's steps and their tool calls are theirs,
as in a LangGraph agent, and a failed run is stored diagnosed, naming the wrong edit.
"""

from __future__ import annotations

import asyncio
import shlex
import subprocess
import sys
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from integration.shown import assert_shown_with_diagnosis
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.tools import tool
from test_langchain_live import agent, ask, call, llm_responses, model, read_file

import codetracer
from codetracer.adapters.langchain import live
from codetracer.adapters.langchain.live import CodetracerCallbackHandler
from codetracer.core.errors import CodetracerError

pytestmark = pytest.mark.filterwarnings("ignore:create_react_agent has been moved")

PYTEST = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
VERIFY = shlex.join(PYTEST)
TASK = "calc.mean([1, 2, 3, 4]) returns 3.33 instead of 2.5; fix calc.py"
WRONG_EDIT = "sed -i 's/sum(values)/round(sum(values))/' calc.py"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "calc.py").write_text("def mean(values):\n    return sum(values) / (len(values) - 1)\n")
    test = "import calc\n\n\ndef test_mean():\n    assert calc.mean([1, 2, 3, 4]) == 2.5\n"
    (folder / "test_calc.py").write_text(test)
    monkeypatch.chdir(folder)  # the block's verifier command runs in the working folder
    return folder


@pytest.fixture
def registered(tracer: codetracer.Tracer) -> Iterator[Any]:
    handler = codetracer.langchain(tracer=tracer)
    try:
        yield handler
    finally:
        live.unregister_global()


def bash_in(folder: Path) -> Any:
    @tool
    def bash(command: str) -> str:
        """Run a shell command in the project."""
        done = subprocess.run(command, shell=True, cwd=folder, capture_output=True, text=True)
        return f"exit {done.returncode}\n{done.stdout}{done.stderr}"

    return bash


def turns(tested: bool) -> list[AIMessage]:
    script = [
        AIMessage(content="Read the code.", tool_calls=[call("bash", "c1", command="cat calc.py")]),
        AIMessage(content="The sum must be rounded.", tool_calls=[call("bash", "c2", command=WRONG_EDIT)]),
    ]
    if tested:
        script.append(AIMessage(content="Run the tests.", tool_calls=[call("bash", "c3", command=shlex.join(PYTEST))]))
    return [*script, AIMessage(content="Done.")]


def tool_loop(chat: Any, tools: list[Any], task: str, config: Any = None) -> AIMessage:
    """The loop users write by hand: ask the model, run every tool it asks for, until it asks for none."""
    by_name = {t.name: t for t in tools}
    messages: list[Any] = [HumanMessage(task)]
    while True:
        answer = chat.invoke(messages, config=config)
        messages.append(answer)
        if not answer.tool_calls:
            return answer
        for request in answer.tool_calls:
            messages.append(by_name[request["name"]].invoke(request, config=config))


async def async_tool_loop(chat: Any, tools: list[Any], task: str) -> AIMessage:
    by_name = {t.name: t for t in tools}
    messages: list[Any] = [HumanMessage(task)]
    while (answer := await chat.ainvoke(messages)).tool_calls:
        messages.append(answer)
        messages += await asyncio.gather(*(by_name[c["name"]].ainvoke(c) for c in answer.tool_calls))
    return answer


def commands(run: Any) -> list[list[str | None]]:
    return [[c.action.command if c.action else None for c in s.tool_calls] for s in run.steps]


@pytest.mark.parametrize("tested", [True, False], ids=["tests-failed-visibly", "submitted-untested"])
def test_a_tool_loop_in_one_block_is_one_run_diagnosed_when_the_verifier_fails(
    tracer: codetracer.Tracer, registered: Any, project: Path, tmp_path: Path, tested: bool
) -> None:
    with codetracer.task(TASK, verify=VERIFY, tracer=tracer) as block:
        answer = tool_loop(model(*turns(tested)), [bash_in(project)], "please fix the mean")
    assert answer.content == "Done."
    assert tracer.flush()
    (run,) = tracer.runs  # one run, not one per model.invoke and tool.invoke
    assert run.id == block.run_id and run.task == TASK and run.framework == "langchain"
    assert run.metadata["task_block"] is True and run.metadata["trace_path"] == "callbacks"
    expected = [["cat calc.py"], [WRONG_EDIT], *([[VERIFY]] if tested else []), []]
    assert commands(run) == expected  # each model call a step, holding the tool calls it asked for
    assert llm_responses(run) == [m.content for m in turns(tested)]
    assert run.steps[0].tool_calls[0].observation.text.text.startswith("exit 0\ndef mean")  # type: ignore[union-attr]

    assert (str(run.outcome), run.exit_status) == ("failed", "finished")
    v = run.verification
    assert v is not None and (v.verifier, v.passed, v.exit_code) == (VERIFY, False, 1)
    assert v.failed_tests == ["test_calc.py::test_mean"]
    assert run.diagnosis is not None and run.diagnosis.onset_step == 2  # the wrong edit, diagnosed as stored
    assert_shown_with_diagnosis(run.id, 2, "round(sum(values))", tmp_path, verifier=VERIFY)


def test_without_the_block_the_same_loop_is_one_run_per_call(
    tracer: codetracer.Tracer, registered: Any, project: Path
) -> None:
    tool_loop(model(*turns(True)), [bash_in(project)], "please fix the mean")
    assert tracer.flush()
    assert len(tracer.runs) == 7  # 4 model calls + 3 tool calls: what codetracer.task is for


def test_an_async_loop_with_parallel_tool_calls_in_async_with_is_one_run(
    tracer: codetracer.Tracer, registered: Any, project: Path
) -> None:
    script = [AIMessage(content="Look at both.", tool_calls=[call("bash", "a1", command="cat calc.py"),
                                                             call("bash", "a2", command="cat test_calc.py")]),
              AIMessage(content="Done.")]

    async def main() -> str | None:
        async with codetracer.task(TASK, verify=VERIFY, tracer=tracer) as block:
            await async_tool_loop(model(*script), [bash_in(project)], TASK)
        return block.run_id

    run_id = asyncio.run(main())
    assert tracer.flush()
    (run,) = tracer.runs
    assert run.id == run_id and str(run.outcome) == "failed"  # the tests still fail: nothing was fixed
    assert sorted(commands(run)[0]) == ["cat calc.py", "cat test_calc.py"] and commands(run)[1:] == [[]]


def test_a_handler_joins_the_block_and_its_verify_judges_a_block_without_one(
    tracer: codetracer.Tracer, project: Path
) -> None:
    def fixed_mean(outputs: Any) -> subprocess.CompletedProcess[str]:
        return subprocess.run(PYTEST, cwd=project, capture_output=True, text=True)

    handler = CodetracerCallbackHandler(tracer, verify=fixed_mean)
    fix = "sed -i 's/(len(values) - 1)/len(values)/' calc.py"
    script = [AIMessage(content="Fix the divisor.", tool_calls=[call("bash", "f1", command=fix)]),
              AIMessage(content="Done.")]
    with codetracer.task(TASK, tracer=tracer):
        tool_loop(model(*script), [bash_in(project)], TASK, config={"callbacks": [handler]})
    assert tracer.flush()
    (run,) = tracer.runs
    assert commands(run) == [[fix], []] and str(run.outcome) == "solved"
    assert run.verification is not None and run.verification.exit_code == 0
    assert run.diagnosis is None


def test_a_tool_that_raises_out_of_the_block_fails_the_run_once(
    tracer: codetracer.Tracer, registered: Any, project: Path
) -> None:
    @tool
    def deploy(target: str) -> str:
        """Deploy the project."""
        raise RuntimeError(f"no such target: {target}")

    script = [AIMessage(content="Deploy.", tool_calls=[call("deploy", "d1", target="prod")])]
    with pytest.raises(RuntimeError, match="no such target"), \
            codetracer.task("deploy it", verify=VERIFY, tracer=tracer):
        tool_loop(model(*script), [deploy], "deploy it")
    assert tracer.flush()
    (run,) = tracer.runs
    assert (str(run.outcome), run.exit_status) == ("failed", "RuntimeError")
    assert run.verification is None  # a block that raised is not judged
    assert [e.error for e in run.steps[0].errors] == ["no such target: prod"]
    assert run.errors == []  # the step holds it; the block does not repeat it
    (failed,) = run.steps[0].tool_calls
    assert failed.observation is not None and failed.observation.is_error


def test_graph_runs_and_batches_in_the_block_join_it_a_thread_without_the_context_does_not(
    tracer: codetracer.Tracer, registered: Any
) -> None:
    graph = agent(AIMessage(content="Read it.", tool_calls=[call("read_file", "r1", path="calc.py")]),
                  AIMessage(content="Done."))
    outside: list[Any] = []
    with codetracer.task("read, then look twice", tracer=tracer) as block:
        graph.invoke(ask("read calc.py"))  # under codetracer.langchain(), through callbacks inside a block
        read_file.batch([{"path": "setup.py"}, {"path": "calc.py"}])  # LangChain's executor copies the context
        thread = threading.Thread(target=lambda: outside.append(read_file.invoke({"path": "setup.py"})))
        thread.start()
        thread.join()
    assert tracer.flush()
    runs = {r.id: r for r in tracer.runs}
    assert len(runs) == 2 and block.run_id in runs
    run = runs.pop(block.run_id)
    assert [[c.name for c in s.tool_calls] for s in run.steps] == [["read_file"], [], ["read_file"], ["read_file"]]
    assert run.task == "read, then look twice" and str(run.outcome) == "unknown"
    (alone,) = runs.values()  # the thread's call: a run of its own
    assert outside == ["from setuptools import setup"] and "task_block" not in alone.metadata


def test_langchain_takes_verify_the_old_keyword_warns_and_errors_name_the_public_function(
    tracer: codetracer.Tracer, project: Path
) -> None:
    try:
        codetracer.langchain(tracer=tracer, verify=VERIFY)  # a command, as for codetracer.trace(graph, verify=...)
        agent(AIMessage(content="Done.")).invoke(ask("finish"))
        with pytest.warns(DeprecationWarning, match=r"codetracer.langchain\(\): verifier= is deprecated; use verify="):
            codetracer.langchain(tracer=tracer, verifier=lambda outputs: outputs["messages"][-1].content == "Done.")
        agent(AIMessage(content="Done.")).invoke(ask("finish again"))
        with pytest.raises(CodetracerError, match=r"codetracer.langchain\(\) takes verify=, not both"):
            codetracer.langchain(tracer=tracer, verify=VERIFY, verifier=VERIFY)
        with pytest.raises(TypeError, match=r"langchain\(\) got an unexpected keyword argument 'verfy'"):
            codetracer.langchain(tracer=tracer, verfy=VERIFY)  # type: ignore[call-arg]
    finally:
        live.unregister_global()
    assert tracer.flush()
    first, second = tracer.runs
    assert str(first.outcome) == "failed" and first.verification is not None
    assert first.verification.verifier == VERIFY and first.verification.failed_tests == ["test_calc.py::test_mean"]
    assert str(second.outcome) == "solved"

    with pytest.warns(DeprecationWarning, match=r"CodetracerCallbackHandler\(\): verifier= is deprecated"):
        handler = CodetracerCallbackHandler(tracer, verifier=lambda outputs: True)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        CodetracerCallbackHandler(tracer, verify=VERIFY)
    with pytest.raises(CodetracerError, match=r"AsyncCodetracerCallbackHandler\(\) takes verify=, not both"):
        live.AsyncCodetracerCallbackHandler(tracer, verify=VERIFY, verifier=VERIFY)
    agent(AIMessage(content="Done.")).invoke(ask("judged by the handler"), config={"callbacks": [handler]})
    assert tracer.flush() and str(tracer.runs[-1].outcome) == "solved"

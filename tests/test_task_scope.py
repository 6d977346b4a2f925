"""``codetracer.task(...)``: the run of a block of code (``core/scope.py``), as an adapter joins and ends it.

The adapter here is the events API driven as a live adapter drives it (each "call" of the block a step with a
shell command), on a real tracer and store; the LangChain handler's use of it runs against real langchain-core in
``integration/langchain/test_langchain_task.py``.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import warnings
from pathlib import Path
from typing import Any

import pytest

import codetracer
from codetracer.core import scope
from codetracer.core.tracer import Tracer


@pytest.fixture
def tracer(home: Path) -> Any:
    t = Tracer(home, load_plugins=False)
    yield t
    t.close()


def call(tracer: Tracer, key: str, command: str, output: str, exit_code: int = 0) -> str | None:
    """One framework run inside the block, as an adapter records it: it joins the block's run (``None``: no block)
    and adds its step."""
    block = scope.current(tracer)
    if block is None:
        return None
    run_id = block.join("demo", task=f"first call {key}", metadata={"trace_path": "demo"})
    ev = tracer.events
    ev.step_started(run_id, key)
    ev.tool_call_started(run_id, key, f"{key}.0", "bash", command=command)
    ev.tool_call_finished(run_id, f"{key}.0", output=output, exit_code=exit_code)
    ev.step_finished(run_id, key)
    return run_id


def finished(tracer: Tracer) -> list[Any]:
    assert tracer.flush()
    return list(tracer.runs)


def test_every_call_in_the_block_joins_one_run_with_the_blocks_task(tracer: Tracer) -> None:
    with codetracer.task("fix calc.py", tracer=tracer, metadata={"ticket": "T-1"}) as block:
        ids = [call(tracer, str(n), f"echo {n}", f"{n}\n") for n in range(1, 4)]
    assert len(set(ids)) == 1 and ids[0] == block.run_id
    (run,) = finished(tracer)
    assert run.id == block.run_id and run.task == "fix calc.py" and run.framework == "demo"
    assert [s.tool_calls[0].action.command for s in run.steps] == ["echo 1", "echo 2", "echo 3"]  # type: ignore[union-attr]
    assert (str(run.outcome), run.exit_status) == ("unknown", "finished")  # nothing judged it
    assert run.metadata["task_block"] is True and run.metadata["ticket"] == "T-1"
    assert run.metadata["trace_path"] == "demo"
    assert scope.current(tracer) is None  # the block is over


def test_without_a_task_the_first_calls_task_is_the_runs(tracer: Tracer) -> None:
    with codetracer.task(tracer=tracer):
        call(tracer, "1", "echo 1", "1\n")
        call(tracer, "2", "echo 2", "2\n")
    (run,) = finished(tracer)
    assert run.task == "first call 1"


def test_a_failing_verifier_command_makes_the_run_failed_kept_and_diagnosed(tracer: Tracer, tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "calc.py").write_text("def mean(v):\n    return sum(v) / (len(v) - 1)\n")
    test = "import calc\n\n\ndef test_mean():\n    assert calc.mean([1, 2, 3, 4]) == 2.5\n"
    (tmp_path / "test_calc.py").write_text(test)
    monkeypatch.chdir(tmp_path)
    pytest_command = f"{sys.executable} -m pytest -q -p no:cacheprovider"
    edit = "sed -i 's/sum(v)/round(sum(v))/' calc.py"
    with codetracer.task("fix mean()", verify=pytest_command, tracer=tracer):
        call(tracer, "1", "cat calc.py", (tmp_path / "calc.py").read_text())
        subprocess.run(edit, shell=True, check=True)
        call(tracer, "2", edit, "")
    (run,) = finished(tracer)
    assert (str(run.outcome), run.exit_status) == ("failed", "finished")
    v = run.verification
    assert v is not None and v.passed is False and v.verifier == pytest_command and v.exit_code == 1
    assert v.failed_tests == ["test_calc.py::test_mean"]
    assert run.diagnosis is not None and run.diagnosis.onset_step == 2  # diagnosed as it was stored


@pytest.mark.parametrize(("verify", "outcome"), [
    (lambda: True, "solved"),
    (lambda result: result == 42, "solved"),
    (lambda result: "failed", "failed"),
    (lambda result: None, "unknown"),
])
def test_verify_takes_the_blocks_result_or_nothing(tracer: Tracer, verify: Any, outcome: str) -> None:
    with codetracer.task("answer", verify=verify, tracer=tracer) as block:
        call(tracer, "1", "echo 42", "42\n")
        block.result = 42
    (run,) = finished(tracer)
    assert str(run.outcome) == outcome


def test_a_verifier_that_raises_is_a_verifier_error_not_a_failure(tracer: Tracer) -> None:
    def broken(result: Any) -> bool:
        raise RuntimeError("no tests here")

    with codetracer.task("answer", verify=broken, tracer=tracer):
        call(tracer, "1", "echo 1", "1\n")
    (run,) = finished(tracer)
    assert str(run.outcome) == "unknown" and run.diagnosis is None
    v = run.verification
    assert v is not None and v.passed is None and v.output is not None
    assert v.output.text.startswith("verifier error: the verifier raised RuntimeError: no tests here")


def test_an_exception_out_of_the_block_fails_the_run_with_the_error(tracer: Tracer) -> None:
    verified: list[Any] = []
    with pytest.raises(ValueError, match="the tool broke"), \
            codetracer.task("t", verify=lambda r: verified.append(r) or True, tracer=tracer):
        call(tracer, "1", "echo 1", "1\n")
        raise ValueError("the tool broke")
    (run,) = finished(tracer)
    assert (str(run.outcome), run.exit_status) == ("failed", "ValueError")
    assert [(e.kind, e.error) for e in run.errors] == [("ValueError", "the tool broke")]
    assert verified == []  # a block that raised is not judged
    assert run.diagnosis is not None


def test_an_error_a_call_already_recorded_is_not_repeated(tracer: Tracer) -> None:
    error = RuntimeError("model down")
    with pytest.raises(RuntimeError), codetracer.task("t", tracer=tracer) as block:
        run_id = call(tracer, "1", "echo 1", "1\n")
        assert run_id is not None
        tracer.events.error(run_id, "model down", step_key="1", kind="RuntimeError")
        block.reported.append(error)  # what the joined adapter does when it records an exception
        raise error
    (run,) = finished(tracer)
    assert str(run.outcome) == "failed" and run.errors == []
    assert [e.error for e in run.steps[0].errors] == ["model down"]


def test_a_cancelled_block_is_unknown_cancelled_and_its_adapter_closes_first(tracer: Tracer) -> None:
    ended: list[tuple[str, str]] = []
    with pytest.raises(KeyboardInterrupt), codetracer.task("t", tracer=tracer) as block:
        call(tracer, "1", "echo 1", "1\n")
        block.join("demo", on_end=lambda run_id, ending, ts: ended.append((run_id, ending)))
        raise KeyboardInterrupt
    (run,) = finished(tracer)
    assert (str(run.outcome), run.exit_status) == ("unknown", "cancelled")
    assert ended == [(run.id, "cancelled")]


def test_a_block_inside_a_block_is_a_run_of_its_own(tracer: Tracer) -> None:
    with codetracer.task("outer", tracer=tracer) as outer:
        call(tracer, "1", "echo outer", "outer\n")
        with codetracer.task("inner", tracer=tracer) as inner:
            call(tracer, "1", "echo inner", "inner\n")
        call(tracer, "2", "echo outer again", "again\n")
    runs = {r.task: r for r in finished(tracer)}
    assert set(runs) == {"outer", "inner"} and outer.run_id != inner.run_id
    assert [s.tool_calls[0].action.command for s in runs["outer"].steps] == ["echo outer", "echo outer again"]  # type: ignore[union-attr]
    assert len(runs["inner"].steps) == 1 and runs["inner"].metadata["task_parent"] == outer.run_id
    assert runs["inner"].parent_run_id is None  # not an attempt of a retry sequence


def test_a_thread_does_not_join_the_block_of_another_thread(tracer: Tracer) -> None:
    seen: list[Any] = []
    with codetracer.task("main", tracer=tracer):
        call(tracer, "1", "echo main", "main\n")
        worker = threading.Thread(target=lambda: seen.append(scope.current(tracer)))
        worker.start()
        worker.join()
    assert seen == [None]
    (run,) = finished(tracer)
    assert len(run.steps) == 1


def test_async_tasks_started_in_the_block_join_it(tracer: Tracer) -> None:
    async def main() -> str | None:
        async with codetracer.task("async", tracer=tracer) as block:
            async def one(n: int) -> str | None:
                await asyncio.sleep(0)
                return call(tracer, str(n), f"echo {n}", f"{n}\n")

            ids = await asyncio.gather(one(1), one(2))
            assert set(ids) == {block.run_id}
            return block.run_id

    run_id = asyncio.run(main())
    (run,) = finished(tracer)
    assert run.id == run_id and len(run.steps) == 2


def test_another_tracers_block_is_not_joined(tracer: Tracer, home: Path) -> None:
    other = Tracer(home / "other", load_plugins=False)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # nothing joins the other tracer's block
            with codetracer.task("other's", tracer=other):
                assert scope.current(tracer) is None and scope.current(other) is not None
    finally:
        other.close()


def test_a_block_that_recorded_nothing_says_so(tracer: Tracer) -> None:
    with pytest.warns(RuntimeWarning, match="recorded no run: it groups the LangChain/LangGraph callback runs"), \
            codetracer.task("nothing traced", verify=lambda: True, tracer=tracer) as block:
        pass
    assert block.run_id is None and finished(tracer) == []


def test_the_task_must_be_text(tracer: Tracer) -> None:
    with pytest.raises(TypeError, match=r"codetracer.task\(\) takes the task as a string"):
        codetracer.task(["fix"], tracer=tracer)  # type: ignore[arg-type]

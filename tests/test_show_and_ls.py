"""``codetracer show`` and ``ls`` on what used to go unsaid: a failed run's own error, the answer of each parallel
call (or why it has none), and that ``ls`` stopped at its limit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from codetracer.cli import main
from codetracer.core.tracer import Tracer


def _trace_parallel_failure(home: Path) -> None:
    """One step with three parallel calls (one answers, one raises, one is cancelled), then an error no step holds."""
    tracer = Tracer(home, load_plugins=False)
    ev = tracer.events
    ev.run_started("lg:1", "langchain", task="read, run, wait")
    ev.step_started("lg:1", "1", thought="all three at once")
    for call, command in (("a", "cat setup.py"), ("b", "pytest"), ("c", "sleep 60")):
        ev.tool_call_started("lg:1", "1", call, "run_shell", arguments={"command": command}, command=command)
    ev.tool_call_finished("lg:1", "a", output="from setuptools import setup")
    ev.tool_call_finished("lg:1", "b", output="boom", is_error=True)
    ev.call_ended("lg:1", "c", "cancelled")
    ev.step_finished("lg:1", "1")
    ev.error("lg:1", "Recursion limit of 5 reached", kind="GraphRecursionError")
    ev.run_finished("lg:1", "failed", exit_status="GraphRecursionError")
    tracer.close()


def test_show_prints_the_runs_own_error_and_each_calls_answer(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _trace_parallel_failure(home)
    assert main(["show", "lg:1"]) == 0
    out = capsys.readouterr().out
    assert "run error (GraphRecursionError): Recursion limit of 5 reached" in out
    assert "'from setuptools import setup'" in out and "error 'boom'" in out and "-> cancelled" in out

    assert main(["show", "lg:1", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["errors"] == ["GraphRecursionError: Recursion limit of 5 reached"]
    (step,) = shown["steps"]
    assert [(o["call"], o["error"], o["ending"]) for o in step["observations"]] == [
        ("a", False, None), ("b", True, None), ("c", False, "cancelled")]
    assert step["observations"][0]["observation"] == "'from setuptools import setup'"
    assert step["observations"][2]["observation"] is None


def test_ls_says_when_it_stops_at_its_limit(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tracer = Tracer(home, load_plugins=False, keep_empty=True)  # the runs hold nothing: only their count matters
    for i in range(4):
        tracer.events.run_started(f"r{i}", "demo", task=f"task {i}", timestamp=float(i + 1))
        tracer.events.run_finished(f"r{i}", "unknown", timestamp=float(i + 2))
    tracer.close()
    assert main(["ls", "--limit", "3"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len([line for line in out if line.startswith("r")]) == 3
    assert out[-1].startswith("(the newest 3 runs; more are stored")
    assert main(["ls", "--limit", "4"]) == 0
    assert "more are stored" not in capsys.readouterr().out
    assert main(["ls", "--limit", "2", "--json"]) == 0
    captured = capsys.readouterr()
    assert [json.loads(line)["id"] for line in captured.out.splitlines()] == ["r3", "r2"]
    assert "more are stored" in captured.err
    assert main(["ls", "--limit", "0"]) == 0
    assert len([line for line in capsys.readouterr().out.splitlines() if line.startswith("r")]) == 4

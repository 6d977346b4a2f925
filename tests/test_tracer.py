"""Live tracing: the journal makes killed processes lose nothing; a broken store never reaches the agent."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from codetracer.core import config
from codetracer.core.store import Store
from codetracer.core.tracer import Tracer, recover
from codetracer.hooks.specs import hookimpl


def trace_steps(tracer: Tracer, run_id: str, n: int, finish: bool = True) -> None:
    events = tracer.events
    events.run_started(run_id, "demo", task="t")
    for i in range(1, n + 1):
        events.step_started(run_id, str(i), thought=f"step {i}")
        events.tool_call_started(run_id, str(i), f"c{i}", "bash", command=f"echo {i}")
        events.tool_call_finished(run_id, f"c{i}", output=str(i), exit_code=0)
        events.step_finished(run_id, str(i))
    if finish:
        events.run_finished(run_id, "solved")


def journals(home: Path) -> list[Path]:
    """Journal files holding events (the tracer also keeps empty spare files ready for the next runs)."""
    return sorted(p for p in config.journal_dir(home).glob("*.ctj") if p.read_bytes().strip(b"\x00"))


def test_finished_runs_reach_the_store_and_their_journal_is_removed(home: Path) -> None:
    tracer = Tracer()
    trace_steps(tracer, "r1", 5)
    trace_steps(tracer, "r2", 2)
    assert tracer.flush()
    store = Store(config.store_path(home), project="tests")
    assert [len(store.load_run(r).steps) for r in ("r1", "r2")] == [5, 2]
    assert store.load_run("r1").stages, "stored runs are segmented"
    assert journals(home) == []
    tracer.close()
    assert list(config.journal_dir(home).glob("*.ctj")) == [], "no spare file outlives its tracer"


def test_run_that_never_finishes_is_stored_incomplete_at_close(home: Path) -> None:
    tracer = Tracer()
    trace_steps(tracer, "open", 3, finish=False)
    tracer.events.step_started("open", "4")
    tracer.events.tool_call_started("open", "4", "c4", "bash", command="sleep 1000")
    tracer.close()
    run = Store(config.store_path(home), project="tests").load_run("open")
    assert not run.complete and len(run.steps) == 4
    assert not run.steps[3].complete and not run.steps[3].calls[0].complete
    assert all(step.complete for step in run.steps[:3])


def test_killed_process_loses_nothing_it_traced(home: Path) -> None:
    script = textwrap.dedent(
        """
        import os, signal
        from codetracer.core.tracer import Tracer
        t = Tracer()
        e = t.events
        e.run_started("killed", "demo", task="t")
        for i in range(1, 11):
            e.step_started("killed", str(i))
            e.tool_call_started("killed", str(i), f"c{i}", "bash", command=f"echo {i}")
            e.tool_call_finished("killed", f"c{i}", output=str(i), exit_code=0)
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], env=os.environ.copy())
    assert proc.returncode == -9
    assert len(journals(home)) == 1
    runs = recover()
    assert [r.id for r in runs] == ["killed"]
    run = runs[0]
    assert run.id == "killed" and not run.complete and len(run.steps) == 10
    assert run.steps[9].calls[0].observation.text.text == "10"
    assert list(config.journal_dir(home).glob("*.ctj")) == [], "the dead process's spare files go too"
    assert len(Store(config.store_path(home), project="tests").load_run("killed").steps) == 10


def test_live_journal_is_not_recovered_while_its_writer_runs(home: Path) -> None:
    tracer = Tracer()
    trace_steps(tracer, "live", 2, finish=False)
    assert recover() == []
    assert len(journals(home)) == 1
    tracer.close()


def test_broken_store_never_reaches_the_agent_and_runs_are_recovered_later(home: Path) -> None:
    home.mkdir(parents=True)
    db = config.store_path(home)
    db.write_bytes(b"garbage" * 100)
    tracer = Tracer()
    trace_steps(tracer, "r", 4)  # must not raise
    tracer.flush()
    tracer.close()
    assert tracer.store_error is not None and tracer.deferred == 1
    assert db.read_bytes() == b"garbage" * 100
    assert len(journals(home)) == 1
    db.rename(home / "broken.db")
    (run,) = recover()
    assert run.id == "r" and len(run.steps) == 4 and run.complete


def slow_store(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every store write takes 0.3 s longer: the writer falls behind and its queue fills."""
    original = Store.save_runs

    def slow_save(self: Store, runs):
        time.sleep(0.3)
        return original(self, runs)

    monkeypatch.setattr(Store, "save_runs", slow_save)


def test_full_writer_queue_defers_runs_to_recovery(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    slow_store(monkeypatch)
    tracer = Tracer(queue_size=1)
    for i in range(6):
        trace_steps(tracer, f"r{i}", 1)
    assert tracer.deferred >= 1
    deferred = list(config.journal_dir(home).glob("*.ctj"))
    assert len(deferred) >= tracer.deferred
    tracer.close()  # stores the deferred runs from their journals: none is left for a later recovery
    stored = {r.id for r in Store(config.store_path(home), project="tests").list_runs()}
    assert stored == {f"r{i}" for i in range(6)}
    assert recover() == [] and list(config.journal_dir(home).glob("*.ctj")) == []


def test_recovery_drops_a_finished_run_that_holds_nothing(home: Path) -> None:
    """A journal of a finished empty run (its process died before storing it) is deleted, not stored."""
    from codetracer.core.journal import Journal

    journal = Journal(config.journal_dir(home))
    journal.write("empty", ("run_started", "empty", "langchain", "route", {}, None, 1.0))
    journal.write("empty", ("run_finished", "empty", "unknown", None, {}, 2.0))
    journal.close("empty", delete=False)
    assert len(journals(home)) == 1
    assert recover() == [] and journals(home) == []


def test_a_run_that_holds_nothing_is_neither_kept_nor_stored(home: Path) -> None:
    """Every ``invoke`` of a graph is a run; a unit suite's state-machine calls hold no step, error or message."""
    tracer = Tracer(load_plugins=False)
    ev = tracer.events
    ev.run_started("empty", "langchain", task="route")
    ev.run_finished("empty", "unknown")
    ev.run_started("failed-early", "langchain", task="route")
    ev.run_finished("failed-early", "failed")  # nothing ran, but it failed: a failure to look at
    ev.run_started("raised", "langchain")
    ev.error("raised", "ValueError: bad state", kind="ValueError")
    ev.run_finished("raised", "unknown")
    trace_steps(tracer, "worked", 1)
    assert tracer.flush()
    tracer.close()
    assert [r.id for r in tracer.runs] == ["failed-early", "raised", "worked"] and tracer.empty_runs == 1
    stored = {r.id for r in Store(config.store_path(home), project="tests").list_runs()}
    assert stored == {"failed-early", "raised", "worked"}
    assert list(config.journal_dir(home).glob("*.ctj")) == [], "the empty run's journal is deleted too"

    keeping = Tracer(persist=False, load_plugins=False, keep_empty=True)
    keeping.events.run_started("empty", "langchain")
    keeping.events.run_finished("empty", "unknown")
    assert keeping.flush() and [r.id for r in keeping.runs] == ["empty"] and keeping.empty_runs == 0
    keeping.close()


def test_writer_queue_bounded_by_bytes_defers_runs_to_recovery(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The queue holds many runs but bounds the bytes their events take: past it, runs wait in their journals."""
    slow_store(monkeypatch)
    tracer = Tracer(queue_bytes=1)  # a single run's journal is over it: only an empty queue takes one
    for i in range(6):
        trace_steps(tracer, f"r{i}", 2)
    tracer.close()
    assert tracer.deferred >= 1
    stored = {r.id for r in Store(config.store_path(home), project="tests").list_runs()}
    recovered = {r.id for r in recover()}
    assert stored | recovered == {f"r{i}" for i in range(6)} and not stored & recovered


def test_runs_finishing_close_together_are_stored_in_one_transaction(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from codetracer.core import tracer as tracer_module

    batches: list[int] = []
    original = Store.save_runs

    def counted(self: Store, runs):
        runs = list(runs)
        batches.append(len(runs))
        return original(self, runs)

    monkeypatch.setattr(Store, "save_runs", counted)
    monkeypatch.setattr(tracer_module, "SAVE_INTERVAL", 0.5)
    tracer = Tracer()
    for i in range(10):
        trace_steps(tracer, f"r{i}", 2)
    assert tracer.flush()
    tracer.close()
    assert sum(batches) == 10 and len(batches) <= 2, batches  # the first alone at once, the rest gathered
    stored = Store(config.store_path(home), project="tests").list_runs()
    assert sorted(r.id for r in stored) == sorted(f"r{i}" for i in range(10))
    assert os.listdir(config.journal_dir(home)) == [], "stored runs leave no journal behind"


def test_settle_gives_the_trees_while_the_writer_goes_on_gathering_runs_for_one_transaction(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the pytest plugin waits for after each test: the trees in ``tracer.runs``, not the store. Waiting for the
    store after every run made one transaction per run."""
    from codetracer.core import tracer as tracer_module

    batches: list[list[str]] = []
    original = Store.save_runs

    def counted(self: Store, runs):
        runs = list(runs)
        batches.append([r.id for r in runs])
        return original(self, runs)

    monkeypatch.setattr(Store, "save_runs", counted)
    monkeypatch.setattr(tracer_module, "SAVE_INTERVAL", 5.0)  # a transaction at most every 5 s
    tracer = Tracer()
    trace_steps(tracer, "first", 1)
    assert tracer.flush()  # stored alone, at once
    for i in range(5):
        trace_steps(tracer, f"r{i}", 2)
        assert tracer.settle(timeout=4)  # well before the next transaction may start
        assert [r.id for r in tracer.runs][-1] == f"r{i}" and len(tracer.runs[-1].steps) == 2
    assert batches == [["first"]], "settle stores nothing itself"
    assert tracer.flush(timeout=4), "flush wakes the gathering writer instead of waiting out SAVE_INTERVAL"
    assert batches == [["first"], [f"r{i}" for i in range(5)]]
    tracer.close()


def test_failing_plugin_and_unwritable_journal_are_counted_not_raised(home: Path) -> None:
    class Broken:
        @hookimpl
        def codetracer_tool_call_finished(self, run_id, call_id, output, exit_code, is_error, timestamp):
            raise ValueError("exporter down")

    home.mkdir(parents=True)
    config.journal_dir(home).write_text("a file where the journal folder should be")
    tracer = Tracer()
    tracer.pm.register(Broken(), name="broken")
    trace_steps(tracer, "r", 3)
    tracer.close()
    run = tracer.runs[0]
    assert len(run.steps) == 3 and run.steps[2].calls[0].observation.text.text == "3"  # the builder still ran
    assert run.dropped_events > 0
    assert tracer.pm.failures.counts[("broken", "codetracer_tool_call_finished")] == 3

"""What a live tracer keeps in memory (``tracer.runs``): the newest runs, bounded by count and by size."""

from __future__ import annotations

from pathlib import Path

import pytest

from codetracer.core import config
from codetracer.core.recent import RecentRuns, run_size
from codetracer.core.store import Store
from codetracer.core.tracer import Tracer

OUTPUT = "x" * 29_999 + "\n"  # a 30 KB tool output


def trace_run(tracer: Tracer, name: str, steps: int = 20) -> None:
    """A finished run of ``steps`` turns, each a model call and a tool call answering with 30 KB."""
    ev = tracer.events
    ev.run_started(name, "demo", task=name)
    for i in range(steps):
        key = f"{name}-{i}"
        ev.step_started(name, key, thought="look again")
        ev.llm_call_started(name, key, f"{key}-llm", model="m", input_messages=i)
        ev.llm_call_finished(name, f"{key}-llm", response="run it")
        ev.tool_call_started(name, key, f"{key}-tool", "bash", arguments={"command": "cat big.log"}, command="cat")
        ev.tool_call_finished(name, f"{key}-tool", output=OUTPUT)
        ev.step_finished(name, key)
    ev.run_finished(name, "unknown", exit_status="finished")


def test_the_trees_in_memory_stay_under_the_size_bound_and_the_store_has_them_all(home: Path) -> None:
    tracer = Tracer(load_plugins=False, keep_bytes=3_000_000)
    try:
        for i in range(12):
            trace_run(tracer, f"run-{i}")
        assert tracer.flush()
        one = run_size(tracer.runs[-1])
        assert 600_000 < one < 1_000_000, "20 outputs of 30 KB, and the objects holding them"
        assert [r.id for r in tracer.runs] == [f"run-{i}" for i in range(12 - len(tracer.runs), 12)]
        assert len(tracer.runs) == 3_000_000 // one and tracer.runs.nbytes <= 3_000_000
        tracer.keep(runs=2)
        assert [r.id for r in tracer.runs] == ["run-10", "run-11"]
        tracer.keep(max_bytes=1)
        assert [r.id for r in tracer.runs] == ["run-11"], "the newest run stays, whatever its size"
        tracer.keep(runs=1000, max_bytes=None)
        trace_run(tracer, "run-12", steps=1)
        assert tracer.flush() and [r.id for r in tracer.runs] == ["run-11", "run-12"]
    finally:
        tracer.close()
    store = Store(config.store_path(home), project=config.project())
    try:
        assert len(store.list_runs()) == 13
    finally:
        store.close()


def test_the_list_stays_bounded_when_changed_by_list_methods() -> None:
    runs = RecentRuns(limit=3, max_bytes=None)
    tracer = Tracer(load_plugins=False, persist=False, keep_runs=3)
    try:
        for i in range(5):
            trace_run(tracer, f"r{i}", steps=1)
        assert tracer.flush()
        made = list(tracer.runs)
    finally:
        tracer.close()
    for run in made:
        runs.append(run)
    runs.clear()
    runs.extend(made)  # not through append: the sizes are worked out when needed
    runs.keep(max_bytes=run_size(made[-1]) * 2)
    assert [r.id for r in runs] == [r.id for r in made[-2:]]
    with pytest.raises(ValueError, match="at least"):
        runs.keep(runs=0)


def test_the_running_total_matches_the_sizes_through_appends_drops_and_list_methods() -> None:
    tracer = Tracer(load_plugins=False, persist=False, keep_runs=8)
    try:
        for i in range(8):
            trace_run(tracer, f"s{i}", steps=1 + i % 3)
        assert tracer.flush()
        made = list(tracer.runs)
    finally:
        tracer.close()
    sizes = [run_size(r) for r in made]
    runs = RecentRuns(limit=4, max_bytes=sizes[5] + sizes[6] + sizes[7])
    for run in made:
        runs.append(run)
        assert runs._total == runs.nbytes == sum(run_size(r) for r in runs)
    assert [r.id for r in runs] == [r.id for r in made[5:]], "the size bound dropped the oldest first"
    runs.pop(0)  # a list method: the next append counts again
    runs.append(made[0])
    assert [r.id for r in runs] == [r.id for r in (made[6], made[7], made[0])]
    assert runs._total == sum(run_size(r) for r in runs)
    runs.append(made[0])  # the same run twice is counted twice
    assert runs.nbytes == sum(run_size(r) for r in runs) and len(runs) <= 4

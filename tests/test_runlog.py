"""The live sink (RunLog) and framework records: trees built later are the trees the builder builds on the spot."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from codetracer.adapters.mini_swe_agent.artifacts import MiniSweAgentExtractor
from codetracer.adapters.mini_swe_agent.live import MAPPER as MINI_MAPPER
from codetracer.core import config
from codetracer.core.builder import to_run
from codetracer.core.derived import derive
from codetracer.core.events import Events
from codetracer.core.extract import ExtractorRegistry, build_runs, load_json
from codetracer.core.journal import read_ops
from codetracer.core.model import Run
from codetracer.core.runlog import Op, RunLog, build_tree
from codetracer.core.tracer import Tracer, recover
from codetracer.hooks.manager import PluginManager
from codetracer.hooks.specs import hookimpl


def through_runlog(path: Path, extractor: Any) -> list[Run]:
    """The runs of an artifact traced as a live tracer traces: events kept per run, trees built afterwards."""
    finished: list[tuple[str, list[Op], float | None]] = []
    pm = PluginManager()
    pm.register(RunLog(lambda *item: finished.append(item)), name="tree-builder")
    extractor.extract(path, Events(pm.relay))
    return [derive(to_run(build_tree(ops, closed_at=closed_at))) for _, ops, closed_at in finished]


@pytest.mark.parametrize(
    "artifact",
    [
        "mini-swe-agent/example_toolcall.traj.json",
        "mini-swe-agent/repo_tests_local.traj.json",
        "swe-agent/sweagent-1.1-fc-demo-1.traj",
        "swe-agent/demo_marshmallow-1867_default_v07.traj",
        "openhands/sdk",
        "atif/chess-best-move__wpPQ5MU",
    ],
)
def test_trees_built_from_kept_events_equal_trees_built_on_the_spot(shared: Path, artifact: str) -> None:
    path = shared / "fixtures" / artifact
    if path.is_dir() and artifact == "openhands/sdk":
        path = next(p.parent for p in sorted(path.rglob("base_state.json")))
    registry = ExtractorRegistry.from_plugins()
    extractor = next(e for e in registry.extractors if e.detect(_candidate(path)) >= 0.5)
    direct = build_runs(path, extractor)
    later = through_runlog(path, extractor)
    assert direct, "the fixture holds at least one run"
    assert [r.model_dump() for r in later] == [r.model_dump() for r in direct]


def _candidate(path: Path) -> Any:
    from codetracer.core.extract import Candidate

    return Candidate(path, path.is_dir())


def mini_messages(shared: Path) -> list[dict[str, Any]]:
    return load_json(shared / "fixtures" / "mini-swe-agent" / "example_toolcall.traj.json")["messages"]


def record_run(events: Events, run_id: str, messages: list[dict[str, Any]], *, finish: bool) -> None:
    events.run_started(run_id, "mini-swe-agent", task="t", timestamp=1.0)
    events.record(run_id, MINI_MAPPER, {"settings": {"model": "m", "llm_calls": False}}, timestamp=1.0)
    for msg in messages:
        events.record(run_id, MINI_MAPPER, msg, timestamp=2.0)
    if finish:
        events.run_finished(run_id, "failed", timestamp=3.0)


def test_recorded_messages_map_to_the_trajectory_tree(shared: Path, home: Path) -> None:
    messages = mini_messages(shared)
    fixture = shared / "fixtures" / "mini-swe-agent" / "example_toolcall.traj.json"
    expected = build_runs(fixture, MiniSweAgentExtractor())
    tracer = Tracer(load_plugins=False)
    record_run(tracer.events, "rec", messages, finish=False)
    open_tree = tracer.builder.snapshot("rec")  # an open run's records are mapped on demand
    assert open_tree is not None and len(open_tree.steps) == len(expected[0].steps)
    tracer.events.run_finished("rec", "failed", timestamp=3.0)
    assert tracer.flush()
    (run,) = tracer.runs
    tracer.close()
    assert [(s.thought, [c.action for c in s.calls]) for s in run.steps] == [
        (s.thought, [c.action for c in s.calls]) for s in expected[0].steps
    ]
    assert [c.observation for s in run.steps for c in s.calls] == [
        c.observation for s in expected[0].steps for c in s.calls
    ]
    assert all(step.complete for step in run.steps), "the mapper closed the last step before the run ended"


def test_a_mapper_that_fails_is_an_error_of_the_run_not_a_lost_run(shared: Path) -> None:
    finished: list[tuple[str, list[Op], float | None]] = []
    pm = PluginManager()
    pm.register(RunLog(lambda *item: finished.append(item)), name="tree-builder")
    events = Events(pm.relay)
    events.run_started("r", "demo", timestamp=1.0)
    events.step_started("r", "1", thought="kept", timestamp=1.0)
    events.record("r", "codetracer.no_such_module:Mapper", {"x": 1}, timestamp=1.5)
    events.record("r", MINI_MAPPER, {"role": "assistant", "content": 42}, timestamp=1.6)  # content: not text
    events.run_finished("r", "failed", timestamp=2.0)
    run = to_run(build_tree(finished[0][1]))
    assert run.steps[0].thought is not None and run.steps[0].thought.text == "kept"
    errors = [e.error for e in run.errors]
    assert any("cannot be loaded" in e and "no_such_module" in e for e in errors), errors
    assert any(MINI_MAPPER in e and "failed" in e for e in errors), errors


def test_killed_process_recovers_its_recorded_messages_through_their_mapper(shared: Path, home: Path) -> None:
    fixture = shared / "fixtures" / "mini-swe-agent" / "example_toolcall.traj.json"
    script = textwrap.dedent(
        f"""
        import json, os, signal
        from codetracer.core.tracer import Tracer
        from codetracer.adapters.mini_swe_agent.live import MAPPER
        t = Tracer(load_plugins=False)
        e = t.events
        e.run_started("killed", "mini-swe-agent", task="t", timestamp=1.0)
        for msg in json.load(open({str(fixture)!r}))["messages"]:
            e.record("killed", MAPPER, msg, timestamp=2.0)
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], env=os.environ.copy())
    assert proc.returncode == -9
    (run,) = recover()
    expected = build_runs(fixture, MiniSweAgentExtractor())[0]
    assert not run.complete and len(run.steps) == len(expected.steps)
    assert [c.action.command for s in run.steps for c in s.calls if c.action] == [
        c.action.command for s in expected.steps for c in s.calls if c.action
    ]
    assert list(config.journal_dir(home).glob("*.ctj")) == []


def test_huge_outputs_go_to_blobs_at_once_and_the_tree_keeps_both_ends(home: Path) -> None:
    big = "head of the log\n" + "x" * 300_000 + "\nTraceback: the real error at the end"
    tracer = Tracer(load_plugins=False)
    ev = tracer.events
    ev.run_started("big", "demo", timestamp=1.0)
    ev.step_started("big", "1", timestamp=1.0)
    ev.tool_call_started("big", "1", "c1", "bash", command="make test", timestamp=1.0)
    ev.tool_call_finished("big", "c1", output=big, exit_code=2, timestamp=2.0)
    journal_path = tracer.journal.path_of("big") if tracer.journal is not None else None
    assert journal_path is not None
    assert len(journal_path.read_bytes().rstrip(b"\x00")) < 100_000, "the journal holds the elided text"
    kept = tracer.builder.snapshot("big")
    assert kept is not None
    ev.run_finished("big", "failed", timestamp=3.0)
    assert tracer.flush()
    (run,) = tracer.runs
    tracer.close()
    for tree in (kept, run):
        text = tree.steps[0].calls[0].observation.text
        assert text.size == len(big) and text.blob is not None
        assert text.text.startswith("head of the log") and text.text.endswith("the real error at the end")
    from codetracer.core.blobs import BlobStore

    assert BlobStore(config.blob_dir(home)).get(run.steps[0].calls[0].observation.text.blob) == big


def test_a_late_event_never_reopens_a_finished_run(home: Path) -> None:
    tracer = Tracer(load_plugins=False)
    ev = tracer.events
    ev.run_started("done", "demo", timestamp=1.0)
    ev.step_started("done", "1", thought="the real work", timestamp=1.0)
    ev.run_finished("done", "solved", timestamp=2.0)
    ev.tool_call_finished("done", "c9", output="a worker thread's straggler", timestamp=3.0)
    ev.run_finished("done", "failed", timestamp=3.0)
    assert tracer.builder.open_run_ids() == [] and tracer.builder.late_events == 2
    assert tracer.flush()
    from codetracer.core.store import Store

    stored = Store(config.store_path(home), project="tests").load_run("done")
    assert stored.outcome.value == "solved" and stored.complete and len(stored.steps) == 1
    ev.run_started("done", "demo", timestamp=5.0)  # a run id started again on purpose is a new run
    ev.run_finished("done", "failed", timestamp=6.0)
    assert tracer.flush() and [r.outcome.value for r in tracer.runs] == ["solved", "failed"]
    tracer.close()


class RecordWatcher:
    """A third-party plugin that wants every framework record."""

    def __init__(self) -> None:
        self.seen: list[Any] = []

    @hookimpl
    def codetracer_record(self, run_id: str, mapper: str, payload: Any, timestamp: float | None) -> None:
        self.seen.append(payload)


def test_a_recorder_keeps_and_journals_what_record_would(shared: Path, home: Path) -> None:
    messages = mini_messages(shared)
    tracer = Tracer(load_plugins=False)
    record_run(tracer.events, "by-hook", messages, finish=False)
    tracer.events.run_started("direct", "mini-swe-agent", task="t", timestamp=1.0)
    record = tracer.events.recorder("direct", MINI_MAPPER)
    assert tracer.events.recorder("never-started", MINI_MAPPER) is not record  # no run: the hook's path
    record({"settings": {"model": "m", "llm_calls": False}}, 1.0)
    for msg in messages:
        record(msg, 2.0)
    assert tracer.journal is not None
    journals = {run: tracer.journal.path_of(run) for run in ("by-hook", "direct")}
    lines = {run: read_ops(path)[0] for run, path in journals.items() if path is not None}
    assert [op[2:] for op in lines["direct"]] == [op[2:] for op in lines["by-hook"]]
    assert len(lines["direct"]) == len(messages) + 2
    snapshots = [tracer.builder.snapshot(run) for run in ("by-hook", "direct")]
    assert snapshots[0] is not None and snapshots[1] is not None
    assert snapshots[0].model_dump(exclude={"id"}) == snapshots[1].model_dump(exclude={"id"})
    tracer.close()


def test_a_plugin_registered_mid_run_gets_the_recorders_later_records(home: Path) -> None:
    tracer = Tracer(load_plugins=False)
    tracer.events.run_started("r", "demo", timestamp=1.0)
    record = tracer.events.recorder("r", MINI_MAPPER)
    record({"role": "user", "content": "before the plugin"}, 1.0)
    watcher = RecordWatcher()
    tracer.pm.register(watcher, name="watcher")
    record({"role": "user", "content": "after the plugin"}, 2.0)
    tracer.events.run_finished("r", "failed", timestamp=3.0)
    assert tracer.flush()
    tracer.close()
    assert watcher.seen == [{"role": "user", "content": "after the plugin"}]
    (run,) = tracer.runs
    assert run.dropped_events == 0 and tracer.builder.late_events == 0


def test_a_recorder_goes_through_the_hook_while_a_plugin_wants_records(home: Path) -> None:
    tracer = Tracer(load_plugins=False)
    watcher = RecordWatcher()
    tracer.pm.register(watcher, name="watcher")
    tracer.events.run_started("r", "demo", timestamp=1.0)
    tracer.events.recorder("r", MINI_MAPPER)({"role": "user", "content": "seen by both"}, 1.0)
    ops = tracer.builder._open["r"]
    tracer.close()
    assert watcher.seen == [{"role": "user", "content": "seen by both"}] and ops[-1][3] == watcher.seen[0]


def test_a_recorder_used_after_its_run_finished_reopens_nothing(home: Path) -> None:
    tracer = Tracer(load_plugins=False)
    tracer.events.run_started("r", "demo", timestamp=1.0)
    record = tracer.events.recorder("r", MINI_MAPPER)
    tracer.events.run_finished("r", "failed", timestamp=2.0)
    record({"role": "user", "content": "a straggler"}, 3.0)
    assert tracer.builder.open_run_ids() == [] and tracer.builder.late_events == 1
    tracer.close()


def test_a_recorder_that_fails_is_counted_and_never_raises(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tracer = Tracer(load_plugins=False)
    tracer.events.run_started("r", "demo", timestamp=1.0)
    ops = tracer.builder._open["r"]

    def broken(op: Op) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(ops, "write", broken)
    tracer.events.recorder("r", MINI_MAPPER)({"role": "user", "content": "x"}, 1.0)
    assert tracer.pm.failures.counts == {("tree-builder", "codetracer_record"): 1}
    tracer.close()

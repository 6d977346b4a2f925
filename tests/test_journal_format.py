"""The journal's line format: every trace event reads back with the names and values it was written with."""

from __future__ import annotations

import inspect
import threading
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from codetracer.core import journal as journal_module
from codetracer.core.journal import FIELDS, Journal, read_events
from codetracer.core.runlog import RunLog
from codetracer.core.tracer import Tracer
from codetracer.hooks import specs


def journaled(tmp_path: Path) -> tuple[Journal, RunLog]:
    """A journal and the live sink that writes every event to it (as a tracer wires them)."""
    journal = Journal(tmp_path)
    return journal, RunLog(lambda *finished: None, journal)


def run_threads(append: Any, n_threads: int) -> None:
    """Run ``append(thread)`` in ``n_threads`` threads at once and wait for them."""
    threads = [threading.Thread(target=append, args=(t,)) for t in range(n_threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def read_back(journal: Journal) -> tuple[list[str], Path]:
    """Close run ``"r"``'s journal and read it: the step keys of its events (no line may be torn), and its path."""
    path = journal.path_of("r")
    assert path is not None
    journal.close("r", delete=False)
    events, skipped = read_events(path)
    assert skipped == 0
    return [e["step_key"] for e in events], path


def test_every_trace_event_round_trips_through_a_journal_line(tmp_path: Path) -> None:
    journal, sink = journaled(tmp_path)
    written = []
    for event, names in FIELDS.items():
        assert names == tuple(inspect.signature(getattr(specs, f"codetracer_{event}")).parameters)
        if event == "run_finished":
            continue  # it hands the run on and stops its journal; the lines before it are what is checked here
        values = {name: f"{event}.{name}" for name in names} | {"run_id": "r"}
        getattr(sink, f"codetracer_{event}")(**values)
        written.append({"event": event, **values})
    path = journal.path_of("r")
    assert path is not None
    journal.close("r", delete=False)
    assert read_events(path) == (written, 0)


def test_values_json_cannot_key_are_kept_and_old_object_lines_still_read(tmp_path: Path) -> None:
    journal, sink = journaled(tmp_path)
    sink.codetracer_run_started("r", "demo", None, {1: "int key", "s": {2, 3}}, None, 1.5)
    path = journal.path_of("r")
    assert path is not None
    journal.close("r", delete=False)
    old_line = orjson.dumps({"event": "step_finished", "run_id": "r", "step_key": "1", "timestamp": None})
    with open(path, "ab") as fh:
        fh.write(old_line + b"\n" + b'["step_finished", "r"]\n')  # the last line lacks fields: skipped, counted
    events, skipped = read_events(path)
    assert events[0]["metadata"] == {"1": "int key", "s": [2, 3]}
    assert events[1] == {"event": "step_finished", "run_id": "r", "step_key": "1", "timestamp": None}
    assert (len(events), skipped, journal.write_failures) == (2, 1, 0)


@pytest.mark.parametrize("gil", [True, False], ids=["lock-free appends (GIL)", "locked appends (free-threaded)"])
def test_threads_appending_past_the_reserved_size_lose_no_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, gil: bool
) -> None:
    monkeypatch.setattr(journal_module, "_GIL", gil)
    journal, sink = journaled(tmp_path)

    def append(thread: int) -> None:
        for i in range(2000):
            sink.codetracer_step_finished("r", f"{thread}-{i}", float(i))

    run_threads(append, 4)
    keys, path = read_back(journal)
    assert sorted(keys) == sorted(f"{t}-{i}" for t in range(4) for i in range(2000))
    assert path.stat().st_size > 256 * 1024  # the file grew beyond its first reservation


def test_growing_ahead_while_threads_append_loses_no_line_and_spares_the_agents_resize(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The writer thread doubles a half-full journal (and faults its pages in) while agents append: every line
    survives, and the appends never had to grow the file themselves."""
    journal, sink = journaled(tmp_path)
    sink.codetracer_step_finished("r", "first", 0.0)
    reactive = []
    original = journal_module._RunJournal._resize

    def counted(self: Any, size: int) -> None:
        reactive.append(size)
        original(self, size)

    monkeypatch.setattr(journal_module._RunJournal, "_resize", counted)
    done = threading.Event()

    def grower() -> None:
        while not done.is_set():
            journal.grow_ahead()

    def append(thread: int) -> None:
        for i in range(3000):
            sink.codetracer_step_finished("r", f"{thread}-{i}-" + "x" * 200, float(i))
            if i % 50 == 0:
                time.sleep(0.001)  # an agent does other work between events: the writer gets its turn

    background = threading.Thread(target=grower)
    background.start()
    try:
        run_threads(append, 2)
    finally:
        done.set()
        background.join()
    keys, path = read_back(journal)
    assert sorted(keys) == sorted(["first"] + [f"{t}-{i}-" + "x" * 200 for t in range(2) for i in range(3000)])
    assert path.stat().st_size > 1024 * 1024, "the file grew well past its first reservation"
    assert reactive == [], "the appends never grew the file themselves"


def test_the_tracers_writer_grows_a_live_runs_journal_before_it_is_full(tmp_path: Path) -> None:
    tracer = Tracer(tmp_path / "home", load_plugins=False)
    try:
        tracer.events.run_started("big", "test", task="fill the journal")
        files = tracer.journal._files  # type: ignore[union-attr]
        first = len(files["big"].mm)
        for _ in range(3):  # past half of the first reservation, well short of its end
            tracer.events.message("big", "tool", "y" * (first // 5))
        deadline = time.monotonic() + 5
        while len(files["big"].mm) == first and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(files["big"].mm) == 2 * first, "grown by the writer thread, with no append waiting for it"
        tracer.events.run_finished("big", "unknown")
        assert tracer.flush()
        (run,) = tracer.runs
        assert run.id == "big" and len(run.messages) == 3
    finally:
        tracer.close()


def test_a_stored_runs_journal_is_reused_empty_and_its_old_writer_cannot_reach_the_next_run(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    first = journal.writer("a")
    first(("step_finished", "a", "1", 1.0))
    path = journal.path_of("a")
    assert path is not None
    journal.close("a", delete=True)  # stored: the file is kept for the next run, emptied
    assert path.exists() and journal_module.read_ops(path) == ([], 0)
    journal._spares[:] = [s for s in journal._spares if s.path == path]  # the next run gets this very file
    second = journal.writer("b")
    assert journal.path_of("b") == path
    second(("step_finished", "b", "2", 2.0))
    first(("step_finished", "a", "late", 3.0))  # a straggler still holding run a's appender
    assert journal.failures_of("a") == 1, "counted as a write failure of run a"
    journal.close("b", delete=False)
    ops, skipped = journal_module.read_ops(path)
    assert ops == [("step_finished", "b", "2", 2.0)] and skipped == 0


def test_a_journal_emptied_for_reuse_reads_as_empty_whatever_follows_its_first_byte(tmp_path: Path) -> None:
    """A process killed while a stored run's journal is being emptied leaves a NUL first byte and old lines after
    it: recovery must not rebuild (and store over the good copy) a part of that run."""
    path = tmp_path / "x.ctj"
    path.write_bytes(b"\x00" + b'"step_finished","a","1",1.0]\n["step_finished","a","2",2.0]\n' + bytes(100))
    assert journal_module.read_ops(path) == ([], 0)


def test_a_new_journal_deleted_by_a_recovering_process_before_its_lock_is_not_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between creating a journal file and locking it, a `codetracer ls` elsewhere may take it for an empty orphan,
    delete it and let go of it. Used anyway, its runs would be written to a file nobody can find after a kill (with
    reuse, run after run: seen as lost runs in tests/test_journal_reuse_kill.py)."""
    real_flock = journal_module.fcntl.flock
    deleted: list[str] = []

    def recovered_first(fd: int, operation: int) -> None:
        if not deleted:  # the first file: the recovering process deletes it just before our lock
            (name,) = [p.name for p in tmp_path.iterdir()]
            (tmp_path / name).unlink()
            deleted.append(name)
        real_flock(fd, operation)

    monkeypatch.setattr(journal_module.fcntl, "flock", recovered_first)
    journal = Journal(tmp_path)
    write = journal.writer("a")
    write(("step_finished", "a", "1", 1.0))
    path = journal.path_of("a")
    assert deleted and path is not None and path.name != deleted[0] and path.exists()
    journal.close("a", delete=False)
    assert journal_module.read_ops(path)[0] == [("step_finished", "a", "1", 1.0)]

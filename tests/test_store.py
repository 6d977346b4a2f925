"""The store: round trips, filters, search, memory per project, concurrency, and bad files.

The tests that take ``store_backend`` hold for every backend: here they run on SQLite, and ``integration/postgres``
runs the same functions on a real PostgreSQL server too (its ``store_backend`` fixture is parametrized over both).
The others are about SQLite's own file (WAL, locks, a full disk, corrupt files, FTS5)."""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
from pathlib import Path

import pytest

from codetracer.core.errors import NotFound, StoreError
from codetracer.core.model import Action, Call, Diagnosis, Observation, Outcome, Run, Step, Text
from codetracer.core.store import SCHEMA_VERSION, Store
from codetracer.core.store_open import open_store
from store_backends import SqliteBackend

BACKEND_TESTS = [
    "test_save_load_is_lossless_and_listing_filters",
    "test_search_steps_by_text_and_id_prefix",
    "test_projects_keep_runs_and_failure_memory_apart",
    "test_concurrent_writers_threads_and_processes",
    "test_many_connections_opening_one_fresh_store_all_succeed",
    "test_replaced_and_deleted_runs_leave_the_search_index",
    "test_listing_pages_through_runs_newest_first",
    "test_search_ranks_the_newest_matches_only",
]
"""The tests of this module that ``integration/postgres`` runs on both backends."""


@pytest.fixture
def store_backend(tmp_path: Path) -> SqliteBackend:
    return SqliteBackend(tmp_path)


def make_run(run_id: str, framework: str = "demo", outcome: str = "failed", started: float = 100.0, n: int = 3) -> Run:
    steps = []
    for i in range(1, n + 1):
        command = "pytest -q" if i == n else f"grep -rn needle{i} src"
        obs = Observation(
            text=Text(text=f"output {i} ModuleNotFoundError" if i == n else f"out {i}", size=9),
            exit_code=1 if i == n else 0,
        )
        call = Call(id=f"c{i}", kind="tool", name="bash", action=Action(tool="bash", command=command), observation=obs)
        steps.append(Step(id=i, key=str(i), calls=[call]))
    return Run(id=run_id, framework=framework, outcome=Outcome(outcome), started_at=started, steps=steps, task="fix it")


def test_save_load_is_lossless_and_listing_filters(store_backend: SqliteBackend) -> None:
    store = store_backend.open()
    runs = [
        make_run("a", "openhands", "failed", 100.0),
        make_run("b", "openhands", "solved", 200.0),
        make_run("c", "mini-swe-agent", "failed", 300.0),
    ]
    runs[0].diagnosis = Diagnosis(localizer="signals", onset_step=2, chain=[2, 3])
    store.save_runs(runs)
    assert store.load_run("a") == runs[0]
    assert [r.id for r in store.list_runs()] == ["c", "b", "a"]
    assert [r.id for r in store.list_runs(framework="openhands")] == ["b", "a"]
    assert [r.id for r in store.list_runs(outcome="failed")] == ["c", "a"]
    assert [r.id for r in store.list_runs(since=150.0)] == ["c", "b"]
    assert [r.id for r in store.list_runs(until=150.0)] == ["a"]
    assert store.list_runs(framework="openhands")[1].onset_step == 2
    assert store.diagnoses("a")[0].chain == [2, 3]
    # saving again replaces, never duplicates
    store.save_run(runs[0])
    assert len(store.list_runs()) == 3


def test_search_steps_by_text_and_id_prefix(store_backend: SqliteBackend) -> None:
    store = store_backend.open()
    store.save_runs([make_run("mini:abc:1"), make_run("open:def:2", n=5)])
    hits = store.search_steps("ModuleNotFoundError")
    assert {(h.run_id, h.step_id) for h in hits} == {("mini:abc:1", 3), ("open:def:2", 5)}
    assert [(h.run_id, h.step_id) for h in store.search_steps("needle4")] == [("open:def:2", 4)]
    assert store.load_run("open:d").id == "open:def:2"
    with pytest.raises(NotFound):
        store.load_run("zzz")
    store.save_run(make_run("open:dxx:3"))
    with pytest.raises(NotFound, match="ambiguous"):
        store.load_run("open:d")


def test_projects_keep_runs_and_failure_memory_apart(store_backend: SqliteBackend) -> None:
    alpha, beta = store_backend.open(project="alpha"), store_backend.open(project="beta")
    alpha.save_run(make_run("a"))
    for _ in range(3):
        alpha.remember_pattern(framework="openhands", task_kind="swe", signature="edit-before-read", evidence="e")
    alpha.remember_pattern(framework="openhands", task_kind="swe", signature="no-tests", evidence="e", confirmed=True)
    assert [r.id for r in beta.list_runs()] == []
    assert beta.patterns(framework="openhands") == []
    patterns = alpha.patterns(framework="openhands", task_kind="swe")
    assert [(p.signature, p.seen, p.confirmed) for p in patterns] == [
        ("no-tests", 1, True),
        ("edit-before-read", 3, False),
    ]


def test_schema_is_versioned(tmp_path: Path) -> None:
    path = tmp_path / "ct.db"
    Store(path)
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="newer than this codetracer"):
        Store(path)


def test_corrupt_store_is_reported_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "ct.db"
    junk = b"this is not sqlite" * 500
    path.write_bytes(junk)
    with pytest.raises(StoreError, match="not a readable codetracer database"):
        Store(path)
    assert path.read_bytes() == junk


def test_locked_store_gives_a_clear_error_and_loses_nothing(tmp_path: Path) -> None:
    path = tmp_path / "ct.db"
    store = Store(path, timeout=0.2)
    store.save_run(make_run("kept"))
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StoreError, match="locked"):
            Store(path, timeout=0.2).save_run(make_run("new"))
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert Store(path).load_run("kept").id == "kept"


def test_full_disk_is_reported_and_existing_runs_survive(tmp_path: Path) -> None:
    path = tmp_path / "ct.db"
    store = Store(path)
    store.save_run(make_run("kept"))
    conn = store._connect()
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count={pages + 1}")  # the file may not grow: SQLITE_FULL
    with pytest.raises(StoreError, match="full"):
        store.save_runs([make_run(f"big{i}", n=300) for i in range(20)])
    assert Store(path).load_run("kept") == make_run("kept")


def _write_runs(location: str, worker: int, count: int) -> None:
    store = open_store(location, project="default")
    for i in range(count):
        store.save_run(make_run(f"p{worker}-{i}", n=4))


def test_concurrent_writers_threads_and_processes(store_backend: SqliteBackend) -> None:
    location = store_backend.location()
    store_backend.open()
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_write_runs, args=(location, w, 15)) for w in range(3)]
    threads = [threading.Thread(target=_write_runs, args=(location, 10 + w, 15)) for w in range(3)]
    for worker in procs + threads:
        worker.start()
    for worker in procs + threads:
        worker.join(60)
    assert all(p.exitcode == 0 for p in procs)
    store = store_backend.open()
    assert len(store.list_runs(limit=1000)) == 90
    assert store.load_run("p2-14").steps[3].calls[0].action.command == "pytest -q"


def test_many_connections_opening_one_fresh_store_all_succeed(store_backend: SqliteBackend) -> None:
    """SQLite answers the switch to WAL with an immediate SQLITE_BUSY while another connection creates the schema.

    Two xdist workers opening the same new store used to lose one worker's first runs to that error. (PostgreSQL:
    four connections creating the schema of one new database at once.)
    """
    failures: list[BaseException] = []
    for trial in range(60 if store_backend.name == "sqlite" else 20):
        location = store_backend.location(f"fresh{trial}")
        barrier = threading.Barrier(4)

        def open_and_write(worker: int, location: str = location, barrier: threading.Barrier = barrier) -> None:
            barrier.wait()
            try:
                open_store(location, project="default").save_run(make_run(f"w{worker}"))
            except BaseException as exc:  # noqa: BLE001 - collected and asserted below
                failures.append(exc)

        threads = [threading.Thread(target=open_and_write, args=(w,)) for w in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        stored = open_store(location, project="default").list_runs()
        assert sorted(r.id for r in stored) == [f"w{w}" for w in range(4)], failures
    assert failures == []


def test_replaced_and_deleted_runs_leave_the_search_index(store_backend: SqliteBackend) -> None:
    store = store_backend.open()
    first = make_run("r1", n=4)
    store.save_runs([first, make_run("r2", n=2)])
    assert {h.run_id for h in store.search_steps("needle3")} == {"r1"}
    store.save_runs([make_run("r1", n=2)])  # the same run again, shorter: its old steps 3 and 4 are gone
    assert store.search_steps("needle3") == []
    assert {(h.run_id, h.step_id) for h in store.search_steps("ModuleNotFoundError")} == {("r1", 2), ("r2", 2)}
    store.delete_run("r1")
    assert [(h.run_id, h.step_id) for h in store.search_steps("ModuleNotFoundError")] == [("r2", 2)]
    assert store.query("SELECT COUNT(*) AS n FROM steps")[0]["n"] == 2
    if store_backend.name == "sqlite":
        conn = sqlite3.connect(store_backend.location())
        conn.execute("INSERT INTO steps_fts (steps_fts) VALUES ('integrity-check')")  # raises if index and rows differ


def test_listing_pages_through_runs_newest_first(store_backend: SqliteBackend) -> None:
    store = store_backend.open()
    store.save_runs([make_run(f"run-{i:02}", started=float(i)) for i in range(25)])
    pages = [[r.id for r in store.list_runs(limit=10, offset=offset)] for offset in (0, 10, 20)]
    assert [len(p) for p in pages] == [10, 10, 5]
    assert [run_id for page in pages for run_id in page] == [f"run-{i:02}" for i in reversed(range(25))]


V1_FTS = "CREATE VIRTUAL TABLE IF NOT EXISTS steps_fts USING fts5(text, run_id UNINDEXED, step_id UNINDEXED)"


def test_a_version_1_store_is_migrated_with_its_runs_and_search(tmp_path: Path) -> None:
    from codetracer.core.store import MIGRATIONS

    path = tmp_path / "ct.db"
    conn = sqlite3.connect(path, isolation_level=None)
    for statement in MIGRATIONS[1].split(";"):
        if statement.strip():
            conn.execute(statement)
    conn.execute(V1_FTS)
    conn.execute("PRAGMA user_version=1")
    # a run as version 1 wrote it: its tree, one step row and the step's text in the index's own copy
    run = make_run("old", n=1)
    tree = __import__("zlib").compress(run.to_json().encode())
    conn.execute(
        "INSERT INTO runs VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        ("old", "default", "demo", "fix it", "failed", None, None, 100.0, None, 1, 1, 1, 0, None, None, 1.0, tree),
    )
    conn.execute("INSERT INTO steps VALUES ('old', 1, NULL, NULL, 'bash', 'pytest -q', 1, 'pytest needle1 failed')")
    conn.execute("INSERT INTO steps_fts VALUES ('pytest needle1 failed', 'old', 1)")
    conn.close()

    store = Store(path)
    assert store.load_run("old") == run
    assert [(h.run_id, h.step_id) for h in store.search_steps("needle1")] == [("old", 1)]
    store.save_runs([make_run("new", n=2, started=200.0)])
    assert [r.id for r in store.list_runs()] == ["new", "old"]
    assert {h.run_id for h in store.search_steps("needle1")} == {"old", "new"}
    check = sqlite3.connect(path)
    assert check.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    check.execute("INSERT INTO steps_fts (steps_fts) VALUES ('integrity-check')")


def test_search_ranks_the_newest_matches_only(store_backend: SqliteBackend, monkeypatch: pytest.MonkeyPatch) -> None:
    """A common word in a large store: the ranking looks at a window of the newest matching steps, not all."""
    import importlib

    store_module = importlib.import_module("codetracer.core.store_pg" if store_backend.name != "sqlite" else
                                           "codetracer.core.store")
    store = store_backend.open()
    for i in range(5):  # one transaction each: later runs' steps are newer in the index
        store.save_runs([make_run(f"r{i}", n=2)])
    assert {h.run_id for h in store.search_steps("ModuleNotFoundError")} == {f"r{i}" for i in range(5)}
    monkeypatch.setattr(store_module, "SEARCH_WINDOW", 2)
    assert {h.run_id for h in store.search_steps("ModuleNotFoundError")} == {"r3", "r4"}
    assert {h.run_id for h in store.search_steps("needle1")} == {"r3", "r4"}

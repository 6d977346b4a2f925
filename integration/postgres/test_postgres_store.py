"""The PostgreSQL store on a real server: its schema, search, errors, the CLI, and many writers.

What a team does: agents on several machines trace into one database; someone lists and searches meanwhile; the
server restarts or is unreachable for a while. Counted here: runs lost, runs stored twice, the agent's time with the
database down against its time with the database up, and every error a person sees (one line, no traceback).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from pgserver import PgServer, free_port

from codetracer.cli import main
from codetracer.core import store_pg
from codetracer.core.errors import StoreError
from codetracer.core.store_open import open_store
from codetracer.core.tracer import Tracer, recover
from test_store import make_run

REPO = Path(__file__).resolve().parents[2]


def count_runs(url: str, project: str = "tests") -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT COUNT(*) FROM runs WHERE project = %s", (project,)).fetchone()
        return int(row[0]) if row else 0


# -- the schema -----------------------------------------------------------------------------------------------------


def test_schema_is_versioned_and_a_newer_one_is_refused(pg_url: str) -> None:
    open_store(pg_url)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        assert conn.execute("SELECT version FROM schema_version").fetchall() == [(store_pg.PG_SCHEMA_VERSION,)]
        conn.execute("UPDATE schema_version SET version = version + 1")
    with pytest.raises(StoreError, match="newer than this codetracer"):
        open_store(pg_url)


def test_search_splits_words_as_sqlite_does_and_ranks_them(pg_url: str) -> None:
    store = open_store(pg_url, project="tests")
    run = make_run("r1", n=2)
    run.steps[0].calls[0].action.command = "sed -i 's/a/b/' calc.py && python -m pytest tests/test_calc.py"
    store.save_runs([run, make_run("r2", n=3)])
    assert [(h.run_id, h.step_id) for h in store.search_steps("calc")] == [("r1", 1)]
    assert [(h.run_id, h.step_id) for h in store.search_steps("calc.py")] == [("r1", 1)]
    assert [(h.run_id, h.step_id) for h in store.search_steps("test_calc")] == [("r1", 1)]
    hits = store.search_steps("modulenotfounderror output")
    assert {(h.run_id, h.step_id) for h in hits} == {("r1", 2), ("r2", 3)}
    assert all("[" in h.snippet and "]" in h.snippet for h in hits), "matches are marked as SQLite's snippets mark"
    assert store.search_steps("   ") == [] and store.search_steps("nowhere-to-be-found") == []


def test_a_run_saved_again_replaces_its_steps_and_diagnoses(pg_url: str) -> None:
    from codetracer.core.model import Diagnosis

    store = open_store(pg_url)
    run = make_run("r", n=4)
    run.diagnosis = Diagnosis(localizer="signals", onset_step=2)
    store.save_runs([run, run])  # twice in one batch: stored once
    assert store.query("SELECT COUNT(*) AS n FROM steps")[0]["n"] == 4
    shorter = make_run("r", n=2)
    store.save_run(shorter)
    assert store.load_run("r") == shorter and store.diagnoses("r") == []
    assert store.query("SELECT COUNT(*) AS n FROM steps WHERE run_id = ?", ["r"])[0]["n"] == 2


# -- errors a person sees ---------------------------------------------------------------------------------------------


def test_an_unreachable_server_is_one_line_that_hides_the_password(tmp_path: Path) -> None:
    url = f"postgresql://me:s3cret@127.0.0.1:{free_port()}/team"
    started = time.monotonic()
    with pytest.raises(StoreError) as caught:
        open_store(url)
    assert time.monotonic() - started < store_pg.CONNECT_TIMEOUT + 1
    text = str(caught.value)
    assert "cannot reach the PostgreSQL store postgresql://me@127.0.0.1:" in text and "/team" in text
    assert "s3cret" not in text and "\n" not in text

    env = {**os.environ, "CODETRACER_HOME": str(tmp_path / "home"), "CODETRACER_DEBUG": ""}
    for args in (["--store", url, "ls"], ["search", "x", "--store", url], ["memory", "ls", "--store", url]):
        done = subprocess.run([sys.executable, "-m", "codetracer.cli", *args], capture_output=True, text=True,
                              env=env, timeout=60)
        assert done.returncode == 2, done.stderr
        assert done.stderr.startswith("codetracer: error: cannot reach the PostgreSQL store"), done.stderr
        assert len(done.stderr.strip().splitlines()) == 1 and "s3cret" not in done.stderr


def test_without_psycopg_a_postgres_url_says_what_to_install(tmp_path: Path) -> None:
    blocker = tmp_path / "site"
    blocker.mkdir()
    (blocker / "psycopg.py").write_text("raise ImportError('psycopg is not installed here')\n")
    env = {**os.environ, "PYTHONPATH": str(blocker), "CODETRACER_HOME": str(tmp_path / "home"),
           "CODETRACER_STORE": "postgresql://u@127.0.0.1:1/x"}
    done = subprocess.run([sys.executable, "-m", "codetracer.cli", "ls"], capture_output=True, text=True, env=env,
                          timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "codetracer: error: a PostgreSQL store needs psycopg: pip install 'codetracer[postgres]' "
        "(or set CODETRACER_STORE to a path)"
    )


def test_sqlite_users_never_import_psycopg(tmp_path: Path) -> None:
    code = (
        "import sys, codetracer\n"
        "from codetracer.cli import main\n"
        "main(['ls'])\n"
        "from codetracer.core.tracer import Tracer\n"
        "t = Tracer(); t.close()\n"
        "assert 'psycopg' not in sys.modules, sorted(m for m in sys.modules if 'psycopg' in m)\n"
    )
    env = {**os.environ, "CODETRACER_HOME": str(tmp_path / "home")}
    env.pop("CODETRACER_STORE", None)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr


# -- the CLI on a PostgreSQL store ------------------------------------------------------------------------------------


def test_cli_analyze_ls_show_search_memory_on_postgres(
    pg_url: str, home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    example = REPO / "examples" / "runs"
    assert main(["--store", pg_url, "analyze", str(example), "-q", "--remember", "-j", "1"]) in (0, 1)
    assert "CODETRACER_STORE" not in os.environ, "--store is undone after the command"
    capsys.readouterr()
    assert main(["ls", "--store", pg_url, "--json"]) == 0
    listed = [line for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert len(listed) == count_runs(pg_url) > 0
    assert main(["--store", pg_url, "search", "pytest", "--limit", "3"]) == 0
    assert "pytest" in capsys.readouterr().out.lower()
    assert main(["--store", pg_url, "memory", "ls"]) == 0
    assert "patching:" in capsys.readouterr().out
    os.environ["CODETRACER_STORE"] = pg_url
    try:
        stored = open_store(project="tests").list_runs()
        assert main(["show", stored[0].id[:-2]]) == 0  # a prefix is enough, on PostgreSQL as on SQLite
        assert stored[0].id in capsys.readouterr().out
        assert main(["show", stored[0].id.split(":")[0]]) == 2
        assert "ambiguous" in capsys.readouterr().err
    finally:
        del os.environ["CODETRACER_STORE"]


# -- cross-run memory shared by every writer ------------------------------------------------------------------------


def _remember(url: str, times: int) -> None:
    store = open_store(url, project="team")
    for _ in range(times):
        store.remember_pattern(framework="openhands", task_kind="swe", signature="edit-before-read", evidence="e")


def test_failure_memory_is_shared_by_every_writer(pg_url: str) -> None:
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_remember, args=(pg_url, 25)) for _ in range(4)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(120)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    (pattern,) = open_store(pg_url, project="team").patterns()
    assert pattern.seen == 100 and pattern.signature == "edit-before-read"
    assert open_store(pg_url, project="other").patterns() == []


# -- many writers, a server that stops, a server that is not there --------------------------------------------------

WRITER = textwrap.dedent(
    """
    import sys, time
    from codetracer.core.tracer import Tracer
    name, runs, pause = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    t = Tracer()
    e = t.events
    for r in range(runs):
        run = f"{name}-{r}"
        e.run_started(run, "demo", task=f"task {r}")
        for i in range(1, 4):
            e.step_started(run, str(i), thought=f"step {i}")
            e.tool_call_started(run, str(i), f"c{i}", "bash", command=f"echo {i}")
            e.tool_call_finished(run, f"c{i}", output=str(i), exit_code=0)
            e.step_finished(run, str(i))
        e.run_finished(run, "solved")
        time.sleep(pause)
    t.close()
    print("DEFERRED", t.deferred)
    """
)


def start_writers(url: str, home: Path, n: int, runs: int, pause: float) -> list[subprocess.Popen[str]]:
    env = {**os.environ, "CODETRACER_STORE": url, "CODETRACER_HOME": str(home), "CODETRACER_PROJECT": "tests"}
    return [
        subprocess.Popen([sys.executable, "-c", WRITER, f"w{k}", str(runs), str(pause)], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for k in range(n)
    ]


def finish(writers: list[subprocess.Popen[str]]) -> int:
    """Wait for the writers; the runs they deferred to their journals (the store was down or behind)."""
    deferred = 0
    for writer in writers:
        out, err = writer.communicate(timeout=300)
        assert writer.returncode == 0, err
        deferred += int(out.split()[-1])
    return deferred


def test_eight_processes_tracing_into_one_database_lose_no_run(pg_url: str, home: Path) -> None:
    writers = start_writers(pg_url, home, 8, 100, 0.0)
    finish(writers)
    assert count_runs(pg_url) == 800
    ids = {r["id"] for r in open_store(pg_url, project="tests").query("SELECT id FROM runs")}
    assert ids == {f"w{k}-{r}" for k in range(8) for r in range(100)}
    assert list(home.glob("journal/*.ctj")) == [], "every run reached the database from its journal"


@pytest.fixture
def own_server() -> Iterator[PgServer]:
    """A server of this test alone, which it may stop and start."""
    server = PgServer()
    server.start()
    try:
        yield server
    finally:
        server.destroy()


def test_a_server_stopped_mid_run_and_restarted_loses_nothing(own_server: PgServer, home: Path) -> None:
    url = own_server.create_database("team")
    open_store(url)  # the schema exists before the writers start; they connect on their first run
    writers = start_writers(url, home, 8, 150, 0.03)  # about 5 s of runs each
    deadline = time.monotonic() + 60
    while count_runs(url) < 100 and time.monotonic() < deadline:  # the writers are under way
        time.sleep(0.05)
    before = count_runs(url)
    own_server.stop("fast")  # every writer's connection drops, mid-transaction for some
    time.sleep(2.0)
    own_server.start()
    deferred = finish(writers)
    after = count_runs(url)
    print(f"stored before the stop: {before}; deferred to journals while it was down: {deferred}; after: {after}")
    assert 0 < before < 1200 and deferred > 0, "the stop fell in the middle of the writers' runs"
    assert after == 1200, "the runs of the stopped minutes arrived from the journals once the server was back"
    assert list(home.glob("journal/*.ctj")) == [] and recover(home) == []


AGENT_RUNS = 60
AGENT_STEPS = 5
AGENT_WORK = 0.003
"""What the timed agent does: runs of a few steps, each waiting 3 ms as for a model (about 1 s in all)."""


def agent(tracer: Tracer, prefix: str) -> float:
    """Seconds the agent's own loop takes, tracing every step (the store is written off its thread)."""
    e = tracer.events
    started = time.perf_counter()
    for r in range(AGENT_RUNS):
        run = f"{prefix}-{r}"
        e.run_started(run, "demo", task=f"task {r}")
        for i in range(1, AGENT_STEPS + 1):
            e.step_started(run, str(i), thought=f"step {i}")
            e.tool_call_started(run, str(i), f"c{i}", "bash", command=f"pytest -q test_{i}.py")
            time.sleep(AGENT_WORK)
            e.tool_call_finished(run, f"c{i}", output="1 failed" if i == AGENT_STEPS else "ok", exit_code=0)
            e.step_finished(run, str(i))
        e.run_finished(run, "failed")
    return time.perf_counter() - started


def test_an_unreachable_database_never_slows_the_agent_and_its_runs_arrive_later(
    own_server: PgServer, home: Path
) -> None:
    url = own_server.create_database("team")
    open_store(url)
    up, down = [], []
    for trial in range(3):
        with_db = Tracer(store_location=url, load_plugins=False)
        up.append(agent(with_db, f"up{trial}"))
        assert with_db.flush()
        with_db.close()
        assert with_db.deferred == 0
    assert count_runs(url, "tests") == 3 * AGENT_RUNS

    own_server.stop("fast")
    tracer = Tracer(store_location=url, load_plugins=False)
    for trial in range(3):
        down.append(agent(tracer, f"down{trial}"))
    assert tracer.flush()
    assert tracer.store_error is not None and "cannot reach the PostgreSQL store" in str(tracer.store_error)
    assert tracer.deferred == 3 * AGENT_RUNS, "every run waits in its journal"
    print(f"agent seconds, database up: {[round(t, 3) for t in up]}, unreachable: {[round(t, 3) for t in down]}")
    assert statistics.median(down) <= statistics.median(up) * 1.15 + 0.05

    started = time.monotonic()
    threading.Thread(target=own_server.start).start()  # the tracer keeps running: its writer tries again
    own_server.wait_ready()
    while count_runs(url, "tests") < 6 * AGENT_RUNS and time.monotonic() - started < 60:
        time.sleep(0.2)
    arrived = time.monotonic() - started
    print(f"the {3 * AGENT_RUNS} deferred runs arrived {arrived:.1f} s after the server was started again")
    assert count_runs(url, "tests") == 6 * AGENT_RUNS
    stored = open_store(url, project="tests")
    assert stored.load_run("down2-59").diagnosis is not None, "failed runs come with their diagnosis"
    tracer.close()
    assert list(home.glob("journal/*.ctj")) == []

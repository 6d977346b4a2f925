"""Runs into one PostgreSQL store from 8 tracing processes: runs/s, and the time from a run's end to its arrival.

    python benchmarks/postgres_writers.py [--writers 8] [--runs 200] [--steps 10] [--url postgresql://...]

Without ``--url`` it starts its own server as the tests do (``integration/postgres/pgserver.py``: initdb + pg_ctl
on 127.0.0.1, fsync on unless ``--no-fsync``), in a new database. Each writer is a process with a live
:class:`~codetracer.core.tracer.Tracer` (``CODETRACER_STORE`` = the database) tracing runs of ``--steps`` steps,
each step a thought, a bash call and a ~1 KB output: the agent's thread only journals; the tracer's writer thread
builds trees and stores them in batches.

Two phases, each in a fresh database:

- **throughput**: every writer traces its runs back to back; runs/s = all runs / (first writer start to the last
  run in the database);
- **arrival**: every writer waits ``--pause`` s after each run (an agent's rhythm, not a flood), and this process
  polls the database every 5 ms: a run's delay is the first time it is seen minus its ``ended_at`` (the same
  machine's clock). Median and p95 are reported for both phases, and the p95 without each writer's first run (which
  also waits for its process's first connection to the store).

``--sqlite`` runs both phases into one SQLite file as well, for reference.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import textwrap
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "integration" / "postgres"))

WRITER = textwrap.dedent(
    """
    import sys, time
    from codetracer.core.tracer import Tracer
    name, runs, steps, pause = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    output = "collected 12 items\\n" + "tests/test_calc.py::test_median PASSED\\n" * 25
    t = Tracer(load_plugins=False)
    e = t.events
    for r in range(runs):
        run = f"{name}-{r}"
        e.run_started(run, "bench", task=f"fix the median of task {r}", timestamp=time.time())
        for i in range(1, steps + 1):
            e.step_started(run, str(i), thought=f"step {i}: run the tests again and read the failure")
            e.tool_call_started(run, str(i), f"c{i}", "bash", command=f"python -m pytest -q tests/test_{i}.py")
            e.tool_call_finished(run, f"c{i}", output=output, exit_code=i % 2)
            e.step_finished(run, str(i))
        e.run_finished(run, "failed" if r % 3 == 0 else "solved", timestamp=time.time())  # as adapters stamp it
        if pause:
            time.sleep(pause)
    t.close()
    print("DEFERRED", t.deferred)
    """
)


def phase(url: str, home: Path, writers: int, runs: int, steps: int, pause: float) -> dict[str, float]:
    """Run the writers into ``url`` (a PostgreSQL URL or a SQLite path) and watch the store through the store
    interface; wall seconds, runs/s and delay percentiles."""
    from codetracer.core.store_open import open_store

    env = {**os.environ, "CODETRACER_STORE": url, "CODETRACER_HOME": str(home), "CODETRACER_PROJECT": "bench"}
    total = writers * runs
    seen: dict[str, float] = {}
    ended: dict[str, float] = {}
    watcher = open_store(url, project="bench")
    try:
        started = time.time()
        procs = [
            subprocess.Popen([sys.executable, "-c", WRITER, f"w{k}", str(runs), str(steps), str(pause)], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for k in range(writers)
        ]
        watermark, quiet_since = 0.0, time.time()
        while len(seen) < total:
            now = time.time()
            for row in watcher.query("SELECT id, ended_at, saved_at FROM runs WHERE saved_at >= ?", [watermark]):
                run_id, end, saved = row["id"], row["ended_at"], row["saved_at"]
                if run_id not in seen:
                    seen[run_id] = now
                    ended[run_id] = end
                    quiet_since = now
                    watermark = max(watermark, saved - 5.0)  # a transaction may commit after a later one began
            writers_done = all(p.poll() is not None for p in procs)
            if now - started > 900 or (writers_done and now - quiet_since > 10):
                break  # reported below as runs that never arrived
            time.sleep(0.005)
        last = max(seen.values())
    finally:
        watcher.close()
    deferred = 0
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        if proc.returncode != 0:
            raise SystemExit(f"a writer failed: {err}")
        deferred += int(out.split()[-1])
    delays = sorted(seen[r] - ended[r] for r in seen if ended[r] is not None)
    # each writer's first run also pays its process's connection to the store (and PostgreSQL's schema check)
    warm = sorted(seen[r] - ended[r] for r in seen if ended[r] is not None and not r.endswith("-0"))
    return {
        "runs": len(seen),
        "expected": total,
        "seconds": last - started,
        "runs_per_s": len(seen) / (last - started),
        "median_ms": 1000 * statistics.median(delays),
        "p95_ms": 1000 * delays[int(0.95 * (len(delays) - 1))],
        "warm_p95_ms": 1000 * warm[int(0.95 * (len(warm) - 1))],
        "deferred": deferred,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--runs", type=int, default=200, help="runs per writer in the throughput phase")
    parser.add_argument("--paced-runs", type=int, default=40, help="runs per writer in the arrival phase")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--pause", type=float, default=0.25, help="seconds between runs in the arrival phase")
    parser.add_argument("--url", help="an existing server's URL (its databases bench_*, created here, are kept)")
    parser.add_argument("--no-fsync", action="store_true", help="start the server with fsync=off")
    parser.add_argument("--sqlite", action="store_true", help="also run both phases into SQLite")
    args = parser.parse_args()

    import tempfile

    import psycopg

    from codetracer.core.store_open import open_store

    server = None
    if args.url is None:
        from pgserver import PgServer

        server = PgServer(fsync=not args.no_fsync)
        server.start()
    try:
        results = {}
        for name, runs, pause in (("throughput", args.runs, 0.0), ("arrival", args.paced_runs, args.pause)):
            database = f"bench_{name}_{int(time.time())}"
            if server is not None:
                url = server.create_database(database)
            else:
                with psycopg.connect(args.url, autocommit=True) as conn:
                    conn.execute(f'CREATE DATABASE "{database}"')
                url = args.url.rsplit("/", 1)[0] + "/" + database
            open_store(url, project="bench").close()  # the schema, before the clock starts
            with tempfile.TemporaryDirectory() as home:
                results[name] = phase(url, Path(home), args.writers, runs, args.steps, pause)
            if args.sqlite:
                with tempfile.TemporaryDirectory() as home:
                    path = str(Path(home) / "bench.db")
                    open_store(path, project="bench").close()
                    results[f"{name} (SQLite)"] = phase(path, Path(home), args.writers, runs, args.steps, pause)
        cores = os.cpu_count()
        print(f"{args.writers} writer processes, {args.steps} steps a run, PostgreSQL "
              f"{'(own server, fsync ' + ('off' if args.no_fsync else 'on') + ')' if server else args.url}, "
              f"{cores} cores")
        print(f"{'phase':<20} {'runs':>6} {'seconds':>8} {'runs/s':>8} {'end->db median':>15} {'p95':>8} "
              f"{'p95 w/o 1st':>12} {'deferred':>9}")
        for name, r in results.items():
            print(f"{name:<20} {r['runs']:>6.0f} {r['seconds']:>8.2f} {r['runs_per_s']:>8.0f} "
                  f"{r['median_ms']:>12.1f} ms {r['p95_ms']:>5.1f} ms {r['warm_p95_ms']:>9.1f} ms "
                  f"{r['deferred']:>9.0f}")
            if r["runs"] != r["expected"]:
                raise SystemExit(f"{name}: {r['expected'] - r['runs']} runs never arrived")
    finally:
        if server is not None:
            server.destroy()


if __name__ == "__main__":
    main()

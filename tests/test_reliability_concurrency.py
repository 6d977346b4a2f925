"""Reliability: 8 tracing processes finishing runs at once while ``codetracer ls`` loops beside them (issue 20).

What a user does: agents run in parallel, someone lists runs meanwhile. Every ``ls`` also recovers orphaned
journals, so it races the live writers storing and deleting theirs (item 1 was a ``FileNotFoundError`` from that
race, "internal error", exit 3). Counted here: runs lost (stored nowhere after the writers exit and a last ``ls``),
runs stored twice, and any ``ls`` that did not exit 0.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

from codetracer.core import config
from codetracer.core.store import Store
from codetracer.core.tracer import recover

WRITERS = 8
RUNS_PER_WRITER = 150

WRITER = textwrap.dedent(
    """
    import sys, time
    from codetracer.core.tracer import Tracer
    name, runs = sys.argv[1], int(sys.argv[2])
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
        time.sleep(0.02)  # agents take time between runs: ls and recover() get to run among the writers
    t.close()
    print("DEFERRED", t.deferred)
    """
)


def test_eight_writers_and_a_looping_ls_lose_nothing_and_never_fail(home: Path) -> None:
    home.mkdir(parents=True)
    env = os.environ.copy()
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, f"w{n}", str(RUNS_PER_WRITER)], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for n in range(WRITERS)
    ]
    listings, failures = [0], []
    recovers, recover_errors = [0], []
    deadline = time.monotonic() + 300

    def running() -> bool:
        return any(w.poll() is None for w in writers) and time.monotonic() < deadline

    def ls_loop() -> None:
        while running():
            ls = subprocess.run([sys.executable, "-m", "codetracer.cli", "ls", "--limit", "5"], capture_output=True,
                                text=True, env=env, timeout=120)
            listings[0] += 1
            if ls.returncode != 0 or "internal error" in ls.stderr:
                failures.append((ls.returncode, ls.stderr.strip()))

    def recover_loop() -> None:  # what ls does first, called as often as this process can
        while running():
            try:
                recover(home)
            except Exception as exc:  # noqa: BLE001 - counted: any is a failure
                recover_errors.append(repr(exc))
            recovers[0] += 1

    threads = [threading.Thread(target=ls_loop) for _ in range(2)] + [threading.Thread(target=recover_loop)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    listings = listings[0]
    assert recover_errors == [], recover_errors[:5]
    outputs = [w.communicate(timeout=120) for w in writers]
    assert [w.returncode for w in writers] == [0] * WRITERS, [err for _, err in outputs]
    assert listings >= 2, "ls ran beside the writers"
    assert failures == [], failures

    final = subprocess.run([sys.executable, "-m", "codetracer.cli", "ls", "--limit", "100000", "--json"],
                           capture_output=True, text=True, env=env, timeout=120)
    assert final.returncode == 0, final.stderr
    stored = [r.id for r in Store(config.store_path(home), project="tests").list_runs(limit=100_000)]
    expected = {f"w{n}-{r}" for n in range(WRITERS) for r in range(RUNS_PER_WRITER)}
    assert len(stored) == len(set(stored)), "no run stored twice"
    assert set(stored) == expected, f"lost: {sorted(expected - set(stored))[:10]}"
    assert list(config.journal_dir(home).glob("*.ctj")) == [], "no journal left behind"
    deferred = sum(int(out.split()[-1]) for out, _ in outputs)
    print(f"{listings} ls and {recovers[0]} recover() calls beside {WRITERS} writers; {deferred} runs deferred to "
          "recovery, none lost")

"""Journal reuse beside recovery, with real processes (issue 17).

A stored run's journal file is emptied and given to a later run of the same process (``_RunJournal.recycled``), so
one file holds run after run. What could go wrong, and is counted here: a recovering ``codetracer ls`` in another
process storing a run that is still being written (half of it), storing a stored run a second time from a file
that still held it, mixing the lines of the file's previous run into the next one's tree, or losing a run the
writer had finished but not yet stored when it was killed. The writer is killed (SIGKILL) at a different point of
its loop in each round, while ``ls`` processes and ``recover()`` loop beside it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from codetracer.core import config
from codetracer.core.store import Store
from codetracer.core.tracer import recover

WRITER = textwrap.dedent(
    """
    import sys, time
    from codetracer.core.tracer import Tracer
    name = sys.argv[1]
    t = Tracer()
    e = t.events
    r = 0
    while True:
        run = f"{name}-{r}"
        e.run_started(run, "demo", task=f"task {run}")
        print("STARTED", run, t.journal.path_of(run), flush=True)
        for i in range(1, 4):
            e.step_started(run, str(i), thought=f"{run} step {i}")
            e.tool_call_started(run, str(i), f"c{i}", "bash", command=f"echo {run}-{i}")
            e.tool_call_finished(run, f"c{i}", output=f"{run}-{i} " + "x" * (r % 7) * 500, exit_code=0)
            e.step_finished(run, str(i))
        e.run_finished(run, "solved")
        print("FINISHED", run, flush=True)
        r += 1
        time.sleep(0.002 * (r % 3))  # back to back, or a little apart: the writer stores one run or gathers several
    """
)


def _own_steps(run_id: str, run: object) -> bool:
    """Every step of the stored run is one this run wrote (no line of the file's previous run), in order."""
    for n, step in enumerate(run.steps, start=1):  # type: ignore[attr-defined]
        calls = step.tool_calls
        if step.thought is None or step.thought.text != f"{run_id} step {n}" or len(calls) != 1:
            return False
        call = calls[0]
        if call.action is None or call.action.command != f"echo {run_id}-{n}":
            return False
        if call.complete and not (call.observation and call.observation.text
                                  and call.observation.text.text.startswith(f"{run_id}-{n} ")):
            return False
    return True


@pytest.mark.parametrize("finished_before_kill", [40, 97, 160])
def test_a_writer_killed_among_reused_journals_loses_no_run_and_stores_none_twice_or_in_part(
    home: Path, finished_before_kill: int
) -> None:
    home.mkdir(parents=True, exist_ok=True)
    env = os.environ.copy()
    name = f"k{finished_before_kill}"
    writer = subprocess.Popen([sys.executable, "-c", WRITER, name], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    assert writer.stdout is not None
    started: dict[str, str] = {}
    finished: list[str] = []
    stop = threading.Event()
    errors: list[str] = []

    def ls_loop() -> None:  # another process recovering, as a user's `codetracer ls` does
        while not stop.is_set():
            ls = subprocess.run([sys.executable, "-m", "codetracer.cli", "ls", "--limit", "3"], capture_output=True,
                                text=True, env=env, timeout=120)
            if ls.returncode != 0:
                errors.append(ls.stderr.strip())

    def recover_loop() -> None:
        while not stop.is_set():
            try:
                recover(home)
            except Exception as exc:  # noqa: BLE001 - counted: any is a failure
                errors.append(repr(exc))
            time.sleep(0.001)

    threads = [threading.Thread(target=ls_loop), threading.Thread(target=recover_loop)]
    for thread in threads:
        thread.start()
    try:
        deadline = time.monotonic() + 120
        while len(finished) < finished_before_kill and time.monotonic() < deadline:
            line = writer.stdout.readline()
            if not line:
                break
            kind, run_id, *rest = line.split()
            if kind == "STARTED":
                started[run_id] = rest[0]
            else:
                finished.append(run_id)
        writer.send_signal(signal.SIGKILL)  # mid-way through its next run, or while storing the last ones
        writer.wait(timeout=60)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=180)
    assert len(finished) == finished_before_kill, writer.stderr.read() if writer.stderr else ""
    assert errors == [], errors[:5]
    final = subprocess.run([sys.executable, "-m", "codetracer.cli", "ls", "--limit", "1"], capture_output=True,
                           text=True, env=env, timeout=120)  # the last recovery, by another process
    assert final.returncode == 0, final.stderr

    files = set(started.values())
    # runs reused stored runs' files (how many depends on how far the writer lagged: on a loaded machine, runs
    # start before the batch holding earlier runs is stored and take new files; half were reused here when idle)
    assert len(files) <= len(started) - 5, f"journal files were reused ({len(files)} files for {len(started)} runs)"
    store = Store(config.store_path(home), project="tests")
    listed = [r.id for r in store.list_runs(limit=100_000)]
    assert len(listed) == len(set(listed)), "no run listed twice"
    lost = [run_id for run_id in finished if run_id not in listed]
    assert lost == [], f"finished runs lost: {lost[:5]}"
    # the run being written when the writer was killed: the last one it said it started, or the next one (killed
    # between its first event and the line saying so)
    in_progress = {run_id for run_id in started if run_id not in finished} | {f"{name}-{len(started)}"}
    assert set(listed) - set(finished) <= in_progress, "nothing stored that was not traced"
    for run_id in finished:
        run = store.load_run(run_id)
        assert run.complete and len(run.steps) == 3 and _own_steps(run_id, run), f"{run_id} stored in part or mixed"
    for run_id in set(listed) - set(finished):
        run = store.load_run(run_id)
        assert _own_steps(run_id, run), f"{run_id}: its own steps so far, none of another run"
        assert len(run.steps) == 3 if run.complete else len(run.steps) <= 3, f"{run_id}: killed after its end or not"
    assert list(config.journal_dir(home).glob("*.ctj")) == [], "every journal recovered or removed"

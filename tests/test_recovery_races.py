"""Recovery beside live tracers (issue 20, items 1 and 2), with real processes.

``recover()`` -- which ``ls``, ``show`` and ``search`` call first -- used to reopen a journal by its path after taking
its lock; a live process that had meanwhile stored its run deleted the file, and ``recover()`` raised
``FileNotFoundError`` ("internal error", exit 3, while agents ran). And a recovered run went to the project of whoever
called ``recover()``, not to the ``CODETRACER_PROJECT`` of the process that traced it.
"""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from codetracer.core import config, journal
from codetracer.core.store import Store
from codetracer.core.tracer import recover

HOLDS_A_RUN_OPEN = textwrap.dedent(
    """
    import sys
    from codetracer.core.tracer import Tracer
    t = Tracer()
    e = t.events
    e.run_started("raced", "demo", task="t")
    e.step_started("raced", "1")
    e.tool_call_started("raced", "1", "c1", "bash", command="echo 1")
    e.tool_call_finished("raced", "c1", output="1", exit_code=0)
    print("OPEN", t.journal.path_of("raced"), flush=True)
    sys.stdin.readline()           # the test says: finish now
    e.run_finished("raced", "solved")
    assert t.flush()               # stored, and its journal emptied and kept (locked) for the next run
    print("STORED", flush=True)
    sys.stdin.readline()
    t.close()                      # the spare journals are deleted, then unlocked
    print("CLOSED", flush=True)
    sys.stdin.readline()
    """
)


def test_recover_skips_a_journal_its_live_writer_stored_and_deleted_meanwhile(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race made deterministic: ``recover()`` has opened the live journal, and before it tries the lock the
    writer (a real process) stores its run and keeps the emptied file for its next run (still locked), then closes,
    which deletes that file and lets go of the lock: ``recover()`` then holds the lock of a file with no name."""
    child = subprocess.Popen([sys.executable, "-c", HOLDS_A_RUN_OPEN], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             text=True, env=os.environ.copy())
    assert child.stdin is not None and child.stdout is not None
    try:
        line = child.stdout.readline()
        assert line.startswith("OPEN "), line
        live = Path(line.split(" ", 1)[1].strip())
        real_flock = fcntl.flock
        raced: list[Path] = []

        def flock_after_the_writer_finished(fd: int, operation: int) -> None:
            if not raced and os.fstat(fd).st_ino == live.stat().st_ino:
                raced.append(live)
                child.stdin.write("finish\n")  # type: ignore[union-attr]
                child.stdin.flush()  # type: ignore[union-attr]
                assert child.stdout.readline().strip() == "STORED"  # type: ignore[union-attr]
                assert journal.read_ops(live) == ([], 0), "emptied for reuse: nothing of the stored run left"
                probe = os.open(live, os.O_RDONLY)
                try:
                    with pytest.raises(BlockingIOError):  # and still the live writer's
                        real_flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
                finally:
                    os.close(probe)
                child.stdin.write("close\n")  # type: ignore[union-attr]
                child.stdin.flush()  # type: ignore[union-attr]
                assert child.stdout.readline().strip() == "CLOSED"  # type: ignore[union-attr]
                assert not live.exists()
            real_flock(fd, operation)

        monkeypatch.setattr(journal.fcntl, "flock", flock_after_the_writer_finished)
        assert recover() == [], "the run is the live process's: stored once, by it"
        assert raced == [live]
    finally:
        child.communicate("\n", timeout=60)
    assert child.returncode == 0
    (run,) = Store(config.store_path(home), project="tests").list_runs()
    assert run.id == "raced"


KILLED_MID_RUN = textwrap.dedent(
    """
    import os, signal
    from codetracer.core.tracer import Tracer
    t = Tracer()
    e = t.events
    e.run_started("orphan", "demo", task="t")
    e.step_started("orphan", "1")
    e.tool_call_started("orphan", "1", "c1", "bash", command="make")
    os.kill(os.getpid(), signal.SIGKILL)
    """
)


@pytest.mark.parametrize("project", ["foo", "team/a b", "..", "é-ü%41"])
def test_a_recovered_run_goes_to_the_project_that_traced_it(home: Path, project: str) -> None:
    env = {**os.environ, "CODETRACER_PROJECT": project}
    killed = subprocess.run([sys.executable, "-c", KILLED_MID_RUN], env=env)
    assert killed.returncode == -signal.SIGKILL
    ls = subprocess.run([sys.executable, "-m", "codetracer.cli", "ls", "--json"], capture_output=True, text=True,
                        env={**os.environ, "CODETRACER_PROJECT": "default"})  # someone else's project recovers
    assert ls.returncode == 0, ls.stderr
    assert "orphan" not in ls.stdout
    assert Store(config.store_path(home), project="default").list_runs() == []
    (run,) = Store(config.store_path(home), project=project).list_runs()
    assert run.id == "orphan" and not run.complete


def test_journals_of_older_versions_without_a_project_still_recover_into_the_callers(home: Path) -> None:
    folder = config.journal_dir(home)
    folder.mkdir(parents=True)
    (folder / "0123456789abcdef0123456789abcdef.ctj").write_bytes(
        b'["run_started","old","demo","t",{},null,1.0]\n'
        b'["step_started","old","1",null,"look",null,1.5]\n'
        b'["run_finished","old","solved",null,{},2.0]\n'
    )
    (run,) = recover()
    assert run.id == "old"
    assert Store(config.store_path(home), project="tests").load_run("old").complete

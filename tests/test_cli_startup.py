"""What the store's read commands load: `ls`, `search` and `memory ls` on a store of any size stay fast only while
they start without pydantic's models and the tree builder (a third of their process time); recovery loads them when
needed."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from pathlib import Path

from codetracer.core import config
from codetracer.core.journal import has_orphans

PROBE = """
import sys
from codetracer.cli import main
code = main(sys.argv[1:])
print("MODEL-LOADED" if "codetracer.core.model" in sys.modules else "MODEL-NOT-LOADED")
"""


def run_cli(home: Path, *args: str) -> str:
    env = dict(os.environ, CODETRACER_HOME=str(home))
    done = subprocess.run([sys.executable, "-c", PROBE, *args], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_ls_and_search_start_without_the_tree_models(tmp_path: Path) -> None:
    assert run_cli(tmp_path, "ls").endswith("MODEL-NOT-LOADED\n")
    assert run_cli(tmp_path, "search", "needle").endswith("MODEL-NOT-LOADED\n")
    assert run_cli(tmp_path, "memory", "ls").endswith("MODEL-NOT-LOADED\n")


def test_an_orphaned_journal_is_recovered_before_ls_lists(tmp_path: Path) -> None:
    folder = config.journal_dir(tmp_path)
    folder.mkdir(parents=True)
    line = b'["run_started","lost","test","a task",{},null,1.0]\n'
    (folder / "a.ctj").write_bytes(line)
    out = run_cli(tmp_path, "ls")
    assert "lost" in out and out.endswith("MODEL-LOADED\n")
    assert list(folder.iterdir()) == []


def test_a_journal_still_locked_by_its_writer_is_no_orphan(tmp_path: Path) -> None:
    path = tmp_path / "live.ctj"
    path.write_bytes(b"")
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        assert not has_orphans(tmp_path)
    finally:
        os.close(fd)
    assert has_orphans(tmp_path)

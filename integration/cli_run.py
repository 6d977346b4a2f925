"""``codetracer run -- COMMAND`` as the user runs it, for the integration suites (the repository root is on
``sys.path`` through its ``conftest.py``): the command line in a subprocess, the runs it listed loaded from the store,
and a codetracer broken for the traced command only.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from codetracer.core import config
from codetracer.core.model import Run
from codetracer.core.store import Store


def codetracer_run(args: list[str], cwd: Path, home: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """``codetracer run ARGS`` in ``cwd``, storing in ``home``; ``env`` is added to this process's environment."""
    environment = {**os.environ, "CODETRACER_HOME": str(home), **env}
    return subprocess.run([sys.executable, "-m", "codetracer.cli", "run", *args], cwd=cwd, env=environment,
                          capture_output=True, text=True, timeout=300)


def agent_project(folder: Path, program: Path, source: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project whose ``add()`` subtracts, with the test that says so, in ``folder``; the agent program ``source``
    written to ``program`` (``python program`` runs it); ``python`` on ``PATH`` is this interpreter."""
    folder.mkdir()
    (folder / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    (folder / "test_calc.py").write_text("import calc\n\n\ndef test_add():\n    assert calc.add(2, 3) == 5\n")
    program.write_text(source)
    monkeypatch.setenv("PATH", os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    return folder


def said(stderr: str) -> list[str]:
    """What codetracer printed on stderr: its own lines and the diagnosis lines under them."""
    return [line for line in stderr.splitlines() if line.startswith(("codetracer", "  diagnosis", "  suggestion"))]


def stored(home: Path, stderr: str) -> list[Run]:
    """The runs ``codetracer run`` listed, loaded from the store."""
    ids = [line.split()[2] for line in stderr.splitlines() if line.startswith("codetracer: run ")]
    store = Store(config.store_path(home), project="tests")
    try:
        return [store.load_run(run_id) for run_id in ids]
    finally:
        store.close()


def broken_codetracer(folder: Path) -> Path:
    """A ``codetracer`` package under ``folder`` that fails to import (a half-finished install); put ``folder`` on
    the traced command's own ``PYTHONPATH`` (not the parent's) to break codetracer there only."""
    (folder / "codetracer").mkdir(parents=True)
    (folder / "codetracer" / "__init__.py").write_text("raise RuntimeError('half-installed')\n")
    return folder


BROKEN_SAID = "codetracer: tracing is off, the command runs untraced (RuntimeError: half-installed)"
"""The one line a command with a :func:`broken_codetracer` prints about it."""

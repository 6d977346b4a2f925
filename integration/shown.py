"""What every framework's failed live run must show where the user looks: ``ls``, ``show``, ``show --json`` and the
HTML report of the stored run carry its diagnosis, which names the wrong edit, and its verification node.

Shared by the integration suites (the repository root is on ``sys.path`` through its ``conftest.py``). The commands
run as the user runs them: ``python -m codetracer`` in a subprocess on the test's ``CODETRACER_HOME``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, "-m", "codetracer", *args], capture_output=True, text=True,
                          env=os.environ.copy())
    assert done.returncode == 0, done.stderr
    return done


def assert_shown_with_diagnosis(run_id: str, onset: int, edit: str, report_dir: Path,
                                verifier: str | None = None) -> dict[str, Any]:
    """The stored run ``run_id`` is listed with onset ``onset`` and shown, as text, JSON and HTML report, with a
    diagnosis whose onset step is ``onset`` and whose action holds ``edit``; with ``verifier``, the failing
    verification node is shown too. Returns ``show --json``."""
    rows = [line for line in cli("ls", "--limit", "0").stdout.splitlines() if run_id[:40] in line]
    assert len(rows) == 1 and "failed" in rows[0].split() and str(onset) in rows[0].split(), rows  # onset column
    listed = [json.loads(line) for line in cli("ls", "--json", "--limit", "0").stdout.splitlines()]
    (entry,) = [r for r in listed if run_id in (r.get("run_id"), r.get("id"))]
    assert entry["onset_step"] == onset, entry

    text = cli("show", run_id).stdout
    assert f"onset step {onset}" in text and f">> step {onset}" in text, text
    onset_line = next(line for line in text.splitlines() if f">> step {onset}" in line)
    assert edit in onset_line, onset_line
    if verifier is not None:
        assert f"verification ({verifier}): failed" in text, text

    shown = json.loads(cli("show", run_id, "--json").stdout)
    assert shown["outcome"] == "failed" and shown["diagnosis"]["onset_step"] == onset
    assert edit in shown["steps"][onset - 1]["action"]
    if verifier is not None:
        assert shown["verification"]["verifier"] == verifier and shown["verification"]["passed"] is False

    page = report_dir / f"report-{onset}.html"
    cli("report", run_id, "-o", str(page))
    assert f'"diagnosis":{{"localizer":"signals","onset":{onset},' in page.read_text()
    return shown

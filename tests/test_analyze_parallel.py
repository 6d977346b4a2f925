"""`analyze` gives the same answer however it runs: serially or on several processes, whatever the hash seed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def analyze_json(path: Path, jobs: int, seed: str) -> str:
    env = dict(os.environ, PYTHONHASHSEED=seed)
    out = subprocess.run(
        [sys.executable, "-m", "codetracer", "analyze", str(path), "--json", "--no-store", "-j", str(jobs)],
        capture_output=True,
        text=True,
        env=env,
    )
    assert out.returncode in (0, 1), out.stderr
    return out.stdout


def test_parallel_and_serial_analysis_agree_and_are_deterministic(shared: Path) -> None:
    corpus = shared / "corpora" / "atif-terminal-bench-2"
    serial = analyze_json(corpus, 1, "1")
    assert serial.count("\n") >= 40 and '"onset_step"' in serial
    assert analyze_json(corpus, 2, "2") == serial
    assert analyze_json(corpus, 1, "3") == serial

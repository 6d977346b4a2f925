"""Discovery over messy folders: one clear line per bad file, the rest still processed, never a traceback."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from codetracer.core.extract import ExtractorRegistry, Failure, extract_all


@pytest.fixture
def messy(tmp_path: Path, shared: Path) -> Path:
    root = tmp_path / "runs"
    (root / "good").mkdir(parents=True)
    shutil.copy(shared / "fixtures" / "mini-swe-agent" / "example_text.traj.json", root / "good" / "a.traj.json")
    shutil.copytree(shared / "fixtures" / "openhands" / "sdk", root / "good" / "openhands")
    text = (shared / "fixtures" / "mini-swe-agent" / "example_text.traj.json").read_text()
    (root / "bad").mkdir()
    (root / "bad" / "truncated.traj.json").write_text(text[: len(text) // 2])
    (root / "bad" / "empty.traj.json").write_text("")
    (root / "bad" / "junk.bin").write_bytes(os.urandom(4096))
    data = json.loads(text)
    data["messages"] = "not a list"
    (root / "bad" / "wrong-types.traj.json").write_text(json.dumps(data))
    os.symlink(root, root / "bad" / "loop")  # a symlink loop back to the top
    os.symlink(root / "missing", root / "bad" / "dangling")
    return root


def test_messy_folder_gives_runs_and_one_line_per_bad_file(messy: Path) -> None:
    results = list(extract_all(messy))
    runs = [r for r in results if not isinstance(r, Failure)]
    failures = [r for r in results if isinstance(r, Failure)]
    assert {r.framework for r in runs} >= {"mini-swe-agent", "openhands"}
    messages = {f.path.name: f.message for f in failures}
    assert "truncated.traj.json" in messages and "line" in messages["truncated.traj.json"]
    assert "wrong-types.traj.json" in messages
    assert any("symlink loop" in m for m in messages.values())
    assert "dangling" in messages
    assert all("\n" not in f.message for f in failures)


def test_cli_reports_each_bad_file_and_exits_1(messy: Path, home: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "codetracer", "analyze", str(messy), "--json", "--no-store"],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 1
    assert "Traceback" not in out.stderr
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    assert {line["framework"] for line in lines} >= {"mini-swe-agent", "openhands"}
    assert "truncated.traj.json" in out.stderr and "could not be read" in out.stderr


def test_huge_observation_is_kept_whole_and_fast(tmp_path: Path, shared: Path) -> None:
    data = json.loads((shared / "fixtures" / "mini-swe-agent" / "example_text.traj.json").read_text())
    tool_messages = [m for m in data["messages"] if m["role"] in {"user", "tool"}][1:]
    huge = "x" * 100_000_000 + "\nTraceback: the end is kept"
    tool_messages[0]["content"] = huge
    path = tmp_path / "huge.traj.json"
    path.write_text(json.dumps(data))
    (run,) = [r for r in extract_all(path) if not isinstance(r, Failure)]
    texts = [o.text for s in run.steps for o in s.all_observations if o.text is not None]
    big = max(texts, key=lambda t: t.size)
    assert big.size >= 100_000_000 and big.text.endswith("the end is kept")


def test_registry_ignores_a_detector_that_raises(tmp_path: Path, shared: Path) -> None:
    class Exploding:
        name = "exploding"

        def detect(self, candidate: object) -> float:
            raise RuntimeError("boom")

        def extract(self, path: Path, events: object) -> None:  # pragma: no cover - never picked
            raise AssertionError

    registry = ExtractorRegistry([Exploding(), *ExtractorRegistry.from_plugins().extractors])
    path = shared / "fixtures" / "mini-swe-agent" / "example_text.traj.json"
    assert [r.framework for r in extract_all(path, registry) if not isinstance(r, Failure)] == ["mini-swe-agent"]

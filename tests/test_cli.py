"""The command line: help everywhere, one clear line per error, never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from codetracer.cli import build_parser, main
from codetracer.core import config
from codetracer.core.tracer import Tracer

COMMANDS = [
    "analyze", "ls", "show", "search", "extractors", "recover", "report", "eval", "memory", "export-otel", "diagnose",
    "verdict",
]


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "codetracer", *args], capture_output=True, text=True, env=env or os.environ.copy()
    )


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_every_command_has_help(command: str | None, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"] if command else ["--help"])
    assert exit_info.value.code == 0
    assert "usage: codetracer" in capsys.readouterr().out


def test_parser_knows_every_command() -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert set(COMMANDS) <= set(sub.choices)  # type: ignore[arg-type]


def _trace_one(home: Path) -> None:
    tracer = Tracer(home)
    ev = tracer.events
    ev.run_started("demo:run:1", "demo", task="make the tests pass")
    for i, (cmd, code) in enumerate([("ls", 0), ("pytest -q", 1), ("cat setup.cfg", 0)], 1):
        ev.step_started("demo:run:1", str(i))
        ev.tool_call_started("demo:run:1", str(i), f"c{i}", "bash", command=cmd)
        ev.tool_call_finished("demo:run:1", f"c{i}", output=f"output of {cmd}", exit_code=code)
        ev.step_finished("demo:run:1", str(i))
    ev.run_finished("demo:run:1", "failed")
    tracer.close()


def test_ls_show_search_on_a_traced_run(home: Path) -> None:
    _trace_one(home)
    out = run_cli("ls")
    assert out.returncode == 0 and "demo:run:1" in out.stdout and "failed" in out.stdout
    out = run_cli("ls", "--json", "--framework", "demo")
    assert json.loads(out.stdout.splitlines()[0])["id"] == "demo:run:1"
    assert run_cli("ls", "--framework", "nope").stdout.startswith("no stored runs")
    out = run_cli("show", "demo:run")
    assert out.returncode == 0 and "pytest -q" in out.stdout and "exit 1" in out.stdout
    line = json.loads(run_cli("show", "demo:run:1", "--json").stdout)
    assert line["run_id"] == "demo:run:1" and [s["error"] for s in line["steps"]] == [False, True, False]
    assert line["steps"][1]["action"] == "bash: pytest -q"
    full = run_cli("show", "demo:run:1", "--full").stdout
    assert json.loads(full)["steps"][1]["calls"][0]["observation"]["exit_code"] == 1
    assert "demo:run:1 step 3" in run_cli("search", "setup.cfg").stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["show", "no-such-run"], "no stored run"),
        (["ls", "--since", "yesterday-ish"], "cannot read time"),
        (["analyze", "/no/such/path"], "no such file or folder"),
        (["analyze", ".", "--format", "nope"], "no extractor named"),
    ],
)
def test_errors_are_one_line_without_traceback(home: Path, args: list[str], message: str) -> None:
    out = run_cli(*args)
    assert out.returncode != 0
    assert message in out.stderr
    assert "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) <= 2


def test_corrupt_store_is_one_line_and_untouched(home: Path) -> None:
    home.mkdir(parents=True)
    db = config.store_path(home)
    db.write_bytes(b"\x00garbage" * 64)
    out = run_cli("ls")
    assert out.returncode == 2 and "not a readable codetracer database" in out.stderr
    assert "Traceback" not in out.stderr
    assert db.read_bytes() == b"\x00garbage" * 64


def test_analyze_unknown_and_junk_files_reports_each_and_exits_1(home: Path, tmp_path: Path) -> None:
    folder = tmp_path / "junk"
    folder.mkdir()
    (folder / "binary.bin").write_bytes(bytes(range(256)) * 10)
    (folder / "notes.txt").write_text("hello")
    out = run_cli("analyze", str(folder), "--no-store")
    assert out.returncode == 1
    assert "no run artifacts found" in out.stderr and "Traceback" not in out.stderr

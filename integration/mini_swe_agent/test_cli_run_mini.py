"""``codetracer run -- mini ...``: mini-swe-agent's own CLI traced without touching its code, offline.

The ``mini`` command runs with mini's text-based config and its ``deterministic`` model class, whose scripted answers
come from a config file (``-c``), exactly as a user configures a model; its ``LocalEnvironment`` really runs the
commands in a throwaway project. codetracer registers tracing in mini's process (``sitecustomize``), keeps mini's
output and exit code, and prints the run and its diagnosis at the end.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("minisweagent", reason="needs mini-swe-agent (tox -e integration-miniswe)")

import yaml
from integration.cli_run import BROKEN_SAID, broken_codetracer, codetracer_run, said, stored
from mini_answers import SUBMIT, TASK, answer
from test_mini_live import WRONG_FIX, offline, summary, write_report

VERIFY = "python -m pytest -q -p no:cacheprovider"


def mini_command(tmp_path: Path, steps: list[tuple[str, str]]) -> list[str]:
    """``mini`` with the scripted model in a config file of its own, the trajectory saved under ``tmp_path``."""
    model = {"model": {"model_class": "deterministic", "model_name": "deterministic", "cost_per_call": 0.0,
                       "outputs": [answer(thought, command) for thought, command in steps]}}
    spec = tmp_path / "scripted-model.yaml"
    spec.write_text(yaml.safe_dump(model))
    mini = shutil.which("mini", path=str(Path(sys.executable).parent)) or "mini"
    return [mini, "-c", "mini_textbased.yaml", "-c", str(spec), "-t", TASK, "-y", "--exit-immediately",
            "-o", str(tmp_path / "out" / "mini.traj.json")]


def traced(args: list[str], cwd: Path, home: Path) -> subprocess.CompletedProcess[str]:
    return codetracer_run(args, cwd, home, MSWEA_CONFIGURED="true")


def test_mini_cli_traced_with_its_diagnosis(project: Path, tmp_path: Path, home: Path) -> None:
    done = traced(["--verify", VERIFY, "--", *mini_command(tmp_path, WRONG_FIX)], project, home)

    assert done.returncode == 0, done.stderr
    assert "Saved trajectory to" in done.stdout  # mini's own output, untouched
    (run,) = stored(home, done.stderr)
    lines = said(done.stderr)
    assert lines[0] == f"codetracer: run {run.id} [failed] 3 steps  (codetracer show {run.id})"
    assert lines[1].startswith("  diagnosis (signals, confidence ")
    assert lines[1].endswith("onset step 2: bash: sed -i 's/sum(values)/round(sum(values))/' calc.py")
    assert run.diagnosis is not None and run.diagnosis.onset_step == 2  # stored with the run
    assert run.metadata["via"] == "codetracer run" and run.metadata["resolved"] is False
    v = run.verification  # the --verify command's own output, kept as the run's verification node
    assert v is not None and (v.command, v.passed, v.exit_code) == (VERIFY, False, 1)
    assert v.failed_tests == ["test_calc.py::test_mean"]

    saved = tmp_path / "out" / "mini.traj.json"
    write_report(saved.parent, "mini", resolved=False)
    assert summary(run) == summary(offline(saved))  # the tree of the trajectory mini wrote


def test_mini_exit_code_is_kept_when_it_fails(project: Path, tmp_path: Path, home: Path) -> None:
    command = [*mini_command(tmp_path, [("Submit.", SUBMIT)]), "--model-class", "no.such.ModelClass"]
    untraced = subprocess.run(command, cwd=project, capture_output=True, text=True, timeout=300,
                              env={**os.environ, "MSWEA_CONFIGURED": "true"})
    done = traced(["--", *command], project, home)
    assert untraced.returncode != 0
    assert done.returncode == untraced.returncode
    assert "Unknown model class" in done.stderr


def test_a_broken_codetracer_leaves_mini_running_untraced(project: Path, tmp_path: Path, home: Path) -> None:
    broken = broken_codetracer(tmp_path / "broken")
    command = " ".join(f"'{part}'" for part in mini_command(tmp_path, WRONG_FIX))
    shell: list[Any] = ["bash", "-c", f'PYTHONPATH="$PYTHONPATH:{broken}" {command}']  # only mini finds it
    done = traced(["--", *shell], project, home)

    assert done.returncode == 0
    assert (tmp_path / "out" / "mini.traj.json").is_file()  # mini did its whole run
    assert said(done.stderr) == [BROKEN_SAID]
    assert "round(sum(values))" in (project / "calc.py").read_text()

"""``codetracer run -- COMMAND``: the command keeps its output, environment and exit code, and a broken codetracer
never stops it. These tests run real child processes (this interpreter, a shell); the agent CLIs themselves are run
by the integration tests (``integration/mini_swe_agent/test_cli_run_mini.py``,
``integration/swe_agent/test_cli_run_sweagent.py``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from codetracer.autotrace import RUNS_FILE
from codetracer.cli import run as cli_run

CODETRACER = [sys.executable, "-m", "codetracer.cli"]


def run(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    environment.update(CODETRACER_HOME=str(tmp_path / "home"), **env)
    return subprocess.run([*CODETRACER, "run", *args], capture_output=True, text=True, cwd=tmp_path,
                          env=environment, timeout=120)


def test_exit_code_and_output_are_the_commands(tmp_path: Path) -> None:
    done = run(["--", sys.executable, "-c", "import sys; print('out'); print('err', file=sys.stderr); sys.exit(7)"],
               tmp_path)
    assert done.returncode == 7
    assert done.stdout == "out\n"
    assert done.stderr.startswith("err\n")
    assert "traced no agent run" in done.stderr  # said once the command has ended


def test_a_command_killed_by_a_signal_exits_128_plus_it(tmp_path: Path) -> None:
    done = run(["--", sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGTERM)"], tmp_path)
    assert done.returncode == 128 + 15


def test_the_program_and_its_children_see_the_environment_they_were_given(tmp_path: Path) -> None:
    probe = (
        "import json, os, subprocess, sys; "
        "mine = {k: v for k, v in os.environ.items() if k.startswith('CODETRACER_AUTOTRACE') or k == 'PYTHONPATH'}; "
        "child = subprocess.run([sys.executable, '-c', 'import os, sys; print(os.environ.get(\"PYTHONPATH\")); "
        "print(\"sitecustomize\" in sys.modules and \"codetracer\" in str(sys.modules[\"sitecustomize\"]))'], "
        "capture_output=True, text=True).stdout.split(); "
        "print(json.dumps({'env': mine, 'child': child, 'path': [p for p in sys.path if 'codetracer-run-' in p]}))"
    )
    without = json.loads(run(["--", sys.executable, "-c", probe], tmp_path).stdout)
    assert without == {"env": {}, "child": ["None", "False"], "path": []}
    given = json.loads(run(["--", sys.executable, "-c", probe], tmp_path, PYTHONPATH="/nowhere").stdout)
    assert given == {"env": {"PYTHONPATH": "/nowhere"}, "child": ["/nowhere", "False"], "path": []}


def test_the_sitecustomize_it_shadows_still_runs(tmp_path: Path) -> None:
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "sitecustomize.py").write_text("import builtins\nbuiltins.THEIR_SITE = True\n")
    done = run(["--", sys.executable, "-c", "import builtins; print(getattr(builtins, 'THEIR_SITE', False))"],
               tmp_path, PYTHONPATH=str(theirs))
    assert done.returncode == 0 and done.stdout == "True\n"


def test_a_broken_codetracer_install_never_stops_the_command_and_says_so_once(tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    (broken / "codetracer").mkdir(parents=True)
    (broken / "codetracer" / "__init__.py").write_text("raise ImportError('this codetracer is broken')\n")
    script = tmp_path / "twice.sh"  # two interpreters that find the broken package (the parent must not)
    script.write_text(f'export PYTHONPATH="$PYTHONPATH:{broken}"\n'
                      f"{sys.executable} -c 'print(1)'\n{sys.executable} -c 'print(2)'\nexit 5\n")
    done = run(["--", "bash", str(script)], tmp_path)
    assert done.returncode == 5
    assert done.stdout == "1\n2\n"
    said = [line for line in done.stderr.splitlines() if line.startswith("codetracer:")]
    assert said == ["codetracer: tracing is off, the command runs untraced (ImportError: this codetracer is broken)"]


def test_no_command_or_a_missing_one_is_one_line(tmp_path: Path) -> None:
    done = run([], tmp_path)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "after --" in done.stderr
    done = run(["--", str(tmp_path / "no-such-program")], tmp_path)
    assert done.returncode == 2 and done.stderr.startswith("codetracer: error: cannot start")
    assert "Traceback" not in done.stderr


def test_run_ids_survive_torn_lines(tmp_path: Path) -> None:
    (tmp_path / RUNS_FILE).write_text(
        json.dumps({"run_id": "a"}) + "\n" + '{"run_id": "b"' + "\n" + json.dumps({"run_id": "a"}) + "\n"
        + json.dumps({"run_id": "c", "pid": 1}) + "\n"
    )
    assert cli_run.traced_runs(tmp_path) == ["a", "c"]


@pytest.mark.parametrize("flag", ["-q", "--quiet"])
def test_quiet_prints_nothing_of_its_own(tmp_path: Path, flag: str) -> None:
    done = run([flag, "--", sys.executable, "-c", "print('only this')"], tmp_path)
    assert (done.returncode, done.stdout, done.stderr) == (0, "only this\n", "")

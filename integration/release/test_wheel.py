"""The package as a user installs it: build the sdist and the wheel, install the wheel into a fresh venv (with the
light extras), and run what the README promises from that install alone, outside the checkout.

Until the package is on PyPI this is how a user gets it (README, "Install"); the test keeps that path working: a
module left out of the wheel, an entry point that points nowhere or an extra that no longer resolves fails here, not
on a user's machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXTRAS = ("openhands", "langchain", "mini-swe-agent", "swe-agent", "llm", "otel", "all")
"""The extras README.md names: each must be declared in the wheel's metadata."""


def run(*cmd: str | Path, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, f"{cmd}: exit {done.returncode}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dist = tmp_path_factory.mktemp("dist")
    run(sys.executable, "-m", "build", "--sdist", "--wheel", "--outdir", dist, ROOT, cwd=ROOT)
    return dist


@pytest.fixture(scope="module")
def installed(built: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv holding the wheel with the extras that install on this Python without frameworks."""
    venv = tmp_path_factory.mktemp("venv")
    run(sys.executable, "-m", "venv", venv, cwd=venv)
    wheel = next(built.glob("*.whl"))
    run(venv / "bin" / "pip", "install", "-q", f"{wheel}[otel,llm]", "pytest>=8", cwd=venv)  # pytest: for the plugin
    return venv


def test_the_sdist_and_the_wheel_hold_the_package(built: Path) -> None:
    wheel = next(built.glob("codetracer-*.whl"))
    sdist = next(built.glob("codetracer-*.tar.gz"))
    names = zipfile.ZipFile(wheel).namelist()
    source = sorted(p.relative_to(ROOT / "src").as_posix() for p in (ROOT / "src" / "codetracer").rglob("*.py"))
    missing = [p for p in source if p not in names]
    assert not missing, f"modules left out of the wheel: {missing[:10]}"
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    with tarfile.open(sdist) as tar:
        members = tar.getnames()
    assert any(m.endswith("/pyproject.toml") for m in members) and any(m.endswith("/README.md") for m in members)
    assert any(m.endswith("/src/codetracer/hooks/specs.py") for m in members)


def test_the_installed_wheel_analyzes_the_example_runs_outside_the_checkout(installed: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["CODETRACER_HOME"] = str(tmp_path / "home")
    examples = ROOT / "examples" / "runs"
    out = run(installed / "bin" / "codetracer", "analyze", examples, "--no-store", cwd=tmp_path, env=env).stdout
    assert "failed" in out and "solved" in out, out
    one = run(installed / "bin" / "codetracer", "analyze", examples / "failing.traj.json", "--json", cwd=tmp_path,
              env=env).stdout
    tree = json.loads(one.splitlines()[0])
    assert tree["outcome"] == "failed" and tree["diagnosis"]["onset_step"] is not None
    stored = run(installed / "bin" / "codetracer", "analyze", examples, cwd=tmp_path, env=env).stdout
    assert "codetracer show RUN" in stored
    listed = run(installed / "bin" / "codetracer", "ls", "--json", cwd=tmp_path, env=env).stdout
    assert len([line for line in listed.splitlines() if line.strip()]) == 2
    where = run(installed / "bin" / "python", "-c", "import codetracer; print(codetracer.__file__)", cwd=tmp_path,
                env=env).stdout
    assert str(installed) in where and str(ROOT) not in where, "imported from the install, not the checkout"


def test_the_wheel_declares_every_extra_the_readme_names_and_its_one_lines_import(installed: Path,
                                                                                 tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    code = (
        "import importlib.metadata as m, json, codetracer\n"
        "print(json.dumps({'extras': m.metadata('codetracer').get_all('Provides-Extra'),"
        " 'api': [hasattr(codetracer, n) for n in ('trace', 'langchain', 'auto_retry')]}))"
    )
    found = json.loads(run(installed / "bin" / "python", "-c", code, cwd=tmp_path, env=env).stdout)
    assert set(EXTRAS) <= set(found["extras"]), found["extras"]
    assert all(found["api"]), "the README's one lines name codetracer.trace, codetracer.langchain, auto_retry"
    plugin = run(installed / "bin" / "python", "-m", "pytest", "--help", cwd=tmp_path, env=env)
    assert "--codetracer" in plugin.stdout, "the pytest plugin's entry point reaches pytest"

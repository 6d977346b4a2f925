"""Shared set-up of the SWE-agent integration tests: the real SWE-agent 1.1.0 (installed from ``../shared/vendor`` by
``tox -e integration-sweagent``), its ``local`` deployment, a throwaway git repository, a tracer.

The ``local`` deployment runs the agent's commands on this machine, not in a container, and writes outside the test's
folders: it copies the repository to ``/<repo name>`` and installs its tools under ``/root/tools``,
``/root/state.json``, ``/root/.swe-agent-env`` (the submission goes through ``/root/model.patch``). A second run
fails while those are left, so every test takes :func:`local_deployment`: a lock (suites running side by side on one
machine take turns), a repository name of its own, and the removal of exactly those paths before and after.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # litellm must not fetch its cost map at import
os.environ.setdefault("SWE_AGENT_LOG_STREAM_LEVEL", "WARNING")

# SWE-ReX's fixed 1 s / 0.1 s waits for a command's exit code fail on a loaded machine (see rex_patch/swerex_waits.py):
# lengthened here for this process and, through rex_patch/sitecustomize.py on PYTHONPATH, for `sweagent run`.
REX_PATCH = Path(__file__).resolve().parent / "rex_patch"
sys.path.insert(0, str(REX_PATCH))
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REX_PATCH), os.environ.get("PYTHONPATH")]))

import swerex_waits  # noqa: E402

swerex_waits.install()

import pytest  # noqa: E402

from codetracer.core.tracer import Tracer  # noqa: E402

LEFT_BY_LOCAL_DEPLOYMENT = ("/root/tools", "/root/state.json", "/root/.swe-agent-env", "/root/model.patch")
"""What SWE-agent's ``local`` deployment writes on the host besides the repository copy (``/<repo name>``)."""

CALC_PY = '''\
def mean(values):
    """Arithmetic mean of a non-empty list."""
    return sum(values) / (len(values) - 1)
'''

TEST_CALC_PY = '''\
import calc


def test_mean():
    assert calc.mean([1, 2, 3, 4]) == 2.5
'''


def _remove(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.lexists(path):
        os.unlink(path)


class LeftPaths(list[str]):
    """The extra paths a test's local deployment leaves (its repository copies ``/<name>``), removed afterwards."""

    def clear_host(self) -> None:
        """Remove now what the deployment left, so that a test can run a second agent on the same repository."""
        for path in (*LEFT_BY_LOCAL_DEPLOYMENT, *self):
            _remove(path)


@pytest.fixture
def local_deployment() -> Iterator[LeftPaths]:
    """Serialises SWE-agent's ``local`` deployment across processes and removes what it leaves on the host.

    Yields the list of extra paths to remove afterwards (a test appends its repository copy ``/<name>``)."""
    if not os.access("/", os.W_OK) or not os.access("/root", os.W_OK):
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("SWE-agent's local deployment writes /<repo> and /root/tools: CI must run as root")
        pytest.skip("SWE-agent's local deployment writes /<repo> and /root/tools: needs root")
    lock_path = Path(tempfile.gettempdir()) / "codetracer-swe-agent-local-deployment.lock"
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        for path in LEFT_BY_LOCAL_DEPLOYMENT:
            _remove(path)
        extra = LeftPaths()
        try:
            yield extra
        finally:
            extra.clear_host()


@pytest.fixture
def repo(tmp_path: Path, local_deployment: list[str], monkeypatch: pytest.MonkeyPatch) -> Path:
    """A git repository whose test fails (``mean`` divides by n - 1), under a name no other run uses."""
    folder = tmp_path / f"ctcalc_{uuid.uuid4().hex[:10]}"
    folder.mkdir()
    (folder / "calc.py").write_text(CALC_PY)
    (folder / "test_calc.py").write_text(TEST_CALC_PY)
    (folder / ".gitignore").write_text("__pycache__/\n")  # the submission (git add -A) keeps only the source change
    for command in (["git", "init", "-q"], ["git", "add", "-A"],
                    ["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "start"]):
        subprocess.run(command, cwd=folder, check=True)
    local_deployment.append(f"/{folder.name}")
    # the agent's `python -m pytest` runs in the deployment's shell: it must find this interpreter, which has pytest
    monkeypatch.setenv("PATH", os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    return folder


@pytest.fixture
def tracer(home: Path) -> Iterator[Tracer]:
    tracer = Tracer(home, load_plugins=False)
    yield tracer
    tracer.close()

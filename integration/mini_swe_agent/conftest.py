"""Shared set-up of the mini-swe-agent integration tests: mini's environment variables, a throwaway project, a tracer.

The variables are set here, before any test module imports mini-swe-agent: litellm must not fetch its cost map at
import, and mini must keep its config out of the home folder.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("MSWEA_SILENT_STARTUP", "1")
os.environ.setdefault("MSWEA_GLOBAL_CONFIG_DIR", str(Path(tempfile.gettempdir()) / "codetracer-tests-mswea-config"))

import pytest

from codetracer.core.tracer import Tracer

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


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A throwaway project with the bug the scripted agents fix (or fail to): ``mean`` divides by n - 1."""
    folder = tmp_path / "calc-project"
    folder.mkdir()
    (folder / "calc.py").write_text(CALC_PY)
    (folder / "test_calc.py").write_text(TEST_CALC_PY)
    # the agent's `python -m pytest` must be this interpreter, which has pytest
    monkeypatch.setenv("PATH", os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    return folder


@pytest.fixture
def tracer(home: Path) -> Iterator[Tracer]:
    tracer = Tracer(home, load_plugins=False)
    yield tracer
    tracer.close()

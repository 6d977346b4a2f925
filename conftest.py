"""Fixtures shared by tests/ and integration/. Tests read the real artifacts in ``../shared`` in place.

Outside CI a missing ``../shared`` skips the tests that need it; under ``CI=true`` it is a failure.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent
SHARED = Path(os.environ.get("CODETRACER_SHARED", REPO.parent / "shared"))


@pytest.fixture(scope="session")
def shared() -> Path:
    """The read-only ``../shared`` folder with fixtures, corpora and labeled sets."""
    if not SHARED.is_dir():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"../shared is missing at {SHARED}; CI must have it")
        pytest.skip("../shared is not beside the repository")
    return SHARED


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An isolated CODETRACER_HOME so no test touches the user's store or another test's."""
    folder = tmp_path / "ct-home"
    monkeypatch.setenv("CODETRACER_HOME", str(folder))
    monkeypatch.setenv("CODETRACER_PROJECT", "tests")
    return folder

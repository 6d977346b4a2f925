"""Shared set-up of the OpenHands integration tests: a tracer of their own on the test's ``CODETRACER_HOME``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from codetracer.core.tracer import Tracer


@pytest.fixture
def tracer(home: Path) -> Iterator[Tracer]:
    """No entry-point plugins; closed after the test."""
    tracer = Tracer(home, load_plugins=False)
    yield tracer
    tracer.close()

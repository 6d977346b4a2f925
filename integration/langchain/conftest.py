"""Fixtures of the LangChain / LangGraph integration tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import codetracer


@pytest.fixture
def tracer(home: Path) -> Iterator[codetracer.Tracer]:
    """A tracer of the test's own ``CODETRACER_HOME``, without entry-point plugins."""
    t = codetracer.Tracer(load_plugins=False)
    yield t
    t.close()

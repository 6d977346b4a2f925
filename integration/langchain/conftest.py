"""Fixtures of the LangChain / LangGraph integration tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import codetracer


@pytest.fixture
def tracer(home: Path) -> Iterator[codetracer.Tracer]:
    """A tracer of the test's own ``CODETRACER_HOME``, without entry-point plugins. It keeps the runs that hold
    nothing too (a side chain, a graph whose recording broke): these tests look at every run codetracer records;
    dropping them, the default, is checked in ``test_pytest_plugin_tiny_graphs`` and ``tests/test_tracer.py``."""
    t = codetracer.Tracer(load_plugins=False, keep_empty=True)
    yield t
    t.close()

"""Shared pieces of the extractors' property tests: JSON-ish values to plant in real artifacts, the places to plant
them, and the one promise every extractor makes about what comes back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from codetracer.core.errors import ExtractError
from codetracer.core.extract import Extractor, build_runs
from codetracer.core.model import Run


def jsonish(integers: st.SearchStrategy[int] | None = None, text_size: int = 20) -> st.SearchStrategy[Any]:
    """Any JSON value of a few leaves; ``integers`` narrows numbers to where they hit real ids and indexes."""
    numbers = st.integers() | st.floats(allow_nan=False) if integers is None else integers
    leaves = st.none() | st.booleans() | numbers | st.text(max_size=text_size)
    return st.recursive(
        leaves,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
        max_leaves=8,
    )


def json_slots(node: Any, out: list[tuple[Any, Any]] | None = None) -> list[tuple[Any, Any]]:
    """Every (container, key) in a JSON tree, so a test can replace any value."""
    out = [] if out is None else out
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, value in items:
        out.append((node, key))
        json_slots(value, out)
    return out


def assert_runs_or_extract_error(path: Path, extractor: Extractor, *, within: Path | None = None) -> list[Run]:
    """Bad input gives runs or one :class:`ExtractError` naming the file (inside ``within`` for run folders)."""
    try:
        runs = build_runs(path, extractor)
    except ExtractError as exc:
        assert exc.path == path or exc.path.is_relative_to(within or path)
        return []
    assert all(isinstance(r, Run) for r in runs)
    return runs

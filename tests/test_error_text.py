"""What counts as an error in a step's output: the split patterns of ``first_error`` answer exactly as the single
alternation they replaced (kept here as the reference), on every step output of the real corpora."""

from __future__ import annotations

import re
from pathlib import Path

from codetracer.core.errors import ExtractError
from codetracer.core.extract import build_runs
from codetracer.core.registry import ExtractorRegistry
from codetracer.localize.signals import RunView, first_error

ALTERNATION = re.compile(
    r"Traceback \(most recent call last\)|^\s*\w*(Error|Exception): \S|^E\s+\w+Error|\bFAILED\b|"
    r"command not found|No such file or directory|Segmentation fault|\bfatal:",
    re.M,
)


def _reference(text: str) -> str | None:
    match = ALTERNATION.search(text)
    return match.group(0).strip() if match else None


def test_first_error_answers_as_the_alternation_on_every_real_output(shared: Path) -> None:
    registry = ExtractorRegistry.from_plugins()
    outputs: list[str] = []
    for corpus in ("miniswe-swebench-verified", "atif-terminal-bench-2"):
        for item in registry.discover(shared / "corpora" / corpus):
            assert isinstance(item, tuple), item
            try:
                runs = build_runs(*item, segment=False)
            except ExtractError:  # a trial whose agent wrote no trajectory: nothing to look at
                continue
            for run in runs:
                outputs.extend(RunView(run).outputs)
    assert len(outputs) > 4000
    found = [first_error(text) for text in outputs]
    assert found == [_reference(text) for text in outputs]
    assert sum(f is not None for f in found) > 300, "the corpora's failing outputs are found"


def test_first_error_takes_the_leftmost_kind_and_keeps_line_starts() -> None:
    text = "ok\n\n   ValueError: bad value\nFAILED tests/test_a.py::t\n"
    assert first_error(text) == _reference(text) == "ValueError: b"
    assert first_error("x FAILED\nTraceback (most recent call last)") == "FAILED"
    assert first_error("\rKeyError: 'k'") == _reference("\rKeyError: 'k'") == "KeyError: '"
    assert first_error("mod.ValueError: x") is None is _reference("mod.ValueError: x")
    assert first_error("E\tAssertionError") == _reference("E\tAssertionError") == "E\tAssertionError"
    assert first_error("all good, no problems") is None


def test_first_error_starts_each_pattern_where_it_can_first_match() -> None:
    """Each one-line pattern is searched from the line of its first literal: an earlier mention of the word must
    hide no later error line, and pytest's ``E`` line, whose whitespace may cross lines, is searched from the top."""
    texts = {
        "class MyError(Exception): pass\nx\n  KeyError: 'k'\n": "KeyError: '",
        "a ValueError: x\nTypeError: y": "TypeError: y",
        "Error\nE\n   FooError": "E\n   FooError",
        "note: FAILED\nFAILED t": "FAILED",
    }
    for text, shown in texts.items():
        assert first_error(text) == _reference(text) == shown

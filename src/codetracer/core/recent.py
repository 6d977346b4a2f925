"""The finished trees a live tracer keeps in memory (``tracer.runs``), bounded by count and by size.

A long-lived process traces thousands of runs; every one is in the store, so memory only needs the latest. A count
alone does not bound memory: a coding agent's run with 20 tool outputs of 30 KB holds over half a megabyte, and a
thousand of them most of a gigabyte. So the list also keeps its trees' approximate size under a budget and drops the
oldest first; the newest run is always kept, whatever its size.

The size of a tree is estimated, not measured (measuring Python objects is slow): the characters of its texts
(thoughts, responses, outputs, arguments, messages, errors) plus a fixed cost per step and call for the objects that
hold them (calibrated with ``tracemalloc`` on real trees: within a factor of two of what they take).
"""

from __future__ import annotations

from types import EllipsisType
from typing import Any

from codetracer.core.model import Action, Observation, Run, Text

DEFAULT_RUNS = 1000
DEFAULT_BYTES = 64 * 1024 * 1024
"""64 MiB: about a hundred runs of 20 tool outputs of 30 KB each, thousands of small ones."""

_NODE = 2000
"""Bytes per step, call or message besides its texts (pydantic objects, their dicts and small fields)."""


def _text(text: Text | str | None) -> int:
    if text is None:
        return 0
    return len(text) if isinstance(text, str) else len(text.text)


def _value(value: Any) -> int:
    if isinstance(value, str):
        return len(value)
    if isinstance(value, dict):
        return sum(len(str(k)) + _value(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return sum(_value(v) for v in value)
    return 16


def _action(action: Action | None) -> int:
    if action is None:
        return 0
    edits = sum(_text(e.diff) + _text(e.old) + _text(e.new) for e in action.edits)
    return _value(action.arguments) + _text(action.command) + edits


def _observation(observation: Observation | None) -> int:
    return 0 if observation is None else _NODE // 3 + _text(observation.text)


def run_size(run: Run) -> int:
    """Approximately how many bytes ``run``'s tree holds in memory (see the module docstring)."""
    size = _NODE + _text(run.task) + _value(run.metadata)
    size += sum(_NODE + _text(m.content) for m in run.messages) + sum(len(e.error) for e in run.errors)
    for step in run.steps:
        size += _NODE + _text(step.thought) + sum(len(e.error) for e in step.errors)
        size += sum(_NODE + _text(m.content) for m in step.messages)
        size += sum(_observation(o) for o in step.observations)
        for call in step.calls:
            size += _NODE + _text(call.response) + _action(call.action) + _observation(call.observation)
    if run.verification is not None:
        size += _NODE + _text(run.verification.output)
    return size


class RecentRuns(list[Run]):
    """A list that keeps only the newest runs: at most ``limit`` of them, whose trees together take at most about
    ``max_bytes`` (``None``: no size bound); the newest one always stays."""

    def __init__(self, limit: int = DEFAULT_RUNS, max_bytes: int | None = DEFAULT_BYTES) -> None:
        super().__init__()
        self.limit = limit
        self.max_bytes = max_bytes
        self._sizes: dict[int, int] = {}
        """id(run) -> its estimated size, for the runs in the list."""
        self._total = 0
        """The sum of ``_sizes``: kept up to date by :meth:`append`, so that appending costs the same with a
        thousand runs kept as with one (adding them up again per run made a tracer's writer quadratic)."""

    def append(self, run: Run) -> None:
        if len(self._sizes) != len(self) or id(run) in self._sizes:  # changed by other list methods: count again
            super().append(run)
            self.trim()
            return
        super().append(run)
        size = self._sizes[id(run)] = run_size(run)
        self._total += size
        drop = max(len(self) - self.limit, 0)
        total = self._total - sum(self._sizes[id(old)] for old in self[:drop])
        if self.max_bytes is not None:
            while len(self) - drop > 1 and total > self.max_bytes:
                total -= self._sizes[id(self[drop])]
                drop += 1
        for old in self[:drop]:
            del self._sizes[id(old)]
        super().__delitem__(slice(None, drop))
        self._total = total

    def __delitem__(self, key: Any) -> None:
        """``del runs[i]`` / ``del runs[a:b]`` (the pytest plugin forgets a passing test's runs so) keeps the sizes
        and their total right, so the next :meth:`append` stays cheap instead of counting every tree again."""
        removed = self[key] if isinstance(key, slice) else [self[key]]
        super().__delitem__(key)
        for run in removed:
            size = self._sizes.pop(id(run), None)
            if size is not None:
                self._total -= size

    def keep(self, runs: int | None = None, max_bytes: int | EllipsisType | None = ...) -> None:
        """Change the bounds (``max_bytes=None``: no size bound; left out: unchanged) and apply them now."""
        if runs is not None:
            if runs < 1:
                raise ValueError("a tracer keeps at least its last run in memory (runs >= 1)")
            self.limit = runs
        if max_bytes is not ...:
            self.max_bytes = max_bytes
        self.trim()

    @property
    def nbytes(self) -> int:
        """The estimated size of the trees kept."""
        return sum(self._size(run) for run in self)

    def _size(self, run: Run) -> int:
        size = self._sizes.get(id(run))
        if size is None:  # put in by list methods other than append
            size = self._sizes[id(run)] = run_size(run)
        return size

    def trim(self) -> None:
        """Drop the oldest runs until both bounds hold, counting every size again (the list may have been changed by
        any list method)."""
        if len(self) > self.limit:
            del self[: len(self) - self.limit]
        total = self.nbytes
        if self.max_bytes is not None:
            drop = 0
            while len(self) - drop > 1 and total > self.max_bytes:
                total -= self._size(self[drop])
                drop += 1
            if drop:
                del self[:drop]
        live = {id(run) for run in self}
        for key in [k for k in self._sizes if k not in live]:  # ids of dropped runs may be reused
            del self._sizes[key]
        self._total = sum(self._sizes[id(run)] for run in self)

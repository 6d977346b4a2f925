"""Errors codetracer reports to people: each renders as one clear line."""

from __future__ import annotations

from pathlib import Path


class CodetracerError(Exception):
    """Base class: ``str(error)`` is the one line the CLI prints."""


class ExtractError(CodetracerError):
    """An artifact could not be read: says the file, where in it, and what was expected there."""

    def __init__(self, path: Path | str, problem: str, *, position: str | None = None, expected: str | None = None):
        self.path = Path(path)
        self.problem = problem
        self.position = position
        self.expected = expected
        super().__init__(f"{self.path}: {self.detail}")

    @property
    def detail(self) -> str:
        where = f"{self.position}: " if self.position else ""
        wanted = f" (expected {self.expected})" if self.expected else ""
        return f"{where}{self.problem}{wanted}"


class StoreError(CodetracerError):
    """The store cannot be used (corrupt, locked, full disk ...); nothing stored is touched."""


class NotFound(CodetracerError):
    """A run, step or blob asked for does not exist."""

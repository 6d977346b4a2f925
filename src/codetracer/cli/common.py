"""What the commands share: the store (after recovering orphaned journals), time and JSON output, the terminal."""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from datetime import datetime
from typing import Any

from codetracer.core.errors import CodetracerError


def _store() -> Any:
    """The store, after storing what killed processes left in their journals. Recovery builds trees (pydantic's
    models, the tree builder: most of a short command's start-up), so it is loaded only when there is an orphan."""
    from codetracer.core import config
    from codetracer.core.store_open import open_store

    folder = config.journal_dir()
    try:
        any_journal = folder.is_dir() and next(folder.glob("*.ctj"), None) is not None
    except OSError:  # a home that cannot be entered: recovery has nothing to read, the store says what is wrong
        any_journal = False
    if any_journal:  # then whether one is orphaned
        from codetracer.core.journal import has_orphans

        if has_orphans(folder):
            from codetracer.core.tracer import recover

            recover()
    return open_store(project=config.project())


def _parse_time(text: str) -> float:
    """``2026-11-01``, an ISO timestamp, or a relative ``7d`` / ``12h`` / ``30m``."""
    units = {"d": 86400, "h": 3600, "m": 60}
    if text and text[-1] in units and text[:-1].isdigit():
        return time.time() - int(text[:-1]) * units[text[-1]]
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        raise CodetracerError(f"cannot read time {text!r}: use an ISO date (2026-11-01) or 7d / 12h / 30m") from None


def _emit_json(obj: object) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")


def use_tty(stream: Any) -> bool:
    """Whether ``stream`` is a terminal (a person is watching), tolerating streams without ``isatty``."""
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def use_color(stream: Any) -> bool:
    """Colour only for a person at a terminal: never when piped, with ``NO_COLOR`` set (no-color.org) or TERM=dumb."""
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    return use_tty(stream)


class Progress:
    """One self-overwriting progress line on stderr, and only when stderr is a terminal.

    Logs and CI output stay clean because nothing is drawn when stderr is redirected; other output first calls
    :meth:`clear` so a tree or an error line never lands in the middle of the bar.
    """

    def __init__(self, total: int, label: str, stream: Any = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = total > 1 and use_tty(self.stream)
        self.total, self.label, self.done = total, label, 0
        self._last = 0.0
        self._shown = False

    def advance(self, note: str = "") -> None:
        self.done += 1
        now = time.monotonic()
        if not self.enabled or (now - self._last < 0.1 and self.done < self.total):
            return
        self._last = now
        cells = 24
        filled = cells * self.done // max(self.total, 1)
        bar = "#" * filled + "." * (cells - filled)
        width = shutil.get_terminal_size((100, 20)).columns
        line = f"[{bar}] {self.done}/{self.total} {self.label}  {note}"
        self.stream.write("\r" + line[: width - 1] + "\x1b[K")
        self.stream.flush()
        self._shown = True

    def clear(self) -> None:
        if self._shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._shown = False

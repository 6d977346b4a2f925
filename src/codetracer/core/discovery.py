"""Discovery: the runs under a path, each with the extractor that reads it, and a line for what cannot be read.

Discovery walks folders top-down. A folder an extractor claims as a whole run (an OpenHands conversation, a
terminal-bench trial) is not descended into; otherwise each file is offered to the extractors. Symlinked folders are
followed once: a loop is reported, not walked forever. Which extractor claims what is the caller's ``pick`` (the
registry's, :meth:`~codetracer.core.registry.ExtractorRegistry.pick`).
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from codetracer.core.errors import ExtractError
from codetracer.core.extractor import Candidate, Extractor, load_json, load_jsonl

ARTIFACT_NAME_HINTS = (
    "*.traj.json",
    "*.traj",
    "trajectory.json",
    "output.jsonl",
    "*.cast",
    "steps.json",
    "event-*.json",
)
"""File names that promise a run artifact: in a folder walk, such a file no extractor recognises is reported (it is
probably truncated or corrupt) instead of being skipped like an unrelated file."""
SKIP_DIRS = frozenset({".git", "__pycache__", "node_modules", ".venv", ".tox"})

Pick = Callable[[Candidate], Extractor | None]
"""The extractor that claims a candidate, or ``None``."""


@dataclass
class Failure:
    """A path that could not be read as a run; ``message`` is one clear line."""

    path: Path
    message: str


UNKNOWN = "unknown format: no extractor recognises this content (see `codetracer extractors list`)"
"""Why a file given by name was not read."""


def discover(root: Path, pick: Pick) -> Iterator[tuple[Path, Extractor] | Failure]:
    """Yield ``(path, extractor)`` for each run under ``root`` and a :class:`Failure` for what cannot be read."""
    root = Path(root)
    if not root.exists():
        yield Failure(root, "no such file or folder")
        return
    if root.is_file():
        extractor = pick(Candidate(root, False))
        yield (root, extractor) if extractor else Failure(root, UNKNOWN)
        return
    seen: set[tuple[int, int]] = set()
    yield from _walk(root, pick, seen, explicit=True)


def _walk(
    folder: Path, pick: Pick, seen: set[tuple[int, int]], explicit: bool = False
) -> Iterator[tuple[Path, Extractor] | Failure]:
    try:
        st = folder.stat()
    except OSError as exc:
        yield Failure(folder, f"cannot read folder: {exc.strerror or exc}")
        return
    key = (st.st_dev, st.st_ino)
    if key in seen:
        yield Failure(folder, "symlink loop: this folder was already visited, not walked again")
        return
    seen.add(key)
    extractor = pick(Candidate(folder, True))
    if extractor is not None:
        yield folder, extractor
        return
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as exc:
        yield Failure(folder, f"cannot list folder: {exc.strerror or exc}")
        return
    found_any = False
    for entry in entries:
        if entry.name in SKIP_DIRS or entry.name.startswith("."):
            continue
        path = Path(entry.path)
        try:
            is_dir = entry.is_dir(follow_symlinks=True)
        except OSError:
            yield Failure(path, "cannot stat (broken link?)")
            continue
        if is_dir:
            for item in _walk(path, pick, seen):
                found_any = True
                yield item
        elif entry.is_file(follow_symlinks=True):
            file_extractor = pick(Candidate(path, False))
            if file_extractor is not None:
                found_any = True
                yield path, file_extractor
            elif any(fnmatch.fnmatch(entry.name, hint) for hint in ARTIFACT_NAME_HINTS):
                found_any = True
                yield Failure(path, _why_unreadable(path))
        elif entry.is_symlink():
            yield Failure(path, "broken symlink")
    if explicit and not found_any:
        yield Failure(folder, "no run artifacts found in this folder")


def _why_unreadable(path: Path) -> str:
    """One line on why a file named like a run artifact was not recognised."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        return f"cannot read: {exc.strerror or exc}"
    if size == 0:
        return "empty file (expected a run artifact)"
    if path.suffix in {".json", ".traj", ".jsonl"}:
        try:
            load_jsonl(path) if path.suffix == ".jsonl" else load_json(path)
        except ExtractError as exc:
            return exc.detail
    return "named like a run artifact, but its content matches no known format (see `codetracer extractors`)"

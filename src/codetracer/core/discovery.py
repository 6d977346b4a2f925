"""Discovery: the runs under a path, each with the extractor that reads it, and a line for what cannot be read.

Discovery walks folders top-down. A folder an extractor claims as a whole run (an OpenHands conversation, a
terminal-bench trial) is not descended into; otherwise each file is offered to the extractors. Symlinked folders are
followed once: a loop is reported, not walked forever. Which extractor claims what is the caller's ``pick`` (the
registry's, :meth:`~codetracer.core.registry.ExtractorRegistry.pick`).
"""

from __future__ import annotations

import errno
import fnmatch
import os
import stat
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


_KINDS = {
    stat.S_IFIFO: "a FIFO (named pipe)",
    stat.S_IFSOCK: "a socket",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
}


def _stat_failure(path: Path, exc: OSError) -> str:
    """What a failed ``stat`` of a path given by name means, in words (never "unknown format")."""
    if exc.errno == errno.ELOOP:
        return "symlink loop: the link resolves to itself, or to links that lead back to it"
    if exc.errno == errno.ENOENT:
        try:
            target = os.readlink(path)
        except OSError:
            return "no such file or folder"
        return f"broken symlink (it points to {target}, which does not exist)"
    if exc.errno == errno.EACCES:
        return f"cannot read: {exc.strerror} (a folder on its path cannot be entered, or the file is not readable)"
    return f"cannot read: {exc.strerror or exc}"


def _file_failure(path: Path, st: os.stat_result) -> str | None:
    """Why a path given by name that is not a folder cannot be offered to the extractors, or ``None`` if it can."""
    if not stat.S_ISREG(st.st_mode):  # opening a FIFO to sniff its head would block; a device is no artifact
        kind = _KINDS.get(stat.S_IFMT(st.st_mode), "not a regular file")
        return f"{kind}, not a run artifact (expected a file or a folder of runs)"
    try:
        with open(path, "rb"):
            pass
    except OSError as exc:
        return f"cannot read: {exc.strerror or exc}"
    return None


def names_a_path(path: Path) -> bool:
    """Whether ``path`` names something on disk, even something we may not read (``Path.exists`` raises
    ``PermissionError`` under a folder that cannot be entered); ``False`` only when nothing is there."""
    try:
        os.stat(path)
    except FileNotFoundError:
        return os.path.lexists(path)  # a broken symlink is a path too: discovery says what is wrong with it
    except OSError:
        return True
    return True


def discover(root: Path, pick: Pick) -> Iterator[tuple[Path, Extractor] | Failure]:
    """Yield ``(path, extractor)`` for each run under ``root`` and a :class:`Failure` for what cannot be read."""
    root = Path(root)
    try:
        st = root.stat()
    except OSError as exc:
        yield Failure(root, _stat_failure(root, exc))
        return
    if not stat.S_ISDIR(st.st_mode):
        problem = _file_failure(root, st)
        if problem is not None:
            yield Failure(root, problem)
            return
        extractor = pick(Candidate(root, False))
        yield (root, extractor) if extractor else Failure(root, _why_unknown(root))
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
        except OSError as exc:
            yield Failure(path, _stat_failure(path, exc))
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


def _why_unknown(path: Path) -> str:
    """Why a file given by name matched no format: where its JSON breaks, when it is JSON that breaks (a byte that
    is not UTF-8 at its head hides the format from every detector), else "unknown format"."""
    if path.suffix in {".json", ".traj", ".jsonl"}:
        try:
            load_jsonl(path) if path.suffix == ".jsonl" else load_json(path)
        except ExtractError as exc:
            return exc.detail
    return UNKNOWN


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

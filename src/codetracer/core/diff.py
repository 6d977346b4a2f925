"""Unified diffs: the files a patch changes and the lines it adds and removes.

Used twice: to read a run's *final* patch (the submission, the last ``git diff`` an agent printed) and to read the
patches agents apply (``git apply``, ``patch``, OpenHands/SWE-agent patch actions). Tolerant of what agents produce:
missing ``diff --git`` headers, ``a/``/``b/`` prefixes or not, ``/dev/null`` for new and deleted files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+\d+(?:,\d+)? @@")
_GIT_HEADER = re.compile(r"^diff --git a/(\S+) b/(\S+)")


@dataclass
class FileDiff:
    """One file of a patch: its path (the new name; the old one for a deletion), added and removed lines."""

    path: str
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    new_file: bool = False
    deleted: bool = False


def _strip_prefix(name: str) -> str:
    name = name.split("\t", 1)[0].strip()
    if name.startswith(("a/", "b/")):
        return name[2:]
    return name


def parse_diff(text: str) -> list[FileDiff]:
    """The files of a unified diff, in order; an empty list when ``text`` holds none."""
    if not text or ("+++ " not in text and "diff --git" not in text):
        return []
    files: list[FileDiff] = []
    current: FileDiff | None = None
    old_name: str | None = None
    in_hunk = False
    for line in text.splitlines():
        if in_hunk and current is not None:  # most lines: added, removed or context, told by their first character
            first = line[:1]
            if first == "+":
                current.added.append(line[1:])
                continue
            if first == "-":
                current.removed.append(line[1:])
                continue
            if first == " " or first == "\\":
                continue
        if line.startswith("diff --git "):
            m = _GIT_HEADER.match(line)
            current = FileDiff(path=m.group(2)) if m else None
            if current is not None:
                files.append(current)
            in_hunk = False
            old_name = None
            continue
        if line.startswith("--- ") and not in_hunk:
            old_name = line[4:]
            continue
        if line.startswith("+++ ") and not in_hunk:
            new_name = line[4:].split("\t", 1)[0].strip()
            deleted = new_name == "/dev/null"
            path = _strip_prefix(old_name or "") if deleted else _strip_prefix(new_name)
            if current is None or (current.path != path and current.added + current.removed):
                current = FileDiff(path=path)
                files.append(current)
            else:
                current.path = path
            current.deleted = deleted
            current.new_file = (old_name or "").strip().startswith("/dev/null")
            continue
        if line.startswith("new file mode") and current is not None:
            current.new_file = True
            continue
        if line.startswith("deleted file mode") and current is not None:
            current.deleted = True
            continue
        if _HUNK.match(line):
            in_hunk = True
            continue
        if current is None or not in_hunk:
            continue
        if line.startswith("+"):
            current.added.append(line[1:])
        elif line.startswith("-"):
            current.removed.append(line[1:])
        elif not line.startswith((" ", "\\")) and line:
            in_hunk = False
    return [f for f in files if f.path]


def looks_like_diff(text: str) -> bool:
    """True when ``text`` holds a unified diff with at least one hunk (cheap checks first)."""
    return (("+++ " in text or "diff --git" in text) and "\n@@ " in text) or text.startswith("@@ ")

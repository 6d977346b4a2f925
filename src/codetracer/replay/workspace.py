"""Rolling a workspace back to where an attempt started, for the files touched after the diagnosed onset.

Supported: a local folder (any files under it) and a git working tree (the files git sees: tracked ones plus untracked
ones not ignored, so virtualenvs and build output are never copied). At each attempt's start :class:`Snapshot` keeps
the bytes of every such file (up to ``max_bytes`` in all; beyond that rollback is off for the attempt and says so).
After a failure, :meth:`Snapshot.changed` compares the folder with it and :meth:`Snapshot.restore` puts files back:
changed files get their old content, files the attempt created are removed.

Which files: those the failed attempt changed *and* that the tree ties to the onset or later (an edit's path, or the
file named in a command of a step from the onset on). A changed file the tree mentions only before the onset stays as
it is (the agent's good work before the wrong turn). A changed file the tree never names (a side effect of a build or
a test run) is restored as well, since the tree cannot place it before the onset.

Not supported: remote or container workspaces (OpenHands remote/Docker workspaces, SWE-agent's Docker deployments)
unless their files are mounted in a local folder you pass as ``workspace``.
"""

from __future__ import annotations

import logging
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from codetracer.core.model import Run

log = logging.getLogger("codetracer.replay")

MAX_BYTES = 64 * 1024 * 1024
"""Default limit on the bytes a snapshot keeps."""

SKIP_DIRS = frozenset({".git", ".hg", ".svn", "__pycache__", ".venv", "venv", "node_modules", ".tox", ".mypy_cache",
                       ".pytest_cache", ".ruff_cache"})
"""Folders never snapshotted in a plain (non-git) folder."""


def _git_files(root: Path) -> list[str] | None:
    """Paths git sees in ``root`` (tracked + untracked-not-ignored), or ``None`` when it is no git work tree."""
    if not (root / ".git").exists():
        return None
    try:
        done = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=root,
            capture_output=True,
            timeout=60,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return sorted({p for p in done.stdout.decode("utf-8", "surrogateescape").split("\0") if p})


def _folder_files(root: Path) -> list[str]:
    found: list[str] = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS]
        for name in files:
            path = Path(folder) / name
            if path.is_symlink() or not path.is_file():
                continue
            found.append(path.relative_to(root).as_posix())
    return sorted(found)


@dataclass
class Snapshot:
    """The files of a workspace at one moment (see the module doc for which files)."""

    root: Path
    files: dict[str, bytes] = field(default_factory=dict)
    kind: str = "folder"
    complete: bool = True
    """False when the workspace was too large: then :meth:`restore` refuses to act."""
    exclude: tuple[str, ...] = ()
    """Relative folders left alone (codetracer's own data folder when it lies inside the workspace)."""

    @classmethod
    def take(cls, root: Path | str, *, max_bytes: int = MAX_BYTES, exclude: tuple[Path, ...] = ()) -> Snapshot:
        """Snapshot ``root``; folders in ``exclude`` (e.g. ``$CODETRACER_HOME``) are never snapshotted or restored."""
        base = Path(root).resolve()
        skipped = []
        for folder in exclude:
            try:
                skipped.append(Path(folder).resolve().relative_to(base).as_posix() + "/")
            except ValueError:  # outside the workspace: nothing to skip
                continue
        snap = cls(base, exclude=tuple(skipped))
        listed = _git_files(base)
        snap.kind = "git" if listed is not None else "folder"
        names = snap._keep(listed if listed is not None else _folder_files(base))
        total = 0
        for name in names:
            path = base / name
            try:
                if path.is_symlink() or not path.is_file():
                    continue
                data = path.read_bytes()
            except OSError:
                continue
            total += len(data)
            if total > max_bytes:
                log.warning("codetracer replay: %s holds more than %d bytes; rollback is off for this attempt",
                            base, max_bytes)
                return cls(base, kind=snap.kind, complete=False, exclude=snap.exclude)
            snap.files[name] = data
        return snap

    def _keep(self, names: list[str]) -> list[str]:
        return [n for n in names if not any(n.startswith(prefix) for prefix in self.exclude)]

    def _now(self) -> list[str]:
        listed = _git_files(self.root) if self.kind == "git" else None
        return self._keep(listed if listed is not None else _folder_files(self.root))

    def changed(self) -> list[str]:
        """Files whose content differs from the snapshot, created since, or deleted since (relative paths)."""
        now = set(self._now())
        out: list[str] = []
        for name in sorted(now | set(self.files)):
            path = self.root / name
            old = self.files.get(name)
            try:
                current = path.read_bytes() if path.is_file() else None
            except OSError:
                current = None
            if current != old:
                out.append(name)
        return out

    def restore(self, names: list[str]) -> list[str]:
        """Put ``names`` back as they were; returns the paths restored (created files are deleted)."""
        if not self.complete:
            return []
        done: list[str] = []
        for name in names:
            path = self.root / name
            try:
                if name in self.files:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_bytes(self.files[name])
                elif path.is_file():
                    path.unlink()
                else:
                    continue
            except OSError as exc:
                log.warning("codetracer replay: could not restore %s (%s)", path, exc)
                continue
            done.append(name)
        return done


def _mentions(run: Run, name: str, steps: range) -> bool:
    """Does any action of ``steps`` (1-based ids) name the file ``name`` (relative path, or its basename)?"""
    base = name.rsplit("/", 1)[-1]
    for step_id in steps:
        step = run.step(step_id)
        for action in step.actions:
            for edit in action.edits:
                if edit.path == name or edit.path.endswith("/" + name) or edit.path.rsplit("/", 1)[-1] == base:
                    return True
            texts = [action.command or ""] + [str(v) for v in action.arguments.values()]
            if any(name in t or base in t for t in texts):
                return True
    return False


def files_to_roll_back(snapshot: Snapshot, run: Run, onset: int | None) -> list[str]:
    """The changed files the failed attempt touched at or after ``onset`` (see the module doc for the rule)."""
    changed = snapshot.changed()
    if onset is None or onset <= 1 or not run.steps:
        return changed
    onset = min(onset, len(run.steps))
    before = range(1, onset)
    after = range(onset, len(run.steps) + 1)
    return [name for name in changed if _mentions(run, name, after) or not _mentions(run, name, before)]

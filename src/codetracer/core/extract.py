"""Offline extraction: find runs under a path, pick an extractor by content, and build their trees.

An extractor replays an artifact as trace-event hook calls (through :class:`~codetracer.core.events.Events`); the
:class:`~codetracer.core.builder.TreeBuilder` turns them into trees, exactly as for a live run. Extractors come from
the ``codetracer_register_extractors`` hook, so third parties add formats through entry points.

Discovery walks folders top-down. A folder an extractor claims as a whole run (an OpenHands conversation, a
terminal-bench trial) is not descended into; otherwise each file is offered to the extractors. Symlinked folders are
followed once: a loop is reported, not walked forever.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from codetracer.core.builder import TreeBuilder
from codetracer.core.errors import ExtractError
from codetracer.core.events import Events
from codetracer.core.model import Run

try:  # orjson is a declared dependency; the fallback keeps a broken wheel from breaking analysis
    import orjson

    _loads: Any = orjson.loads
except ImportError:  # pragma: no cover
    _loads = json.loads

HEAD_BYTES = 8192
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


@dataclass
class Candidate:
    """A file or folder offered to extractors, with cheap cached looks at its content."""

    path: Path
    is_dir: bool
    _head: bytes | None = field(default=None, repr=False)

    @cached_property
    def names(self) -> frozenset[str]:
        """Entry names of a folder (empty for files)."""
        if not self.is_dir:
            return frozenset()
        try:
            return frozenset(os.listdir(self.path))
        except OSError:
            return frozenset()

    @property
    def head(self) -> bytes:
        """The first bytes of a file (empty for folders and unreadable files)."""
        if self._head is None:
            if self.is_dir:
                self._head = b""
            else:
                try:
                    with open(self.path, "rb") as fh:
                        self._head = fh.read(HEAD_BYTES)
                except OSError:
                    self._head = b""
        return self._head

    @cached_property
    def head_text(self) -> str:
        return self.head.decode("utf-8", "replace")

    def looks_like_json(self) -> bool:
        return self.head.lstrip()[:1] in (b"{", b"[")


@runtime_checkable
class Extractor(Protocol):
    """An artifact format. Implementations are small classes or modules in :mod:`codetracer.adapters`."""

    name: str
    """Short format name (``"mini-swe-agent"``, ``"swe-agent"``, ...)."""

    def detect(self, candidate: Candidate) -> float:
        """Confidence 0..1 that ``candidate`` is a run of this format, judged from its content, not only its name."""
        ...

    def extract(self, path: Path, events: Events) -> None:
        """Replay the artifact at ``path`` as trace events (one or more runs). Raise :class:`ExtractError` on bad
        input, with the file, position and what was expected."""
        ...


@dataclass
class Failure:
    """A path that could not be read as a run; ``message`` is one clear line."""

    path: Path
    message: str


def load_json(path: Path) -> Any:
    """Parse a JSON file, turning every failure into an :class:`ExtractError` with a position."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ExtractError(path, f"cannot read: {exc.strerror or exc}") from None
    try:
        return _loads(data)
    except ValueError as exc:
        lineno = getattr(exc, "lineno", None)
        colno = getattr(exc, "colno", None)
        msg = getattr(exc, "msg", None) or str(exc).split(":")[0]
        position = f"line {lineno} column {colno}" if lineno else None
        raise ExtractError(
            path, f"invalid JSON ({msg})", position=position, expected="a complete JSON document"
        ) from None


def load_jsonl(path: Path) -> list[Any]:
    """Parse a JSON-lines file; a bad line is reported with its line number."""
    rows = []
    try:
        with open(path, "rb") as fh:
            for lineno, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    rows.append(_loads(line))
                except ValueError:
                    raise ExtractError(
                        path, "invalid JSON line", position=f"line {lineno}", expected="one JSON value per line"
                    ) from None
    except OSError as exc:
        raise ExtractError(path, f"cannot read: {exc.strerror or exc}") from None
    return rows


def stable_run_id(framework: str, path: Path, suffix: str = "") -> str:
    """A run id that stays the same when the same artifact is analysed again.

    The readable part is the artifact's name; the hash of its resolved path tells apart same-named runs.
    """
    resolved = str(path.resolve())
    digest = hashlib.sha1(f"{resolved}#{suffix}".encode()).hexdigest()[:10]
    stem = path.name
    for ext in (".traj.json", ".traj", ".json", ".jsonl"):
        if stem.endswith(ext):
            stem = stem[: -len(ext)]
            break
    stem = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in stem)[:60] or "run"
    return f"{framework}:{stem}{('#' + suffix) if suffix else ''}:{digest}"


class ExtractorRegistry:
    """The extractors known to a plugin manager, queried in order of confidence."""

    def __init__(self, extractors: Iterable[Extractor]) -> None:
        self.extractors = list(extractors)

    @classmethod
    def from_plugins(cls, pm: Any = None) -> ExtractorRegistry:
        if pm is None:
            from codetracer.hooks.manager import get_plugin_manager

            pm = get_plugin_manager()
        found: list[Extractor] = []
        pm.hook.codetracer_register_extractors(register=found.append)
        return cls(found)

    def get(self, name: str) -> Extractor:
        for extractor in self.extractors:
            if extractor.name == name:
                return extractor
        known = ", ".join(sorted(e.name for e in self.extractors)) or "none"
        raise KeyError(f"no extractor named {name!r} (known: {known})")

    def pick(self, candidate: Candidate) -> Extractor | None:
        best: tuple[float, Extractor | None] = (0.0, None)
        for extractor in self.extractors:
            try:
                score = float(extractor.detect(candidate))
            except Exception:  # noqa: BLE001 - a faulty detector must not hide other formats
                continue
            if score > best[0]:
                best = (score, extractor)
        return best[1] if best[0] >= 0.5 else None

    # -- discovery ----------------------------------------------------------------------------------------------------

    def discover(self, root: Path) -> Iterator[tuple[Path, Extractor] | Failure]:
        """Yield ``(path, extractor)`` for each run under ``root`` and a :class:`Failure` for what cannot be read."""
        root = Path(root)
        if not root.exists():
            yield Failure(root, "no such file or folder")
            return
        if root.is_file():
            extractor = self.pick(Candidate(root, False))
            yield (root, extractor) if extractor else Failure(root, self._unknown(root))
            return
        seen: set[tuple[int, int]] = set()
        yield from self._walk(root, seen, explicit=True)

    def _unknown(self, path: Path) -> str:
        return "unknown format: no extractor recognises this content (see `codetracer extractors list`)"

    def _walk(
        self, folder: Path, seen: set[tuple[int, int]], explicit: bool = False
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
        extractor = self.pick(Candidate(folder, True))
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
                for item in self._walk(path, seen):
                    found_any = True
                    yield item
            elif entry.is_file(follow_symlinks=True):
                file_extractor = self.pick(Candidate(path, False))
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


class DirectRelay:
    """Forwards hook calls straight to one plugin's implementations.

    Offline parsing has exactly one consumer, the tree builder, so it skips pluggy's dispatch (several µs per call,
    half the parse time of a corpus) while running the very same builder code a live trace runs.
    """

    __slots__ = ("_plugin",)
    positional = True
    """The builder's hook implementations take their arguments in the spec's order, so
    :class:`~codetracer.core.events.Events` passes them positionally."""

    def __init__(self, plugin: object) -> None:
        self._plugin = plugin

    def __getattr__(self, name: str) -> Any:
        return getattr(self._plugin, name)


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


def build_runs(path: Path, extractor: Extractor, segment: bool = True) -> list[Run]:
    """Run ``extractor`` on ``path`` into a fresh tree builder; return the trees (segmented into stages)."""
    from codetracer.core.derived import derive

    builder = TreeBuilder()
    extractor.extract(path, Events(DirectRelay(builder)))
    builder.finalize_incomplete()
    runs = builder.finished
    if segment:
        for run in runs:
            derive(run)
    return runs


def extract_all(root: Path, registry: ExtractorRegistry | None = None) -> Iterator[Run | Failure]:
    """Every run under ``root`` as a tree, or a :class:`Failure` per unreadable artifact; never raises for bad input."""
    registry = registry or ExtractorRegistry.from_plugins()
    for item in registry.discover(Path(root)):
        if isinstance(item, Failure):
            yield item
            continue
        path, extractor = item
        yield from extract_one(path, extractor)


def extract_one(path: Path, extractor: Extractor) -> Iterator[Run | Failure]:
    """The runs of one artifact, or one :class:`Failure` line; never raises for bad input."""
    try:
        runs = build_runs(path, extractor)
    except ExtractError as exc:
        yield Failure(exc.path, exc.detail)
        return
    except RecursionError:
        yield Failure(path, f"{extractor.name}: input nested too deeply")
        return
    except MemoryError:
        yield Failure(path, f"{extractor.name}: input too large to hold in memory")
        return
    except Exception as exc:  # noqa: BLE001 - one bad file must not stop a batch
        yield Failure(path, f"{extractor.name}: unexpected content ({type(exc).__name__}: {exc})")
        return
    if not runs:
        yield Failure(path, f"{extractor.name}: the artifact holds no run")
    yield from runs


_worker_registry: ExtractorRegistry | None = None
_worker_localizers: dict[str, Any] = {}


def _extract_in_worker(item: tuple[str, str, str | None, bool]) -> list[Run | Failure]:
    global _worker_registry
    if _worker_registry is None:
        _worker_registry = ExtractorRegistry.from_plugins()
    path, name, localizer_name, all_runs = item
    results = list(extract_one(Path(path), _worker_registry.get(name)))
    if localizer_name is not None:
        localizer = _worker_localizers.get(localizer_name)
        if localizer is None:
            from codetracer.core.localize import LocalizerRegistry

            localizer = _worker_localizers[localizer_name] = LocalizerRegistry.from_plugins().get(localizer_name)
        for run in results:
            if localizer is not None and isinstance(run, Run) and (run.outcome.value != "solved" or all_runs):
                run.diagnosis = localizer.localize(run)
    return results


def extract_in_order(
    found: list[tuple[Path, Extractor] | Failure],
    *,
    jobs: int = 1,
    localizer: str | None = None,
    all_runs: bool = False,
) -> Iterator[tuple[tuple[Path, Extractor] | Failure, list[Run | Failure]]]:
    """Each discovered entry with its runs (or its failure), in discovery order.

    With ``jobs > 1`` the artifacts are read by a pool of processes (extractors are looked up by name there, so they
    must come from the plugin registry); trees travel back pickled, which costs far less than building them. With
    ``localizer`` (a registered name) the workers also diagnose the runs that are not solved (all with ``all_runs``);
    serially, diagnosing is left to the caller.
    """
    work = [entry for entry in found if not isinstance(entry, Failure)]
    if jobs <= 1 or len(work) < 2 * jobs:
        for entry in found:
            yield entry, [entry] if isinstance(entry, Failure) else list(extract_one(*entry))
        return
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(min(jobs, len(work))) as pool:
        tasks = [(str(p), e.name, localizer, all_runs) for p, e in work]
        results = pool.map(_extract_in_worker, tasks, chunksize=4)
        for entry in found:
            yield entry, [entry] if isinstance(entry, Failure) else next(results)

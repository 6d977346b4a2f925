"""Offline extraction: an artifact's runs as trees, built by the same tree builder a live run goes through.

An extractor (:class:`~codetracer.core.extractor.Extractor`) replays an artifact as trace-event hook calls; the
:class:`~codetracer.core.builder.TreeBuilder` turns them into trees, exactly as for a live run. Where the pieces live:

* :mod:`codetracer.core.extractor`: what a format implements (``Extractor``, ``Candidate``) and its reading helpers;
* :mod:`codetracer.core.registry`: the extractors plugins contribute (``ExtractorRegistry``);
* :mod:`codetracer.core.discovery`: the runs under a folder, and a line (``Failure``) for what cannot be read;
* this module: the trees of one artifact (:func:`build_runs`, :func:`extract_one`) or of a folder (:func:`extract_all`);
* :mod:`codetracer.core.parallel`: many artifacts read by a pool of processes.

The names of those modules that callers used from here before are importable from here still.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from codetracer.core.builder import TreeBuilder
from codetracer.core.discovery import ARTIFACT_NAME_HINTS, SKIP_DIRS, Failure
from codetracer.core.errors import ExtractError
from codetracer.core.events import DirectRelay, Events
from codetracer.core.extractor import HEAD_BYTES, Candidate, Extractor, load_json, load_jsonl, stable_run_id
from codetracer.core.model import Run
from codetracer.core.registry import ExtractorRegistry

__all__ = [
    "ARTIFACT_NAME_HINTS",
    "HEAD_BYTES",
    "SKIP_DIRS",
    "Candidate",
    "DirectRelay",
    "Extractor",
    "ExtractorRegistry",
    "Failure",
    "build_runs",
    "extract_all",
    "extract_one",
    "load_json",
    "load_jsonl",
    "stable_run_id",
]


def build_runs(path: Path, extractor: Extractor, segment: bool = True) -> list[Run]:
    """Run ``extractor`` on ``path`` into a fresh tree builder; return the trees (segmented into stages)."""
    from codetracer.core.derived import derive

    builder = TreeBuilder()
    extractor.extract(path, Events(DirectRelay(builder)))
    builder.finalize_incomplete()
    runs = builder.finished
    if not _utf8(str(path)):  # the file name's undecodable bytes reached the tree (source path, instance id ...)
        runs = [Run.model_validate(_printable(run.model_dump())) for run in runs]
    if segment:
        for run in runs:
            derive(run)
    return runs


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _printable(value: Any) -> Any:
    """``value`` with every string made UTF-8: a byte of a file name that is not UTF-8 (a lone surrogate in ``str``,
    see :func:`os.fsdecode`) becomes ``\\xff``, so the tree can be stored, printed and exported as JSON."""
    if isinstance(value, str):
        if _utf8(value):
            return value
        try:
            return value.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        except UnicodeEncodeError:
            return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, dict):
        return {_printable(k): _printable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_printable(v) for v in value]
    return value


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

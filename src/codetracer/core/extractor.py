"""What an artifact format implements, and the helpers its extractor reads artifacts with.

An extractor (:class:`Extractor`) recognises its format from a :class:`Candidate`'s content and replays an artifact as
trace-event hook calls (through :class:`~codetracer.core.events.Events`); the tree builder turns them into trees,
exactly as for a live run. Extractors live with their framework in :mod:`codetracer.adapters` and are registered
through the ``codetracer_register_extractors`` hook (:mod:`codetracer.core.registry`); third parties add formats the
same way, through entry points.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from codetracer.core.errors import ExtractError
from codetracer.core.events import Events

try:  # orjson is a declared dependency; the fallback keeps a broken wheel from breaking analysis
    import orjson

    _loads: Any = orjson.loads
except ImportError:  # pragma: no cover
    _loads = json.loads

HEAD_BYTES = 8192


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


def _bad_utf8(data: bytes) -> tuple[int, int, int] | None:
    """Line, column (1-based) and value of the first byte that is not UTF-8 in ``data``, or ``None``.

    orjson reports any such byte as "str is not valid UTF-8: surrogates not allowed" at line 1 column 1, wherever it
    is; the decoder knows the offset."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line_start = data.rfind(b"\n", 0, exc.start) + 1
        column = len(data[line_start : exc.start].decode("utf-8", errors="replace")) + 1
        return data.count(b"\n", 0, exc.start) + 1, column, data[exc.start]
    return None


def load_json(path: Path) -> Any:
    """Parse a JSON file, turning every failure into an :class:`ExtractError` with a position."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ExtractError(path, f"cannot read: {exc.strerror or exc}") from None
    try:
        return _loads(data)
    except ValueError as exc:
        bad = _bad_utf8(data)
        if bad is not None:
            line, column, byte = bad
            raise ExtractError(path, f"byte 0x{byte:02x} is not UTF-8", position=f"line {line} column {column}",
                               expected="JSON text in UTF-8") from None
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
                    bad = _bad_utf8(line)
                    if bad is not None:
                        raise ExtractError(path, f"byte 0x{bad[2]:02x} is not UTF-8",
                                           position=f"line {lineno} column {bad[1]}", expected="JSON text in UTF-8"
                                           ) from None
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
    # os.fsencode: a file name need not be UTF-8 (its undecodable bytes are surrogates in ``str``); for names that
    # are, the bytes -- and so the ids of runs analysed before -- are the same as ``str.encode()``'s
    resolved = os.fsencode(path.resolve())
    digest = hashlib.sha1(resolved + b"#" + os.fsencode(suffix)).hexdigest()[:10]
    stem = path.name
    for ext in (".traj.json", ".traj", ".json", ".jsonl"):
        if stem.endswith(ext):
            stem = stem[: -len(ext)]
            break
    stem = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in stem)[:60] or "run"
    return f"{framework}:{stem}{('#' + suffix) if suffix else ''}:{digest}"

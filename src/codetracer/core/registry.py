"""The extractor registry: the artifact formats contributed through the ``codetracer_register_extractors`` hook.

codetracer's own formats come from its built-in plugin (:mod:`codetracer.plugins`), registered through the
``codetracer`` entry-point group exactly like a third-party plugin's, so this module knows no format itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from codetracer.core.discovery import Failure, discover
from codetracer.core.extractor import Candidate, Extractor


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

    def discover(self, root: Path) -> Iterator[tuple[Path, Extractor] | Failure]:
        """Yield ``(path, extractor)`` for each run under ``root`` and a :class:`Failure` for what cannot be read
        (:func:`codetracer.core.discovery.discover`)."""
        return discover(root, self.pick)

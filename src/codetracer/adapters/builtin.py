"""codetracer's own plugin: registers the built-in extractors and localizers.

Extractor modules are imported only when the registry is asked for, so ``import codetracer`` stays light. Each
module named here exposes ``EXTRACTORS``: a list of objects following :class:`codetracer.core.extract.Extractor`.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from typing import Any

from codetracer.hooks.specs import hookimpl

log = logging.getLogger("codetracer.plugins")

EXTRACTOR_MODULES: tuple[str, ...] = (
    "codetracer.adapters.mini_swe_agent.artifacts",
    "codetracer.adapters.swe_agent.artifacts",
    "codetracer.adapters.openhands.artifacts",
    "codetracer.adapters.terminal_bench.artifacts",
    "codetracer.adapters.atif.artifacts",
    "codetracer.adapters.codetracebench.artifacts",
    "codetracer.adapters.who_and_when.artifacts",
)
"""Modules under :mod:`codetracer.adapters` holding artifact extractors, most specific formats first."""

LOCALIZER_MODULES: tuple[str, ...] = ("codetracer.localize.plugin",)
"""Modules holding failure localizers; each exposes ``LOCALIZERS``."""


def _load(modules: tuple[str, ...], attribute: str, register: Callable[[Any], None]) -> None:
    for name in modules:
        try:
            module = importlib.import_module(name)
        except Exception as exc:  # noqa: BLE001 - one broken module must not hide the others
            log.warning("codetracer could not load %s (%s: %s)", name, type(exc).__name__, exc)
            continue
        for item in getattr(module, attribute, ()):
            register(item)


@hookimpl
def codetracer_register_extractors(register: Callable[[Any], None]) -> None:
    _load(EXTRACTOR_MODULES, "EXTRACTORS", register)
    # declarative specs from $CODETRACER_EXTRACTORS and $CODETRACER_HOME/extractors (see core/mapping.py)
    from codetracer.core.mapping import load_specs

    extractors, errors = load_specs()
    for line in errors:
        log.warning("codetracer skipped an extractor spec: %s", line)
    for extractor in extractors:
        register(extractor)


@hookimpl
def codetracer_register_localizers(register: Callable[[Any], None]) -> None:
    _load(LOCALIZER_MODULES, "LOCALIZERS", register)

"""codetracer's own plugin: the built-in artifact formats, failure localizers and record mappers, by name.

It is advertised in ``pyproject.toml`` as entry point ``builtin`` of group ``codetracer`` and loaded exactly like a
third-party plugin (:meth:`codetracer.hooks.manager.PluginManager.load_entrypoint_plugins`, which registers the
plugins of codetracer's own distribution first): neither the hooks nor the core know any built-in. This module sits
above everything it names and imports none of it up front, so ``import codetracer`` and a plugin manager stay light:
extractor and localizer modules are imported when a registry is first asked for, a record mapper's module when a
run's records are first mapped.

Each extractor module named here exposes ``EXTRACTORS``: a list of objects following
:class:`codetracer.core.extractor.Extractor`; each localizer module exposes ``LOCALIZERS``.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from codetracer.hooks.specs import hookimpl

if TYPE_CHECKING:
    from codetracer.core.model import Diagnosis, Run

log = logging.getLogger("codetracer.plugins")

EXTRACTOR_MODULES: tuple[str, ...] = (
    "codetracer.adapters.mini_swe_agent.artifacts",
    "codetracer.adapters.swe_agent.artifacts",
    "codetracer.adapters.openhands.artifacts",
    "codetracer.adapters.terminal_bench.artifacts",
    "codetracer.adapters.atif.artifacts",
    "codetracer.adapters.claude_code.artifacts",
    "codetracer.adapters.codetracebench.artifacts",
    "codetracer.adapters.who_and_when.artifacts",
)
"""Modules under :mod:`codetracer.adapters` holding artifact extractors, most specific formats first."""

LOCALIZER_MODULES: tuple[str, ...] = ("codetracer.localize.plugin",)
"""Modules holding failure localizers; each exposes ``LOCALIZERS``."""

MAPPERS: dict[str, str] = {
    "mini-swe-agent": "codetracer.adapters.mini_swe_agent.live:MessageMapper",
    "swe-agent": "codetracer.adapters.swe_agent.steps:StepMapper",
    "openhands": "codetracer.adapters.openhands.live:EventMapper",
    "langchain": "codetracer.adapters.langchain.turns:TurnMapper",
    "langgraph": "codetracer.adapters.langchain.graph_turns:GraphMapper",
}
"""Record mappers by the name live adapters journal (``MAPPER`` in each adapter): names stay, modules may move."""

FORMER_MAPPER_NAMES: dict[str, str] = {
    "codetracer.adapters.mini_swe_agent.live:MessageMapper": "mini-swe-agent",
    "codetracer.adapters.openhands.live:EventMapper": "openhands",
    "codetracer.adapters.langchain.turns:TurnMapper": "langchain",
    "codetracer.adapters.langchain.turns:GraphMapper": "langgraph",
}
"""What journals written before mappers had names call them (their module paths then) -> the mapper's name now."""


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


@hookimpl
def codetracer_register_mappers(register: Callable[[str, Any], None]) -> None:
    for name, target in MAPPERS.items():
        register(name, target)
    for former, name in FORMER_MAPPER_NAMES.items():
        register(former, MAPPERS[name])


@hookimpl(trylast=True)
def codetracer_on_failure(run: Run, attempt: int) -> Diagnosis | None:
    """The built-in answer when a run fails: the default localizer's diagnosis (any other plugin's answer wins)."""
    from codetracer.localize.registry import LocalizerRegistry

    found = LocalizerRegistry.from_plugins().get(None)
    return None if found is None else found.localize(run)

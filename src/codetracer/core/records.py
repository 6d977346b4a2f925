"""Record mappers: how a framework's own records (``codetracer_record``) become trace events, later.

A live adapter whose framework hands it whole records (mini-swe-agent's chat messages, OpenHands' serialisable
events) does not need to map them on the agent's thread. It journals each record as it comes and names the mapper
that knows it; the tree builder makes one mapper per run and mapper name and feeds it the run's records in order,
whenever the tree is built (run end on the tracer's writer thread, a snapshot of an open run, crash recovery). The
mapper is usually the very replay the adapter's artifact extractor runs, so the live tree is the artifact's tree.

Mappers are named rather than passed as objects so a journal can be recovered by another process (``codetracer
recover``) that never saw the adapter. The name is a stable one that plugins register
(``codetracer_register_mappers``: ``"mini-swe-agent"``, ``"openhands"``, ...), never the module the mapper lives in,
so moving a mapper does not strand the journals that name it; ``"package.module:Name"`` still works as a name (what
journals written before mappers had names hold, and what a plugin may pass without registering).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # pragma: no cover
    from codetracer.core.events import Events


class RecordMapper(Protocol):
    """Turns one run's records into trace events.

    ``Name(events, run_id)`` makes one; :meth:`feed` gets each record in order; :meth:`close` runs once, before the
    run's ``run_finished`` applies (or when an unfinished run is closed as incomplete).
    """

    def __init__(self, events: Events, run_id: str) -> None: ...

    def feed(self, payload: Any, timestamp: float | None) -> None: ...

    def close(self) -> None: ...


_loaded: dict[str, type[RecordMapper]] = {}


class MapperError(Exception):
    """A mapper name that does not load (recorded in the run as an error; the rest of the tree is kept)."""


def mapper_names() -> dict[str, Any]:
    """The record mappers plugins register, by name: a mapper class or its ``"package.module:Name"``.

    Asked of the process-wide plugin manager's ``codetracer_register_mappers`` hook; when two plugins register one
    name, the first answer pluggy collects (the plugin registered last) is kept.
    """
    from codetracer.hooks.manager import get_plugin_manager

    found: dict[str, Any] = {}
    get_plugin_manager().hook.codetracer_register_mappers(register=found.setdefault)
    return found


def load_mapper(name: str) -> type[RecordMapper]:
    """The mapper class registered as ``name``, or named by it (``"package.module:Name"``), imported once."""
    found = _loaded.get(name)
    if found is not None:
        return found
    target = mapper_names().get(name)
    if target is None and ":" not in name:
        raise MapperError(f"record mapper {name!r} cannot be loaded: no plugin registers a mapper of that name")
    if target is None or isinstance(target, str):
        module_name, _, attr = (target or name).partition(":")
        try:
            target = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError, ValueError) as exc:
            raise MapperError(f"record mapper {name!r} cannot be loaded: {exc}") from None
    _loaded[name] = target
    return target

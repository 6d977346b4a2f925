"""Record mappers: how a framework's own records (``codetracer_record``) become trace events, later.

A live adapter whose framework hands it whole records (mini-swe-agent's chat messages, OpenHands' serialisable
events) does not need to map them on the agent's thread. It journals each record as it comes and names the mapper
that knows it; the tree builder makes one mapper per run and mapper name and feeds it the run's records in order,
whenever the tree is built (run end on the tracer's writer thread, a snapshot of an open run, crash recovery). The
mapper is usually the very replay the adapter's artifact extractor runs, so the live tree is the artifact's tree.

Mappers are named ``"package.module:Name"`` rather than passed as objects so a journal can be recovered by another
process (``codetracer recover``) that never saw the adapter.
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


def load_mapper(name: str) -> type[RecordMapper]:
    """The mapper class named ``"package.module:Name"`` (imported once)."""
    found = _loaded.get(name)
    if found is not None:
        return found
    module_name, _, attr = name.partition(":")
    try:
        found = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError, ValueError) as exc:
        raise MapperError(f"record mapper {name!r} cannot be loaded: {exc}") from None
    _loaded[name] = found
    return found


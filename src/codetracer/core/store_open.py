"""Which store a process writes: a path (embedded SQLite, the default) or a ``postgresql://`` URL.

Why a factory: the tracer, the CLI, recovery and replay each open the store, and all of them must agree on one
choice, made in one place: ``$CODETRACER_STORE`` (or the CLI's ``--store``), else the SQLite file in
``$CODETRACER_HOME``. The PostgreSQL backend and psycopg are imported only when a URL asks for them.
"""

from __future__ import annotations

from pathlib import Path

from codetracer.core import config
from codetracer.core.store_api import RunStore

__all__ = ["PG_SCHEMES", "is_postgres", "open_store", "store_location"]

PG_SCHEMES = ("postgresql://", "postgres://")


def is_postgres(location: str | Path) -> bool:
    """Whether ``location`` names a PostgreSQL server (a URL), not a SQLite file."""
    return isinstance(location, str) and location.lower().startswith(PG_SCHEMES)


def store_location(base: Path | None = None) -> str | Path:
    """The store to use: ``$CODETRACER_STORE`` (a URL, or a path of a SQLite file), else the SQLite file in ``base``
    (default ``$CODETRACER_HOME``)."""
    configured = config.store_setting()
    if configured:
        return configured if is_postgres(configured) else Path(configured).expanduser()
    return config.store_path(base)


def open_store(location: str | Path | None = None, *, project: str | None = None) -> RunStore:
    """The store at ``location`` (default :func:`store_location`) for ``project`` (default ``$CODETRACER_PROJECT``).

    Raises :class:`~codetracer.core.errors.StoreError` in one line: psycopg missing, server unreachable, a file that
    is not a store."""
    where = store_location() if location is None else location
    owner = project or config.project()
    if is_postgres(where):
        from codetracer.core.store_pg import PgStore

        return PgStore(str(where), project=owner)
    from codetracer.core.store import Store

    return Store(Path(where), project=owner)

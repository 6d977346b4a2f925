"""A real PostgreSQL server for the whole session, a fresh database per test, and ``store_backend`` over both backends.

The store tests of ``tests/test_store.py`` that hold for every backend run here on SQLite and on PostgreSQL alike
(``test_store_backends.py``), through the fixture below.
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent.parent / "tests")]

from pgserver import PgServer  # noqa: E402

from codetracer.core.store_api import RunStore  # noqa: E402
from codetracer.core.store_open import open_store  # noqa: E402
from store_backends import SqliteBackend  # noqa: E402

_names = itertools.count()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    server = PgServer()
    server.start()
    try:
        yield server
    finally:
        server.destroy()


@pytest.fixture
def pg_url(pg_server: PgServer) -> str:
    """A new empty database of the session's server."""
    if not pg_server.running():  # a test that stopped it and failed before starting it again
        pg_server.start()
    return pg_server.create_database(f"t{next(_names)}")


class PostgresBackend:
    """Stores as databases of the test server: one name, one database, created on first use."""

    name = "postgres"

    def __init__(self, server: PgServer) -> None:
        self.server = server
        self.prefix = f"t{next(_names)}"
        self.urls: dict[str, str] = {}

    def location(self, name: str = "ct") -> str:
        if name not in self.urls:
            self.urls[name] = self.server.create_database(f"{self.prefix}_{name}".lower())
        return self.urls[name]

    def open(self, name: str = "ct", *, project: str = "default") -> RunStore:
        return open_store(self.location(name), project=project)


@pytest.fixture(params=["sqlite", "postgres"])
def store_backend(request: pytest.FixtureRequest, tmp_path: Path) -> SqliteBackend | PostgresBackend:
    if request.param == "sqlite":
        return SqliteBackend(tmp_path)
    return PostgresBackend(request.getfixturevalue("pg_server"))

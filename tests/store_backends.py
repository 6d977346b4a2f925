"""The store backends the store tests run against: SQLite here; ``integration/postgres`` adds a real PostgreSQL.

A test asks the ``store_backend`` fixture for stores by name (one name, one database: a file here, a database of the
test server there), so the same test body checks both backends' behaviour through the store interface.
"""

from __future__ import annotations

from pathlib import Path

from codetracer.core.store_api import RunStore
from codetracer.core.store_open import open_store


class SqliteBackend:
    """Stores as SQLite files in one folder."""

    name = "sqlite"

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def location(self, name: str = "ct") -> str:
        """What ``open_store`` (or ``CODETRACER_STORE``) takes for database ``name``; another process can open it."""
        return str(self.folder / f"{name}.db")

    def open(self, name: str = "ct", *, project: str = "default") -> RunStore:
        return open_store(self.location(name), project=project)

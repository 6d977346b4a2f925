"""``tests/test_store.py``'s backend tests, run on SQLite and on a real PostgreSQL server (see conftest.py)."""

from __future__ import annotations

import test_store

globals().update({name: getattr(test_store, name) for name in test_store.BACKEND_TESTS})
globals()["_write_runs"] = test_store._write_runs  # the writer processes import it from here under spawn

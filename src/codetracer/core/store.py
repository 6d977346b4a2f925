"""The persistent store: embedded SQLite in WAL mode, safe for several threads and processes writing at once.

A run is stored as its whole tree (compressed JSON, loaded back losslessly) plus indexed columns for listing and a
step table with full-text search. The schema is versioned (``PRAGMA user_version``) and migrated forward on open.
Cross-run memory (failure patterns keyed by project, framework and task kind) lives in the same file.

The store never repairs or replaces a file it cannot read: a corrupt or foreign file is reported and left as it is,
so nothing already stored is lost.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from codetracer.core.errors import StoreError
from codetracer.core.store_api import FailurePattern, RunSummary, StepHit
from codetracer.core.store_rows import STEP_TEXT_LIMIT, EncodedRun
from codetracer.core.store_sql import SqlStore, like_escape

__all__ = ["SCHEMA_VERSION", "STEP_TEXT_LIMIT", "EncodedRun", "FailurePattern", "RunSummary", "StepHit", "Store"]

SCHEMA_VERSION = 2

SEARCH_WINDOW = 2000
"""Matching steps, newest first, that a search ranks by relevance: ranking all of them would cost time in proportion
to the store; this many keeps a search of a common word in 10,000 runs at 10-50 ms."""

MIGRATIONS: dict[int, str] = {
    1: """
    CREATE TABLE runs (
        id TEXT PRIMARY KEY,
        project TEXT NOT NULL,
        framework TEXT NOT NULL,
        task TEXT,
        outcome TEXT NOT NULL,
        exit_status TEXT,
        parent_run_id TEXT,
        started_at REAL,
        ended_at REAL,
        complete INTEGER NOT NULL,
        n_steps INTEGER NOT NULL,
        n_error_steps INTEGER NOT NULL,
        dropped_events INTEGER NOT NULL,
        onset_step INTEGER,
        source TEXT,
        saved_at REAL NOT NULL,
        tree BLOB NOT NULL
    );
    CREATE INDEX runs_framework ON runs(project, framework);
    CREATE INDEX runs_outcome ON runs(project, outcome);
    CREATE INDEX runs_started ON runs(project, started_at);
    CREATE INDEX runs_parent ON runs(parent_run_id);
    CREATE TABLE steps (
        run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        step_id INTEGER NOT NULL,
        stage_kind TEXT,
        agent TEXT,
        tool TEXT,
        command TEXT,
        is_error INTEGER NOT NULL,
        text TEXT NOT NULL,
        PRIMARY KEY (run_id, step_id)
    );
    CREATE TABLE diagnoses (
        run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        localizer TEXT NOT NULL,
        onset_step INTEGER,
        diagnosis TEXT NOT NULL,
        created_at REAL NOT NULL,
        PRIMARY KEY (run_id, localizer)
    );
    CREATE TABLE failure_patterns (
        id INTEGER PRIMARY KEY,
        project TEXT NOT NULL,
        framework TEXT NOT NULL,
        task_kind TEXT NOT NULL,
        signature TEXT NOT NULL,
        evidence TEXT NOT NULL,
        advice TEXT,
        confirmed INTEGER NOT NULL DEFAULT 0,
        seen INTEGER NOT NULL DEFAULT 1,
        first_seen REAL NOT NULL,
        last_seen REAL NOT NULL,
        example_run_id TEXT,
        UNIQUE (project, framework, task_kind, signature)
    );
    CREATE INDEX patterns_lookup ON failure_patterns(project, framework, task_kind);
    """,
    2: """
    ALTER TABLE runs ADD COLUMN confidence REAL;
    CREATE INDEX runs_recent ON runs(project, COALESCE(started_at, saved_at) DESC, id);
    CREATE TABLE steps_v2 (
        seq INTEGER PRIMARY KEY,
        run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        step_id INTEGER NOT NULL,
        stage_kind TEXT,
        agent TEXT,
        tool TEXT,
        command TEXT,
        is_error INTEGER NOT NULL,
        text TEXT NOT NULL,
        UNIQUE (run_id, step_id)
    );
    INSERT INTO steps_v2 (run_id, step_id, stage_kind, agent, tool, command, is_error, text)
        SELECT run_id, step_id, stage_kind, agent, tool, command, is_error, text FROM steps ORDER BY run_id, step_id;
    DROP TABLE steps;
    ALTER TABLE steps_v2 RENAME TO steps;
    CREATE INDEX diagnoses_run ON diagnoses(run_id, created_at);
    """,
}
"""Schema version -> the statements that bring the previous version to it. Version 2: steps get a stable integer key
(``seq``) that the full-text index refers to, so replacing or deleting a run's steps is an index lookup instead of a
scan of the whole index; ``runs_recent`` serves ``ls`` (newest first, paged) from an index; the confidence of the
diagnosis becomes a column."""

_FTS_TABLE = "CREATE VIRTUAL TABLE steps_fts USING fts5(text, content='steps', content_rowid='seq')"
"""The full-text index over ``steps.text``, with no copy of the text (external content): it keeps only the index and
reads snippets from ``steps``."""
_FTS_DELETE = (
    "CREATE TRIGGER IF NOT EXISTS steps_fts_delete AFTER DELETE ON steps BEGIN "
    "INSERT INTO steps_fts (steps_fts, rowid, text) VALUES ('delete', old.seq, old.text); END"
)
"""Steps leave the index with their rows (replaced runs, deleted runs, cascades). New steps are indexed in bulk by
:meth:`Store.save_encoded`, one statement per batch rather than a trigger per row."""

_RUN_COLUMNS = (
    "id, project, framework, task, outcome, exit_status, parent_run_id, started_at, ended_at, complete, n_steps, "
    "n_error_steps, dropped_events, onset_step, confidence, source, saved_at, tree"
)
_INSERT_RUN = f"INSERT OR REPLACE INTO runs ({_RUN_COLUMNS}) VALUES ({','.join('?' * 18)})"
_INSERT_STEP = (
    "INSERT INTO steps (run_id, step_id, stage_kind, agent, tool, command, is_error, text) VALUES (?,?,?,?,?,?,?,?)"
)


class Store(SqlStore):
    """One SQLite database file (a :class:`~codetracer.core.store_api.RunStore`). Each thread gets its own
    connection; every write is one short transaction."""

    def __init__(self, path: Path, *, project: str = "default", timeout: float = 10.0) -> None:
        self.path = Path(path)
        self.project = project
        self.timeout = timeout
        self._local = threading.local()
        self._fts = True
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the store folder {self.path.parent}: {exc.strerror or exc}") from None
        self._migrate()

    # -- connections --------------------------------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None and getattr(self._local, "pid", None) == os.getpid():
            return conn
        try:
            conn = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None, check_same_thread=False)
            self._enter_wal(conn)
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
        except sqlite3.DatabaseError as exc:
            raise self._explain(exc) from None
        self._local.conn = conn
        self._local.pid = os.getpid()
        return conn

    def _enter_wal(self, conn: sqlite3.Connection) -> None:
        """Switch the file to WAL (a persistent setting), retrying while another process holds it.

        SQLite answers ``PRAGMA journal_mode=WAL`` with SQLITE_BUSY at once, without its busy handler, when another
        connection is mid-transaction on a new file: two xdist workers opening one fresh store hit this a third of the
        time. So the switch is retried here, within the same timeout as every other lock wait.
        """
        deadline = time.monotonic() + self.timeout
        pause = 0.001
        while True:
            try:
                if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                    conn.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as exc:
                text = str(exc)
                if ("locked" not in text and "busy" not in text) or time.monotonic() >= deadline:
                    raise
            time.sleep(pause)
            pause = min(pause * 2, 0.05)

    def _explain(self, exc: sqlite3.Error) -> StoreError:
        text = str(exc)
        if "not a database" in text or "malformed" in text or "file is encrypted" in text:
            return StoreError(
                f"the store {self.path} is not a readable codetracer database ({text}); it was left untouched: "
                f"move it aside or point CODETRACER_HOME elsewhere"
            )
        if "locked" in text or "busy" in text:
            return StoreError(f"the store {self.path} stayed locked by another process for {self.timeout:.0f} s")
        if "disk is full" in text or "disk I/O" in text:
            return StoreError(f"the store {self.path} cannot be written: {text} (nothing stored was lost)")
        if "readonly" in text or "unable to open" in text:
            return StoreError(f"the store {self.path} cannot be opened for writing: {text}")
        return StoreError(f"store {self.path}: {text}")

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        conn = self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise self._explain(exc) from None
        try:
            yield conn
        except sqlite3.Error as exc:
            _rollback(conn)
            raise self._explain(exc) from None
        except BaseException:
            _rollback(conn)
            raise
        else:
            try:
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                _rollback(conn)
                raise self._explain(exc) from None

    def _query(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        conn = self._connect()
        conn.row_factory = sqlite3.Row
        try:
            return list(conn.execute(sql, tuple(params)))
        except sqlite3.Error as exc:
            raise self._explain(exc) from None

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        """A read-only query with ``?`` placeholders, rows by column name (:meth:`RunStore.query
        <codetracer.core.store_api.RunStore.query>`)."""
        return self._query(sql, params)

    def _migrate(self) -> None:
        with self._tx() as conn:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"the store {self.path} has schema version {version}, newer than this codetracer knows "
                    f"({SCHEMA_VERSION}); upgrade codetracer"
                )
            for target in range(version + 1, SCHEMA_VERSION + 1):
                for statement in MIGRATIONS[target].split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(f"PRAGMA user_version={target}")
            self._fts = _ensure_fts(conn)

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    # -- runs ---------------------------------------------------------------------------------------------------------

    def save_encoded(self, records: Iterable[EncodedRun]) -> int:
        """Insert or replace runs already encoded (:func:`~codetracer.core.store_rows.encode_run`, which may run in
        another process), all in one transaction: one statement per table for the whole batch, the new steps indexed
        for search by one ``INSERT ... SELECT``. Returns how many runs were written."""
        rows = list(records)
        if not rows:
            return 0
        now = time.time()
        project = self.project
        run_rows = []
        step_rows: list[tuple[object, ...]] = []
        diagnosis_rows = []
        for r in rows:
            run_rows.append(
                (
                    r.id, project, r.framework, r.task, r.outcome, r.exit_status, r.parent_run_id, r.started_at,
                    r.ended_at, int(r.complete), r.n_steps, r.n_error_steps, r.dropped_events, r.onset_step,
                    r.confidence, r.source, now, r.tree,
                )
            )  # fmt: skip
            step_rows.extend((r.id, *step) for step in r.steps)
            if r.diagnosis is not None:
                diagnosis_rows.append((r.id, *r.diagnosis, now))
        with self._tx() as conn:
            # a replaced run's old steps leave the index through the delete trigger, found by (run_id, step_id)
            conn.executemany("DELETE FROM steps WHERE run_id = ?", [(r.id,) for r in rows])
            first = conn.execute("SELECT COALESCE(MAX(seq), 0) FROM steps").fetchone()[0]
            conn.executemany(_INSERT_RUN, run_rows)
            conn.executemany(_INSERT_STEP, step_rows)
            if self._fts and step_rows:
                conn.execute("INSERT INTO steps_fts (rowid, text) SELECT seq, text FROM steps WHERE seq > ?", (first,))
            if diagnosis_rows:
                conn.executemany("INSERT OR REPLACE INTO diagnoses VALUES (?,?,?,?,?)", diagnosis_rows)
        return len(rows)

    def search_steps(self, text: str, *, limit: int = 50) -> list[StepHit]:
        """Steps whose thought, action, observation or messages mention ``text``: the best ``limit`` by relevance
        among the newest :data:`SEARCH_WINDOW` steps that match."""
        if self._fts:
            query = " ".join('"' + word.replace('"', '""') + '"' for word in text.split())
            # Ranking every match grows with the store (0.14-0.24 s for a common word in 10,000 runs); the newest
            # matches come from the index in rowid order, so the window costs the same however large the store is.
            rows = self._query(
                "SELECT s.run_id, s.step_id, snippet(steps_fts, 0, '[', ']', ' ... ', 12) AS snip "
                "FROM steps_fts JOIN steps s ON s.seq = steps_fts.rowid JOIN runs r ON r.id = s.run_id "
                "WHERE steps_fts MATCH ?1 AND r.project = ?2 AND steps_fts.rowid >= (SELECT COALESCE(MIN(rowid), 0) "
                "FROM (SELECT rowid FROM steps_fts WHERE steps_fts MATCH ?1 ORDER BY rowid DESC LIMIT ?4)) "
                "ORDER BY rank LIMIT ?3",
                (query, self.project, limit, SEARCH_WINDOW),
            )
            return [StepHit(r["run_id"], int(r["step_id"]), r["snip"]) for r in rows]
        rows = self._query(
            "SELECT s.run_id, s.step_id, substr(s.text, 1, 200) AS snip FROM steps s JOIN runs r ON r.id = s.run_id "
            "WHERE s.text LIKE ? ESCAPE '\\' AND r.project = ? LIMIT ?",
            ("%" + like_escape(text) + "%", self.project, limit),
        )
        return [StepHit(r["run_id"], int(r["step_id"]), r["snip"]) for r in rows]

    # -- cross-run memory ---------------------------------------------------------------------------------------------

    def remember_pattern(
        self,
        *,
        framework: str,
        task_kind: str,
        signature: str,
        evidence: str,
        advice: str | None = None,
        confirmed: bool = False,
        example_run_id: str | None = None,
    ) -> None:
        """Record (or reinforce) a failure pattern for this project."""
        now = time.time()
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO failure_patterns (project, framework, task_kind, signature, evidence, advice, confirmed, "
                "seen, first_seen, last_seen, example_run_id) VALUES (?,?,?,?,?,?,?,1,?,?,?) "
                "ON CONFLICT (project, framework, task_kind, signature) DO UPDATE SET seen = seen + 1, "
                "last_seen = excluded.last_seen, evidence = excluded.evidence, "
                "advice = COALESCE(excluded.advice, advice), confirmed = MAX(confirmed, excluded.confirmed)",
                (
                    self.project,
                    framework,
                    task_kind,
                    signature,
                    evidence,
                    advice,
                    int(confirmed),
                    now,
                    now,
                    example_run_id,
                ),
            )

def _ensure_fts(conn: sqlite3.Connection) -> bool:
    """Create (or bring to the current layout) the full-text index of steps; ``False`` where SQLite has no FTS5.

    The index of schema version 1 kept its own copy of each text, keyed by an unindexed run id: it is dropped and
    rebuilt from ``steps`` once, inside the migrating transaction."""
    row = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'steps_fts'").fetchone()
    try:
        if row is None or "content=" not in row[0]:
            if row is not None:
                conn.execute("DROP TABLE steps_fts")
            conn.execute(_FTS_TABLE)
            conn.execute("INSERT INTO steps_fts (steps_fts) VALUES ('rebuild')")
        conn.execute(_FTS_DELETE)
    except sqlite3.OperationalError:  # SQLite built without FTS5: search falls back to LIKE
        return False
    return True


def _rollback(conn: sqlite3.Connection) -> None:
    """Roll back if a transaction is still open (SQLite ends some on its own, e.g. on a full disk)."""
    if conn.in_transaction:
        conn.execute("ROLLBACK")

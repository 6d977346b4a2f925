"""What the SQLite and PostgreSQL stores share: the reads and simple writes whose SQL both speak.

Both backends keep the same tables and columns (:mod:`codetracer.core.store` and :mod:`codetracer.core.store_pg`
differ in how they connect, migrate, write a batch and search), so listing, loading, the diagnoses and the failure
memory's reads are written once here, with the backend's placeholder (``?`` or ``%s``) as the only difference.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from codetracer.core.errors import NotFound
from codetracer.core.store_api import FailurePattern, RunSummary
from codetracer.core.store_rows import EncodedRun, encode_run

if TYPE_CHECKING:
    from codetracer.core.model import Diagnosis, Run

__all__ = ["SqlStore", "like_escape"]


class SqlStore:
    """The shared half of a store; a backend provides ``_query``, ``_tx``, ``save_encoded`` and its placeholder."""

    project: str
    _mark = "?"

    def _query(self, sql: str, params: Iterable[Any] = ()) -> Any:  # pragma: no cover - each backend's own
        raise NotImplementedError

    def _tx(self) -> AbstractContextManager[Any]:  # pragma: no cover - each backend's own
        raise NotImplementedError

    def save_encoded(self, records: Iterable[EncodedRun]) -> int:  # pragma: no cover - each backend's own
        raise NotImplementedError

    def save_runs(self, runs: Iterable[Run]) -> int:
        """Insert or replace whole runs in one transaction; returns how many were written."""
        return self.save_encoded([encode_run(run) for run in runs])

    def save_run(self, run: Run) -> None:
        self.save_runs([run])

    def load_run(self, run_id: str) -> Run:
        """The whole tree of ``run_id``; a unique id prefix is enough."""
        m = self._mark
        rows = self._query(f"SELECT tree FROM runs WHERE id = {m} AND project = {m}", (run_id, self.project))
        if not rows:
            rows = self._query(
                f"SELECT tree FROM runs WHERE id LIKE {m} ESCAPE '\\' AND project = {m} LIMIT 2",
                (like_escape(run_id) + "%", self.project),
            )
            if len(rows) > 1:
                raise NotFound(f"run id {run_id!r} is ambiguous: more than one stored run starts with it")
        if not rows:
            raise NotFound(f"no stored run {run_id!r} (see `codetracer ls`)")
        from codetracer.core.model import Run

        return Run.model_validate_json(zlib.decompress(rows[0]["tree"]))

    def list_runs(
        self,
        *,
        framework: str | None = None,
        outcome: str | None = None,
        since: float | None = None,
        until: float | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[RunSummary]:
        """Stored runs, newest first, filtered by framework, outcome and start time; ``limit`` runs from ``offset``
        (a page), read from the ``runs_recent`` index rather than sorting the whole table."""
        m = self._mark
        clauses, params = [f"project = {m}"], [self.project]
        for clause, value in (
            (f"framework = {m}", framework or None),
            (f"outcome = {m}", outcome or None),
            (f"COALESCE(started_at, saved_at) >= {m}", since),
            (f"COALESCE(started_at, saved_at) <= {m}", until),
        ):
            if value is not None:
                clauses.append(clause)
                params.append(value)  # type: ignore[arg-type]
        sql = (
            "SELECT id, framework, outcome, task, started_at, n_steps, n_error_steps, complete, onset_step, source "
            f"FROM runs WHERE {' AND '.join(clauses)} ORDER BY COALESCE(started_at, saved_at) DESC, id"
        )
        if limit:
            sql += f" LIMIT {int(limit)}"
            if offset:
                sql += f" OFFSET {int(offset)}"
        return [
            RunSummary(
                id=r["id"], framework=r["framework"], outcome=r["outcome"], task=r["task"],
                started_at=r["started_at"], n_steps=r["n_steps"], n_error_steps=r["n_error_steps"],
                complete=bool(r["complete"]), onset_step=r["onset_step"], source=r["source"],
            )
            for r in self._query(sql, params)
        ]  # fmt: skip

    def delete_run(self, run_id: str) -> None:
        m = self._mark
        with self._tx() as conn:  # its steps and diagnoses go by cascade (and leave SQLite's index by its trigger)
            conn.execute(f"DELETE FROM runs WHERE id = {m} AND project = {m}", (run_id, self.project))

    def diagnoses(self, run_id: str) -> list[Diagnosis]:
        sql = f"SELECT diagnosis FROM diagnoses WHERE run_id = {self._mark} ORDER BY created_at"
        rows = self._query(sql, (run_id,))
        from codetracer.core.model import Diagnosis

        return [Diagnosis.model_validate_json(r["diagnosis"]) for r in rows]

    def patterns(
        self, *, framework: str | None = None, task_kind: str | None = None, limit: int | None = 20
    ) -> list[FailurePattern]:
        """Failure patterns of this project (of ``framework`` and ``task_kind`` when given), most useful first."""
        m = self._mark
        sql = f"SELECT * FROM failure_patterns WHERE project = {m}"
        params: list[Any] = [self.project]
        if framework is not None:
            sql += f" AND framework = {m}"
            params.append(framework)
        if task_kind is not None:
            sql += f" AND task_kind = {m}"
            params.append(task_kind)
        sql += " ORDER BY confirmed DESC, seen DESC, last_seen DESC, id"
        if limit is not None:
            sql += f" LIMIT {m}"
            params.append(limit)
        return [
            FailurePattern(
                id=int(r["id"]), project=r["project"], framework=r["framework"], task_kind=r["task_kind"],
                signature=r["signature"], evidence=r["evidence"], advice=r["advice"], seen=r["seen"],
                confirmed=bool(r["confirmed"]), example_run_id=r["example_run_id"],
            )
            for r in self._query(sql, params)
        ]  # fmt: skip

    def forget_patterns(self, *, run_id: str | None = None) -> int:
        """Delete this project's patterns (only those learned from ``run_id`` when given); other projects untouched."""
        m = self._mark
        sql = f"DELETE FROM failure_patterns WHERE project = {m}"
        params: list[Any] = [self.project]
        if run_id is not None:
            sql += f" AND example_run_id = {m}"
            params.append(run_id)
        with self._tx() as conn:
            return int(conn.execute(sql, params).rowcount)


def like_escape(text: str) -> str:
    """``text`` matched literally by ``LIKE ... ESCAPE '\\'``."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")

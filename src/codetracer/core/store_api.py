"""What every store backend offers: the rows it hands back and the interface the tracer, the CLI and memory use.

Two backends implement it: :class:`~codetracer.core.store.Store` (embedded SQLite, the default) and
:class:`~codetracer.core.store_pg.PgStore` (a PostgreSQL server shared by many machines);
:func:`~codetracer.core.store_open.open_store` picks one from a path or a URL. Callers name :class:`RunStore`, never a
backend, so a run goes the same way into either.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # `ls`, `search` and `memory` start without pydantic's models
    from codetracer.core.model import Diagnosis, Run
    from codetracer.core.store_rows import EncodedRun

__all__ = ["FailurePattern", "RunStore", "RunSummary", "StepHit"]


@dataclass(frozen=True)
class RunSummary:
    id: str
    framework: str
    outcome: str
    task: str | None
    started_at: float | None
    n_steps: int
    n_error_steps: int
    complete: bool
    onset_step: int | None
    source: str | None


@dataclass(frozen=True)
class StepHit:
    run_id: str
    step_id: int
    snippet: str


@dataclass(frozen=True)
class FailurePattern:
    id: int
    project: str
    framework: str
    task_kind: str
    signature: str
    evidence: str
    advice: str | None
    seen: int
    confirmed: bool
    example_run_id: str | None


class RunStore(Protocol):
    """The store interface. ``project`` scopes every read and write of runs and failure memory."""

    project: str

    def close(self) -> None: ...

    def save_runs(self, runs: Iterable[Run]) -> int: ...

    def save_run(self, run: Run) -> None: ...

    def save_encoded(self, records: Iterable[EncodedRun]) -> int: ...

    def load_run(self, run_id: str) -> Run: ...

    def list_runs(
        self,
        *,
        framework: str | None = None,
        outcome: str | None = None,
        since: float | None = None,
        until: float | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[RunSummary]: ...

    def search_steps(self, text: str, *, limit: int = 50) -> list[StepHit]: ...

    def delete_run(self, run_id: str) -> None: ...

    def diagnoses(self, run_id: str) -> list[Diagnosis]: ...

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
    ) -> None: ...

    def patterns(
        self, *, framework: str | None = None, task_kind: str | None = None, limit: int | None = 20
    ) -> list[FailurePattern]: ...

    def forget_patterns(self, *, run_id: str | None = None) -> int: ...

    def query(self, sql: str, params: Sequence[Any] = ()) -> Sequence[Any]:
        """Rows (read by column name, ``row["id"]``) of a read-only query over ``runs`` in the SQL both backends
        speak, with ``?`` placeholders: what :mod:`codetracer.core.sequences` reads."""
        ...

"""The live tracer: hook calls -> run log + journal -> (writer thread) tree builder -> store (SQLite or PostgreSQL).

On the agent's thread an event costs one hook dispatch, one tuple appended to its run's list and one line copied
into the run's memory-mapped journal (:class:`~codetracer.core.runlog.RunLog`). A finished run's events go through a
bounded queue to a writer thread that builds the tree, maps framework records, segments stages and batches runs
into the store, so neither tree building nor a slow or broken store ever blocks the agent: when the queue is full
the run is left in its journal (counted, with a warning) and stored when the tracer closes or on the next recovery,
never lost. When the store fails (a PostgreSQL server down or unreachable), the runs stay in their journals too and
the writer tries them again with a growing pause (:data:`RETRY_FIRST` to :data:`RETRY_MAX`), without touching the
store in between: once it answers, the runs arrive. At interpreter
exit open runs are closed children-first, marked incomplete, and flushed.
"""

from __future__ import annotations

import atexit
import fcntl
import logging
import os
import queue
import threading
import time
import weakref
from dataclasses import dataclass
from pathlib import Path
from types import EllipsisType

from codetracer.core import config, store_open
from codetracer.core.blobs import BlobStore
from codetracer.core.builder import to_run
from codetracer.core.derived import derive
from codetracer.core.errors import StoreError
from codetracer.core.events import Events
from codetracer.core.journal import Journal, orphaned, project_of, read_ops
from codetracer.core.model import Diagnosis, Outcome, Run
from codetracer.core.recent import DEFAULT_BYTES, DEFAULT_RUNS, RecentRuns
from codetracer.core.runlog import Op, RunLog, build_tree
from codetracer.core.store_api import RunStore
from codetracer.hooks.manager import PluginManager

log = logging.getLogger("codetracer")

_STOP = object()
_PREPARE = object()
_FLUSH = object()
"""Put in the writer's queue by :meth:`Tracer.flush`: store what is gathered now, without waiting out
:data:`SAVE_INTERVAL` for more (someone waits for it)."""
GROW_INTERVAL = 0.1
"""Seconds between the writer's looks at open journals (:meth:`Journal.grow_ahead`), while there are any."""
SAVE_INTERVAL = 0.02
"""Seconds at least between two store transactions of the writer. A run that finishes alone is stored at once; runs
that finish faster than this are gathered and stored together: a transaction costs about 0.3 ms of CPU whatever it
holds, a third of a short run's whole cost to the writer when each run had its own (``benchmarks/run_cost.py``)."""
BATCH_MAX = 256
"""Finished runs stored in one transaction at most."""
RETRY_FIRST = 0.5
"""Seconds the writer waits after a store failure before it tries the store again; each failure doubles it."""
RETRY_MAX = 30.0
"""The longest wait between two tries of a failing store."""


@dataclass(frozen=True)
class _Finished:
    """A run handed to the writer: its events, when it was closed if it never finished, journal lines lost."""

    run_id: str
    ops: list[Op]
    closed_at: float | None
    dropped: int
    size: int


class Tracer:
    """Records live runs. Adapters emit through :attr:`events`; finished trees land in :attr:`runs` and the store.

    :param home: data folder (default ``$CODETRACER_HOME``).
    :param persist: write the journal and the store; ``False`` keeps trees in memory only.
    :param store_location: the store: a SQLite file or a ``postgresql://`` URL (default ``$CODETRACER_STORE``, else
        the SQLite file in ``home``).
    :param queue_size: finished runs waiting for the writer before new ones are deferred to recovery.
    :param queue_bytes: journal bytes of the finished runs waiting for the writer (about the memory their events hold)
        before new ones are deferred to recovery. Either bound defers; a burst of many small runs fits in memory.
    :param keep_runs: finished trees kept in memory, in :attr:`runs` (a long-lived tracer must not grow without
        bound; every run is in the store).
    :param keep_bytes: and at most about this many bytes of them (the oldest go first; ``None``: no size bound). See
        :mod:`codetracer.core.recent`; :meth:`keep` changes both later.
    :param keep_empty: also keep, store and export runs that hold nothing (no step, error or message; see
        :meth:`~codetracer.core.model.Run.holds_nothing`). By default they are dropped once finished, their journal
        deleted, and counted in :attr:`empty_runs`: every ``invoke`` of a graph becomes a run, and most of them, in a
        test suite, are pure state-machine calls.
    :param load_plugins: also register third-party plugins of entry-point group ``codetracer``.
    :param diagnose: diagnose every run that finishes failed, on the writer thread, through the
        ``codetracer_on_failure`` hook (the tracer's plugins first, then the process's: the built-in answer is the
        default localizer), so the stored run carries its diagnosis wherever it is shown. A failing localizer is
        logged and the run is stored without one.
    """

    def __init__(
        self,
        home: Path | str | None = None,
        *,
        persist: bool = True,
        project: str | None = None,
        store_location: str | Path | None = None,
        queue_size: int = 4096,
        queue_bytes: int = 64 * 2**20,
        keep_runs: int = DEFAULT_RUNS,
        keep_bytes: int | None = DEFAULT_BYTES,
        keep_empty: bool = False,
        load_plugins: bool = True,
        diagnose: bool = True,
    ) -> None:
        self.home = Path(home) if home is not None else config.home()
        self.project = project or config.project()
        self.persist = persist
        self.store_location = store_location if store_location is not None else store_open.store_location(self.home)
        self.pm = PluginManager()
        self.blobs = BlobStore(config.blob_dir(self.home)) if persist else None
        self.journal = Journal(config.journal_dir(self.home), project=self.project) if persist else None
        self.builder = RunLog(self._on_finished, self.journal, self.blobs)
        """Open runs: :meth:`~RunLog.open_run_ids`, :meth:`~RunLog.snapshot` (their trees are built on demand)."""
        self.pm.register(self.builder, name="tree-builder")
        if self.journal is not None:
            self.journal.on_opened = self._request_spare
        if load_plugins:
            self.pm.load_entrypoint_plugins()
        self.events = Events(self.pm.relay)
        self.runs: RecentRuns = RecentRuns(keep_runs, keep_bytes)
        """The last runs this tracer finished, in order, within ``keep_runs`` and ``keep_bytes`` (every run is in
        the store)."""
        self.deferred = 0
        """Finished runs left in their journal because the writer queue was full or the store failed (:meth:`close`
        stores them from there)."""
        self.keep_empty = keep_empty
        self.diagnose = diagnose
        self.empty_runs = 0
        """Finished runs that held nothing, dropped (unless ``keep_empty``)."""
        self._deferred_paths: list[Path] = []
        """The journals of the runs behind :attr:`deferred`: :meth:`close` stores them."""
        self.store_error: StoreError | None = None
        """The last store failure (it stays after the store recovers, for whoever asks what happened)."""
        self._retry_at: float | None = None
        """While the store fails: when (monotonic) the writer tries it again; ``None`` when it works."""
        self._retry_pause = RETRY_FIRST
        self._queue: queue.Queue[object] = queue.Queue()  # bounded below, by runs and by bytes
        self._queue_size = queue_size
        self._queue_bytes = queue_bytes
        self._waiting = 0
        """Finished runs handed to the writer and not yet stored."""
        self._waiting_bytes = 0
        """Their journal bytes."""
        self._prepare_queued = False
        self._flush_queued = False
        """A :data:`_FLUSH` waits in the queue (one at a time is enough)."""
        self._handed = 0
        """Finished runs handed to the writer so far; :attr:`_built` of them have their trees built."""
        self._built = 0
        self._settled = threading.Condition(threading.Lock())
        self._writer: threading.Thread | None = None
        self._store: RunStore | None = None
        self._closed = False
        self._lock = threading.Lock()
        _live_tracers.add(self)
        if self.journal is not None:
            self._ensure_writer()  # it prepares the first journal files before any run needs one

    def keep(self, runs: int | None = None, max_bytes: int | EllipsisType | None = ...) -> None:
        """Change how many finished trees :attr:`runs` keeps in memory, and how many bytes of them (``None``: no
        size bound; an argument left out stays as it was)."""
        self.runs.keep(runs, max_bytes)

    # -- finished runs ------------------------------------------------------------------------------------------------

    def _on_finished(self, run_id: str, ops: list[Op], closed_at: float | None) -> None:
        """Runs on the agent's thread: hand the finished run's events to the writer, never wait for it."""
        dropped = self.journal.failures_of(run_id) if self.journal is not None else 0
        size = self.journal.size_of(run_id) if self.journal is not None else 0
        item = _Finished(run_id, ops, closed_at, dropped, size)
        self._ensure_writer()
        # The bound is on memory: runs waiting for the writer hold their events (about their journal's bytes) and
        # nothing else, so a burst of thousands of short runs waits in memory rather than in journals for recovery.
        # A run larger than the whole bound still goes when nothing else waits (or it would only ever be recovered).
        if self._waiting == 0 or (
            self._waiting < self._queue_size and self._waiting_bytes + size <= self._queue_bytes
        ):
            with self._lock:
                self._waiting += 1
                self._waiting_bytes += size
                self._handed += 1
            self._queue.put_nowait(item)
        else:
            if not self.persist:  # nothing to recover from later: build it here rather than lose the run
                self._accept([item])
                return
            self.deferred += 1
            if self.deferred == 1:
                log.warning("codetracer store is behind; finished runs stay in the journal and are stored on recovery")
            assert self.journal is not None
            self._defer(run_id)

    def _build(self, item: _Finished, built: list[Run]) -> None:
        """Build one finished run's tree on the writer thread (a run that cannot be built stays in its journal)."""
        try:
            built.extend(self._accept([item]))
        except Exception:
            log.exception("codetracer could not build run %s; it stays in the journal", item.run_id)
        finally:
            with self._settled:
                self._built += 1
                self._settled.notify_all()

    def _accept(self, items: list[_Finished]) -> list[Run]:
        runs = []
        for item in items:
            node = build_tree(item.ops, self.blobs, closed_at=item.closed_at)
            node["dropped_events"] = node.get("dropped_events", 0) + item.dropped
            run = derive(to_run(node))
            if not self.keep_empty and run.holds_nothing():
                self.empty_runs += 1
                if self.journal is not None:
                    self.journal.close(item.run_id, delete=True)
                continue
            if self.diagnose and run.outcome is Outcome.FAILED and run.diagnosis is None:
                run.diagnosis = self._diagnosis(run)
            self.runs.append(run)
            runs.append(run)
            self._export(run)
        return runs

    def _diagnosis(self, run: Run) -> Diagnosis | None:
        """The on-failure hook's answer for a run that finished failed (writer thread, never the agent's)."""
        return on_failure(run, self.pm)

    def _export(self, run: Run) -> None:
        """Hand the finished tree to ``codetracer_run_completed`` plugins (e.g. OpenTelemetry); each is isolated."""
        self.pm.hook.codetracer_run_completed(run=run)

    def _ensure_writer(self) -> None:
        if self._writer is None:
            with self._lock:
                if self._writer is None and not self._closed:
                    self._writer = threading.Thread(target=self._write_loop, name="codetracer-writer", daemon=True)
                    self._writer.start()

    def store(self) -> RunStore:
        if self._store is None:
            self._store = store_open.open_store(self.store_location, project=self.project)
        return self._store

    def _write_loop(self) -> None:
        """The writer thread: prepares spare journal files, grows open journals ahead of need, validates finished
        trees, segments and stores them."""
        if self.journal is not None:
            self.journal.prepare()
            if store_open.is_postgres(self.store_location):
                self._connect_early()
        stop = grow_failed = False
        last_save = 0.0
        while not stop:
            watching = self.journal is not None and self.journal.open_count() > 0
            wait = GROW_INTERVAL if watching else None
            if self._retry_at is not None:  # the store failed: wake up to try it again
                wait = max(0.0, min(wait or RETRY_MAX, self._retry_at - time.monotonic()))
            try:
                items = [self._queue.get(timeout=wait)]
            except queue.Empty:
                items = []
            if watching:
                assert self.journal is not None
                try:
                    self.journal.grow_ahead()
                except Exception:  # the writer must outlive any journal trouble; said once
                    if not grow_failed:
                        log.exception("codetracer could not grow journals ahead; runs grow their own")
                    grow_failed = True
            built: list[Run] = []
            stop = self._gather(items, last_save + SAVE_INTERVAL, built)
            batch = [item for item in items if isinstance(item, _Finished)]
            if batch:
                try:
                    self._save(built)
                except Exception:
                    log.exception("codetracer writer failed on a batch; its runs stay in the journal")
                finally:
                    last_save = time.monotonic()
                    with self._lock:
                        self._waiting -= len(batch)
                        self._waiting_bytes -= sum(item.size for item in batch)
            if self._retry_at is not None and time.monotonic() >= self._retry_at:
                self._store_deferred()
            for _ in items:
                self._queue.task_done()

    def _gather(self, items: list[object], not_before: float, built: list[Run]) -> bool:
        """Add to ``items`` what waits in the queue, and while they hold a finished run, what comes until
        ``not_before`` (the earliest time for the next transaction); True once told to stop. Each finished run's tree
        is built as it arrives, into ``built`` and :attr:`runs` (:meth:`settle` waits for that, not for the store).
        Spare journals are prepared as soon as asked: a run starting meanwhile must find one ready, or its agent
        creates the file itself (a few hundred µs on the agent's thread)."""
        pending = list(items)
        while True:
            for item in pending:
                if isinstance(item, _Finished):
                    self._build(item, built)
                if item is _STOP:
                    return True
                if item is _FLUSH:
                    self._flush_queued = False
                    return False
                if item is _PREPARE and self.journal is not None:
                    self._prepare_queued = False
                    self.journal.prepare()
            if len(items) >= BATCH_MAX:
                return False
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                wait = not_before - time.monotonic()
                if wait <= 0 or not any(isinstance(i, _Finished) for i in items):
                    return False
                try:
                    item = self._queue.get(timeout=wait)
                except queue.Empty:
                    return False
            items.append(item)
            pending = [item]

    def _request_spare(self) -> None:
        """A run opened its journal: ask the writer for a new spare file, and wake it to watch the journal's size
        (never blocks the agent). One request waits in the queue at a time: runs opening faster than the writer
        prepares must not fill the queue that finished runs need."""
        if self._prepare_queued:
            return
        self._prepare_queued = True
        self._queue.put_nowait(_PREPARE)

    def _save(self, runs: list[Run]) -> None:
        if self.journal is None:
            return
        try:
            if self._retry_at is not None:  # the store failed a moment ago: it is tried again at `_retry_at`
                raise _Waiting
            self.store().save_runs(runs)
        except (StoreError, _Waiting) as exc:
            if isinstance(exc, StoreError):
                self._store_failed(exc)
            self.deferred += len(runs)
            for run in runs:
                self._defer(run.id)
            return
        for run in runs:
            self.journal.close(run.id, delete=True)

    def _connect_early(self) -> None:
        """Open a PostgreSQL store before the first run finishes: loading psycopg, connecting and checking the
        schema take a fraction of a second (seconds when many agents start together on a busy machine), which the
        first runs would otherwise wait for before they arrive. A server that does not answer is tried again later."""
        try:
            self.store()
        except StoreError as exc:
            self._store_failed(exc)

    def _store_failed(self, exc: StoreError) -> None:
        """Note a store failure and when to try again: each failure in a row doubles the pause, up to RETRY_MAX."""
        if self.store_error is None or self._retry_at is None:
            log.warning("codetracer cannot store runs (%s); they stay in the journal and are tried again", exc)
        self.store_error = exc
        pause = self._retry_pause if self._retry_at is not None else RETRY_FIRST
        self._retry_at = time.monotonic() + pause
        self._retry_pause = min(pause * 2, RETRY_MAX)

    # -- lifecycle ----------------------------------------------------------------------------------------------------

    def settle(self, timeout: float = 30.0) -> bool:
        """Wait until every run finished so far has its tree built and in :attr:`runs` (stored or not); False on
        timeout. Cheaper than :meth:`flush` for a caller that only reads :attr:`runs` (the pytest plugin after each
        test): the writer goes on gathering runs into one store transaction instead of one per wait."""
        deadline = time.monotonic() + timeout
        with self._lock:
            target = self._handed
        with self._settled:
            while self._built < target:
                left = deadline - time.monotonic()
                if left <= 0 or self._writer is None or not self._writer.is_alive():
                    return False
                self._settled.wait(min(left, 0.05))
        return True

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until every finished run handed to the writer is stored (or deferred); False on timeout."""
        deadline = time.monotonic() + timeout
        if self._queue.unfinished_tasks and not self._flush_queued:
            self._flush_queued = True  # wake a writer that gathers runs for a later transaction: we wait for them
            try:
                self._queue.put_nowait(_FLUSH)
            except queue.Full:  # the writer is busy anyway; it stores as it goes
                self._flush_queued = False
        done = self._queue.all_tasks_done  # notified by the writer's last task_done: no polling delay per flush
        with done:
            while self._queue.unfinished_tasks:
                left = deadline - time.monotonic()
                if left <= 0 or self._writer is None or not self._writer.is_alive():
                    return False
                done.wait(min(left, 0.05))
        return True

    def close(self) -> None:
        """Close open runs as incomplete, store everything, stop the writer. Idempotent; runs at exit."""
        if self._closed:
            return
        self.builder.finalize_incomplete(time.time())
        with self._lock:
            self._closed = True
            writer = self._writer
        if writer is not None:
            self._queue.put(_STOP)
            writer.join(timeout=30)
        if self.journal is not None:
            self.journal.close_all()
            self._store_deferred()
        if self._store is not None:
            self._store.close()
        _live_tracers.discard(self)

    def _defer(self, run_id: str) -> None:
        """Leave a finished run in its journal (closed, so recovery can take it), and remember where."""
        assert self.journal is not None
        path = self.journal.path_of(run_id)
        self.journal.close(run_id, delete=False)
        if path is not None:
            with self._lock:
                self._deferred_paths.append(path)

    def _store_deferred(self) -> None:
        """Store the finished runs left in their journals (the writer was behind, or the store failed), BATCH_MAX a
        transaction: at close, so a tracer leaves no journal of a finished run behind, and on the writer once a
        failed store is due to be tried again. A store that still fails leaves them there (and the writer waits
        longer before the next try); a journal another process is recovering is left to it."""
        with self._lock:
            paths, self._deferred_paths = self._deferred_paths, []
        while paths:
            batch, paths = paths[:BATCH_MAX], paths[BATCH_MAX:]
            try:
                self._store_journals(batch)
            except Exception as exc:  # noqa: BLE001 - the journals stay for recovery, as they would have anyway
                with self._lock:
                    self._deferred_paths[:0] = batch + paths
                if isinstance(exc, StoreError):
                    self._store_failed(exc)
                else:
                    log.warning("codetracer could not store deferred runs (%s); they stay in their journals", exc)
                return
        self._retry_at = None
        self._retry_pause = RETRY_FIRST

    def _store_journals(self, paths: list[Path]) -> None:
        """Build the runs of these closed journals and store them in one transaction, then delete the journals."""
        held: list[tuple[Path, int]] = []
        try:
            runs = []
            for path in paths:
                try:
                    fd = os.open(path, os.O_RDONLY)
                except OSError:
                    continue  # already recovered by another process
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:  # a `codetracer recover` is storing it right now
                    os.close(fd)
                    continue
                held.append((path, fd))
                ops, torn = read_ops(path)
                node = build_tree(ops, self.blobs)
                node["dropped_events"] = node.get("dropped_events", 0) + torn
                run = derive(to_run(node))
                if not self.keep_empty and run.holds_nothing():
                    self.empty_runs += 1
                    continue
                if self.diagnose and run.outcome is Outcome.FAILED and run.diagnosis is None:
                    run.diagnosis = self._diagnosis(run)
                runs.append(run)
            if runs:
                self.store().save_runs(runs)
            for path, _ in held:
                path.unlink(missing_ok=True)
        finally:
            for _, fd in held:
                os.close(fd)


class _Waiting(Exception):
    """The store failed moments ago and is not due to be tried yet: the batch goes to its journals at once."""


def on_failure(run: Run, pm: PluginManager | None = None) -> Diagnosis | None:
    """The ``codetracer_on_failure`` answer for a failed run: ``pm``'s plugins first (a tracer's own), then the
    process's, which hold the built-in answer (the default localizer). ``None`` when nothing answers or the call
    fails (logged): a run is stored without a diagnosis rather than not at all."""
    from codetracer.hooks.manager import get_plugin_manager

    for manager in (pm, get_plugin_manager()):
        if manager is None:
            continue
        try:
            found = manager.hook.codetracer_on_failure(run=run, attempt=1)
        except Exception:  # the manager's own trouble; plugins are already isolated by their guards
            log.exception("codetracer could not diagnose run %s", run.id)
            return None
        if isinstance(found, Diagnosis):
            return found
    return None


def recover(home: Path | str | None = None, *, project: str | None = None) -> list[Run]:
    """Store the runs of orphaned journals (their process died or the store was unavailable) and delete them.

    Runs that never finished come back closed children-first and marked incomplete. Each run goes to the project of
    the process that traced it (the journal's name says it); ``project`` (default: ``$CODETRACER_PROJECT``) is for
    journals of older versions, which do not say. A journal that cannot be read back or stored stays for the next
    call, and the others go on: ``ls`` beside running agents must not fail on one file. Returns the recovered runs.
    """
    base = Path(home) if home is not None else config.home()
    folder = config.journal_dir(base)
    recovered: list[Run] = []
    stores: dict[str, RunStore] = {}
    blobs = BlobStore(config.blob_dir(base))
    for path, fd in orphaned(folder):
        try:
            ops, torn = read_ops(fd)
            by_run: dict[str, list[Op]] = {}
            for op in ops:  # one run per journal file; grouped all the same, so no event is ever mixed up
                by_run.setdefault(op[1], []).append(op)
            runs = []
            for run_ops in by_run.values():
                node = build_tree(run_ops, blobs)
                node["dropped_events"] = node.get("dropped_events", 0) + torn
                node["metadata"].setdefault("recovered_from_journal", True)
                run = derive(to_run(node))
                if run.outcome is Outcome.FAILED and run.diagnosis is None:
                    run.diagnosis = on_failure(run)
                if not run.holds_nothing():  # a finished run with nothing in it is dropped, as a live tracer does
                    runs.append(run)
            if runs:
                owner = project_of(path) or project or config.project()
                if owner not in stores:
                    stores[owner] = store_open.open_store(store_open.store_location(base), project=owner)
                stores[owner].save_runs(runs)
            path.unlink(missing_ok=True)
            recovered.extend(runs)
        except StoreError:
            raise  # the store itself is unusable: the caller says so in one line, the journals wait
        except Exception:  # one unreadable journal must not hide the others; it stays for a later call
            log.warning("codetracer could not recover %s; it is kept for a later try", path.name, exc_info=True)
        finally:
            os.close(fd)
    return recovered


_live_tracers: weakref.WeakSet[Tracer] = weakref.WeakSet()


@atexit.register
def _close_all_tracers() -> None:
    for tracer in list(_live_tracers):
        try:
            tracer.close()
        except Exception:
            log.exception("codetracer could not close a tracer at exit")

"""The append-only event journal: what makes a killed process lose nothing it traced.

Every trace event of a live run is appended, as one JSON line, to a per-run journal file mapped into memory (see
:class:`_RunJournal`): the line is in the kernel's page cache the moment the hook returns, so a ``kill -9`` right
after the call still finds it in the file, and the agent's thread pays a memory copy, not a system call. The
SQLite store is filled later, off the agent's thread; once a run is safely stored its journal is emptied and kept
as a spare for a later run (or deleted, past :attr:`Journal.KEEP` spares).

A journal whose writer is gone (its ``flock`` is free) is *orphaned*: :func:`~codetracer.core.tracer.recover` reads
its events (:func:`read_ops`) and builds the tree exactly as the live tracer does (:func:`~codetracer.core.runlog.
build_tree`), closing what was open as incomplete, stores the tree and removes the file. A torn last line (the process
died mid-write) is skipped and counted.

A journal's name carries the project of the process writing it (``<uuid>~<project, %-quoted>.ctj``), so a run
recovered by someone else -- ``codetracer ls`` in another project -- is stored where it was traced. Journals of older
versions (``<uuid>.ctj``) have no project and go to the recovering caller's.
"""

from __future__ import annotations

import ctypes
import fcntl
import functools
import inspect
import logging
import mmap
import os
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import orjson

from codetracer.core import ids
from codetracer.hooks import specs

log = logging.getLogger("codetracer.journal")

SUFFIX = ".ctj"
_PROJECT_MARK = "~"
"""Separates the journal's uuid (hex digits) from its project in the file name: the first one is the mark."""
_NAME_MAX = 255
"""The longest file name the common file systems take; a project too long for it is left out of the name."""


def _file_name(project: str | None) -> str:
    """``<uuid>~<project>.ctj``; ``<uuid>.ctj`` without a project, or when the quoted project does not fit."""
    name = ids.hex_id()
    if project is not None:
        tagged = f"{name}{_PROJECT_MARK}{quote(project, safe='')}{SUFFIX}"
        if len(tagged.encode()) <= _NAME_MAX:
            return tagged
    return name + SUFFIX


def project_of(path: Path) -> str | None:
    """The project a journal file was written for (its name says it), or ``None`` for an untagged one."""
    stem = path.name.removesuffix(SUFFIX)
    _, mark, project = stem.partition(_PROJECT_MARK)
    if not mark:
        return None
    try:
        return unquote(project, errors="strict")
    except UnicodeDecodeError:  # not a name this module wrote: treated as untagged
        return None
_DUMP_OPTS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_APPEND_NEWLINE
"""How an event becomes its line: the newline comes from orjson (no second bytes object per event)."""
_DUMP_OPTS_ANY_KEYS = _DUMP_OPTS | orjson.OPT_NON_STR_KEYS
"""The retry for a dict with non-string keys: ``OPT_NON_STR_KEYS`` makes every dump about twice as slow, and the
events adapters send almost never need it."""
_dumps = orjson.dumps
_GIL = getattr(sys, "_is_gil_enabled", lambda: True)()
"""Whether this interpreter runs with the GIL (every build before 3.13, and the default ones after)."""

FIELDS: dict[str, tuple[str, ...]] = {
    name.removeprefix("codetracer_"): tuple(inspect.signature(getattr(specs, name)).parameters)
    for name in (
        "codetracer_run_started",
        "codetracer_run_finished",
        "codetracer_stage_declared",
        "codetracer_step_started",
        "codetracer_step_finished",
        "codetracer_llm_call_started",
        "codetracer_llm_call_finished",
        "codetracer_tool_call_started",
        "codetracer_tool_call_finished",
        "codetracer_call_ended",
        "codetracer_observation",
        "codetracer_message",
        "codetracer_error",
        "codetracer_verification",
        "codetracer_record",
    )
}
"""Journaled event -> the names of the values that follow it on its line (the hook spec's arguments, in order)."""


def _address(mm: mmap.mmap) -> int:
    """Where ``mm`` is mapped now (the buffer export ends at once, so the map can still be resized and closed)."""
    view = ctypes.c_char.from_buffer(mm)
    try:
        return ctypes.addressof(view)
    finally:
        del view


_MADV_POPULATE_WRITE = 23
"""Linux 5.14+: fault pages in writable without writing them (not in Python's ``mmap`` constants before 3.13)."""
_madvise: Any = None


def _populate(address: int, length: int) -> None:
    """Fault ``length`` bytes at ``address`` in, writable; a no-op where the kernel cannot. Called through ctypes,
    which releases the GIL. If the agent's thread resized or closed the map meanwhile, the range is stale: the kernel
    refuses it or populates pages nobody writes, harmless either way."""
    global _madvise
    if _madvise is None:
        if not sys.platform.startswith("linux"):  # advice numbers differ between kernels: 23 is Linux's
            _madvise = False
            return
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            madvise = libc.madvise
            madvise.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
            madvise.restype = ctypes.c_int
            _madvise = madvise
        except (OSError, AttributeError):
            _madvise = False
    if _madvise:
        _madvise(address, length, _MADV_POPULATE_WRITE)


def _default(value: object) -> object:
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return repr(value)


def _no_run(event: tuple[Any, ...]) -> None:
    raise ValueError("journal file not given to a run")


class _RunJournal:
    """One run's journal file, appended to through a shared memory map.

    An append is a memory copy into the page cache -- no system call on the agent's thread -- and the kernel keeps
    those pages and writes them back even when the process is killed right after. Space is reserved with
    ``posix_fallocate`` before it is mapped, so a full disk is an ``OSError`` when growing, never a ``SIGBUS``.
    """

    __slots__ = ("append", "fd", "lock", "mm", "path")
    CHUNK = 64 * 1024
    """The first size of a journal. Preparing a file costs the writer about 1.2 µs per KiB (reserving and faulting
    its pages in, and unmapping them when the run is stored), so a short run's 2-10 KiB of lines should not pay for
    256 KiB. Longer runs are doubled ahead by the writer."""

    RECYCLE_MAX = 4 * CHUNK
    """Largest journal reused for another run once its run is stored (:meth:`recycled`); a larger one is deleted."""

    def __init__(self, fd: int, path: Path, size: int = CHUNK) -> None:
        self.fd = fd
        self.path = path
        self.lock = threading.Lock()
        os.posix_fallocate(fd, 0, size)
        self.mm = mmap.mmap(fd, size)
        self.append: Callable[[tuple[Any, ...]], None] = _no_run
        """Writes one event of the run this file was given to (:meth:`Journal._appender`)."""

    def prefault(self) -> None:
        """Touch every page now, so the agent's appends never take a page fault (on ext4 the first write to a
        reserved page costs tens of microseconds)."""
        with self.lock:
            self.mm[self.pos :] = bytes(len(self.mm) - self.pos)

    def write_locked(self, data: bytes) -> None:
        """Write ``data`` under the lock, growing the file and the map first if it does not fit.

        The common append is one ``mm.write`` without the lock, done by the run's appender
        (:meth:`Journal._appender`): ``mmap.write`` copies at the map's own position and refuses (``ValueError``)
        data that does not fit, and only then comes here. The writer thread usually grew the journal before
        (:meth:`grow_ahead`), so growing here is the fallback.
        """
        with self.lock:
            if self.mm.closed:
                raise ValueError("journal closed")
            try:
                self.mm.write(data)
            except ValueError:
                self._resize(max(2 * len(self.mm), self.mm.tell() + len(data) + self.CHUNK))
                self.mm.write(data)

    def _resize(self, size: int) -> None:
        size = -(-size // mmap.PAGESIZE) * mmap.PAGESIZE  # whole pages: the grown part starts on a page boundary
        os.posix_fallocate(self.fd, 0, size)
        self.mm.resize(size)

    def grow_ahead(self) -> None:
        """Off the agent's thread: once the journal is half full, double it and fault the new pages in, so the agent's
        appends neither wait for the resize nor take a page fault per page (about 3 µs each, 1 µs per KiB written).

        Only the map's resize holds the lock: the file's blocks are reserved before, and the pages faulted in after,
        with ``MADV_POPULATE_WRITE``, which changes no byte and runs without the GIL, in parallel with the agent.
        """
        with self.lock:
            if self.mm.closed or self.mm.tell() * 2 < len(self.mm):
                return
            old = len(self.mm)
        size = 2 * old  # whole pages: a journal starts at CHUNK and _resize rounds up
        os.posix_fallocate(self.fd, 0, size)  # the slow part (milliseconds for large files), outside the lock
        with self.lock:
            if self.mm.closed or len(self.mm) != old:  # closed, or the agent grew it meanwhile
                return
            self.mm.resize(size)
            start = _address(self.mm) + old
        _populate(start, size - old)

    def recycled(self) -> _RunJournal | None:
        """This file, emptied, as a new journal for another run (``None`` if it is too large or already closed).

        Off the agent's thread, once the run is stored. Creating, reserving and pre-faulting a new file and deleting
        the old one cost about 0.7 ms of CPU per run (most of a short run's cost to the writer); this costs about
        0.1 ms. The first byte becomes NUL before anything else, and a journal that starts with NUL reads as empty
        (:func:`read_ops`): if the process dies at any point of this, recovery finds no events, never part of the
        stored run. The file is mapped anew and this map closed, so anything still holding this run's appender
        fails on the closed map (counted) and can never write into the next run's journal.
        """
        with self.lock:
            if self.mm.closed or len(self.mm) > self.RECYCLE_MAX:
                return None
            if os.fstat(self.fd).st_nlink == 0:  # its name is gone (removed by hand): recovery could never see it
                return None
            size = len(self.mm)
            self.mm[0:1] = b"\x00"
            self.mm.close()
            fresh = _RunJournal.__new__(_RunJournal)
            fresh.fd, fresh.path, fresh.lock, fresh.append = self.fd, self.path, threading.Lock(), _no_run
            fresh.mm = mmap.mmap(self.fd, size)
            self.fd = -1  # the file descriptor (and its lock on the file) now belongs to the successor
        fresh.prefault()  # zeroes the rest of the old run's lines, and faults every page in for the next run
        return fresh

    @property
    def pos(self) -> int:
        """Bytes written so far (the map's position)."""
        return self.mm.tell()

    def close(self, *, truncate: bool = True) -> None:
        """Unmap and close; ``truncate`` drops the reserved tail so a kept file ends at its last event (a file about
        to be deleted skips that system call)."""
        with self.lock:
            if self.fd < 0:  # closed before, or handed over to its recycled successor
                return
            try:
                if not self.mm.closed:
                    end = self.mm.tell()
                    self.mm.close()
                    if truncate:
                        os.ftruncate(self.fd, end)
            finally:
                os.close(self.fd)
                self.fd = -1


class Journal:
    """Writes trace events of live runs to ``folder/<uuid>.ctj``; one open, locked file per open run.

    :class:`~codetracer.core.runlog.RunLog` is the hook implementation that calls :meth:`write` for every event.
    """

    SPARES = 2
    """Journal files kept created, reserved and mapped ahead of need (see :meth:`prepare`)."""
    KEEP = 32
    """Spare files kept at most, counting those of stored runs kept for reuse (:meth:`close`): runs that start in a
    burst, faster than the writer prepares files, still find one. The writer stores runs in batches (a transaction
    per 20 ms at most), so a batch's files come back together: with 16, runs 2 ms apart found none a fifth of the
    time (making their own, 0.3 ms on the agent's thread) while a batch's surplus was deleted (0.4 ms each to close);
    32 files of at most 256 KiB hold little (64 KiB each for short runs)."""

    def __init__(self, folder: Path, *, project: str | None = None) -> None:
        self.folder = Path(folder)
        self.project = project
        """Written into every journal's name (:func:`project_of`): recovery stores the run in this project."""
        self._files: dict[str, _RunJournal] = {}
        self._spares: list[_RunJournal] = []
        self._lock = threading.Lock()
        self.write_failures = 0
        self._failures_by_run: dict[str, int] = {}
        self._warned = False
        self.on_opened: Callable[[], None] | None = None
        """Called (on the agent's thread, must be cheap) when a run opened its journal: time to :meth:`prepare` a spare,
        and to watch the journal's size (:meth:`grow_ahead`)."""

    # -- writing ------------------------------------------------------------------------------------------------------

    def _create(self) -> _RunJournal:
        """A new locked, reserved, mapped journal file. Costs a few system calls and, on a busy disk, milliseconds:
        the tracer calls it off the agent's thread through :meth:`prepare` whenever it can.

        Between creating the file and locking it, a recovering process (``codetracer ls`` elsewhere) may find it
        unlocked and empty, take its lock, and delete it as an orphan holding nothing; our lock can then succeed on
        a file with no name, and every run written to it would be invisible to recovery after a kill (with files
        reused run after run, many runs). So a file that lost its name, or whose lock another process holds, is
        given up and another name tried."""
        for attempt in range(3):
            path = self.folder / _file_name(self.project)
            try:
                fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
            except FileNotFoundError:  # the first file (or the folder was removed): a mkdir per file cost 0.2 ms
                self.folder.mkdir(parents=True, exist_ok=True)
                fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                if os.fstat(fd).st_nlink == 0:  # deleted by a recovering process before our lock
                    raise BlockingIOError("journal file deleted before it was locked")
                return _RunJournal(fd, path)
            except BlockingIOError:  # a recovering process has it: it deletes it, we take another name
                os.close(fd)
                if attempt == 2:
                    raise
            except (OSError, ValueError) as exc:
                os.close(fd)
                path.unlink(missing_ok=True)
                raise exc if isinstance(exc, OSError) else OSError(str(exc)) from None
        raise AssertionError("unreachable")

    def prepare(self) -> None:
        """Create spare journal files (off the agent's thread), so that a starting run only takes one from a list."""
        while len(self._spares) < self.SPARES:
            try:
                journal = self._create()
                journal.prefault()
            except OSError:
                return  # the run that needs a file will report the problem
            with self._lock:
                self._spares.append(journal)

    def _open(self, run_id: str) -> _RunJournal | None:
        with self._lock:
            journal = self._files.get(run_id)
            if journal is not None:
                return journal
            spare = self._spares.pop() if self._spares else None
        if spare is not None:
            journal = spare
        else:
            try:
                journal = self._create()
            except OSError as exc:
                self._failed(run_id, exc)
                return None
        journal.append = self._appender(run_id, journal)
        with self._lock:
            raced = self._files.setdefault(run_id, journal)
        if raced is not journal:  # another thread of the same run opened one first: keep ours as a spare
            with self._lock:
                self._spares.append(journal)
        elif self.on_opened is not None:  # now that the writer can see it: a new spare, and watch its size
            self.on_opened()
        return raced

    def open_count(self) -> int:
        """Journals of open runs."""
        return len(self._files)

    def grow_ahead(self) -> None:
        """Off the agent's thread (the tracer's writer, every :data:`GROW_INTERVAL`): grow every open journal that is
        half full before its run needs the room (:meth:`_RunJournal.grow_ahead`)."""
        with self._lock:
            journals = list(self._files.values())
        for journal in journals:
            try:
                journal.grow_ahead()
            except (OSError, ValueError, BufferError) as exc:  # a full disk or a closed map: the agent grows it, or fails
                log.debug("codetracer journal %s not grown ahead: %s", journal.path.name, exc)

    def _failed(self, run_id: str, exc: OSError) -> None:
        self.write_failures += 1
        self._failures_by_run[run_id] = self._failures_by_run.get(run_id, 0) + 1
        if not self._warned:
            self._warned = True
            log.warning("codetracer journal cannot write (%s); tracing continues in memory only", exc)

    def _appender(self, run_id: str, journal: _RunJournal) -> Callable[[tuple[Any, ...]], None]:
        """The function that appends an event of ``run_id`` to ``journal`` as one JSON line: ``[name, *arguments]``,
        the hook's arguments in the order of its spec (:data:`FIELDS`). An array, not an object: no dict to build per
        event, and a shorter line that orjson writes in less than half the time; :func:`read_events` gives the names
        back. What it needs is bound once, so an event looks nothing up (inside a running agent every lookup is a
        cache miss).

        With the GIL, the common append takes no lock: ``mmap.write`` and ``mmap.resize`` are single C calls that
        never release the GIL, so a line can neither interleave with another thread's line nor with the writer
        thread's resize (:meth:`_RunJournal.grow_ahead`). Only a line that does not fit takes the lock, to grow the
        map (the lock orders that against the writer's growth). A free-threaded build takes the lock every time.
        Inside an agent the lock cost about 2 µs per line (measured: ``benchmarks/overhead_langchain.py``).
        """
        mm, failed, locked = journal.mm, self._failed, not _GIL  # the map object stays the same when resized

        def append(event: tuple[Any, ...]) -> None:
            try:
                try:
                    line = _dumps(event, default=_default, option=_DUMP_OPTS)
                except TypeError:  # a dict with non-string keys somewhere (orjson's JSONEncodeError is a TypeError)
                    line = _dumps(event, default=_default, option=_DUMP_OPTS_ANY_KEYS)
                if locked:
                    journal.write_locked(line)
                else:
                    try:
                        mm.write(line)
                    except ValueError:  # it does not fit, or the journal was closed (write_locked says which)
                        journal.write_locked(line)
            except (OSError, TypeError, ValueError) as exc:
                failed(run_id, exc if isinstance(exc, OSError) else OSError(str(exc)))

        return append

    def writer(self, run_id: str) -> Callable[[tuple[Any, ...]], None]:
        """What appends the events of ``run_id`` (its journal opened now): keep it for the run, rather than calling
        :meth:`write`, which finds the run's file on every event. If the file cannot be opened, the function tries
        again on every event and counts each one it could not write."""
        journal = self._files.get(run_id) or self._open(run_id)
        if journal is None:
            return functools.partial(self.write, run_id)
        return journal.append

    def write(self, run_id: str, event: tuple[Any, ...]) -> None:
        """Append one event to its run's journal (see :meth:`writer`)."""
        journal = self._files.get(run_id) or self._open(run_id)
        if journal is not None:
            journal.append(event)

    def failures_of(self, run_id: str) -> int:
        """Events of ``run_id`` the journal could not write (counted, never silent)."""
        return self._failures_by_run.pop(run_id, 0)

    def size_of(self, run_id: str) -> int:
        """Bytes journaled so far for ``run_id`` (0 without an open journal): about what its events hold in memory."""
        journal = self._files.get(run_id)
        return journal.pos if journal is not None and not journal.mm.closed else 0

    def path_of(self, run_id: str) -> Path | None:
        journal = self._files.get(run_id)
        return journal.path if journal else None

    def close(self, run_id: str, *, delete: bool) -> None:
        """Stop journaling ``run_id``; delete the file once its run is safely stored."""
        with self._lock:
            journal = self._files.pop(run_id, None)
        if journal is None:
            return
        if delete and len(self._spares) < self.KEEP:  # reuse the file rather than delete it and create another
            try:
                spare = journal.recycled()
            except (OSError, ValueError, BufferError) as exc:
                log.debug("codetracer journal %s not reused: %s", journal.path.name, exc)
                spare = None
            if spare is not None:
                with self._lock:
                    self._spares.append(spare)
                return
        try:
            if delete:
                journal.path.unlink(missing_ok=True)
        finally:
            journal.close(truncate=not delete)

    def close_all(self) -> None:
        """Close every run's journal (kept for recovery) and remove the unused spares."""
        for run_id in list(self._files):
            self.close(run_id, delete=False)
        with self._lock:
            spares, self._spares = self._spares, []
        for journal in spares:
            try:
                journal.path.unlink(missing_ok=True)
            finally:
                journal.close()


# ----------------------------------------------------------------------------------------------------------------------
# Reading and recovery
# ----------------------------------------------------------------------------------------------------------------------


def _read_fd(fd: int) -> bytes:
    """The whole file behind ``fd``, read from its start without moving the descriptor (no second open by path)."""
    chunks, offset = [], 0
    while chunk := os.pread(fd, 1 << 20, offset):
        chunks.append(chunk)
        offset += len(chunk)
    return b"".join(chunks)


def read_ops(path: Path | int) -> tuple[list[tuple[Any, ...]], int]:
    """The events of one journal file as ``(name, *arguments)`` tuples (what the live run log keeps, see
    :mod:`codetracer.core.runlog`), and the number of torn or unreadable lines skipped.

    ``path`` may be an open descriptor: recovery reads the very file it holds the lock of, since by path it may
    already be gone (stored and deleted by its writer) or be another file."""
    ops: list[tuple[Any, ...]] = []
    skipped = 0
    if isinstance(path, int):
        data = _read_fd(path)
    else:
        with open(path, "rb") as fh:
            data = fh.read()
    data = data.rstrip(b"\x00")  # a killed writer leaves its reserved, never-written tail as zeros
    if data[:1] == b"\x00":  # a file being emptied for reuse (_RunJournal.recycled): its run is stored
        return ops, 0
    for line in data.splitlines():
        try:
            event = orjson.loads(line)
        except orjson.JSONDecodeError:
            skipped += 1
            continue
        if isinstance(event, list) and event and event[0] in FIELDS and len(event) == len(FIELDS[event[0]]) + 1:
            ops.append(tuple(event))
        elif isinstance(event, dict) and event.get("event") in FIELDS:  # older journals: one object per line
            name = event["event"]
            ops.append((name, *(event.get(field) for field in FIELDS[name])))
        else:
            skipped += 1
    return ops, skipped


def read_events(path: Path) -> tuple[list[dict[str, Any]], int]:
    """The events of one journal file as dicts (``{"event": name, argument: value, ...}``), and the lines skipped."""
    ops, skipped = read_ops(path)
    return [{"event": op[0], **dict(zip(FIELDS[op[0]], op[1:], strict=True))} for op in ops], skipped


def has_orphans(folder: Path) -> bool:
    """Whether any journal in ``folder`` waits for recovery (its writer is gone): a check for the commands that read
    the store, so they load the tree builder only when there is something to recover."""
    for _path, fd in orphaned(folder):
        os.close(fd)
        return True
    return False


def orphaned(folder: Path) -> Iterator[tuple[Path, int]]:
    """Journal files whose writer is gone, each yielded with its lock held (fd); the caller closes the fd and reads
    the file through it (:func:`read_ops` takes the fd).

    Between opening a file and locking it, its writer may have stored the run, deleted the file and let go of the
    lock (it deletes before it unlocks); so may another process recovering at the same time. Such a file has no
    name any more once the lock is ours, and is skipped: its run is stored already.
    """
    try:
        paths = sorted(folder.glob(f"*{SUFFIX}")) if folder.is_dir() else []
    except OSError:  # a folder that cannot be listed holds nothing we could recover either
        return
    for path in paths:
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:  # gone already, or not ours to read
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if os.fstat(fd).st_nlink == 0:
                os.close(fd)
                continue
        except OSError:  # a live process still writes it
            os.close(fd)
            continue
        yield path, fd

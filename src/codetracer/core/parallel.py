"""Many artifacts at once: read (and optionally diagnosed) by a pool of processes, handed back in discovery order.

Workers look extractors and localizers up by their registered names (the ``codetracer_register_extractors`` and
``codetracer_register_localizers`` hooks of the process-wide plugin manager), so both must come from plugins; trees
travel back pickled, which costs far less than building them.
"""

from __future__ import annotations

import gc
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from codetracer.core.discovery import Failure
from codetracer.core.extract import extract_one
from codetracer.core.extractor import Extractor
from codetracer.core.model import Run
from codetracer.core.registry import ExtractorRegistry
from codetracer.core.store_rows import EncodedRun, encode_run

IN_FLIGHT_PER_WORKER = 8
"""Artifacts handed to each worker ahead of the caller: enough to keep the workers busy while the caller stores and
prints, few enough that results waiting for a slow caller hold memory for a handful of runs, not for the corpus."""

_worker_registry: ExtractorRegistry | None = None
_worker_localizers: dict[str, Any] = {}

WORKER_GC_THRESHOLD = 10_000
"""Container allocations between two young collections in a worker (Python's default is 700)."""


def _start_worker() -> ExtractorRegistry:
    """The worker's extractors, looked up on its first artifact; then the garbage collector is told what it need
    not walk. Everything alive by then (modules, pydantic's schemas, the plugins) lives as long as the worker, and a
    run allocates tens of thousands of objects that reference counting frees together when the run is done: with
    the defaults, collections walked them over and over, about 4 % of a worker's CPU on the mini-swe-agent corpus
    (0.386 -> 0.369 s per 100 runs). Only the worker processes, which do nothing else, are tuned."""
    registry = ExtractorRegistry.from_plugins()
    gc.freeze()
    gc.set_threshold(WORKER_GC_THRESHOLD, *gc.get_threshold()[1:])
    return registry


def _extract_in_worker(item: tuple[str, str, str | None, bool, bool]) -> list[Run | EncodedRun | Failure]:
    global _worker_registry
    if _worker_registry is None:
        _worker_registry = _start_worker()
    path, name, localizer_name, all_runs, encode = item
    results = list(extract_one(Path(path), _worker_registry.get(name)))
    if localizer_name is not None:
        localizer = _worker_localizers.get(localizer_name)
        if localizer is None:
            localizer = _worker_localizers[localizer_name] = _registered_localizer(localizer_name)
        for run in results:
            if localizer is not None and isinstance(run, Run) and (run.outcome.value != "solved" or all_runs):
                run.diagnosis = localizer.localize(run)
    if encode:  # the store's rows, built here in parallel; a tree travels back compressed, not as objects
        return [encode_run(r) if isinstance(r, Run) else r for r in results]
    return list(results)


def _registered_localizer(name: str) -> Any:
    """The localizer registered as ``name`` (the caller checked the name against the same registrations)."""
    from codetracer.hooks.manager import get_plugin_manager

    found: list[Any] = []
    get_plugin_manager().hook.codetracer_register_localizers(register=found.append)
    for localizer in found:
        if localizer.name == name:
            return localizer
    raise KeyError(f"no localizer named {name!r}")


def extract_in_order(
    found: list[tuple[Path, Extractor] | Failure],
    *,
    jobs: int = 1,
    localizer: str | None = None,
    all_runs: bool = False,
    encode: bool = False,
) -> Iterator[tuple[tuple[Path, Extractor] | Failure, list[Run | EncodedRun | Failure]]]:
    """Each discovered entry with its runs (or its failure), in discovery order.

    With ``jobs > 1`` the artifacts are read by a pool of processes (extractors are looked up by name there, so they
    must come from the plugin registry); trees travel back pickled, which costs far less than building them. With
    ``localizer`` (a registered name) the workers also diagnose the runs that are not solved (all with ``all_runs``);
    serially, diagnosing is left to the caller. With ``encode`` the workers hand back each run as the rows a store
    writes (:class:`~codetracer.core.store_rows.EncodedRun`) instead of its tree, so the caller only inserts them;
    serially, runs come back as trees whatever ``encode`` says. At most :data:`IN_FLIGHT_PER_WORKER` artifacts per
    worker are ahead of the caller, so memory stays bounded by a few runs however large the corpus.
    """
    work = [entry for entry in found if not isinstance(entry, Failure)]
    if jobs <= 1 or len(work) < 2 * jobs:
        for entry in found:
            yield entry, [entry] if isinstance(entry, Failure) else list(extract_one(*entry))
        return
    from concurrent.futures import ProcessPoolExecutor

    workers = min(jobs, len(work))
    with ProcessPoolExecutor(workers) as pool:
        tasks = iter([(str(p), e.name, localizer, all_runs, encode) for p, e in work])
        pending: deque[Any] = deque()

        def submit() -> None:
            task = next(tasks, None)
            if task is not None:
                pending.append(pool.submit(_extract_in_worker, task))

        for _ in range(workers * IN_FLIGHT_PER_WORKER):
            submit()
        for entry in found:
            if isinstance(entry, Failure):
                yield entry, [entry]
                continue
            result = pending.popleft().result()
            submit()
            yield entry, result

"""CPU one ``codetracer analyze`` worker spends per run: extract, diagnose the failed runs, encode the store's rows.

    .venv/bin/python benchmarks/worker_cpu.py [--corpus ../shared/corpora/miniswe-swebench-verified] [--rounds 7]

The artifacts go through the worker's own function (``core/parallel.py``, ``_extract_in_worker``), serially, in this
one process: the first pass warms up (imports, the worker's start-up, regex compilation), then each round is timed
as process CPU time (the machine is shared: wall time moves with other people's jobs, CPU time much less). Caches
that outlive a run (the stage kinds of step texts) are emptied before each round, so no round reads a run it has
seen. Prints the median and the spread, per 100 runs.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from codetracer.core.discovery import Failure
from codetracer.core.parallel import _extract_in_worker
from codetracer.core.registry import ExtractorRegistry
from codetracer.core.stages import _classify_text

REPO = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default=str(REPO.parent / "shared/corpora/miniswe-swebench-verified"))
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    found = ExtractorRegistry.from_plugins().discover(Path(args.corpus))
    tasks = [
        (str(path), extractor.name, "signals", False, True)
        for path, extractor in (item for item in found if not isinstance(item, Failure))
    ]
    if not tasks:
        raise SystemExit(f"no artifact found under {args.corpus}")
    for task in tasks:  # warm-up: the worker's start-up and first use of every pattern
        _extract_in_worker(task)
    seconds = []
    for _ in range(args.rounds):
        _classify_text.cache_clear()
        started = time.process_time()
        for task in tasks:
            _extract_in_worker(task)
        seconds.append((time.process_time() - started) * 100 / len(tasks))
    seconds.sort()
    print(f"{len(tasks)} artifacts of {args.corpus}, {args.rounds} rounds")
    print(
        f"worker CPU per 100 runs: median {statistics.median(seconds):.3f} s "
        f"(min {seconds[0]:.3f}, max {seconds[-1]:.3f})"
    )


if __name__ == "__main__":
    main()

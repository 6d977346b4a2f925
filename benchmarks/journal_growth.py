"""What a growing journal costs the agent's thread, with and without the writer growing it ahead of need.

A run's journal starts as a 256 KiB memory-mapped file whose pages are faulted in before the run takes it. A run
that writes more makes it grow: without help, the agent's own append resizes the file and map (a millisecond or more
once the file is large) and then takes a page fault for every new 4 KiB page it writes (about 3 µs each). The
tracer's writer thread looks at open journals every 0.1 s and doubles any that is half full, faulting the new pages
in with ``MADV_POPULATE_WRITE`` outside the GIL.

Here an "agent" writes one observation of ``--size`` bytes every ``--every`` ms (a fast coding agent's tool output)
until ``--total`` MiB, through a real tracer, once as shipped and once with growing ahead turned off; it prints the
time spent in each ``events.observation`` call on the agent's thread.

    python benchmarks/journal_growth.py [--size 10000] [--every 2] [--total 8]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from codetracer.core.journal import Journal
from codetracer.core.tracer import Tracer


def run(home: Path, size: int, every: float, total: int, ahead: bool) -> list[float]:
    saved = Journal.grow_ahead
    if not ahead:
        Journal.grow_ahead = lambda self: None  # type: ignore[method-assign]
    tracer = Tracer(home, load_plugins=False)
    try:
        time.sleep(0.3)  # the writer prepares its spare journal files
        tracer.events.run_started("r", "bench")
        tracer.events.step_started("r", "s")
        text = "o" * size
        times = []
        for _ in range(total // size):
            t0 = time.perf_counter()
            tracer.events.observation("r", "s", text)
            times.append(time.perf_counter() - t0)
            time.sleep(every)
        tracer.events.run_finished("r", "unknown")
        tracer.flush()
        return times
    finally:
        tracer.close()
        Journal.grow_ahead = saved  # type: ignore[method-assign]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=10_000, help="bytes per observation")
    parser.add_argument("--every", type=float, default=2.0, help="ms between observations")
    parser.add_argument("--total", type=int, default=8, help="MiB written per run")
    args = parser.parse_args()
    print(f"{args.total} MiB in {args.size}-byte observations, one every {args.every} ms; µs per call on the agent's "
          "thread")
    print(f"{'':28}{'median':>9}{'mean':>9}{'p99':>9}{'max':>9}{'total ms':>10}")
    for label, ahead in (("writer grows ahead", True), ("agent grows (turned off)", False)):
        with tempfile.TemporaryDirectory(prefix="ct-bench-grow-") as tmp:
            times = sorted(run(Path(tmp), args.size, args.every / 1000, args.total * 1024 * 1024, ahead))
        n = len(times)
        print(f"{label:28}{times[n // 2] * 1e6:9.1f}{sum(times) / n * 1e6:9.1f}{times[int(n * 0.99)] * 1e6:9.1f}"
              f"{times[-1] * 1e6:9.1f}{sum(times) * 1e3:10.1f}")


if __name__ == "__main__":
    main()

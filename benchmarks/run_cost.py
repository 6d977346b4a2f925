"""What one finished run costs the process that traces it: the agent's thread and the tracer's writer thread.

    python benchmarks/run_cost.py [--runs 1000] [--steps 3] [--pace 0] [--work 300]

Traces ``--runs`` short runs (``--steps`` steps, each a tool call with a short output, as a quick LangGraph or
mini-swe-agent run makes) through a real :class:`~codetracer.Tracer` with the journal and the store on, then waits
for the writer to store them all. Each run also does ``--work`` µs of untraced pure-Python work (the agent's own),
timed apart from the tracing calls; the same work is first timed with no tracer in the process. Reported per run:

* on the agent's thread: wall and CPU time inside the tracing calls, and how much longer the untraced work took
  than without a tracer (the writer thread holding the GIL, or anything else the tracer makes the agent wait for);
* on the writer thread: its CPU time (the thread's own clock) and its busy wall time, for building, deriving,
  encoding and storing the run and recycling its journal;
* the wall time from the first run to the last one stored.

``--pace`` sleeps that many milliseconds between runs (0: back to back, the worst case for the writer's batching;
1: runs finishing 1 ms apart, so the writer stores small batches). Counts stored runs and deferred ones: none may
be lost or duplicated.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time


def thread_cpu(thread: threading.Thread) -> float:
    """CPU seconds ``thread`` has used (Linux: its own clock)."""
    assert thread.ident is not None
    return time.clock_gettime(time.pthread_getcpuclockid(thread.ident))


def busy(n: int) -> int:
    """Untraced pure-Python work (holds the GIL, as an agent's own code does)."""
    x = 0
    for i in range(n):
        x += i * i
    return x


def calibrate(us: float) -> int:
    """Loop count of :func:`busy` that takes about ``us`` microseconds here."""
    n = 10_000
    took = []
    for _ in range(7):  # the quickest of a few: a busy machine must not make the work tiny
        start = time.perf_counter()
        busy(n)
        took.append(time.perf_counter() - start)
    return max(1, int(n * us / 1e6 / min(took)))


def work_alone(runs: int, steps: int, n: int, pace: float) -> list[float]:
    """Wall seconds of each run's untraced work with no tracer in the process."""
    walls = []
    for _ in range(runs):
        start = time.perf_counter()
        for _ in range(steps):
            busy(n)
        walls.append(time.perf_counter() - start)
        if pace:
            time.sleep(pace / 1000)
    return walls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--pace", type=float, default=0.0, help="milliseconds between runs")
    parser.add_argument("--work", type=float, default=300.0, help="µs of untraced work per run")
    args = parser.parse_args()
    n_busy = calibrate(args.work / args.steps)
    alone = work_alone(args.runs, args.steps, n_busy, args.pace)

    from codetracer.core.tracer import Tracer

    home = tempfile.mkdtemp(prefix="ct-runcost-")
    tracer = Tracer(home, project="bench", load_plugins=False)
    ev = tracer.events
    tracer.flush()
    writer = tracer._writer
    assert writer is not None
    busy_wall = [0.0]
    save = tracer._save

    def timed_save(batch: list) -> None:  # type: ignore[type-arg]
        start = time.perf_counter()
        try:
            save(batch)
        finally:
            busy_wall[0] += time.perf_counter() - start

    tracer._save = timed_save  # type: ignore[method-assign]
    on_wall: list[float] = []
    on_cpu: list[float] = []
    work: list[float] = []
    writer_cpu0 = thread_cpu(writer)
    start = time.perf_counter()
    for r in range(args.runs):
        run_id = f"short-{r}"
        traced_wall = traced_cpu = work_wall = 0.0
        w0, c0 = time.perf_counter(), time.thread_time()
        ev.run_started(run_id, "bench", task="answer the question with a tool")
        for i in range(args.steps):
            key = str(i + 1)
            ev.step_started(run_id, key, thought="call the tool")
            ev.tool_call_started(run_id, key, f"c{i}", "bash", command=f"grep -n needle file{i}.py")
            w1, c1 = time.perf_counter(), time.thread_time()
            traced_wall += w1 - w0
            traced_cpu += c1 - c0
            busy(n_busy)
            w0, c0 = time.perf_counter(), time.thread_time()
            work_wall += w0 - w1
            ev.tool_call_finished(run_id, f"c{i}", output=f"file{i}.py:3: needle = {i}", exit_code=0)
            ev.step_finished(run_id, key)
        ev.run_finished(run_id, "solved")
        on_wall.append(traced_wall + time.perf_counter() - w0)
        on_cpu.append(traced_cpu + time.thread_time() - c0)
        work.append(work_wall)
        if args.pace:
            time.sleep(args.pace / 1000)
    tracer.flush(300)
    wall = time.perf_counter() - start
    writer_cpu = thread_cpu(writer) - writer_cpu0
    stored = tracer.store().list_runs(limit=10**7)
    ids = [r.id for r in stored]
    tracer.close()
    n = args.runs
    slower = (statistics.fmean(work) - statistics.fmean(alone)) * 1e6
    print(
        f"{n} runs of {args.steps} steps, {args.work:.0f} µs of own work each, pace {args.pace} ms, "
        f"Python {sys.version.split()[0]}"
    )
    print(
        f"  agent's thread, per run: tracing calls wall median {statistics.median(on_wall) * 1e6:.0f} µs "
        f"(mean {statistics.fmean(on_wall) * 1e6:.0f}), CPU median {statistics.median(on_cpu) * 1e6:.0f} µs; "
        f"its own work {statistics.fmean(work) * 1e6:.0f} µs mean against {statistics.fmean(alone) * 1e6:.0f} µs "
        f"with no tracer ({slower:+.0f} µs)"
    )
    print(
        f"  writer thread, per run: CPU {writer_cpu / n * 1e3:.3f} ms (target <= 1 ms), "
        f"busy wall {busy_wall[0] / n * 1e3:.3f} ms"
    )
    print(f"  wall from first run to last stored, per run: {wall / n * 1e3:.3f} ms")
    print(
        f"  stored {len(ids)} ({len(set(ids))} distinct), deferred to recovery {tracer.deferred}, "
        f"lost {n - len(set(ids)) - tracer.deferred}"
    )


if __name__ == "__main__":
    main()

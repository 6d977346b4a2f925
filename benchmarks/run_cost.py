"""What one finished run costs the process that traces it: the agent's thread and the tracer's writer thread.

    python benchmarks/run_cost.py [--runs 1000] [--steps 3] [--pace 0]

Traces ``--runs`` short runs (``--steps`` steps, each a tool call with a short output, as a quick LangGraph or
mini-swe-agent run makes) through a real :class:`~codetracer.Tracer` with the journal and the store on, then waits
for the writer to store them all. Reported per run: on the agent's thread, the wall and CPU time spent inside the
tracing calls; on the writer thread, its CPU time (the thread's own clock) for building, deriving, encoding and
storing the run and closing its journal; and the wall time from the first run to the last one stored. ``--pace``
sleeps that many milliseconds between runs (0: back to back, the worst case for the writer). Counts stored runs
and deferred ones: none may be lost or duplicated.
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--pace", type=float, default=0.0, help="milliseconds between runs")
    args = parser.parse_args()
    from codetracer.core.tracer import Tracer

    home = tempfile.mkdtemp(prefix="ct-runcost-")
    tracer = Tracer(home, project="bench", load_plugins=False)
    ev = tracer.events
    tracer.flush()
    writer = tracer._writer
    assert writer is not None
    on_wall: list[float] = []
    on_cpu: list[float] = []
    writer_cpu0 = thread_cpu(writer)
    start = time.perf_counter()
    for n in range(args.runs):
        run_id = f"short-{n}"
        w0, c0 = time.perf_counter(), time.thread_time()
        ev.run_started(run_id, "bench", task="answer the question with a tool")
        for i in range(args.steps):
            key = str(i + 1)
            ev.step_started(run_id, key, thought="call the tool")
            ev.tool_call_started(run_id, key, f"c{i}", "bash", command=f"grep -n needle file{i}.py")
            ev.tool_call_finished(run_id, f"c{i}", output=f"file{i}.py:3: needle = {i}", exit_code=0)
            ev.step_finished(run_id, key)
        ev.run_finished(run_id, "solved")
        on_wall.append(time.perf_counter() - w0)
        on_cpu.append(time.thread_time() - c0)
        if args.pace:
            time.sleep(args.pace / 1000)
    tracer.flush(300)
    wall = time.perf_counter() - start
    writer_cpu = thread_cpu(writer) - writer_cpu0
    stored = tracer.store().list_runs(limit=10**7)
    ids = [r.id for r in stored]
    tracer.close()
    n = args.runs
    print(f"{n} runs of {args.steps} steps, pace {args.pace} ms, Python {sys.version.split()[0]}")
    print(
        f"  agent's thread, per run: wall median {statistics.median(on_wall) * 1e6:.0f} us, "
        f"CPU median {statistics.median(on_cpu) * 1e6:.0f} us"
    )
    print(f"  writer thread, per run: CPU {writer_cpu / n * 1e3:.3f} ms (target <= 1 ms)")
    print(f"  wall from first run to last stored, per run: {wall / n * 1e3:.3f} ms")
    print(
        f"  stored {len(ids)} ({len(set(ids))} distinct), deferred to recovery {tracer.deferred}, "
        f"lost {n - len(set(ids)) - tracer.deferred}"
    )


if __name__ == "__main__":
    main()

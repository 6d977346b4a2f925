"""What many short LangGraph runs cost under ``codetracer.langchain()``: on the agent's thread and in the writer.

    python benchmarks/short_runs.py [--runs 500] [--rounds 5]

A unit suite of an agent framework invokes thousands of tiny graphs. Two kinds are timed, each ``--runs`` times per
round: a state-machine graph with a ``messages`` channel whose node only counts (its run holds nothing: dropped, not
stored), and a short ReAct agent (LangChain's ``GenericFakeChatModel``, one tool call, two model turns: a run of two
steps, stored). Each round runs every kind untraced and traced (the process-wide registration with the journal and
the SQLite store on, in a temporary ``CODETRACER_HOME``), in a shuffled order, after the writer went idle and a
garbage collection. Reported per run (median over rounds): the wall time of ``invoke`` untraced and traced (their
difference is what the agent's thread pays), the writer thread's CPU time (its own clock: building, storing or
dropping the run, closing or deleting its journal, preparing the next journal file), and what was stored.

Needs the ``langchain`` extra (``pip install -e '.[langchain]'``); Linux (per-thread CPU clocks).
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import statistics
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable
from typing import Any


def state_machine() -> Callable[[], Any]:
    from langgraph.graph import END, START, MessagesState, StateGraph

    class Counter(MessagesState):
        hops: int

    builder = StateGraph(Counter)
    builder.add_node("hop", lambda state: {"hops": state["hops"] + 1})
    builder.add_edge(START, "hop")
    builder.add_edge("hop", END)
    graph = builder.compile()
    return lambda: graph.invoke({"messages": [], "hops": 0})


def short_agent() -> Callable[[], Any]:
    from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
    from langchain_core.messages import AIMessage
    from langchain_core.tools import tool

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from langgraph.prebuilt import create_react_agent

    class ScriptedModel(GenericFakeChatModel):
        def bind_tools(self, tools: Any, **kwargs: Any) -> ScriptedModel:
            return self

    @tool
    def lookup(key: str) -> str:
        """Look a key up."""
        return f"value of {key}"

    script = [AIMessage(content="Look it up.", tool_calls=[{"name": "lookup", "args": {"key": "k"}, "id": "c1"}]),
              AIMessage(content="It is the value of k.")]

    def run() -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            graph = create_react_agent(ScriptedModel(messages=iter(script)), [lookup])
        return graph.invoke({"messages": [("user", "what is k?")]})

    return run


def writer_cpu() -> float:
    """CPU seconds of codetracer's writer thread so far (0 when there is none)."""
    for thread in threading.enumerate():
        if thread.name == "codetracer-writer" and thread.ident is not None:
            return time.clock_gettime(time.pthread_getcpuclockid(thread.ident))
    return 0.0


def timed(run: Callable[[], Any], n: int) -> tuple[float, float]:
    """Seconds per call of ``run`` over ``n`` calls: wall, and CPU of this thread (the agent's)."""
    start, cpu = time.perf_counter(), time.thread_time()
    for _ in range(n):
        run()
    return (time.perf_counter() - start) / n, (time.thread_time() - cpu) / n


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=500, help="runs of each kind per side and round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    os.environ["CODETRACER_HOME"] = tempfile.mkdtemp(prefix="ct-bench-short-")
    try:
        import codetracer
        from codetracer.adapters.langchain import live
        from codetracer.core import config
        from codetracer.core.store import Store
    except ImportError as exc:
        print(f"needs the langchain extra: {exc}", file=sys.stderr)
        return 2

    kinds = {"state machine (0 steps)": state_machine(), "agent (2 steps)": short_agent()}
    tracer = codetracer.Tracer(load_plugins=False)
    results: dict[tuple[str, str], list[tuple[float, float]]] = {}
    writer: dict[str, list[float]] = {kind: [] for kind in kinds}
    for run in kinds.values():  # warm up both sides: imports, LangGraph's caches, the first journal files
        timed(run, 20)
        codetracer.langchain(tracer=tracer)
        timed(run, 20)
        live.unregister_global()
    tracer.flush()
    for _ in range(args.rounds):
        sides = [(kind, side) for kind in kinds for side in ("untraced", "traced")]
        random.shuffle(sides)
        for kind, side in sides:
            tracer.flush()
            gc.collect()
            if side == "traced":
                codetracer.langchain(tracer=tracer)
            cpu0 = writer_cpu()
            try:
                per_run = timed(kinds[kind], args.runs)
            finally:
                if side == "traced":
                    live.unregister_global()
            if side == "traced":
                assert tracer.flush(120), "the writer did not catch up"
                writer[kind].append((writer_cpu() - cpu0) / args.runs)
            results.setdefault((kind, side), []).append(per_run)
    tracer.close()
    store = Store(config.store_path(tracer.home), project=tracer.project)
    stored = len(store.list_runs(limit=1_000_000))
    store.close()

    print(f"{args.runs} runs of each kind per side, {args.rounds} rounds (median of rounds; per run)")
    print(f"{'kind':<24}{'untraced':>10}{'traced':>10}{'agent wall':>12}{'agent CPU':>11}{'writer CPU':>12}")
    for kind in kinds:
        untraced = [statistics.median(x[i] for x in results[(kind, "untraced")]) for i in (0, 1)]
        traced = [statistics.median(x[i] for x in results[(kind, "traced")]) for i in (0, 1)]
        cpu = statistics.median(writer[kind])
        print(f"{kind:<24}{untraced[0] * 1e3:>8.3f}ms{traced[0] * 1e3:>8.3f}ms"
              f"{(traced[0] - untraced[0]) * 1e3:>+10.3f}ms{(traced[1] - untraced[1]) * 1e3:>+9.3f}ms"
              f"{cpu * 1e3:>10.3f}ms")
    print("agent wall/CPU: what tracing adds to one invoke on the agent's thread (its wall time includes waiting for "
          "the GIL while the writer works); writer CPU: the writer thread's time per run")
    journals = len(list(config.journal_dir(tracer.home).glob("*.ctj")))
    print(f"stored: {stored} runs; dropped as holding nothing: {tracer.empty_runs}; deferred to journals during "
          f"the bursts: {tracer.deferred}; journals left after close: {journals}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Overhead of live LangChain/LangGraph tracing on a real, offline agent run.

A LangGraph ReAct agent driven by LangChain's ``GenericFakeChatModel`` makes ``--steps`` model turns, each calling one
real ``@tool``. The same run is timed untraced; traced by ``codetracer.trace(graph)`` (the graph path: LangGraph's own
``updates`` stream, no callbacks); under ``codetracer.langchain()`` (the process-wide registration, which takes the
graph path for such a graph); bound with codetracer's callback handler (what ``config={"callbacks": [handler]}`` and
``codetracer.langchain(graph_path=False)`` cost); and bound with a handler that does nothing (LangChain's callback
machinery alone). Journal and SQLite store live in a temporary ``CODETRACER_HOME``, as in real use. Sides run in a
shuffled order each round, after the tracer's writer went idle and a garbage collection, so drift and leftovers hit
every side alike; best (minimum) and median times are printed. CPU time counts every thread of the process.

    python benchmarks/overhead_langchain.py [--steps 200] [--repeats 15] [--shell]

``--shell`` makes the tool run its command (``echo``) in a real subprocess, as a coding agent's shell tool does.

Needs the ``langchain`` extra (``pip install -e '.[langchain]'``).
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import sys
import tempfile
import time
import warnings
from typing import Any


def build(steps: int, shell: bool = False) -> tuple[Any, Any]:
    """An agent factory (fresh scripted model per run) and the run's input; with ``shell`` the tool really runs its
    command (``echo``) in a subprocess, as a coding agent's shell tool does."""
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
    def run_shell(command: str) -> str:
        """Run a shell command (scripted)."""
        if shell:
            import subprocess

            return subprocess.run(["echo", command], capture_output=True, text=True, check=False).stdout
        return f"ok: {command}"

    script = [
        AIMessage(
            content=f"step {i}: check again",
            tool_calls=[{"name": "run_shell", "args": {"command": f"pytest -k case{i}"}, "id": f"c{i}"}],
        )
        for i in range(steps - 1)
    ] + [AIMessage(content="done")]

    def make() -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return create_react_agent(ScriptedModel(messages=iter(script)), [run_shell])

    return make, {"messages": [("user", "make the tests pass")]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200, help="model turns per run (each with one tool call)")
    parser.add_argument("--repeats", type=int, default=15, help="timed runs per side")
    parser.add_argument("--shell", action="store_true", help="the tool runs its command in a real subprocess")
    args = parser.parse_args(argv)

    os.environ.setdefault("CODETRACER_HOME", tempfile.mkdtemp(prefix="ct-bench-lc-"))
    try:
        make, task = build(args.steps, args.shell)
    except ImportError as exc:
        print(f"needs the langchain extra: {exc}", file=sys.stderr)
        return 2

    import codetracer
    from codetracer.adapters.langchain.live import CodetracerCallbackHandler, unregister_global
    from codetracer.core.tracer import Tracer

    tracer = Tracer(load_plugins=False)
    config = {"recursion_limit": 4 * args.steps + 10}
    handler = CodetracerCallbackHandler(tracer)
    no_op = no_op_handler()

    def agent_for(side: str) -> tuple[Any, dict[str, Any]]:
        if side == "trace(graph)":
            return codetracer.trace(make(), tracer=tracer), config
        callbacks = {"callback handler": [handler], "no-op handler": [no_op]}.get(side)
        return make(), ({**config, "callbacks": callbacks} if callbacks else config)

    def once(side: str) -> tuple[float, float]:
        agent, run_config = agent_for(side)
        if side == "langchain()":
            codetracer.langchain(tracer=tracer)
        try:
            tracer.flush()
            gc.collect()
            wall, cpu = time.perf_counter(), time.process_time()
            agent.invoke(task, config=run_config)
            return time.perf_counter() - wall, time.process_time() - cpu
        finally:
            unregister_global()

    sides = ["untraced", "trace(graph)", "langchain()", "callback handler", "no-op handler"]
    for side in sides:  # warm-up: imports, first graph compile, store creation
        once(side)
    walls: dict[str, list[float]] = {side: [] for side in sides}
    cpus: dict[str, list[float]] = {side: [] for side in sides}
    order = random.Random(0)
    for _ in range(args.repeats):
        for side in order.sample(sides, len(sides)):
            wall, cpu = once(side)
            walls[side].append(wall)
            cpus[side].append(cpu)
    tracer.flush()
    n_runs = len(tracer.runs)
    steps_seen = sorted({len(run.steps) for run in tracer.runs})
    tracer.close()

    def per_step(values: list[float], pick: str) -> float:
        ordered = sorted(values)
        return (ordered[0] if pick == "best" else ordered[len(ordered) // 2]) / args.steps * 1e6

    tool = "a real `echo` subprocess" if args.shell else "an instant tool"
    print(f"LangGraph ReAct agent, {args.steps} steps (one tool call each, {tool}), {args.repeats} runs per side")
    print(f"{'us/step':18}{'wall best':>11}{'wall median':>13}{'CPU best':>10}{'CPU median':>12}")
    for side in sides:
        print(f"{side:18}" + "".join(
            f"{per_step(values[side], pick):{width}.1f}"
            for values, pick, width in ((walls, "best", 11), (walls, "median", 13), (cpus, "best", 10),
                                        (cpus, "median", 12))
        ))
    for side in sides[1:]:
        parts = []
        for label, values in (("wall", walls), ("CPU", cpus)):
            for pick in ("best", "median"):
                base = per_step(values["untraced"], pick)
                extra = per_step(values[side], pick) - base
                parts.append(f"{label} {pick} {extra:+6.1f} us ({100 * extra / base:+5.2f} %)")
        print(f"{side} over untraced: " + ", ".join(parts))
    print(f"({n_runs} traced runs stored, steps per run: {steps_seen})")
    graph_in, global_in, handler_in = in_hook(make, task, config, args.steps)
    print(f"in-hook (codetracer's code on the agent's thread): trace(graph) {graph_in * 1e6:5.1f} us/step, "
          f"langchain() {global_in * 1e6:5.1f} us/step, callback handler {handler_in * 1e6:5.1f} us/step")
    return 0


def no_op_handler() -> Any:
    """A handler that does nothing: what LangChain's callback machinery alone costs once any handler is set.

    It implements ``on_chat_model_start``: the inherited one raises ``NotImplementedError``, which makes LangChain
    render the whole prompt to a string for an ``on_llm_start`` fallback, a cost no real tracer pays.
    """
    from langchain_core.callbacks import BaseCallbackHandler

    class NoOpHandler(BaseCallbackHandler):
        run_inline = True

        def on_chat_model_start(self, serialized: Any, messages: Any, **kwargs: Any) -> None:
            return None

    return NoOpHandler()


def in_hook(make: Any, task: Any, config: dict[str, Any], steps: int, repeats: int = 7) -> list[float]:
    """Median over ``repeats`` runs of the time spent inside codetracer's code, per step: for ``trace(graph)`` and
    ``codetracer.langchain()`` every stream chunk's handling and the run's start and end; for the handler, its
    callback methods."""
    import codetracer
    from codetracer.adapters.langchain import graph
    from codetracer.adapters.langchain.live import CodetracerCallbackHandler, unregister_global
    from codetracer.core.tracer import Tracer

    tracer = Tracer(load_plugins=False)
    total = [0.0]
    clock = time.perf_counter  # bound once: the timing itself should add as little as it can

    def timed(method: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            t0 = clock()
            try:
                return method(*args, **kwargs)
            finally:
                total[0] += clock() - t0

        return wrapper

    def lean_probe(take: Any) -> Any:
        """The per-chunk probe, as light as it can be (it runs four times a turn, and its own cost is counted)."""

        def probed(self: Any, chunk: Any) -> Any:
            t0 = clock()
            out = take(self, chunk)
            total[0] += clock() - t0
            return out

        return probed

    def handler_config() -> dict[str, Any]:
        handler = CodetracerCallbackHandler(tracer)
        for name in dir(handler):
            if name.startswith("on_"):
                setattr(handler, name, timed(getattr(handler, name)))
        return {**config, "callbacks": [handler]}

    session = graph._Session
    saved = {name: getattr(session, name) for name in ("open", "take", "_end")}
    thread_state = graph.thread_state
    results = []
    try:
        session.open = classmethod(timed(saved["open"].__func__))  # type: ignore[method-assign]
        session.take = lean_probe(saved["take"])  # type: ignore[method-assign]
        session._end = timed(saved["_end"])  # type: ignore[method-assign]
        graph.thread_state = timed(thread_state)  # the thread's checkpoint, read before the run (none here)
        def registered() -> None:
            codetracer.langchain(tracer=tracer)
            try:
                make().invoke(task, config=config)
            finally:
                unregister_global()

        for run in (lambda: codetracer.trace(make(), tracer=tracer).invoke(task, config=config), registered,
                    lambda: make().invoke(task, config=handler_config())):
            run()  # warm-up
            per_step = []
            for _ in range(repeats):
                tracer.flush()
                total[0] = 0.0
                run()
                per_step.append(total[0] / steps)
            results.append(sorted(per_step)[len(per_step) // 2])
    finally:
        for name, value in saved.items():
            setattr(session, name, value)
        graph.thread_state = thread_state
        tracer.close()
    return results


if __name__ == "__main__":
    raise SystemExit(main())

"""Overhead of live LangChain/LangGraph tracing on a real, offline agent run.

A LangGraph ReAct agent driven by LangChain's ``GenericFakeChatModel`` makes ``--steps`` model turns, each calling one
real ``@tool``; the same run is timed bare and bound with codetracer's callback handler (journal and SQLite store in a
temporary ``CODETRACER_HOME``, as in real use), next to a no-op handler (what LangChain's callback machinery alone
costs). Runs alternate so drift hits every side; the best (minimum) times are compared: on a shared machine they
are the least disturbed by other processes. CPU time counts every thread of the process (LangGraph runs tools in a
pool).

    python benchmarks/overhead_langchain.py [--steps 200] [--repeats 15] [--shell]

``--shell`` makes the tool run its command (``echo``) in a real subprocess, as a coding agent's shell tool does.

Needs the ``langchain`` extra (``pip install -e '.[langchain]'``).
"""

from __future__ import annotations

import argparse
import os
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

    from langchain_core.callbacks import BaseCallbackHandler

    from codetracer.adapters.langchain.live import CodetracerCallbackHandler
    from codetracer.core.tracer import Tracer

    class NoOpHandler(BaseCallbackHandler):
        """A handler that does nothing: what LangChain's callback machinery alone costs once any handler is set.

        It implements ``on_chat_model_start``: the inherited one raises ``NotImplementedError``, which makes LangChain
        render the whole prompt to a string for an ``on_llm_start`` fallback, a cost no real tracer pays.
        """

        run_inline = True

        def on_chat_model_start(self, serialized: Any, messages: Any, **kwargs: Any) -> None:
            return None

    tracer = Tracer(load_plugins=False)
    sides: dict[str, Any] = {"untraced": None, "no-op handler": NoOpHandler(), "codetracer": None}
    sides["codetracer"] = CodetracerCallbackHandler(tracer)
    config = {"recursion_limit": 4 * args.steps + 10}

    def once(handler: Any) -> tuple[float, float]:
        agent = make()
        run_config = {**config, "callbacks": [handler]} if handler is not None else config
        wall, cpu = time.perf_counter(), time.process_time()
        agent.invoke(task, config=run_config)
        return time.perf_counter() - wall, time.process_time() - cpu

    for handler in sides.values():  # warm-up: imports, first graph compile, store creation
        once(handler)
    walls: dict[str, list[float]] = {name: [] for name in sides}
    cpus: dict[str, list[float]] = {name: [] for name in sides}
    for _ in range(args.repeats):
        for name, handler in sides.items():
            wall, cpu = once(handler)
            walls[name].append(wall)
            cpus[name].append(cpu)
    tracer.flush()
    n_runs = len(tracer.runs)
    steps_seen = sorted({len(run.steps) for run in tracer.runs})
    tracer.close()

    def per_step(values: list[float]) -> float:
        return min(values) / args.steps * 1e6

    tool = "a real `echo` subprocess" if args.shell else "an instant tool"
    print(f"LangGraph ReAct agent, {args.steps} steps (one tool call each, {tool}), "
          f"best of {args.repeats} runs per side")
    print(f"{'':16}{'wall us/step':>14}{'CPU us/step':>14}")
    for name in sides:
        print(f"{name:16}{per_step(walls[name]):14.1f}{per_step(cpus[name]):14.1f}")
    for label, base in (("untraced", "untraced"), ("no-op handler", "no-op handler")):
        wall = per_step(walls["codetracer"]) - per_step(walls[base])
        cpu = per_step(cpus["codetracer"]) - per_step(cpus[base])
        print(
            f"codetracer over {label:14}: {wall:7.1f} us/step wall ({100 * wall / per_step(walls[base]):5.2f} %), "
            f"{cpu:7.1f} us/step CPU ({100 * cpu / per_step(cpus[base]):5.2f} %)"
        )
    print(f"({n_runs} traced runs stored, steps per run: {steps_seen})")
    inside = in_hook(make, task, config, args.steps)
    print(f"in-hook (codetracer's callbacks, all threads): {inside * 1e6:6.1f} us/step")
    return 0


def in_hook(make: Any, task: Any, config: dict[str, Any], steps: int, repeats: int = 7) -> float:
    """Median over ``repeats`` runs of the time spent inside codetracer's handler methods, per step."""
    from codetracer.adapters.langchain.live import CodetracerCallbackHandler
    from codetracer.core.tracer import Tracer

    tracer = Tracer(load_plugins=False)
    total = [0.0]

    def timed_handler() -> Any:
        handler = CodetracerCallbackHandler(tracer)
        for name in dir(handler):
            if name.startswith("on_"):
                method = getattr(handler, name)

                def timed(*args: Any, _method: Any = method, **kwargs: Any) -> Any:
                    t0 = time.perf_counter()
                    try:
                        return _method(*args, **kwargs)
                    finally:
                        total[0] += time.perf_counter() - t0

                setattr(handler, name, timed)
        return handler

    make().invoke(task, config={**config, "callbacks": [timed_handler()]})  # warm-up
    per_step = []
    for _ in range(repeats):
        tracer.flush()
        total[0] = 0.0
        make().invoke(task, config={**config, "callbacks": [timed_handler()]})
        per_step.append(total[0] / steps)
    tracer.close()
    return sorted(per_step)[len(per_step) // 2]


if __name__ == "__main__":
    raise SystemExit(main())

"""Overhead of live tracing on a real openhands-sdk agent run (offline, the SDK's scripted ``TestLLM``).

    python benchmarks/overhead_openhands.py [--steps 300] [--repeat 7]     # Python >= 3.12 with openhands-sdk

The same conversation (``--steps`` model turns, each one ``think`` tool call, then ``finish``) runs alternately
without and with ``CodetracerCallback`` (a persisting ``Tracer``: journal + background SQLite store). The ``think``
tool does no I/O, so an agent step is as cheap as the SDK makes it: the percentage is a worst case, a real step
(model latency, shell commands) costs thousands of times more. Two figures per step:

* the wall-time difference of the two runs (median of ``--repeat``), which includes noise;
* the callback's own time, summed around each ``callback(event)`` call (what tracing adds on the agent's thread).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("OPENHANDS_SUPPRESS_BANNER", "1")


def script(steps: int) -> list[Any]:
    from openhands.sdk.llm import Message, MessageToolCall, TextContent

    def turn(i: int, tool: str, args: dict[str, str]) -> Message:
        call = MessageToolCall(id=f"call-{i}", name=tool, arguments=json.dumps(args), origin="completion")
        return Message(role="assistant", content=[TextContent(text=f"step {i}")], tool_calls=[call])

    turns = [turn(i, "think", {"thought": f"look at part {i} of the code"}) for i in range(steps)]
    return [*turns, turn(steps, "finish", {"message": "done"})]


class Timed:
    """Wraps the callback and sums the time spent inside it."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.ns = 0

    def __call__(self, event: Any) -> None:
        t0 = time.perf_counter_ns()
        self.inner(event)
        self.ns += time.perf_counter_ns() - t0


def one_run(steps: int, workdir: Path, callback: Timed | None) -> float:
    """Wall seconds of ``conversation.run()`` for a fresh conversation."""
    from openhands.sdk import Agent, Conversation
    from openhands.sdk.testing import TestLLM

    agent = Agent(llm=TestLLM.from_messages(script(steps)), tools=[])
    conv = Conversation(
        agent=agent,
        callbacks=[callback] if callback is not None else [],
        workspace=str(workdir),
        max_iteration_per_run=steps + 10,
        visualizer=None,
    )
    conv.send_message("benchmark task")
    t0 = time.perf_counter()
    conv.run()
    elapsed = time.perf_counter() - t0
    if callback is not None:
        callback.inner.finish(status=conv.state.execution_status)
    conv.close()
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args(argv)

    import logging

    logging.disable(logging.WARNING)  # the SDK logs each conversation at INFO/WARNING; not part of the cost
    from codetracer.adapters.openhands.live import CodetracerCallback
    from codetracer.core.tracer import Tracer

    root = Path(tempfile.mkdtemp(prefix="ct-oh-bench-"))
    tracer = Tracer(root / "home", project="bench", load_plugins=False)
    one_run(5, root / "warm", None)  # imports, tool registry, caches
    one_run(5, root / "warm", Timed(CodetracerCallback(tracer, model="test-model")))

    plain: list[float] = []
    traced: list[float] = []
    inside: list[float] = []
    for r in range(args.repeat):
        plain.append(one_run(args.steps, root / f"plain-{r}", None))
        timed = Timed(CodetracerCallback(tracer, model="test-model"))
        traced.append(one_run(args.steps, root / f"traced-{r}", timed))
        inside.append(timed.ns / 1e9)
    tracer.flush()
    stored = len(tracer.runs)
    tracer.close()

    steps = args.steps + 1  # the finish turn is a step too
    base, with_tracing, cb = statistics.median(plain), statistics.median(traced), statistics.median(inside)
    print(f"openhands-sdk run, {steps} steps (think tool), median of {args.repeat}, Python {sys.version.split()[0]}")
    print(f"  without tracing: {base * 1e3:8.1f} ms  ({base / steps * 1e6:7.1f} us/step)")
    print(f"  with tracing:    {with_tracing * 1e3:8.1f} ms  ({with_tracing / steps * 1e6:7.1f} us/step)")
    diff = with_tracing - base
    print(f"  wall difference: {diff / steps * 1e6:7.1f} us/step  ({diff / base * 100:+.2f} %)")
    print(f"  inside callback: {cb / steps * 1e6:7.1f} us/step  ({cb / base * 100:.2f} % of the untraced run)")
    print(f"  runs stored: {stored}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

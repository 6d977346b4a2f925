"""Memory a long-lived process spends on the trees a tracer keeps (``tracer.runs``), with real LangGraph runs.

Each run is a ``langchain.agents.create_agent`` agent driven by LangChain's ``GenericFakeChatModel``: ``--turns``
model turns, each calling one ``@tool`` that answers with 30 KB (a coding agent reading a big log), traced
process-wide by ``codetracer.langchain()``. Modes: ``default`` (the tracer's bounds: the last 1,000 runs and at most
about 64 MiB of them), ``unbounded`` (``keep_bytes=None``: the last 1,000 runs, whatever their size, as before the
size bound) and ``untraced`` (the same runs, no tracing). Four times along the way it prints how many trees are
kept, their estimated size (``tracer.runs.nbytes``) and the growth of the process's resident memory since the first
run (after a garbage collection). Journal and SQLite store live in a temporary ``CODETRACER_HOME``.

    python benchmarks/memory_langchain.py [--runs 400] [--turns 20] [--mode default|unbounded|untraced]

Needs the ``langchain`` extra and ``langchain`` itself (the ``integration-langchain`` tox env has both). Linux only
(resident memory is read from ``/proc/self/statm``).
"""

from __future__ import annotations

import argparse
import gc
import os
import tempfile
import time
import warnings
from typing import Any

OUTPUT_SIZE = 30_000
"""The size of a tool's answer: 30 KB, a different text each time (equal texts could share memory; real ones do
not)."""


def resident_mib() -> float:
    """The process's resident memory after a garbage collection, in MiB."""
    gc.collect()
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def agent_factory(turns: int) -> Any:
    """A fresh agent per run (its scripted model is used up by one run)."""
    from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
    from langchain_core.messages import AIMessage
    from langchain_core.tools import tool

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from langchain.agents import create_agent

    class ScriptedModel(GenericFakeChatModel):
        def bind_tools(self, tools: Any, **kwargs: Any) -> ScriptedModel:
            return self

    answers = iter(range(10**9))

    @tool
    def cat_log(path: str) -> str:
        """Print a file."""
        head = f"{path}, read {next(answers)}\n"
        return head + "x" * (OUTPUT_SIZE - len(head))

    script = [AIMessage(content="", tool_calls=[{"name": "cat_log", "args": {"path": "big.log"}, "id": f"c{i}"}])
              for i in range(turns)] + [AIMessage(content="done")]

    def make() -> Any:
        return create_agent(ScriptedModel(messages=iter(script)), [cat_log])

    return make


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=400)
    parser.add_argument("--turns", type=int, default=20, help="tool calls of 30 KB per run")
    parser.add_argument("--mode", choices=("default", "unbounded", "untraced"), default="default")
    args = parser.parse_args(argv)
    os.environ.setdefault("CODETRACER_HOME", tempfile.mkdtemp(prefix="ct-bench-mem-"))

    import codetracer
    from codetracer.adapters.langchain import live

    tracer = codetracer.Tracer(load_plugins=False)
    if args.mode != "untraced":
        codetracer.langchain(tracer=tracer, **({"keep_bytes": None} if args.mode == "unbounded" else {}))
    make = agent_factory(args.turns)
    every = max(1, args.runs // 4)
    try:
        started, base = time.monotonic(), None
        for i in range(args.runs):
            make().invoke({"messages": [("user", f"task {i}")]})
            if base is None:
                tracer.flush()
                base = resident_mib()
            if (i + 1) % every == 0 or i + 1 == args.runs:
                tracer.flush()
                print(f"{args.mode}: {i + 1} runs, {len(tracer.runs)} trees kept, estimated "
                      f"{tracer.runs.nbytes / 2**20:.0f} MiB, resident +{resident_mib() - base:.0f} MiB, "
                      f"{time.monotonic() - started:.0f} s", flush=True)
    finally:
        if args.mode != "untraced":
            live.unregister_global()
        tracer.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""What ``pytest --codetracer`` adds to a fast unit suite of many tiny LangGraph tests, per traced test.

    python benchmarks/pytest_overhead.py [--machines 300] [--agents 30] [--rounds 5] [--no-fixed]

Writes a suite into a temporary folder, as an agent framework's own unit tests look: ``--machines`` state-machine
tests (a graph with a ``messages`` channel whose node only counts: each invoke is a run that holds nothing) and
``--agents`` tests of a short ReAct agent (LangChain's ``GenericFakeChatModel``, one tool call: a run of two steps).
The suite runs in a fresh pytest process with and without ``--codetracer`` (the store and traces in a fresh folder
each time), in alternating order for ``--rounds`` rounds. Reported: the session time pytest prints, median of the
rounds for each side, the difference per test and per stored run, and the ratio; then what the traced session left
(stored runs, trace files, journals). The same is measured for a suite of one test (``--no-fixed`` skips it): its
difference is the session's fixed cost (importing codetracer's adapter, registering), which the per-test figure
leaves out.

Needs the ``langchain`` extra (``pip install -e '.[langchain]'``).
"""

from __future__ import annotations

import argparse
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

SUITE = '''
import warnings

import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langchain_core.tools import tool

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from langgraph.graph import END, START, MessagesState, StateGraph
    from langgraph.prebuilt import create_react_agent

pytestmark = pytest.mark.filterwarnings("ignore:create_react_agent has been moved")


class Counter(MessagesState):
    hops: int


def router(n):
    builder = StateGraph(Counter)
    builder.add_node("hop", lambda state: {"hops": state["hops"] + 1})
    builder.add_edge(START, "hop")
    builder.add_conditional_edges("hop", lambda state: END if state["hops"] >= n else "hop")
    return builder.compile()


@pytest.mark.parametrize("n", range(MACHINES))
def test_router(n):
    assert router(n % 3 + 1).invoke({"messages": [], "hops": 0})["hops"] == n % 3 + 1


class ScriptedModel(GenericFakeChatModel):
    def bind_tools(self, tools, **kwargs):
        return self


@tool
def lookup(key: str) -> str:
    """Look a key up."""
    return f"value of {key}"


@pytest.mark.parametrize("n", range(AGENTS))
def test_agent(n):
    model = ScriptedModel(messages=iter([
        AIMessage(content="Look it up.", tool_calls=[{"name": "lookup", "args": {"key": f"k{n}"}, "id": "c1"}]),
        AIMessage(content="Found it."),
    ]))
    result = create_react_agent(model, [lookup]).invoke({"messages": [("user", f"what is k{n}?")]})
    assert result["messages"][-1].content == "Found it."
'''


def session_seconds(output: str) -> float:
    """The duration pytest prints on its last line ("... passed in 1.23s")."""
    found = re.findall(r" in ([0-9.]+)s", output)
    if not found:
        raise RuntimeError(f"no session time in pytest's output:\n{output[-2000:]}")
    return float(found[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--machines", type=int, default=300, help="state-machine tests (runs that hold nothing)")
    parser.add_argument("--agents", type=int, default=30, help="short agent tests (runs of two steps)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--no-fixed", action="store_true", help="skip measuring the fixed cost (a 1-test suite)")
    args = parser.parse_args(argv)
    fixed = 0.0
    if not args.no_fixed:
        one, _ = measure(1, 0, args.rounds)
        fixed = statistics.median(one["traced"]) - statistics.median(one["untraced"])
    times, left = measure(args.machines, args.agents, args.rounds)
    tests = args.machines + args.agents
    untraced, traced = statistics.median(times["untraced"]), statistics.median(times["traced"])
    print(f"{tests} tests ({args.machines} state machines, {args.agents} agents), {args.rounds} rounds; pytest's "
          f"session time, median")
    print(f"  untraced {untraced:.2f}s  traced {traced:.2f}s  (+{(traced / untraced - 1) * 100:.0f}%)")
    if not args.no_fixed:
        print(f"  fixed cost of the session (a 1-test suite): +{fixed * 1e3:.0f} ms")
    per_test = (traced - untraced - fixed) / tests
    print(f"  per test, past the fixed cost: +{per_test * 1e3:.2f} ms "
          f"({per_test / (untraced / tests) * 100:.0f}% of an untraced test's {untraced / tests * 1e3:.1f} ms)")
    print("  the traced session left: " + ", ".join(f"{k} {v}" for k, v in left.items()))
    print(f"  all rounds: untraced {times['untraced']}, traced {times['traced']}")
    return 0


def measure(machines: int, agents: int, rounds: int) -> tuple[dict[str, list[float]], dict[str, int]]:
    """Session times of the suite untraced and traced, alternating, and what the last traced session left."""
    folder = Path(tempfile.mkdtemp(prefix="ct-bench-pytest-"))
    suite = SUITE.replace("MACHINES", str(machines)).replace("AGENTS", str(agents))
    (folder / "test_suite.py").write_text(suite)
    times: dict[str, list[float]] = {"untraced": [], "traced": []}
    left: dict[str, int] = {}
    for n in range(rounds):
        order = ["untraced", "traced"] if n % 2 == 0 else ["traced", "untraced"]
        for side in order:
            cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_suite.py"]
            out = folder / f"ct-{n}"
            if side == "traced":
                cmd += ["--codetracer", f"--codetracer-dir={out}"]
            done = subprocess.run(cmd, cwd=folder, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                raise RuntimeError(f"the suite failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
            times[side].append(session_seconds(done.stdout))
            if side == "traced":
                stored = 0
                if (out / "codetracer.db").exists():
                    with sqlite3.connect(out / "codetracer.db") as db:
                        stored = db.execute("SELECT count(*) FROM runs").fetchone()[0]
                journals = out / "journal"
                left = {
                    "stored runs": stored,
                    "trace files": len(list((out / "traces").glob("*.json"))) if (out / "traces").exists() else 0,
                    "journals left": len(list(journals.glob("*.ctj"))) if journals.exists() else 0,
                }
    return times, left


if __name__ == "__main__":
    raise SystemExit(main())

"""What ``pytest --codetracer`` costs per traced test: the same agent test suite with and without the plugin.

A generated test file holds N tests, each running mini-swe-agent's real ``DefaultAgent`` for a few scripted steps
(mini's offline ``DeterministicModel``) in an environment that answers at once, so the agent itself costs almost
nothing and what the plugin adds per test stands out: tracing the run, flushing it, storing it, the per-test hooks.
The suite runs in a fresh ``pytest`` process per repetition, alternating off / on; a ``conftest.py`` times each test,
and the time from the 11th test's start to the last test's end is divided among those tests (start-up, the first
tests' imports and patching, and the session's end are not per-test costs; they are reported apart), in wall time and
in the process's CPU time (all threads: the tracer's writer included), and the medians are compared. CPU time is the
figure to quote on a shared machine: wall time moves with whatever else runs there. Needs mini-swe-agent:
``.tox/integration-miniswe/bin/python benchmarks/pytest_plugin_cost.py [--tests 200] [--steps 4] [--repeats 5]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

TESTS = '''
import os
import yaml
from minisweagent.agents.default import DefaultAgent
from minisweagent.config import get_config_path
from minisweagent.environments.local import LocalEnvironment
from minisweagent.models.test_models import DeterministicModel, make_output
import pytest

SUBMIT = "echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT"
CONFIG = yaml.safe_load(get_config_path("mini_textbased").read_text())
STEPS = int(os.environ["CT_BENCH_STEPS"])


class InstantEnvironment(LocalEnvironment):
    def execute(self, action, cwd="", *, timeout=None):
        command = action.get("command", "")
        text = "COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT\\n" if command == SUBMIT else command[5:] + "\\n"
        output = {"output": text, "returncode": 0, "exception_info": ""}
        self._check_finished(output)
        return output


def outputs():
    script = [(f"Step {i}.", f"echo {i}") for i in range(STEPS - 1)] + [("Done.", SUBMIT)]
    return [make_output(f"THOUGHT: {t}\\n\\n```mswea_bash_command\\n{c}\\n```", [{"command": c}], cost=0.0)
            for t, c in script]


@pytest.mark.parametrize("n", range(int(os.environ["CT_BENCH_TESTS"])))
def test_agent(n):
    model = DeterministicModel(outputs=outputs(), cost_per_call=0.0,
                               observation_template=CONFIG["model"]["observation_template"])
    env = InstantEnvironment(**{k: v for k, v in CONFIG["environment"].items() if k != "cwd"})
    agent = DefaultAgent(model, env, **CONFIG["agent"])
    assert agent.run("count")["exit_status"] == "Submitted"
'''

CONFTEST = '''
import json, os, time
import pytest

SPAN = []

@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_protocol(item, nextitem):
    start = (time.perf_counter(), time.process_time())
    try:
        return (yield)
    finally:
        SPAN.append((start, (time.perf_counter(), time.process_time())))

def pytest_sessionfinish(session):
    with open(os.environ["CT_BENCH_OUT"], "w") as fh:
        json.dump({"spans": SPAN, "tests": len(SPAN)}, fh)
'''


WARM_UP = 10
"""Tests whose time counts as start-up, not per test: the first traced test imports the tracer and patches the
frameworks (about 0.4 s once); spread over 200 tests that would read as 2 ms per test, which no test pays."""


def one(folder: Path, tests: int, steps: int, traced: bool) -> dict[str, float]:
    """Wall and CPU seconds per test after the warm-up, and of the warm-up tests themselves, for one session."""
    out = folder / "span.json"
    env = {**os.environ, "CT_BENCH_TESTS": str(tests), "CT_BENCH_STEPS": str(steps), "CT_BENCH_OUT": str(out),
           "LITELLM_LOCAL_MODEL_COST_MAP": "True", "MSWEA_SILENT_STARTUP": "1", "MSWEA_CONFIGURED": "true",
           "MSWEA_GLOBAL_CONFIG_DIR": str(folder / "mswea")}
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_bench.py"]
    if traced:
        cmd += ["--codetracer", f"--codetracer-dir={folder / 'ct'}"]
    done = subprocess.run(cmd, cwd=folder, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(done.stdout[-2000:] + done.stderr[-2000:])
    span = json.loads(out.read_text())
    assert span["tests"] == tests > WARM_UP
    spans = span["spans"]
    (w0, c0), (w1, c1), (wend, cend) = spans[0][0], spans[WARM_UP][0], spans[-1][1]
    steady = tests - WARM_UP
    return {"wall": (wend - w1) / steady, "cpu": (cend - c1) / steady, "warm_wall": w1 - w0, "warm_cpu": c1 - c0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tests", type=int, default=200)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "test_bench.py").write_text(TESTS)
        (folder / "conftest.py").write_text(CONFTEST)
        off, on = [], []
        for _ in range(args.repeats):
            off.append(one(folder, args.tests, args.steps, False))
            on.append(one(folder, args.tests, args.steps, True))
    print(f"{args.tests} tests of {args.steps} agent steps each, median of {args.repeats} sessions each way; "
          f"per test after the first {WARM_UP}, whose time is start-up:")
    for key, what in (("wall", "wall"), ("cpu", "CPU")):
        plain = statistics.median(t[key] for t in off) * 1000
        traced = statistics.median(t[key] for t in on) * 1000
        print(f"  {what:4}: {plain:.2f} ms per test without --codetracer, {traced:.2f} ms with: "
              f"+{traced - plain:.2f} ms per traced test")
    for key, what in (("warm_wall", "wall"), ("warm_cpu", "CPU")):
        plain = statistics.median(t[key] for t in off) * 1000
        traced = statistics.median(t[key] for t in on) * 1000
        print(f"  start-up ({what}, the first {WARM_UP} tests): {plain:.0f} ms without, {traced:.0f} ms with: "
              f"+{traced - plain:.0f} ms once per session")


if __name__ == "__main__":
    main()

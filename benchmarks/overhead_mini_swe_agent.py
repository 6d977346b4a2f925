"""What live tracing costs a mini-swe-agent run: the same offline run with and without ``codetracer.trace(agent)``.

The agent is mini's real ``DefaultAgent`` with its offline ``DeterministicModel`` replaying N scripted steps (mini's
text format). Two environments:

* ``local``: mini's ``LocalEnvironment`` really runs each command (``echo``) in a subprocess, as in a real run: the
  overhead as a share of a (very fast) real step;
* ``instant``: an environment that answers at once, so the agent loop costs almost nothing and the per-step cost of
  tracing stands out (the µs figure).

Traced runs write to a temporary ``CODETRACER_HOME`` (journal + SQLite, as in use). Runs alternate untraced/traced
and the medians are compared. Needs mini-swe-agent: ``.tox/integration-miniswe/bin/python
benchmarks/overhead_mini_swe_agent.py [--steps 200] [--repeats 7]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("MSWEA_SILENT_STARTUP", "1")
os.environ.setdefault("MSWEA_GLOBAL_CONFIG_DIR", str(Path(tempfile.gettempdir()) / "codetracer-bench-mswea-config"))

import yaml
from minisweagent.agents.default import DefaultAgent
from minisweagent.config import get_config_path
from minisweagent.environments.local import LocalEnvironment
from minisweagent.models.test_models import DeterministicModel, make_output

import codetracer
from codetracer.core.tracer import Tracer

SUBMIT = "echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT"


class InstantEnvironment(LocalEnvironment):
    """Answers every command at once (no subprocess), keeping mini's submission check."""

    def execute(self, action: dict, cwd: str = "", *, timeout: int | None = None) -> dict[str, Any]:
        command = action.get("command", "")
        text = "COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT\n" if command == SUBMIT else f"{command[5:]}\n"
        output = {"output": text, "returncode": 0, "exception_info": ""}
        self._check_finished(output)
        return output


def outputs(steps: int) -> list[dict[str, Any]]:
    script = [(f"Step {i}: print the counter.", f"echo {i}") for i in range(steps - 1)] + [("Done.", SUBMIT)]
    return [make_output(f"THOUGHT: {t}\n\n```mswea_bash_command\n{c}\n```", [{"command": c}], cost=0.0)
            for t, c in script]


def one_run(
    config: dict[str, Any], steps: int, env_kind: str, workdir: Path, tracer: Tracer | None
) -> tuple[float, float]:
    """Wall time and the agent thread's CPU time of one run (CPU time is what tracing adds on the agent's thread,
    and unlike wall time it does not move when other processes share the machine)."""
    model = DeterministicModel(outputs=outputs(steps), cost_per_call=0.0,
                               observation_template=config["model"]["observation_template"])
    env_cls = InstantEnvironment if env_kind == "instant" else LocalEnvironment
    env = env_cls(cwd=str(workdir), **{k: v for k, v in config["environment"].items() if k != "cwd"})
    agent = DefaultAgent(model, env, **config["agent"])
    if tracer is not None:
        codetracer.trace(agent, tracer=tracer)
    t0, c0 = time.perf_counter(), time.thread_time()
    result = agent.run("print the counter")
    elapsed, cpu = time.perf_counter() - t0, time.thread_time() - c0
    assert result["exit_status"] == "Submitted", result
    return elapsed, cpu


class InHookClock:
    """Sums the time codetracer's own code runs on the agent's thread: the traced ``add_messages`` minus nothing but
    the agent's original method (timed around ``_LiveRun.add``, which the wrapper calls after the original)."""

    def __init__(self) -> None:
        from codetracer.adapters.mini_swe_agent import live

        self.seconds = 0.0
        original = live._LiveRun.add

        def add(state: Any, agent: Any, messages: Any) -> None:
            t0 = time.perf_counter()
            original(state, agent, messages)
            self.seconds += time.perf_counter() - t0

        live._LiveRun.add = add  # type: ignore[method-assign]


def in_hook(config: dict[str, Any], steps: int, repeats: int, home: Path, workdir: Path) -> float:
    """Median over ``repeats`` runs of the in-hook time per step (instant environment)."""
    clock = InHookClock()
    tracer = Tracer(home, load_plugins=False)
    one_run(config, steps, "instant", workdir, tracer)
    per_step = []
    for _ in range(repeats):
        tracer.flush(60)
        clock.seconds = 0.0
        one_run(config, steps, "instant", workdir, tracer)
        per_step.append(clock.seconds / steps)
    tracer.close()
    return statistics.median(per_step)


def measure(env_kind: str, steps: int, repeats: int, home: Path, workdir: Path) -> dict[str, float]:
    config = yaml.safe_load(get_config_path("mini_textbased").read_text())
    tracer = Tracer(home, load_plugins=False)
    one_run(config, steps, env_kind, workdir, None)  # warm-up: imports, templates, first subprocess
    one_run(config, steps, env_kind, workdir, tracer)
    plain, traced = [], []
    for _ in range(repeats):
        tracer.flush(60)  # the writer stores the previous run off the agent's thread; let it finish first
        plain.append(one_run(config, steps, env_kind, workdir, None))
        tracer.flush(60)
        traced.append(one_run(config, steps, env_kind, workdir, tracer))
    assert tracer.flush(60)
    assert all(len(r.steps) == steps for r in tracer.runs)
    tracer.close()
    return {
        "wall_plain": statistics.median(p[0] for p in plain),
        "wall_traced": statistics.median(t[0] for t in traced),
        "cpu_plain": statistics.median(p[1] for p in plain),
        "cpu_traced": statistics.median(t[1] for t in traced),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ct-bench-mini-") as tmp:
        home, workdir = Path(tmp) / "home", Path(tmp) / "work"
        workdir.mkdir()
        print(f"mini-swe-agent DefaultAgent, {args.steps} steps per run, median of {args.repeats} runs each")
        for env_kind in ("instant", "local"):
            m = measure(env_kind, args.steps, args.repeats, home / env_kind, workdir)
            for kind in ("wall", "cpu"):
                plain, traced = m[f"{kind}_plain"], m[f"{kind}_traced"]
                print(f"{env_kind:>8} env, {kind:>4} time: untraced {plain * 1e3:8.1f} ms "
                      f"({plain / args.steps * 1e6:6.0f} µs/step), traced {traced * 1e3:8.1f} ms; "
                      f"overhead {(traced - plain) / args.steps * 1e6:6.1f} µs/step, "
                      f"{(traced - plain) / plain * 100:5.2f} %")
        config = yaml.safe_load(get_config_path("mini_textbased").read_text())
        seconds = in_hook(config, args.steps, args.repeats, home / "in-hook", workdir)
        print(f"in-hook (codetracer's code on the agent's thread): {seconds * 1e6:6.1f} µs/step")


if __name__ == "__main__":
    main()

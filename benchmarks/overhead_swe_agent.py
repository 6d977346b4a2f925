"""What live tracing costs a real SWE-agent run: the same offline run with and without
``agent.add_hook(SweAgentHook())``.

The agent is SWE-agent 1.1.0's own ``DefaultAgent`` from its default config (function calling, its tool bundles,
``review_on_submit_m``) with the ``replay`` model playing N scripted steps (``echo`` commands, then ``submit`` twice),
in the ``local`` deployment, which runs every command in a real bash session on this machine. Each run gets a fresh
throwaway git repository and environment (the deployment refuses a second set-up while its tools are installed), and
what it leaves on the host is removed afterwards, under the lock the integration tests take.

Two figures, as for the other frameworks (docs/performance.md): the **in-hook time**, codetracer's own code on the
agent's thread, summed around every call SWE-agent makes into the hook; and the **wall/CPU difference** of the step
loop (``on_run_start`` to ``on_run_done``, timed by a hook of our own in both arms) between untraced and traced runs,
which alternate. Traced runs write to a temporary ``CODETRACER_HOME`` (journal + SQLite, as in use).

A third arm times a hook whose 13 methods do nothing, wrapped the same way: the **floor** of the in-hook figure
(SWE-agent's call into a hook, the wrapper, and the thread-CPU clock, which is a system call costing 2-3 µs on some
virtual machines; after each second-long bash round trip the agent's thread runs cold, so every call costs several
µs). codetracer's own share is the in-hook figure minus the floor.

Needs SWE-agent and root (the ``local`` deployment writes ``/<repo>`` and ``/root/tools``):
``.tox/integration-sweagent/bin/python benchmarks/overhead_swe_agent.py [--steps 40] [--repeats 5]``.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("SWE_AGENT_LOG_STREAM_LEVEL", "ERROR")
# the tools' scripts run in the deployment's shell with `python3`: it must be this interpreter, which has their deps
os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])

import yaml
from sweagent import CONFIG_DIR
from sweagent.agent.agents import DefaultAgent, DefaultAgentConfig
from sweagent.agent.problem_statement import TextProblemStatement
from sweagent.environment.repo import LocalRepoConfig
from sweagent.environment.swe_env import EnvironmentConfig, SWEEnv
from swerex.deployment.config import LocalDeploymentConfig

from codetracer.adapters.swe_agent.live import SweAgentHook
from codetracer.core.tracer import Tracer

LEFT_BY_LOCAL_DEPLOYMENT = ("/root/tools", "/root/state.json", "/root/.swe-agent-env", "/root/model.patch")
LOCK = Path(tempfile.gettempdir()) / "codetracer-swe-agent-local-deployment.lock"


def _remove(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.lexists(path):
        os.unlink(path)


def call(tool: str, call_id: str, **arguments: Any) -> dict[str, Any]:
    return {"message": f"Next: {tool}.", "tool_calls": [
        {"type": "function", "id": call_id, "function": {"name": tool, "arguments": json.dumps(arguments)}}
    ]}


def actions(steps: int) -> list[dict[str, Any]]:
    """``steps`` model answers: ``echo`` commands, then ``submit`` twice (``review_on_submit_m`` reviews the first)."""
    echoes = [call("bash", f"echo_{i}", command=f"echo {i}") for i in range(steps - 2)]
    return [*echoes, call("submit", "submit_1"), call("submit", "submit_2")]


class LoopClock:
    """An agent hook of our own, in both arms: the step loop's wall and thread CPU time, and the step count."""

    def __init__(self) -> None:
        self.wall = self.cpu = 0.0
        self.steps = 0
        self._t = (0.0, 0.0)

    def on_run_start(self, **_: Any) -> None:
        self._t = (time.perf_counter(), time.thread_time())

    def on_step_done(self, **_: Any) -> None:
        self.steps += 1

    def on_run_done(self, **_: Any) -> None:
        self.wall, self.cpu = time.perf_counter() - self._t[0], time.thread_time() - self._t[1]

    def __getattr__(self, name: str) -> Any:
        if name.startswith("on_"):
            return lambda *args, **kwargs: None
        raise AttributeError(name)


def timed(hook: SweAgentHook) -> dict[str, list[float]]:
    """Wrap every hook method on the instance so the time spent inside codetracer is summed per method: wall time
    (``perf_counter``) and the agent thread's CPU time (``thread_time``, which a loaded machine does not inflate)."""
    spent: dict[str, list[float]] = {}
    for name in [n for n in dir(hook) if n.startswith("on_") and callable(getattr(hook, n))]:
        method = getattr(hook, name)
        sums = spent.setdefault(name, [0.0, 0.0])

        def wrapper(*args: Any, _method: Any = method, _sums: list[float] = sums, **kwargs: Any) -> Any:
            t0, c0 = time.perf_counter(), time.thread_time()
            try:
                return _method(*args, **kwargs)
            finally:
                _sums[0] += time.perf_counter() - t0
                _sums[1] += time.thread_time() - c0

        setattr(hook, name, wrapper)
    return spent


class NoopHook:
    """The 13 methods of SWE-agent's ``AbstractAgentHook``, doing nothing: the in-hook figure's floor."""

    def on_init(self, **_: Any) -> None: ...
    def on_tools_installation_started(self, **_: Any) -> None: ...
    def on_setup_attempt(self, **_: Any) -> None: ...
    def on_query_message_added(self, **_: Any) -> None: ...
    def on_setup_done(self, **_: Any) -> None: ...
    def on_run_start(self, **_: Any) -> None: ...
    def on_step_start(self, **_: Any) -> None: ...
    def on_model_query(self, **_: Any) -> None: ...
    def on_actions_generated(self, **_: Any) -> None: ...
    def on_action_started(self, **_: Any) -> None: ...
    def on_action_executed(self, **_: Any) -> None: ...
    def on_step_done(self, **_: Any) -> None: ...
    def on_run_done(self, **_: Any) -> None: ...


def one_run(tmp: Path, steps: int, tracer: Tracer | None, *, noop: bool = False) -> dict[str, float]:
    name = f"ctbench_{uuid.uuid4().hex[:10]}"
    repo = tmp / name
    repo.mkdir()
    (repo / "README").write_text("bench\n")
    for command in (["git", "init", "-q"], ["git", "add", "-A"],
                    ["git", "-c", "user.name=b", "-c", "user.email=b@b", "commit", "-qm", "start"]):
        subprocess.run(command, cwd=repo, check=True)
    replay = tmp / f"{name}.jsonl"
    replay.write_text(json.dumps({name: actions(steps)}) + "\n")
    cfg = yaml.safe_load((CONFIG_DIR / "default.yaml").read_text())["agent"]
    cfg["model"] = {"name": "replay", "replay_path": str(replay)}
    agent = DefaultAgent.from_config(DefaultAgentConfig.model_validate(cfg))
    clock = LoopClock()
    agent.add_hook(clock)
    spent: dict[str, list[float]] = {}
    if tracer is not None or noop:
        hook: Any = SweAgentHook(tracer) if tracer is not None else NoopHook()
        spent = timed(hook)
        agent.add_hook(hook)
    env = SWEEnv.from_config(EnvironmentConfig(deployment=LocalDeploymentConfig(), repo=LocalRepoConfig(path=repo)))
    try:
        env.start()
        result = agent.run(env=env, problem_statement=TextProblemStatement(text="echo", id=name),
                           output_dir=tmp / "out")
    finally:
        env.close()
        for path in (*LEFT_BY_LOCAL_DEPLOYMENT, f"/{name}"):
            _remove(path)
    assert result.info["exit_status"] == "submitted", result.info
    assert clock.steps == steps, clock.steps
    found = {"wall": clock.wall, "cpu": clock.cpu, "in_hook": sum(v[0] for v in spent.values()),
             "in_hook_cpu": sum(v[1] for v in spent.values())}
    found.update({f"cpu:{name}": v[1] for name, v in spent.items()})
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ct-bench-swe-") as tmp_name, open(LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        for path in LEFT_BY_LOCAL_DEPLOYMENT:
            _remove(path)
        tmp = Path(tmp_name)
        tracer = Tracer(tmp / "home", load_plugins=False)
        one_run(tmp, args.steps, None)  # warm-up: imports, templates, the first bash session
        one_run(tmp, args.steps, tracer)
        plain, traced, floor = [], [], []
        for _ in range(args.repeats):
            tracer.flush(60)  # the writer stores the previous run off the agent's thread; let it finish first
            plain.append(one_run(tmp, args.steps, None))
            tracer.flush(60)
            traced.append(one_run(tmp, args.steps, tracer))
            tracer.flush(60)
            floor.append(one_run(tmp, args.steps, None, noop=True))
        assert tracer.flush(60)
        assert all(len(r.steps) == args.steps for r in tracer.runs)
        tracer.close()
    n = args.steps
    print(f"SWE-agent 1.1.0 DefaultAgent, replay model, local deployment, {n} steps per run, "
          f"median of {args.repeats} runs each")
    for kind in ("wall", "cpu"):
        p = statistics.median(r[kind] for r in plain)
        t = statistics.median(r[kind] for r in traced)
        print(f"{kind:>4} time of the step loop: untraced {p * 1e3:8.1f} ms ({p / n * 1e3:6.2f} ms/step), traced "
              f"{t * 1e3:8.1f} ms; difference {(t - p) / n * 1e6:7.1f} µs/step, {(t - p) / p * 100:5.2f} %")
    step = statistics.median(r["wall"] / n for r in plain)
    for kind, label in (("in_hook", "wall"), ("in_hook_cpu", "CPU")):
        spent = statistics.median(r[kind] / n for r in traced)
        empty = statistics.median(r[kind] / n for r in floor)
        print(f"in-hook {label} time (codetracer's code on the agent's thread): {spent * 1e6:7.1f} µs/step, "
              f"{spent / step * 100:.3f} % of the untraced step; a hook doing nothing: {empty * 1e6:6.1f} µs/step; "
              f"difference {(spent - empty) * 1e6:6.1f} µs/step")
    methods = sorted((k for k in traced[0] if k.startswith("cpu:")), key=lambda k: -traced[0][k])
    print("  CPU per step by hook method: " + ", ".join(
        f"{k[4:]} {statistics.median(r[k] / n for r in traced) * 1e6:.1f} µs" for k in methods[:5]))


if __name__ == "__main__":
    main()

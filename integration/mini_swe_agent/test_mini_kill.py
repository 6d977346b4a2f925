"""Reliability: ``kill -9`` of a real traced mini-swe-agent process at random points loses no event (issue 20).

The child runs mini's own ``DefaultAgent`` and ``LocalEnvironment`` (real commands in a throwaway project) with the
scripted model, several runs in a row, traced into a real ``CODETRACER_HOME``. Each time the model is asked, every
message the agent had added was already traced, so the child first saves mini's own trajectory of them
(``agent.save``) and names it in an acknowledgement file. The test kills the child with SIGKILL after a seeded
random delay -- mid-command, mid-query, between runs, while the writer thread stores a finished run -- then runs
``codetracer ls`` (which recovers orphaned journals) and checks: every message, step and call of the acknowledged
trajectories is in the store, every run that finished is complete, and SQLite's integrity check passes.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

pytest.importorskip("minisweagent", reason="needs mini-swe-agent (tox -e integration-miniswe)")

from codetracer.adapters.mini_swe_agent.artifacts import MiniSweAgentExtractor
from codetracer.core import config
from codetracer.core.extract import build_runs
from codetracer.core.store import Store

HERE = Path(__file__).resolve().parent
TRIALS = 5
SEED = 20

CHILD = textwrap.dedent(
    """
    import random, shutil, sys, time
    from pathlib import Path
    sys.path.insert(0, sys.argv[1])
    from conftest import CALC_PY, TEST_CALC_PY
    from mini_answers import TASK, answer
    from test_mini_live import SOLVING, WRONG_FIX, ScriptedModel, make_agent
    import codetracer
    from codetracer.adapters.mini_swe_agent.live import live_state
    from codetracer.core.tracer import Tracer

    project, ack_path, seed = Path(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    rng = random.Random(seed)
    ack = open(ack_path, "a", buffering=1)
    tracer = Tracer()
    agent_ref = []
    original_query = ScriptedModel.query

    def acknowledging_query(self, *args, **kwargs):
        agent = agent_ref[0]
        run_id = live_state(agent).run_id
        saved = Path(ack_path).parent / f"{run_id.replace(':', '_')}.traj.json"
        agent.save(saved.with_suffix(".tmp"))
        saved.with_suffix(".tmp").replace(saved)  # the messages so far, every one traced by now
        ack.write(f"ASKED {run_id} {saved}\\n")
        time.sleep(rng.uniform(0, 0.15))
        return original_query(self, *args, **kwargs)

    ScriptedModel.query = acknowledging_query
    print("READY", flush=True)
    for n in range(40):
        (project / "calc.py").write_text(CALC_PY)
        (project / "test_calc.py").write_text(TEST_CALC_PY)
        script = SOLVING if n % 2 == 0 else WRONG_FIX
        agent = make_agent(project, [answer(t, c) for t, c in script])
        agent_ref[:] = [agent]
        codetracer.trace(agent, tracer=tracer)
        agent.run(TASK)
        ack.write(f"FINISHED {live_state(agent).run_ids[-1]} -\\n")
    """
)


def test_kill_9_at_random_points_loses_no_event_and_never_corrupts_the_store(tmp_path: Path, home: Path) -> None:
    rng = random.Random(SEED)
    home.mkdir(parents=True)
    env = {**os.environ, "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])}
    ack = tmp_path / "ack.txt"
    totals = {"acknowledged": 0, "lost": 0, "killed_mid_run": 0, "finished": 0}
    for trial in range(TRIALS):
        project = tmp_path / f"project-{trial}"
        project.mkdir()
        child = subprocess.Popen([sys.executable, "-c", CHILD, str(HERE), str(project), str(ack), str(trial)],
                                 env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert child.stdout is not None and child.stdout.readline().strip() == "READY"
        time.sleep(rng.uniform(0.3, 8.0))  # a run takes seconds: kills land anywhere in the first runs
        if child.poll() is not None:
            pytest.fail(f"the child ended before it was killed: {child.stderr.read() if child.stderr else ''}")
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
        assert child.returncode == -signal.SIGKILL

        ls = subprocess.run([sys.executable, "-m", "codetracer.cli", "ls", "--limit", "100000"],
                            capture_output=True, text=True, env=env, timeout=300)
        assert ls.returncode == 0 and "internal error" not in ls.stderr, ls.stderr

    with sqlite3.connect(config.store_path(home)) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    store = Store(config.store_path(home), project="tests")
    asked: dict[str, Path] = {}
    finished: set[str] = set()
    for line in ack.read_text().splitlines():
        what, run_id, saved = line.split()
        if what == "FINISHED":
            finished.add(run_id)
        else:
            asked[run_id] = Path(saved)
    assert asked, "the children got as far as asking the model"
    for run_id, saved in asked.items():
        run = store.load_run(run_id)
        # the tree of the acknowledged messages, as mini's own saved trajectory gives it
        (known,) = build_runs(saved, MiniSweAgentExtractor(llm_calls=True))
        totals["acknowledged"] += len(known.messages) + sum(len(s.calls) for s in known.steps)
        totals["lost"] += max(0, len(known.messages) - len(run.messages))
        totals["lost"] += sum(max(0, len(k.calls) - len(r.calls)) for k, r in zip(known.steps, run.steps, strict=False))
        totals["lost"] += max(0, len(known.steps) - len(run.steps))
        if run_id in finished:
            totals["finished"] += 1
            assert run.complete, run_id
        else:
            totals["killed_mid_run"] += 1
    assert totals["lost"] == 0, totals
    assert totals["killed_mid_run"] >= TRIALS - 1, totals  # a kill lands between runs at most rarely
    assert list(config.journal_dir(home).glob("*.ctj")) == [], "every orphaned journal was recovered"
    print(totals)

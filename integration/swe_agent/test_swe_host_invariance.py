"""A traced SWE-agent run draws exactly the ids the untraced one draws, from the real SWE-agent 1.1.0 loop.

The program under test patches ``uuid.uuid4`` and ``random.random`` with deterministic sequences (the ``sequences``
fixture, as snapshot tests do). SWE-agent draws from them itself: its ``empty`` problem statement (``sweagent run
--problem_statement.type=empty``) takes ``uuid4()`` as the instance id, which names the run's output folder, its
``.traj`` and codetracer's run. The same scripted run (``RunSingle`` as ``sweagent run`` builds it, the ``replay``
model, the ``local`` deployment on one repository) runs untraced and then traced by the documented run-level line,
``codetracer.trace(run)``; every draw is noted with the module that made it. Both runs must make the same draws,
none of them from codetracer, and the agent must see the same history. (``tests/test_host_invariance.py`` replays
recorded hook calls into the hook with spies on every generator; this is the real loop.)
"""

from __future__ import annotations

import random
import re
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("sweagent", reason="needs SWE-agent (tox -e integration-sweagent)")

import swe_script
from sweagent.agent.problem_statement import EmptyProblemStatement
from sweagent.run.run_single import RunSingle, RunSingleConfig

import codetracer
from codetracer.core.tracer import Tracer

Draw = tuple[str, str, Any]


def noting_draws(monkeypatch: pytest.MonkeyPatch) -> list[Draw]:
    """Wrap the (already patched) ``uuid.uuid4`` and ``random.random``: each draw is noted as (generator, the module
    that called it, the value)."""
    draws: list[Draw] = []
    for module, name in ((uuid, "uuid4"), (random, "random")):
        drawn = getattr(module, name)

        def noted(_drawn: Any = drawn, _name: str = name) -> Any:
            value = _drawn()
            draws.append((_name, sys._getframe(1).f_globals.get("__name__", "?"), value))
            return value

        monkeypatch.setattr(module, name, noted)
    return draws


def run_once(repo: Path, out: Path, tracer: Tracer | None) -> list[tuple[str, str]]:
    """The scripted run; what the agent saw: its history's roles and texts, without what differs between runs."""
    replay = swe_script.write_replay(out.parent / f"{out.name}.replay.jsonl", repo.name,
                                     swe_script.wrong_edit(f"/{repo.name}"))
    config = RunSingleConfig(
        agent=swe_script.agent_config(replay),
        env=swe_script.env_config(repo),
        problem_statement=EmptyProblemStatement(),  # its id is SWE-agent's uuid4() draw
        output_dir=out,
    )
    run = RunSingle.from_config(config)
    if tracer is not None:
        codetracer.trace(run, tracer=tracer)
    run.run()
    assert run.agent.info["exit_status"] == "submitted"
    return [(m["role"], _stable(m["content"])) for m in run.agent.history]


def _stable(content: Any) -> str:
    """A message's text without pytest's timings and addresses (they differ between any two runs)."""
    return re.sub(r"0x[0-9a-f]+|in [0-9.]+s", "<varies>", str(content))


def test_traced_run_draws_the_ids_the_untraced_one_draws(repo: Path, tmp_path: Path, home: Path,
                                                         local_deployment: Any, sequences: Any,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    draws = noting_draws(monkeypatch)
    sequences.restart()
    untraced = run_once(repo, tmp_path / "untraced", None)
    untraced_draws = list(draws)
    local_deployment.clear_host()  # the local deployment refuses a second set-up while its tools are installed

    draws.clear()
    sequences.restart()
    tracer = Tracer(home, load_plugins=False)
    try:
        traced = run_once(repo, tmp_path / "traced", tracer)
        assert tracer.flush()
    finally:
        tracer.close()

    assert draws == untraced_draws
    assert not [d for d in draws if d[1].startswith("codetracer")]
    assert draws == [("uuid4", "sweagent.agent.problem_statement", uuid.UUID(int=1, version=4))]
    instance_id = str(uuid.UUID(int=1, version=4))
    assert traced == untraced
    (live,) = tracer.runs
    assert live.metadata["instance_id"] == instance_id and live.id.startswith(f"swe-agent:{instance_id}")
    assert len(live.steps) == 5
    assert (tmp_path / "traced" / instance_id / f"{instance_id}.traj").is_file()

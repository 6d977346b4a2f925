"""The run-level hook on SWE-agent's real ``RunSingle`` and ``RunBatch`` (what ``sweagent run`` / ``run-batch`` run),
added by the documented one line ``run.add_hook(SweAgentRunHook())``.

``RunSingle`` hands run hooks its agent, so the instance is traced live; ``RunBatch`` makes each instance's agent out
of any hook's sight, so the instance is traced from the ``.traj`` it wrote when it completes (see
``codetracer.adapters.swe_agent.run_hook``). Either way the tree is the one the ``.traj`` gives offline.

The ``local`` deployment leaves ``/root/tools`` behind and a second instance in the same process fails on it, so the
batch here has one instance.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("sweagent", reason="needs SWE-agent (tox -e integration-sweagent)")

import swe_script
from sweagent.agent.agents import DefaultAgentConfig
from sweagent.run.batch_instances import BatchInstance
from sweagent.run.run_batch import RunBatch
from test_swe_live import differences, offline, single_run

import codetracer
from codetracer.adapters.swe_agent.live import SweAgentHook, SweAgentRunHook
from codetracer.core.tracer import Tracer


def test_run_single_traced_live_by_the_run_hook(repo: Path, tmp_path: Path, tracer: Tracer) -> None:
    out = tmp_path / "out"
    run = single_run(repo, out, swe_script.wrong_edit(f"/{repo.name}"))
    run_hook = SweAgentRunHook(tracer)
    run.add_hook(run_hook)
    (agent_hook,) = run_hook.hooks  # attached to run.agent at on_init, from what SWE-agent's hook API handed over
    assert isinstance(agent_hook, SweAgentHook) and agent_hook._agent is run.agent
    run.run()

    assert tracer.flush()
    (live,) = tracer.runs
    assert agent_hook.run_ids == [live.id] and live.metadata["live"] is True
    assert live.metadata["instance_id"] == repo.name
    saved = offline(swe_script.traj_path(out / repo.name, repo.name))
    assert differences(live.model_dump(), saved.model_dump()) == []
    assert len(live.steps) == 5 and live.exit_status == "submitted"


def test_run_batch_instance_traced_from_its_trajectory(repo: Path, tmp_path: Path, tracer: Tracer) -> None:
    replay = swe_script.write_replay(tmp_path / "replay.jsonl", repo.name, swe_script.wrong_edit(f"/{repo.name}"))
    out = tmp_path / "batch"
    instance = BatchInstance(env=swe_script.env_config(repo), problem_statement=swe_script.problem(repo))
    batch = RunBatch(
        [instance],
        DefaultAgentConfig.model_validate(swe_script.agent_config(replay)),
        output_dir=out,
        progress_bar=False,
        raise_exceptions=True,
    )
    assert codetracer.trace(batch, tracer=tracer) is batch  # the same as batch.add_hook(SweAgentRunHook(tracer))
    run_hook = batch._codetracer_run_hook  # type: ignore[attr-defined]
    batch.main()

    assert tracer.flush()
    (run,) = tracer.runs
    assert run_hook.run_ids == [run.id] and run_hook.hooks == []
    assert run.metadata["batch"] is True and run.metadata["instance_id"] == repo.name
    assert run.metadata["model"] == "replay"  # RunBatch gives the agent its replay config
    saved = offline(swe_script.traj_path(out / repo.name, repo.name))
    assert saved.model_dump(exclude={"metadata"}) == run.model_dump(exclude={"metadata"})
    tools = [s.tool_calls[0].action.tool for s in run.steps]  # type: ignore[union-attr]
    assert tools == ["str_replace_editor", "str_replace_editor", "bash", "submit", "submit"]
    assert run.provenance is not None and run.provenance.surviving_steps == [2]

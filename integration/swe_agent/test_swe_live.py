"""The SWE-agent live hook on the real SWE-agent 1.1.0 loop, offline.

Each test runs SWE-agent's own ``RunSingle`` built from its default config (function calling, ``str_replace_editor``,
``review_on_submit_m``) with the ``local`` deployment on a throwaway git repository whose test fails; only the model
is scripted (SWE-agent's ``replay`` model). The agent is traced by the documented one line,
``run.agent.add_hook(SweAgentHook(...))``; afterwards the ``.traj`` SWE-agent wrote is read offline and the two trees
are compared field by field.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("sweagent", reason="needs SWE-agent (tox -e integration-sweagent)")

import swe_script
from integration.shown import assert_shown_with_diagnosis
from sweagent.run.run_single import RunSingle, RunSingleConfig

from codetracer.adapters.swe_agent.artifacts import SweAgentExtractor
from codetracer.adapters.swe_agent.live import SweAgentHook
from codetracer.core.extract import build_runs
from codetracer.core.model import Run
from codetracer.core.tracer import Tracer
from codetracer.localize.signal_localizer import SignalLocalizer


@pytest.fixture(autouse=True)
def no_tracing_failures(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """The hook swallows its own exceptions (they must never reach the agent): make sure none happened."""
    with caplog.at_level("ERROR", logger="codetracer"):
        yield
    assert not [r for r in caplog.records if r.name.startswith("codetracer")], caplog.text


def single_run(repo: Path, out: Path, actions: list[dict[str, Any]]) -> RunSingle:
    """SWE-agent's ``RunSingle`` as ``sweagent run`` builds it, with the replay model playing ``actions``."""
    replay = swe_script.write_replay(out.parent / f"{repo.name}.replay.jsonl", repo.name, actions)
    config = RunSingleConfig(
        agent=swe_script.agent_config(replay),
        env=swe_script.env_config(repo),
        problem_statement=swe_script.problem(repo),
        output_dir=out,
    )
    return RunSingle.from_config(config)


PYTEST = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]


def suite_passes(workdir: str) -> Any:
    """A verifier: the repository's tests, run in the deployment's copy of it."""

    def verify(result: Any) -> subprocess.CompletedProcess[str]:  # kept whole: command, exit code, output
        return subprocess.run(PYTEST, cwd=workdir, capture_output=True, text=True)

    return verify


def write_report(traj: Path, instance: str, resolved: bool) -> None:
    """The verifier's verdict where the offline extractor looks for it (a SWE-bench report beside the trajectory)."""
    (traj.parent / "report.json").write_text(json.dumps({instance: {"resolved": resolved}}))


def offline(traj: Path) -> Run:
    runs = build_runs(traj, SweAgentExtractor())
    assert len(runs) == 1
    return runs[0]


# -- comparing trees field by field -----------------------------------------------------------------------------------

BY_CONSTRUCTION = {
    "id",  # the run's id (live: a fresh uuid; offline: a hash of the file) and each call's (built from the step key)
    "key",  # the adapter's own step key: the live hook numbers steps, the extractor names trajectory entries
    "started_at", "ended_at", "timestamp",  # the .traj records no times: live, the hook's clock
    "metadata",  # source facts (live: True; source_path, format); compared key by key below
}


def differences(live: Any, saved: Any, path: str = "run") -> list[str]:
    """Every field where the two dumps differ, as ``path: live != saved`` (what differs by construction aside)."""
    if isinstance(live, dict) and isinstance(saved, dict):
        found = []
        for name in sorted(set(live) | set(saved)):
            if name not in BY_CONSTRUCTION:
                found += differences(live.get(name), saved.get(name), f"{path}.{name}")
        return found
    if isinstance(live, list) and isinstance(saved, list):
        if len(live) != len(saved):
            return [f"{path}: {len(live)} items != {len(saved)}"]
        return [d for i, (a, b) in enumerate(zip(live, saved, strict=True)) for d in differences(a, b, f"{path}[{i}]")]
    return [] if live == saved else [f"{path}: {live!r:.200} != {saved!r:.200}"]


SHARED_METADATA = ("instance_id", "submission", "model_stats", "cost")
LIVE_ONLY = {"diagnosis", "verification"}
"""What a live run holds that its .traj does not: the diagnosis made as it was stored, what its verifier said."""


def assert_pytest_failed(run: Run) -> None:
    """The run's verification node is the verifier's pytest run, kept whole."""
    v = run.verification
    assert v is not None and (v.passed, v.exit_code, v.failed_tests) == (False, 1, ["test_calc.py::test_mean"])
    assert v.output is not None and "assert 3.3333333333333335 == 2.5" in v.output.text


# -- runs -------------------------------------------------------------------------------------------------------------


def test_wrong_edit_live_tree_equals_its_traj_field_by_field(repo: Path, tmp_path: Path, tracer: Tracer) -> None:
    workdir = f"/{repo.name}"
    out = tmp_path / "out"
    run = single_run(repo, out, swe_script.wrong_edit(workdir))
    run.agent.add_hook(SweAgentHook(tracer, verify=suite_passes(workdir)))  # the documented one line (+ a verifier)
    run.run()

    assert tracer.flush()
    (live,) = tracer.runs
    traj = swe_script.traj_path(out / repo.name, repo.name)
    write_report(traj, repo.name, resolved=False)
    saved = offline(traj)
    # the live run failed and was diagnosed as it was stored; the offline tree leaves that to `analyze`, and reads
    # its verdict from report.json where the live run keeps what its verifier said
    assert live.diagnosis is not None and live.diagnosis.onset_step == 2
    assert differences(live.model_dump(exclude=LIVE_ONLY), saved.model_dump(exclude=LIVE_ONLY)) == []
    assert_pytest_failed(live)
    assert_shown_with_diagnosis(live.id, 2, "str_replace", tmp_path, verifier=shlex.join(PYTEST))
    assert {k: live.metadata.get(k) for k in SHARED_METADATA} == {k: saved.metadata.get(k) for k in SHARED_METADATA}
    assert live.metadata["live"] is True and live.metadata["resolved"] is False

    # the run as SWE-agent ran it
    assert (str(live.outcome), live.exit_status) == ("failed", "submitted")
    assert live.task is not None and swe_script.TASK in live.task and live.task.startswith("<uploaded_files>")
    assert [(m.role, m.raw_ref) for m in live.messages] == [("system", "history[0]"), ("user", "history[1]")]
    tools = [s.tool_calls[0].action.tool for s in live.steps]  # type: ignore[union-attr]
    assert tools == ["str_replace_editor", "str_replace_editor", "bash", "submit", "submit"]
    assert [len(s.calls) for s in live.steps] == [2] * 5  # the model's answer and the tool call
    edit = live.steps[1].tool_calls[0].action
    assert edit is not None and edit.arguments["command"] == "str_replace"
    assert [(e.path, e.kind, e.old, e.new) for e in edit.edits] == [
        (f"{workdir}/calc.py", "replace", "sum(values)", "round(sum(values))")
    ]
    observations = [s.tool_calls[0].observation for s in live.steps]
    assert all(o is not None for o in observations)
    texts = [o.text.text if o and o.text else "" for o in observations]
    assert "return sum(values) / (len(values) - 1)" in texts[0]
    assert "has been edited" in texts[1]
    assert "1 failed" in texts[2] and "FAILED test_calc.py::test_mean" in texts[2]
    assert "Thank you for your work on this issue" in texts[3]  # review_on_submit_m shows the diff first
    assert texts[4] == live.metadata["submission"] and "+    return round(sum(values)) / (len(values) - 1)" in texts[4]
    # SWE-agent records no exit codes (SWEEnv.communicate returns only the output): neither tree has one, and no
    # observation is an error -- the failing test is told by its output, which the localizer reads
    assert [(o.exit_code, o.is_error) for o in observations if o] == [(None, False)] * 5

    # the edit's provenance: the wrong edit is what the submitted patch holds
    prov = live.provenance
    assert prov is not None and prov.patch_source == "submission"
    (patched,) = prov.files
    assert (patched.path, patched.authors, patched.unattributed) == ("calc.py", [2], 0)
    assert prov.surviving_steps == [2]
    assert [(c.path, c.fate, c.in_patch) for c in live.steps[1].changes] == [(f"{workdir}/calc.py", "survives", 1)]
    assert all(not s.changes for s in live.steps if s.id != 2)

    # the diagnosis: the edit, then the failing test run it caused
    diagnosis = SignalLocalizer().localize(live)
    assert diagnosis.onset_step == 2 and diagnosis.incorrect_step_ids == [2]
    signals = {(e.signal, e.step_id) for e in diagnosis.evidence}
    assert {("surviving_edit", 2), ("test_fails_after_edit", 2), ("error", 3)} <= signals
    assert diagnosis.confidence >= 0.5 and "calc.py" in diagnosis.suggestion
    assert SignalLocalizer().localize(saved).onset_step == 2


def test_wrong_edit_submitted_untested_is_diagnosed_from_the_verifier(repo: Path, tmp_path: Path,
                                                                      tracer: Tracer) -> None:
    """The agent never runs the tests: the verify callback's pytest output is the only failing check, and the
    stored, shown diagnosis names the wrong edit."""
    workdir = f"/{repo.name}"
    run = single_run(repo, tmp_path / "out", swe_script.wrong_edit_untested(workdir))
    run.agent.add_hook(SweAgentHook(tracer, verify=suite_passes(workdir)))
    run.run()
    assert tracer.flush()
    (live,) = tracer.runs
    assert (str(live.outcome), len(live.steps)) == ("failed", 4)
    assert_pytest_failed(live)
    assert live.diagnosis is not None and live.diagnosis.onset_step == 2
    assert_shown_with_diagnosis(live.id, 2, "str_replace", tmp_path, verifier=shlex.join(PYTEST))


def test_agent_hook_alone_without_a_run(repo: Path, tmp_path: Path, tracer: Tracer) -> None:
    """A DefaultAgent driven directly (no RunSingle): the hook still gives the .traj's tree; the .traj written
    outside a run has no replay config, so only the live tree knows the model's name."""
    workdir = f"/{repo.name}"
    replay = swe_script.write_replay(tmp_path / "replay.jsonl", repo.name, swe_script.wrong_edit(workdir))
    agent = swe_script.make_agent(replay)
    agent.add_hook(SweAgentHook(tracer))
    env = swe_script.make_env(repo)
    env.start()
    try:
        result = agent.run(env=env, problem_statement=swe_script.problem(repo), output_dir=tmp_path / "out")
    finally:
        env.close()
    assert result.info["exit_status"] == "submitted"
    assert tracer.flush()
    (live,) = tracer.runs
    saved = offline(swe_script.traj_path(tmp_path / "out", repo.name))
    found = differences(live.model_dump(exclude={"diagnosis"}), saved.model_dump(exclude={"diagnosis"}))
    llm_names = [f"run.steps[{i}].calls[0].name: 'replay' != 'llm'" for i in range(5)]
    assert found == llm_names
    assert str(live.outcome) == "unknown"  # a submission without a verdict proves nothing
    assert live.provenance is not None and live.provenance.surviving_steps == [2]

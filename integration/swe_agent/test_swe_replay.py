"""Reflective replay (``codetracer.auto_retry``) with the real SWE-agent loop, offline.

The replay model plays a first attempt that makes the wrong edit and submits it, then -- if it gets another turn --
the right fix. The verifier is the repository's test suite, run in the ``local`` deployment's copy of it. The
correction must reach the agent's history verbatim (and so the model's next query), the attempts must hang in one
sequence, and the shared step budget must hold across both attempts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("sweagent", reason="needs SWE-agent (tox -e integration-sweagent)")

import swe_script
from test_swe_live import no_tracing_failures  # noqa: F401 - the autouse fixture

import codetracer
from codetracer.adapters.swe_agent.fields import message_text
from codetracer.core.tracer import Tracer

VERIFY = "python -m pytest -q -p no:cacheprovider"


def retried(repo: Path, tmp_path: Path, tracer: Tracer, budget: int, max_attempts: int = 2) -> tuple[Any, Any]:
    workdir = f"/{repo.name}"
    actions = swe_script.wrong_edit(workdir) + swe_script.right_edit(workdir, reviewed=True)
    agent = swe_script.make_agent(swe_script.write_replay(tmp_path / "replay.jsonl", repo.name, actions))
    env = swe_script.make_env(repo)
    env.start()
    try:
        retry = codetracer.auto_retry(agent, verify=VERIFY, budget=budget, max_attempts=max_attempts, tracer=tracer,
                                      env=env, output_dir=tmp_path / "out")
        retry.run(problem_statement=swe_script.problem(repo))
    finally:
        env.close()
    return retry, agent


def test_the_diagnosis_reaches_the_history_and_the_retry_fixes_it(repo: Path, tmp_path: Path, tracer: Tracer) -> None:
    retry, agent = retried(repo, tmp_path, tracer, budget=12)

    assert retry.succeeded and retry.stop_reason == "succeeded"
    first, second = retry.attempts
    assert first.verdict.kind == "verify" and first.diagnosis is not None and first.diagnosis.onset_step == 2
    assert second.verdict.kind == "ok" and second.verdict.verified is True

    # the correction, verbatim, in the agent's history and in the very next query the model saw
    message = first.message
    assert message is not None and message.startswith("[codetracer] Your previous attempt failed.")
    assert "step 2 of 5" in message and "round(sum(values))" in message
    added = [h for h in agent.history if h["role"] == "user" and message_text(h["content"]) == message]
    assert len(added) == 1 and added[0]["agent"] == agent.name
    next_query = agent.trajectory[5]["query"]
    assert message_text(next_query[-1]["content"]) == message

    # one sequence: the retry is a child of the first attempt, with the same task and the correction as a message
    assert tracer.flush()
    one, two = tracer.runs
    assert [one.id, two.id] == retry.run_ids and two.parent_run_id == one.id
    assert (str(one.outcome), str(two.outcome)) == ("failed", "solved")
    assert two.task == one.task and ("user", message) in [(m.role, m.content.text) for m in two.messages]
    assert one.diagnosis is not None and one.diagnosis.onset_step == 2
    assert [s.tool_calls[0].action.tool for s in two.steps] == ["bash", "bash", "submit"]  # type: ignore[union-attr]
    assert two.metadata["replay"]["attempt"] == 2 and one.metadata["replay"]["message"] == message

    # the budget: 5 + 3 steps of 12, counted on the trees
    assert (len(one.steps), len(two.steps)) == (5, 3)
    assert retry.report()["used"]["steps"] == 8 <= retry.report()["budget"]["steps"] == 12
    assert "return sum(values) / len(values)" in Path(f"/{repo.name}/calc.py").read_text()


def test_the_shared_step_budget_holds_across_attempts(repo: Path, tmp_path: Path, tracer: Tracer) -> None:
    retry, agent = retried(repo, tmp_path, tracer, budget=6, max_attempts=3)

    assert not retry.succeeded and retry.stop_reason == "budget exhausted (steps)"
    assert [a.verdict.kind for a in retry.attempts] == ["verify", "verify"]  # no third attempt on an empty budget
    assert tracer.flush()
    one, two = tracer.runs
    # 6 steps in all: the retry had one, SWE-agent's own auto-submission when its first query hit the limit (the
    # agent's answer to InstanceCallLimitExceededError), which submitted the wrong edit again
    assert (len(one.steps), len(two.steps)) == (5, 1)
    assert two.exit_status == "submitted (exit_cost)" and str(two.outcome) == "failed"
    assert retry.report()["used"]["steps"] == 6 == retry.report()["budget"]["steps"]
    assert agent.model.stats.api_calls == 5  # the query over the budget never reached the model
    assert "query" not in vars(agent.model)  # the budget's wrapper is gone

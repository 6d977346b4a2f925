"""Reflective replay (``codetracer.auto_retry``) with the real SWE-agent loop, offline.

The replay model plays a first attempt that makes the wrong edit and submits it, then -- if it gets another turn --
the right fix. The verifier is the repository's test suite, run in the ``local`` deployment's copy of it. The
correction must reach the agent's history verbatim (and so the model's next query), the attempts must hang in one
sequence, shown as one by ``ls``, ``show`` and ``report`` of every attempt (``integration/sequence_checks.py``), with
the correction as the agent received it, read back from the ``.traj`` SWE-agent saved, and the shared step budget
must hold across both attempts, on the steps stored; running out of it ends the sequence with a ``stop_reason``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("sweagent", reason="needs SWE-agent (tox -e integration-sweagent)")

import swe_script
from test_swe_live import no_tracing_failures  # noqa: F401 - the autouse fixture

import codetracer
from codetracer.adapters.swe_agent.fields import message_text
from codetracer.core.tracer import Tracer
from codetracer.replay import HEADER

sys.path.insert(0, str(Path(__file__).parents[1]))
from sequence_checks import assert_one_sequence

VERIFY = "python -m pytest -q -p no:cacheprovider"

CORRECTION = '''\
[codetracer] Your previous attempt failed.
The wrong turn was your step 2 of 5: `str_replace_editor str_replace {w}/calc.py   --old_str 'sum(values)' \
--new_str 'round(sum(values))'`.
It answered: The file {w}/calc.py has been edited. Here's the result of running `cat -n` on a snippet of \
{w}/calc.py:
     1\tdef mean ... ."""
     3\t    return round(sum(values)) / (len(values) - 1)
Review the changes and make sure they are as expected. Edit the file again if necessary.
What went wrong: it wrote the first change that the final state keeps; verification at step 3 fails; the verifier \
after the run (python -m pytest -q -p no:cacheprovider) judged its change to {w}/calc.py: test_calc.py::test_mean \
fails; wrote 1 line(s) of file calc.py that the final state keeps
What to undo: the edits to {w}/calc.py (check the current state of the files first).
What to do instead: Re-examine the change made at step 2 to calc.py: it is what the final state holds and the run \
failed (test_calc.py::test_mean failed); check it against every case the task names and run the relevant tests \
before submitting.
Continue from there; do not repeat the failed approach.'''
"""What the agent is sent after its wrong edit, word for word, for the repository copy ``{w}`` (``/<repo name>``):
the wrong step, what it answered, the verifier's failing test."""


def retried(repo: Path, tmp_path: Path, tracer: Tracer, budget: int,
            max_attempts: int = 2) -> tuple[Any, Any, Any]:
    workdir = f"/{repo.name}"
    actions = swe_script.wrong_edit(workdir) + swe_script.right_edit(workdir, reviewed=True)
    agent = swe_script.make_agent(swe_script.write_replay(tmp_path / "replay.jsonl", repo.name, actions))
    env = swe_script.make_env(repo)
    env.start()
    try:
        retry = codetracer.auto_retry(agent, verify=VERIFY, budget=budget, max_attempts=max_attempts, tracer=tracer,
                                      env=env, output_dir=tmp_path / "out")
        result = retry.run(problem_statement=swe_script.problem(repo))
    finally:
        env.close()
    return retry, agent, result


def received_corrections(tmp_path: Path, repo: Path) -> list[str]:
    """The corrections in the agent's own history, as SWE-agent saved it in the ``.traj`` after the last attempt."""
    saved = json.loads(swe_script.traj_path(tmp_path / "out", repo.name).read_text())
    texts = [message_text(h["content"]) for h in saved["history"] if h["role"] == "user"]
    return [t for t in texts if t.startswith(HEADER)]


def test_the_diagnosis_reaches_the_history_and_the_retry_fixes_it(repo: Path, tmp_path: Path, tracer: Tracer) -> None:
    retry, agent, _ = retried(repo, tmp_path, tracer, budget=12)

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

    # what the agent received, read back from its own .traj, word for word; ls/show/report of each attempt show it
    received = received_corrections(tmp_path, repo)
    assert received == [CORRECTION.replace("{w}", f"/{repo.name}")] == [message]
    sequence = assert_one_sequence(retry.run_ids, received, budget_steps=12, outcome="solved")
    assert [m["n_steps"] for m in sequence["members"]] == [5, 3] and sequence["stop_reason"] == "succeeded"


def test_the_shared_step_budget_holds_across_attempts(repo: Path, tmp_path: Path, tracer: Tracer) -> None:
    retry, agent, result = retried(repo, tmp_path, tracer, budget=6, max_attempts=3)

    # the budget ran out: the sequence ends with a stop reason and the agent's result, no exception from SWE-agent
    assert not retry.succeeded and retry.stop_reason == "budget exhausted (steps)"
    assert result.info["exit_status"] == "submitted (exit_cost)"
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

    received = received_corrections(tmp_path, repo)
    assert received == [CORRECTION.replace("{w}", f"/{repo.name}")]
    sequence = assert_one_sequence(retry.run_ids, received, budget_steps=6, outcome="failed")
    assert [m["n_steps"] for m in sequence["members"]] == [5, 1]
    assert sequence["stop_reason"] == "budget exhausted (steps)" and sequence["used"]["steps"] == 6

"""Reflective replay with the real mini-swe-agent, offline: ``codetracer.auto_retry(agent, verify=...)``.

The agent is mini's own ``DefaultAgent`` on a ``LocalEnvironment`` that really runs the commands in a throwaway
project; only the model is scripted. :class:`ReflectiveModel` plays an agent that makes a wrong fix first and, on a
retry, recovers *only* when the correction in its history names the wrong step (its number and its command): a
plain "try again" makes it repeat the mistake. So a retry without diagnosis fails and one with it recovers.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("minisweagent", reason="needs mini-swe-agent (tox -e integration-miniswe)")

import yaml
from mini_answers import SUBMIT, TASK, answer
from minisweagent.agents.default import DefaultAgent
from minisweagent.config import get_config_path
from minisweagent.environments.local import LocalEnvironment
from minisweagent.models.test_models import DeterministicModel

import codetracer
from codetracer.core import config
from codetracer.core.store import Store
from codetracer.core.tracer import Tracer
from codetracer.replay import HEADER, PLAIN_RETRY, Budget

sys.path.insert(0, str(Path(__file__).parents[1]))
from sequence_checks import assert_one_sequence

WRONG_EDIT = "sed -i 's/sum(values)/round(sum(values))/' calc.py"
PYTEST = "python -m pytest -q -p no:cacheprovider"

CORRECTION = """\
[codetracer] Your previous attempt failed.
The wrong turn was your step 2 of 3: `sed -i 's/sum(values)/round(sum(values))/' calc.py`.
It answered: <returncode>0</returncode>
<output>
</output>
What went wrong: the verifier after the run (python -m pytest -q -p no:cacheprovider) judged its change to calc.py: \
test_calc.py::test_mean fails; the last edit is never verified before the run ends; no stage of the run ever \
verifies its changes
What to undo: the effects of `sed -i 's/sum(values)/round(sum(values))/' calc.py` (check the current state of the \
files first).
What to do instead: Revisit the edit at step 2: the verifier that judged the run fails (test_calc.py::test_mean \
failed); run the relevant tests after a change and fix it before submitting.
Continue from there; do not repeat the failed approach."""
"""What the agent is sent after its wrong edit, word for word (the verifier's failing test included)."""

WRONG = [
    ("Let me read the code.", "cat calc.py"),
    ("I think the sum is wrong; round it.", WRONG_EDIT),
    ("Looks fine to me; submit.", SUBMIT),
]
RECOVERY = [
    ("codetracer says my rounding edit was the wrong turn; undo it.",
     "sed -i 's/round(sum(values))/sum(values)/' calc.py"),
    ("The divisor is the bug: divide by the length.", "sed -i 's/(len(values) - 1)/len(values)/' calc.py"),
    ("Verify.", PYTEST),
    ("Tests pass; submit.", SUBMIT),
]



def names_the_wrong_step(text: str) -> bool:
    """What the scripted agent needs to recover: the step number and the command of its wrong turn."""
    return HEADER in text and "step 2" in text and "round(sum(values))" in text


class ReflectiveModel(DeterministicModel):
    """Scripted like mini's ``DeterministicModel``, but the script after a correction depends on the correction."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(outputs=[], **kwargs)
        self.script = [answer(*a) for a in WRONG]
        self.corrections: list[str] = []

    def query(self, messages: list[dict[str, Any]], **kwargs: Any) -> dict:
        last = messages[-1]
        if last.get("role") == "user" and str(last.get("content", "")).startswith("[codetracer]"):
            text = str(last["content"])
            if not self.corrections or self.corrections[-1] is not text:
                self.corrections.append(text)
                self.script = [answer(*a) for a in (RECOVERY if names_the_wrong_step(text) else WRONG)]
        self.config.outputs = self.script
        self.current_index = -1
        out = self.script.pop(0)
        return out

    def serialize(self) -> dict:
        return {"info": {"config": {"model_type": "ReflectiveModel"}}}




def make_agent(project: Path, model: Any = None, **agent_options: Any) -> Any:
    cfg = yaml.safe_load(get_config_path("mini_textbased").read_text())
    model = model or ReflectiveModel(observation_template=cfg["model"]["observation_template"])
    env = LocalEnvironment(cwd=str(project), **{k: v for k, v in cfg["environment"].items() if k != "cwd"})
    return DefaultAgent(model, env, **{**cfg["agent"], **agent_options})


def verified(project: Path) -> bool:
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=project,
                          capture_output=True, text=True)
    return done.returncode == 0


def test_retry_with_diagnosis_recovers_in_the_same_history(project: Path, tracer: Tracer, home: Path) -> None:
    agent = make_agent(project)
    retrying = codetracer.auto_retry(agent, verify=PYTEST, max_attempts=2, tracer=tracer)
    result = retrying.run(TASK)

    assert result["exit_status"] == "Submitted" and verified(project)
    assert retrying.succeeded and retrying.stop_reason == "succeeded"
    first, second = retrying.attempts
    assert (first.verdict.kind, second.verdict.kind) == ("verify", "ok")
    assert first.diagnosis is not None and first.diagnosis.onset_step == 2
    assert first.delivered and first.message is not None and names_the_wrong_step(first.message)
    assert "What to do instead" in first.message and "What to undo" in first.message
    # the correction sits in the agent's own history, after the first attempt's steps (its exit message removed)
    corrections = [m["content"] for m in agent.messages if str(m.get("content", "")).startswith(HEADER)]
    assert corrections == [first.message]
    assert [m["role"] for m in agent.messages].count("exit") == 1

    assert tracer.flush()
    runs = {r.id: r for r in tracer.runs}
    root, child = runs[first.run_id], runs[second.run_id]  # type: ignore[index]
    assert child.parent_run_id == root.id and root.parent_run_id is None
    assert (str(root.outcome), str(child.outcome)) == ("failed", "solved")
    assert [s.tool_calls[0].action.command for s in child.steps] == [c for _, c in RECOVERY]  # type: ignore[union-attr]
    # one task per sequence: the retry carries the first run's task (mini's rendered instance template)
    assert root.task is not None and TASK in root.task and child.task == root.task
    assert [(m.role, m.content.text) for m in child.messages] == [("user", first.message)]
    assert agent.model.corrections == [first.message] == [CORRECTION]  # what the agent got, word for word

    store = Store(config.store_path(home), project="tests")
    try:
        saved_root = store.load_run(root.id)
        assert saved_root.diagnosis is not None and saved_root.diagnosis.onset_step == 2
        assert saved_root.metadata["replay"]["attempt"] == 1 and saved_root.metadata["replay"]["verdict"] == "verify"
        assert store.load_run(child.id).parent_run_id == root.id
        assert store.load_run(child.id).metadata["replay"]["success"] is True
        assert store.load_run(child.id).task == saved_root.task
    finally:
        store.close()
    sequence = assert_one_sequence(retrying.run_ids, [CORRECTION], outcome="solved")
    assert [m["n_steps"] for m in sequence["members"]] == [3, 4] and sequence["stop_reason"] == "succeeded"


def test_plain_retry_without_diagnosis_repeats_the_mistake(project: Path, tracer: Tracer) -> None:
    agent = make_agent(project)
    retrying = codetracer.auto_retry(agent, verify=PYTEST, max_attempts=2, tracer=tracer, diagnose=False)
    retrying.run(TASK)
    assert not retrying.succeeded and retrying.stop_reason == "max_attempts"
    assert [a.verdict.kind for a in retrying.attempts] == ["verify", "verify"]
    assert agent.model.corrections == [PLAIN_RETRY]
    assert not verified(project)


def test_shared_budget_stops_the_retry(project: Path, tracer: Tracer) -> None:
    """Three steps of budget: the first attempt spends them all, so no retry happens."""
    agent = make_agent(project)
    retrying = codetracer.auto_retry(agent, verify=PYTEST, max_attempts=3, budget=Budget(steps=3), tracer=tracer)
    retrying.run(TASK)
    assert len(retrying.attempts) == 1 and retrying.stop_reason == "budget exhausted (steps)"
    assert agent.model.corrections == []


def test_budget_left_caps_the_retry_with_minis_own_limit(project: Path, tracer: Tracer) -> None:
    """Five steps in all: the retry gets the two left, hits mini's LimitsExceeded, and the replay stops there."""
    agent = make_agent(project)
    retrying = codetracer.auto_retry(agent, verify=PYTEST, max_attempts=5, budget=5, tracer=tracer)
    result = retrying.run(TASK)
    assert result["exit_status"] == "LimitsExceeded"
    assert [a.verdict.kind for a in retrying.attempts] == ["verify", "budget"]
    assert [a.usage.steps for a in retrying.attempts] == [3, 2]
    assert retrying.used is not None and retrying.used.steps == 5
    assert agent.config.step_limit == 0  # the user's own limit is put back
    assert agent.model.corrections == [CORRECTION]
    sequence = assert_one_sequence(retrying.run_ids, [CORRECTION], budget_steps=5, outcome="failed")
    assert [m["n_steps"] for m in sequence["members"]] == [3, 2]
    assert sequence["stop_reason"] == "budget exhausted (steps)"


def test_a_verifier_that_raises_is_a_failure_not_a_crash(project: Path, tracer: Tracer) -> None:
    def broken(result: Any) -> bool:
        raise RuntimeError("verifier bug")

    agent = make_agent(project)
    retrying = codetracer.auto_retry(agent, verify=broken, max_attempts=3, tracer=tracer)
    retrying.run(TASK)
    assert [a.verdict.kind for a in retrying.attempts] == ["verifier_error"] * 3
    assert retrying.stop_reason == "max_attempts"
    assert all("verifier bug" in a.verdict.reason for a in retrying.attempts)
    # the verifier broke, not the agent: each attempt is unknown and its verification node says what broke
    assert tracer.flush() and all(str(r.outcome) == "unknown" for r in tracer.runs)
    assert all(r.verification is not None and r.verification.passed is None and r.verification.output is not None
               and r.verification.output.text.startswith("verifier error: the verifier raised RuntimeError: "
                                                         "verifier bug") for r in tracer.runs)


def test_rollback_restores_the_wrong_edit_before_the_retry(project: Path, tracer: Tracer) -> None:
    agent = make_agent(project)
    retrying = codetracer.auto_retry(agent, verify=PYTEST, max_attempts=2, rollback=True, tracer=tracer)
    retrying.run(TASK)
    first = retrying.attempts[0]
    assert first.rolled_back == ["calc.py"]
    assert first.message is not None and "already restored" in first.message
    assert retrying.succeeded and verified(project)  # the undo sed finds nothing to undo; the fix still lands

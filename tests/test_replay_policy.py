"""Retry policy, shared budget and verifiers."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from codetracer.core.model import Action, Call, Run, Step
from codetracer.replay import Budget, BudgetMeter, CommandVerifier, RetryPolicy, Usage, make_verifier


def judge(policy: RetryPolicy, **kw: object):  # type: ignore[no-untyped-def]
    args = {"result": None, "error": None, "exit_status": None, "agent_failed": False, "workspace": None}
    args.update(kw)
    return policy.judge(**args)  # type: ignore[arg-type]


def test_failure_kinds_in_order_of_precedence() -> None:
    policy = RetryPolicy(verify=lambda: True)
    assert judge(policy, exit_status="LimitsExceeded").kind == "budget"
    assert judge(policy, error=RecursionError("x")).kind == "exception"
    assert judge(policy, error=type("GraphRecursionError", (Exception,), {})()).kind == "budget"
    assert judge(policy, agent_failed=True, exit_status="error").kind == "exit"
    assert judge(policy, over_budget="seconds").kind == "budget"
    ok = judge(policy)
    assert (ok.success, ok.kind, ok.verified, ok.outcome) == (True, "ok", True, "solved")


def test_without_verifier_the_agents_claim_counts_unless_told_otherwise() -> None:
    claim = judge(RetryPolicy())
    assert (claim.success, claim.outcome) == (True, "unknown")
    assert judge(RetryPolicy(unknown_is_failure=True)).kind == "verify"


def test_verifier_answers() -> None:
    assert judge(RetryPolicy(verify=lambda result: result == 3), result=3).success
    rejected = judge(RetryPolicy(verify=lambda result: False))
    assert (rejected.kind, rejected.outcome, rejected.verified) == ("verify", "failed", False)
    assert judge(RetryPolicy(verify=lambda: None)).kind == "verifier_error"


def test_a_verifier_that_raises_is_a_verdict() -> None:
    def boom() -> bool:
        raise ValueError("no tests found")

    verdict = judge(RetryPolicy(verify=boom))
    assert (verdict.success, verdict.kind) == (False, "verifier_error") and "no tests found" in verdict.reason


def test_command_verifier_runs_in_the_workspace(tmp_path: Path) -> None:
    (tmp_path / "ok").write_text("")
    ok = f'{sys.executable} -c "import os, sys; sys.exit(0 if os.path.exists(\'ok\') else 1)"'
    assert judge(RetryPolicy(verify=ok), workspace=tmp_path).success
    assert not judge(RetryPolicy(verify=ok), workspace=tmp_path / "..").success
    slow = CommandVerifier(f'{sys.executable} -c "import time; time.sleep(5)"', timeout=0.2)
    verdict = judge(RetryPolicy(verify=slow.command, verify_timeout=0.2), workspace=tmp_path)
    assert verdict.kind == "verifier_error" and verdict.reason == "the command did not finish within 0.2 s"
    assert verdict.outcome == "unknown"  # the verifier broke: nothing says the agent failed


def test_make_verifier_adapts_arity() -> None:
    assert make_verifier(None, None) is None
    zero = make_verifier(lambda: "yes", None)
    one = make_verifier(lambda r: r, None)
    assert zero is not None and one is not None and zero(1) == "yes" and one(5) == 5
    with pytest.raises(TypeError):
        make_verifier(3, None)  # type: ignore[arg-type]


def test_policy_validation() -> None:
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError, match="unknown failure kinds"):
        RetryPolicy(retry_on=frozenset({"bad"}))


def test_budget_merge_and_meter() -> None:
    budget = Budget(steps=10).merged(Budget(steps=3, cost=1.0, seconds=60))
    assert (budget.steps, budget.cost, budget.seconds, budget.tokens) == (10, 1.0, 60, None)
    meter = BudgetMeter(budget)
    meter.charge(Usage(steps=4, cost=0.25))
    left = meter.remaining()
    assert (left.steps, left.cost, left.tokens) == (6, 0.75, None) and meter.exhausted() is None
    meter.charge(Usage(steps=7))
    assert meter.remaining().steps == 0 and meter.exhausted() == "steps"


def test_usage_of_a_tree() -> None:
    llm = Call(id="l", kind="llm", name="m", input_tokens=100, output_tokens=20, cost=0.5)
    tool = Call(id="t", kind="tool", name="bash", action=Action(tool="bash", command="ls"))
    run = Run(id="r", framework="x", steps=[Step(id=1, key="1", calls=[llm, tool]), Step(id=2, key="2")])
    usage = Usage.of_run(run, seconds=1.5)
    assert usage.as_dict() == {"steps": 2, "tokens": 120, "cost": 0.5, "seconds": 1.5}
    assert Usage.of_run(None).steps == 0

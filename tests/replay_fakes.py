"""A framework-free agent for the replay unit tests: each attempt emits a scripted run through a real Tracer."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from codetracer.core.model import Diagnosis, Run
from codetracer.core.tracer import Tracer
from codetracer.hooks.specs import hookimpl
from codetracer.replay import AttemptResult, AttemptRunner, Budget, Judge

Plan = Callable[[int, "str | None"], "tuple[list[tuple[str, int]], Any]"]
"""(attempt, correction) -> (steps as (command, exit code), the attempt's result or an exception to raise)."""


class FakeRunner(AttemptRunner):
    framework = "fake"

    def __init__(self, tracer: Tracer, plan: Plan, *, budget: Budget | None = None) -> None:
        super().__init__(object(), tracer)
        self.plan = plan
        self.budget = budget or Budget()
        self.corrections: list[str | None] = []
        self.remaining: list[Budget] = []

    def default_budget(self) -> Budget:
        return self.budget

    def attempt(self, n: int, args: tuple[Any, ...], kwargs: Mapping[str, Any], *, parent_run_id: str | None,
                remaining: Budget, judge: Judge) -> AttemptResult:
        correction, self.pending = self.pending, None
        self.corrections.append(correction)
        self.remaining.append(remaining)
        steps, result = self.plan(n, correction)
        ev = self.tracer.events
        run_id = f"fake-{n}"
        ev.run_started(run_id, "fake", task="make the test pass", parent_run_id=parent_run_id)
        for i, (command, code) in enumerate(steps, 1):
            ev.step_started(run_id, str(i), thought=f"step {i}")
            ev.tool_call_started(run_id, str(i), f"c{i}", "bash", command=command)
            ev.tool_call_finished(run_id, f"c{i}", output=f"out {i}", exit_code=code, is_error=code != 0)
            ev.step_finished(run_id, str(i))
        if isinstance(result, BaseException):
            verdict = judge(error=result)
            ev.run_finished(run_id, verdict.outcome)
            return AttemptResult(error=result, run_id=run_id)
        verdict = judge(result=result)
        ev.run_finished(run_id, verdict.outcome)
        return AttemptResult(value=result, run_id=run_id)


class FakeReinject:
    """The reinject plugin of the fake framework."""

    __name__ = "fake-reinject"

    @hookimpl
    def codetracer_reinject(self, run: Run, diagnosis: Diagnosis, handle: Any) -> bool | None:
        if not isinstance(handle, FakeRunner):
            return None
        handle.deliver(handle.correction(run, diagnosis))
        return True

"""Retry policy, the shared budget and verifiers: what counts as a failure and how much room a retry has left.

Why a *shared* budget: a retry that gets a fresh budget is not comparable with the run it repairs (any agent looks
better with twice the steps). Every attempt of one reflective replay draws from the original run's budget -- steps,
tokens, cost and wall time -- so "retry with a diagnosis" competes with "no retry" on equal terms.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codetracer.core import checks
from codetracer.core.checks import Check, CommandCheck, of_result
from codetracer.core.model import Run

log = logging.getLogger("codetracer.replay")

FAILURE_KINDS = frozenset({"exception", "exit", "budget", "verify", "verifier_error"})
"""What can make an attempt a failure:

* ``exception``: the attempt raised;
* ``exit``: the agent's own exit status says it failed (the traced run's outcome is ``failed``);
* ``budget``: the attempt ran out of its budget (the framework's limit, or codetracer's shared budget);
* ``verify``: the verifier said the result is wrong;
* ``verifier_error``: the verifier itself raised (or timed out): nothing proves the result, so by default it counts.
"""

BUDGET_EXITS = frozenset(
    {
        "LimitsExceeded",
        "TimeExceeded",
        "MaxIterationsReached",
        "MaxBudgetReached",
        "GraphRecursionError",
        "exit_cost",
        "exit_context",
        "exit_total_execution_time",
        "BudgetExhausted",
    }
)
"""Exit statuses and exception names (of the supported frameworks) that mean "out of budget"."""


# --------------------------------------------------------------------------------------------------------------------
# Budget
# --------------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Budget:
    """Limits shared by all attempts of one replay; ``None`` is no limit on that axis.

    :param steps: agent steps (turns of its loop) over all attempts.
    :param tokens: model tokens (input + output) over all attempts.
    :param cost: model cost (the framework's own currency, usually USD) over all attempts.
    :param seconds: wall time from the first attempt's start.
    """

    steps: int | None = None
    tokens: int | None = None
    cost: float | None = None
    seconds: float | None = None

    def merged(self, default: Budget) -> Budget:
        """This budget with the axes it leaves open taken from ``default`` (the framework's own limits)."""
        return Budget(
            steps=self.steps if self.steps is not None else default.steps,
            tokens=self.tokens if self.tokens is not None else default.tokens,
            cost=self.cost if self.cost is not None else default.cost,
            seconds=self.seconds if self.seconds is not None else default.seconds,
        )


@dataclass
class Usage:
    """What attempts consumed, read from their trace trees (steps, tokens, cost) and the clock."""

    steps: int = 0
    tokens: int = 0
    cost: float = 0.0
    seconds: float = 0.0

    @classmethod
    def of_run(cls, run: Run | None, seconds: float = 0.0) -> Usage:
        """Usage of one traced attempt: its steps, and the tokens and cost of its LLM calls."""
        if run is None:
            return cls(seconds=seconds)
        tokens = 0
        cost = 0.0
        for step in run.steps:
            for call in step.calls:
                if call.kind == "llm":
                    tokens += (call.input_tokens or 0) + (call.output_tokens or 0)
                    cost += call.cost or 0.0
        return cls(steps=len(run.steps), tokens=tokens, cost=cost, seconds=seconds)

    def add(self, other: Usage) -> None:
        self.steps += other.steps
        self.tokens += other.tokens
        self.cost += other.cost
        self.seconds += other.seconds

    def as_dict(self) -> dict[str, Any]:
        return {"steps": self.steps, "tokens": self.tokens, "cost": round(self.cost, 6),
                "seconds": round(self.seconds, 3)}


class BudgetMeter:
    """Keeps the running total of a replay against its :class:`Budget`."""

    def __init__(self, budget: Budget) -> None:
        self.budget = budget
        self.used = Usage()
        self.started = time.monotonic()

    def charge(self, usage: Usage) -> None:
        self.used.add(usage)

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def remaining(self) -> Budget:
        """What is left on every limited axis (never below zero)."""
        b = self.budget
        return Budget(
            steps=None if b.steps is None else max(0, b.steps - self.used.steps),
            tokens=None if b.tokens is None else max(0, b.tokens - self.used.tokens),
            cost=None if b.cost is None else max(0.0, b.cost - self.used.cost),
            seconds=None if b.seconds is None else max(0.0, b.seconds - self.elapsed()),
        )

    def exhausted(self) -> str | None:
        """The first axis with nothing left (``"steps"``, ``"tokens"``, ``"cost"``, ``"seconds"``), else ``None``."""
        left = self.remaining()
        for axis in ("steps", "tokens", "cost", "seconds"):
            value = getattr(left, axis)
            if value is not None and value <= 0:
                return axis
        return None


# --------------------------------------------------------------------------------------------------------------------
# Verifiers
# --------------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    """Whether an attempt succeeded, and why (the reason is shown in the replay report and the run's metadata).

    :param success: the attempt counts as a success.
    :param kind: one of :data:`FAILURE_KINDS` for a failure, ``"ok"`` for a success.
    :param verified: the verifier's own answer (``None`` when there was no verifier or it raised).
    """

    success: bool
    kind: str
    reason: str
    verified: bool | None = None
    check: Check | None = None
    """What the verifier said (command, exit code, output), kept as the attempt's verification node."""

    @property
    def outcome(self) -> str:
        """The outcome the attempt's tree should carry: ``unknown`` for a success nobody verified, and for a
        verifier that could not run (it proves nothing about the agent)."""
        if self.kind == "verifier_error":
            return "unknown"
        if not self.success:
            return "failed"
        return "solved" if self.verified else "unknown"


Verifier = Callable[..., Any]
"""``verify()`` or ``verify(result)`` -> truthy for success; or a shell command string (exit code 0 = success)."""


@dataclass(frozen=True)
class CommandVerifier(CommandCheck):
    """A shell command run in the workspace: exit code 0 is success (e.g. ``"pytest -q tests/test_bug.py"``); it
    answers with a :class:`~codetracer.core.checks.Check` holding the command's exit code and output."""


def make_verifier(verify: Verifier | str | None, workspace: Path | None) -> Callable[[Any], Any] | None:
    """Normalise what the user gave: a command string, a callable of zero or one argument, or ``None``."""
    if verify is None:
        return None
    if isinstance(verify, str):
        return CommandVerifier(verify, cwd=workspace)
    if not callable(verify):
        raise TypeError(f"verify must be a callable, a shell command or None, not {type(verify).__name__}")
    return of_result(verify)


# --------------------------------------------------------------------------------------------------------------------
# Policy
# --------------------------------------------------------------------------------------------------------------------


@dataclass
class RetryPolicy:
    """How a reflective replay decides and retries.

    :param max_attempts: attempts in all, the original run included (2 = one retry). At least 1.
    :param verify: decides success (callable or shell command); ``None`` trusts the agent's own exit status.
    :param retry_on: which failure kinds (see :data:`FAILURE_KINDS`) trigger a retry; others end the replay.
    :param unknown_is_failure: without a verifier, treat an agent that stopped without a verdict (outcome
        ``unknown``, e.g. mini-swe-agent's ``Submitted``) as a failure. Default: the agent's claim is a success.
    :param budget: the shared budget; axes left ``None`` take the framework's own limits of the original run.
    :param rollback: restore files the failed attempt touched after the diagnosed onset before retrying
        (local folders and git repositories; see :mod:`codetracer.replay.workspace`).
    :param workspace: the folder to verify in and roll back; by default the framework's own working directory.
    :param verify_timeout: seconds a shell-command verifier may take.
    """

    max_attempts: int = 2
    verify: Verifier | str | None = None
    retry_on: frozenset[str] = field(default_factory=lambda: FAILURE_KINDS)
    unknown_is_failure: bool = False
    budget: Budget = field(default_factory=Budget)
    rollback: bool = False
    workspace: Path | None = None
    verify_timeout: float = 600.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        unknown = set(self.retry_on) - FAILURE_KINDS
        if unknown:
            raise ValueError(f"unknown failure kinds {sorted(unknown)}; known: {sorted(FAILURE_KINDS)}")
        self.retry_on = frozenset(self.retry_on)

    def judge(
        self,
        *,
        result: Any,
        error: BaseException | None,
        exit_status: str | None,
        agent_failed: bool,
        workspace: Path | None,
        over_budget: str | None = None,
    ) -> Verdict:
        """Decide one attempt. Never raises: a verifier that raises is a ``verifier_error`` failure.

        :param agent_failed: the framework's own exit said failure (an error exit, a limit, an exception).
        :param over_budget: the shared budget axis the attempt exhausted, if any.
        """
        name = type(error).__name__ if error is not None else None
        if (exit_status in BUDGET_EXITS or name in BUDGET_EXITS) or over_budget:
            what = over_budget or exit_status or name
            return Verdict(False, "budget", f"the attempt ran out of budget ({what})")
        if error is not None:
            return Verdict(False, "exception", f"the attempt raised {name}: {error}")
        if agent_failed:
            return Verdict(False, "exit", f"the agent stopped with a failing exit status ({exit_status})")
        base = self.workspace or workspace
        verifier = make_verifier(self.verify, base)
        if isinstance(verifier, CommandVerifier):
            verifier = CommandVerifier(verifier.command, verifier.cwd, self.verify_timeout)
        if verifier is None:
            if self.unknown_is_failure:
                return Verdict(False, "verify", "no verifier and the agent's exit proves nothing")
            return Verdict(True, "ok", f"the agent finished ({exit_status or 'no exit status'}); not verified")
        check = checks.call(verifier, result, name=checks.describe(self.verify), truthy=True)  # never raises
        if check is None:
            check = checks.Check(checks.describe(self.verify), None, error="the verifier gave no answer (None)")
        if check.passed is None:
            return Verdict(False, "verifier_error", check.error or "the verifier gave no verdict", check=check)
        if check.passed:
            return Verdict(True, "ok", "the verifier accepted the result", verified=True, check=check)
        return Verdict(False, "verify", "the verifier rejected the result", verified=False, check=check)

"""Reflective replay: when an agent run fails, diagnose it and let the agent retry, in the same run, with the
diagnosis in front of it -- within the original run's budget.

``codetracer.auto_retry(target, verify=..., max_attempts=2)`` is the one line (see ``docs/replay.md``);
:mod:`codetracer.replay.engine` is the loop, :mod:`codetracer.replay.policy` the policy, budget and verifiers,
:mod:`codetracer.replay.message` the agent-facing correction text and :mod:`codetracer.replay.workspace` rollback.
Framework specifics live in ``codetracer.adapters.<fw>.replay``.
"""

from __future__ import annotations

from codetracer.replay.engine import (
    PLAIN_RETRY,
    Attempt,
    AttemptResult,
    AttemptRunner,
    DefaultDiagnosis,
    Judge,
    OutOfBudget,
    Retrying,
    auto_retry,
)
from codetracer.replay.message import HEADER, correction_message
from codetracer.replay.policy import Budget, BudgetMeter, CommandVerifier, RetryPolicy, Usage, Verdict, make_verifier
from codetracer.replay.workspace import Snapshot, files_to_roll_back

__all__ = [
    "HEADER",
    "PLAIN_RETRY",
    "Attempt",
    "AttemptResult",
    "AttemptRunner",
    "Budget",
    "BudgetMeter",
    "CommandVerifier",
    "DefaultDiagnosis",
    "Judge",
    "OutOfBudget",
    "RetryPolicy",
    "Retrying",
    "Snapshot",
    "Usage",
    "Verdict",
    "auto_retry",
    "correction_message",
    "files_to_roll_back",
    "make_verifier",
]

"""Evaluation metrics as pure functions over step ids, so every figure in a report can be checked by hand.

Conventions (the ones that change numbers, stated once):

* step-level precision/recall/F1 compare the *set* of predicted incorrect step ids with the gold set of one
  trajectory; an empty prediction against a non-empty gold scores 0/0/0;
* the macro average is over trajectories **with** gold incorrect steps only; trajectories without any (solved runs)
  are measured by the false-alarm rate instead, never mixed into F1;
* single-step gold (Who&When ``mistake_step``) is compared as integers: exact, or within ``±k`` steps;
* a missing prediction (``None``) is wrong, not skipped.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class PRF:
    precision: float
    recall: float
    f1: float


def step_prf(predicted: Iterable[int], gold: Iterable[int]) -> PRF:
    """Precision, recall and F1 of one trajectory's predicted incorrect steps against its gold steps."""
    pred, true = set(predicted), set(gold)
    hits = len(pred & true)
    precision = hits / len(pred) if pred else 0.0
    recall = hits / len(true) if true else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return PRF(precision, recall, f1)


def mean(values: Sequence[float]) -> float | None:
    """The arithmetic mean, or None for no values (a figure that does not exist is not 0)."""
    return sum(values) / len(values) if values else None


def macro_prf(pairs: Iterable[tuple[Iterable[int], Iterable[int]]]) -> PRF | None:
    """Per-trajectory P/R/F1 averaged over the trajectories whose gold set is non-empty; None when there is none."""
    scores = []
    for predicted, gold in pairs:
        gold_set = set(gold)
        if gold_set:
            scores.append(step_prf(predicted, gold_set))
    if not scores:
        return None
    return PRF(
        precision=sum(s.precision for s in scores) / len(scores),
        recall=sum(s.recall for s in scores) / len(scores),
        f1=sum(s.f1 for s in scores) / len(scores),
    )


def false_alarm_rate(alarms: Sequence[bool]) -> float | None:
    """Share of failure-free trajectories on which a method raised an alarm."""
    return mean([1.0 if a else 0.0 for a in alarms])


def within(predicted: int | None, gold: int, k: int = 0) -> bool:
    """Integer comparison of a predicted step with single-step gold, exact at ``k=0``."""
    return predicted is not None and abs(predicted - gold) <= k


def accuracy(hits: Sequence[bool]) -> float | None:
    return mean([1.0 if h else 0.0 for h in hits])


def stage_containing(step: int | None, stages: Sequence[tuple[int, int, int]]) -> int | None:
    """The id of the stage ``(stage_id, start_step, end_step)`` holding ``step``; None when none does."""
    if step is None:
        return None
    for stage_id, start, end in stages:
        if start <= step <= end:
            return stage_id
    return None


def earliest_stage(step_ids: Iterable[int], stages: Sequence[tuple[int, int, int]]) -> int | None:
    """The earliest stage holding any of ``step_ids`` (the earliest failing stage of a step set)."""
    found = [s for s in (stage_containing(i, stages) for i in step_ids) if s is not None]
    return min(found) if found else None

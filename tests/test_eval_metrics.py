"""The pure metric functions of codetracer.evaluate.metrics, checked against hand-computed values."""

from __future__ import annotations

import pytest

from codetracer.evaluate import metrics


def test_step_prf_partial_overlap() -> None:
    prf = metrics.step_prf([3, 4, 5, 6], [4, 6, 9])
    assert prf.precision == pytest.approx(2 / 4)
    assert prf.recall == pytest.approx(2 / 3)
    assert prf.f1 == pytest.approx(2 * 0.5 * (2 / 3) / (0.5 + 2 / 3))


def test_step_prf_empty_prediction_scores_zero() -> None:
    assert metrics.step_prf([], [1]) == metrics.PRF(0.0, 0.0, 0.0)


def test_macro_prf_skips_rows_without_gold() -> None:
    # the second row has no gold steps: it must not dilute the macro average
    macro = metrics.macro_prf([([1], [1]), ([2, 3], []), ([5], [6])])
    assert macro is not None
    assert macro.f1 == pytest.approx(0.5)
    assert metrics.macro_prf([([1], [])]) is None


def test_false_alarm_rate_and_accuracy() -> None:
    assert metrics.false_alarm_rate([True, False, False, False]) == pytest.approx(0.25)
    assert metrics.false_alarm_rate([]) is None
    assert metrics.accuracy([True, True, False]) == pytest.approx(2 / 3)


def test_within_is_integer_tolerance_and_none_is_wrong() -> None:
    assert metrics.within(4, 4)
    assert not metrics.within(5, 4)
    assert metrics.within(5, 4, k=1)
    assert metrics.within(3, 4, k=1)
    assert not metrics.within(None, 4, k=10)


def test_stage_lookup_and_earliest_stage() -> None:
    stages = [(1, 1, 5), (2, 6, 9), (3, 10, 20)]
    assert metrics.stage_containing(7, stages) == 2
    assert metrics.stage_containing(None, stages) is None
    assert metrics.stage_containing(42, stages) is None
    assert metrics.earliest_stage([15, 8, 12], stages) == 2
    assert metrics.earliest_stage([], stages) is None

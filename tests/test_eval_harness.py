"""The evaluation harness on the real labeled data in ../shared: gold loading, honesty rules, baselines, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from codetracer.cli import main
from codetracer.core.model import Diagnosis, Outcome, Run
from codetracer.evaluate import metrics
from codetracer.evaluate.gold import load_gold
from codetracer.evaluate.harness import baselines, evaluate, format_report
from codetracer.localize.signal_localizer import SignalLocalizer

WHO = "labeled/who-and-when-algorithm-generated"
SLICES = "labeled/codetracebench-label-slices/tangle_agent-eval"
CTB = "corpora/codetracebench-steps"


class SpyLocalizer:
    """Records the outcome each run is shown with; flags the last step confidently."""

    name = "spy"

    def __init__(self) -> None:
        self.seen: list[Outcome] = []

    def localize(self, run: Run) -> Diagnosis:
        self.seen.append(run.outcome)
        last = len(run.steps)
        return Diagnosis(localizer=self.name, onset_step=last, incorrect_step_ids=[last], confidence=0.9)


def test_who_and_when_scores_match_an_independent_count(shared: Path) -> None:
    rows, problems = load_gold(shared / WHO)
    assert len(rows) == 126 and not problems
    report = evaluate(rows, SignalLocalizer(), tolerance=1)
    table = report.table["all"]
    localizer = SignalLocalizer()
    onsets = [localizer.localize(r.run).onset_step for r in rows]
    exact = sum(o == r.mistake_step for o, r in zip(onsets, rows, strict=True)) / len(rows)
    assert table["signals"].exact == pytest.approx(exact)
    # the constant rules, counted directly from the gold
    assert table["first"].exact == pytest.approx(sum(r.mistake_step == 1 for r in rows) / len(rows))
    assert table["last"].exact == pytest.approx(sum(r.mistake_step == len(r.run.steps) for r in rows) / len(rows))
    assert table["none"].f1 == 0.0
    assert table["all"].recall == pytest.approx(1.0)
    assert report.ms_mean is not None


def test_failure_free_rows_hide_the_outcome_and_count_alarms(shared: Path) -> None:
    rows, problems = load_gold(shared / "corpora/miniswe-swebench-verified")
    assert len(rows) == 50 and all(r.failure_free for r in rows)
    assert any("neither labeled nor solved" in p for p in problems)
    spy = SpyLocalizer()
    report = evaluate(rows, spy)
    assert set(spy.seen) == {Outcome.UNKNOWN}
    assert all(r.run.outcome is Outcome.SOLVED for r in rows)  # the rows themselves are untouched
    table = report.table["all"]
    assert table["spy"].false_alarm == 1.0
    assert table["none"].false_alarm == 0.0
    assert table["spy"].f1 is None


def test_manifest_rows_find_their_trajectories(shared: Path) -> None:
    manifest = shared / SLICES / "codetracebench-oht2-20260801_family-framing_smoke-labels-openhands.json"
    rows, problems = load_gold(manifest, shared / CTB)
    assert [r.source for r in rows] == ["openhands-DeepSeek__DeepSeek-V3.2-install-windows-xp-6370aa03"]
    assert sum("no trajectory" in p for p in problems) == 5
    assert any("beyond the" in p for p in problems)  # steps.json holds a prefix of the annotated run
    row = rows[0]
    assert row.incorrect == frozenset({63, 64, 76, 77, 78, 81, 82})
    assert row.failing_stage == 8
    assert metrics.stage_containing(63, row.stages) == 8
    assert row.run.outcome is Outcome.FAILED
    report = evaluate(rows, SignalLocalizer())
    assert report.table["all"]["signals"].stage_accuracy in (0.0, 1.0)


def test_jsonl_gold_format(shared: Path, tmp_path: Path) -> None:
    gold = tmp_path / "gold.jsonl"
    lines = [
        {"run": str(shared / WHO / "5.json"), "mistake_step_id": 4, "mistake_agent": "DataVerification_Expert"},
        {"run": str(shared / "corpora/miniswe-swebench-verified"), "incorrect_step_ids": [1]},  # many runs: noted
        {
            "run": str(shared / CTB / "openhands/openhands-DeepSeek__DeepSeek-V3.2-install-windows-xp-6370aa03"),
            "incorrect_step_ids": [63, 64],
            "stages": [
                {"stage_id": 1, "start_step_id": 1, "end_step_id": 62},
                {"stage_id": 2, "start_step_id": 63, "end_step_id": 88},
            ],
        },
    ]
    gold.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    rows, problems = load_gold(gold)
    assert len(rows) == 2 and len(problems) == 1
    assert rows[0].mistake_step == 4 and rows[0].incorrect == frozenset({4})
    assert rows[1].failing_stage == 2
    text = format_report(evaluate(rows, SignalLocalizer(), title="jsonl"))
    for name in baselines(3):
        assert f"\n{name} " in text


def test_cli_eval_prints_method_and_baselines(shared: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", str(shared / WHO), "--split", "even", "--k", "5"]) == 0
    out = capsys.readouterr().out
    assert "63 rows, even ids" in out
    for name in ("signals", "none", "all", "first", "last", "last-5", "first-error"):
        assert f"\n{name} " in out
    assert main(["eval", str(shared / WHO), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["frameworks"]["all"]["signals"]["n_failed"] == 126


def test_cli_eval_reports_a_manifest_without_root(shared: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = shared / SLICES / "codetracebench-oht2-20260801_family-framing_smoke-labels-terminus2.json"
    assert main(["eval", str(manifest)]) == 1
    assert "--traj-root" in capsys.readouterr().err

"""The failure shapes of the signal localizer on real runs, and its figures on the development sets.

The per-run cases say why the onset is where it is (the evidence each shape reads); the figures guard the issue's
acceptance levels on the labeled development sets in ../shared/labeled. Those sets are for development: the rules
are generic, and held-out runs of other agents are what they are judged on.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from codetracer.core.extract import Failure, extract_all
from codetracer.core.model import Action, Outcome, Run
from codetracer.evaluate.gold import load_gold
from codetracer.evaluate.harness import Report, evaluate
from codetracer.localize.calls import degenerate_tail, garbled
from codetracer.localize.signal_localizer import CONFIDENT, SignalLocalizer

ATIF = "corpora/atif-terminal-bench-2"
MINI = "corpora/miniswe-swebench-verified"
EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "runs" / "failing.traj.json"


def one_run(path: Path) -> Run:
    (run,) = [r for r in extract_all(path) if not isinstance(r, Failure)]
    return run


def lead(run: Run) -> tuple[int | None, str]:
    diagnosis = SignalLocalizer().localize(run)
    return diagnosis.onset_step, diagnosis.evidence[0].signal if diagnosis.evidence else ""


@pytest.mark.parametrize(
    ("command", "why"),
    [
        (": pip install pexpect", "command behind the no-op ':'"),
        ("]}", "command is only punctuation (']}')"),
        ('>       <parameter name="command">ls -la', "tool-call markup inside the command"),
        ("   ", "empty command"),
    ],
)
def test_garbled_commands(command: str, why: str) -> None:
    assert garbled(Action(tool="Bash", command=command)) == why


def test_garbled_file_writes_and_real_ones() -> None:
    path_as_content = Action(tool="Write", arguments={"file_path": "/app/x.py", "content": "/app/x.py"})
    assert garbled(path_as_content) == "the file path written as the file's content"
    stray = Action(tool="Write", arguments={"file_path": "/app/x.c", "content": ", p\n#include <stdio.h>\n"})
    assert garbled(stray) == "stray first line ', p' in the written file"
    assert garbled(Action(tool="Write", arguments={"file_path": ": ", "content": ":"})) == "garbled file path"
    assert garbled(Action(tool="Bash", command=": > empty.log && ls")) is not None  # the no-op builtin, even so
    for fine in (Action(tool="Bash", command="ls -la /app"), Action(tool="Bash", command="echo 'a: b'"),
                 Action(tool="Write", arguments={"file_path": "/app/a.py", "content": "import os\n"})):
        assert garbled(fine) is None


def test_degenerate_tail_starts_at_the_first_broken_call_that_never_recovers() -> None:
    p, g, f, n = "productive", "garbled", "failed", "none"
    assert degenerate_tail([p, p, n, g, g, p, g, g, g]) == 3
    assert degenerate_tail([p, f, f, g, g, g]) == 1  # the failing calls right before it belong to it
    assert degenerate_tail([p, g, p, p, p, p]) is None  # recovered
    assert degenerate_tail([p, g, g, g, p, p], after=4) is None


def test_the_example_onset_is_the_first_of_the_failing_attempts(shared: Path) -> None:
    # steps 4 and 6 edit median() and fail their tests; step 8's change to mean() is what the patch keeps; no check
    # passed in between: the wrong line of work began at step 4 (examples/runs/README.md says why)
    run = one_run(EXAMPLE)
    diagnosis = SignalLocalizer().localize(run)
    assert diagnosis.onset_step == 4 and diagnosis.evidence[0].signal == "failing_attempts"
    assert {6, 8, 10} <= set(diagnosis.chain) and diagnosis.confidence >= CONFIDENT
    assert "step 8" in diagnosis.reasoning and "git diff at step 12" in diagnosis.reasoning


def test_a_silent_swe_bench_failure_is_the_first_kept_change(shared: Path) -> None:
    # django-11149: the agent's own checks pass; the submission is all step 28's script (run at step 29)
    run = one_run(shared / MINI / "django__django-11149")
    diagnosis = SignalLocalizer().localize(run)
    assert (diagnosis.onset_step, diagnosis.evidence[0].signal) == (28, "surviving_edit")
    assert 29 in diagnosis.incorrect_step_ids
    assert "test_" in diagnosis.reasoning  # the verifier's failing tests are cited


def test_the_verifier_points_at_a_support_file_beside_the_failing_test(shared: Path) -> None:
    # django-11999: the core fix (step 12) is right; step 25 adds a model to tests/model_fields/models.py that
    # clashes with the official test of tests/model_fields/tests.py
    assert lead(one_run(shared / MINI / "django__django-11999")) == (25, "verifier_blames")


def test_terminal_runs_degenerate_never_start_or_keep_garbled_files(shared: Path) -> None:
    assert lead(one_run(shared / ATIF / "tune-mjcf__m8iUniB")) == (8, "degenerate")
    assert lead(one_run(shared / ATIF / "fix-git__cCozJVA")) == (111, "never_started")
    assert lead(one_run(shared / ATIF / "torch-tensor-parallelism__TghwvbV")) == (3, "garbled_kept")
    # headless-terminal: the implementation (step 14) is kept and fine; from step 16 every call is a no-op
    assert lead(one_run(shared / ATIF / "headless-terminal__bemYu3W")) == (16, "degenerate")


def test_an_unknown_outcome_is_not_a_confident_failure_without_visible_evidence(shared: Path) -> None:
    run = one_run(shared / MINI / "django__django-11149")
    hidden = run.model_copy(update={"outcome": Outcome.UNKNOWN, "verification": None})
    diagnosis = SignalLocalizer().localize(hidden)
    assert diagnosis.onset_step == 28 and diagnosis.confidence < CONFIDENT


def _report(shared: Path, gold: str) -> Report:
    rows, problems = load_gold(shared / gold)
    assert rows, problems
    return evaluate(rows, SignalLocalizer())


def test_development_figures_on_swe_bench_failures(shared: Path) -> None:
    table = _report(shared, "labeled/silver-miniswe-dev/gold.jsonl").table["all"]
    ours = table["signals"]
    assert ours.exact is not None and ours.exact >= 0.45
    assert (ours.within[3] or 0) >= 0.70
    assert ours.f1 is not None and ours.f1 >= (table["all"].f1 or 0) + 0.10
    assert ours.f1 >= (table["last-3"].f1 or 0) + 0.10


def test_development_figures_on_terminal_bench_failures(shared: Path) -> None:
    table = _report(shared, "labeled/silver-atif-dev/gold.jsonl").table["all"]
    ours = table["signals"]
    assert ours.exact is not None and ours.exact >= 0.35 and (ours.within[3] or 0) >= 0.60
    assert all(ours.f1 is not None and ours.f1 > (s.f1 or 0) for name, s in table.items() if name != "signals")


def test_false_alarms_on_solved_runs_with_the_outcome_hidden(shared: Path) -> None:
    assert (_report(shared, MINI).table["all"]["signals"].false_alarm or 0) <= 0.20
    assert (_report(shared, "labeled/who-and-when-algorithm-generated").table["all"]["signals"].exact or 0) >= 0.40


def test_confident_diagnoses_are_right_more_often_than_not(shared: Path) -> None:
    right = wrong = 0
    for gold in ("labeled/silver-miniswe-dev/gold.jsonl", "labeled/silver-atif-dev/gold.jsonl"):
        rows, _ = load_gold(shared / gold)
        for row in rows:
            diagnosis = SignalLocalizer().localize(row.run)
            if diagnosis.confidence >= CONFIDENT and diagnosis.onset_step is not None and row.mistake_step:
                if abs(diagnosis.onset_step - row.mistake_step) <= 3:
                    right += 1
                else:
                    wrong += 1
    assert right > wrong

"""Signal extractors and the signal localizer, on small hand-built trees and on real runs from ../shared."""

from __future__ import annotations

from pathlib import Path

from codetracer.core.extract import Failure, extract_all
from codetracer.core.model import Action, Call, FileEdit, Observation, Outcome, Run, Step, Text
from codetracer.core.stages import ensure_stages
from codetracer.localize import signals
from codetracer.localize.registry import LocalizerRegistry
from codetracer.localize.signal_localizer import CONFIDENT, SignalLocalizer


def _step(
    i: int, command: str, output: str = "", exit_code: int | None = 0, edits: list[FileEdit] | None = None
) -> Step:
    action = Action(tool="bash", command=command, edits=edits or [])
    obs = Observation(
        text=Text(text=output, size=len(output)), exit_code=exit_code, is_error=exit_code not in (0, None)
    )
    call = Call(id=f"c{i}", kind="tool", name="bash", action=action, observation=obs)
    return Step(id=i, key=str(i), thought=Text(text=f"thinking {i}", size=10), calls=[call])


def _run(steps: list[Step], outcome: Outcome = Outcome.UNKNOWN, task: str = "fix bug in app/core.py") -> Run:
    return ensure_stages(Run(id="r", framework="test", task=task, outcome=outcome, steps=steps))


def _chat(turns: list[tuple[str, str]]) -> Run:
    steps = []
    for i, (agent, text) in enumerate(turns, 1):
        body = Text(text=text, size=len(text))
        if agent == "Computer_terminal":
            code = int(text.split()[1]) if text.startswith("exitcode:") else None
            obs = Observation(text=body, exit_code=code, is_error=code not in (None, 0))
            steps.append(Step(id=i, key=str(i), agent=agent, observations=[obs]))
        else:
            steps.append(Step(id=i, key=str(i), agent=agent, thought=body))
    return ensure_stages(Run(id="chat", framework="ag2", outcome=Outcome.FAILED, steps=steps))


def test_error_evidence_is_attributed_to_the_producer_in_chat_logs() -> None:
    run = _chat(
        [
            ("Planner", "Plan: compute it."),
            ("Coder", "```python\nprint(1/0)\n```"),
            ("Computer_terminal", "exitcode: 1 (execution failed)\nZeroDivisionError: division by zero"),
        ]
    )
    found = signals.error_results(signals.RunView(run))
    assert [(e.step_id, e.signal) for e in found] == [(2, "error")]
    assert "step 3" in found[0].detail


def test_repeats_and_loops() -> None:
    run = _run([_step(1, "ls -la"), _step(2, "pytest -x"), _step(3, "pytest -x"), _step(4, "pytest -x")])
    found = signals.repeated_actions(signals.RunView(run))
    assert [(e.step_id, e.signal) for e in found] == [(3, "repeat"), (4, "loop")]


def test_overwritten_edit_and_failing_test_after_edit() -> None:
    first = FileEdit(path="app/core.py", old="a = 1", new="a = 2")
    second = FileEdit(path="app/core.py", old="a = 2", new="a = 3")
    run = _run(
        [
            _step(1, "cat app/core.py", "a = 1"),
            _step(2, "str_replace app/core.py", edits=[first]),
            _step(3, "pytest tests", "FAILED tests/test_core.py::test_a", exit_code=1),
            _step(4, "str_replace app/core.py", edits=[second]),
        ]
    )
    view = signals.RunView(run)
    assert [e.step_id for e in signals.overwritten_edits(view)] == [2]
    assert [e.step_id for e in signals.failing_tests_after_edit(view)] == [2]
    unverified = signals.unverified_submission(view)
    assert [e.step_id for e in unverified] == [4]


def test_recovered_errors_are_not_decisive() -> None:
    run = _run(
        [
            _step(1, "python setup.py build", "error: missing header", exit_code=1),
            _step(2, "apt-get install libfoo-dev"),
            _step(3, "python setup.py build", "ok"),
            _step(4, "pytest tests", "5 passed"),
        ]
    )
    view = signals.RunView(run)
    assert view.recovered[0]
    diagnosis = SignalLocalizer().localize(run)
    assert diagnosis.confidence < CONFIDENT


def test_unrecovered_failure_gives_confident_onset_with_cited_steps() -> None:
    run = _run(
        [
            _step(1, "cat app/core.py", "a = 1"),
            _step(2, "pytest tests", "3 passed"),
            _step(3, "str_replace app/core.py", edits=[FileEdit(path="app/core.py", old="a = 1", new="a = None")]),
            _step(4, "pytest tests", "Traceback (most recent call last):\nTypeError: bad", exit_code=1),
            _step(5, "pytest tests", "Traceback (most recent call last):\nTypeError: bad", exit_code=1),
            _step(6, "echo submit", "submitted"),
        ],
        outcome=Outcome.FAILED,
    )
    diagnosis = SignalLocalizer().localize(run)
    assert diagnosis.onset_step == 3
    assert diagnosis.confidence >= CONFIDENT
    assert {4, 5} <= set(diagnosis.chain)
    assert 3 in diagnosis.incorrect_step_ids
    assert "step 3" in diagnosis.reasoning and "step 4" in diagnosis.reasoning
    assert diagnosis.stage_id == run.stage_of(3).id  # type: ignore[union-attr]
    assert diagnosis.suggestion


def test_solved_clean_run_gets_no_onset() -> None:
    run = _run([_step(1, "cat app/core.py"), _step(2, "pytest tests", "3 passed")], outcome=Outcome.SOLVED)
    diagnosis = SignalLocalizer().localize(run)
    assert diagnosis.onset_step is None
    assert diagnosis.confidence < CONFIDENT


def test_signals_is_the_default_registered_localizer() -> None:
    localizer = LocalizerRegistry.from_plugins().get()
    assert localizer is not None and localizer.name == "signals"


def test_who_and_when_diagnosis_names_an_agent(shared: Path) -> None:
    run = next(r for r in extract_all(shared / "labeled/who-and-when-algorithm-generated/5.json"))
    assert not isinstance(run, Failure)
    diagnosis = SignalLocalizer().localize(run)
    assert diagnosis.onset_step is not None
    assert diagnosis.agent == run.step(diagnosis.onset_step).agent
    assert diagnosis.incorrect_step_ids[0] == diagnosis.onset_step


def test_every_corpus_run_gets_a_well_formed_diagnosis(shared: Path) -> None:
    """Speed is measured by benchmarks/localize_speed.py; here every real run must give a consistent answer."""
    localizer = SignalLocalizer()
    runs = [r for r in extract_all(shared / "corpora/miniswe-swebench-verified") if not isinstance(r, Failure)]
    assert len(runs) == 100
    for run in runs:
        diagnosis = localizer.localize(run)
        assert 0.0 <= diagnosis.confidence <= 1.0
        assert set(diagnosis.incorrect_step_ids).isdisjoint(diagnosis.unuseful_step_ids)
        if diagnosis.onset_step is not None:
            assert 1 <= diagnosis.onset_step <= len(run.steps)
            assert all(diagnosis.onset_step < s <= len(run.steps) for s in diagnosis.chain)


def test_a_failing_check_of_the_edited_file_verifies_the_edit() -> None:
    """``grep`` on the file an edit wrote is a check of that edit: when it fails, the edit is blamed for it, and the
    reasoning does not call the edit unverified (the run's tree shows it verified and failing)."""
    run = _run(
        [
            _step(1, "cat notes/summary.txt", "completed no steps"),
            _step(2, "sed -i 's/no/every/' notes/summary.txt"),
            _step(3, "grep -qx 'completed all steps' notes/summary.txt", "", exit_code=1),
            _step(4, "echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT"),
        ],
        task="the summary must say 'completed all steps' (notes/summary.txt)",
    )
    view = signals.RunView(run)
    assert [(e.step_id, e.detail) for e in signals.failing_tests_after_edit(view)] == [
        (2, "the check of the edited file at step 3 fails")
    ]
    assert signals.unverified_submission(view) == []
    assert signals.never_verified(view) == []
    diagnosis = SignalLocalizer().localize(run)
    assert (diagnosis.onset_step, diagnosis.chain) == (2, [3])
    assert diagnosis.confidence >= CONFIDENT
    assert "never verified" not in diagnosis.reasoning and "never verifies" not in diagnosis.reasoning


def test_an_edit_nothing_reads_back_is_still_unverified() -> None:
    run = _run([_step(1, "cat app/core.py"), _step(2, "sed -i 's/a/b/' app/core.py"), _step(3, "ls"),
                _step(4, "echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT")])
    found = signals.unverified_submission(signals.RunView(run))
    assert [(e.step_id, e.signal) for e in found] == [(2, "unverified")]

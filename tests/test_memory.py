"""Cross-run memory: diagnoses stored as failure patterns, recalled for similar runs, never across projects."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from codetracer.cli import main
from codetracer.core.extract import Failure, extract_all
from codetracer.core.model import Action, Call, Diagnosis, Evidence, Observation, Outcome, Run, Step, Text
from codetracer.core.stages import ensure_stages
from codetracer.core.store import Store
from codetracer.localize import memory
from codetracer.localize.signal_localizer import SignalLocalizer

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "runs" / "failing.traj.json"
EXAMPLE_SIGNATURE = "patching:dropped_edit+failing_attempts+overwritten_edit+test_fails_after_edit"
"""What the signal localizer's diagnosis of the example failing run reads as a pattern."""


def _run(run_id: str, framework: str = "mini-swe-agent", **metadata: object) -> Run:
    steps = []
    for i, (command, code) in enumerate([("cat app.py", 0), ("sed -i 's/a/b/' app.py", 0), ("pytest -q", 1)], 1):
        obs = Observation(text=Text(text="1 failed" if code else "ok", size=8), exit_code=code, is_error=bool(code))
        call = Call(id=f"c{i}", kind="tool", name="bash", action=Action(tool="bash", command=command), observation=obs)
        steps.append(Step(id=i, key=str(i), calls=[call]))
    run = Run(id=run_id, framework=framework, outcome=Outcome.FAILED, steps=steps, metadata=dict(metadata))
    return ensure_stages(run)


def _diagnosis(onset: int, *signals: str) -> Diagnosis:
    evidence = [Evidence(step_id=onset, signal=s, detail=f"{s} seen", weight=1.0) for s in signals]
    evidence.append(Evidence(step_id=onset, signal="llm_usage", detail="bookkeeping", weight=0.0))
    return Diagnosis(localizer="test", onset_step=onset, evidence=evidence, suggestion=f"avoid {'+'.join(signals)}")


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "ct.db", project="alpha")


def test_task_kind_from_framework_and_metadata(shared: Path) -> None:
    assert memory.task_kind(_run("a", instance_id="django__django-11099")) == "swe-bench-like"
    assert memory.task_kind(_run("b", framework="terminal-bench", task_id="hello-world")) == "terminal-task"
    assert memory.task_kind(_run("c", framework="my-agent")) == "code-task"
    chat = next(iter(extract_all(shared / "labeled/who-and-when-algorithm-generated/5.json")))
    assert isinstance(chat, Run) and memory.task_kind(chat) == "chat-qa"
    atif = next(r for r in extract_all(shared / "corpora/atif-terminal-bench-2") if not isinstance(r, Failure))
    assert memory.task_kind(atif) == "terminal-task"
    swe = next(r for r in extract_all(shared / "corpora/miniswe-swebench-verified") if not isinstance(r, Failure))
    assert memory.task_kind(swe) == "swe-bench-like"


def test_signature_is_action_kind_and_onset_signals() -> None:
    run = _run("r1")
    assert memory.signature(run, _diagnosis(2, "test_fails_after_edit", "overwritten_edit")) == (
        "patching:overwritten_edit+test_fails_after_edit"
    )
    assert memory.signature(run, Diagnosis(localizer="t", onset_step=1)) == "inspection:silent"
    assert memory.signature(run, Diagnosis(localizer="t")) is None


def test_remember_and_recall_a_real_diagnosis(store: Store) -> None:
    first = next(iter(extract_all(EXAMPLE)))
    assert isinstance(first, Run)
    diagnosis = SignalLocalizer().localize(first)
    pattern = memory.remember(store, first, diagnosis)
    assert pattern is not None and not pattern.confirmed and pattern.seen == 1
    assert pattern.framework == "mini-swe-agent" and pattern.signature == EXAMPLE_SIGNATURE
    assert pattern.advice == diagnosis.suggestion and "verification at step 5 fails" in pattern.evidence
    assert memory.recall(store, first) == []  # a run never recalls its own diagnosis
    again = first.model_copy(update={"id": "another-run-of-the-same-kind"})
    recalled = memory.recall(store, again)
    assert [p.signature for p in recalled] == [pattern.signature]
    reinforced = memory.remember(store, again, diagnosis, confirmed=True)
    assert reinforced is not None and reinforced.seen == 2 and reinforced.confirmed


def test_recall_ranks_confirmed_then_matching_signals_then_seen(store: Store) -> None:
    run = _run("source")
    memory.remember(store, run, _diagnosis(2, "loop"))
    memory.remember(store, run, _diagnosis(2, "loop"))  # seen twice
    memory.remember(store, run, _diagnosis(3, "error"))  # matches the new run's evidence below
    memory.remember(store, run, _diagnosis(1, "unneeded_edit"), confirmed=True)
    other_kind = _run("other", instance_id="django__django-1")  # swe-bench-like: another bucket
    memory.remember(store, other_kind, _diagnosis(2, "repeat"))
    new = _run("new")
    recalled = memory.recall(store, new, evidence=[Evidence(step_id=3, signal="error")])
    assert [p.signature for p in recalled] == ["inspection:unneeded_edit", "verification:error", "patching:loop"]
    assert memory.recall(store, new, evidence=[Evidence(step_id=3, signal="error")], limit=1)[0].confirmed


def test_memory_never_leaks_between_projects(tmp_path: Path) -> None:
    alpha = Store(tmp_path / "shared.db", project="alpha")
    beta = Store(tmp_path / "shared.db", project="beta")
    memory.remember(alpha, _run("a1"), _diagnosis(2, "loop"), confirmed=True)
    assert memory.recall(beta, _run("b1")) == []
    assert memory.list_patterns(beta) == []
    memory.remember(beta, _run("b1"), _diagnosis(3, "error"))
    assert memory.forget(beta) == 1
    assert [p.signature for _, _, p in memory.list_patterns(alpha)] == ["patching:loop"]
    assert [p.signature for p in memory.recall(alpha, _run("a2"))] == ["patching:loop"]


def test_forget_one_run_or_all(store: Store) -> None:
    memory.remember(store, _run("r1"), _diagnosis(2, "loop"))
    memory.remember(store, _run("r2"), _diagnosis(3, "error"))
    assert memory.forget(store, run_id="r1") == 1
    assert [p.example_run_id for _, _, p in memory.list_patterns(store)] == ["r2"]
    assert memory.forget(store) == 1 and memory.list_patterns(store) == []


def test_known_pattern_is_mentioned_in_the_reasoning(store: Store) -> None:
    memory.remember(store, _run("r1"), _diagnosis(2, "loop"), confirmed=True)
    mentioned = memory.mention_known_pattern(store, _run("r2"), _diagnosis(2, "loop"))
    assert "Known pattern (confirmed, seen 1x in mini-swe-agent/code-task runs, e.g. r1): patching:loop." in (
        mentioned.reasoning
    )
    assert "Advice then: avoid loop" in mentioned.reasoning
    unrelated = memory.mention_known_pattern(store, _run("r2"), _diagnosis(3, "error"))
    assert unrelated.reasoning == ""


def test_cli_remember_ls_confirm_forget_per_project(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["analyze", str(EXAMPLE), "--remember", "-q"]) == 0
    assert main(["memory", "ls", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(rows) == 1 and rows[0]["project"] == "tests" and not rows[0]["confirmed"]
    run_id = rows[0]["example_run_id"]

    assert main(["memory", "confirm", run_id]) == 0
    assert f"confirmed {EXAMPLE_SIGNATURE}" in capsys.readouterr().out
    assert main(["memory", "ls"]) == 0
    assert "confirmed   2x mini-swe-agent/code-task" in capsys.readouterr().out

    monkeypatch.setenv("CODETRACER_PROJECT", "elsewhere")  # same home, other project: nothing to see
    assert main(["memory", "ls"]) == 0
    assert "no failure patterns in project 'elsewhere'" in capsys.readouterr().out
    assert main(["memory", "forget"]) == 0
    assert "forgot 0 failure pattern(s) of project 'elsewhere'" in capsys.readouterr().out

    monkeypatch.setenv("CODETRACER_PROJECT", "tests")
    assert main(["memory", "forget", run_id]) == 0
    assert "forgot 1 failure pattern(s)" in capsys.readouterr().out


def test_cli_remember_needs_the_store(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analyze", str(EXAMPLE), "--remember", "--no-store", "-q"]) == 2
    assert "--remember needs the store" in capsys.readouterr().err

"""The diagnosis rewritten for the agent, and rollback of the workspace."""

from __future__ import annotations

from pathlib import Path

from codetracer.core.model import Action, Call, Diagnosis, Evidence, FileEdit, Observation, Run, Step, Text
from codetracer.replay import HEADER, Snapshot, correction_message, files_to_roll_back


def tool_step(i: int, command: str | None = None, *, edits: list[str] = (), out: str = "", code: int = 0) -> Step:  # type: ignore[assignment]
    action = Action(tool="bash" if command else "edit", command=command, edits=[FileEdit(path=p) for p in edits])
    obs = Observation(text=Text(text=out, size=len(out)), exit_code=code, is_error=code != 0)
    call = Call(id=f"c{i}", kind="tool", name=action.tool, action=action, observation=obs)
    return Step(id=i, key=str(i), calls=[call])


RUN = Run(
    id="r",
    framework="x",
    steps=[
        tool_step(1, "cat calc.py", out="def mean(v): ..."),
        tool_step(2, edits=["calc.py"]),
        tool_step(3, "pytest -q", out="1 failed\nAssertionError: 3.33 != 2.5", code=1),
        tool_step(4, "echo done"),
    ],
)


def test_message_names_step_action_what_went_wrong_undo_and_instead() -> None:
    diagnosis = Diagnosis(
        localizer="signals",
        onset_step=2,
        chain=[2, 3, 4],
        evidence=[Evidence(step_id=2, signal="test_fails_after_edit", detail="the tests fail after this edit")],
        suggestion="Revisit the edit at step 2: divide by the length.",
    )
    text = correction_message(RUN, diagnosis)
    assert text.startswith(HEADER)
    assert "your step 2 of 4: edit on calc.py" in text
    assert "What went wrong: the tests fail after this edit" in text
    assert "steps 3, 4 built on it" in text
    assert "What to undo: the edits to calc.py" in text
    assert "What to do instead: Revisit the edit at step 2" in text
    rolled = correction_message(RUN, diagnosis, rolled_back=["calc.py"])
    assert "already restored these files to their state before the attempt: calc.py" in rolled


def test_message_quotes_the_error_output_and_clips_it() -> None:
    text = correction_message(RUN, Diagnosis(localizer="s", onset_step=3, reasoning="tests fail"))
    assert "`pytest -q`" in text and "It answered: 1 failed" in text and "(exit code 1)" in text
    assert "What went wrong: tests fail" in text
    long = Run(id="r", framework="x", steps=[tool_step(1, "x" * 5000, out="y" * 5000, code=2)])
    assert len(correction_message(long, Diagnosis(localizer="s", onset_step=1))) < 1500


def test_message_without_onset() -> None:
    text = correction_message(RUN, Diagnosis(localizer="s", reasoning="nothing stands out"))
    assert "could not pin the failure on one step of your 4 steps" in text and "nothing stands out" in text


def test_rollback_restores_files_touched_after_the_onset(tmp_path: Path) -> None:
    (tmp_path / "calc.py").write_text("old calc")
    (tmp_path / "notes.txt").write_text("old notes")
    (tmp_path / "keep.py").write_text("old keep")
    snap = Snapshot.take(tmp_path)
    (tmp_path / "calc.py").write_text("new calc")  # edited at the onset (step 2)
    (tmp_path / "keep.py").write_text("new keep")  # named only before the onset: the good work stays
    (tmp_path / "build.log").write_text("side effect")  # named by no step: restored (removed)
    run = Run(id="r", framework="x", steps=[tool_step(1, "vim keep.py"), *RUN.steps[1:]])
    assert snap.changed() == ["build.log", "calc.py", "keep.py"]
    names = files_to_roll_back(snap, run, onset=2)
    assert names == ["build.log", "calc.py"]
    assert snap.restore(names) == names
    assert (tmp_path / "calc.py").read_text() == "old calc" and not (tmp_path / "build.log").exists()
    assert (tmp_path / "keep.py").read_text() == "new keep"
    assert files_to_roll_back(snap, run, onset=None) == ["keep.py"]


def test_git_workspace_snapshot_skips_ignored_files(tmp_path: Path) -> None:
    import subprocess

    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    (tmp_path / ".gitignore").write_text("venv/\n")
    (tmp_path / "venv").mkdir()
    (tmp_path / "venv" / "big.bin").write_text("x")
    (tmp_path / "a.py").write_text("a")
    snap = Snapshot.take(tmp_path)
    assert snap.kind == "git" and sorted(snap.files) == [".gitignore", "a.py"]
    too_small = Snapshot.take(tmp_path, max_bytes=1)
    assert not too_small.complete and too_small.restore(["a.py"]) == []

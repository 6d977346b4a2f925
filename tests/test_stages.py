"""Stage segmentation: step kinds from actions, contiguous stages, declared ranges kept, gaps filled."""

from __future__ import annotations

from pathlib import Path

import pytest

from codetracer.core.extract import ExtractorRegistry, build_runs
from codetracer.core.model import Action, Call, Run, Stage, StageKind, Step
from codetracer.core.stages import classify_step, ensure_stages, segment


def step(step_id: int, command: str | None = None, tool: str = "bash", edits: bool = False) -> Step:
    action = Action(tool=tool, command=command, edits=[{"path": "a.py"}] if edits else [])  # type: ignore[list-item]
    return Step(id=step_id, key=str(step_id), calls=[Call(id=f"c{step_id}", kind="tool", name=tool, action=action)])


@pytest.mark.parametrize(
    ("command", "kind"),
    [
        ("pwd && ls -la", StageKind.ENV_CHECK),
        ("python3 --version", StageKind.ENV_CHECK),
        ("pip install -e .[test]", StageKind.DEPENDENCY_INSTALL),
        ("apt-get update && apt-get install -y jq", StageKind.DEPENDENCY_INSTALL),
        ("grep -rn 'def mean' src/", StageKind.INSPECTION),
        ("sed -n '10,40p' calc.py", StageKind.INSPECTION),
        ("sed -i 's/a/b/' calc.py", StageKind.PATCHING),
        ("cat > fix.py <<'EOF'\nprint(1)\nEOF", StageKind.PATCHING),
        ("python -m pytest -q tests/test_calc.py", StageKind.VERIFICATION),
        ("python reproduce_bug.py", StageKind.VERIFICATION),
        ("./solution.sh", StageKind.VERIFICATION),
        ("echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT", StageKind.SUBMIT),
        # reading a test or a reproduction script is inspection; running it is verification
        ("cat calc.py; cat test_calc.py", StageKind.INSPECTION),
        ("sed -n '1,30p' tests/test_calc.py | nl", StageKind.INSPECTION),
        ("grep -n mean reproduce.py", StageKind.INSPECTION),
        ("cat test_calc.py && python test_calc.py", StageKind.VERIFICATION),
        ("cat reproduce.py; python reproduce.py", StageKind.VERIFICATION),
    ],
)
def test_commands_classify_as_people_would(command: str, kind: StageKind) -> None:
    assert classify_step(step(1, command)) is kind


def test_edits_are_patching_whatever_the_tool() -> None:
    assert classify_step(step(1, None, tool="str_replace_editor", edits=True)) is StageKind.PATCHING


def test_stages_are_contiguous_and_absorb_a_lone_look_but_not_edit_test_cycles() -> None:
    commands = [
        "ls",
        "grep -n x a.py",
        "cat a.py",
        "ls",
        "grep -n y a.py",
        "sed -i s/x/y/ a.py",
        "pytest -q",
        "sed -i s/y/z/ a.py",
        "pytest -q",
        "echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT",
    ]
    run = Run(id="r", framework="t", steps=[step(i, c) for i, c in enumerate(commands, 1)])
    stages = segment(run)
    assert [(s.kind, s.start_step, s.end_step) for s in stages] == [
        ("environment_check", 1, 1),
        ("inspection", 2, 5),  # the lone `ls` at step 4 is absorbed
        ("patching", 6, 6),
        ("verification", 7, 7),
        ("patching", 8, 8),
        ("verification", 9, 9),
        ("submit", 10, 10),
    ]
    covered = [i for s in stages for i in range(s.start_step, s.end_step + 1)]
    assert covered == list(range(1, len(commands) + 1))


def test_declared_stages_win_and_uncovered_steps_get_auto_stages() -> None:
    run = Run(
        id="r",
        framework="t",
        steps=[step(i, c) for i, c in enumerate(["ls", "cat a", "sed -i s/a/b/ a", "pytest"], 1)],
        stages=[Stage(id=1, kind="other", start_step=1, end_step=2, source="human")],
    )
    ensure_stages(run)
    assert run.stages[0].source == "human" and run.stages[0].end_step == 2
    assert [(s.kind, s.start_step, s.source) for s in run.stages[1:]] == [
        ("patching", 3, "auto"),
        ("verification", 4, "auto"),
    ]
    assert [s.stage_id for s in run.steps] == [1, 1, 2, 3]


def test_real_run_segments_into_the_stages_a_person_sees(shared: Path) -> None:
    path = shared / "fixtures" / "mini-swe-agent" / "example_toolcall.traj.json"
    registry = ExtractorRegistry.from_plugins()
    (run,) = build_runs(path, registry.get("mini-swe-agent"))
    assert run.stages and run.stages[0].start_step == 1 and run.stages[-1].end_step == len(run.steps)
    for before, after in zip(run.stages, run.stages[1:], strict=False):
        assert after.start_step == before.end_step + 1
    assert all(s.stage_id is not None for s in run.steps)

"""CodeTraceBench pre-normalized runs from ../shared/corpora/codetracebench-steps."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from codetracer.adapters.codetracebench.artifacts import EXTRACTORS
from codetracer.core.errors import ExtractError
from codetracer.core.extract import Candidate, ExtractorRegistry, Failure, build_runs, extract_all
from codetracer.core.model import Run
from jsonish import assert_runs_or_extract_error, jsonish

EX = EXTRACTORS[0]
CORPUS = "corpora/codetracebench-steps"
CLAUDE = "Anthropic__Claude-Sonnet-4-20250514-Thinking"


def _run(shared: Path, folder: str) -> Run:
    runs = build_runs(shared / CORPUS / folder, EX)
    assert len(runs) == 1
    return runs[0]


def _copy(shared: Path, folder: str, tmp_path: Path) -> Path:
    dest = tmp_path / folder.split("/", 1)[0] / folder.split("/", 1)[1]
    shutil.copytree(shared / CORPUS / folder, dest)
    return dest


def test_detect(shared: Path) -> None:
    folder = shared / CORPUS / f"openhands/openhands-{CLAUDE}-3d-model-format-legacy-7498555b"
    assert EX.detect(Candidate(folder, True)) >= 0.9
    assert EX.detect(Candidate(folder / "steps.json", False)) == 0.0
    assert EX.detect(Candidate(shared / "fixtures/atif/chess-best-move__wpPQ5MU", True)) == 0.0
    assert EX.detect(Candidate(shared / CORPUS / "openhands", True)) == 0.0


def test_openhands_run_against_artifact(shared: Path) -> None:
    folder = f"openhands/openhands-{CLAUDE}-3d-model-format-legacy-7498555b"
    raw = json.loads((shared / CORPUS / folder / "steps.json").read_text())
    run = _run(shared, folder)
    assert run.framework == "openhands" and run.outcome.value == "unknown"
    assert len(run.steps) == len(raw) == 35
    assert run.task == (shared / CORPUS / folder / "task.md").read_text().strip()
    first = run.steps[0]
    assert first.key == "1" and first.raw_ref.startswith("steps.json[0] ")
    assert first.raw_ref.endswith("events/31.json:1-1")
    call = first.tool_calls[0]
    # events/31.json: "action": "run", args.command "pwd && uname -a"; events/32.json says exit code 0
    assert call.name == "execute_bash" and call.action.command == "pwd && uname -a"
    assert call.observation.exit_code == 0
    assert call.observation.text.text.startswith("/app\nLinux ")
    assert first.thought.text.startswith("Now let me check the current working directory")


def test_openhands_stage_ranges_clipped_to_present_steps(shared: Path) -> None:
    folder = f"openhands/openhands-{CLAUDE}-3d-model-format-legacy-7498555b"
    ranges = json.loads((shared / CORPUS / folder / "stage_ranges.json").read_text())
    run = _run(shared, folder)
    # 45 human stages up to step 95, but steps.json holds 35 steps: stages 1..10 (the 10th is 33..35) remain
    assert ranges[-1]["end_step_id"] == 95 and ranges[9] == {"stage": 10, "start_step_id": 33, "end_step_id": 35}
    assert [(s.start_step, s.end_step) for s in run.stages] == [
        (r["start_step_id"], r["end_step_id"]) for r in ranges[:10]
    ]
    assert all(s.source == "human" for s in run.stages)
    assert run.metadata["declared_step_count"] == 95
    assert len(run.metadata["human_stage_ranges"]) == 45
    assert all(step.stage_id is not None for step in run.steps)


def test_miniswe_fragment(shared: Path) -> None:
    folder = f"miniswe/miniswe-{CLAUDE}-add-benchmark-lm-eval-harness-54ac67f0"
    ranges = json.loads((shared / CORPUS / folder / "stage_ranges.json").read_text())
    run = _run(shared, folder)
    assert run.framework == "mini-swe-agent" and len(run.steps) == 47
    step = run.steps[0]
    # mini.traj.json lines 53-70: "THOUGHT: I need to start ... ```bash\nls -la && pwd\n```"
    assert step.tool_calls[0].action.command == "ls -la && pwd"
    assert step.thought.text.startswith("I need to start by understanding the current directory")
    assert step.tool_calls[0].observation.exit_code == 0
    assert step.tool_calls[0].observation.text.text.startswith("<returncode>0</returncode>")
    assert len(run.stages) == len(ranges) == 29 and run.stages[-1].end_step == 47


def test_terminus2_response_and_jsonl_rows(shared: Path) -> None:
    run = _run(shared, f"terminus2/terminus2-{CLAUDE}-3d-model-format-legacy-5eb709af")
    assert run.framework == "terminus2"
    step2 = run.steps[1]
    assert step2.tool_calls[0].action.command == "ls -la MdfLib/\n"
    assert step2.thought.text.startswith("I can see the /app directory")
    assert "New Terminal Output" in step2.tool_calls[0].observation.text.text
    rows = _run(shared, f"terminus2/terminus2-{CLAUDE}-mailman-3540eeca")
    assert len(rows.steps) == 44
    first = rows.steps[0]
    assert first.tool_calls[0].action.command == "ls -la /etc/mailman3/\n"
    assert first.tool_calls[0].observation.text.text.startswith("total 20\n")
    # the annotator's llm_analysis is not part of the agent's trace
    assert "command_impact" not in rows.model_dump_json()


def test_whole_corpus(shared: Path) -> None:
    root = shared / CORPUS
    items = list(extract_all(root, ExtractorRegistry(EXTRACTORS)))
    assert not [i for i in items if isinstance(i, Failure)]
    runs = [i for i in items if isinstance(i, Run)]
    assert len(runs) == 300
    frameworks = {"miniswe": "mini-swe-agent", "openhands": "openhands", "terminus2": "terminus2"}
    for run in runs:
        folder = Path(run.metadata["source_path"])
        raw = json.loads((folder / "steps.json").read_text())
        assert len(run.steps) == len(raw)
        assert [s.key for s in run.steps] == [str(x["step_id"]) for x in raw]
        assert run.framework == frameworks[folder.parent.name]
        ranges = json.loads((folder / "stage_ranges.json").read_text())
        inside = [r for r in ranges if r["start_step_id"] <= len(raw)]
        assert len([st for st in run.stages if st.source == "human"]) == len(inside)
        assert all(step.stage_id is not None for step in run.steps)  # uncovered steps get auto stages
        assert all(s.end_step <= len(raw) for s in run.stages)
        with_obs = sum(1 for x in raw if x["observation_ref"] is not None)
        assert sum(1 for s in run.steps for c in s.tool_calls if c.observation is not None) == with_obs


# -- bad input ---------------------------------------------------------------------------------------------------------

_FOLDER = f"openhands/openhands-{CLAUDE}-audio-synth-stft-peaks-a7283b5d"


def _expect_error(folder: Path, name: str) -> ExtractError:
    with pytest.raises(ExtractError) as info:
        build_runs(folder, EX)
    assert info.value.path == folder / name
    return info.value


def test_truncated_steps(shared: Path, tmp_path: Path) -> None:
    folder = _copy(shared, _FOLDER, tmp_path)
    text = (folder / "steps.json").read_text()
    (folder / "steps.json").write_text(text[: len(text) // 3])
    assert _expect_error(folder, "steps.json").position.startswith("line ")


@pytest.mark.parametrize(
    ("mutate", "position"),
    [
        (lambda s: s.__setitem__(3, dict(s[3], step_id=9)), "[3].step_id"),  # ids not contiguous
        (lambda s: s.__setitem__(0, dict(s[0], step_id="1")), "[0].step_id"),
        (lambda s: s.__setitem__(2, []), "[2]"),
        (lambda s: s.__setitem__(1, dict(s[1], action_ref=None)), "[1].action_ref"),
        (lambda s: s[1]["action_ref"].update(content=7), "[1].action_ref.content"),
        (lambda s: s[1]["observation_ref"].update(line_start="1"), "[1].observation_ref.line_start"),
    ],
)
def test_step_mutations(shared: Path, tmp_path: Path, mutate, position: str) -> None:
    folder = _copy(shared, _FOLDER, tmp_path)
    steps = json.loads((folder / "steps.json").read_text())
    mutate(steps)
    (folder / "steps.json").write_text(json.dumps(steps))
    assert _expect_error(folder, "steps.json").position == position


@pytest.mark.parametrize(
    "ranges",
    [
        [{"stage": 1, "start_step_id": 3, "end_step_id": 2}],
        [{"stage": 1, "start_step_id": 1, "end_step_id": 4}, {"stage": 2, "start_step_id": 3, "end_step_id": 5}],
        [{"stage": 2, "start_step_id": 1, "end_step_id": 4}],
        [{"stage": 1, "start_step_id": "1", "end_step_id": 4}],
        {"stage": 1},
    ],
)
def test_bad_stage_ranges(shared: Path, tmp_path: Path, ranges: object) -> None:
    folder = _copy(shared, _FOLDER, tmp_path)
    (folder / "stage_ranges.json").write_text(json.dumps(ranges))
    _expect_error(folder, "stage_ranges.json")


def test_empty_steps(shared: Path, tmp_path: Path) -> None:
    folder = _copy(shared, _FOLDER, tmp_path)
    (folder / "steps.json").write_text("[]")
    assert _expect_error(folder, "steps.json").expected


_JSONISH = jsonish(st.integers(-3, 50), text_size=8)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_property_only_runs_or_extract_errors(shared: Path, tmp_path_factory, data: st.DataObject) -> None:
    folder = _copy(shared, _FOLDER, tmp_path_factory.mktemp("ctb"))
    steps = json.loads((folder / "steps.json").read_text())[:4]
    targets = [*steps, *[s["action_ref"] for s in steps]]
    targets += [s["observation_ref"] for s in steps if s["observation_ref"]]
    for _ in range(data.draw(st.integers(1, 3))):
        target = data.draw(st.sampled_from(targets))
        target[data.draw(st.sampled_from(sorted(target)))] = data.draw(_JSONISH)
    text = json.dumps(steps)
    if data.draw(st.booleans()):
        text = text[: data.draw(st.integers(0, len(text)))]
    (folder / "steps.json").write_text(text)
    assert_runs_or_extract_error(folder, EX)

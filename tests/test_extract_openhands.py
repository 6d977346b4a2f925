"""OpenHands extraction, checked against the real artifacts in ``../shared/fixtures/openhands`` and the real OpenHands
events quoted in ``../shared/corpora/codetracebench-steps/openhands``. Expected values were read from the files."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from codetracer.adapters.openhands.artifacts import (
    EXTRACTORS,
    OpenHandsOutputExtractor,
    OpenHandsSdkExtractor,
    OpenHandsTrajectoryExtractor,
    OpenHandsV0EventsExtractor,
)
from codetracer.core.errors import ExtractError
from codetracer.core.extract import Candidate, Failure, build_runs, extract_all
from codetracer.core.model import Run
from jsonish import assert_runs_or_extract_error, json_slots, jsonish

SDK = OpenHandsSdkExtractor()
V0 = OpenHandsV0EventsExtractor()
TRAJ = OpenHandsTrajectoryExtractor()
OUT = OpenHandsOutputExtractor()


def sdk_folder(shared: Path) -> Path:
    return shared / "fixtures" / "openhands" / "sdk" / "3bb336ef62e148c392bf5a55c47296e0"


def legacy(shared: Path) -> Path:
    return shared / "fixtures" / "openhands" / "legacy-v0"


def one_run(path: Path, extractor: Any) -> Run:
    runs = build_runs(path, extractor)
    assert len(runs) == 1
    return runs[0]


def copy_sdk(shared: Path, tmp_path: Path) -> Path:
    target = tmp_path / "conv"
    shutil.copytree(sdk_folder(shared), target)
    for path in target.rglob("*"):
        path.chmod(0o644 if path.is_file() else 0o755)
    target.chmod(0o755)
    return target


def event_file(folder: Path, index: int) -> Path:
    return next((folder / "events").glob(f"event-{index:05d}-*.json"))


def edit_event(folder: Path, index: int, change: dict[str, Any]) -> None:
    path = event_file(folder, index)
    data = json.loads(path.read_text())
    data.update(change)
    path.write_text(json.dumps(data))


def test_module_exposes_extractors() -> None:
    assert [e.name for e in EXTRACTORS] == [
        "openhands-sdk",
        "openhands-v0-events",
        "openhands-trajectory",
        "openhands-output",
    ]


# -- SDK conversations -----------------------------------------------------------------------------------------------


def test_sdk_conversation(shared: Path) -> None:
    folder = sdk_folder(shared)
    assert SDK.detect(Candidate(folder, True)) >= 0.9
    run = one_run(folder, SDK)
    assert run.task == "Create hello.txt"
    assert run.metadata["model"] == "test-model" and run.metadata["max_iterations"] == 20
    # 5 ActionEvents (test-response-1..5) and the final assistant MessageEvent (test-response-6)
    assert len(run.steps) == 6
    assert run.steps[0].raw_ref == "events/event-00002-260d7cd7-df18-4afd-99cc-548830e8076f.json"
    assert run.steps[0].thought.text == "thinking about step 1"
    first = run.steps[0].tool_calls[0]
    assert first.name == "shell" and first.action.command == "echo hello > hello.txt && ls"
    assert first.observation.text.text == "hello.txt\n" and first.observation.exit_code == 0
    finish = run.steps[2].tool_calls[0]
    assert finish.name == "finish" and finish.action.arguments == {"message": "created hello.txt"}
    failing = run.steps[3].tool_calls[0]
    assert failing.action.command == "exit 3"
    assert failing.observation.exit_code == 3 and failing.observation.is_error
    unknown = run.steps[4]
    assert unknown.tool_calls[0].name == "no_such_tool" and unknown.tool_calls[0].observation.is_error
    assert unknown.errors[0].error.startswith("Tool 'no_such_tool' not found")
    assert [m.content.text for m in run.steps[5].messages] == ["All done, plain text reply."]
    # the second user message stays a run-level message, after the system prompt and the task
    assert [m.role for m in run.messages] == ["system", "user", "user"]
    assert run.messages[2].content.text == "Now break something"
    assert run.exit_status == "finished" and run.outcome.value == "unknown" and run.complete
    assert run.started_at is not None and run.steps[1].started_at > run.steps[0].started_at


def test_sdk_parallel_calls_share_a_step(shared: Path, tmp_path: Path) -> None:
    folder = copy_sdk(shared, tmp_path)
    edit_event(folder, 4, {"llm_response_id": "test-response-1"})  # call_2 now answers the same response
    run = one_run(folder, SDK)
    assert len(run.steps) == 5
    calls = run.steps[0].tool_calls
    assert [c.id for c in calls] == ["call_1", "call_2"]
    assert [c.observation.text.text for c in calls] == ["hello.txt\n", "hello\n"]


def test_sdk_file_editor_edit_is_kept(shared: Path, tmp_path: Path) -> None:
    folder = copy_sdk(shared, tmp_path)
    args = {"command": "str_replace", "path": "/ws/hello.txt", "old_str": "hello", "new_str": "bye"}
    edit_event(
        folder,
        4,
        {
            "action": {**args, "kind": "FileEditorAction"},
            "tool_name": "file_editor",
            "tool_call": {"id": "call_2", "name": "file_editor", "arguments": json.dumps(args), "origin": "completion"},
        },
    )
    call = one_run(folder, SDK).steps[1].tool_calls[0]
    assert call.name == "file_editor" and call.action.arguments == args
    assert [e.model_dump(exclude_none=True) for e in call.action.edits] == [
        {"path": "/ws/hello.txt", "old": "hello", "new": "bye", "kind": "replace"}
    ]


@pytest.mark.parametrize(
    ("status", "outcome", "complete"),
    [("error", "failed", True), ("stuck", "failed", True), ("running", "unknown", False)],
)
def test_sdk_final_state(shared: Path, tmp_path: Path, status: str, outcome: str, complete: bool) -> None:
    folder = copy_sdk(shared, tmp_path)
    state = json.loads((folder / "base_state.json").read_text())
    state["execution_status"] = status
    (folder / "base_state.json").write_text(json.dumps(state))
    run = one_run(folder, SDK)
    assert run.outcome.value == outcome and run.complete is complete


# -- legacy v0 -------------------------------------------------------------------------------------------------------


def _check_v0_demo(run: Run) -> None:
    assert run.task == "Create hello.txt"
    assert len(run.steps) == 2
    call = run.steps[0].tool_calls[0]
    assert call.name == "execute_bash" and call.action.command == "echo hi > hello.txt"
    assert call.action.arguments == {"command": "echo hi > hello.txt"}
    assert call.observation.exit_code == 0 and not call.observation.is_error
    llm = next(c for c in run.steps[0].calls if c.kind == "llm")
    assert (llm.name, llm.input_tokens, llm.output_tokens) == ("fake", 100, 20)
    assert run.steps[0].thought.text == "I'll create the file."
    assert run.steps[1].tool_calls[0].name == "finish"
    assert run.exit_status == "finished" and run.outcome.value == "unknown"


def test_v0_session_folder(shared: Path) -> None:
    folder = legacy(shared) / "file_store" / "sessions" / "demo-session"
    assert V0.detect(Candidate(folder, True)) >= 0.5
    run = one_run(folder, V0)
    _check_v0_demo(run)
    assert [s.raw_ref for s in run.steps] == ["events/1.json", "events/3.json"]


def test_v0_exported_trajectory(shared: Path) -> None:
    path = legacy(shared) / "demo-session.trajectory.json"
    assert TRAJ.detect(Candidate(path, False)) >= 0.5
    run = one_run(path, TRAJ)
    _check_v0_demo(run)
    assert run.steps[0].raw_ref == "[1]"


def test_discovery_finds_three_openhands_runs(shared: Path) -> None:
    found = list(extract_all(shared / "fixtures" / "openhands"))
    assert not [f for f in found if isinstance(f, Failure)]
    assert sorted(r.metadata["format"] for r in found if isinstance(r, Run)) == [
        "openhands-sdk",
        "openhands-trajectory",
        "openhands-v0-events",
    ]


def test_v0_numeric_order_and_failed_state(shared: Path, tmp_path: Path) -> None:
    source = legacy(shared) / "file_store" / "sessions" / "demo-session" / "events"
    events = tmp_path / "s" / "events"
    events.mkdir(parents=True)
    for item in source.iterdir():
        (events / item.name).write_bytes(item.read_bytes())
    # ten more plain observations so that "10.json" sorts after "9.json", ending with an error state
    for n in range(4, 11):
        (events / f"{n}.json").write_text(
            json.dumps({"id": n, "source": "agent", "observation": "null", "content": "", "extras": {}})
        )
    (events / "11.json").write_text(
        json.dumps(
            {
                "id": 11,
                "source": "environment",
                "observation": "agent_state_changed",
                "content": "",
                "extras": {"agent_state": "error"},
            }
        )
    )
    run = one_run(tmp_path / "s", V0)
    assert len(run.steps) == 2 and run.exit_status == "error" and run.outcome.value == "failed"


def test_output_jsonl_rows(shared: Path, tmp_path: Path) -> None:
    events = json.loads((legacy(shared) / "demo-session.trajectory.json").read_text())
    rows = [
        {
            "instance_id": "demo__demo-1",
            "instruction": "Fix it",
            "metadata": {"agent_class": "CodeActAgent", "llm_config": {"model": "fake"}},
            "history": events,
            "test_result": {"git_patch": "diff"},
            "report": {"resolved": True},
        },
        {
            "instance_id": "demo__demo-2",
            "metadata": {"agent_class": "CodeActAgent"},
            "history": [[events[1], events[2]], [events[3], {}]],
        },
        {"instance_id": "demo__demo-3", "history": events[:3], "error": "Agent got stuck in a loop"},
    ]
    path = tmp_path / "output.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    assert OUT.detect(Candidate(path, False)) >= 0.5
    runs = build_runs(path, OUT)
    assert [r.metadata["instance_id"] for r in runs] == ["demo__demo-1", "demo__demo-2", "demo__demo-3"]
    assert len({r.id for r in runs}) == 3
    assert [r.outcome.value for r in runs] == ["solved", "unknown", "failed"]
    assert runs[0].task == "Fix it" and runs[0].metadata["model"] == "fake"
    assert [len(r.steps) for r in runs] == [2, 2, 1]
    # the pair format: the observation of history[0] answers the action of history[0]
    assert runs[1].steps[0].raw_ref == "line 2: history[0][0]"
    assert runs[1].steps[0].tool_calls[0].observation.exit_code == 0


def _corpus_events(run_dir: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    steps = json.loads((run_dir / "steps.json").read_text())
    events = []
    for step in steps:
        for key in ("action_ref", "observation_ref"):
            ref = step.get(key)
            if ref and ref.get("content"):
                events.append(json.loads(ref["content"]))
    return steps, events


def test_real_openhands_events_from_codetracebench(shared: Path, tmp_path: Path) -> None:
    """Real OpenHands v0 events, re-assembled as an exported trajectory: one step per action, outputs kept."""
    run_dirs = sorted((shared / "corpora" / "codetracebench-steps" / "openhands").iterdir())[:12]
    assert run_dirs
    for run_dir in run_dirs:
        steps, events = _corpus_events(run_dir)
        path = tmp_path / f"{run_dir.name}.json"
        path.write_text(json.dumps(events))
        assert TRAJ.detect(Candidate(path, False)) >= 0.5
        run = one_run(path, TRAJ)
        assert len(run.steps) == len(steps)
        actions = [e for e in events if "action" in e]
        by_cause = {e.get("cause"): e for e in events if "observation" in e}
        for step, action in zip(run.steps, actions, strict=True):
            call = step.tool_calls[0]
            if action["action"] == "run":
                assert call.action.command == action["args"]["command"]
            answer = by_cause.get(action["id"])
            if answer is not None:
                assert call.observation.text.text == answer["content"]
                code = answer.get("extras", {}).get("metadata", {}).get("exit_code")
                assert call.observation.exit_code == code
        assert not run.complete  # the excerpts stop without a final agent state


def test_not_claimed_by_openhands(shared: Path) -> None:
    steps = next((shared / "corpora" / "codetracebench-steps" / "openhands").iterdir()) / "steps.json"
    traj = shared / "fixtures" / "swe-agent" / "sweagent-1.1-ta-demo-1.traj"
    preds = shared / "fixtures" / "swe-agent" / "test_pydicom_all_preds.jsonl"
    for path in (steps, traj, preds):
        assert all(e.detect(Candidate(path, False)) < 0.5 for e in EXTRACTORS)


# -- bad input -------------------------------------------------------------------------------------------------------


def test_sdk_bad_event_files(shared: Path, tmp_path: Path) -> None:
    folder = copy_sdk(shared, tmp_path)
    broken = event_file(folder, 5)
    broken.write_bytes(broken.read_bytes()[:100])
    with pytest.raises(ExtractError) as info:
        build_runs(folder, SDK)
    assert info.value.path == broken and info.value.position.startswith("line")
    failures = [f for f in extract_all(folder) if isinstance(f, Failure)]
    assert failures and failures[0].path == broken
    broken.write_text(json.dumps({"id": "x", "source": "agent"}))
    with pytest.raises(ExtractError) as info:
        build_runs(folder, SDK)
    assert info.value.position == "kind"
    broken.write_text(json.dumps({"kind": "ObservationEvent", "tool_call_id": "call_2", "observation": "text"}))
    with pytest.raises(ExtractError) as info:
        build_runs(folder, SDK)
    assert info.value.position == "observation"


def test_v0_bad_inputs(shared: Path, tmp_path: Path) -> None:
    path = tmp_path / "trajectory.json"
    path.write_text(json.dumps([{"id": 0, "source": "user", "action": "message", "args": {}}, 5]))
    with pytest.raises(ExtractError) as info:
        build_runs(path, TRAJ)
    assert info.value.position == "[1]"
    path.write_text(json.dumps([{"id": 0, "source": "agent", "action": "run", "args": ["ls"]}]))
    with pytest.raises(ExtractError) as info:
        build_runs(path, TRAJ)
    assert info.value.position == "[0].args"
    path.write_text("{}")
    with pytest.raises(ExtractError):
        build_runs(path, TRAJ)
    out = tmp_path / "output.jsonl"
    out.write_text('{"instance_id": "a", "history": []}\n{"instance_id": "b", "hist\n')
    with pytest.raises(ExtractError) as info:
        build_runs(out, OUT)
    assert info.value.position == "line 2"
    out.write_text('{"instance_id": "a", "history": 3}\n')
    with pytest.raises(ExtractError) as info:
        build_runs(out, OUT)
    assert info.value.position == "line 1: history"


# -- properties ------------------------------------------------------------------------------------------------------

json_values = jsonish()


def _outcome(path: Path, extractor: Any) -> None:
    assert_runs_or_extract_error(path, extractor)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mutated_trajectory_gives_runs_or_extract_errors(shared: Path, tmp_path: Path, data: st.DataObject) -> None:
    raw = json.loads((legacy(shared) / "demo-session.trajectory.json").read_text())
    slots = json_slots(raw)
    for _ in range(data.draw(st.integers(1, 3))):
        container, key = data.draw(st.sampled_from(slots))
        container[key] = data.draw(json_values)
    text = json.dumps(raw).encode()
    if data.draw(st.booleans()):
        text = text[: data.draw(st.integers(0, len(text)))]
    path = tmp_path / "mutant.json"
    path.write_bytes(text)
    _outcome(path, TRAJ)
    out = tmp_path / "mutant.jsonl"
    out.write_text(json.dumps({"instance_id": "x", "history": raw if isinstance(raw, list) else [raw]}) + "\n")
    _outcome(out, OUT)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mutated_sdk_events_give_runs_or_extract_errors(shared: Path, tmp_path: Path, data: st.DataObject) -> None:
    folder = Path(tempfile.mkdtemp(dir=tmp_path)) / "conv"
    shutil.copytree(sdk_folder(shared), folder)
    for path in folder.rglob("*"):
        path.chmod(0o644 if path.is_file() else 0o755)
    target = event_file(folder, data.draw(st.integers(0, 13)))
    raw = json.loads(target.read_text())
    slots = json_slots(raw)
    container, key = data.draw(st.sampled_from(slots))
    container[key] = data.draw(json_values)
    target.write_text(json.dumps(raw))
    _outcome(folder, SDK)


def test_the_live_adapter_without_openhands_sdk_says_why(tmp_path: Path) -> None:
    """On Python 3.11 ``pip install 'codetracer[openhands]'`` skips openhands-sdk (its marker: the SDK needs 3.12):
    the live adapter still imports (journals of live runs are mapped on any Python) and its callback says so."""
    import importlib.util
    import sys

    import pytest

    from codetracer.adapters.openhands import live
    from codetracer.core.errors import CodetracerError
    from codetracer.core.tracer import Tracer

    try:
        installed = importlib.util.find_spec("openhands.sdk") is not None
    except ImportError:
        installed = False
    if installed:
        pytest.skip("openhands-sdk is installed here")
    old = sys.version_info < (3, 12)
    expected = "OpenHands needs Python >= 3.12" if old else "pip install 'codetracer\\[openhands\\]'"
    tracer = Tracer(tmp_path / "home", persist=False, load_plugins=False)
    try:
        with pytest.raises(CodetracerError, match=expected):
            live.CodetracerCallback(tracer)
    finally:
        tracer.close()

"""SWE-agent ``.traj`` extraction, checked against the real files in ``../shared/fixtures/swe-agent``.

Expected values were read from the artifacts by hand (``trajectory[i].action``, ``info.exit_status``, ...).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from codetracer.adapters.swe_agent.artifacts import EXTRACTORS, SweAgentExtractor
from codetracer.core.errors import ExtractError
from codetracer.core.extract import Candidate, Failure, build_runs, extract_all
from codetracer.core.model import Run
from jsonish import assert_runs_or_extract_error, json_slots, jsonish

EX = SweAgentExtractor()


def fixture(shared: Path, name: str) -> Path:
    return shared / "fixtures" / "swe-agent" / name


def one_run(path: Path) -> Run:
    runs = build_runs(path, EX)
    assert len(runs) == 1
    return runs[0]


def tool(run: Run, step_id: int):
    calls = run.steps[step_id - 1].tool_calls
    assert len(calls) == 1
    return calls[0]


def test_module_exposes_extractor() -> None:
    assert [e.name for e in EXTRACTORS] == ["swe-agent"]


# -- format 0.7 ------------------------------------------------------------------------------------------------------


def test_v07_pydicom_steps_edits_and_outcome(shared: Path) -> None:
    path = fixture(shared, "test_pydicom__pydicom-1458.traj")
    raw = json.loads(path.read_text())
    run = one_run(path)
    assert len(run.steps) == len(raw["trajectory"]) == 12
    assert run.framework == "swe-agent"
    assert run.metadata["format"] == "0.7"
    assert run.metadata["cost"] == pytest.approx(1.26719)
    assert run.metadata["source_path"] == str(path)
    assert run.task is not None and run.task.startswith("We're currently solving the following issue")
    # every step's command is the trajectory action, every output its observation
    for i, (step, entry) in enumerate(zip(run.steps, raw["trajectory"], strict=True)):
        call = step.tool_calls[0]
        assert call.action.command == entry["action"]
        assert call.observation.text.text == entry["observation"]
        assert step.raw_ref == f"trajectory[{i}]"
        assert step.thought.text == entry["thought"]
    first = tool(run, 1)
    assert first.name == "create" and first.action.edits[0].path == "reproduce_bug.py"
    # 'edit 1:1' edits the open file, which state of trajectory[1] names
    assert tool(run, 2).name == "edit"
    assert [e.path for e in tool(run, 2).action.edits] == ["/pydicom__pydicom/reproduce_bug.py"]
    assert tool(run, 3).name == "bash" and tool(run, 3).action.edits == []
    assert [e.path for e in tool(run, 6).action.edits] == [
        "/pydicom__pydicom/pydicom/pixel_data_handlers/numpy_handler.py"
    ]
    # the linter rejected edits 6-8: SWE-agent's own error text marks them as errors
    assert [tool(run, i).observation.is_error for i in (6, 7, 8, 9)] == [True, True, True, False]
    assert tool(run, 12).name == "submit"
    # submitted, but nothing says the patch resolves the issue
    assert run.exit_status == "submitted" and run.outcome.value == "unknown"
    assert run.complete


def test_v07_demo_task_skips_demonstration_message(shared: Path) -> None:
    run = one_run(fixture(shared, "test_swe-agent__test-repo-i1.traj"))
    assert len(run.steps) == 5
    # history[1] is the is_demo message, history[2] the real task
    assert [m.raw_ref for m in run.messages] == ["history[0]", "history[2]"]
    assert [tool(run, i).name for i in range(1, 6)] == ["find_file", "open", "edit", "bash", "submit"]
    assert tool(run, 3).action.edits[0].path == "/klieret__swe-agent-test-repo/tests/missing_colon.py"


# -- formats 1.0 / 1.1 -----------------------------------------------------------------------------------------------


def test_v10_function_calling_takes_tool_calls_from_history(shared: Path) -> None:
    run = one_run(fixture(shared, "test_6e44b9__sweagenttestrepo-1c2844.traj"))
    assert len(run.steps) == 5
    assert run.metadata["model"] == "gpt-4o"
    assert run.metadata["instance_id"] == "SWE-agent__test-repo-i1"
    assert [tool(run, i).name for i in range(1, 6)] == ["find_file", "open", "edit", "bash", "submit"]
    assert tool(run, 1).action.arguments == {"file_name": "missing_colon.py"}
    assert tool(run, 1).id == "trajectory[0]/call_fJuazlMUN5fQDQ73G6XSpYpx"  # history[2].tool_calls[0].id
    assert tool(run, 4).action.arguments == {"command": "python3 /SWE-agent__test-repo/tests/missing_colon.py"}
    assert tool(run, 3).action.edits[0].path == "/SWE-agent__test-repo/tests/missing_colon.py"
    assert tool(run, 4).observation.text.text == "8.2"
    assert run.metadata["cost"] == pytest.approx(0.019520000000000006)
    assert run.outcome.value == "unknown" and run.exit_status == "submitted"


def test_v10_replace_create_and_insert_paths(shared: Path) -> None:
    run = one_run(fixture(shared, "demo_marshmallow-1867_function_calling_replace.traj"))
    assert len(run.steps) == 11
    assert tool(run, 1).name == "create" and tool(run, 1).action.edits[0].path == "reproduce.py"
    assert tool(run, 2).name == "insert" and tool(run, 2).action.edits[0].path == "/testbed/reproduce.py"
    assert tool(run, 7).action.edits[0].path == "/testbed/src/marshmallow/fields.py"
    assert tool(run, 7).observation.is_error and not tool(run, 8).observation.is_error
    assert tool(run, 11).name == "submit"


def test_v11_thought_action(shared: Path) -> None:
    run = one_run(fixture(shared, "sweagent-1.1-ta-demo-1.traj"))
    assert run.metadata["format"] == "1.1.0"
    assert [tool(run, i).action.command for i in range(1, 5)] == [
        "find src tests -name '*.py'\n",
        "python -m pytest tests/test_calc.py -x -q\n",
        "grep -n 'def add' src/calculator.py\n",
        "submit\n",
    ]
    assert [tool(run, i).name for i in range(1, 5)] == ["bash", "bash", "bash", "submit"]
    assert run.steps[0].thought.text == "I should look at the repository layout first.\n"
    llm = next(c for c in run.steps[0].calls if c.kind == "llm")
    assert llm.response.text.startswith("I should look at the repository layout first.")
    assert llm.input_messages == 2  # trajectory[0].query holds 2 messages
    assert run.exit_status == "submitted" and run.outcome.value == "unknown"


def test_v11_function_calling_exit(shared: Path) -> None:
    run = one_run(fixture(shared, "sweagent-1.1-fc-demo-1.traj"))
    assert len(run.steps) == 3
    assert tool(run, 3).name == "bash" and tool(run, 3).action.arguments == {"command": "exit"}
    assert tool(run, 3).observation.text.text == "Exited"
    assert run.exit_status == "exit_command" and run.outcome.value == "unknown"


# -- demonstrations, retries, non-runs -------------------------------------------------------------------------------


def test_demonstration_history_only(shared: Path) -> None:
    path = fixture(shared, "demo_function_calling_simple.traj")
    raw = json.loads(path.read_text())
    assert "trajectory" not in raw
    run = one_run(path)
    assert run.metadata["demonstration"] is True
    assert len(run.steps) == 5  # history holds 5 assistant messages
    assert [s.raw_ref for s in run.steps] == ["history[2]", "history[4]", "history[6]", "history[8]", "history[10]"]
    assert [tool(run, i).name for i in range(1, 6)] == ["find_file", "open", "edit", "bash", "submit"]
    assert tool(run, 1).observation.text.text == raw["history"][3]["content"]
    # the edit's file comes from the "(Open file: ...)" line of the previous observation
    assert tool(run, 3).action.edits[0].path == "/SWE-agent__test-repo/tests/missing_colon.py"
    assert run.complete and run.outcome.value == "unknown"


def test_hook_transcripts_and_predictions_are_not_runs(shared: Path) -> None:
    for name in ("sweagent-1.1-hook-calls-function-calling.json", "sweagent-1.1-hook-calls-thought-action.json"):
        assert EX.detect(Candidate(fixture(shared, name), False)) < 0.5
    preds = fixture(shared, "test_pydicom_all_preds.jsonl")
    assert EX.detect(Candidate(preds, False)) == 0.0
    found = [r for r in extract_all(shared / "fixtures" / "swe-agent") if isinstance(r, Run)]
    assert len(found) == 10
    assert not any(r.metadata["source_path"].endswith((".jsonl", ".json")) for r in found)


def test_retry_agent_attempts(shared: Path, tmp_path: Path) -> None:
    first = json.loads(fixture(shared, "sweagent-1.1-ta-demo-1.traj").read_text())
    second = json.loads(fixture(shared, "test_6e44b9__sweagenttestrepo-1c2844.traj").read_text())
    chosen = dict(second, info=dict(second["info"], best_attempt_idx=1))
    path = tmp_path / "retry.traj"
    path.write_text(json.dumps({"attempts": [first, second], **chosen}))
    assert EX.detect(Candidate(path, False)) >= 0.5
    runs = build_runs(path, EX)
    assert len(runs) == 2  # the chosen copy at the top level is not a third run
    a0, a1 = runs
    assert a0.id != a1.id and a0.parent_run_id is None and a1.parent_run_id == a0.id
    assert (a0.metadata["attempt"], a1.metadata["attempt"]) == (0, 1)
    assert (a0.metadata["chosen"], a1.metadata["chosen"]) == (False, True)
    assert (len(a0.steps), len(a1.steps)) == (4, 5)
    assert a1.steps[0].raw_ref == "attempts[1].trajectory[0]"


def test_saved_mid_run_is_incomplete(shared: Path, tmp_path: Path) -> None:
    raw = json.loads(fixture(shared, "sweagent-1.1-ta-demo-1.traj").read_text())
    raw["info"] = {"swe_agent_version": "1.1.0"}
    path = tmp_path / "partial.traj"
    path.write_text(json.dumps(raw))
    run = one_run(path)
    assert not run.complete and len(run.steps) == 4


def test_outcomes_from_report_and_exit_status(shared: Path, tmp_path: Path) -> None:
    raw = json.loads(fixture(shared, "test_pydicom__pydicom-1458.traj").read_text())
    folder = tmp_path / "evaluated"
    folder.mkdir()
    (folder / "test_pydicom__pydicom-1458.traj").write_text(json.dumps(raw))
    (folder / "report.json").write_text(json.dumps({"test_pydicom__pydicom-1458": {"resolved": True}}))
    assert one_run(folder / "test_pydicom__pydicom-1458.traj").outcome.value == "solved"
    raw["info"]["exit_status"] = "exit_cost"
    raw["info"]["submission"] = None
    (tmp_path / "cost.traj").write_text(json.dumps(raw))
    run = one_run(tmp_path / "cost.traj")
    assert run.outcome.value == "failed" and run.exit_status == "exit_cost"


# -- bad input -------------------------------------------------------------------------------------------------------


def _bad(tmp_path: Path, name: str, data: bytes) -> ExtractError:
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(ExtractError) as info:
        build_runs(path, EX)
    failures = [r for r in extract_all(path) if isinstance(r, Failure)]
    if EX.detect(Candidate(path, False)) >= 0.5:
        assert failures and failures[0].path == path
    return info.value


def test_bad_inputs_name_file_and_position(shared: Path, tmp_path: Path) -> None:
    text = fixture(shared, "sweagent-1.1-ta-demo-1.traj").read_bytes()
    err = _bad(tmp_path, "cut.traj", text[: len(text) // 2])
    assert err.path.name == "cut.traj" and err.position and err.position.startswith("line")
    raw = json.loads(text)
    raw["trajectory"][2] = "not a step"
    assert _bad(tmp_path, "entry.traj", json.dumps(raw).encode()).position == "trajectory[2]"
    raw = json.loads(text)
    raw["trajectory"][1]["action"] = 42
    assert _bad(tmp_path, "action.traj", json.dumps(raw).encode()).position == "trajectory[1].action"
    raw = json.loads(text)
    raw["history"] = {"oops": 1}
    assert _bad(tmp_path, "history.traj", json.dumps(raw).encode()).position == "history"
    assert _bad(tmp_path, "list.traj", b"[1, 2]").position == "top level"
    assert _bad(tmp_path, "empty.traj", b"{}").position == "top level"
    assert _bad(tmp_path, "junk.traj", bytes(range(256))).path.name == "junk.traj"
    raw = json.loads(text)
    raw = {"attempts": [raw, 7]}
    assert _bad(tmp_path, "attempt.traj", json.dumps(raw).encode()).position == "attempts[1]"


# -- properties ------------------------------------------------------------------------------------------------------

json_values = jsonish()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mutated_files_give_runs_or_extract_errors(shared: Path, tmp_path: Path, data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(["sweagent-1.1-ta-demo-1.traj", "demo_function_calling_simple.traj"]))
    raw = json.loads(fixture(shared, name).read_text())
    slots = json_slots(raw)
    for _ in range(data.draw(st.integers(1, 3))):
        container, key = data.draw(st.sampled_from(slots))
        container[key] = data.draw(json_values)
    text = json.dumps(raw).encode()
    if data.draw(st.booleans()):
        text = text[: data.draw(st.integers(0, len(text)))]
    path = tmp_path / "mutant.traj"
    path.write_bytes(text)
    assert_runs_or_extract_error(path, EX)

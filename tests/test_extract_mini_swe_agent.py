"""mini-swe-agent trajectories: the real fixtures and the 100-run SWE-bench Verified corpus, plus damaged copies.

Expected values are read from the artifacts themselves (independently of the extractor) wherever possible.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from codetracer.adapters.mini_swe_agent.artifacts import EXTRACTORS, MiniSweAgentExtractor
from codetracer.core.errors import ExtractError
from codetracer.core.extract import Candidate, ExtractorRegistry, Failure, build_runs, extract_all
from codetracer.core.model import Outcome, Run
from jsonish import assert_runs_or_extract_error, jsonish

EX = EXTRACTORS[0]


def fixtures(shared: Path) -> Path:
    return shared / "fixtures" / "mini-swe-agent"


def corpus_files(shared: Path) -> list[Path]:
    return sorted((shared / "corpora" / "miniswe-swebench-verified").glob("*/*.traj.json"))


def one(path: Path) -> Run:
    runs = build_runs(path, EX)
    assert len(runs) == 1
    return runs[0]


def writable_copy(src: Path, tmp_path: Path) -> Path:
    dst = tmp_path / src.name
    shutil.copyfile(src, dst)
    dst.chmod(0o644)
    return dst


# -- real fixtures ---------------------------------------------------------------------------------------------------


def test_text_format_1_1(shared: Path) -> None:
    path = fixtures(shared) / "example_text.traj.json"
    data = json.loads(path.read_text())
    run = one(path)
    assistants = [i for i, m in enumerate(data["messages"]) if m["role"] == "assistant"]
    assert len(run.steps) == len(assistants) == 3
    for step, i in zip(run.steps, assistants, strict=True):
        msg, answer = data["messages"][i], data["messages"][i + 1]
        assert step.raw_ref == f"messages[{i}]"
        [call] = step.tool_calls
        assert call.name == "bash"
        assert call.action is not None and call.action.command == msg["extra"]["actions"][0]["command"]
        if answer["role"] == "user":
            assert call.observation is not None and call.observation.exit_code == answer["extra"]["returncode"]
            assert call.observation.text is not None and call.observation.text.text == answer["content"]
        else:  # the submit command is followed by the exit message, no observation
            assert answer["role"] == "exit" and call.observation is None
    assert run.steps[0].thought is not None and run.steps[0].thought.text == "create file"
    assert run.exit_status == "Submitted"
    assert run.outcome is Outcome.UNKNOWN  # submitted, never verified
    assert run.task == "Please solve this issue: write hello.txt"
    assert run.metadata["model"] == "deterministic" and run.metadata["cost"] == 3.0


def test_toolcall_format(shared: Path) -> None:
    run = one(fixtures(shared) / "example_toolcall.traj.json")
    assert len(run.steps) == 2
    first = run.steps[0].tool_calls[0]
    assert first.id == "call_1" and first.action is not None and first.action.command == "ls"
    assert first.observation is not None and first.observation.exit_code == 0
    assert first.observation.text is not None and "hello.txt" in first.observation.text.text
    assert run.steps[0].thought is not None and run.steps[0].thought.text == "listing"
    assert run.steps[1].thought is None  # content null in the artifact
    assert run.steps[1].tool_calls[0].action.command == "echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT"  # type: ignore[union-attr]


def test_bare_message_list(shared: Path) -> None:
    path = fixtures(shared) / "repo_tests_github_issue.traj.json"
    data = json.loads(path.read_text())
    run = one(path)
    assert len(run.steps) == sum(m["role"] == "assistant" for m in data) == 10
    first = run.steps[0].tool_calls[0]
    assert first.observation is not None and first.observation.exit_code == 1  # "<returncode>1</returncode>"
    assert first.action is not None and first.action.command.startswith("cat /Users/fuchur/")  # type: ignore[union-attr]
    last = run.steps[-1].tool_calls[0]
    assert last.observation is not None and last.observation.text is not None
    assert last.observation.text.text == data[-1]["content"]  # the submitted diff
    assert last.observation.text.text.startswith("diff --git")
    assert run.exit_status is None and run.outcome is Outcome.UNKNOWN


def test_detect(shared: Path, tmp_path: Path) -> None:
    for path in fixtures(shared).glob("*.json"):
        assert EX.detect(Candidate(path, False)) >= 0.5, path
    big = corpus_files(shared)[0]
    assert EX.detect(Candidate(big, False)) >= 0.9  # trajectory_format is only in the tail
    assert EX.detect(Candidate(big.parent / "report.json", False)) == 0.0
    results = next((shared / "fixtures" / "terminal-bench").rglob("results.json"))
    assert EX.detect(Candidate(results, False)) == 0.0
    assert EX.detect(Candidate(big.parent, True)) == 0.0


# -- the corpus ------------------------------------------------------------------------------------------------------


def _expected_exit_code(answer: dict[str, Any]) -> int | None:
    match = re.match(r"<returncode>(-?\d+)</returncode>", answer["content"])
    return int(match.group(1)) if match else None


def test_corpus(shared: Path) -> None:
    files = corpus_files(shared)
    assert len(files) == 100
    registry = ExtractorRegistry(EXTRACTORS)
    runs = [r for r in extract_all(shared / "corpora" / "miniswe-swebench-verified", registry)]
    assert not [r for r in runs if isinstance(r, Failure)]
    by_path = {r.metadata["source_path"]: r for r in runs if isinstance(r, Run)}
    outcomes = {"solved": 0, "failed": 0}
    for path in files:
        run = by_path[str(path)]
        data = json.loads(path.read_text())
        report = json.loads((path.parent / "report.json").read_text())
        assert run.outcome.value == ("solved" if report["resolved"] else "failed")
        outcomes[run.outcome.value] += 1
        assert run.metadata["instance_id"] == data["instance_id"]
        messages = data["messages"]
        assistants = [i for i, m in enumerate(messages) if m["role"] == "assistant"]
        assert [s.raw_ref for s in run.steps] == [f"messages[{i}]" for i in assistants]
        for step, i in zip(run.steps, assistants, strict=True):
            answer = messages[i + 1]
            blocks = re.findall(r"```bash\s*\n(.*?)\n```", messages[i]["content"], re.DOTALL)
            if len(blocks) == 1:
                [call] = step.tool_calls
                assert call.action is not None and call.action.command == blocks[0].strip()
                assert call.observation is not None and call.observation.exit_code == _expected_exit_code(answer)
            else:  # mini rejected the answer: no action, a format error
                assert not step.tool_calls
                assert answer["content"].startswith("Please always provide EXACTLY ONE action")
                assert [e.kind for e in step.errors] == ["FormatError"]
        assert run.exit_status == data["info"]["exit_status"]
        assert run.metadata["cost"] == data["info"]["model_stats"]["instance_cost"]
    assert outcomes == {"solved": 50, "failed": 50}


# -- outcome sources -------------------------------------------------------------------------------------------------


def test_report_missing_or_broken(shared: Path, tmp_path: Path) -> None:
    src = corpus_files(shared)[0]
    path = writable_copy(src, tmp_path)
    assert one(path).outcome is Outcome.UNKNOWN  # Submitted, no report beside it
    (tmp_path / "report.json").write_text('{"resolved": tru')
    run = one(path)
    assert run.outcome is Outcome.UNKNOWN and run.errors and run.errors[0].kind == "ReportError"
    data = json.loads(src.read_text())
    (tmp_path / "report.json").write_text(json.dumps({data["instance_id"]: {"resolved": False}}))
    assert one(path).outcome is Outcome.FAILED
    (tmp_path / "report.json").unlink()
    data["info"]["exit_status"] = "LimitsExceeded"
    path.write_text(json.dumps(data))
    assert one(path).outcome is Outcome.FAILED  # never submitted


def test_format_error_without_assistant_message(tmp_path: Path) -> None:
    """mini 2.x drops a rejected answer from the history and keeps it in the format error's extra."""
    fence = "```mswea_bash_command"
    rejected = f"THOUGHT: b\n{fence}\nls\n```\n{fence}\npwd\n```"
    messages = [
        {"role": "system", "content": "sys ```mswea_bash_command```"},
        {"role": "user", "content": "task"},
        {"role": "assistant", "content": f"THOUGHT: a\n{fence}\nls\n```", "extra": {"actions": [{"command": "ls"}]}},
        {"role": "user", "content": "<returncode>0</returncode>\n<output>\nx\n</output>", "extra": {"returncode": 0}},
        {
            "role": "user",
            "content": "Format error: found 2 actions",
            "extra": {"interrupt_type": "FormatError", "model_response": rejected},
        },
    ]
    path = tmp_path / "x.traj.json"
    data = {"info": {"exit_status": "FormatError"}, "messages": messages, "trajectory_format": "mini-swe-agent-1.1"}
    path.write_text(json.dumps(data))
    run = one(path)
    assert len(run.steps) == 2
    assert run.steps[1].thought is not None and run.steps[1].thought.text == "b"
    assert run.steps[1].errors[0].kind == "FormatError" and not run.steps[1].tool_calls
    assert run.outcome is Outcome.FAILED


# -- bad input -------------------------------------------------------------------------------------------------------


def _mutated(shared: Path, tmp_path: Path, mutate: Any) -> Path:
    data = json.loads((fixtures(shared) / "example_toolcall.traj.json").read_text())
    mutate(data)
    path = tmp_path / "bad.traj.json"
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize(
    ("mutate", "position"),
    [
        (lambda d: d.__setitem__("messages", {"a": 1}), "messages"),
        (lambda d: d.__setitem__("messages", []), "messages"),
        (lambda d: d["messages"].__setitem__(3, "oops"), "messages[3]"),
        (lambda d: d["messages"][2].__setitem__("content", 5), "messages[2].content"),
        (lambda d: d["messages"][2].__setitem__("role", None), "messages[2].role"),
        (lambda d: d["messages"][2]["extra"].pop("actions") and d["messages"][2].__setitem__("tool_calls", 3),
         "messages[2].tool_calls"),
        (lambda d: d.pop("messages"), "messages"),
    ],
)
def test_bad_structure(shared: Path, tmp_path: Path, mutate: Any, position: str) -> None:
    path = _mutated(shared, tmp_path, mutate)
    with pytest.raises(ExtractError) as info:
        build_runs(path, EX)
    assert info.value.position == position and info.value.path == path


def test_truncated_and_junk(shared: Path, tmp_path: Path) -> None:
    src = corpus_files(shared)[0].read_bytes()
    path = tmp_path / "cut.traj.json"
    path.write_bytes(src[: len(src) // 2])
    [failure] = list(extract_all(path, ExtractorRegistry([MiniSweAgentExtractor()])))
    assert isinstance(failure, Failure) and failure.path == path and "line" in failure.message
    path.write_bytes(b"\x00\xff\xfe garbage")
    with pytest.raises(ExtractError):
        build_runs(path, EX)
    path.write_text('"just a string"')
    with pytest.raises(ExtractError) as info:
        build_runs(path, EX)
    assert info.value.position == "line 1 column 1"


_JSONISH = jsonish()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(index=st.integers(0, 6), key=st.sampled_from(["role", "content", "extra", "tool_calls", "tool_call_id", None]),
       value=_JSONISH, cut=st.integers(0, 5000))
def test_property_mutations(shared: Path, tmp_path: Path, index: int, key: str | None, value: Any, cut: int) -> None:
    """Random values put into a real trajectory's messages, or a random cut: only runs or ExtractError."""
    data = json.loads((fixtures(shared) / "example_toolcall.traj.json").read_text())
    messages = data["messages"]
    i = index % len(messages)
    if key is None:
        messages[i] = value
    else:
        messages[i][key] = value
    text = json.dumps(data)
    path = tmp_path / "p.traj.json"
    for body in (text, text[:cut]):
        path.write_text(body)
        assert_runs_or_extract_error(path, EX)

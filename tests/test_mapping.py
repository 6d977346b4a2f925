"""Declarative extractor specs: real artifacts read through a spec, bad specs reported, drafts validated."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from codetracer.core.errors import CodetracerError, ExtractError
from codetracer.core.extract import Candidate, ExtractorRegistry, build_runs
from codetracer.core.mapping import MappedExtractor, MappingSpec, load_spec, load_specs, parse_path, resolve
from codetracer.core.suggest import heuristic_spec, validate_spec

WHO_AND_WHEN_SPEC = {
    "name": "ag2-chat",
    "framework": "ag2",
    "match": {"json_keys": ["history", "question"]},
    "steps": "history",
    "step": {"thought": "content", "agent": "name"},
    "task": "question",
    "outcome": "is_correct",
    "outcome_map": {"False": "failed", "True": "solved"},
}


def test_paths_parse_and_resolve() -> None:
    assert parse_path("a.b[2].c") == ["a", "b", 2, "c"] and parse_path("$") == []
    assert resolve({"a": {"b": [0, 1, {"c": "x"}]}}, ["a", "b", 2, "c"]) == "x"
    assert resolve({"a": [1]}, ["a", 5]) is None and resolve({"a": 1}, ["a", "b"]) is None
    with pytest.raises(ValueError):
        parse_path("a[b")


def test_a_spec_reads_a_real_who_and_when_log(shared: Path) -> None:
    path = shared / "labeled" / "who-and-when-algorithm-generated" / "1.json"
    raw = json.loads(path.read_text())
    extractor = MappedExtractor(MappingSpec.model_validate(WHO_AND_WHEN_SPEC))
    assert extractor.detect(Candidate(path, False)) >= 0.5
    (run,) = build_runs(path, extractor)
    assert len(run.steps) == len(raw["history"])
    assert [s.agent for s in run.steps] == [h.get("name") for h in raw["history"]]
    assert run.steps[1].thought is not None and run.steps[1].thought.text == raw["history"][1]["content"]
    assert run.task == raw["question"] and run.outcome.value == "failed"
    assert run.steps[3].raw_ref == "history[3]"


def test_a_spec_with_a_filter_and_tool_constant_reads_mini_swe_agent_messages(shared: Path) -> None:
    path = shared / "fixtures" / "mini-swe-agent" / "example_text.traj.json"
    raw = json.loads(path.read_text())
    spec = MappingSpec.model_validate(
        {
            "name": "mini-messages",
            "framework": "mini-swe-agent",
            "match": {"json_keys": ["messages"], "contains": "trajectory_format"},
            "steps": "messages",
            "where": {"role": "assistant"},
            "step": {"command": "content", "tool_const": "bash"},
        }
    )
    (run,) = build_runs(path, MappedExtractor(spec))
    assistant = [m for m in raw["messages"] if m["role"] == "assistant"]
    assert len(run.steps) == len(assistant)
    assert all(s.calls[0].action.tool == "bash" for s in run.steps)
    assert run.steps[0].calls[0].action.command == assistant[0]["content"]


def test_invalid_specs_are_one_clear_line(tmp_path: Path) -> None:
    cases = {
        "no-match.json": ({"name": "x", "framework": "y", "steps": "a"}, "invalid at match: Field required"),
        "name-only.json": ({**WHO_AND_WHEN_SPEC, "match": {"filename": "*.json"}}, "match needs json_keys or contains"),
        "bad-path.json": ({**WHO_AND_WHEN_SPEC, "steps": "history[x"}, "invalid at steps"),
        "extra.json": ({**WHO_AND_WHEN_SPEC, "code": "import os"}, "invalid at code"),
        "bad-name.json": ({**WHO_AND_WHEN_SPEC, "name": "Bad Name!"}, "invalid at name"),
    }
    for file_name, (data, message) in cases.items():
        (tmp_path / file_name).write_text(json.dumps(data))
        with pytest.raises(CodetracerError, match=message):
            load_spec(tmp_path / file_name)
    (tmp_path / "broken.json").write_text("{not json")
    (tmp_path / "good.json").write_text(json.dumps(WHO_AND_WHEN_SPEC))
    extractors, errors = load_specs([tmp_path])
    assert [e.name for e in extractors] == ["ag2-chat"] and len(errors) == 6
    assert all(line.startswith(str(tmp_path)) for line in errors)


def test_spec_on_a_file_without_steps_is_an_extract_error(tmp_path: Path) -> None:
    path = tmp_path / "run.json"
    path.write_text(json.dumps({"history": "not a list", "question": "q"}))
    with pytest.raises(ExtractError, match="no list of steps"):
        build_runs(path, MappedExtractor(MappingSpec.model_validate(WHO_AND_WHEN_SPEC)))


def test_specs_in_the_extractors_folder_join_the_registry(home: Path, tmp_path: Path, shared: Path) -> None:
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "mini-messages.json").write_text(
        json.dumps(
            {
                "name": "mini-messages",
                "framework": "mini-swe-agent",
                "match": {"json_keys": ["messages"]},
                "steps": "messages",
            }
        )
    )
    os.environ["CODETRACER_EXTRACTORS"] = str(specs)
    try:
        names = [e.name for e in ExtractorRegistry.from_plugins().extractors]
    finally:
        del os.environ["CODETRACER_EXTRACTORS"]
    assert "mini-messages" in names and "mini-swe-agent" in names


def test_heuristic_draft_of_a_real_log_validates(shared: Path, tmp_path: Path) -> None:
    path = tmp_path / "chat.json"
    shutil.copy(shared / "labeled" / "who-and-when-algorithm-generated" / "5.json", path)
    spec = heuristic_spec(path, "chat")
    assert spec.steps == "history" and spec.step.agent == "name" and spec.step.thought == "content"
    runs = validate_spec(spec, path)
    assert len(runs[0].steps) == len(json.loads(path.read_text())["history"])


@pytest.fixture
def llm_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    pytest.importorskip("openai")
    from openai_stub import StubServer

    server = StubServer().start()
    monkeypatch.setenv("CODETRACER_BASE_URL", server.base_url)
    monkeypatch.setenv("CODETRACER_MODEL", "stub-model")
    monkeypatch.setenv("CODETRACER_API_KEY", "test-key")
    yield server
    server.stop()


def test_llm_draft_is_validated_retried_and_saved(home: Path, shared: Path, llm_server: object) -> None:
    from openai_stub import StubServer

    assert isinstance(llm_server, StubServer)
    bad = {"spec": {**WHO_AND_WHEN_SPEC, "steps": "messages"}}  # wrong list: validation fails, model is told
    good = {"spec": WHO_AND_WHEN_SPEC}
    llm_server.script(json.dumps(bad), json.dumps(good))
    path = shared / "labeled" / "who-and-when-algorithm-generated" / "7.json"
    out = subprocess.run(
        [sys.executable, "-m", "codetracer", "extractors", "suggest", str(path), "--name", "ww"],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
    )
    assert out.returncode == 0, out.stderr
    saved = json.loads((home / "extractors" / "ww.json").read_text())
    assert saved["name"] == "ww" and saved["steps"] == "history"
    assert len(llm_server.requests) == 2
    retry_prompt = llm_server.requests[1]["messages"][1]["content"]
    assert "previous spec failed" in retry_prompt and "<<<UNTRUSTED_TRAJECTORY_DATA" in retry_prompt

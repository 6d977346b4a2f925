"""Who&When / AG2 failure logs from ../shared/labeled/who-and-when-algorithm-generated."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from codetracer.adapters.who_and_when.artifacts import EXTRACTORS
from codetracer.core.errors import ExtractError
from codetracer.core.extract import Candidate, ExtractorRegistry, Failure, build_runs, extract_all
from codetracer.core.model import Run
from jsonish import assert_runs_or_extract_error, jsonish

EX = EXTRACTORS[0]
LABELED = "labeled/who-and-when-algorithm-generated"


def _one(path: Path) -> Run:
    runs = build_runs(path, EX)
    assert len(runs) == 1
    return runs[0]


def test_detect_by_content(shared: Path, tmp_path: Path) -> None:
    assert EX.detect(Candidate(shared / LABELED / "1.json", False)) >= 0.9
    renamed = tmp_path / "log.txt"
    shutil.copy(shared / LABELED / "1.json", renamed)
    assert EX.detect(Candidate(renamed, False)) >= 0.9
    # unrelated JSON is not claimed
    assert EX.detect(Candidate(shared / "fixtures/atif/chess-best-move__wpPQ5MU/result.json", False)) == 0.0
    assert EX.detect(Candidate(shared / "fixtures/atif/chess-best-move__wpPQ5MU/agent/trajectory.json", False)) == 0
    assert EX.detect(Candidate(shared / LABELED / "LICENSE.upstream", False)) == 0.0
    chat = tmp_path / "chat.json"
    chat.write_text(json.dumps({"history": [{"role": "user", "content": "hi"}], "question": "q"}))
    assert EX.detect(Candidate(chat, False)) == 0.0


def test_file_1_against_artifact(shared: Path) -> None:
    raw = json.loads((shared / LABELED / "1.json").read_text())
    run = _one(shared / LABELED / "1.json")
    assert len(run.steps) == len(raw["history"])
    assert run.task == raw["question"]
    assert run.outcome.value == "failed" and raw["is_correct"] is False
    assert run.metadata["gold"] == {
        "mistake_step": 0, "mistake_step_id": 1, "mistake_agent": "Excel_Expert",
        "mistake_reason": raw["mistake_reason"],
    }
    assert raw["mistake_step"] == "0" and raw["mistake_agent"] == "Excel_Expert"
    for i, (step, turn) in enumerate(zip(run.steps, raw["history"], strict=True)):
        assert step.id == i + 1 and step.raw_ref == f"history[{i}]"
        assert step.agent == turn["name"]
        assert step.messages[0].content.text == turn["content"] and step.messages[0].role == turn["role"]
    # history[1] is the terminal: "exitcode: 0 (execution succeeded)" is an observation, not a thought
    terminal = run.steps[1]
    assert raw["history"][1]["name"] == "Computer_terminal"
    assert terminal.thought is None and terminal.observations[0].exit_code == 0
    assert run.steps[0].thought.text == raw["history"][0]["content"]


def test_whole_set(shared: Path) -> None:
    items = list(extract_all(shared / LABELED, ExtractorRegistry(EXTRACTORS)))
    runs = [i for i in items if isinstance(i, Run)]
    assert not [i for i in items if isinstance(i, Failure)]
    assert len(runs) == 126
    for run in runs:
        raw = json.loads(Path(run.metadata["source_path"]).read_text())
        assert len(run.steps) == len(raw["history"])
        gold = run.metadata["gold"]
        assert gold["mistake_step"] == int(raw["mistake_step"])
        assert run.steps[gold["mistake_step_id"] - 1].raw_ref == f"history[{raw['mistake_step']}]"
        assert run.outcome.value == "failed"
        failing = [s for s in run.steps if s.agent == "Computer_terminal" and s.observations]
        for step in failing:
            text = step.observations[0].text.text
            if text.startswith("exitcode: 1 "):
                assert step.observations[0].exit_code == 1 and step.is_error


# -- bad input ---------------------------------------------------------------------------------------------------------


def _bad(tmp_path: Path, text: str) -> ExtractError:
    path = tmp_path / "x.json"
    path.write_text(text)
    with pytest.raises(ExtractError) as info:
        build_runs(path, EX)
    assert info.value.path == path
    return info.value


def test_truncated(shared: Path, tmp_path: Path) -> None:
    text = (shared / LABELED / "1.json").read_text()
    assert _bad(tmp_path, text[:500]).position.startswith("line ")


@pytest.mark.parametrize(
    ("mutate", "position"),
    [
        (lambda d: d.update(history=[]), "history"),
        (lambda d: d.update(history="x"), "history"),
        (lambda d: d["history"].__setitem__(2, "x"), "history[2]"),
        (lambda d: d["history"][3].update(content=["a"]), "history[3].content"),
        (lambda d: d["history"][3].update(name=5), "history[3].name"),
        (lambda d: d.update(mistake_step="two"), "mistake_step"),
        (lambda d: d.update(mistake_step="99"), "mistake_step"),
        (lambda d: d.update(question=3), "question"),
        (lambda d: d.update(is_correct="no"), "is_correct"),
    ],
)
def test_mutations(shared: Path, tmp_path: Path, mutate, position: str) -> None:
    raw = json.loads((shared / LABELED / "1.json").read_text())
    mutate(raw)
    assert _bad(tmp_path, json.dumps(raw)).position == position


_JSONISH = jsonish(st.integers(-2, 20), text_size=8)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_property_only_runs_or_extract_errors(shared: Path, tmp_path: Path, data: st.DataObject) -> None:
    raw = json.loads((shared / LABELED / "1.json").read_text())
    raw["history"] = raw["history"][:3]
    raw.pop("system_prompt")
    targets = [raw, *raw["history"]]
    for _ in range(data.draw(st.integers(1, 3))):
        target = data.draw(st.sampled_from(targets))
        target[data.draw(st.sampled_from(sorted(target)))] = data.draw(_JSONISH)
    text = json.dumps(raw)
    if data.draw(st.booleans()):
        text = text[: data.draw(st.integers(0, len(text)))]
    path = tmp_path / "x.json"
    path.write_text(text)
    assert_runs_or_extract_error(path, EX)

"""ATIF import and export on the real terminal-bench 2 trials in ../shared."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from codetracer.adapters.atif.artifacts import EXTRACTORS, AtifExtractor
from codetracer.adapters.atif.export import to_atif, validate_atif
from codetracer.core.errors import ExtractError
from codetracer.core.extract import Candidate, ExtractorRegistry, Failure, build_runs, extract_all
from codetracer.core.model import Run
from jsonish import assert_runs_or_extract_error, jsonish

EX = EXTRACTORS[0]
CORPUS = "corpora/atif-terminal-bench-2"


def _trial(shared: Path, name: str) -> Path:
    return shared / CORPUS / name


def _raw(trial: Path) -> dict:
    return json.loads((trial / "agent" / "trajectory.json").read_text())


def _one(path: Path) -> Run:
    runs = build_runs(path, EX)
    assert len(runs) == 1
    return runs[0]


def test_detect_by_content(shared: Path, tmp_path: Path) -> None:
    trial = _trial(shared, "chess-best-move__wpPQ5MU")
    assert EX.detect(Candidate(trial, True)) >= 0.9
    assert EX.detect(Candidate(trial / "agent" / "trajectory.json", False)) >= 0.9
    renamed = tmp_path / "whatever.json"
    shutil.copy(trial / "agent" / "trajectory.json", renamed)
    assert EX.detect(Candidate(renamed, False)) >= 0.9
    assert EX.detect(Candidate(trial / "result.json", False)) == 0.0
    assert EX.detect(Candidate(shared / "labeled/who-and-when-algorithm-generated/1.json", False)) == 0.0


def test_chess_trial_against_artifact(shared: Path) -> None:
    trial = _trial(shared, "chess-best-move__wpPQ5MU")
    raw = _raw(trial)
    run = _one(trial)
    # 5 ATIF steps, the first is the user's task: it becomes the task and a run message, not a step
    assert [s["source"] for s in raw["steps"]] == ["user", "agent", "agent", "agent", "agent"]
    assert len(run.steps) == 4
    assert run.task == raw["steps"][0]["message"]
    assert run.messages[0].role == "user" and run.messages[0].raw_ref == "steps[0]"
    assert [s.key for s in run.steps] == ["2", "3", "4", "5"]
    read = run.steps[2]
    assert read.raw_ref == "steps[3]"
    assert read.tool_calls[0].name == "Read"
    assert read.tool_calls[0].action.arguments == {"file_path": "/app/chess_board.png"}
    assert read.tool_calls[0].observation is not None
    assert read.thought is not None and read.thought.text.startswith("The user wants me to analyze a chess board")
    assert (trial / "verifier/reward.txt").read_text().strip() == "0"
    assert run.outcome.value == "failed"
    assert run.metadata["model"] == "kimi-k2.5" and run.metadata["agent_name"] == "claude-code"
    llm = next(c for c in run.steps[1].calls if c.kind == "llm")
    assert (llm.input_tokens, llm.output_tokens) == (21290, 51)


def test_exit_code_and_error_flag(shared: Path) -> None:
    trial = _trial(shared, "adaptive-rejection-sampler__8swhKXC")
    raw = _raw(trial)
    step14 = raw["steps"][13]
    assert step14["tool_calls"][0]["arguments"] == {"command": "]: "}
    assert step14["observation"]["results"][0]["content"].startswith("Exit code 127\n")
    run = _one(trial)
    step = next(s for s in run.steps if s.key == "14")
    call = step.tool_calls[0]
    assert call.action.command == "]: "
    assert call.observation.exit_code == 127 and call.observation.is_error
    assert step.is_error


def test_solved_trials_follow_reward(shared: Path) -> None:
    for name in ("configure-git-webserver__RDfH8Xr", "polyglot-c-py__3z6k7TU", "prove-plus-comm__YDACMLN"):
        trial = _trial(shared, name)
        assert (trial / "verifier/reward.txt").read_text().strip() == "1"
        assert _one(trial).outcome.value == "solved"


def test_whole_corpus(shared: Path) -> None:
    root = shared / CORPUS
    items = list(extract_all(root, ExtractorRegistry(EXTRACTORS)))
    runs = [i for i in items if isinstance(i, Run)]
    failures = [i for i in items if isinstance(i, Failure)]
    with_trajectory = [d for d in root.iterdir() if (d / "agent/trajectory.json").exists()]
    assert len(runs) == len(with_trajectory) == 41
    # the 5 trials without a trajectory are reported, with the path, not dropped
    assert len(failures) == 5 and all("trajectory.json" in f.message for f in failures)
    for run in runs:
        raw = json.loads(Path(run.metadata["source_path"]).read_text())
        opening = next(i for i, s in enumerate(raw["steps"]) if s["source"] == "agent")
        assert len(run.steps) == len(raw["steps"]) - opening
        calls = sum(len(s.get("tool_calls") or []) for s in raw["steps"])
        assert sum(len(s.tool_calls) for s in run.steps) == calls
        results = sum(len((s.get("observation") or {}).get("results", [])) for s in raw["steps"])
        assert sum(len(s.all_observations) for s in run.steps) == results
    reward_one = sum((d / "verifier/reward.txt").read_text().strip() == "1" for d in with_trajectory)
    assert sum(r.outcome.value == "solved" for r in runs) == reward_one == 4


def test_parallel_calls_are_siblings(tmp_path: Path, shared: Path) -> None:
    raw = _raw(_trial(shared, "chess-best-move__wpPQ5MU"))
    step = raw["steps"][3]
    second = dict(step["tool_calls"][0], tool_call_id="second", arguments={"command": "ls"}, function_name="Bash")
    step["tool_calls"].append(second)
    step["observation"]["results"].append({"source_call_id": "second", "content": "a\nb"})
    path = tmp_path / "t.json"
    path.write_text(json.dumps(raw))
    run = _one(path)
    calls = run.steps[2].tool_calls
    assert [c.name for c in calls] == ["Read", "Bash"]
    assert calls[1].action.command == "ls" and calls[1].observation.text.text == "a\nb"


def test_round_trip_of_every_corpus_run(shared: Path, tmp_path: Path) -> None:
    for trial in sorted((shared / CORPUS).iterdir()):
        if not (trial / "agent/trajectory.json").exists():
            continue
        first = _one(trial)
        doc = to_atif(first)
        assert validate_atif(doc) == []
        path = tmp_path / f"{trial.name}.json"
        path.write_text(json.dumps(doc))
        second = _one(path)
        assert second.task == first.task and second.outcome == first.outcome
        assert len(second.steps) == len(first.steps)
        for a, b in zip(first.steps, second.steps, strict=True):
            assert (a.key, a.thought, a.agent) == (b.key, b.thought, b.agent)
            assert a.actions == b.actions
            assert a.all_observations == b.all_observations
            assert [m.content for m in a.messages] == [m.content for m in b.messages]
            assert [c.id for c in a.calls] == [c.id for c in b.calls]


def test_other_formats_export_to_valid_atif(shared: Path, tmp_path: Path) -> None:
    from codetracer.adapters.codetracebench.artifacts import EXTRACTORS as CTB
    from codetracer.adapters.who_and_when.artifacts import EXTRACTORS as WW

    sources = [
        (CTB[0], next(iter(sorted((shared / "corpora/codetracebench-steps/openhands").iterdir())))),
        (CTB[0], next(iter(sorted((shared / "corpora/codetracebench-steps/terminus2").iterdir())))),
        (WW[0], shared / "labeled/who-and-when-algorithm-generated/1.json"),
    ]
    for extractor, path in sources:
        run = build_runs(path, extractor)[0]
        doc = to_atif(run)
        assert validate_atif(doc) == []
        out = tmp_path / "exported.json"
        out.write_text(json.dumps(doc))
        assert EX.detect(Candidate(out, False)) >= 0.9
        back = _one(out)
        assert back.task == run.task
        assert len(back.steps) == len(run.steps)
        for a, b in zip(run.steps, back.steps, strict=True):
            assert [x.command for x in a.actions] == [x.command for x in b.actions]
            assert [o.text for o in a.all_observations] == [o.text for o in b.all_observations]
            assert a.agent == b.agent


def test_validator_catches_broken_documents(shared: Path) -> None:
    doc = to_atif(_one(_trial(shared, "chess-best-move__wpPQ5MU")))
    doc["steps"][1]["step_id"] = 7
    doc["steps"][0]["tool_calls"] = []
    doc["steps"][3]["observation"]["results"][0]["source_call_id"] = "nope"
    problems = validate_atif(doc)
    assert any("step_id 7" in p for p in problems)
    assert any("only allowed on agent steps" in p for p in problems)
    assert any("'nope'" in p for p in problems)


# -- bad input ---------------------------------------------------------------------------------------------------------


def _bad(tmp_path: Path, text: str | bytes) -> ExtractError:
    path = tmp_path / "trajectory.json"
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    with pytest.raises(ExtractError) as info:
        build_runs(path, EX)
    assert info.value.path == path
    return info.value


def test_truncated_and_junk(shared: Path, tmp_path: Path) -> None:
    text = (_trial(shared, "chess-best-move__wpPQ5MU") / "agent/trajectory.json").read_text()
    err = _bad(tmp_path, text[: len(text) // 2])
    assert err.position and err.position.startswith("line ")
    assert _bad(tmp_path, b"\x00\xff\xfe junk").position
    assert _bad(tmp_path, "[]").expected


@pytest.mark.parametrize(
    ("mutate", "position"),
    [
        (lambda d: d.update(steps=[]), "steps"),
        (lambda d: d.update(steps={"a": 1}), "steps"),
        (lambda d: d.update(schema_version="ATIF-v9"), "schema_version"),
        (lambda d: d["steps"].__setitem__(2, "x"), "steps[2]"),
        (lambda d: d["steps"][1].update(source="robot"), "steps[1].source"),
        (lambda d: d["steps"][3].update(tool_calls="Read"), "steps[3].tool_calls"),
        (lambda d: d["steps"][3]["tool_calls"][0].update(arguments=[1]), "steps[3].tool_calls[0].arguments"),
        (lambda d: d["steps"][3]["tool_calls"][0].pop("tool_call_id"), "steps[3].tool_calls[0]"),
        (lambda d: d["steps"][3]["observation"].update(results=None), "steps[3].observation.results"),
        (lambda d: d["steps"][3]["observation"]["results"][0].update(content=5), "steps[3].observation.results[0]"),
        (lambda d: d["steps"][2]["metrics"].update(prompt_tokens="many"), "steps[2].metrics.prompt_tokens"),
        (lambda d: d["steps"][2].update(step_id="3"), "steps[2].step_id"),
        (lambda d: d["steps"][2].update(timestamp=12), "steps[2].timestamp"),
    ],
)
def test_mutations_name_their_position(shared: Path, tmp_path: Path, mutate, position: str) -> None:
    raw = _raw(_trial(shared, "chess-best-move__wpPQ5MU"))
    mutate(raw)
    err = _bad(tmp_path, json.dumps(raw))
    assert err.position is not None and err.position.startswith(position)


def test_trial_without_trajectory_is_a_failure(shared: Path) -> None:
    trial = _trial(shared, "vulnerable-secret__9tUKcpe")
    assert AtifExtractor().detect(Candidate(trial, True)) >= 0.5
    items = list(extract_all(trial, ExtractorRegistry(EXTRACTORS)))
    assert len(items) == 1 and isinstance(items[0], Failure)
    assert "trajectory.json" in items[0].message


_JSONISH = jsonish(text_size=8)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_property_only_runs_or_extract_errors(shared: Path, tmp_path: Path, data: st.DataObject) -> None:
    raw = _raw(_trial(shared, "chess-best-move__wpPQ5MU"))
    raw["steps"] = raw["steps"][:4]
    raw["steps"][3]["observation"]["results"][0]["content"] = "short"
    targets = [raw, raw["agent"], *raw["steps"], *raw["steps"][3]["tool_calls"], raw["steps"][3]["observation"],
               raw["steps"][2]["metrics"]]
    for _ in range(data.draw(st.integers(1, 3))):
        target = data.draw(st.sampled_from(targets))
        key = data.draw(st.sampled_from(sorted(target)))
        target[key] = data.draw(_JSONISH)
    text = json.dumps(raw)
    if data.draw(st.booleans()):
        text = text[: data.draw(st.integers(0, len(text)))]
    path = tmp_path / "trajectory.json"
    path.write_text(text)
    assert_runs_or_extract_error(path, EX)

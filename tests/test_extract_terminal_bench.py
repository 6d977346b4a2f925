"""terminal-bench trial folders: a real Terminus 2 trial and a real leaderboard mini-swe-agent trial, and the
fallbacks (asciinema cast, commands.txt) on copies with the richer sources removed, plus damaged copies."""

from __future__ import annotations

import ast
import json
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from codetracer.adapters.mini_swe_agent.artifacts import EXTRACTORS as MINI
from codetracer.adapters.terminal_bench.artifacts import EXTRACTORS
from codetracer.core.errors import ExtractError
from codetracer.core.extract import Candidate, ExtractorRegistry, Failure, build_runs, extract_all
from codetracer.core.model import Outcome, Run

EX = EXTRACTORS[0]


def tb(shared: Path) -> Path:
    return shared / "fixtures" / "terminal-bench"


def terminus_trial(shared: Path) -> Path:
    return next((tb(shared) / "local_terminus2_run").glob("*/hello-world/hello-world.1-of-1.*"))


def mini_trial(shared: Path) -> Path:
    return next(tb(shared).glob("leaderboard_*/hello-world/hello-world.1-of-1.*"))


def one(path: Path) -> Run:
    runs = build_runs(path, EX)
    assert len(runs) == 1
    return runs[0]


def copy_trial(src: Path, tmp_path: Path, name: str = "trial") -> Path:
    dst = tmp_path / name
    shutil.copytree(src, dst)
    for p in [dst, *dst.rglob("*")]:
        p.chmod(0o755 if p.is_dir() else 0o644)
    return dst


# -- Terminus 2 episodes ---------------------------------------------------------------------------------------------


def test_terminus_episodes(shared: Path) -> None:
    trial = terminus_trial(shared)
    run = one(trial)
    episodes = sorted((trial / "agent-logs").iterdir(), key=lambda p: int(p.name.split("-")[1]))
    assert len(run.steps) == len(episodes) == 4
    for n, (step, folder) in enumerate(zip(run.steps, episodes, strict=True)):
        response = json.loads((folder / "response.txt").read_text())
        assert step.raw_ref == f"agent-logs/{folder.name}/response.txt"
        assert [c.action.arguments["keystrokes"] for c in step.tool_calls] == [  # type: ignore[union-attr]
            c["keystrokes"] for c in response["commands"]
        ]
        assert step.thought is not None and step.thought.text.startswith(response["analysis"])
        if n + 1 < len(episodes):  # the next prompt is what the agent saw after this step
            [obs] = step.observations
            assert obs.text is not None and obs.text.text == (episodes[n + 1] / "prompt.txt").read_text()
        else:
            assert not step.observations
    assert run.steps[1].tool_calls[1].action.command == "ls -la"  # type: ignore[union-attr]
    results = json.loads((trial / "results.json").read_text())
    assert run.outcome is Outcome.SOLVED and results["is_resolved"] is True
    assert run.task == results["instruction"]
    assert run.metadata["agent"] == "terminus-2" and run.metadata["model"] == "fake-model"
    assert run.metadata["task_complete"] is True
    assert run.messages[0].content.text == (episodes[0] / "prompt.txt").read_text()


def test_mini_console_in_trial(shared: Path) -> None:
    """The leaderboard trial kept only mini's console output; its 4 steps are read back from sessions/agent.log."""
    run = one(mini_trial(shared))
    commands = [s.tool_calls[0].action.command for s in run.steps]  # type: ignore[union-attr]
    assert commands == [
        'echo "Hello, world!" > hello.txt',
        "cat hello.txt",
        "ls -la hello.txt",
        "echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT",
    ]
    second = run.steps[1].tool_calls[0].observation
    assert second is not None and second.exit_code == 0 and second.text is not None
    assert second.text.text == "<returncode>0</returncode>\n<output>\nHello, world!\n</output>"
    assert run.steps[0].thought is not None and run.steps[0].thought.text.startswith("I need to create a file")
    assert run.steps[0].raw_ref is not None and run.steps[0].raw_ref.startswith("sessions/agent.log line ")
    line = int(run.steps[0].raw_ref.rsplit(" ", 1)[1])
    raw = (mini_trial(shared) / "sessions" / "agent.log").read_bytes().split(b"\n")[line - 1]
    assert b"mini-swe-agent" in raw and b"step" in raw
    assert run.outcome is Outcome.SOLVED
    assert run.metadata["agent"] == "mini-swe-agent" and run.metadata["agent_name"] == "mini-swe-agent"


def test_discovery_claims_trials_only(shared: Path) -> None:
    registry = ExtractorRegistry(EXTRACTORS + MINI)
    items = list(extract_all(tb(shared), registry))
    assert not [i for i in items if isinstance(i, Failure)]
    assert sorted(r.metadata["source_path"] for r in items if isinstance(r, Run)) == sorted(
        [str(terminus_trial(shared)), str(mini_trial(shared))]
    )
    run_folder = terminus_trial(shared).parent.parent
    assert EX.detect(Candidate(run_folder, True)) == 0.0  # run-level results.json with a results list
    assert EX.detect(Candidate(terminus_trial(shared), True)) >= 0.9
    assert EX.detect(Candidate(terminus_trial(shared) / "results.json", False)) == 0.0


# -- fallbacks -------------------------------------------------------------------------------------------------------


def test_cast_fallback_with_episode_markers(shared: Path, tmp_path: Path) -> None:
    trial = copy_trial(terminus_trial(shared), tmp_path)
    shutil.rmtree(trial / "agent-logs")
    run = one(trial)
    events = [json.loads(line) for line in (trial / "sessions" / "agent.cast").read_text().splitlines()[1:]]
    markers = [e[2] for e in events if e[1] == "m"]
    assert [s.key for s in run.steps] == [m.split(":")[0].lower().replace(" ", "-") for m in markers]
    assert [c.action.arguments["keystrokes"] for c in run.steps[1].tool_calls] == [  # type: ignore[union-attr]
        "cat hello.txt\n", "ls -la\n"]
    obs = run.steps[1].observations[0].text
    assert obs is not None and "Hello, world!" in obs.text and "\x1b" not in obs.text
    assert run.metadata["steps_source"] == "sessions/agent.cast"


def test_cast_fallback_inputs_and_commands_txt(shared: Path, tmp_path: Path) -> None:
    trial = copy_trial(mini_trial(shared), tmp_path)
    (trial / "sessions" / "agent.log").unlink()
    run = one(trial)
    inputs = [json.loads(line)[2] for line in (trial / "sessions" / "agent.cast").read_text().splitlines()[1:]
              if json.loads(line)[1] == "i"]
    assert [s.tool_calls[0].action.arguments["keystrokes"] for s in run.steps] == inputs  # type: ignore[union-attr]
    shutil.rmtree(trial / "sessions")
    run = one(trial)
    lines = [ast.literal_eval(x) for x in (trial / "commands.txt").read_text().splitlines() if x.strip()]
    expected = [x if isinstance(x, str) else x[0] for x in lines]
    expected = [x for x in expected if not x.startswith("asciinema rec")]
    assert [s.tool_calls[0].action.command for s in run.steps] == expected  # type: ignore[union-attr]
    assert all(not s.all_observations for s in run.steps)


def test_outcomes(shared: Path, tmp_path: Path) -> None:
    trial = copy_trial(terminus_trial(shared), tmp_path)
    results = json.loads((trial / "results.json").read_text())
    for value, outcome in ((False, Outcome.FAILED), (None, Outcome.UNKNOWN)):
        results["is_resolved"] = value
        (trial / "results.json").write_text(json.dumps(results))
        assert one(trial).outcome is outcome


def test_response_not_json_is_agent_error(shared: Path, tmp_path: Path) -> None:
    trial = copy_trial(terminus_trial(shared), tmp_path)
    (trial / "agent-logs" / "episode-1" / "response.txt").write_text("I think I should run ls")
    run = one(trial)
    assert run.steps[1].errors[0].kind == "ParseError" and not run.steps[1].tool_calls
    assert run.steps[1].thought is not None and run.steps[1].thought.text == "I think I should run ls"


# -- bad input -------------------------------------------------------------------------------------------------------


def test_bad_results(shared: Path, tmp_path: Path) -> None:
    trial = copy_trial(terminus_trial(shared), tmp_path)
    text = (trial / "results.json").read_text()
    (trial / "results.json").write_text(text[: len(text) // 2])
    [failure] = list(extract_all(trial, ExtractorRegistry(EXTRACTORS)))
    assert isinstance(failure, Failure) and failure.path == trial / "results.json" and "line" in failure.message
    data = json.loads(text)
    data["is_resolved"] = "yes"
    (trial / "results.json").write_text(json.dumps(data))
    with pytest.raises(ExtractError) as info:
        build_runs(trial, EX)
    assert info.value.position == "is_resolved"


def test_bad_cast_and_commands(shared: Path, tmp_path: Path) -> None:
    trial = copy_trial(terminus_trial(shared), tmp_path)
    shutil.rmtree(trial / "agent-logs")
    cast = trial / "sessions" / "agent.cast"
    lines = cast.read_text().splitlines()
    cast.write_text("\n".join([*lines[:4], '[1.0, "o"', *lines[5:]]))
    with pytest.raises(ExtractError) as info:
        build_runs(trial, EX)
    assert info.value.position == "line 5" and info.value.path == cast
    cast.write_text("not json\n")
    with pytest.raises(ExtractError) as info:
        build_runs(trial, EX)
    assert info.value.position == "line 1"
    shutil.rmtree(trial / "sessions")
    (trial / "commands.txt").write_text("['clear', 'Enter']\n['oops'\n")
    with pytest.raises(ExtractError) as info:
        build_runs(trial, EX)
    assert info.value.position == "line 2"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(target=st.sampled_from(["results.json", "agent-logs/episode-1/response.txt", "agent-logs/episode-2/prompt.txt",
                               "sessions/agent.cast", "commands.txt", "agent-logs/episode-0/debug.json"]),
       cut=st.integers(0, 2000), junk=st.binary(max_size=40), drop_logs=st.booleans())
def test_property_damage(shared: Path, tmp_path_factory: pytest.TempPathFactory, target: str, cut: int, junk: bytes,
                         drop_logs: bool) -> None:
    """Any file of a real trial cut short and followed by junk: only runs or ExtractError."""
    trial = copy_trial(terminus_trial(shared), tmp_path_factory.mktemp("t"))
    if drop_logs:
        shutil.rmtree(trial / "agent-logs")
    path = trial / target
    if path.exists():
        path.write_bytes(path.read_bytes()[:cut] + junk)
    try:
        runs = build_runs(trial, EX)
    except ExtractError as exc:
        assert exc.path.is_relative_to(trial)
    else:
        assert len(runs) == 1 and isinstance(runs[0], Run)

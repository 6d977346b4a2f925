"""The mini-swe-agent live adapter against the real mini-swe-agent, offline.

Every test runs mini's own ``DefaultAgent`` with a ``LocalEnvironment`` that really executes the commands in a
throwaway project under ``tmp_path``; only the language model is mini's offline ``DeterministicModel`` replaying
scripted answers (in the text-based ``mini_textbased`` format, parsed by mini's own parser). The agent is traced with
``codetracer.trace(agent)``; afterwards ``agent.save()`` writes the ``.traj.json`` and the live tree must equal the
tree the extractor reads from it: same steps, thoughts, commands, observations and exit codes.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("minisweagent", reason="needs mini-swe-agent (tox -e integration-miniswe)")

import yaml
from integration.shown import assert_shown_with_diagnosis
from mini_answers import SUBMIT, TASK, answer
from minisweagent.agents.default import DefaultAgent
from minisweagent.config import get_config_path
from minisweagent.environments.local import LocalEnvironment
from minisweagent.exceptions import FormatError
from minisweagent.models.litellm_textbased_model import LitellmTextbasedModelConfig
from minisweagent.models.test_models import DeterministicModel, make_output
from minisweagent.models.utils.actions_text import parse_regex_actions

import codetracer
from codetracer.adapters.mini_swe_agent.artifacts import MiniSweAgentExtractor
from codetracer.adapters.mini_swe_agent.live import live_state, uninstrument
from codetracer.core import config
from codetracer.core.extract import build_runs
from codetracer.core.model import Run, Text
from codetracer.core.store import Store
from codetracer.core.tracer import Tracer

SOLVING = [
    ("Let me see the files first.", "ls"),
    ("Reproduce the failure.", "python -m pytest -q -p no:cacheprovider"),
    ("mean() divides by one less than the length. Fix the divisor.",
     "sed -i 's/(len(values) - 1)/len(values)/' calc.py && cat calc.py"),
    ("Run the tests again.", "python -m pytest -q -p no:cacheprovider"),
    ("The test passes; submit.", SUBMIT),
]

WRONG_FIX = [
    ("Let me read the code.", "cat calc.py"),
    ("I think the sum is wrong; round it.", "sed -i 's/sum(values)/round(sum(values))/' calc.py"),
    ("Looks fine to me; submit.", SUBMIT),
]
"""The wrong edit, then submit without testing: only the verifier sees the tests fail."""

WRONG_FIX_TESTED = [
    *WRONG_FIX[:2],
    ("Run the tests.", "python -m pytest -q -p no:cacheprovider"),
    ("The failure must be something else; submit.", SUBMIT),
]
"""The wrong edit, the tests run and failing visibly, then submit anyway."""

PYTEST = "python -m pytest -q -p no:cacheprovider"


def mini_config() -> dict[str, Any]:
    """mini-swe-agent's own text-based config: agent templates, environment and observation template."""
    return yaml.safe_load(get_config_path("mini_textbased").read_text())



def unparsable(content: str) -> dict[str, Any]:
    """An answer mini's parser rejects: the scripted model raises the very FormatError the text model raises."""
    regex = LitellmTextbasedModelConfig.model_fields["action_regex"].default
    template = mini_config()["model"]["format_error_template"]
    try:
        parse_regex_actions(content, action_regex=regex, format_error_template=template)
    except FormatError as exc:
        return make_output(content, [{"raise": exc}], cost=0.0)
    raise AssertionError("the answer was expected not to parse")



@pytest.fixture(autouse=True)
def no_tracing_failures(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """The adapter swallows its own exceptions (they must never reach the agent): make sure none happened."""
    with caplog.at_level("ERROR", logger="codetracer"):
        yield
    assert not [r for r in caplog.records if r.name.startswith("codetracer")], caplog.text



class ScriptedModel(DeterministicModel):
    """mini's ``DeterministicModel``; its saved config leaves out the script, which may hold the exception objects
    mini's test actions raise (``{"raise": exc}``) and which pydantic cannot write as JSON."""

    def serialize(self) -> dict:
        return {
            "info": {
                "config": {
                    "model": self.config.model_dump(mode="json", exclude={"outputs"}),
                    "model_type": f"{DeterministicModel.__module__}.{DeterministicModel.__name__}",
                },
            }
        }


def make_agent(project: Path, outputs: list[dict[str, Any]], cls: type = DefaultAgent, **agent_options: Any) -> Any:
    cfg = mini_config()
    model = ScriptedModel(outputs=outputs, cost_per_call=0.0,
                               observation_template=cfg["model"]["observation_template"])
    env = LocalEnvironment(cwd=str(project), **{k: v for k, v in cfg["environment"].items() if k != "cwd"})
    return cls(model, env, **{**cfg["agent"], **agent_options})


def verified_by_tests(project: Path) -> bool:
    return tests_of(project).returncode == 0


def tests_of(project: Path) -> subprocess.CompletedProcess[str]:
    """The project's tests as a ``verify=`` callable may return them: codetracer keeps command, exit code, output."""
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=project,
                          capture_output=True, text=True)


# -- comparing trees --------------------------------------------------------------------------------------------------


def text(value: Text | None) -> str | None:
    return None if value is None else value.text


def steps_summary(run: Run) -> list[dict[str, Any]]:
    return [
        {
            "thought": text(step.thought),
            "calls": [
                (
                    c.kind,
                    c.name,
                    None if c.action is None else (c.action.tool, c.action.command, c.action.arguments),
                    None if c.observation is None else (text(c.observation.text), c.observation.exit_code,
                                                        c.observation.is_error),
                    text(c.response),
                    c.input_messages,
                    c.cost,
                )
                for c in step.calls
            ],
            "observations": [(text(o.text), o.exit_code, o.is_error) for o in step.observations],
            "errors": [(e.kind, e.error) for e in step.errors],
        }
        for step in run.steps
    ]


def summary(run: Run) -> dict[str, Any]:
    """What live and offline must agree on (ids, timestamps, raw refs and source metadata aside)."""
    return {
        "framework": run.framework,
        "task": run.task,
        "outcome": str(run.outcome),
        "exit_status": run.exit_status,
        "submission": run.metadata.get("submission"),
        "messages": [(m.role, text(m.content)) for m in run.messages],
        "steps": steps_summary(run),
    }


def offline(path: Path) -> Run:
    runs = build_runs(path, MiniSweAgentExtractor(llm_calls=True))
    assert len(runs) == 1
    return runs[0]


def write_report(folder: Path, instance: str, resolved: bool) -> None:
    """The verifier's verdict where the extractor looks for it (SWE-bench summary shape)."""
    key = "resolved_ids" if resolved else "unresolved_ids"
    (folder / "report.json").write_text(f'{{"{key}": ["{instance}"]}}')


def only_run(tracer: Tracer) -> Run:
    assert tracer.flush()
    assert len(tracer.runs) == 1
    return tracer.runs[0]


# -- runs -------------------------------------------------------------------------------------------------------------


def test_solved_run_live_equals_saved_trajectory(project: Path, tracer: Tracer, home: Path, tmp_path: Path) -> None:
    agent = make_agent(project, [answer(t, c) for t, c in SOLVING])
    assert codetracer.trace(agent, tracer=tracer, verify=lambda result: verified_by_tests(project)) is agent
    result = agent.run(TASK)
    assert result["exit_status"] == "Submitted"

    live = only_run(tracer)
    saved = tmp_path / "out" / "solved.traj.json"
    agent.save(saved)
    write_report(saved.parent, "solved", resolved=True)
    assert summary(live) == summary(offline(saved))

    assert (str(live.outcome), live.exit_status) == ("solved", "Submitted")
    assert live.task is not None and TASK in live.task
    commands = [s.tool_calls[0].action.command for s in live.steps]  # type: ignore[union-attr]
    assert commands == [c for _, c in SOLVING]
    exit_codes = [s.tool_calls[0].observation.exit_code if s.tool_calls[0].observation else None for s in live.steps]
    assert exit_codes == [0, 1, 0, 0, None]  # the submit command's output ends the run, no observation
    assert "1 failed" in text(live.steps[1].tool_calls[0].observation.text)  # type: ignore[arg-type,union-attr]
    assert [len(s.calls) for s in live.steps] == [2] * len(SOLVING)  # the LLM call and the command
    assert live.stages, "stages are segmented"
    assert all(s.started_at and s.ended_at and s.ended_at >= s.started_at for s in live.steps)
    assert live.complete and all(s.complete for s in live.steps)
    assert live.metadata["live"] is True and live.metadata["resolved"] is True

    store = Store(config.store_path(home), project="tests")
    stored = store.load_run(live.id)
    assert summary(stored) == summary(live)
    assert [r.id for r in store.list_runs(framework="mini-swe-agent")] == [live.id]
    store.close()


@pytest.mark.parametrize("tested", [False, True], ids=["submitted-untested", "tests-failed-visibly"])
def test_failed_run_wrong_fix(project: Path, tracer: Tracer, home: Path, tmp_path: Path, tested: bool) -> None:
    """The wrong ``sed`` edit fails the verifier: the stored run carries its diagnosis, which names the edit, and the
    verifier's output (a ``CompletedProcess`` from the callable, or the command string run by codetracer)."""
    agent = make_agent(project, [answer(t, c) for t, c in (WRONG_FIX_TESTED if tested else WRONG_FIX)])
    verify: Any = PYTEST if tested else (lambda result: tests_of(project))
    codetracer.trace(agent, tracer=tracer, verify=verify)
    agent.run(TASK)
    live = only_run(tracer)
    saved = tmp_path / "out" / "wrong.traj.json"
    agent.save(saved)
    write_report(saved.parent, "wrong", resolved=False)
    assert summary(live) == summary(offline(saved))
    assert (str(live.outcome), live.exit_status, len(live.steps)) == ("failed", "Submitted", 4 if tested else 3)
    v = live.verification
    assert v is not None and (v.passed, v.exit_code, v.failed_tests) == (False, 1, ["test_calc.py::test_mean"])
    assert v.command is not None and v.command.endswith("-m pytest -q -p no:cacheprovider")
    assert v.output is not None and "assert 3.3333333333333335 == 2.5" in v.output.text  # pytest's words, whole
    assert live.diagnosis is not None and live.diagnosis.onset_step == 2  # the wrong edit, not `cat calc.py`
    assert "verifier_fails" in {e.signal for e in live.diagnosis.evidence}
    store = Store(config.store_path(home), project="tests")
    assert [r.outcome for r in store.list_runs()] == ["failed"]
    assert store.load_run(live.id).verification == v
    store.close()
    assert_shown_with_diagnosis(live.id, 2, "sed -i 's/sum(values)/round(sum(values))/' calc.py", tmp_path,
                                verifier=v.verifier)


def test_a_verifier_that_cannot_run_is_reported_not_blamed_on_the_agent(project: Path, tracer: Tracer) -> None:
    """A verify command that is not there, or a callable that raises: the agent's run returns as usual, the run is
    ``unknown`` (the agent submitted; nothing judged it), and its verification node says what broke."""

    def broken(result: Any) -> bool:
        raise RuntimeError("the CI token expired")

    cases: list[tuple[Any, str]] = [
        ("no-such-test-runner -q", "the command was not found (exit 127)"),
        (broken, "the verifier raised RuntimeError: the CI token expired"),
    ]
    for verify, _ in cases:
        agent = make_agent(project, [answer(t, c) for t, c in WRONG_FIX])
        codetracer.trace(agent, tracer=tracer, verify=verify)
        assert agent.run(TASK)["exit_status"] == "Submitted"
    assert tracer.flush()
    for run, (_, says) in zip(tracer.runs, cases, strict=True):
        assert (str(run.outcome), run.diagnosis) == ("unknown", None)
        v = run.verification
        assert v is not None and v.passed is None and v.output is not None
        assert v.output.text.startswith(f"verifier error: {says}")
        assert run.metadata["verifier_error"].startswith(says)


def test_submission_without_verifier_is_unknown(project: Path, tracer: Tracer, tmp_path: Path) -> None:
    agent = make_agent(project, [answer(t, c) for t, c in SOLVING])
    codetracer.trace(agent, tracer=tracer)
    agent.run(TASK)
    live = only_run(tracer)
    agent.save(tmp_path / "unverified.traj.json")
    assert summary(live) == summary(offline(tmp_path / "unverified.traj.json"))
    assert str(live.outcome) == "unknown"


def test_limits_exceeded_is_failed(project: Path, tracer: Tracer, tmp_path: Path) -> None:
    agent = make_agent(project, [answer(t, c) for t, c in SOLVING], step_limit=2)
    codetracer.trace(agent, tracer=tracer)
    result = agent.run(TASK)
    assert result["exit_status"] == "LimitsExceeded"
    live = only_run(tracer)
    agent.save(tmp_path / "limits.traj.json")
    assert summary(live) == summary(offline(tmp_path / "limits.traj.json"))
    assert (str(live.outcome), live.exit_status, len(live.steps)) == ("failed", "LimitsExceeded", 2)


def test_format_error_is_a_step_of_its_own(project: Path, tracer: Tracer, tmp_path: Path) -> None:
    two_actions = "I will run two things.\n```mswea_bash_command\nls\n```\n```mswea_bash_command\npwd\n```"
    outputs = [answer(*SOLVING[0]), unparsable(two_actions), *[answer(t, c) for t, c in SOLVING[1:]]]
    agent = make_agent(project, outputs)
    codetracer.trace(agent, tracer=tracer)
    agent.run(TASK)
    live = only_run(tracer)
    agent.save(tmp_path / "format.traj.json")
    assert summary(live) == summary(offline(tmp_path / "format.traj.json"))
    rejected = live.steps[1]
    assert rejected.tool_calls == [] and [e.kind for e in rejected.errors] == ["FormatError"]
    assert rejected.observations[0].is_error
    assert len(live.steps) == len(SOLVING) + 1


def test_crashing_run_is_failed_and_the_exception_goes_on(project: Path, tracer: Tracer, tmp_path: Path) -> None:
    outputs = [answer(*SOLVING[0]), make_output("boom", [{"raise": RuntimeError("model backend crashed")}])]
    agent = make_agent(project, outputs)
    codetracer.trace(agent, tracer=tracer)
    with pytest.raises(RuntimeError, match="model backend crashed"):
        agent.run(TASK)
    live = only_run(tracer)
    agent.save(tmp_path / "crash.traj.json")
    saved = offline(tmp_path / "crash.traj.json")
    assert steps_summary(live) == steps_summary(saved)
    assert (str(live.outcome), live.exit_status) == (str(saved.outcome), saved.exit_status)
    assert (str(live.outcome), live.exit_status) == ("failed", "RuntimeError")
    assert [(e.kind, e.error) for e in live.errors] == [("RuntimeError", "RuntimeError: model backend crashed")]


class CountingAgent(DefaultAgent):
    """A user's subclass overriding the methods the adapter wraps: they must keep working, traced once."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.added = 0
        self.queries = 0

    def add_messages(self, *messages: dict) -> list[dict]:
        self.added += len(messages)
        return super().add_messages(*messages)

    def query(self) -> dict:
        self.queries += 1
        return super().query()


def test_subclass_traced_twice_keeps_its_overrides_and_single_events(
    project: Path, tracer: Tracer, tmp_path: Path
) -> None:
    agent = make_agent(project, [answer(t, c) for t, c in SOLVING], cls=CountingAgent)
    codetracer.trace(agent, tracer=tracer)
    codetracer.trace(agent, tracer=tracer)  # idempotent
    agent.run(TASK)
    assert agent.queries == len(SOLVING) and agent.added == len(agent.messages)
    live = only_run(tracer)
    agent.save(tmp_path / "sub.traj.json")
    assert summary(live) == summary(offline(tmp_path / "sub.traj.json"))
    assert len(live.steps) == len(SOLVING)
    assert live.metadata["agent_class"].endswith("CountingAgent")

    state = live_state(agent)
    assert state is not None and state.run_ids == [live.id]
    uninstrument(agent)
    assert live_state(agent) is None and "run" not in vars(agent)


def test_two_runs_of_one_agent_are_two_runs(project: Path, tracer: Tracer) -> None:
    agent = make_agent(project, [answer(t, c) for t, c in WRONG_FIX] * 2)
    codetracer.trace(agent, tracer=tracer)
    agent.run(TASK)
    agent.run(TASK)
    assert tracer.flush()
    assert len(tracer.runs) == 2 and tracer.runs[0].id != tracer.runs[1].id
    assert [len(r.steps) for r in tracer.runs] == [3, 3]

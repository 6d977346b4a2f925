"""mini-swe-agent's Responses-API message format, live and saved, against the tool-call format of the same scenario.

mini 2.x keeps a Responses-API model's history in that API's shapes (response objects with ``output`` items,
``function_call_output`` results, ``input_text`` parts). Each test runs the real ``DefaultAgent`` with a
``LocalEnvironment`` in a throwaway project, once with mini's ``DeterministicToolcallModel`` and once with its
``DeterministicResponseAPIToolcallModel`` (the test model behind ``litellm_response``, ``openrouter_response`` and
``portkey_response``), answers built by mini's own ``make_toolcall_output`` / ``make_response_api_output``; the live
trees and the trees read back from the ``.traj.json`` files ``agent.save()`` writes must agree step by step.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("minisweagent", reason="needs mini-swe-agent (tox -e integration-miniswe)")

import yaml
from mini_answers import SUBMIT, TASK
from minisweagent.agents.default import DefaultAgent
from minisweagent.config import get_config_path
from minisweagent.environments.local import LocalEnvironment
from minisweagent.models.test_models import (
    DeterministicResponseAPIToolcallModel,
    DeterministicToolcallModel,
    make_response_api_output,
    make_toolcall_output,
)

import codetracer
from codetracer.adapters.mini_swe_agent.artifacts import MiniSweAgentExtractor
from codetracer.core.extract import build_runs
from codetracer.core.model import Run
from codetracer.core.tracer import Tracer
from codetracer.localize.signal_localizer import SignalLocalizer

SOLVING = [
    ("Let me see the files first.", "ls"),
    ("Reproduce the failure.", "python -m pytest -q -p no:cacheprovider"),
    ("mean() divides by one less than the length. Fix the divisor.",
     "sed -i 's/(len(values) - 1)/len(values)/' calc.py && cat calc.py"),
    ("Run the tests again.", "python -m pytest -q -p no:cacheprovider"),
    ("The test passes; submit.", SUBMIT),
]

WRONG_EDIT = [
    ("Read the code.", "cat calc.py"),
    ("The sum must be wrong; round it.", "sed -i 's/sum(values)/round(sum(values))/' calc.py"),
    ("Check the fix.", "python -m pytest -q -p no:cacheprovider"),
    ("Submit anyway.", SUBMIT),
]


@pytest.fixture(autouse=True)
def quick_pytest(monkeypatch: pytest.MonkeyPatch) -> None:
    """The agent's ``pytest`` runs without the plugins of this environment (seconds each otherwise)."""
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")


def toolcall_outputs(script: list[tuple[str, str]]) -> list[dict[str, Any]]:
    outputs = []
    for i, (thought, command) in enumerate(script):
        call = {"id": f"call_{i}", "type": "function",
                "function": {"name": "bash", "arguments": json.dumps({"command": command})}}
        outputs.append(make_toolcall_output(thought, [call], [{"command": command, "tool_call_id": f"call_{i}"}]))
    return outputs


def response_outputs(script: list[tuple[str, str]]) -> list[dict[str, Any]]:
    return [make_response_api_output(thought, [{"command": command, "tool_call_id": f"call_{i}"}])
            for i, (thought, command) in enumerate(script)]


def run_agent(project: Path, model: Any, tracer: Tracer, saved: Path) -> Run:
    cfg = yaml.safe_load(get_config_path("mini").read_text())  # mini's tool-call config (both formats use it)
    env = LocalEnvironment(cwd=str(project), **{k: v for k, v in cfg["environment"].items() if k != "cwd"})
    agent = DefaultAgent(model, env, **{**cfg["agent"], "cost_limit": 0.0})
    codetracer.trace(agent, tracer=tracer)
    start = len(tracer.runs)
    assert agent.run(TASK)["exit_status"] == "Submitted"
    agent.save(saved)
    assert tracer.flush()
    assert len(tracer.runs) == start + 1
    return tracer.runs[-1]


def offline(path: Path) -> Run:
    runs = build_runs(path, MiniSweAgentExtractor(llm_calls=True))
    assert len(runs) == 1
    return runs[0]


def untimed(text: str) -> str:
    """An output without pytest's wall time (``in 0.02s``) and object addresses, which differ between runs."""
    return re.sub(r"0x[0-9a-f]+", "0x?", re.sub(r"in \d+\.\d+s", "in <t>s", text))


def story(run: Run) -> list[tuple[Any, ...]]:
    """Per step: the thought, each call's tool, command, output and exit code, the step's own observations."""
    return [
        (
            None if step.thought is None else step.thought.text,
            [(c.action.tool, c.action.command,
              c.observation and (untimed(c.observation.text.text), c.observation.exit_code))
             for c in step.tool_calls if c.action is not None],
            [(untimed(o.text.text), o.exit_code) for o in step.observations],
        )
        for step in run.steps
    ]


def both_formats(project: Path, tracer: Tracer, tmp_path: Path, script: list[tuple[str, str]]) -> dict[str, Run]:
    """The script with each model kind, each in a fresh copy of ``project`` (the same files, no caches of the other
    run), live and read back from the saved trajectory."""
    runs = {}
    for kind, model in (("toolcall", DeterministicToolcallModel(outputs=toolcall_outputs(script))),
                        ("responses", DeterministicResponseAPIToolcallModel(outputs=response_outputs(script)))):
        work = shutil.copytree(project, tmp_path / kind / project.name)
        saved = tmp_path / f"{kind}.traj.json"
        runs[kind] = run_agent(work, model, tracer, saved)
        runs[f"{kind} saved"] = offline(saved)
    return runs


def test_responses_run_has_the_steps_of_the_toolcall_run(project: Path, tracer: Tracer, tmp_path: Path) -> None:
    runs = both_formats(project, tracer, tmp_path, SOLVING)
    expected = story(runs["toolcall"])
    assert [len(s[1]) for s in expected] == [1] * len(SOLVING)
    assert [s[1][0][1] for s in expected] == [c for _, c in SOLVING]
    assert [s[0] for s in expected] == [t for t, _ in SOLVING]
    assert "1 failed" in expected[1][1][0][2][0] and "1 passed" in expected[3][1][0][2][0]
    for kind in ("toolcall saved", "responses", "responses saved"):
        assert story(runs[kind]) == expected, kind
    responses = runs["responses"]
    assert responses.task is not None and TASK in responses.task
    assert responses.task == runs["toolcall"].task
    assert [c.kind for c in responses.steps[0].calls] == ["llm", "tool"]
    assert responses.exit_status == "Submitted"
    assert json.loads((tmp_path / "responses.traj.json").read_text())["messages"][2]["object"] == "response"


def test_responses_run_localizes_like_the_toolcall_run(project: Path, tracer: Tracer, tmp_path: Path) -> None:
    runs = both_formats(project, tracer, tmp_path, WRONG_EDIT)
    diagnoses = {kind: SignalLocalizer().localize(run) for kind, run in runs.items()}
    assert {kind: (d.onset_step, d.confidence) for kind, d in diagnoses.items()} == {
        kind: (2, diagnoses["toolcall"].confidence) for kind in runs
    }
    assert diagnoses["toolcall"].confidence >= 0.5


def test_reasoning_items_and_usage_of_a_response(project: Path, tracer: Tracer, tmp_path: Path) -> None:
    """A response as litellm's ``responses()`` dumps it: a reasoning item first, the model and token usage on it."""
    outputs = response_outputs([("Reproduce the failure.", "python -m pytest -q -p no:cacheprovider"),
                                ("Done.", SUBMIT)])
    outputs[0]["output"].insert(0, {"type": "reasoning", "id": "rs_1",
                                    "summary": [{"type": "summary_text", "text": "Tests first, then the fix."}]})
    outputs[0]["model"] = "gpt-5-mini"
    outputs[0]["usage"] = {"input_tokens": 812, "output_tokens": 37, "total_tokens": 849}
    saved = tmp_path / "reasoning.traj.json"
    live = run_agent(project, DeterministicResponseAPIToolcallModel(outputs=outputs), tracer, saved)
    for run in (live, offline(saved)):
        step = run.steps[0]
        assert step.thought is not None
        assert step.thought.text == "Tests first, then the fix.\n\nReproduce the failure."
        llm = step.calls[0]
        assert (llm.kind, llm.name, llm.input_tokens, llm.output_tokens) == ("llm", "gpt-5-mini", 812, 37)
        assert step.tool_calls[0].action is not None
        assert step.tool_calls[0].action.command == "python -m pytest -q -p no:cacheprovider"

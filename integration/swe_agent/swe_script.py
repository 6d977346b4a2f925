"""Scripted SWE-agent runs: the real agent loop, tools and ``local`` deployment, only the model replaying actions.

The model is SWE-agent's own ``replay`` model (``--agent.model.name=replay``): it reads one JSON line per instance,
``{instance_id: [action, ...]}``, and answers each query with the next action. With SWE-agent's default config
(function calling, the ``str_replace_editor`` of ``tools/edit_anthropic``, ``review_on_submit_m``) an action is a
model message with one tool call, exactly what a real model returns.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from sweagent import CONFIG_DIR
from sweagent.agent.agents import DefaultAgent, DefaultAgentConfig
from sweagent.agent.problem_statement import TextProblemStatement
from sweagent.environment.repo import LocalRepoConfig
from sweagent.environment.swe_env import EnvironmentConfig, SWEEnv
from swerex.deployment.config import LocalDeploymentConfig

TASK = "calc.mean([1, 2, 3, 4]) returns 3.33 instead of 2.5. Fix calc.py so that test_calc.py passes."


def call(thought: str, tool: str, call_id: str, **arguments: Any) -> dict[str, Any]:
    """One model answer: ``thought`` and a single function call, as an OpenAI-style message."""
    return {
        "message": thought,
        "tool_calls": [
            {"type": "function", "id": call_id, "function": {"name": tool, "arguments": json.dumps(arguments)}}
        ],
    }


def wrong_edit(workdir: str) -> list[dict[str, Any]]:
    """Read, a wrong edit (rounding the sum; the bug is the divisor), run the failing test, submit (twice: the first
    ``submit`` of ``review_on_submit_m`` shows the diff for review)."""
    return [
        call("Let me read the code.", "str_replace_editor", "call_view", command="view", path=f"{workdir}/calc.py"),
        call("The sum must be rounded.", "str_replace_editor", "call_edit", command="str_replace",
             path=f"{workdir}/calc.py", old_str="sum(values)", new_str="round(sum(values))"),
        call("Run the test.", "bash", "call_test", command=f"cd {workdir} && python -m pytest -q -p no:cacheprovider"),
        call("Submit the fix.", "submit", "call_submit"),
        call("Confirm the submission.", "submit", "call_submit_again"),
    ]


def wrong_edit_untested(workdir: str) -> list[dict[str, Any]]:
    """:func:`wrong_edit` without the test run: read, the wrong edit, submit (twice). Only the verifier sees the test
    fail."""
    return [a for a in wrong_edit(workdir) if a["tool_calls"][0]["id"] != "call_test"]


def right_edit(workdir: str, prefix: str = "fix", *, reviewed: bool = False) -> list[dict[str, Any]]:
    """Undo the rounding if it is there, fix the divisor, run the test, submit (once when ``reviewed``:
    ``review_on_submit_m`` shows its review only at the first ``submit`` of an environment)."""
    submits = [call("Submit.", "submit", f"{prefix}_submit")]
    if not reviewed:
        submits.append(call("Confirm.", "submit", f"{prefix}_submit_again"))
    return [
        call("Put the sum back and fix the divisor.", "bash", f"{prefix}_sed",
             command=f"cd {workdir} && sed -i 's/round(sum(values))/sum(values)/; s/(len(values) - 1)/len(values)/'"
                     " calc.py && cat calc.py"),
        call("Run the test again.", "bash", f"{prefix}_test",
             command=f"cd {workdir} && python -m pytest -q -p no:cacheprovider"),
        *submits,
    ]


def write_replay(path: Path, instance_id: str, actions: list[dict[str, Any]]) -> Path:
    path.write_text(json.dumps({instance_id: actions}) + "\n")
    return path


def agent_config(replay: Path, config: str = "default.yaml") -> dict[str, Any]:
    """SWE-agent's own agent config file with the replay model."""
    cfg = yaml.safe_load((CONFIG_DIR / config).read_text())["agent"]
    cfg["model"] = {"name": "replay", "replay_path": str(replay)}
    return cfg


def make_agent(replay: Path, config: str = "default.yaml") -> DefaultAgent:
    return DefaultAgent.from_config(DefaultAgentConfig.model_validate(agent_config(replay, config)))


def env_config(repo: Path) -> EnvironmentConfig:
    return EnvironmentConfig(deployment=LocalDeploymentConfig(), repo=LocalRepoConfig(path=repo))


def make_env(repo: Path) -> SWEEnv:
    return SWEEnv.from_config(env_config(repo))


def problem(repo: Path) -> TextProblemStatement:
    return TextProblemStatement(text=TASK, id=repo.name)


def traj_path(output_dir: Path, instance_id: str) -> Path:
    return output_dir / f"{instance_id}.traj"

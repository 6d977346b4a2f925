"""Scripted model answers in mini-swe-agent's text format, parsed by mini's own parser (shared by the tests)."""

from __future__ import annotations

from typing import Any

from minisweagent.models.litellm_textbased_model import LitellmTextbasedModelConfig
from minisweagent.models.test_models import make_output
from minisweagent.models.utils.actions_text import parse_regex_actions

TASK = "calc.mean([1, 2, 3, 4]) returns 3.33 instead of 2.5. Fix calc.py so that test_calc.py passes."
SUBMIT = "echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT"
ACTION_REGEX = LitellmTextbasedModelConfig.model_fields["action_regex"].default


def answer(thought: str, command: str) -> dict[str, Any]:
    """One model answer in mini's text format, its action parsed by mini's own parser and regex."""
    content = f"THOUGHT: {thought}\n\n```mswea_bash_command\n{command}\n```"
    actions = parse_regex_actions(content, action_regex=ACTION_REGEX, format_error_template="{{error}}")
    return make_output(content, actions, cost=0.01)

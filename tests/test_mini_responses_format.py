"""mini-swe-agent's Responses-API messages in a saved trajectory, read offline (no mini needed): the shapes mini 2.x
writes for ``litellm_response`` / ``DeterministicResponseAPIToolcallModel`` runs, and malformed ones.

The same format from real runs of mini (live and saved) is compared with the tool-call format in
``integration/mini_swe_agent/test_mini_responses.py``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from codetracer.adapters.mini_swe_agent.artifacts import MiniSweAgentExtractor
from codetracer.adapters.mini_swe_agent.responses import as_chat
from codetracer.core.errors import ExtractError
from codetracer.core.extract import build_runs


def text(value: str) -> list[dict[str, str]]:
    return [{"type": "input_text", "text": value}]


def response(*items: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"object": "response", "output": list(items), "extra": {"actions": [], "cost": 0.5}, **fields}


def call(call_id: str, command: str) -> dict[str, Any]:
    return {"type": "function_call", "call_id": call_id, "name": "bash", "arguments": json.dumps({"command": command})}


def result(call_id: str, output: str, code: int) -> dict[str, Any]:
    return {"type": "function_call_output", "call_id": call_id, "output": output,
            "extra": {"returncode": code, "raw_output": output}}


def save(tmp_path: Path, messages: list[Any]) -> Path:
    path = tmp_path / "resp.traj.json"
    path.write_text(json.dumps({"info": {"mini_version": "2.4.6", "exit_status": "Submitted", "submission": ""},
                                "messages": messages, "trajectory_format": "mini-swe-agent-1.1"}))
    return path


def test_two_parallel_calls_and_a_format_error(tmp_path: Path) -> None:
    messages = [
        {"type": "message", "role": "system", "content": text("You are a helpful assistant.")},
        {"type": "message", "role": "user", "content": text("Fix calc.py")},
        response({"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Look."}]},
                 call("c1", "ls"), call("c2", "cat calc.py")),
        result("c2", "<returncode>0</returncode>\n<output>\ndef mean</output>", 0),  # answered out of order
        result("c1", "<returncode>0</returncode>\n<output>\ncalc.py</output>", 0),
        response({"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Hm."}]}),
        {"type": "message", "role": "user", "content": text("No tool calls found in the response."),
         "extra": {"interrupt_type": "FormatError"}},
        {"type": "message", "role": "exit", "content": text(""), "extra": {"exit_status": "Submitted",
                                                                         "submission": ""}},
    ]
    run = build_runs(save(tmp_path, messages), MiniSweAgentExtractor())[0]
    assert run.task == "Fix calc.py"
    assert len(run.steps) == 2
    first = run.steps[0]
    assert first.thought is not None and first.thought.text == "Look."
    calls = {c.action.command: c.observation for c in first.tool_calls if c.action is not None}
    assert set(calls) == {"ls", "cat calc.py"}
    assert calls["ls"] is not None and "calc.py" in calls["ls"].text.text
    assert calls["cat calc.py"] is not None and "def mean" in calls["cat calc.py"].text.text
    assert [e.kind for e in run.steps[1].errors] == ["FormatError"]
    assert run.exit_status == "Submitted"


def test_malformed_items_are_skipped_not_fatal() -> None:
    chat = as_chat(response("not an item", {"type": "reasoning"}, {"type": "message"},  # type: ignore[arg-type]
                            {"type": "function_call", "call_id": "x"}))
    assert chat["role"] == "assistant" and chat["content"] is None
    assert chat["tool_calls"] == [{"id": "x", "type": "function", "function": {"name": None, "arguments": "{}"}}]
    assert as_chat({"object": "response", "output": "oops"})["role"] == "assistant"
    assert as_chat({"type": "function_call_output", "call_id": "y", "output": None})["content"] == ""


def test_a_message_of_no_known_shape_is_one_clear_error(tmp_path: Path) -> None:
    path = save(tmp_path, [{"type": "message", "role": "user", "content": text("task")}, {"type": "mystery"}])
    with pytest.raises(ExtractError) as info:
        build_runs(path, MiniSweAgentExtractor())
    assert "messages[1].role" in str(info.value) and "\n" not in str(info.value)

"""OpenHands beyond the in-process SDK: a real ``openhands-agent-server`` runs the conversation on 127.0.0.1.

The test starts the server (``python -m openhands.agent_server``) with the shell tool of these tests preloaded, builds
a ``RemoteConversation`` against it with codetracer's one line (``callbacks=[codetracer.trace(agent)]``), and gives
the agent's LLM a scripted OpenAI-compatible server on 127.0.0.1 (``tests/openai_stub.py``, the one codetracer's LLM
path is tested with) that answers with tool calls. So the agent loop runs in the server process, which calls the
model through litellm over HTTP, runs the commands in a tmp workspace and streams its events over a websocket to the
SDK's client, whose callbacks feed codetracer: nothing is faked but the model's choices.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("OPENHANDS_SUPPRESS_BANNER", "1")

import pytest

pytest.importorskip("openhands.sdk", reason="needs openhands-sdk (Python >= 3.12)")
pytest.importorskip("openhands.agent_server", reason="needs openhands-agent-server (tox -e integration-openhands)")

import oh_shell_tool  # registers the shell tool here too: the client reads the server's events with it
from integration.shown import assert_shown_with_diagnosis
from oh_agent_server import AgentServer
from openhands.sdk import LLM, Agent, Conversation, Tool
from openhands.sdk.conversation.exceptions import ConversationRunError
from openhands.sdk.workspace import RemoteWorkspace
from pydantic import SecretStr
from test_openhands_live import comparable

import codetracer
from codetracer.adapters.openhands.artifacts import OpenHandsSdkExtractor
from codetracer.core.extract import build_runs
from codetracer.core.tracer import Tracer

sys.path.insert(0, str(Path(__file__).parents[2] / "tests"))
from openai_stub import Reply, StubServer, ToolCall

MODEL = "openai/scripted"
PYTEST = "python3 -m pytest -q -p no:cacheprovider"
WRONG_SED = "sed -i 's/return a - b/return a + b + 1/' calc.py"
TASK = "add() subtracts; fix calc.py so that test_calc.py passes."


def same_tree(run: Any) -> Any:
    """The tree as both sides must give it. Left out: the verdict and the verifier's node (the live run's own),
    ``ended_at`` and the numbers in ``raw_ref`` file names, because the server also persists its state updates in
    the event log and the client's callbacks do not receive every one of them (the event ids in the names agree)."""

    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: (re.sub(r"event-\d+-", "event-N-", v) if k == "raw_ref" and isinstance(v, str) else strip(v))
                    for k, v in value.items() if k != "ended_at"}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    data = comparable(run, outcome=False)
    data.pop("verification", None)
    return strip(data)


def shell(cid: str, command: str) -> ToolCall:
    return ToolCall(cid, oh_shell_tool.TOOL_NAME, {"command": command})


def project(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    (ws / "test_calc.py").write_text("import calc\n\n\ndef test_add():\n    assert calc.add(2, 3) == 5\n")
    return ws


@contextlib.contextmanager
def remote(server: AgentServer, model: StubServer, ws: Path, **trace: Any) -> Iterator[tuple[Any, Any]]:
    """The one line, against the agent server: ``(conversation, codetracer's callback)``; closing the conversation
    deletes it on the server."""
    llm = LLM(model=MODEL, base_url=model.base_url, api_key=SecretStr("sk-scripted"), usage_id="agent",
              num_retries=0)
    agent = Agent(llm=llm, tools=[Tool(name="ShellTool")])
    cb = codetracer.trace(agent, **trace)
    conv = Conversation(agent=agent, workspace=RemoteWorkspace(host=server.url, working_dir=str(ws)),
                        callbacks=[cb], visualizer=None)
    try:
        yield conv, cb
    finally:
        conv.close()


def test_a_remote_conversation_is_traced_by_the_one_line(server: AgentServer, model: StubServer, tmp_path: Path,
                                                         tracer: Tracer) -> None:
    ws = project(tmp_path)
    model.script(
        Reply("Read the code.", tool_calls=[shell("d1", "cat calc.py")]),
        Reply("Make add() add.", tool_calls=[shell("d2", WRONG_SED)]),
        Reply("Run the tests.", tool_calls=[shell("d3", PYTEST)]),
        Reply("Done.", tool_calls=[ToolCall("d4", "finish", {"message": "fixed add"})]),
    )
    with remote(server, model, ws, tracer=tracer, verify=PYTEST, workspace=ws) as (conv, cb):
        conv.send_message(TASK)
        conv.run()
        assert str(conv.state.execution_status.value) == "finished"
        assert not cb.active  # the conversation's own end ended the run: no cb.finish()
        # the server persisted the conversation as a local one does: the offline extractor reads the same tree
        (offline,) = build_runs(server.conversations / conv.id.hex, OpenHandsSdkExtractor())
    assert tracer.flush()
    (run,) = tracer.runs

    assert (run.framework, run.task, str(run.outcome), run.exit_status) == ("openhands", TASK, "failed", "finished")
    assert [s.tool_calls[0].action.command for s in run.steps[:3]] == ["cat calc.py", WRONG_SED, PYTEST]  # type: ignore[union-attr]
    assert [s.tool_calls[0].observation.exit_code for s in run.steps[:3]] == [0, 0, 1]  # type: ignore[union-attr]
    tests_ran = run.steps[2].tool_calls[0].observation
    assert tests_ran is not None and tests_ran.text is not None and "assert 6 == 5" in tests_ran.text.text
    finish = run.steps[3].tool_calls[0]
    assert finish.name == "finish" and finish.action is not None and finish.action.arguments == {"message": "fixed add"}
    assert all(s.calls[0].kind == "llm" and s.calls[0].name == MODEL for s in run.steps)
    assert [s.thought.text for s in run.steps if s.thought] == ["Read the code.", "Make add() add.", "Run the tests.",
                                                                 "Done."]
    assert "return a + b + 1" in (ws / "calc.py").read_text()  # the server really ran the edit in the workspace

    # litellm really called the stub: each tool-calling request carries the previous command's real output
    agent_requests = [r for r in model.requests if r.get("tools")]
    assert len(agent_requests) == 4 and all(r["model"] == "scripted" for r in agent_requests)
    answered = [m for m in agent_requests[1]["messages"] if m.get("role") == "tool"]
    assert answered and answered[-1]["tool_call_id"] == "d1" and "return a - b" in str(answered[-1]["content"])

    v = run.verification
    assert v is not None and (v.command, v.passed, v.exit_code) == (PYTEST, False, 1)
    assert run.diagnosis is not None and run.diagnosis.onset_step == 2
    assert same_tree(offline) == same_tree(run)
    assert_shown_with_diagnosis(run.id, 2, WRONG_SED, tmp_path, verifier=PYTEST)


def test_a_model_failure_in_the_server_ends_the_run_failed(server: AgentServer, model: StubServer, tmp_path: Path,
                                                           tracer: Tracer) -> None:
    """The model endpoint answers 500: the server's conversation errors, its status update and its
    ``ConversationErrorEvent`` reach the client in that order, and the run ends once, failed, holding the error."""
    ws = project(tmp_path)
    model.script(Reply("Read the code.", tool_calls=[shell("e1", "cat calc.py")]),
                 Reply(status=500, content="the model backend is down"))
    with remote(server, model, ws, tracer=tracer, run_id="oh-remote-error") as (conv, cb), \
            pytest.raises(ConversationRunError):
        conv.send_message(TASK)
        conv.run()
    assert not cb.active and cb.run_ids == ["oh-remote-error"] and tracer.flush()
    (run,) = tracer.runs
    assert (str(run.outcome), run.exit_status) == ("failed", "error")
    assert [s.tool_calls[0].action.command for s in run.steps] == ["cat calc.py"]  # type: ignore[union-attr]
    assert run.errors and "the model backend is down" in run.errors[-1].error
    assert run.diagnosis is not None

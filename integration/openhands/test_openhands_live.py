"""The OpenHands live adapter against the real openhands-sdk, offline, with the SDK's own scripted ``TestLLM``.

Each test runs a real ``LocalConversation`` (agent loop, tool execution in a tmp workspace, event persistence) with
``CodetracerCallback`` registered as an event callback, then checks the tree, the store, and that the tree equals the
one the offline extractor reads from the conversation's ``persistence_dir``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # litellm must not fetch its cost map at import
os.environ.setdefault("OPENHANDS_SUPPRESS_BANNER", "1")

import pytest

pytest.importorskip("openhands.sdk", reason="needs openhands-sdk (Python >= 3.12)")

import oh_shell_tool  # registers the shell tool
from openhands.sdk import Agent, Conversation, Tool
from openhands.sdk.conversation.exceptions import ConversationRunError
from openhands.sdk.llm import Message, MessageToolCall, TextContent
from openhands.sdk.testing import TestLLM

import codetracer
from codetracer.adapters.openhands.artifacts import OpenHandsSdkExtractor
from codetracer.adapters.openhands.live import CodetracerCallback
from codetracer.core import config
from codetracer.core.errors import CodetracerError
from codetracer.core.extract import build_runs
from codetracer.core.model import Run
from codetracer.core.store import Store
from codetracer.core.tracer import Tracer

TASK = "Create calc.py with add(a, b) and prove it works."


def reply(text: str, *calls: tuple[str, str, dict[str, Any]]) -> Message:
    """One scripted model response: ``text`` plus tool calls ``(call id, tool, arguments)``."""
    return Message(
        role="assistant",
        content=[TextContent(text=text)],
        tool_calls=[
            MessageToolCall(id=cid, name=name, arguments=json.dumps(args), origin="completion")
            for cid, name, args in calls
        ]
        or None,
    )


def shell(cid: str, command: str, **extra: Any) -> tuple[str, str, dict[str, Any]]:
    return cid, oh_shell_tool.TOOL_NAME, {"command": command, **extra}


SUCCESS_SCRIPT = [
    reply(
        "Write the module and its check in one go.",
        shell("call_write", "printf 'def add(a, b):\\n    return a + b\\n' > calc.py"),
        shell("call_check_file", "printf 'import calc\\nassert calc.add(2, 3) == 5\\nprint(\"ok\")\\n' > check.py"),
    ),
    reply("Run the check.", shell("call_run", "python3 check.py")),
    reply("The check passes.", ("call_finish", "finish", {"message": "calc.add works"})),
]

FAILING_SCRIPT = [
    reply("Import the module first.", shell("call_import", "python3 -c 'import calc'")),
    reply("Wait for the build.", shell("call_wait", "sleep 5", timeout=0.3)),
    RuntimeError("model backend crashed"),
]


def conversation(tmp_path: Path, script: list[Any], callbacks: list[Any]) -> Any:
    agent = Agent(llm=TestLLM.from_messages(script), tools=[Tool(name="ShellTool")])
    return Conversation(
        agent=agent,
        callbacks=callbacks,
        workspace=str(tmp_path / "ws"),
        persistence_dir=str(tmp_path / "conversations"),
        visualizer=None,
    )


def offline_run(conv: Any) -> Run:
    """The tree the offline extractor reads from the conversation's persisted folder."""
    runs = build_runs(Path(conv.state.persistence_dir), OpenHandsSdkExtractor())
    assert len(runs) == 1
    return runs[0]


def comparable(run: Run, *, outcome: bool = True) -> dict[str, Any]:
    """The tree without what differs by construction: the run id, the source facts in metadata, and the diagnosis
    (a live failed run is diagnosed as it is stored; the offline extractor leaves that to ``analyze``)."""
    data = run.model_dump(exclude={"id", "metadata", "diagnosis"})
    if not outcome:
        data.pop("outcome")
    return data


def stored(home: Path, run_id: str) -> Run:
    store = Store(config.store_path(home), project="tests")
    try:
        return store.load_run(run_id)
    finally:
        store.close()


def test_succeeding_run_with_parallel_tool_calls(tmp_path: Path, home: Path, tracer: Tracer) -> None:
    cb = codetracer.trace(Agent(llm=TestLLM.from_messages([]), tools=[]), tracer=tracer, run_id="oh-success")
    assert isinstance(cb, CodetracerCallback) and cb.model == "test-model"
    conv = conversation(tmp_path, SUCCESS_SCRIPT, [cb])
    conv.send_message(TASK)
    conv.run()
    assert (tmp_path / "ws" / "calc.py").is_file()
    assert not cb.active  # the agent's finish ended the run: nothing for the caller to do
    assert tracer.flush()

    (run,) = tracer.runs
    assert (run.id, run.framework, run.task) == ("oh-success", "openhands", TASK)
    # finished without a verifier: the agent's claim, not a verdict
    assert (run.outcome, run.exit_status, run.complete) == ("unknown", "finished", True)
    assert [m.role for m in run.messages] == ["system", "user"]
    assert [s.key for s in run.steps] == ["test-response-1", "test-response-2", "test-response-3"]

    first = run.steps[0]
    assert first.thought is not None and first.thought.text == "Write the module and its check in one go."
    assert [c.kind for c in first.calls] == ["llm", "tool", "tool"]  # one model response, two parallel calls
    assert first.calls[0].name == "test-model"
    write, check = first.tool_calls
    assert (write.id, check.id) == ("call_write", "call_check_file")
    assert write.action is not None and write.action.command is not None and "calc.py" in write.action.command
    assert all(c.observation is not None and c.observation.exit_code == 0 for c in first.tool_calls)

    ran = run.steps[1].tool_calls[0]
    assert ran.action is not None and ran.action.command == "python3 check.py"
    assert ran.observation is not None and ran.observation.text is not None
    assert ran.observation.text.text == "ok\n" and not ran.observation.is_error
    finish = run.steps[2].tool_calls[0]
    assert finish.name == "finish" and finish.action is not None
    assert finish.action.arguments == {"message": "calc.add works"}
    assert not any(s.is_error for s in run.steps)
    assert run.stages and run.stages[0].start_step == 1 and run.stages[-1].end_step == 3

    assert comparable(stored(home, run.id)) == comparable(run)
    assert stored(home, run.id).metadata["model"] == "test-model"
    # the persisted conversation gives the same tree, outcome included
    assert comparable(offline_run(conv)) == comparable(run)

    # a verdict given after the run ended is recorded on the stored run (and the tree in memory), not ignored
    cb.finish("solved", status=conv.state.execution_status)
    saved = stored(home, run.id)
    assert (saved.outcome, saved.metadata["verdict"]["before"]) == ("solved", "unknown")
    assert saved.metadata["verdict"]["by"] == "CodetracerCallback.finish" and run.outcome == "solved"
    assert comparable(saved) == comparable(run) and cb.run_ids == ["oh-success"]


def test_failing_run_ends_on_conversation_error(tmp_path: Path, home: Path, tracer: Tracer) -> None:
    cb = CodetracerCallback(tracer, run_id="oh-failure", model="test-model")
    conv = conversation(tmp_path, FAILING_SCRIPT, [cb])
    conv.send_message(TASK)
    with pytest.raises(ConversationRunError):
        conv.run()
    assert not cb.active  # the ConversationErrorEvent ended the run
    cb.finish(status=conv.state.execution_status)  # the caller's usual finally: a no-op now
    assert tracer.flush()

    (run,) = tracer.runs
    assert run.id == "oh-failure" and cb.run_ids == ["oh-failure"]
    assert (run.outcome, run.exit_status, run.complete) == ("failed", "error", True)
    assert len(run.steps) == 2

    imported = run.steps[0].tool_calls[0]
    assert imported.observation is not None and imported.observation.exit_code == 1
    assert imported.observation.is_error and imported.observation.text is not None
    assert "ModuleNotFoundError" in imported.observation.text.text

    waited = run.steps[1]
    assert waited.tool_calls[0].observation is not None and waited.tool_calls[0].observation.is_error
    assert [e.kind for e in waited.errors] == ["AgentErrorEvent"]
    assert "timed out" in waited.errors[0].error
    assert [e.kind for e in run.errors] == ["RuntimeError"]
    assert run.errors[0].error == "model backend crashed"
    assert all(s.is_error for s in run.steps)

    saved = stored(home, run.id)
    assert (saved.outcome, saved.exit_status) == ("failed", "error")
    assert comparable(saved) == comparable(run)
    assert comparable(offline_run(conv)) == comparable(run)
    assert run.diagnosis is not None and saved.diagnosis == run.diagnosis  # diagnosed when it failed, stored with it


@pytest.mark.parametrize("wired", [False, True], ids=["events-only", "state-changes-wired"])
def test_the_conversations_end_ends_the_run(tmp_path: Path, tracer: Tracer, wired: bool) -> None:
    """The agent's finish ends the run by itself; given the conversation's state-change events too, the
    ``finished`` status ends it once (the update after the finish finds no run open)."""
    cb = CodetracerCallback(tracer, model="test-model")
    again = [
        reply("Run it.", shell("call_again", "python3 check.py")),
        reply("Done.", ("end", "finish", {"message": "ok"})),
    ]
    conv = conversation(tmp_path, SUCCESS_SCRIPT + again, [cb])  # the last two answer the second message
    if wired:
        conv.state.set_on_state_change(cb)
    conv.send_message(TASK)
    conv.run()
    assert not cb.active
    assert tracer.flush()
    (run,) = tracer.runs
    assert (run.outcome, run.exit_status) == ("unknown", "finished")
    assert [len(s.tool_calls) for s in run.steps] == [2, 1, 1]

    # running the conversation again starts a second run
    conv.send_message("Once more: run the check.")
    conv.run()
    assert tracer.flush()
    assert cb.run_ids == [cb.base_run_id, f"{cb.base_run_id}#2"]
    second = tracer.runs[1]
    assert second.task == "Once more: run the check." and len(second.steps) == 2


def test_trace_of_a_built_conversation_says_the_line_to_use(tmp_path: Path, tracer: Tracer) -> None:
    conv = conversation(tmp_path, [], [])
    with pytest.raises(CodetracerError, match=r"callbacks=\[codetracer\.trace\(agent\)\]"):
        codetracer.trace(conv, tracer=tracer)


class _Exploding:
    """A tracer front whose every event raises: the agent must not notice."""

    def __getattr__(self, name: str) -> Any:
        def boom(*args: Any, **kwargs: Any) -> None:
            raise RuntimeError(f"{name} broke")

        return boom


class _BrokenTracer:
    events = _Exploding()


def test_a_failing_tracer_never_reaches_the_agent(tmp_path: Path) -> None:
    cb = CodetracerCallback(_BrokenTracer(), model="test-model")  # type: ignore[arg-type]
    conv = conversation(tmp_path, SUCCESS_SCRIPT, [cb])
    conv.send_message(TASK)
    conv.run()
    cb.finish(status=conv.state.execution_status)
    assert str(conv.state.execution_status.value) == "finished"
    assert (tmp_path / "ws" / "calc.py").is_file()
    assert cb.failures >= 1


# -- where a run ends without the caller: the conversation's own end ---------------------------------------------------


def test_an_agent_reply_without_tool_calls_ends_the_run(tmp_path: Path, tracer: Tracer) -> None:
    """The SDK ends a turn on a plain agent message (status ``finished``): so does the run."""
    cb = CodetracerCallback(tracer, model="test-model")
    conv = conversation(tmp_path, [reply("Nothing to change: add() already adds.")], [cb])
    conv.send_message(TASK)
    conv.run()
    assert str(conv.state.execution_status.value) == "finished" and not cb.active
    assert tracer.flush()
    (run,) = tracer.runs
    assert (run.outcome, run.exit_status, run.complete) == ("unknown", "finished", True)
    assert comparable(offline_run(conv)) == comparable(run)


def test_a_stuck_local_run_emits_no_event_and_ends_at_finish(tmp_path: Path, tracer: Tracer) -> None:
    """The stuck detector stops ``run()`` without an event: the run stays open until the caller's ``finish()``
    (``auto_retry`` and ``pytest --codetracer`` call it), which derives ``failed`` from the status."""
    cb = CodetracerCallback(tracer, model="test-model")
    same = [reply("Try again.", shell(f"call_{i}", "echo same")) for i in range(6)]
    conv = conversation(tmp_path, same, [cb])
    conv.send_message(TASK)
    conv.run()
    assert str(conv.state.execution_status.value) == "stuck"
    assert cb.active
    cb.finish(status=conv.state.execution_status)
    assert not cb.active and tracer.flush()
    (run,) = tracer.runs
    assert (run.outcome, run.exit_status) == ("failed", "stuck") and len(run.steps) == 4


def test_a_wired_error_status_waits_for_the_error_event(tmp_path: Path, tracer: Tracer) -> None:
    """With state changes wired (as agent-server conversations send them), the ``error`` status comes just before
    the ``ConversationErrorEvent``: one run, holding the error, not a second run made of it."""
    cb = CodetracerCallback(tracer, run_id="oh-wired-error", model="test-model")
    conv = conversation(tmp_path, FAILING_SCRIPT, [cb])
    conv.state.set_on_state_change(cb)
    conv.send_message(TASK)
    with pytest.raises(ConversationRunError):
        conv.run()
    assert not cb.active and cb.run_ids == ["oh-wired-error"]
    assert tracer.flush()
    (run,) = tracer.runs
    assert (run.outcome, run.exit_status) == ("failed", "error")
    assert [e.error for e in run.errors] == ["model backend crashed"]


def test_verify_judges_the_run_as_it_ends(tmp_path: Path, home: Path, tracer: Tracer) -> None:
    """``codetracer.trace(agent, verify=...)``: the callable (no argument, or the result mapping) judges the run when
    the agent finishes; its answer is the outcome; a command string runs in ``workspace=``."""
    seen: list[Any] = []

    def works(result: dict[str, Any]) -> bool:
        seen.append(result)
        return (tmp_path / "ws" / "calc.py").read_text().count("a + b") == 1

    cb = codetracer.trace(Agent(llm=TestLLM.from_messages([]), tools=[]), tracer=tracer, verify=works,
                          workspace=tmp_path / "ws")
    conv = conversation(tmp_path, SUCCESS_SCRIPT, [cb])
    conv.send_message(TASK)
    conv.run()
    assert not cb.active and tracer.flush()
    (run,) = tracer.runs
    assert seen == [{"execution_status": "finished", "workspace": str(tmp_path / "ws")}]
    assert (run.outcome, run.metadata.get("resolved")) == ("solved", True)
    assert run.verification is not None and run.verification.verifier.endswith("works")
    assert run.verification.passed is True and stored(home, run.id).outcome == "solved"


def test_verify_command_that_cannot_run_leaves_the_run_unknown(tmp_path: Path, tracer: Tracer) -> None:
    cb = codetracer.trace(Agent(llm=TestLLM.from_messages([]), tools=[]), tracer=tracer,
                          verify="no-such-test-runner -q", workspace=tmp_path / "ws")
    conv = conversation(tmp_path, SUCCESS_SCRIPT, [cb])
    conv.send_message(TASK)
    conv.run()
    assert tracer.flush()
    (run,) = tracer.runs
    assert (run.outcome, run.diagnosis) == ("unknown", None)  # the verifier broke, not the agent
    v = run.verification
    assert v is not None and v.passed is None and v.command == "no-such-test-runner -q"
    assert v.output is not None and v.output.text.startswith("verifier error: the command was not found (exit 127)")
    assert "was not found" in run.metadata["verifier_error"]


def test_verify_is_not_asked_when_the_run_failed_by_itself(tmp_path: Path, tracer: Tracer) -> None:
    asked: list[int] = []
    cb = codetracer.trace(Agent(llm=TestLLM.from_messages([]), tools=[]), tracer=tracer,
                          verify=lambda: asked.append(1) or True)
    conv = conversation(tmp_path, FAILING_SCRIPT, [cb])
    conv.send_message(TASK)
    with pytest.raises(ConversationRunError):
        conv.run()
    assert tracer.flush()
    (run,) = tracer.runs
    assert asked == [] and (run.outcome, run.verification) == ("failed", None)


def test_verify_of_the_wrong_kind_is_refused(tracer: Tracer) -> None:
    with pytest.raises(CodetracerError, match="a callable or a shell command"):
        codetracer.trace(Agent(llm=TestLLM.from_messages([]), tools=[]), tracer=tracer, verify=3)

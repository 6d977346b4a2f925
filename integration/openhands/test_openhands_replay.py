"""Reflective replay with the real openhands-sdk, offline: ``codetracer.auto_retry(conversation, verify=...)``.

A real ``LocalConversation`` runs real shell commands in a tmp workspace; the model is the SDK's ``TestLLM``, in a
subclass that picks its next script from the conversation: after a codetracer correction it recovers only when the
correction names the wrong step (number and command); a plain "try again" makes it repeat the mistake.
"""

from __future__ import annotations

import json
import os
import sys
from collections import deque
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("OPENHANDS_SUPPRESS_BANNER", "1")

import pytest

pytest.importorskip("openhands.sdk", reason="needs openhands-sdk (Python >= 3.12)")

import oh_shell_tool  # registers the shell tool
from openhands.sdk import Agent, Conversation, Tool
from openhands.sdk.llm import Message, MessageToolCall, TextContent
from openhands.sdk.testing import TestLLM

import codetracer
from codetracer.adapters.openhands.live import CodetracerCallback
from codetracer.core import config
from codetracer.core.errors import CodetracerError
from codetracer.core.store import Store
from codetracer.core.tracer import Tracer
from codetracer.replay import HEADER, PLAIN_RETRY

sys.path.insert(0, str(Path(__file__).parents[1]))
from sequence_checks import assert_one_sequence

TASK = "Create calc.py with add(a, b) returning the sum."
# -B: the fix has the same size as the bug and lands within the same second, so a cached .pyc would look fresh
CHECK = "python3 -B -c 'import calc; assert calc.add(2, 3) == 5'"
WRONG_WRITE = "printf 'def add(a, b):\\n    return a - b\\n' > calc.py"


def reply(text: str, *calls: tuple[str, str, dict[str, Any]]) -> Message:
    return Message(
        role="assistant",
        content=[TextContent(text=text)],
        tool_calls=[
            MessageToolCall(id=cid, name=name, arguments=json.dumps(args), origin="completion")
            for cid, name, args in calls
        ]
        or None,
    )


def shell(cid: str, command: str) -> tuple[str, str, dict[str, Any]]:
    return cid, oh_shell_tool.TOOL_NAME, {"command": command}


def wrong(tag: str) -> list[Any]:
    return [
        reply("Write the module.", shell(f"w{tag}", WRONG_WRITE)),
        reply("Done.", (f"f{tag}", "finish", {"message": "calc.add written"})),
    ]


RECOVERY = [
    reply("codetracer says my write at step 1 subtracts; write the sum.",
          shell("r1", "printf 'def add(a, b):\\n    return a + b\\n' > calc.py")),
    reply("Check it.", shell("r2", CHECK)),
    reply("The check passes.", ("r3", "finish", {"message": "calc.add fixed"})),
]


CORRECTION = """\
[codetracer] Your previous attempt failed.
The wrong turn was your step 1 of 2: `printf 'def add(a, b):\\n    return a - b\\n' > calc.py`.
What went wrong: it wrote the first change that the final state keeps; the last edit is never verified before the \
run ends; no stage of the run ever verifies its changes; wrote 2 line(s) of file calc.py that the final state keeps
What to undo: the effects of `printf 'def add(a, b):\\n    return a - b\\n' > calc.py` (check the current state of \
the files first).
What to do instead: Re-examine the change made at step 1 to calc.py: it is what the final state holds and the run \
failed; check it against every case the task names and run the relevant tests before submitting.
Continue from there; do not repeat the failed approach."""
"""What the agent is sent after its wrong write, word for word."""


def names_the_wrong_step(text: str) -> bool:
    return HEADER in text and "step 1" in text and "a - b" in text


def _text(message: Message) -> str:
    return "".join(getattr(c, "text", "") for c in message.content)


def persisted_correction(conv: Any, retry: Any) -> str:
    """The correction as the conversation itself persisted it: the text of the user message that opens the retry's
    run, read from the event file the SDK wrote (``<persistence_dir>/events/event-NNNNN-<id>.json``)."""
    (message,) = [m for m in retry.messages if m.role == "user"]
    assert message.raw_ref is not None and message.raw_ref.startswith("events/event-")
    event = json.loads((Path(conv.state.persistence_dir) / message.raw_ref).read_text())
    assert (event["kind"], event["source"]) == ("MessageEvent", "user")
    return "".join(block["text"] for block in event["llm_message"]["content"] if block.get("type") == "text")


class ReflectiveLLM(TestLLM):
    """``TestLLM`` whose script after a correction depends on what the correction says."""

    __test__ = False

    def completion(self, messages: list[Message], *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        users = [_text(m) for m in messages if m.role == "user"]
        seen = getattr(self, "_ct_seen", 0)
        if users and users[-1].startswith("[codetracer]") and len(users) > seen:
            object.__setattr__(self, "_ct_seen", len(users))
            script = RECOVERY if names_the_wrong_step(users[-1]) else wrong(str(len(users)))
            self._scripted_responses = deque(script)
        return super().completion(messages, *args, **kwargs)


def conversation(tmp_path: Path, tracer: Tracer, **options: Any) -> Any:
    agent = Agent(llm=ReflectiveLLM.from_messages(wrong("0")), tools=[Tool(name="ShellTool")])
    cb = codetracer.trace(agent, tracer=tracer)
    (tmp_path / "ws").mkdir(exist_ok=True)
    return Conversation(agent=agent, callbacks=[cb], workspace=str(tmp_path / "ws"),
                        persistence_dir=str(tmp_path / "conversations"), visualizer=None, **options)


def test_retry_with_diagnosis_recovers_on_the_same_conversation(tmp_path: Path, home: Path, tracer: Tracer) -> None:
    conv = conversation(tmp_path, tracer)
    retrying = codetracer.auto_retry(conv, verify=CHECK, max_attempts=2, tracer=tracer)
    retrying.run(TASK)

    assert retrying.succeeded, retrying.report()
    first, second = retrying.attempts
    assert (first.verdict.kind, second.verdict.kind) == ("verify", "ok")
    assert first.diagnosis is not None and first.diagnosis.onset_step == 1
    assert first.message is not None and names_the_wrong_step(first.message)
    assert "return a + b" in (tmp_path / "ws" / "calc.py").read_text()

    # the same conversation: the correction is a user message in its event log, after the first attempt's events
    users = [e for e in conv.state.events if type(e).__name__ == "MessageEvent" and e.source == "user"]
    assert [_text(e.llm_message) for e in users] == [TASK, first.message]

    assert tracer.flush()
    runs = {r.id: r for r in tracer.runs}
    root, child = runs[first.run_id], runs[second.run_id]  # type: ignore[index]
    assert child.parent_run_id == root.id and child.id == f"{root.id}#2"
    assert (str(root.outcome), str(child.outcome)) == ("failed", "solved")
    assert child.task == TASK and [m.content.text for m in child.messages if m.role == "user"] == [first.message]
    assert [s.tool_calls[0].name for s in child.steps] == ["shell", "shell", "finish"]
    # what the agent received, word for word, as the conversation's own event log holds it
    assert persisted_correction(conv, child) == first.message == CORRECTION

    store = Store(config.store_path(home), project="tests")
    try:
        assert store.load_run(root.id).diagnosis is not None
        assert [r.id for r in store.list_runs()] and store.load_run(child.id).parent_run_id == root.id
    finally:
        store.close()
    sequence = assert_one_sequence(retrying.run_ids, [CORRECTION], outcome="solved")
    assert [m["n_steps"] for m in sequence["members"]] == [2, 3] and sequence["stop_reason"] == "succeeded"


def test_plain_retry_repeats_the_mistake(tmp_path: Path, tracer: Tracer) -> None:
    conv = conversation(tmp_path, tracer)
    retrying = codetracer.auto_retry(conv, verify=CHECK, max_attempts=2, tracer=tracer, diagnose=False)
    retrying.run(TASK)
    assert not retrying.succeeded and [a.verdict.kind for a in retrying.attempts] == ["verify", "verify"]
    assert retrying.attempts[0].message == PLAIN_RETRY


def test_shared_iteration_budget(tmp_path: Path, tracer: Tracer) -> None:
    """Three iterations in all: the first attempt uses two, the retry gets one and hits the SDK's own limit; the
    stored sequence never uses more steps than the budget."""
    conv = conversation(tmp_path, tracer, max_iteration_per_run=3)
    retrying = codetracer.auto_retry(conv, verify=CHECK, max_attempts=3, tracer=tracer)
    retrying.run(TASK)
    assert [a.verdict.kind for a in retrying.attempts] == ["verify", "budget"]
    assert retrying.stop_reason is not None and retrying.stop_reason.startswith("budget exhausted")
    assert conv.max_iteration_per_run == 3  # the user's own value is put back

    assert tracer.flush()
    runs = {r.id: r for r in tracer.runs}
    retry = runs[retrying.run_ids[1]]
    assert persisted_correction(conv, retry) == CORRECTION
    assert (str(retry.outcome), retry.exit_status) == ("failed", "error")  # the SDK's MaxIterationsReached
    sequence = assert_one_sequence(retrying.run_ids, [CORRECTION], budget_steps=3, outcome="failed")
    assert [m["n_steps"] for m in sequence["members"]] == [2, 1]
    assert sequence["stop_reason"].startswith("budget exhausted")


def test_a_verifier_that_raises_and_rollback(tmp_path: Path, tracer: Tracer) -> None:
    calls = []

    def verify() -> bool:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("verifier bug")
        return (tmp_path / "ws" / "calc.py").read_text().count("a + b") == 1

    conv = conversation(tmp_path, tracer)
    retrying = codetracer.auto_retry(conv, verify=verify, max_attempts=2, rollback=True, tracer=tracer)
    retrying.run(TASK)
    first = retrying.attempts[0]
    assert first.verdict.kind == "verifier_error" and "verifier bug" in first.verdict.reason
    assert first.rolled_back == ["calc.py"]  # the wrong file was removed before the retry (it did not exist before)
    assert retrying.succeeded


@pytest.mark.codetracer_off  # under `pytest --codetracer` every conversation is traced
def test_untraced_conversation_is_refused(tmp_path: Path, tracer: Tracer) -> None:
    agent = Agent(llm=TestLLM.from_messages([]), tools=[])
    conv = Conversation(agent=agent, workspace=str(tmp_path), visualizer=None)
    with pytest.raises(CodetracerError, match=r"callbacks=\[codetracer\.trace\(agent\)\]"):
        codetracer.auto_retry(conv, tracer=tracer)
    assert isinstance(CodetracerCallback(tracer), CodetracerCallback)

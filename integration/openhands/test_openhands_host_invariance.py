"""A traced OpenHands conversation behaves exactly as the untraced one: the same ids drawn, the host left as it was.

The program under test patches ``uuid.uuid4`` and ``random.random`` with deterministic sequences (the ``sequences``
fixture, as snapshot tests do); the SDK draws every event id and the conversation id from ``uuid.uuid4``. The same
``TestLLM`` script (parallel tool calls, a shell command, ``finish``) runs in a real ``LocalConversation`` untraced
and then traced (``codetracer.trace(agent)``, the journal and the store on): the conversation id and every event's
id, kind and source must be the same.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("OPENHANDS_SUPPRESS_BANNER", "1")

import pytest

pytest.importorskip("openhands.sdk", reason="needs openhands-sdk (Python >= 3.12)")

from openhands.sdk import Agent, Tool
from openhands.sdk.testing import TestLLM
from test_openhands_live import SUCCESS_SCRIPT, TASK, conversation

import codetracer
from codetracer.core.tracer import Tracer


def run_conversation(folder: Path, tracer: Tracer | None) -> dict[str, Any]:
    """One conversation in ``folder``; the ids the SDK showed."""
    callbacks = []
    if tracer is not None:
        callbacks.append(codetracer.trace(Agent(llm=TestLLM.from_messages([]), tools=[Tool(name="ShellTool")]),
                                          tracer=tracer))
    conv = conversation(folder, list(SUCCESS_SCRIPT), callbacks)
    conv.send_message(TASK)
    conv.run()
    if callbacks:
        callbacks[0].finish(status=conv.state.execution_status)
    return {
        "conversation": str(conv.state.id),
        "events": [(type(e).__name__, e.id, e.source) for e in conv.state.events],
    }


def test_traced_conversation_shows_the_ids_the_untraced_one_showed(tmp_path: Path, home: Path, sequences: Any,
                                                                   host_snapshot: Any) -> None:
    sequences.restart()
    untraced = run_conversation(tmp_path / "untraced", None)
    drawn = sequences.uuids
    assert drawn >= len(untraced["events"]) > 5

    before = host_snapshot.take()
    sequences.restart()
    tracer = Tracer(home, load_plugins=False)
    try:
        traced = run_conversation(tmp_path / "traced", tracer)
        assert tracer.flush()
    finally:
        tracer.close()
    host_snapshot.same(before, host_snapshot.take())

    assert traced == untraced
    assert sequences.uuids == drawn
    (run,) = tracer.runs
    assert len(run.steps) == 3 and run.task == TASK

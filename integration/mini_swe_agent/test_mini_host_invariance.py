"""A traced mini-swe-agent run behaves exactly as the untraced one: the same values drawn, the host left as it was.

The program under test patches ``uuid.uuid4`` and ``random.random`` with deterministic sequences (the ``sequences``
fixture, as snapshot tests do). The scripted model is mini's own ``DeterministicModel`` that also stamps each answer
with a response id from ``uuid.uuid4()`` and a sample from ``random.random()``, as a real model client ids its
responses. The same script runs untraced and then traced (``codetracer.trace(agent)``, the journal and the store
on); the agent must see the same ids, samples and messages.
"""

from __future__ import annotations

import random
import re
import shutil
import uuid
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("minisweagent", reason="needs mini-swe-agent (tox -e integration-miniswe)")

from mini_answers import SUBMIT, TASK, answer
from test_mini_live import ScriptedModel, make_agent

import codetracer
from codetracer.core.tracer import Tracer

SCRIPT = [
    ("Let me see the files first.", "ls"),
    ("Reproduce the failure.", "python -m pytest -q -p no:cacheprovider"),
    ("Fix the divisor.", "sed -i 's/(len(values) - 1)/len(values)/' calc.py"),
    ("Done; submit.", SUBMIT),
]


class IdStampingModel(ScriptedModel):
    """mini's ``DeterministicModel``, each answer carrying ids drawn from the process-global generators."""

    def query(self, messages: list[dict[str, str]], **kwargs: Any) -> dict:
        output = super().query(messages, **kwargs)
        return {**output, "extra": {**output["extra"], "response_id": str(uuid.uuid4()), "sample": random.random()}}


def run_agent(project: Path, tracer: Tracer | None) -> list[tuple[Any, ...]]:
    """Run the script in ``project``; what the agent saw: each message's role, content, response id and sample."""
    agent = make_agent(project, [answer(t, c) for t, c in SCRIPT])
    agent.model = IdStampingModel(**agent.model.config.model_dump())
    if tracer is not None:
        codetracer.trace(agent, tracer=tracer)
    assert agent.run(TASK)["exit_status"] == "Submitted"
    return [
        (m["role"], _stable(str(m.get("content")), project),
         m.get("extra", {}).get("response_id"), m.get("extra", {}).get("sample"))
        for m in agent.messages
    ]


def _stable(text: str, project: Path) -> str:
    """A message without what differs between any two runs: the project's folder, pytest's addresses and times."""
    text = text.replace(str(project), "<project>")
    return re.sub(r"0x[0-9a-f]+|in [0-9.]+s", "<varies>", text)


def test_traced_agent_sees_the_ids_the_untraced_one_saw(project: Path, home: Path, sequences: Any,
                                                         host_snapshot: Any) -> None:
    twin = project.parent / "twin"
    shutil.copytree(project, twin)
    sequences.restart()
    untraced = run_agent(twin, None)
    drawn = (sequences.uuids, sequences.randoms)
    assert drawn == (len(SCRIPT), len(SCRIPT))  # the model drew one of each per answer

    before = host_snapshot.take()
    sequences.restart()
    tracer = Tracer(home, load_plugins=False)
    try:
        traced = run_agent(project, tracer)
        assert tracer.flush()
    finally:
        tracer.close()
    host_snapshot.same(before, host_snapshot.take())

    assert traced == untraced
    assert (sequences.uuids, sequences.randoms) == drawn
    assert len(tracer.runs) == 1 and len(tracer.runs[0].steps) == len(SCRIPT)

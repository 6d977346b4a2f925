"""A plugin calling ``sys.exit()`` while a real mini-swe-agent run is traced (issue 20, item 13).

The plugin's ``SystemExit`` in ``codetracer_run_started`` used to end the agent's ``run()``, and the run was announced
twice: the adapter's ``run()`` wrapper saw the run as not started and announced it again in ``end()``.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("minisweagent", reason="needs mini-swe-agent (tox -e integration-miniswe)")

from mini_answers import TASK
from test_mini_live import SOLVING, answer, make_agent

import codetracer
from codetracer.core.tracer import Tracer
from codetracer.hooks.specs import hookimpl


class ExitsOnStart:
    def __init__(self) -> None:
        self.started: list[str] = []

    @hookimpl
    def codetracer_run_started(self, run_id: str, framework: str, task: Any, metadata: Any,
                               parent_run_id: Any, timestamp: Any) -> None:
        self.started.append(run_id)
        sys.exit("this plugin wants the process to end")


def test_system_exit_in_run_started_neither_ends_the_run_nor_announces_it_twice(
    project: Path, tracer: Tracer, caplog: pytest.LogCaptureFixture
) -> None:
    plugin = ExitsOnStart()
    tracer.pm.register(plugin, name="exits-on-start")
    agent = make_agent(project, [answer(t, c) for t, c in SOLVING])
    codetracer.trace(agent, tracer=tracer)
    with caplog.at_level(logging.WARNING, logger="codetracer.plugins"):
        result = agent.run(TASK)
    assert result["exit_status"] == "Submitted", "the agent's run went to its end"
    assert tracer.flush()
    assert [r.id for r in tracer.runs] == plugin.started, "announced exactly once"
    assert len(tracer.runs[0].steps) == len(SOLVING)
    assert tracer.pm.failures.counts == {("exits-on-start", "codetracer_run_started"): 1}
    assert len([r for r in caplog.records if "exits-on-start" in r.getMessage()]) == 1

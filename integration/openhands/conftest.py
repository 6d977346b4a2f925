"""Shared set-up of the OpenHands integration tests: a tracer of their own on the test's ``CODETRACER_HOME``; a
real agent server on 127.0.0.1 (one per module) and the scripted OpenAI-compatible model it calls."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from codetracer.core.tracer import Tracer


@pytest.fixture
def tracer(home: Path) -> Iterator[Tracer]:
    """No entry-point plugins; closed after the test."""
    tracer = Tracer(home, load_plugins=False)
    yield tracer
    tracer.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A real ``openhands-agent-server`` (:class:`oh_agent_server.AgentServer`), answering; stopped after the module."""
    pytest.importorskip("openhands.agent_server", reason="needs openhands-agent-server (tox -e integration-openhands)")
    from oh_agent_server import AgentServer

    running = AgentServer(tmp_path_factory.mktemp("agent-server"))
    try:
        running.wait()
        yield running
    finally:
        running.stop()


@pytest.fixture
def model() -> Iterator[Any]:
    """The scripted model (``tests/openai_stub.py``); requests that offer no tools (the server's title request) get
    a fixed answer, the agent's own requests the test's script."""
    sys.path.insert(0, str(Path(__file__).parents[2] / "tests"))
    from openai_stub import Reply, StubServer

    stub = StubServer(untooled=Reply("Fix add() in calc.py")).start()
    yield stub
    stub.stop()

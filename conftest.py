"""Fixtures shared by tests/ and integration/. Tests read the real artifacts in ``../shared`` in place.

Outside CI a missing ``../shared`` skips the tests that need it; under ``CI=true`` it is a failure.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent
SHARED = Path(os.environ.get("CODETRACER_SHARED", REPO.parent / "shared"))


@pytest.fixture(scope="session")
def shared() -> Path:
    """The read-only ``../shared`` folder with fixtures, corpora and labeled sets."""
    if not SHARED.is_dir():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"../shared is missing at {SHARED}; CI must have it")
        pytest.skip("../shared is not beside the repository")
    return SHARED


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An isolated CODETRACER_HOME so no test touches the user's store or another test's."""
    folder = tmp_path / "ct-home"
    monkeypatch.setenv("CODETRACER_HOME", str(folder))
    monkeypatch.setenv("CODETRACER_PROJECT", "tests")
    return folder


# -- a traced program behaves as untraced ------------------------------------------------------------------------------


class Sequences:
    """``uuid.uuid4`` and ``random.random`` replaced by deterministic sequences, as a snapshot-test fixture of the
    program under test does; :meth:`restart` starts both over (before the untraced run, and again before the traced
    one). Whatever the framework draws from them is the same in both runs only if codetracer draws nothing."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import random
        import uuid

        self.uuids = self.randoms = 0
        monkeypatch.setattr(uuid, "uuid4", self._uuid4)
        monkeypatch.setattr(random, "random", self._random)

    def restart(self) -> None:
        self.uuids = self.randoms = 0

    def _uuid4(self) -> object:
        import uuid

        self.uuids += 1
        return uuid.UUID(int=self.uuids, version=4)

    def _random(self) -> float:
        self.randoms += 1
        return (self.randoms * 7919 % 10007) / 10007


@pytest.fixture
def sequences(monkeypatch: pytest.MonkeyPatch) -> Sequences:
    """``uuid.uuid4`` and ``random.random`` as deterministic sequences for this test (see :class:`Sequences`)."""
    return Sequences(monkeypatch)


def host_state() -> dict[str, object]:
    """What a traced run must leave as it found it in the host process: environment variables, ``sys.path``, the
    working directory, the logging configuration (of the loggers that existed; a codetracer logger created on first
    use is not configuration), signal handlers, warnings filters, ``sys.meta_path`` and LangChain's process-wide
    configure hooks and ``Pregel.stream`` when those are imported."""
    import logging
    import signal
    import sys
    import warnings

    loggers: dict[str, object] = {}
    for name, logger in [("", logging.getLogger()), *logging.Logger.manager.loggerDict.items()]:
        if isinstance(logger, logging.Logger):
            loggers[name] = (logger.level, list(logger.handlers), logger.propagate, logger.disabled,
                             list(logger.filters))
    handlers = {}
    for number in signal.valid_signals():
        try:
            handlers[int(number)] = signal.getsignal(number)
        except (ValueError, OSError):
            pass
    state: dict[str, object] = {
        "environ": dict(os.environ),
        "sys.path": list(sys.path),
        "cwd": os.getcwd(),
        "logging.disable": logging.root.manager.disable,
        "loggers": loggers,
        "signals": handlers,
        "warnings.filters": list(warnings.filters),
        "sys.meta_path": list(sys.meta_path),
        "sys.path_hooks": list(sys.path_hooks),
    }
    context = sys.modules.get("langchain_core.tracers.context")
    if context is not None:
        state["langchain configure hooks"] = list(getattr(context, "_configure_hooks", []))
    pregel = sys.modules.get("langgraph.pregel")
    if pregel is not None:
        state["Pregel.stream"] = (pregel.Pregel.__dict__.get("stream"), pregel.Pregel.__dict__.get("astream"))
    return state


def assert_same_host_state(before: dict[str, object], after: dict[str, object]) -> None:
    """``after`` equals ``before``, except loggers created meanwhile with LangChain's and Python's defaults (no
    level, no handler): a logger object made on first use configures nothing."""
    import logging

    new = {name: conf for name, conf in after["loggers"].items()  # type: ignore[attr-defined]
           if name not in before["loggers"]}  # type: ignore[operator]
    assert all(conf == (logging.NOTSET, [], True, False, []) for conf in new.values()), new
    after = {**after, "loggers": {k: v for k, v in after["loggers"].items() if k not in new}}  # type: ignore[attr-defined]
    for key in sorted(set(before) | set(after)):
        assert after.get(key) == before.get(key), f"{key} changed by a traced run"


@pytest.fixture
def host_snapshot() -> object:
    """``host_snapshot.take()`` is :func:`host_state`; ``host_snapshot.same(before, after)`` asserts nothing changed."""
    import types

    return types.SimpleNamespace(take=host_state, same=assert_same_host_state)

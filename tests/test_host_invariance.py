"""A traced program behaves exactly as untraced: codetracer draws from no process-global generator and leaves the
host's state as it found it.

The core (events, run log, journal, writer, store) and the SWE-agent hook path are checked here, with the
generators a host patches or seeds replaced by counting spies on every thread; each framework adapter is also
checked against its real framework in ``integration/`` (the framework's own ids compared traced and untraced).
"""

from __future__ import annotations

import os
import random
import secrets
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from codetracer.core import ids
from codetracer.core.tracer import Tracer

SPIED: list[tuple[Any, str]] = [
    (uuid, "uuid1"), (uuid, "uuid3"), (uuid, "uuid4"), (uuid, "uuid5"),
    (random, "random"), (random, "getrandbits"), (random, "randint"), (random, "randrange"), (random, "choice"),
    (random, "choices"), (random, "shuffle"), (random, "sample"), (random, "uniform"), (random, "randbytes"),
    (random, "seed"), (random, "getstate"), (random, "setstate"),
    (secrets, "token_hex"), (secrets, "token_bytes"), (secrets, "token_urlsafe"), (secrets, "randbits"),
    (secrets, "choice"), (os, "urandom"),
]
"""What a host patches or seeds: every draw from these during a traced run would shift what the program draws."""


@pytest.fixture
def draws(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The names of the spied generators called (on any thread) while the test runs."""
    seen: list[str] = []

    def spy(name: str, original: Callable[..., Any]) -> Callable[..., Any]:
        def called(*args: Any, **kwargs: Any) -> Any:
            seen.append(f"{name} on {threading.current_thread().name}")
            return original(*args, **kwargs)

        return called

    for module, attr in SPIED:
        monkeypatch.setattr(module, attr, spy(f"{module.__name__}.{attr}", getattr(module, attr)))
    yield seen


def short_run(tracer: Tracer, run_id: str, steps: int = 2) -> None:
    ev = tracer.events
    ev.run_started(run_id, "bench", task="answer with a tool", metadata={"k": 1})
    for n in range(1, steps + 1):
        key = str(n)
        ev.step_started(run_id, key, thought="call the tool")
        ev.tool_call_started(run_id, key, f"c{n}", "bash", command=f"grep -n x f{n}.py")
        ev.tool_call_finished(run_id, f"c{n}", output="f.py:1: x = 1", exit_code=0)
        ev.step_finished(run_id, key)
    ev.run_finished(run_id, "solved")


def test_a_traced_run_draws_from_no_global_generator(home: Path, draws: list[str]) -> None:
    """Journal files, spare files, the writer, the store: nothing draws from ``uuid``, ``random``, ``secrets`` or
    ``os.urandom``, on the agent's thread or the writer's."""
    tracer = Tracer(home, load_plugins=False)
    try:
        for n in range(5):
            short_run(tracer, f"run-{n}")
        assert tracer.flush()
    finally:
        tracer.close()
    assert len(tracer.runs) == 5 and tracer.deferred == 0
    assert draws == []


def test_codetracers_own_ids_are_unique_and_follow_no_seed() -> None:
    """The private generator does not follow ``random.seed``: two seeded sequences give different ids."""
    random.seed(0)
    first = [ids.hex_id(12) for _ in range(3)]
    random.seed(0)
    second = [ids.hex_id(12) for _ in range(3)]
    assert first != second
    made = {ids.hex_id() for _ in range(10_000)}
    assert len(made) == 10_000 and all(len(x) == 32 for x in made)
    u = ids.uuid4()
    assert u.version == 4 and u.variant == uuid.RFC_4122


def test_a_forked_child_does_not_repeat_its_parents_ids() -> None:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        os.write(write, ids.hex_id().encode())
        os._exit(0)
    os.close(write)
    parent = ids.hex_id()
    child = os.read(read, 64).decode()
    os.close(read)
    os.waitpid(pid, 0)
    assert len(child) == 32 and child != parent


def test_a_traced_run_leaves_the_host_state_as_it_was(home: Path, host_snapshot: Any) -> None:
    before = host_snapshot.take()
    tracer = Tracer(home, load_plugins=False)
    try:
        short_run(tracer, "one")
        assert tracer.flush()
    finally:
        tracer.close()
    host_snapshot.same(before, host_snapshot.take())


def test_the_swe_agent_hook_path_draws_nothing(shared: Path, draws: list[str], home: Path) -> None:
    """SWE-agent is not installable here (it is not on PyPI): its hook path is fed the hook calls recorded from a
    real SWE-agent 1.1 run (``../shared/fixtures/swe-agent``) with a journaled tracer, and draws nothing."""
    from codetracer.adapters.swe_agent.live import SweAgentHook
    from test_swe_agent_hook import PAIRS, fixture, load_calls, replay

    calls = load_calls(fixture(shared, PAIRS["function-calling"][0]))
    tracer = Tracer(home, load_plugins=False)
    try:
        replay(SweAgentHook(tracer), calls)
        assert tracer.flush()
    finally:
        tracer.close()
    assert len(tracer.runs) == 1 and len(tracer.runs[0].steps) == 3
    assert draws == []

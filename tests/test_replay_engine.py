"""The replay loop with a framework-free agent: attempts, diagnosis hook, reinjection, budget, parent links; and the
SWE-agent path with a stand-in agent that makes SWE-agent's hook calls (SWE-agent is not on PyPI)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import codetracer
from codetracer.core import config
from codetracer.core.model import Diagnosis, Run
from codetracer.core.store import Store
from codetracer.core.tracer import Tracer
from codetracer.hooks.manager import PluginManager
from codetracer.hooks.specs import hookimpl
from codetracer.replay import HEADER, PLAIN_RETRY, Budget, Retrying, RetryPolicy
from replay_fakes import FakeReinject, FakeRunner

WRONG = [("cat calc.py", 0), ("python broken.py", 1), ("echo done", 0)]
RIGHT = [("fix calc.py", 0), ("pytest", 0)]


@pytest.fixture
def tracer(home: Path) -> Iterator[Tracer]:
    tracer = Tracer(home, load_plugins=False)
    yield tracer
    tracer.close()


def recovers_when_told(n: int, correction: str | None) -> tuple[list[tuple[str, int]], Any]:
    """Fails first; later recovers only when the correction names step 2 and its command."""
    if correction and HEADER in correction and "step 2" in correction and "python broken.py" in correction:
        return RIGHT, True
    return WRONG, False


def replay(tracer: Tracer, plan: Any = recovers_when_told, *, pm: PluginManager | None = None,
           budget: Budget | None = None, diagnose: bool = True, **policy: Any) -> tuple[Retrying, FakeRunner]:
    runner = FakeRunner(tracer, plan, budget=budget)
    policy.setdefault("verify", lambda result: result)
    retrying = Retrying(runner, RetryPolicy(**policy), pm=pm or PluginManager(), reinject_plugin=FakeReinject(),
                        diagnose=diagnose)
    return retrying, runner


def test_diagnosis_recovers_and_attempts_hang_under_the_first(tracer: Tracer, home: Path) -> None:
    retrying, runner = replay(tracer)
    assert retrying.run() is True
    assert retrying.succeeded and retrying.stop_reason == "succeeded" and retrying.run_ids == ["fake-1", "fake-2"]
    first = retrying.attempts[0]
    assert first.diagnosis is not None and first.diagnosis.onset_step == 2 and first.delivered
    assert runner.corrections == [None, first.message]
    runs = {r.id: r for r in tracer.runs}
    assert runs["fake-2"].parent_run_id == "fake-1" and runs["fake-1"].parent_run_id is None
    assert (runs["fake-1"].outcome, runs["fake-2"].outcome) == ("failed", "solved")
    store = Store(config.store_path(home), project="tests")
    try:
        assert store.load_run("fake-1").metadata["replay"]["onset_step"] == 2
        assert [d.onset_step for d in store.diagnoses("fake-1")] == [2]
        assert store.load_run("fake-2").parent_run_id == "fake-1"
    finally:
        store.close()
    assert retrying.report()["attempts"][1]["success"] is True


def test_plain_retry_does_not_recover_and_stops_at_max_attempts(tracer: Tracer) -> None:
    retrying, runner = replay(tracer, diagnose=False, max_attempts=3)
    assert retrying.run() is False
    assert retrying.stop_reason == "max_attempts" and len(retrying.attempts) == 3
    assert runner.corrections == [None, PLAIN_RETRY, PLAIN_RETRY]
    assert all(a.diagnosis is None for a in retrying.attempts)


def test_never_more_than_max_attempts_even_if_always_failing(tracer: Tracer) -> None:
    retrying, runner = replay(tracer, plan=lambda n, c: (WRONG, False), max_attempts=4)
    retrying.run()
    assert len(runner.corrections) == 4 and retrying.stop_reason == "max_attempts"


def test_on_failure_fires_once_per_failed_attempt_and_a_plugin_wins(tracer: Tracer) -> None:
    seen: list[tuple[str, int]] = []

    class Mine:
        @hookimpl
        def codetracer_on_failure(self, run: Run, attempt: int) -> Diagnosis:
            seen.append((run.id, attempt))
            return Diagnosis(localizer="mine", onset_step=2, suggestion="use the other script")

    pm = PluginManager()
    pm.register(Mine(), name="mine")
    retrying, runner = replay(tracer, plan=lambda n, c: (WRONG, False), pm=pm, max_attempts=3)
    retrying.run()
    assert seen == [("fake-1", 1), ("fake-2", 2), ("fake-3", 3)]
    assert all(a.diagnosis is not None and a.diagnosis.localizer == "mine" for a in retrying.attempts)
    assert "use the other script" in (runner.corrections[1] or "")


def test_shared_budget(tracer: Tracer) -> None:
    retrying, runner = replay(tracer, budget=Budget(steps=5), max_attempts=3)
    retrying.run()
    assert retrying.stop_reason == "succeeded" and runner.remaining[0].steps == 5 and runner.remaining[1].steps == 2
    exhausted, runner = replay(tracer, budget=Budget(steps=3), max_attempts=3)
    assert exhausted.run() is False
    assert exhausted.stop_reason == "budget exhausted (steps)" and len(runner.corrections) == 1


def test_wall_time_budget(tracer: Tracer) -> None:
    retrying, _ = replay(tracer, budget=Budget(seconds=0.0), max_attempts=3)
    retrying.run()
    assert [a.verdict.kind for a in retrying.attempts] == ["budget"]


def test_exceptions_are_retried_and_the_last_one_raised(tracer: Tracer) -> None:
    def plan(n: int, c: str | None) -> tuple[list[tuple[str, int]], Any]:
        return WRONG, RuntimeError(f"crash {n}")

    retrying, _ = replay(tracer, plan=plan, max_attempts=2)
    with pytest.raises(RuntimeError, match="crash 2"):
        retrying.run()
    assert [a.verdict.kind for a in retrying.attempts] == ["exception", "exception"]


def test_retry_on_limits_what_is_retried(tracer: Tracer) -> None:
    retrying, _ = replay(tracer, retry_on=frozenset({"exception"}))
    retrying.run()
    assert len(retrying.attempts) == 1 and retrying.stop_reason == "verify failures are not retried by the policy"


def test_verifier_that_raises(tracer: Tracer) -> None:
    def verify(result: Any) -> bool:
        raise OSError("no such test")

    retrying, _ = replay(tracer, verify=verify, max_attempts=2)
    retrying.run()
    assert [a.verdict.kind for a in retrying.attempts] == ["verifier_error", "verifier_error"]


def test_nobody_delivers_stops_cleanly(tracer: Tracer) -> None:
    runner = FakeRunner(tracer, recovers_when_told)
    retrying = Retrying(runner, RetryPolicy(verify=lambda r: r), pm=PluginManager())
    retrying.run()
    assert retrying.stop_reason == "no plugin could deliver the diagnosis to this agent"
    assert retrying.attempts[0].delivered is False


def test_a_broken_reinject_plugin_is_isolated(tracer: Tracer) -> None:
    class Broken:
        @hookimpl(tryfirst=True)
        def codetracer_reinject(self, run: Run, diagnosis: Diagnosis, handle: Any) -> bool:
            raise RuntimeError("plugin bug")

    pm = PluginManager()
    pm.register(Broken(), name="broken")
    retrying, _ = replay(tracer, pm=pm)
    assert retrying.run() is True  # the fake's own plugin delivered


def test_rollback_with_the_fake(tracer: Tracer, tmp_path: Path) -> None:
    (tmp_path / "calc.py").write_text("old")

    def plan(n: int, c: str | None) -> tuple[list[tuple[str, int]], Any]:
        if n == 1:
            (tmp_path / "calc.py").write_text("broken")
            return [("cat calc.py", 0), ("sed -i s/a/b/ calc.py", 1)], False
        return RIGHT, (tmp_path / "calc.py").read_text() == "old"

    retrying, _ = replay(tracer, plan=plan, rollback=True, workspace=tmp_path)
    assert retrying.run() is True and retrying.attempts[0].rolled_back == ["calc.py"]


def test_auto_retry_refuses_unknown_targets() -> None:
    with pytest.raises(codetracer.CodetracerError if hasattr(codetracer, "CodetracerError") else Exception):
        codetracer.auto_retry(object(), tracer=Tracer(persist=False, load_plugins=False))



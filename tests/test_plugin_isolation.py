"""Plugins that pluggy rejects, hook wrappers, and plugins calling ``sys.exit()``: none of them reaches the agent.

Issue 20, items 11-13: an entry-point plugin with a hook argument not in the spec made ``Tracer()`` raise and
``analyze`` exit 3; no hook wrapper could register at all (the guard replaced generator functions by plain ones); a
plugin raising ``SystemExit`` in ``codetracer_run_started`` went through the guard.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pluggy
import pytest

from codetracer.core.builder import TreeBuilder
from codetracer.core.events import Events
from codetracer.core.model import Diagnosis, Run
from codetracer.hooks.manager import PluginManager
from codetracer.hooks.specs import hookimpl

REPO = Path(__file__).resolve().parents[1]


def _distribution(site: Path, module: str, source: str) -> None:
    """A real installed distribution on ``site`` advertising ``module`` in entry-point group ``codetracer``."""
    (site / f"{module}.py").write_text(textwrap.dedent(source))
    dist = site / f"{module}-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module.replace('_', '-')}\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(f"[codetracer]\n{module} = {module}\n")


def test_entry_point_plugin_rejected_by_pluggy_is_skipped_and_logged_once(tmp_path: Path) -> None:
    """Item 11: a hook implementation with an argument the spec does not have. ``Tracer()`` in the agent's process
    keeps working (the other plugins too), and ``codetracer analyze`` is not an internal error."""
    site = tmp_path / "site"
    site.mkdir()
    _distribution(
        site,
        "ct_bad_args",
        """
        from codetracer.hooks.specs import hookimpl

        @hookimpl
        def codetracer_step_finished(run_id, step_key, timestamp):
            pass

        @hookimpl
        def codetracer_run_started(run_id, no_such_argument):
            pass
        """,
    )
    env = {**os.environ, "PYTHONPATH": str(site), "CODETRACER_HOME": str(tmp_path / "home")}
    script = textwrap.dedent(
        """
        import logging
        logging.basicConfig(level=logging.WARNING, format="%(name)s %(message)s")
        from codetracer.core.tracer import Tracer
        t = Tracer()
        t.events.run_started("r", "demo", task="t")
        t.events.step_started("r", "1", thought="look")
        t.events.step_finished("r", "1")
        t.events.run_finished("r", "solved")
        t.flush()
        names = [name for name, _ in t.pm.list_name_plugin()]
        print("REGISTERED", "ct_bad_args" in names, "builtin" in names, [r.id for r in t.runs])
        print("STEP_FINISHED_IMPLS", len(t.pm.hook.codetracer_step_finished.get_hookimpls()))
        t.close()
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "REGISTERED False True ['r']" in done.stdout
    assert "STEP_FINISHED_IMPLS 1" in done.stdout, "nothing of the rejected plugin stays registered"
    warnings = [line for line in done.stderr.splitlines() if "ct_bad_args" in line]
    assert len(warnings) == 1 and "no_such_argument" in warnings[0], done.stderr

    artifact = REPO / "examples" / "runs"
    cli = subprocess.run(
        [sys.executable, "-m", "codetracer.cli", "analyze", str(artifact), "--no-store", "-q"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert cli.returncode == 0, cli.stderr
    assert "internal error" not in cli.stderr


def test_rejected_plugin_leaves_the_manager_as_it_was() -> None:
    class HalfValid:
        @hookimpl
        def codetracer_error(self, run_id, error):
            raise AssertionError("never registered, never called")

        @hookimpl
        def codetracer_step_started(self, run_id, bogus):
            pass

    pm = PluginManager()
    with pytest.raises(pluggy.PluginValidationError):
        pm.register(HalfValid(), name="half")
    assert not pm.has_plugin("half")
    assert pm.hook.codetracer_error.get_hookimpls() == []
    Events(pm.relay).error("r", "nothing listens")


class NewStyleWrapper:
    """A correct ``wrapper=True`` implementation: sees the result of the inner implementations and changes it."""

    def __init__(self) -> None:
        self.seen: list[Any] = []

    @hookimpl(wrapper=True)
    def codetracer_on_failure(self, run, attempt):
        result = yield
        self.seen.append(result.localizer if result else None)
        return result.model_copy(update={"reasoning": "wrapped"}) if result else result


class OldStyleWrapper:
    def __init__(self) -> None:
        self.calls = 0

    @hookimpl(hookwrapper=True)
    def codetracer_on_failure(self, run, attempt):
        self.calls += 1
        outcome = yield
        if outcome.get_result() is None:
            outcome.force_result(Diagnosis(localizer="old-style", onset_step=1))


class Answers:
    @hookimpl
    def codetracer_on_failure(self, run, attempt):
        return Diagnosis(localizer="answers", onset_step=attempt) if attempt else None


def test_correct_hook_wrappers_register_and_run() -> None:
    """Item 12: both wrapper styles register (they were rejected as "not a generator function") and wrap."""
    pm = PluginManager()
    new, old = NewStyleWrapper(), OldStyleWrapper()
    pm.register(Answers(), name="answers")
    pm.register(new, name="new-style")
    pm.register(old, name="old-style")
    run = Run(id="r", framework="demo")
    first = pm.hook.codetracer_on_failure(run=run, attempt=2)
    assert (first.localizer, first.onset_step, first.reasoning) == ("answers", 2, "wrapped")
    second = pm.hook.codetracer_on_failure(run=run, attempt=0)
    assert second.localizer == "old-style"
    # pluggy runs the last registered wrapper outermost: the new-style one sees what "answers" gave, or nothing
    assert new.seen == ["answers", None] and old.calls == 2
    assert pm.failures.counts == {}


class BrokenWrappers:
    """Wrappers that fail in every way a wrapper can: before the yield, after it, never yielding, yielding twice."""

    @hookimpl(wrapper=True)
    def codetracer_on_failure(self, run, attempt):
        if attempt == 1:
            raise RuntimeError("set-up failed")
        result = yield
        if attempt == 2:
            raise SystemExit("tear-down exits")
        if attempt == 3:
            yield
        return result

    @hookimpl(hookwrapper=True)
    def codetracer_reinject(self, run, diagnosis, handle):
        if handle == "no-yield":
            return
        yield
        raise ValueError("old-style tear-down failed")


def test_failing_hook_wrappers_are_isolated(caplog: pytest.LogCaptureFixture) -> None:
    pm = PluginManager()
    pm.register(Answers(), name="answers")
    pm.register(BrokenWrappers(), name="broken")
    run = Run(id="r", framework="demo")
    with caplog.at_level(logging.WARNING, logger="codetracer.plugins"):
        for attempt in (1, 2, 3):
            assert pm.hook.codetracer_on_failure(run=run, attempt=attempt).onset_step == attempt
        diagnosis = Diagnosis(localizer="x")
        assert pm.hook.codetracer_reinject(run=run, diagnosis=diagnosis, handle="h") is None
        assert pm.hook.codetracer_reinject(run=run, diagnosis=diagnosis, handle="no-yield") is None
    assert pm.failures.counts == {("broken", "codetracer_on_failure"): 3, ("broken", "codetracer_reinject"): 2}
    assert len([r for r in caplog.records if "broken" in r.getMessage()]) == 2, "once per (plugin, hook)"


def test_an_error_of_the_inner_implementations_still_reaches_the_wrapper_and_the_caller() -> None:
    """Isolation does not change the wrapper protocol: an exception below a wrapper is thrown into it, as pluggy
    does (codetracer's own guards keep plugins from raising, so this is a non-isolated BaseException)."""
    seen: list[str] = []

    class Interrupting:
        @hookimpl
        def codetracer_on_failure(self, run, attempt):
            raise KeyboardInterrupt

    class Watching:
        @hookimpl(wrapper=True)
        def codetracer_on_failure(self, run, attempt):
            try:
                return (yield)
            except KeyboardInterrupt:
                seen.append("interrupt")
                raise

    pm = PluginManager()
    pm.register(Interrupting(), name="interrupting")
    pm.register(Watching(), name="watching")
    with pytest.raises(KeyboardInterrupt):
        pm.hook.codetracer_on_failure(run=Run(id="r", framework="demo"), attempt=1)
    assert seen == ["interrupt"]


class Exits:
    def __init__(self) -> None:
        self.calls = 0

    @hookimpl
    def codetracer_run_started(self, run_id, framework, task, metadata, parent_run_id, timestamp):
        self.calls += 1
        sys.exit("a plugin wants out")

    @hookimpl
    def codetracer_run_completed(self, run):
        raise SystemExit(3)


def test_plugin_raising_system_exit_is_isolated_on_every_path() -> None:
    """Item 13: ``SystemExit`` from a plugin is a failure like any other, on the fast relay and through pluggy."""
    pm = PluginManager()
    builder = TreeBuilder()
    pm.register(builder, name="tree-builder")
    exits = Exits()
    pm.register(exits, name="exits")
    events = Events(pm.relay)
    events.run_started("r", "demo", task="t")
    events.run_finished("r", "solved")
    pm.hook.codetracer_run_started(
        run_id="r2", framework="demo", task=None, metadata={}, parent_run_id=None, timestamp=None
    )
    pm.hook.codetracer_run_completed(run=builder.finished[0])
    assert [r.id for r in builder.finished] == ["r"]
    assert exits.calls == 2
    assert pm.failures.counts == {("exits", "codetracer_run_started"): 2, ("exits", "codetracer_run_completed"): 1}

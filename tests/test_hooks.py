"""The hook specs document themselves, and the plugin manager isolates faulty plugins."""

from __future__ import annotations

import inspect
import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from codetracer.core.builder import TreeBuilder
from codetracer.core.events import Events
from codetracer.hooks import specs
from codetracer.hooks.manager import PluginManager
from codetracer.hooks.specs import hookimpl

SPEC_NAMES = [name for name, obj in vars(specs).items() if name.startswith("codetracer_") and callable(obj)]


def test_every_spec_is_documented_and_registered() -> None:
    pm = PluginManager()
    assert len(SPEC_NAMES) >= 15
    for name in SPEC_NAMES:
        func = getattr(specs, name)
        assert inspect.getdoc(func), f"{name} has no docstring"
        assert hasattr(pm.hook, name)


def test_events_facade_covers_every_trace_event() -> None:
    trace_events = {
        n
        for n in SPEC_NAMES
        if not n.startswith(
            ("codetracer_on_", "codetracer_reinject", "codetracer_register", "codetracer_run_completed")
        )
    }
    facade = {f"codetracer_{n}" for n in dir(Events) if not n.startswith("_") and n != "recorder"}
    assert trace_events == facade  # recorder: `record` bound to one run, for adapters


class Exploding:
    @hookimpl
    def codetracer_step_started(self, run_id, step_key, agent, thought, raw_ref, timestamp):
        raise RuntimeError("boom")


def test_raising_plugin_is_logged_once_and_isolated(caplog: pytest.LogCaptureFixture) -> None:
    pm = PluginManager()
    builder = TreeBuilder()
    pm.register(builder, name="tree-builder")
    pm.register(Exploding(), name="exploding")
    events = Events(pm.hook)
    with caplog.at_level(logging.WARNING, logger="codetracer.plugins"):
        events.run_started("r", "demo")
        for i in range(5):
            events.step_started("r", str(i))
        events.run_finished("r", "failed")
    assert [s.id for s in builder.finished[0].steps] == [1, 2, 3, 4, 5]
    assert pm.failures.counts[("exploding", "codetracer_step_started")] == 5
    warnings = [r for r in caplog.records if "exploding" in r.getMessage()]
    assert len(warnings) == 1


def test_firstresult_on_failure_returns_first_diagnosis() -> None:
    from codetracer.core.model import Diagnosis, Run

    class Declines:
        @hookimpl
        def codetracer_on_failure(self, run, attempt):
            return None

    class Answers:
        @hookimpl
        def codetracer_on_failure(self, run, attempt):
            return Diagnosis(localizer="answers", onset_step=attempt)

    pm = PluginManager()
    pm.register(Answers(), name="answers")
    pm.register(Declines(), name="declines")
    diagnosis = pm.hook.codetracer_on_failure(run=Run(id="r", framework="x"), attempt=2)
    assert diagnosis.localizer == "answers" and diagnosis.onset_step == 2


def test_entry_point_plugins_load_and_broken_ones_are_skipped(tmp_path: Path) -> None:
    """A real distribution on sys.path advertises two plugins in group ``codetracer``; one fails to import."""
    (tmp_path / "ct_demo_plugin.py").write_text(
        textwrap.dedent(
            """
            from codetracer.hooks.specs import hookimpl
            seen = []
            @hookimpl
            def codetracer_error(run_id, step_key, error, kind, timestamp):
                seen.append(error)
            """
        )
    )
    dist = tmp_path / "ct_demo_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: ct-demo-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[codetracer]\ndemo = ct_demo_plugin\nbroken = ct_no_such_module\n")
    script = textwrap.dedent(
        f"""
        import sys; sys.path.insert(0, {str(tmp_path)!r})
        from codetracer.hooks.manager import PluginManager
        from codetracer.core.events import Events
        pm = PluginManager(); pm.load_entrypoint_plugins()
        Events(pm.hook).error("r", "it broke")
        import ct_demo_plugin
        print(ct_demo_plugin.seen, sorted(k[0] for k in pm.failures.counts))
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "['it broke'] ['broken']"


def test_builtin_plugin_comes_through_its_entry_point_before_third_party_plugins(tmp_path: Path) -> None:
    """codetracer's own formats and localizers are an entry-point plugin like any other, registered first, so a
    third-party localizer is listed (and is the default) before the built-in ones, as when built-ins were
    registered by hand."""
    (tmp_path / "ct_demo_localizer.py").write_text(
        textwrap.dedent(
            """
            from codetracer.hooks.specs import hookimpl

            class Demo:
                name = "demo"

                def localize(self, run):
                    return None

            @hookimpl
            def codetracer_register_localizers(register):
                register(Demo())
            """
        )
    )
    dist = tmp_path / "ct_demo_localizer-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: ct-demo-localizer\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[codetracer]\ndemo = ct_demo_localizer\n")
    script = textwrap.dedent(
        f"""
        import sys; sys.path.insert(0, {str(tmp_path)!r})  # the demo distribution is found first
        from codetracer.hooks.manager import get_plugin_manager
        from codetracer.localize.registry import LocalizerRegistry
        pm = get_plugin_manager()
        print([name for name, _ in pm.list_name_plugin()], LocalizerRegistry.from_plugins(pm).names())
        """
    )
    env = {k: v for k, v in os.environ.items() if k not in ("CODETRACER_BASE_URL", "CODETRACER_MODEL")}  # no LLM
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.strip() == "['builtin', 'otel', 'demo'] ['demo', 'signals']"


def test_import_codetracer_is_light() -> None:
    script = (
        "import sys, codetracer; heavy = ('openai', 'langchain_core', 'langgraph', 'openhands', 'minisweagent', "
        "'sweagent', 'litellm', 'opentelemetry'); print([m for m in sys.modules if m.split('.')[0] in heavy])"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_fast_relay_calls_every_plugin_in_pluggy_order_isolated_and_follows_registration() -> None:
    calls: list[str] = []

    class Recorder:
        def __init__(self, tag: str) -> None:
            self.tag = tag

        @hookimpl
        def codetracer_step_finished(self, run_id, step_key, timestamp):
            calls.append(f"{self.tag}:{step_key}")

    class Partial:  # implements a subset of the spec's arguments
        @hookimpl
        def codetracer_step_finished(self, step_key):
            calls.append(f"partial:{step_key}")

    pm = PluginManager()
    pm.register(Recorder("a"), name="a")
    pm.register(Exploding(), name="exploding")
    Events(pm.relay).step_finished("r", "1")
    pm.register(Recorder("b"), name="b")
    pm.register(Partial(), name="partial")
    Events(pm.relay).step_finished("r", "2")
    pm.hook.codetracer_step_finished(run_id="r", step_key="3", timestamp=None)
    pm.unregister(name="a")
    Events(pm.relay).step_finished("r", "4")
    assert calls == ["a:1", "partial:2", "b:2", "a:2", "partial:3", "b:3", "a:3", "partial:4", "b:4"]
    Events(pm.relay).step_started("r", "5")  # the exploding plugin is guarded on the relay too
    assert pm.failures.counts[("exploding", "codetracer_step_started")] == 1

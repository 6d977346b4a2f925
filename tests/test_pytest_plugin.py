"""The pytest plugin (``codetracer.pytest_plugin``) and the assertion helpers (``codetracer.testing``), with real pytest
runs through ``pytester``: no agent framework here (the events API and a stand-in ``minisweagent`` package stand for
agents; the real frameworks are exercised in ``integration/``)."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
from pathlib import Path

import pytest

from codetracer.core.events import Events
from codetracer.core.model import Run
from codetracer.core.store import Store
from codetracer.core.tracer import Tracer
from codetracer.pytest_plugin import SECTION
from codetracer.testing import (
    assert_called,
    assert_called_before,
    assert_finished_within,
    assert_no_step_errored,
    assert_not_called,
    assert_outcome,
    find_calls,
)

pytest_plugins = ["pytester"]

ENTRY_POINT_INSTALLED = any(
    ep.value == "codetracer.pytest_plugin" for ep in importlib.metadata.entry_points(group="pytest11")
)
PLUGIN_ARGS = () if ENTRY_POINT_INSTALLED else ("-p", "codetracer.pytest_plugin")
"""The entry point loads the plugin when codetracer is installed (it is, in tox); a bare checkout passes ``-p``."""

AGENT = '''
def agent(ev, run_id, *, wrong):
    """A toy agent reporting through the events API: the wrong run edits calc.py, then its test fails."""
    ev.run_started(run_id, "toy-agent", task="make the tests pass")
    steps = [("ls", 0), ("sed -i s/a/b/ calc.py" if wrong else "cat calc.py", 0),
             ("python -m pytest -q", 1 if wrong else 0), ("echo submit", 0)]
    for i, (command, code) in enumerate(steps, 1):
        ev.step_started(run_id, str(i), thought=f"thinking before step {i}")
        ev.tool_call_started(run_id, str(i), f"call-{i}", "bash", command=command)
        ev.tool_call_finished(run_id, f"call-{i}", output="1 failed" if code else "ok", exit_code=code)
        ev.step_finished(run_id, str(i))
    ev.run_finished(run_id, "failed" if wrong else "solved")
'''

TESTS = AGENT + '''

def test_solves(codetracer):
    agent(codetracer.events, "run-good", wrong=False)
    assert codetracer.run.outcome.value == "solved"


def test_breaks(codetracer):
    agent(codetracer.events, "run-bad", wrong=True)
    assert codetracer.run.outcome.value == "solved", "the agent did not fix it"


def test_no_agent():
    assert 1 + 1 == 3
'''


def run_pytest(pytester: pytest.Pytester, *args: str, subprocess: bool = False) -> pytest.RunResult:
    argv = (*PLUGIN_ARGS, "-p", "no:cacheprovider", *args)
    return pytester.runpytest_subprocess(*argv) if subprocess else pytester.runpytest(*argv)


def section_of(result: pytest.RunResult) -> str:
    """The codetracer report section of the (one) failing agent test, as printed."""
    text = result.stdout.str()
    start = text.index(SECTION)
    end = text.index("-- codetracer --", start) if "-- codetracer --" in text[start:] else len(text)
    return text[start:end]


# ----------------------------------------------------------------------------------------------------------------------
# the plugin
# ----------------------------------------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Inner sessions inherit this environment: their store project is known and nothing reaches the user's home."""
    monkeypatch.setenv("CODETRACER_PROJECT", "plugin-tests")
    monkeypatch.setenv("CODETRACER_HOME", str(tmp_path / "ct-home"))


def test_entry_point_is_declared() -> None:
    dist = importlib.metadata.distribution("codetracer")
    names = {(ep.group, ep.name, ep.value) for ep in dist.entry_points}
    if not names:
        pytest.skip("codetracer's metadata has no entry points (not installed from this checkout)")
    assert ("pytest11", "codetracer", "codetracer.pytest_plugin") in names


def test_failing_agent_test_reports_onset_chain_and_trace(pytester: pytest.Pytester, tmp_path: Path) -> None:
    pytester.makepyfile(test_agent=TESTS)
    out = tmp_path / "traces"
    result = run_pytest(pytester, "--codetracer", f"--codetracer-dir={out}")
    result.assert_outcomes(passed=1, failed=2)
    section = section_of(result)
    assert "agent run 1 of 1: run-bad" in section
    assert "went wrong at step 2 of 4: bash: sed -i s/a/b/ calc.py" in section
    assert "chain: 3" in section
    assert ">> step 2" in section  # the tree marks the onset
    assert f"full trace: {out / 'traces' / 'run-bad.json'}" in section
    assert result.stdout.str().count(SECTION) == 1  # the failing test without an agent run gets no section
    # the trace file loads back as the whole tree, diagnosis included; the store has both runs, the diagnosis too
    run = Run.from_json((out / "traces" / "run-bad.json").read_text())
    assert run.diagnosis is not None and run.diagnosis.onset_step == 2 and len(run.steps) == 4
    store = Store(out / "codetracer.db", project="plugin-tests")
    assert {r.id for r in store.list_runs()} == {"run-good", "run-bad"}
    assert store.load_run("run-bad").diagnosis is not None
    assert store.load_run("run-bad").metadata["pytest_result"] == "failed"  # beside the run's own outcome
    assert "pytest_result" not in store.load_run("run-good").metadata
    assert [d.onset_step for d in store.diagnoses("run-bad")] == [2]
    report = (out / "reports" / "test_agent.py_test_breaks.txt").read_text()
    assert report.startswith("test_agent.py::test_breaks") and "went wrong at step 2" in report
    result.stdout.fnmatch_lines(["*2 agent run(s) traced; 1 failing test(s) with a diagnosis*"])


def test_off_by_default_adds_nothing_and_imports_no_framework(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_off="""
        import sys

        def test_nothing_loaded(request):
            assert request.config.pluginmanager.get_plugin("codetracer-session") is None
            heavy = [m for m in sys.modules if m.startswith(("codetracer.core", "codetracer.adapters", "pydantic",
                     "minisweagent", "langchain", "openhands", "sweagent"))]
            assert heavy == []
            assert "codetracer.pytest_plugin" in sys.modules  # loaded, and that is all

        def test_fails():
            assert False
        """
    )
    result = run_pytest(pytester, subprocess=True)
    result.assert_outcomes(passed=1, failed=1)
    assert SECTION not in result.stdout.str()
    assert not (pytester.path / ".codetracer").exists()


def test_fixture_works_without_the_flag(pytester: pytest.Pytester) -> None:
    """Off, the fixture is a tracer of the test alone, in memory: tests using it run the same either way."""
    pytester.makepyfile(test_agent=TESTS)
    result = run_pytest(pytester)
    result.assert_outcomes(passed=1, failed=2)
    assert SECTION not in result.stdout.str()
    assert not (pytester.path / ".codetracer").exists()


def test_ini_option_turns_it_on_and_the_flag_off(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_agent=TESTS)
    pytester.makeini("[pytest]\ncodetracer = true\ncodetracer_dir = ct-out\n")
    result = run_pytest(pytester)
    result.assert_outcomes(passed=1, failed=2)
    assert "went wrong at step 2" in section_of(result)
    assert (pytester.path / "ct-out" / "traces" / "run-bad.json").is_file()
    assert (pytester.path / "ct-out" / ".gitignore").read_text().strip().endswith("*")
    result = run_pytest(pytester, "--no-codetracer")
    result.assert_outcomes(passed=1, failed=2)
    assert SECTION not in result.stdout.str()


def test_keep_failed_drops_the_runs_of_passing_tests(pytester: pytest.Pytester, tmp_path: Path) -> None:
    pytester.makepyfile(test_agent=TESTS)
    result = run_pytest(pytester, "--codetracer", f"--codetracer-dir={tmp_path}", "--codetracer-keep=failed")
    result.assert_outcomes(passed=1, failed=2)
    store = Store(tmp_path / "codetracer.db", project="plugin-tests")
    assert [r.id for r in store.list_runs()] == ["run-bad"]
    assert sorted(p.name for p in (tmp_path / "traces").iterdir()) == ["run-bad.json"]


def test_outcomes_are_the_same_with_and_without_it_even_when_codetracer_breaks(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_agent=TESTS
        + """

import pytest

@pytest.mark.xfail(reason="known")
def test_xfail(codetracer):
    agent(codetracer.events, "run-xfail", wrong=True)
    assert False

@pytest.mark.skip(reason="not today")
def test_skipped():
    pass

def test_error_in_fixture(broken):
    pass

@pytest.fixture
def broken():
    raise RuntimeError("fixture broke")
"""
    )
    pytester.makeconftest(
        """
        import codetracer.pytest_plugin as plugin

        def boom(run):
            raise RuntimeError("localizer exploded")

        plugin._localize = boom  # a broken localizer must not change any outcome
        """
    )
    plain = run_pytest(pytester, subprocess=True)  # a subprocess: the conftest's patch must not leak into this one
    traced = run_pytest(pytester, "--codetracer", subprocess=True)
    expected = {"passed": 1, "failed": 2, "xfailed": 1, "skipped": 1, "errors": 1}
    plain.assert_outcomes(**expected)
    traced.assert_outcomes(**expected)
    assert plain.ret == traced.ret
    assert "(localization failed: RuntimeError: localizer exploded)" in traced.stdout.str()
    assert "run run-bad  [failed]" in traced.stdout.str()  # the tree is still shown


def test_works_without_cacheprovider_and_writes_no_cache(pytester: pytest.Pytester, tmp_path: Path) -> None:
    pytester.makepyfile(test_agent=TESTS)
    result = run_pytest(pytester, "--codetracer", f"--codetracer-dir={tmp_path}", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=2)
    assert not (pytester.path / ".pytest_cache").exists()


def test_runs_of_each_test_are_kept_apart_and_open_runs_are_shown(pytester: pytest.Pytester, tmp_path: Path) -> None:
    pytester.makepyfile(
        test_agent=AGENT
        + """

def test_two_runs(codetracer):
    agent(codetracer.events, "first", wrong=False)
    agent(codetracer.events, "second", wrong=True)
    assert [r.id for r in codetracer.runs] == ["first", "second"]

def test_sees_only_its_own(codetracer):
    codetracer.events.run_started("hung", "toy-agent", task="never ends")
    codetracer.events.step_started("hung", "1")
    codetracer.events.tool_call_started("hung", "1", "c1", "bash", command="sleep 1000")
    assert codetracer.runs == []
    assert False, "the agent hung"
"""
    )
    result = run_pytest(pytester, "--codetracer", f"--codetracer-dir={tmp_path}")
    result.assert_outcomes(passed=1, failed=1)
    section = section_of(result)
    assert "agent run 1 of 1 (still open): hung" in section
    assert "sleep 1000" in section


@pytest.mark.skipif(importlib.util.find_spec("xdist") is None, reason="needs pytest-xdist (the dev extra has it)")
def test_xdist_workers_share_one_store(pytester: pytest.Pytester, tmp_path: Path) -> None:
    pytester.makepyfile(
        test_many=AGENT
        + "\n".join(
            f"\ndef test_{i}(codetracer):\n    agent(codetracer.events, 'run-{i}', wrong={i % 3 == 0})\n"
            f"    assert codetracer.run.outcome.value == 'solved'\n"
            for i in range(8)
        )
    )
    result = run_pytest(pytester, "-n", "2", "--codetracer", f"--codetracer-dir={tmp_path}", subprocess=True)
    result.assert_outcomes(passed=5, failed=3)
    assert result.stdout.str().count(SECTION) == 3
    result.stdout.fnmatch_lines(["*8 agent run(s) traced; 3 failing test(s) with a diagnosis*"])
    store = Store(tmp_path / "codetracer.db", project="plugin-tests")
    assert sorted(r.id for r in store.list_runs()) == sorted(f"run-{i}" for i in range(8))
    assert list((tmp_path / "journal").iterdir()) == []  # every worker stored everything it journaled


FAKE_MINI = '''
class DefaultAgent:
    """Stands in for mini-swe-agent's DefaultAgent: run() adds the messages a real run adds."""

    def __init__(self):
        self.messages = []

    def add_messages(self, *messages):
        self.messages.extend(messages)
        return list(messages)

    def run(self, task=""):
        self.add_messages({"role": "system", "content": "You are a helpful assistant."},
                          {"role": "user", "content": task})
        self.add_messages({"role": "assistant", "content": "THOUGHT: look\\n\\n```bash\\nls\\n```",
                           "extra": {"actions": [{"command": "ls"}]}})
        self.add_messages({"role": "user", "content": "<returncode>0</returncode>\\n<output>calc.py</output>",
                           "extra": {"returncode": 0}})
        return {"exit_status": "Submitted", "submission": ""}
'''


def test_frameworks_are_patched_on_import_and_restored_at_the_end(pytester: pytest.Pytester, tmp_path: Path) -> None:
    """The class-level patch is applied when the framework module is imported during the session (not before), traces
    each agent once, and is undone when the session ends."""
    pkg = pytester.mkpydir("minisweagent")
    (pkg / "agents").mkdir()
    (pkg / "agents" / "__init__.py").write_text("")
    (pkg / "agents" / "default.py").write_text(FAKE_MINI)
    marker = tmp_path / "after.json"
    pytester.makeconftest(
        f"""
        import json, sys
        import pytest

        @pytest.hookimpl(trylast=True)
        def pytest_unconfigure(config):
            cls = sys.modules["minisweagent.agents.default"].DefaultAgent
            with open({str(marker)!r}, "w") as f:
                json.dump({{"restored": cls.__dict__["run"].__name__ == "run"
                            and not hasattr(cls.__dict__["run"], "__wrapped__")}}, f)
        """
    )
    pytester.makepyfile(
        test_mini="""
        def test_agent_is_traced(codetracer):
            from minisweagent.agents.default import DefaultAgent

            agent = DefaultAgent()
            agent.run("list the files")
            agent.run("again")
            runs = codetracer.runs
            assert [r.framework for r in runs] == ["mini-swe-agent", "mini-swe-agent"]
            assert runs[0].task == "list the files" and runs[0].steps[0].actions[0].command == "ls"
            assert runs[0].metadata["pytest_test"] == "test_mini.py::test_agent_is_traced"

        import pytest

        @pytest.mark.codetracer_off
        def test_marked_off_is_left_alone(codetracer):
            from minisweagent.agents.default import DefaultAgent

            DefaultAgent().run("not traced")
            assert codetracer.runs == []
        """
    )
    result = run_pytest(pytester, "--codetracer", f"--codetracer-dir={tmp_path / 'ct'}", subprocess=True)
    result.assert_outcomes(passed=2)
    assert json.loads(marker.read_text()) == {"restored": True}


# ----------------------------------------------------------------------------------------------------------------------
# the assertion helpers
# ----------------------------------------------------------------------------------------------------------------------


def toy_run(commands: list[tuple[str, int]], *, outcome: str = "failed", finish: bool = True) -> Run:
    tracer = Tracer(persist=False, load_plugins=False)
    ev: Events = tracer.events
    ev.run_started("toy", "toy-agent", task="t")
    for i, (command, code) in enumerate(commands, 1):
        ev.step_started("toy", str(i))
        ev.tool_call_started("toy", str(i), f"c{i}", "bash", command=command)
        ev.tool_call_finished("toy", f"c{i}", output=f"output of {command}", exit_code=code)
        ev.step_finished("toy", str(i))
    if finish:
        ev.run_finished("toy", outcome)
    else:
        tracer.builder.finalize_incomplete()
    tracer.flush()
    run = tracer.runs[-1]
    tracer.close()
    return run


def test_called_before_passes_and_fails_with_the_steps_shown() -> None:
    run = toy_run([("ls", 0), ("echo submit", 0), ("python -m pytest", 1)])
    assert_called_before(run, "ls", "pytest")
    with pytest.raises(AssertionError) as info:
        assert_called_before(run, "pytest", "submit")
    message = str(info.value)
    assert "'submit' was called at step 2, not after the first 'pytest' (step 3)" in message
    assert ">> step 2  bash: echo submit" in message and ">> step 3 !  bash: python -m pytest" in message
    assert "-> exit 1 'output of python -m pytest'" in message
    with pytest.raises(AssertionError, match="'git diff' was never called"):
        assert_called_before(run, "git diff", "ls")


def test_no_step_errored_names_the_failing_steps() -> None:
    assert_no_step_errored(toy_run([("ls", 0)], outcome="solved"))
    with pytest.raises(AssertionError) as info:
        assert_no_step_errored(toy_run([("ls", 0), ("false", 1), ("true", 0)]))
    assert "1 step(s) errored: 2" in str(info.value)
    assert ">> step 2 !  bash: false" in str(info.value) and "step 3" not in str(info.value)


def test_finished_within_counts_steps_and_catches_unfinished_runs() -> None:
    run = toy_run([("ls", 0), ("cat a", 0), ("cat b", 0)])
    assert_finished_within(run, 3)
    with pytest.raises(AssertionError, match="the run took 3 steps, more than 2"):
        assert_finished_within(run, 2)
    with pytest.raises(AssertionError, match="the run never finished"):
        assert_finished_within(toy_run([("sleep 100", 0)], finish=False), 10)


def test_called_not_called_outcome_and_matchers() -> None:
    run = toy_run([("ls", 0), ("python -m pytest", 0), ("python -m pytest -x", 0)], outcome="solved")
    assert len(assert_called(run, "pytest", times=2)) == 2
    assert [s.id for s, _ in find_calls(run, "bash")] == [1, 2, 3]  # a tool name matches too
    assert [s.id for s, _ in find_calls(run, lambda call, step: step.id > 2)] == [3]
    with pytest.raises(AssertionError, match="'pytest' was called 2 time"):
        assert_called(run, "pytest", times=1)
    with pytest.raises(AssertionError, match=r"'ls' was called at step\(s\) 1"):
        assert_not_called(run, "ls")
    assert_outcome(run, "solved")
    with pytest.raises(AssertionError, match="the run is solved, expected failed"):
        assert_outcome(run, "failed")


def test_helpers_accept_the_fixture(codetracer: object) -> None:
    ev = codetracer.events  # type: ignore[attr-defined]
    ev.run_started("fx", "toy-agent")
    ev.step_started("fx", "1")
    ev.tool_call_started("fx", "1", "c1", "bash", command="ls")
    ev.tool_call_finished("fx", "c1", output="", exit_code=0)
    ev.run_finished("fx", "solved")
    assert_called(codetracer, "ls")
    assert_outcome(codetracer, "solved")
    assert "step 1" in codetracer.render()  # type: ignore[attr-defined]
    assert codetracer.diagnose().localizer == "signals"  # type: ignore[attr-defined]


def test_default_folder_is_out_of_the_checkout_and_junit_shows_the_section(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    """Without ``--codetracer-dir`` traces go to pytest's basetemp; the section is the test case's ``<system-out>``."""
    import xml.etree.ElementTree as ET

    pytester.makepyfile(test_agent=TESTS)
    junit = tmp_path / "junit.xml"
    result = run_pytest(pytester, "--codetracer", f"--basetemp={tmp_path / 'bt'}", f"--junitxml={junit}")
    result.assert_outcomes(passed=1, failed=2)
    # nothing of codetracer's in the checkout (Python's own byte-code cache aside)
    assert sorted(p.name for p in pytester.path.iterdir() if p.name != "__pycache__") == ["test_agent.py"]
    folder = tmp_path / "bt" / "codetracer"
    assert (folder / "reports" / "test_agent.py_test_breaks.txt").is_file()
    assert sorted(p.name for p in (folder / "traces").iterdir()) == ["run-bad.json"]  # failing tests only
    cases = {c.get("name"): c for c in ET.parse(junit).getroot().iter("testcase")}
    out = cases["test_breaks"].find("system-out")
    assert out is not None and out.text is not None
    assert SECTION in out.text and "went wrong at step 2 of 4: bash: sed -i s/a/b/ calc.py" in out.text
    assert cases["test_no_agent"].find("system-out") is None  # no agent run, no section
    props = {name: [(p.get("name"), p.get("value")) for p in c.iter("property")] for name, c in cases.items()}
    assert props == {"test_solves": [("codetracer_runs", "run-good")], "test_breaks": [("codetracer_runs", "run-bad")],
                     "test_no_agent": []}


def test_headline_says_when_no_onset_is_confident(pytester: pytest.Pytester, tmp_path: Path) -> None:
    """A test that fails on a wrong expectation while its agent did nothing wrong gets no confident onset."""
    pytester.makepyfile(test_agent=AGENT + '''

def test_wrong_expectation(codetracer):
    ev = codetracer.events
    ev.run_started("run-fine", "toy-agent", task="say hello")
    for i, command in enumerate(["echo hello", "echo submit"], 1):
        ev.step_started("run-fine", str(i))
        ev.tool_call_started("run-fine", str(i), f"call-{i}", "bash", command=command)
        ev.tool_call_finished("run-fine", f"call-{i}", output="hello", exit_code=0)
        ev.step_finished("run-fine", str(i))
    ev.run_finished("run-fine", "unknown")
    assert False, "expected goodbye"
''')
    result = run_pytest(pytester, "--codetracer", f"--codetracer-dir={tmp_path}")
    result.assert_outcomes(failed=1)
    section = section_of(result)
    assert "went wrong at step" not in section
    assert "no confident onset found (confidence 0." in section
    assert "< 0.5): the agent may have done nothing wrong; weakest suspect: step" in section

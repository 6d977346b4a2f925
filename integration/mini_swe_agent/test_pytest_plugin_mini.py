"""The pytest plugin on a maintainer-style test suite that runs the real mini-swe-agent offline.

``pytester`` writes a test file like one of mini-swe-agent's own agent tests: each test runs mini's ``DefaultAgent``
with a ``LocalEnvironment`` that really executes the commands in a throwaway git project, driven by mini's offline
``DeterministicModel`` with the scripted answers of ``examples/generate.py`` (the failing scenario edits ``median()``
instead of the buggy ``mean()`` at step 4), then checks the project's tests like a maintainer's assertion would. The
test file knows nothing about codetracer: ``--codetracer`` alone must trace the agent, and the failing test's report
must name step 4 as the onset.
"""

from __future__ import annotations

import importlib.metadata
import os
import tempfile
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("MSWEA_SILENT_STARTUP", "1")
os.environ.setdefault("MSWEA_GLOBAL_CONFIG_DIR", str(Path(tempfile.gettempdir()) / "codetracer-tests-mswea-config"))

import pytest

pytest.importorskip("minisweagent", reason="needs mini-swe-agent (tox -e integration-miniswe)")

from codetracer.core.model import Run
from codetracer.core.store import Store
from codetracer.pytest_plugin import SECTION

pytest_plugins = ["pytester"]

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
PLUGIN_ARGS = (
    ()
    if any(ep.value == "codetracer.pytest_plugin" for ep in importlib.metadata.entry_points(group="pytest11"))
    else ("-p", "codetracer.pytest_plugin")
)

AGENT_TESTS = f'''
import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, {str(EXAMPLES)!r})
import generate  # the scenario of codetracer's bundled examples: real mini-swe-agent, scripted model
from minisweagent.agents.default import DefaultAgent
from minisweagent.environments.local import LocalEnvironment


@pytest.fixture
def project(tmp_path, monkeypatch):
    folder = tmp_path / "calc-project"
    folder.mkdir()
    (folder / "calc.py").write_text(generate.CALC_PY)
    (folder / "test_calc.py").write_text(generate.TEST_CALC_PY)
    generate.git(folder, "init", "-q")
    generate.git(folder, "add", "calc.py", "test_calc.py")
    generate.git(folder, "commit", "-q", "-m", "calc")
    monkeypatch.setenv("PATH", os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]))
    return folder


def run_agent(project, steps):
    config = generate.mini_config()
    model = generate.ScriptedModel(outputs=generate.scripted_outputs(steps), cost_per_call=0.0,
                                   observation_template=config["model"]["observation_template"])
    env = LocalEnvironment(cwd=str(project), **{{k: v for k, v in config["environment"].items() if k != "cwd"}})
    agent = DefaultAgent(model, env, **config["agent"])
    return agent.run(generate.TASK)


def project_tests_pass(project):
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=project,
                          capture_output=True, text=True)
    return done.returncode == 0


def test_agent_fixes_mean(project):
    result = run_agent(project, generate.SOLVED_STEPS)
    assert result["exit_status"] == "Submitted"
    assert project_tests_pass(project)


def test_agent_fixes_mean_even_when_misled(project):
    result = run_agent(project, generate.FAILING_STEPS)
    assert result["exit_status"] == "Submitted"
    assert project_tests_pass(project), "the agent submitted, but calc's tests still fail"
'''


@pytest.fixture
def suite(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.Pytester:
    monkeypatch.setenv("CODETRACER_PROJECT", "plugin-mini")
    monkeypatch.setenv("CODETRACER_HOME", str(tmp_path / "ct-home"))
    pytester.makepyfile(test_agent=AGENT_TESTS)
    return pytester


def test_failing_agent_test_names_the_wrong_edit(suite: pytest.Pytester, tmp_path: Path) -> None:
    out = tmp_path / "traces"
    result = suite.runpytest_subprocess(*PLUGIN_ARGS, "-p", "no:cacheprovider", "--codetracer",
                                        f"--codetracer-dir={out}")
    result.assert_outcomes(passed=1, failed=1)
    text = result.stdout.str()
    assert text.count(SECTION) == 1
    section = text[text.index(SECTION) :]
    assert "went wrong at step 4 of 13: bash: sed -i 's/return (ordered" in section  # the edit of median()
    assert "chain: 6, 8, 10" in section  # the later attempts on calc.py (their failing checks are evidence)
    assert ">> step 4" in section and "framework=mini-swe-agent" in section
    store = Store(out / "codetracer.db", project="plugin-mini")
    runs = {r.id: r for r in store.list_runs()}
    assert len(runs) == 2  # the passing test's run is kept too (--codetracer-keep=all)
    failing = next(store.load_run(i) for i in runs if store.load_run(i).metadata.get("pytest_test", "").endswith(
        "misled"))
    assert len(failing.steps) == 13 and failing.diagnosis is not None and failing.diagnosis.onset_step == 4
    trace = Run.from_json((out / "traces" / f"{failing.id.replace(':', '_')}.json").read_text())
    assert "ordered[mid + 1]" in (trace.steps[3].actions[0].command or "")  # step 4: the wrong edit of median()


def test_without_the_flag_the_suite_runs_untraced(suite: pytest.Pytester) -> None:
    result = suite.runpytest_subprocess(*PLUGIN_ARGS, "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    assert SECTION not in result.stdout.str()
    assert not (suite.path / ".codetracer").exists()

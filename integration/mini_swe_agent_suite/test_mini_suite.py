"""codetracer's pytest plugin on mini-swe-agent's own test suite, as its maintainers run it.

The suite is the vendored source's (installed editable by ``install_mini.py``, ``tox -e integration-miniswe-suite``).
Each run is a separate ``pytest`` process in mini's checkout, with codetracer's plugin loaded through its ``pytest11``
entry point like any installed plugin:

* the suite (the subset :data:`SUITE`) once without and once with ``--codetracer``: the same test ids with the same
  results (a test whose outcome differs runs again in both modes: only a difference that comes back counts, since
  some of mini's tests are sensitive to the machine), agent runs traced, nothing written into mini's checkout, and
  the overhead and the tests failing on this machine in both modes printed;
* two of mini's agent tests broken at run time by ``break_agent_tests.py`` (a wrong ``sed`` edit at step 2, a wrong
  expectation), each for the three model kinds mini tests (text, tool calls, Responses API): the section names step
  2 with the wrong edit, or says no confident onset was found for the test whose agent did nothing wrong.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import pytest

minisweagent = pytest.importorskip("minisweagent", reason="needs mini-swe-agent (tox -e integration-miniswe-suite)")

from codetracer.pytest_plugin import SECTION, _safe_name  # noqa: E402

CHECKOUT = Path(minisweagent.__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent

SUITE = ["tests", "--ignore=tests/run/test_cli_integration.py", "--ignore=tests/run/test_inspector.py",
         "--deselect=tests/run/test_swebench.py::test_redo_existing_false_skips_existing"]
"""mini's suite without its CLI ``--help`` subprocess tests and its TUI inspector tests (no agent runs, a third of
the suite's time) and the one test that downloads from huggingface.co."""

KINDS = ("text", "toolcall", "response_api")
"""The model kinds of mini's ``model_factory`` fixture: ``DeterministicModel``, ``DeterministicToolcallModel``,
``DeterministicResponseAPIToolcallModel``."""


@pytest.fixture(scope="module", autouse=True)
def mini_checkout() -> Path:
    if not (CHECKOUT / "tests" / "agents" / "test_default.py").is_file():
        pytest.skip(f"minisweagent is not installed from a source checkout with its tests ({CHECKOUT})")
    return CHECKOUT


@dataclass
class SuiteRun:
    outcomes: dict[str, str]
    seconds: float
    stdout: str
    basetemp: Path
    junit: Path


def run_suite(args: list[str], tmp: Path, *, codetracer: bool) -> SuiteRun:
    """One ``pytest`` process in mini's checkout; the outcome of each test by node id (``record_outcomes.py``)."""
    tmp.mkdir(parents=True, exist_ok=True)
    junit = tmp / "junit.xml"
    outcomes = tmp / "outcomes.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "CODETRACER_HOME"))}
    env.update(LITELLM_LOCAL_MODEL_COST_MAP="True", MSWEA_CONFIGURED="true", MSWEA_SILENT_STARTUP="1",
               MSWEA_GLOBAL_CONFIG_DIR=str(tmp / "mswea-config"), HF_HUB_OFFLINE="1", CT_OUTCOMES=str(outcomes),
               PYTHONPATH=os.pathsep.join([str(HERE), env.get("PYTHONPATH", "")]).rstrip(os.pathsep),
               PATH=os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]))
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "record_outcomes",
           f"--junitxml={junit}", f"--basetemp={tmp / 'basetemp'}", *args]
    if codetracer:
        cmd.append("--codetracer")
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=CHECKOUT, env=env, capture_output=True, text=True, timeout=900)
    seconds = time.perf_counter() - start
    assert done.returncode in (0, 1), done.stdout[-3000:] + done.stderr[-3000:]
    return SuiteRun(json.loads(outcomes.read_text()), seconds, done.stdout, tmp / "basetemp", junit)


Outcomes = dict[str, tuple[str | None, str | None]]


def differences(off: SuiteRun, on: SuiteRun) -> Outcomes:
    """Test ids whose outcome differs between two runs, with both outcomes."""
    return {test: (off.outcomes.get(test), on.outcomes.get(test))
            for test in sorted(off.outcomes.keys() | on.outcomes.keys())
            if off.outcomes.get(test) != on.outcomes.get(test)}


def reproducible_differences(off: SuiteRun, on: SuiteRun, tmp: Path) -> tuple[Outcomes, Outcomes]:
    """The differences that come back when the tests concerned run again, without and with codetracer, and the rest.

    Some of mini's tests are sensitive to the machine they run on (timeouts of subprocesses, load); one that flips
    once is the suite's, not codetracer's. A difference counts only if it shows again in a second pair of runs.
    """
    first = differences(off, on)
    if not first:
        return {}, {}
    again = differences(run_suite(list(first), tmp / "again-off", codetracer=False),
                        run_suite(list(first), tmp / "again-on", codetracer=True))
    return ({test: first[test] for test in first if test in again},
            {test: first[test] for test in first if test not in again})


def tree_listing(root: Path) -> set[str]:
    """Files and folders of mini's checkout, byte-code caches aside (Python writes those whoever runs the tests)."""
    return {str(p.relative_to(root)) for p in root.rglob("*") if "__pycache__" not in p.parts}


def traced_runs(stdout: str) -> int:
    found = re.search(r"(\d+) agent run\(s\) traced", stdout)
    assert found, stdout[-2000:]
    return int(found.group(1))


def test_suite_outcomes_are_identical_with_codetracer(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = tree_listing(CHECKOUT)
    off = run_suite(SUITE, tmp_path / "off", codetracer=False)
    on = run_suite(SUITE, tmp_path / "on", codetracer=True)

    assert len(off.outcomes) > 400, off.stdout[-2000:]
    assert off.outcomes.keys() == on.outcomes.keys(), differences(off, on)
    changed, flaky = reproducible_differences(off, on, tmp_path)
    assert not changed, f"outcomes (untraced, traced) that differ twice: {changed}"
    counts = {result: list(off.outcomes.values()).count(result) for result in ("passed", "failed", "skipped")}
    assert counts["passed"] > 400, counts
    runs = traced_runs(on.stdout)
    assert runs > 100  # mini's agent tests run DefaultAgent with its three scripted model kinds
    after = tree_listing(CHECKOUT)
    assert after == before, f"written into mini's checkout: {sorted(after - before)}, gone: {sorted(before - after)}"
    assert (on.basetemp / "codetracer" / "codetracer.db").is_file()
    failing = sorted(test for test, result in off.outcomes.items() if result == "failed")
    with capsys.disabled():
        print(f"\nmini-swe-agent suite subset: {len(off.outcomes)} tests ({counts}), {runs} agent runs traced; "
              f"wall {off.seconds:.1f} s without codetracer, {on.seconds:.1f} s with "
              f"({(on.seconds / off.seconds - 1) * 100:+.0f}%)"
              + (f"; failing on this machine with and without codetracer: {failing}" if failing else "")
              + (f"; flipped once, not again: {flaky}" if flaky else ""))


@pytest.fixture(scope="module")
def broken(tmp_path_factory: pytest.TempPathFactory) -> SuiteRun:
    """mini's agent tests with the two broken tests (``break_agent_tests.py``), under ``--codetracer``."""
    return run_suite(["tests/agents/test_default.py", "-p", "break_agent_tests"],
                     tmp_path_factory.mktemp("broken"), codetracer=True)


def section(run: SuiteRun, test: str) -> str:
    """The codetracer section of ``test`` as the report file and the terminal have it."""
    report = run.basetemp / "codetracer" / "reports" / (_safe_name(test) + ".txt")
    assert report.is_file(), run.stdout[-3000:]
    text = report.read_text()
    assert text.split("\n", 2)[2].strip() in run.stdout.replace("\r", "")
    assert SECTION in run.stdout
    return text


@pytest.mark.parametrize("kind", KINDS)
def test_wrong_edit_is_named_for_every_model_kind(broken: SuiteRun, kind: str) -> None:
    test = f"tests/agents/test_default.py::test_multiple_steps_before_completion[{kind}]"
    assert broken.outcomes[f"tests/agents/test_default.py::test_multiple_steps_before_completion[{kind}]"] == "failed"
    text = section(broken, test)
    assert re.search(r"^went wrong at step 2 of 4: bash: sed -i 's/no/every/' \S+summary\.txt$", text, re.M), text
    assert "chain:" in text
    assert "never verified" not in text  # step 3 checks the edit and fails: the reasoning says so
    assert "the check of the edited file at step 3 fails" in text
    # the section is the test case's <system-out> in the JUnit XML, which CI viewers show
    case = next(c for c in ET.parse(broken.junit).getroot().iter("testcase")
                if c.get("name") == f"test_multiple_steps_before_completion[{kind}]")
    out = case.find("system-out")
    assert out is not None and out.text is not None
    assert SECTION in out.text and "went wrong at step 2 of 4: bash: sed -i 's/no/every/'" in out.text


@pytest.mark.parametrize("kind", KINDS)
def test_wrong_expectation_gets_no_confident_onset(broken: SuiteRun, kind: str) -> None:
    test = f"tests/agents/test_default.py::test_successful_completion[{kind}]"
    assert broken.outcomes[f"tests/agents/test_default.py::test_successful_completion[{kind}]"] == "failed"
    text = section(broken, test)
    assert "went wrong at step" not in text
    assert re.search(r"^no confident onset found", text, re.M), text


def test_the_breaks_are_the_only_failures(broken: SuiteRun, tmp_path: Path) -> None:
    """The other agent tests pass with the plugin loaded, and with the right edit the edit test passes too."""
    failed = sorted(t for t, r in broken.outcomes.items() if r == "failed")
    assert failed == sorted(
        [f"tests/agents/test_default.py::test_multiple_steps_before_completion[{k}]" for k in KINDS]
        + [f"tests/agents/test_default.py::test_successful_completion[{k}]" for k in KINDS]
    )
    os.environ["CT_BREAK_RIGHT_EDIT"] = "1"
    try:
        right = run_suite(["tests/agents/test_default.py", "-p", "break_agent_tests", "-k",
                           "test_multiple_steps_before_completion"], tmp_path, codetracer=True)
    finally:
        del os.environ["CT_BREAK_RIGHT_EDIT"]
    assert set(right.outcomes.values()) == {"passed"} and len(right.outcomes) == len(KINDS)

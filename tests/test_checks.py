"""A live verifier's output is kept (``codetracer.core.checks``): the command, exit code and output reach the run's
verification node through the ``codetracer_verification`` hook, are stored and shown, and are the localizer's
evidence; a verifier that cannot run is a verifier error, never a crash and never "the agent failed".

The verifiers here are real commands (a real pytest run on a real project folder); the run is played through the
events API as a live adapter plays it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from codetracer.core import checks, config
from codetracer.core.checks import Check, CommandCheck
from codetracer.core.store import Store
from codetracer.core.tracer import Tracer
from codetracer.localize.signal_localizer import SignalLocalizer
from codetracer.replay.policy import RetryPolicy

PYTEST = f"{sys.executable} -m pytest -q -p no:cacheprovider"


def project(folder: Path) -> Path:
    """calc.py after the agent's wrong edit (``round`` the sum) and the test it fails."""
    folder.mkdir()
    (folder / "calc.py").write_text("def mean(values):\n    return round(sum(values)) / (len(values) - 1)\n")
    (folder / "test_calc.py").write_text(
        "import calc\n\n\ndef test_mean():\n    assert calc.mean([1, 2, 3, 4]) == 2.5\n")
    return folder


def play_untested_fix(tracer: Tracer, run_id: str, check: Check | None) -> None:
    """Read, a wrong ``sed`` edit, submit without testing; then the verifier's check, then the run's end."""
    ev = tracer.events
    ev.run_started(run_id, "demo", task="Fix calc.mean so that test_calc.py passes.")
    steps = [("cat calc.py", "def mean(values): ...", 0),
             ("sed -i 's/sum(values)/round(sum(values))/' calc.py", "", 0),
             ("echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT", "", 0)]
    for n, (command, output, code) in enumerate(steps, 1):
        ev.step_started(run_id, str(n))
        ev.tool_call_started(run_id, str(n), f"c{n}", "bash", command=command)
        ev.tool_call_finished(run_id, f"c{n}", output=output, exit_code=code)
        ev.step_finished(run_id, str(n))
    if check is not None:
        check.emit(ev, run_id)
    ev.run_finished(run_id, {True: "solved", False: "failed", None: "unknown"}[checks.judged(check)])


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "codetracer", *args], capture_output=True, text=True,
                          env=os.environ.copy())


def test_a_failing_pytest_verifier_is_kept_shown_and_names_the_wrong_edit(home: Path, tmp_path: Path) -> None:
    check = CommandCheck(PYTEST, cwd=project(tmp_path / "calc"))()
    assert (check.passed, check.exit_code, check.error, check.command) == (False, 1, None, PYTEST)
    assert check.output is not None and "FAILED test_calc.py::test_mean" in check.output

    tracer = Tracer(home, load_plugins=False)
    play_untested_fix(tracer, "live:untested:1", check)
    assert tracer.flush()
    (run,) = tracer.runs
    tracer.close()
    v = run.verification
    assert v is not None and (v.verifier, v.passed, v.command, v.exit_code) == (PYTEST, False, PYTEST, 1)
    assert v.failed_tests == ["test_calc.py::test_mean"] and v.output is not None and "2.5" in v.output.text
    # the failing verification is evidence on the edit it judged: the onset is the wrong sed, not the read
    assert run.diagnosis is not None and run.diagnosis.onset_step == 2
    assert ("verifier_fails", 2) in {(e.signal, e.step_id) for e in run.diagnosis.evidence}
    assert "test_calc.py::test_mean" in (run.diagnosis.suggestion or "")

    store = Store(config.store_path(home), project="tests")
    assert store.load_run(run.id).verification == v
    store.close()
    shown = cli("show", run.id)
    assert f"verification ({PYTEST}): failed (exit 1): 1 failed (test_calc.py::test_mean)" in shown.stdout
    assert ">> step 2" in shown.stdout
    as_json = json.loads(cli("show", run.id, "--json").stdout)
    assert as_json["verification"]["exit_code"] == 1 and as_json["verification"]["command"] == PYTEST
    assert "FAILED test_calc.py::test_mean" in as_json["verification"]["output_tail"]
    report = cli("report", run.id, "-o", str(tmp_path / "r.html"))
    assert report.returncode == 0, report.stderr
    html = (tmp_path / "r.html").read_text()
    assert '"exit_code":1' in html and "FAILED test_calc.py::test_mean" in html


def test_without_the_verifier_output_the_wrong_edit_is_a_weaker_guess(home: Path, tmp_path: Path) -> None:
    """The same run judged by a bare ``False``: no output to point at the file, so less confidence."""
    tracer = Tracer(home, load_plugins=False, diagnose=False)
    play_untested_fix(tracer, "live:bare:1", Check("verify=tests_pass", False))
    play_untested_fix(tracer, "live:kept:1", CommandCheck(PYTEST, cwd=project(tmp_path / "calc"))())
    assert tracer.flush()
    bare, kept = (SignalLocalizer().localize(r) for r in tracer.runs)
    tracer.close()
    assert "verifier_fails" not in {e.signal for e in bare.evidence}
    assert kept.onset_step == 2 and kept.confidence > bare.confidence


@pytest.mark.parametrize(
    ("command", "says"),
    [
        ("no-such-verifier-command -q", "the command was not found (exit 127)"),
        (f"{sys.executable} -m no_such_test_runner", "no_such_test_runner is not installed where the verifier runs"),
    ],
    ids=["command-not-found", "module-missing"],
)
def test_a_verifier_that_cannot_run_is_a_verifier_error(home: Path, tmp_path: Path, command: str, says: str) -> None:
    check = CommandCheck(command, cwd=tmp_path)()
    assert check.passed is None and check.error is not None and check.error.startswith(says)

    tracer = Tracer(home, load_plugins=False)
    play_untested_fix(tracer, "live:broken:1", check)
    assert tracer.flush()
    (run,) = tracer.runs
    tracer.close()
    assert str(run.outcome) == "unknown" and run.diagnosis is None  # nothing says the agent failed
    v = run.verification
    assert v is not None and v.passed is None and v.output is not None
    assert v.output.text.startswith(f"verifier error: {says}")
    assert f"verification ({command}): verifier error: {says}" in cli("show", run.id).stdout


def test_a_verify_callable_that_raises_is_reported_not_raised() -> None:
    def tests_pass(result: object) -> bool:
        raise FileNotFoundError("pytest.ini")

    check = checks.call(tests_pass, {"exit_status": "Submitted"})
    assert check is not None and check.passed is None
    assert check.verifier.startswith("verify=") and check.verifier.endswith("tests_pass")
    assert check.error == "the verifier raised FileNotFoundError: pytest.ini"
    assert check.output is not None and "in tests_pass" in check.output  # where it broke


def test_what_a_verify_callable_may_answer(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", "import sys; print('2 failed'); sys.exit(1)"],
                          capture_output=True, text=True)
    kept = checks.interpret(done, "verify=fn")
    assert kept is not None and (kept.passed, kept.exit_code, kept.output) == (False, 1, "2 failed\n")
    assert kept.command is not None and kept.command.startswith(f"{sys.executable} -c ")
    assert checks.interpret(True, "verify=fn") == Check("verify=fn", True)
    assert checks.interpret(None, "verify=fn") is None
    assert checks.interpret("yes", "verify=fn") is None  # an unknown answer is no verdict ...
    assert checks.interpret("yes", "verify=fn", truthy=True) == Check("verify=fn", True)  # ... unless told
    slow = CommandCheck(f"{sys.executable} -c 'import time; time.sleep(5)'", cwd=tmp_path, timeout=0.3)()
    assert slow.passed is None and slow.error == "the command did not finish within 0.3 s"
    gone = CommandCheck("true", cwd=tmp_path / "missing")()
    assert gone.passed is None and gone.error is not None and gone.error.startswith("the command could not start")


def test_auto_retry_verdicts_carry_the_check_and_a_verifier_error_is_no_agent_failure(tmp_path: Path) -> None:
    policy = RetryPolicy(verify=PYTEST)
    rejected = policy.judge(result=None, error=None, exit_status="Submitted", agent_failed=False,
                            workspace=project(tmp_path / "calc"))
    assert (rejected.kind, rejected.outcome) == ("verify", "failed")
    assert rejected.check is not None and rejected.check.exit_code == 1 and "FAILED" in (rejected.check.output or "")
    broken = RetryPolicy(verify="no-such-verifier-command").judge(
        result=None, error=None, exit_status="Submitted", agent_failed=False, workspace=tmp_path)
    assert (broken.kind, broken.outcome) == ("verifier_error", "unknown")
    assert broken.reason.startswith("the command was not found (exit 127)")

"""A failed live run is diagnosed when it ends and stored with its diagnosis; stored runs can be judged and
diagnosed later (``codetracer verdict``, ``codetracer diagnose``, ``codetracer.verdict``).

The live run is the project's own failing mini-swe-agent example (``examples/runs/failing.traj.json``: a wrong
``sed`` edit at step 4, attempts that keep failing, a kept change at step 8) played step by step through the events
API, so the live tree and the offline one hold the same commands, outputs and exit codes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import codetracer
from codetracer.core import config
from codetracer.core.extract import Failure, extract_all
from codetracer.core.model import Outcome, Run
from codetracer.core.store import Store
from codetracer.core.tracer import Tracer
from codetracer.hooks.specs import hookimpl

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "runs" / "failing.traj.json"
RUN_ID = "live:failing:1"


def offline_example() -> Run:
    (run,) = [r for r in extract_all(EXAMPLE) if not isinstance(r, Failure)]
    return run


def play(tracer: Tracer, run: Run, outcome: str, run_id: str = RUN_ID) -> None:
    """Emit ``run``'s steps (command, output, exit code of each tool call) as a live adapter would."""
    ev = tracer.events
    ev.run_started(run_id, "demo", task=run.task)
    for step in run.steps:
        key = str(step.id)
        ev.step_started(run_id, key)
        for n, call in enumerate(step.tool_calls):
            assert call.action is not None
            call_id = f"{key}.{n}"
            ev.tool_call_started(run_id, key, call_id, call.action.tool, command=call.action.command,
                                 arguments=call.action.arguments)
            obs = call.observation
            ev.tool_call_finished(run_id, call_id, output=obs.text.text if obs and obs.text else None,
                                  exit_code=obs.exit_code if obs else None)
        ev.step_finished(run_id, key)
    ev.run_finished(run_id, outcome)


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "codetracer", *args], capture_output=True, text=True,
                          env=os.environ.copy())


def stored(home: Path, run_id: str = RUN_ID) -> Run:
    store = Store(config.store_path(home), project="tests")
    try:
        return store.load_run(run_id)
    finally:
        store.close()


def test_a_run_that_ends_failed_is_stored_with_its_diagnosis(home: Path) -> None:
    tracer = Tracer(home, load_plugins=False)
    play(tracer, offline_example(), "failed")
    assert tracer.flush()
    (live,) = tracer.runs
    assert live.diagnosis is not None and live.diagnosis.onset_step == 4
    assert live.diagnosis.chain == [6, 8, 10]
    tracer.close()

    again = stored(home)
    assert again.diagnosis == live.diagnosis
    ls = run_cli("ls")
    (row,) = [line for line in ls.stdout.splitlines() if line.startswith(RUN_ID)]
    assert row.split()[-1] == "4"  # the onset column
    shown = run_cli("show", RUN_ID)
    assert "diagnosis (signals, confidence 0.55): onset step 4, chain 6, 8, 10" in shown.stdout
    as_json = json.loads(run_cli("show", RUN_ID, "--json").stdout)
    assert as_json["diagnosis"]["onset_step"] == 4


def test_a_run_of_unknown_outcome_gets_its_verdict_later_and_then_its_diagnosis(home: Path) -> None:
    tracer = Tracer(home, load_plugins=False)
    play(tracer, offline_example(), "unknown")
    tracer.close()
    assert stored(home).diagnosis is None

    out = run_cli("verdict", RUN_ID[:8], "fail", "--by", "CI job 7", "--json")
    assert out.returncode == 0, out.stderr
    answer = json.loads(out.stdout)
    assert answer["outcome"] == "failed" and answer["diagnosis"]["onset_step"] == 4
    run = stored(home)
    assert run.outcome is Outcome.FAILED and run.diagnosis is not None and run.diagnosis.onset_step == 4
    assert run.metadata["verdict"]["by"] == "CI job 7" and run.metadata["verdict"]["before"] == "unknown"
    assert run_cli("ls").stdout.count(RUN_ID) == 1

    # judged solved after all (a flaky CI job): the diagnosis without a confident onset goes
    solved = codetracer.verdict(RUN_ID, "passed", home=home, project="tests")
    assert solved.outcome is Outcome.SOLVED
    assert solved.diagnosis is None or solved.diagnosis.confidence >= 0.5
    assert stored(home).outcome is Outcome.SOLVED


def test_diagnose_reruns_a_localizer_on_a_stored_run(home: Path) -> None:
    tracer = Tracer(home, load_plugins=False, diagnose=False)
    play(tracer, offline_example(), "failed")
    tracer.close()
    assert stored(home).diagnosis is None  # diagnose=False: stored as it ended

    out = run_cli("diagnose", RUN_ID)
    assert out.returncode == 0, out.stderr
    assert "onset step 4" in out.stdout and ">> step 4" in out.stdout
    assert stored(home).diagnosis is not None

    out = run_cli("diagnose", RUN_ID, "--localizer", "no-such-localizer")
    assert out.returncode == 2 and "no localizer named 'no-such-localizer'" in out.stderr
    assert "Traceback" not in out.stderr
    out = run_cli("verdict", RUN_ID, "maybe")
    assert out.returncode == 2 and "expected one of failed, solved, unknown" in out.stderr
    out = run_cli("diagnose", "no-such-run")
    assert out.returncode == 2 and "no stored run" in out.stderr


def test_report_of_a_stored_failed_run_shows_its_diagnosis(home: Path, tmp_path: Path) -> None:
    tracer = Tracer(home, load_plugins=False, diagnose=False)
    play(tracer, offline_example(), "failed")
    tracer.close()
    out = run_cli("report", RUN_ID, "-o", str(tmp_path / "r.html"))
    assert out.returncode == 0, out.stderr
    html = (tmp_path / "r.html").read_text()
    assert '"diagnosis":{"localizer":"signals","onset":4,' in html  # the data the page renders it from


class Answering:
    """A plugin with its own on-failure answer: it wins over the built-in localizer."""

    @hookimpl
    def codetracer_on_failure(self, run: Run, attempt: int) -> codetracer.Diagnosis:
        return codetracer.Diagnosis(localizer="mine", onset_step=1, confidence=0.9)


class Broken:
    @hookimpl
    def codetracer_on_failure(self, run: Run, attempt: int) -> None:
        raise RuntimeError("localizer crashed")


def test_the_tracers_own_plugins_answer_first_and_a_broken_one_is_isolated(home: Path) -> None:
    tracer = Tracer(home, load_plugins=False)
    tracer.pm.register(Answering(), name="answering")
    play(tracer, offline_example(), "failed")
    assert tracer.flush()
    assert tracer.runs[-1].diagnosis is not None and tracer.runs[-1].diagnosis.localizer == "mine"
    tracer.close()

    tracer = Tracer(home, load_plugins=False)
    tracer.pm.register(Broken(), name="broken")
    play(tracer, offline_example(), "failed", run_id="live:failing:2")
    assert tracer.flush()
    run = tracer.runs[-1]
    assert run.diagnosis is not None and run.diagnosis.localizer == "signals"  # the built-in answer after it
    tracer.close()
    assert stored(home, "live:failing:2").diagnosis is not None


def test_no_diagnosis_for_runs_that_did_not_fail(home: Path) -> None:
    tracer = Tracer(home, load_plugins=False)
    play(tracer, offline_example(), "solved")
    assert tracer.flush()
    assert tracer.runs[-1].diagnosis is None
    tracer.close()

"""The verifier as part of the run: SWE-bench reports and terminal-bench test logs read into ``Run.verification``,
and what their output says (failing tests, files in tracebacks, missing files and modules)."""

from __future__ import annotations

from pathlib import Path

from codetracer.core.extract import Failure, extract_all
from codetracer.core.model import Run
from codetracer.core.verifier import file_of_test, read_output

ATIF = "corpora/atif-terminal-bench-2"


def one_run(path: Path) -> Run:
    (run,) = [r for r in extract_all(path) if not isinstance(r, Failure)]
    return run


def test_a_swe_bench_report_becomes_the_runs_verification(shared: Path) -> None:
    run = one_run(shared / "corpora/miniswe-swebench-verified/django__django-11999")
    v = run.verification
    assert v is not None and v.verifier == "SWE-bench report.json" and v.passed is False
    assert v.failed_tests == ["test_overriding_FIELD_display (model_fields.tests.GetFieldDisplayTests)"]
    assert len(v.passed_tests) == 30
    solved = one_run(shared / "corpora/miniswe-swebench-verified/astropy__astropy-12907")
    assert solved.verification is not None and solved.verification.passed is True
    assert solved.verification.failed_tests == []


def test_a_terminal_bench_test_log_becomes_the_runs_verification(shared: Path) -> None:
    run = one_run(shared / ATIF / "headless-terminal__bemYu3W")
    v = run.verification
    assert v is not None and v.verifier == "terminal-bench tests" and v.passed is False
    assert v.output is not None and "ModuleNotFoundError" in v.output.text
    assert len(v.failed_tests) == 7 and v.failed_tests[0] == "../tests/test_outputs.py::test_import"
    found = read_output(v.output.text)
    assert found.missing_modules == ["pexpect"]
    assert "headless_terminal.py" in found.files and "/tests/test_outputs.py" in found.files


def test_missing_deliverables_and_error_lines(shared: Path) -> None:
    run = one_run(shared / ATIF / "pytorch-model-cli__nacnuCT")
    assert run.verification is not None and run.verification.output is not None
    found = read_output(run.verification.output.text)
    assert any(p.endswith("prediction.txt") for p in found.missing_files)
    assert len(run.verification.passed_tests) == 3  # weights file, cli tool exists, executable
    text = "FAIL: test_x (app.tests.ModelTests)\nTraceback (most recent call last):\n" \
           '  File "/repo/app/models.py", line 12, in save\nValueError: bad value\n'
    found = read_output(text)
    assert found.failed_tests == ["app.tests.ModelTests.test_x"]
    assert found.files == {"/repo/app/models.py": [12]}
    assert found.errors == ["ValueError: bad value"]


def test_test_ids_map_to_their_files() -> None:
    assert file_of_test("tests/utils/test_a.py::TestB::test_c[1]") == "tests/utils/test_a.py"
    assert file_of_test("../tests/test_outputs.py::test_import") == "tests/test_outputs.py"
    django_id = "test_overriding_FIELD_display (model_fields.tests.GetFieldDisplayTests)"
    assert file_of_test(django_id) == "model_fields/tests.py"
    assert file_of_test("model_fields.tests.GetFieldDisplayTests.test_x") == "model_fields/tests.py"
    assert file_of_test("test_alone") is None


def test_the_verification_survives_the_journal(shared: Path, tmp_path: Path) -> None:
    """A live run's verification goes through the journal like every event: recovery rebuilds it."""
    from codetracer.core.events import Events
    from codetracer.core.journal import Journal, read_ops
    from codetracer.core.runlog import RunLog, build_tree

    journal = Journal(tmp_path)
    log = RunLog(lambda *finished: None, journal)
    ev = Events(type("Relay", (), {"positional": True, **{
        name: getattr(log, name) for name in dir(log) if name.startswith("codetracer_")}})())
    ev.run_started("r", "demo", task="fix it")
    ev.verification("r", "pytest -q", passed=False, command="pytest -q", exit_code=1, output="1 failed",
                    failed_tests=["t.py::test_a"], passed_tests=["t.py::test_b"])
    path = journal.path_of("r")
    assert path is not None
    journal.close("r", delete=False)
    ops, torn = read_ops(path)
    assert torn == 0
    from codetracer.core.builder import to_run

    run = to_run(build_tree(ops))
    v = run.verification
    assert v is not None and (v.verifier, v.passed, v.exit_code, v.failed_tests) == (
        "pytest -q", False, 1, ["t.py::test_a"]
    )
    assert v.output is not None and v.output.text == "1 failed"

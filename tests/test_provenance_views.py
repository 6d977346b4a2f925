"""Where a person sees edit provenance and the verifier: the text tree, ``--json`` and the HTML report.

The run is a real failed SWE-bench run of ../shared (django-11149): its submission comes from a script written at
step 28 and run at step 29, and the SWE-bench report names the failing tests.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from codetracer.cli import main
from codetracer.core.extract import Failure, extract_all
from codetracer.core.model import Run
from codetracer.core.render import render_step, render_text, run_to_json_obj
from codetracer.localize.signal_localizer import SignalLocalizer
from codetracer.report.html import report_data

RUN = "corpora/miniswe-swebench-verified/django__django-11149"


def diagnosed(shared: Path) -> Run:
    (run,) = [r for r in extract_all(shared / RUN) if not isinstance(r, Failure)]
    run.diagnosis = SignalLocalizer().localize(run)
    return run


def test_the_tree_marks_kept_steps_and_shows_the_patch_and_the_verifier(shared: Path) -> None:
    text = render_text(diagnosed(shared), width=140)
    assert re.search(r"^  >> step 28 \[kept\]", text, re.M)  # the onset, whose script the submission holds
    assert re.search(r"^   > step 29 \[kept\]", text, re.M)
    assert "final patch (submission): django/contrib/admin/options.py +21/-3 (step 28)" in text
    assert "verification (SWE-bench report.json): failed: 2 failed (" in text
    whole = render_step(diagnosed(shared), 29)
    assert "changes django/contrib/admin/options.py (script, via the script of step 28): kept" in whole


def test_json_lines_carry_changes_provenance_and_verification(shared: Path) -> None:
    obj = json.loads(json.dumps(run_to_json_obj(diagnosed(shared))))
    step29 = obj["steps"][28]
    assert step29["changes"] == [
        {"path": "django/contrib/admin/options.py", "how": "script", "fate": "survives", "via_step": 28,
         "in_patch": 0}
    ]
    assert obj["provenance"]["surviving_steps"] == [28] and obj["provenance"]["patch_source"] == "submission"
    assert obj["verification"]["passed"] is False and len(obj["verification"]["failed_tests"]) == 2
    assert obj["diagnosis"]["onset_step"] == 28


def test_the_report_carries_the_patch_the_verifier_and_step_fates(shared: Path) -> None:
    data = report_data(diagnosed(shared))
    assert data["steps"][27]["kept"] == "kept" and data["steps"][0]["kept"] == ""
    assert data["patch"]["source"] == "submission"
    assert data["patch"]["files"][0]["authors"] == [28]
    assert data["verification"]["passed"] is False and data["verification"]["n_failed"] == 2


def test_analyze_json_from_the_command_line(shared: Path, home: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["analyze", str(shared / RUN), "--json", "--no-store"]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    obj = json.loads(line)
    assert obj["provenance"]["surviving_steps"] == [28] and obj["diagnosis"]["onset_step"] == 28

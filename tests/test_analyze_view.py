"""`analyze` of many runs: a line per run (what the store holds for it), trees on request, every run stored once."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from codetracer.cli.analyze import ID_WIDTH, RunLines
from codetracer.core.store import Store
from codetracer.core.text import short_task

INSTANCES = ["astropy__astropy-12907", "astropy__astropy-13033", "django__django-10880", "django__django-10999"]


def corpus(shared: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "runs"
    for name in INSTANCES:
        shutil.copytree(shared / "corpora" / "miniswe-swebench-verified" / name, folder / name)
    return folder


def analyze(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, COLUMNS="200")
    command = [sys.executable, "-m", "codetracer", "analyze", *args]
    out = subprocess.run(command, capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    return out


def test_many_runs_get_one_line_each_matching_the_store(shared: Path, tmp_path: Path, home: Path) -> None:
    folder = corpus(shared, tmp_path)
    for jobs in ("2", "1"):  # workers hand back store rows, or the trees come here: the same lines
        out = analyze(str(folder), "-j", jobs).stdout
        lines = out.splitlines()
        assert lines[0].split() == ["RUN", "FRAMEWORK", "OUTCOME", "STEPS", "ONSET", "CONF", "TASK"]
        store = Store(home / "codetracer.db", project="tests")
        stored = store.list_runs()
        assert len(stored) == len(INSTANCES)  # analyzing twice replaced the runs, duplicated none
        by_id = {line.split()[0]: line for line in lines[1 : 1 + len(INSTANCES)]}
        assert set(by_id) == {r.id for r in stored}
        for summary in stored:
            run = store.load_run(summary.id)
            cells = by_id[run.id].split()
            assert cells[1:4] == [run.framework, run.outcome.value, str(len(run.steps))]
            if run.diagnosis is not None and run.diagnosis.onset_step is not None:
                assert cells[4:6] == [str(run.diagnosis.onset_step), f"{run.diagnosis.confidence:.2f}"]
        assert "Modeling's `separability_matrix` does not" in by_id[next(i for i in by_id if "12907" in i)]
        assert "stage 1" not in out and "summary" in out


def test_trees_on_request_and_for_one_artifact(shared: Path, tmp_path: Path, home: Path) -> None:
    folder = corpus(shared, tmp_path)
    assert analyze(str(folder), "--tree", "--no-store").stdout.count("\nrun mini-swe-agent:") + 1 == len(INSTANCES)
    one = analyze(str(folder / INSTANCES[0])).stdout
    assert one.startswith("run mini-swe-agent:astropy__astropy-12907") and "stage 1" in one


def test_short_task_says_what_the_task_is_about() -> None:
    task = "<pr_description>\nConsider the following PR description:\nModeling's `separability_matrix` is wrong\n"
    assert short_task(task, 80) == "Modeling's `separability_matrix` is wrong"
    assert short_task("Fix: a bug", 80) == "Fix: a bug"
    assert short_task("x" * 50, 10) == "x" * 9 + "\u2026"
    assert short_task(None, 10) == ""


def test_a_run_id_longer_than_its_column_gets_a_line_of_its_own_and_the_columns_stay() -> None:
    import io
    from types import SimpleNamespace

    out = io.StringIO()
    lines = RunLines(out, color=False)
    row = {"framework": "mini-swe-agent", "outcome": "failed", "n_steps": 12, "onset_step": 3, "confidence": 0.7,
           "task": "Fix the parser"}
    long_id = "mini-swe-agent:" + "x" * 60
    lines.print(SimpleNamespace(id="short", **row))
    lines.print(SimpleNamespace(id=long_id, **row))
    header, first, own, second = out.getvalue().splitlines()
    assert own == long_id, "the id is whole, never cut"
    assert second.startswith(" " * ID_WIDTH) and second[ID_WIDTH:] == first[ID_WIDTH:]
    assert header.index("FRAMEWORK") == first.index("mini-swe-agent") == second.index("mini-swe-agent")

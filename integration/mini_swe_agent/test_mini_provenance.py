"""Edit provenance of a live mini-swe-agent run: the real agent loop, its real LocalEnvironment running every command
in a throwaway git project, only the model scripted (mini's DeterministicModel).

The scripted run does what real agents do: writes an edit script in one step and runs it in the next, makes an edit
it later throws away with ``git checkout``, stashes and pops its work around a test run, and submits with
``git diff``. The live tree must say which step wrote what the final patch holds, and the saved trajectory must
give the same blame offline.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from mini_answers import SUBMIT, TASK, answer
from test_mini_live import make_agent, offline, only_run, verified_by_tests

import codetracer
from codetracer.core.model import Run
from codetracer.core.tracer import Tracer
from codetracer.localize.signal_localizer import SignalLocalizer

SCRIPT = """cat <<'EOF' > fix_mean.py
from pathlib import Path
source = Path("calc.py")
text = source.read_text()
source.write_text(text.replace("return sum(values) / (len(values) - 1)",
                               "return round(sum(values) / (len(values) - 1), 2)"))
EOF"""

STEPS = [
    ("Read the code.", "cat calc.py"),
    ("Try a docstring tweak first.", "sed -i 's/Arithmetic mean/Average/' calc.py"),
    ("That was not it; throw it away.", "git checkout -- calc.py"),
    ("Write a script that rounds the result.", SCRIPT),
    ("Run it.", "python fix_mean.py && rm fix_mean.py"),
    ("Check the tests with and without my change.",
     "git stash && git stash pop && python -m pytest -q -p no:cacheprovider || true"),
    ("Show the patch.", "git diff"),
    ("Submit.", SUBMIT),
]


@pytest.fixture
def git_project(project: Path) -> Path:
    for command in (["git", "init", "-q"], ["git", "add", "-A"],
                    ["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "start"]):
        subprocess.run(command, cwd=project, check=True)
    return project


def changes(run: Run, step: int) -> dict[str, str | None]:
    return {c.path: c.fate for c in run.step(step).changes}


def test_live_blame_of_the_final_patch(git_project: Path, tracer: Tracer, tmp_path: Path) -> None:
    agent = make_agent(git_project, [answer(t, c) for t, c in STEPS])
    codetracer.trace(agent, tracer=tracer, verify=lambda result: verified_by_tests(git_project))
    agent.run(TASK)
    live = only_run(tracer)
    assert str(live.outcome) == "failed" and len(live.steps) == 8

    prov = live.provenance
    assert prov is not None and prov.patch_source == "git diff at step 7"
    (patched,) = prov.files
    assert patched.path == "calc.py" and patched.authors == [4]
    assert prov.surviving_steps == [4] and prov.applied_steps == [5]
    assert prov.reverted_steps == [2]  # the docstring edit, thrown away by git checkout at step 3
    assert changes(live, 2) == {"calc.py": "reverted"}
    assert changes(live, 5) == {"calc.py": "survives"}  # stash + pop at step 6 gives the change back
    assert live.step(5).changes[0].via_step == 4

    diagnosis = SignalLocalizer().localize(live)
    assert diagnosis.onset_step == 4 and 5 in diagnosis.incorrect_step_ids
    assert diagnosis.confidence >= 0.5

    saved = tmp_path / "out" / "provenance.traj.json"
    agent.save(saved)
    again = offline(saved)
    assert again.provenance is not None
    assert again.provenance.surviving_steps == prov.surviving_steps
    assert [s.changes for s in again.steps] == [s.changes for s in live.steps]

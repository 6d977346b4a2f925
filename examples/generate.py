"""Produce codetracer's bundled example runs with the real mini-swe-agent, offline.

The two trajectories in ``examples/runs/`` are genuine artifacts of mini-swe-agent: its ``DefaultAgent`` drives a
``LocalEnvironment`` that really executes every command in a throwaway project, and the agent's own ``save()``
writes the ``.traj.json``. Only the language model is replaced: mini-swe-agent's offline test model
(``minisweagent.models.test_models.DeterministicModel``) replays the scripted assistant messages below, so no API key
and no network are needed and every observation (``ls``, ``pytest``, tracebacks, ``git diff``) is real output.

* ``failing.traj.json`` -- a FAILED run: the agent anchors on the words "even number of elements" in the issue,
  edits ``median()`` instead of the buggy ``mean()`` (step 4, the decisive wrong step), and every later step builds
  on that mistake (a recursion error on the way) until it submits with a test still failing.
* ``solved.traj.json`` -- a SOLVED run: reproduce, read ``mean()``, fix the divisor, tests pass, submit.

After each run the tests are run once more outside the agent (like a SWE-bench evaluation) and the verdicts are
written to ``examples/runs/report.json`` in the SWE-bench summary shape (``resolved_ids`` / ``unresolved_ids``); the
mini-swe-agent extractor reads it to know each run's outcome.

Usage, from the repository root::

    python3 -m venv .venv-examples          # any CPython 3.11+ (git must be on PATH)
    .venv-examples/bin/pip install "mini-swe-agent>=2.4.6,<2.5" "pytest>=8,<9"
    .venv-examples/bin/python examples/generate.py [--out examples/runs]

The throwaway projects live in ``$TMPDIR/codetracer-examples/`` (``/tmp/...`` on Linux), so the only paths the
saved files contain are temporary ones. Between regenerations only timestamps, the dates in ``ls -la``, object
addresses in pytest's messages and the system line (``uname``) of the task prompt change; the steps and
the test results do not.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# mini-swe-agent imports litellm, which fetches its model cost map from the network unless told not to; mini itself
# prints a banner and creates its global config dir on import: keep both quiet and out of the user's home.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("MSWEA_SILENT_STARTUP", "1")
os.environ.setdefault("MSWEA_GLOBAL_CONFIG_DIR", str(Path(tempfile.gettempdir()) / "codetracer-examples-mswea-config"))

import minisweagent
import yaml
from minisweagent.agents.default import DefaultAgent
from minisweagent.config import get_config_path
from minisweagent.environments.local import LocalEnvironment
from minisweagent.models.litellm_textbased_model import LitellmTextbasedModelConfig
from minisweagent.models.test_models import DeterministicModel, make_output
from minisweagent.models.utils.actions_text import parse_regex_actions

MINI_CONFIG = "mini_textbased"
"""The config of mini's text-based (no tool calls) mode: ```` ```mswea_bash_command ```` blocks, submission by
``echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT``."""

WORK_ROOT = Path(tempfile.gettempdir()) / "codetracer-examples"

# ----------------------------------------------------------------------------------------------------------------------
# The throwaway project: mean() divides by the wrong count.
# ----------------------------------------------------------------------------------------------------------------------

CALC_PY = '''\
"""Small statistics helpers."""


def mean(values):
    """Arithmetic mean of a non-empty sequence of numbers."""
    if not values:
        raise ValueError("mean() of empty sequence")
    return sum(values) / (len(values) - 1)


def median(values):
    """Middle value of a non-empty sequence (the average of the two middle values for even-length input)."""
    if not values:
        raise ValueError("median() of empty sequence")
    ordered = sorted(values)
    mid = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[mid]
    return (ordered[mid - 1] + ordered[mid]) / 2


def variance(values):
    """Population variance of a non-empty sequence of numbers."""
    m = mean(values)
    return sum((v - m) ** 2 for v in values) / len(values)
'''

TEST_CALC_PY = '''\
import pytest

import calc


def test_mean_even_length():
    assert calc.mean([1, 2, 3, 4]) == 2.5


def test_mean_odd_length():
    assert calc.mean([2, 4, 9]) == 5


def test_mean_empty():
    with pytest.raises(ValueError):
        calc.mean([])


def test_median_odd_length():
    assert calc.median([3, 1, 2]) == 2


def test_median_even_length():
    assert calc.median([4, 1, 3, 2]) == 2.5


def test_variance():
    assert calc.variance([1, 2, 3, 4]) == 1.25
'''

TASK = (
    "The average computed by calc is wrong for lists with an even number of elements: for [1, 2, 3, 4] we get "
    "3.3333333333333335 instead of 2.5. Please fix calc.py so that the tests in test_calc.py pass "
    "(do not modify the tests)."
)

# ----------------------------------------------------------------------------------------------------------------------
# The scripted assistant messages: (thought, command) per step, one step per assistant message.
# ----------------------------------------------------------------------------------------------------------------------

SUBMIT = "echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT"

FAILING_STEPS: list[tuple[str, str]] = [
    (  # 1
        "I need to understand the structure of the repository first. Let me list the files in the working directory.",
        "ls -la",
    ),
    (  # 2
        "There is a small library calc.py and its tests. The issue is specifically about lists with an even number "
        "of elements, so let me find the functions in calc.py and any place that handles even-length input.",
        'grep -n "def \\|even" calc.py',
    ),
    (  # 3
        "The only place that mentions even-length input is median(), whose docstring says it returns the average of "
        "the two middle values for even-length input. That matches the issue (\"the average ... wrong for lists with "
        "an even number of elements\"). Let me read the whole file with line numbers.",
        "nl -ba calc.py",
    ),
    (  # 4  <- the decisive wrong step: it edits median() although the bug is in mean()
        "The even-length branch of median() (line 19) is the code that computes an average for even-length lists, "
        "so that is where the bug must be. With mid = len(ordered) // 2 it averages ordered[mid - 1] and "
        "ordered[mid]; I believe the pair is off by one and should be ordered[mid] and ordered[mid + 1]. "
        "Let me fix the index.",
        "sed -i 's/return (ordered\\[mid - 1\\] + ordered\\[mid\\]) \\/ 2/return (ordered[mid] + ordered[mid + 1]) "
        "\\/ 2/' calc.py && nl -ba calc.py | sed -n '11,19p'",
    ),
    (  # 5
        "Now let me run the tests to verify the fix.",
        "python -m pytest -q",
    ),
    (  # 6
        "median([4, 1, 3, 2]) now returns 3.5, so shifting the indices went the wrong way. Rather than indexing by "
        "hand, the even-length case should literally be what the docstring says: the average (mean) of the two "
        "middle values. Let me compute it with mean() over the middle slice so the averaging logic lives in one "
        "place.",
        "sed -i 's/return (ordered\\[mid\\] + ordered\\[mid + 1\\]) \\/ 2/return mean(ordered[mid - 1:mid + 1])/' "
        "calc.py && nl -ba calc.py | sed -n '16,19p'",
    ),
    (  # 7
        "Let me run the tests again.",
        "python -m pytest -q",
    ),
    (  # 8
        "median([4, 1, 3, 2]) now returns 5.0, and mean([1, 2, 3, 4]) is still 3.33. The issue says averages are "
        "wrong for even-length lists, and median() already implements the even-length average, so mean() should "
        "use it for even-length input. Let me add that case to mean().",
        "python - <<'EOF'\n"
        "from pathlib import Path\n"
        "path = Path('calc.py')\n"
        "src = path.read_text()\n"
        "old = '        raise ValueError(\"mean() of empty sequence\")\\n'\n"
        "new = old + '    if len(values) % 2 == 0:\\n        return median(values)\\n'\n"
        "path.write_text(src.replace(old, new))\n"
        "EOF\n"
        "nl -ba calc.py | sed -n '4,10p'",
    ),
    (  # 9
        "Let me run the tests.",
        "python -m pytest -q",
    ),
    (  # 10
        "RecursionError: mean() now calls median() for even-length input, and median() calls mean() on the two "
        "middle values, which is again an even-length list. I need to break the cycle: median() should average the "
        "two middle values directly again.",
        "sed -i 's/return mean(ordered\\[mid - 1:mid + 1\\])/return (ordered[mid - 1] + ordered[mid]) \\/ 2/' calc.py "
        "&& nl -ba calc.py | sed -n '13,21p'",
    ),
    (  # 11
        "Let me run the tests again.",
        "python -m pytest -q",
    ),
    (  # 12
        "The even-length cases from the issue pass now: mean([1, 2, 3, 4]) == 2.5, both median tests and the "
        "variance test pass. The only remaining failure is test_mean_odd_length, an odd-length list, which is not "
        "what the issue is about. Let me review my changes.",
        "git diff",
    ),
    (  # 13
        "The issue about even-length lists is fixed. I'll submit.",
        SUBMIT,
    ),
]

SOLVED_STEPS: list[tuple[str, str]] = [
    (  # 1
        "I need to understand the structure of the repository first. Let me list the files in the working directory.",
        "ls -la",
    ),
    (  # 2
        "A small library calc.py and its tests. Before changing anything, let me reproduce the problem by running "
        "the tests.",
        "python -m pytest -q",
    ),
    (  # 3
        "Three tests fail: both mean tests (even and odd lengths: so it is not only even-length lists) and "
        "variance, which calls mean(). mean([1, 2, 3, 4]) gives 3.33 = 10 / 3, so the sum is divided by one less "
        "than the number of values. Let me read mean().",
        "nl -ba calc.py | sed -n '1,9p'",
    ),
    (  # 4
        "Line 8 divides by len(values) - 1 (the Bessel correction for a sample variance), but the arithmetic mean "
        "divides by len(values). Let me fix the divisor.",
        "sed -i 's/return sum(values) \\/ (len(values) - 1)/return sum(values) \\/ len(values)/' calc.py "
        "&& nl -ba calc.py | sed -n '4,8p'",
    ),
    (  # 5
        "Let me run the tests to verify the fix.",
        "python -m pytest -q",
    ),
    (  # 6
        "All six tests pass, including variance, which depends on mean(). The fix is complete; I'll submit.",
        SUBMIT,
    ),
]

RUNS: dict[str, list[tuple[str, str]]] = {"failing": FAILING_STEPS, "solved": SOLVED_STEPS}


# ----------------------------------------------------------------------------------------------------------------------
# Running mini-swe-agent
# ----------------------------------------------------------------------------------------------------------------------


class ScriptedModel(DeterministicModel):
    """mini's ``DeterministicModel``, stamping each reply with the time it is returned.

    ``make_output`` stamps a reply when the script is built, so every step of a run would carry the same time;
    this keeps the trajectory's timeline real. Nothing else differs from ``DeterministicModel``.
    """

    def query(self, messages: list[dict[str, str]], **kwargs: Any) -> dict:
        output = super().query(messages, **kwargs)
        return {**output, "extra": {**output.get("extra", {}), "timestamp": time.time()}}


def mini_config() -> dict[str, Any]:
    """mini-swe-agent's own ``mini_textbased.yaml`` config (agent, environment and model sections)."""
    return yaml.safe_load(get_config_path(MINI_CONFIG).read_text())


def scripted_outputs(steps: list[tuple[str, str]]) -> list[dict]:
    """The assistant messages, in mini's text-based format; the actions are parsed from the text by mini's own
    parser and action regex, exactly as ``LitellmTextbasedModel`` would parse a real model's reply."""
    action_regex = LitellmTextbasedModelConfig.model_fields["action_regex"].default
    outputs = []
    for thought, command in steps:
        content = f"THOUGHT: {thought}\n\n```mswea_bash_command\n{command}\n```"
        actions = parse_regex_actions(content, action_regex=action_regex, format_error_template="{{error}}")
        assert actions == [{"command": command}], (command, actions)
        outputs.append(make_output(content, actions, cost=0.0))
    return outputs


def git(project: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=example", "-c", "user.email=example@example.com", "-c", "init.defaultBranch=main",
         *args],
        cwd=project, check=True, capture_output=True,
    )


def make_project(name: str) -> Path:
    """A fresh copy of the buggy project under version control, in the temp dir."""
    project = WORK_ROOT / name / "calc-project"
    shutil.rmtree(project.parent, ignore_errors=True)
    project.mkdir(parents=True)
    (project / "calc.py").write_text(CALC_PY)
    (project / "test_calc.py").write_text(TEST_CALC_PY)
    git(project, "init", "-q")
    git(project, "add", "calc.py", "test_calc.py")
    git(project, "commit", "-q", "-m", "calc: small statistics helpers")
    return project


def tests_pass(project: Path) -> bool:
    """The verification outside the agent: the project's tests, on the tree the agent left."""
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=project,
                            capture_output=True, text=True)
    return result.returncode == 0


def run(name: str, steps: list[tuple[str, str]], out_dir: Path) -> tuple[Path, bool]:
    """One mini-swe-agent run on a fresh project; returns the saved trajectory and whether the tests pass after."""
    config = mini_config()
    project = make_project(name)
    model = ScriptedModel(
        outputs=scripted_outputs(steps),
        cost_per_call=0.0,
        observation_template=config["model"]["observation_template"],
    )
    env = LocalEnvironment(cwd=str(project), **{k: v for k, v in config["environment"].items() if k != "cwd"})
    # output_path stays unset (it would be recorded in the trajectory); the agent's own save() writes the file.
    agent = DefaultAgent(model, env, **config["agent"])
    result = agent.run(TASK)
    path = out_dir / f"{name}.traj.json"
    agent.save(path)
    if result.get("exit_status") != "Submitted":
        raise SystemExit(f"{name}: mini-swe-agent stopped with {result.get('exit_status')!r}, expected 'Submitted'")
    n_steps = sum(1 for m in agent.messages if m.get("role") == "assistant")
    if n_steps != len(steps):
        raise SystemExit(f"{name}: {n_steps} assistant messages, expected {len(steps)}")
    return path, tests_pass(project)


def write_report(out_dir: Path, verdicts: dict[str, bool]) -> Path:
    """The verification verdicts in the SWE-bench summary-report shape, keyed by instance id (the file stem)."""
    resolved = sorted(k for k, ok in verdicts.items() if ok)
    unresolved = sorted(k for k, ok in verdicts.items() if not ok)
    report = {
        "verifier": "python -m pytest -q in the project the agent left behind, run by examples/generate.py",
        "total_instances": len(verdicts),
        "submitted_instances": len(verdicts),
        "completed_instances": len(verdicts),
        "resolved_instances": len(resolved),
        "unresolved_instances": len(unresolved),
        "submitted_ids": sorted(verdicts),
        "completed_ids": sorted(verdicts),
        "resolved_ids": resolved,
        "unresolved_ids": unresolved,
    }
    path = out_dir / "report.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "runs",
                        help="where to write the trajectories and report.json (default: examples/runs)")
    args = parser.parse_args(argv)
    if shutil.which("git") is None:
        parser.error("git is needed (the throwaway project is a git repository)")
    # The agent's shell runs `python -m pytest`: make that this interpreter (which has pytest), whatever PATH says.
    os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    args.out.mkdir(parents=True, exist_ok=True)
    verdicts = {}
    for name, steps in RUNS.items():
        path, passed = run(name, steps, args.out)
        verdicts[name] = passed
        print(f"{path}: {len(steps)} steps, tests {'pass' if passed else 'FAIL'} after the run "
              f"(mini-swe-agent {minisweagent.__version__})")
    print(write_report(args.out, verdicts))
    expected = {"failing": False, "solved": True}
    if verdicts != expected:
        print(f"unexpected verdicts {verdicts}, expected {expected}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Recovery rates of reflective replay: (a) no retry, (b) plain retry, (c) retry with codetracer's diagnosis.

All three arms run under the same shared budget (steps), so a retry only has what the first attempt left.

* With an OpenAI-compatible endpoint (``--base-url``/``--model`` or ``CODETRACER_BASE_URL``/``CODETRACER_MODEL``,
  key in ``CODETRACER_API_KEY``) and mini-swe-agent installed, a real mini-swe-agent ``DefaultAgent`` works on small
  Python bug-fix tasks (each a folder with a bug and a failing test; the verifier is the test command).
* Without an endpoint it runs offline *scripted* scenarios (agents whose behaviour after a correction is scripted)
  and says so: those figures check the machinery (a retry that needs the diagnosis recovers only with it, budgets
  are shared, nothing loops), they are not a measurement of any model.

Usage: ``python benchmarks/replay_recovery.py [--base-url URL --model NAME] [--steps 12] [--json]``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from codetracer.core.tracer import Tracer
from codetracer.hooks.manager import PluginManager
from codetracer.hooks.specs import hookimpl
from codetracer.replay import HEADER, AttemptResult, AttemptRunner, Budget, Judge, Retrying, RetryPolicy

ARMS = {"a_no_retry": (1, True), "b_plain_retry": (2, False), "c_diagnosis_retry": (2, True)}
"""arm -> (max attempts, with diagnosis)."""

# --------------------------------------------------------------------------------------------------------------------
# Offline scripted scenarios
# --------------------------------------------------------------------------------------------------------------------

Steps = list[tuple[str, int]]


def _told(correction: str | None, step: int, needle: str) -> bool:
    return bool(correction) and HEADER in correction and f"step {step}" in correction and needle in correction  # type: ignore[operator]


SCENARIOS: dict[str, Callable[[int, str | None], tuple[Steps, bool]]] = {
    # needs the diagnosis: recovers only when told which step (2) and which command went wrong
    "wrong-edit-needs-diagnosis": lambda n, c: (
        ([("fix the divisor in calc.py", 0), ("pytest -q", 0)], True)
        if _told(c, 2, "sed -i s/sum/round/ calc.py")
        else ([("cat calc.py", 0), ("sed -i s/sum/round/ calc.py", 0), ("submit", 0)], False)
    ),
    # a crash in step 3 whose cause is named in the error; recovers when told step 3
    "bad-import-needs-diagnosis": lambda n, c: (
        ([("pip show numpy", 0), ("python -m app", 0)], True)
        if _told(c, 3, "python app.py")
        else ([("ls", 0), ("cat app.py", 0), ("python app.py", 1), ("submit", 0)], False)
    ),
    # flaky: any second try works (plain retry recovers too)
    "flaky-any-retry": lambda n, c: ([("pytest -q", 0)], True) if n > 1 else ([("pytest -q", 1), ("submit", 0)], False),
    # hopeless: nothing helps
    "hopeless": lambda n, c: ([("ls", 0), ("cat README", 0), ("submit", 0)], False),
    # spends the whole budget on the first try: no room for a retry
    "budget-hog": lambda n, c: ([("sleep 1", 0)] * 12, False),
    # solved at once: retry arms must not change anything
    "solved-first-try": lambda n, c: ([("fix", 0), ("pytest -q", 0)], True),
}


class ScriptedRunner(AttemptRunner):
    """Emits each attempt of a scripted agent as a traced run (what a live adapter would emit)."""

    framework = "scripted"

    def __init__(self, tracer: Tracer, behave: Callable[[int, str | None], tuple[Steps, bool]], name: str) -> None:
        super().__init__(object(), tracer)
        self.behave = behave
        self.name = name

    def attempt(self, n: int, args: tuple[Any, ...], kwargs: Mapping[str, Any], *, parent_run_id: str | None,
                remaining: Budget, judge: Judge) -> AttemptResult:
        correction, self.pending = self.pending, None
        steps, ok = self.behave(n, correction)
        over = remaining.steps is not None and len(steps) > remaining.steps
        if over:
            steps = steps[: remaining.steps]
        ev = self.tracer.events
        run_id = f"{self.name}:{id(self)}:{n}"
        ev.run_started(run_id, self.framework, task=self.name, parent_run_id=parent_run_id)
        for i, (command, code) in enumerate(steps, 1):
            ev.step_started(run_id, str(i))
            ev.tool_call_started(run_id, str(i), f"c{i}", "bash", command=command)
            ev.tool_call_finished(run_id, f"c{i}", output="error" if code else "ok", exit_code=code, is_error=code != 0)
            ev.step_finished(run_id, str(i))
        status = "LimitsExceeded" if over else "Submitted"
        verdict = judge(result=ok and not over, exit_status=status)
        ev.run_finished(run_id, verdict.outcome, exit_status=status)
        return AttemptResult(value=ok and not over, run_id=run_id, exit_status=status)


class ScriptedReinject:
    __name__ = "scripted-reinject"

    @hookimpl
    def codetracer_reinject(self, run: Any, diagnosis: Any, handle: Any) -> bool | None:
        if not isinstance(handle, ScriptedRunner):
            return None
        handle.deliver(handle.correction(run, diagnosis))
        return True


def offline(steps: int) -> dict[str, Any]:
    tracer = Tracer(persist=False, load_plugins=False)
    pm = PluginManager()
    rows: dict[str, dict[str, Any]] = {}
    for name, behave in SCENARIOS.items():
        rows[name] = {}
        for arm, (attempts, diagnose) in ARMS.items():
            runner = ScriptedRunner(tracer, behave, name)
            retrying = Retrying(runner, RetryPolicy(max_attempts=attempts, verify=lambda r: r,
                                                    budget=Budget(steps=steps)),
                                pm=pm, reinject_plugin=ScriptedReinject(), diagnose=diagnose)
            retrying.run()
            rows[name][arm] = {"solved": retrying.succeeded, "attempts": len(retrying.attempts),
                               "steps": retrying.used.steps if retrying.used else None}
    tracer.close()
    return {"mode": "offline scripted scenarios (no endpoint): checks the machinery, not a model", "rows": rows}


# --------------------------------------------------------------------------------------------------------------------
# With an endpoint: mini-swe-agent on small bug-fix tasks
# --------------------------------------------------------------------------------------------------------------------

TASKS: dict[str, tuple[str, dict[str, str]]] = {
    "mean": ("calc.mean([1, 2, 3, 4]) returns 3.33 instead of 2.5. Fix calc.py so that test_calc.py passes.", {
        "calc.py": "def mean(values):\n    return sum(values) / (len(values) - 1)\n",
        "test_calc.py": "import calc\n\n\ndef test_mean():\n    assert calc.mean([1, 2, 3, 4]) == 2.5\n",
    }),
    "slug": ("slug('Hello World!') must return 'hello-world'. Fix text.py so that test_text.py passes.", {
        "text.py": "import re\n\n\ndef slug(s):\n    return re.sub(r'[^a-z]+', '-', s).strip('-')\n",
        "test_text.py": "from text import slug\n\n\ndef test_slug():\n"
                        "    assert slug('Hello World!') == 'hello-world'\n",
    }),
    "interval": ("overlaps((1, 3), (3, 5)) must be False (half-open intervals). Fix iv.py so test_iv.py passes.", {
        "iv.py": "def overlaps(a, b):\n    return a[0] <= b[1] and b[0] <= a[1]\n",
        "test_iv.py": "from iv import overlaps\n\n\ndef test_touch():\n    assert not overlaps((1, 3), (3, 5))\n\n\n"
                      "def test_inside():\n    assert overlaps((1, 4), (2, 3))\n",
    }),
    "parse": ("parse_kv('a=1;b=2;') must return {'a': '1', 'b': '2'}. Fix kv.py so test_kv.py passes.", {
        "kv.py": "def parse_kv(s):\n    return dict(p.split('=') for p in s.split(';'))\n",
        "test_kv.py": "from kv import parse_kv\n\n\ndef test_trailing():\n"
                      "    assert parse_kv('a=1;b=2;') == {'a': '1', 'b': '2'}\n",
    }),
}


def with_endpoint(base_url: str, model: str, steps: int) -> dict[str, Any]:
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    os.environ.setdefault("MSWEA_SILENT_STARTUP", "1")
    import yaml
    from minisweagent.agents.default import DefaultAgent
    from minisweagent.config import get_config_path
    from minisweagent.environments.local import LocalEnvironment
    from minisweagent.models.litellm_textbased_model import LitellmTextbasedModel

    import codetracer

    cfg = yaml.safe_load(get_config_path("mini_textbased").read_text())
    tracer = Tracer(persist=False, load_plugins=False)
    rows: dict[str, dict[str, Any]] = {}
    test_cmd = f"{sys.executable} -m pytest -q -p no:cacheprovider"
    for name, (task, files) in TASKS.items():
        rows[name] = {}
        for arm, (attempts, diagnose) in ARMS.items():
            folder = Path(tempfile.mkdtemp(prefix=f"replay-{name}-"))
            for rel, text in files.items():
                (folder / rel).write_text(text)
            llm = LitellmTextbasedModel(
                model_name=f"openai/{model}",
                model_kwargs={**(cfg["model"].get("model_kwargs") or {}), "api_base": base_url,
                              "api_key": os.environ.get("CODETRACER_API_KEY", "none"),
                              "temperature": 0.0},
                cost_tracking="ignore_errors",
                **{k: v for k, v in cfg["model"].items() if k not in ("model_name", "model_kwargs")},
            )
            env = LocalEnvironment(cwd=str(folder), **{k: v for k, v in cfg["environment"].items() if k != "cwd"})
            agent = DefaultAgent(llm, env, **{**cfg["agent"], "step_limit": 0, "cost_limit": 0})
            retrying = codetracer.auto_retry(agent, verify=test_cmd, max_attempts=attempts, budget=Budget(steps=steps),
                                             tracer=tracer, diagnose=diagnose)
            try:
                retrying.run(task)
            except Exception as exc:  # noqa: BLE001 - an endpoint error is a failed task, reported
                rows[name][arm] = {"solved": False, "error": f"{type(exc).__name__}: {exc}"[:200]}
                continue
            rows[name][arm] = {"solved": retrying.succeeded, "attempts": len(retrying.attempts),
                               "steps": retrying.used.steps if retrying.used else None}
            subprocess.run(["rm", "-rf", str(folder)], check=False)
    tracer.close()
    return {"mode": f"mini-swe-agent with {model} at {base_url}", "rows": rows}


def rates(rows: dict[str, dict[str, Any]], only: set[str] | None = None) -> dict[str, str]:
    out = {}
    for arm in ARMS:
        cells = [r[arm] for name, r in rows.items() if only is None or name in only]
        solved = sum(1 for c in cells if c.get("solved"))
        out[arm] = f"{solved}/{len(cells)}"
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", default=os.environ.get("CODETRACER_BASE_URL"))
    parser.add_argument("--model", default=os.environ.get("CODETRACER_MODEL"))
    parser.add_argument("--steps", type=int, default=12, help="shared step budget per task (all attempts)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.base_url and args.model:
        result = with_endpoint(args.base_url, args.model, args.steps)
    else:
        result = offline(args.steps)
        result["note"] = "no endpoint given (--base-url/--model or CODETRACER_BASE_URL/CODETRACER_MODEL): offline run"
    result["recovery"] = rates(result["rows"])
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(result["mode"])
    if "note" in result:
        print(result["note"])
    print(f"{'task':32} " + " ".join(f"{arm:>18}" for arm in ARMS))
    for name, row in result["rows"].items():
        cells = []
        for arm in ARMS:
            cell = row[arm]
            cells.append(f"{'solved' if cell.get('solved') else 'failed'} {cell.get('attempts', '-')}a "
                         f"{cell.get('steps', '-')}s")
        print(f"{name:32} " + " ".join(f"{c:>18}" for c in cells))
    print(f"{'solved (all tasks)':32} " + " ".join(f"{v:>18}" for v in result["recovery"].values()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

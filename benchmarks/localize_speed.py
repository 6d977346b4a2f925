"""How long localization takes per run: edit provenance (blame of the final patch) plus the signal localizer.

Measured on the real corpora in ``../shared`` (target: under 20 ms per run on average) and on a synthetic 300-step
run shaped like a long code-agent run (commands with outputs of a few KB, heredoc and ``sed -i`` edits, scripts,
repeated test runs, errors, a final ``git diff``). Trees are read once; each run is then timed from a tree without
provenance, so the figure is what ``codetracer analyze`` adds to parsing.

    .venv/bin/python benchmarks/localize_speed.py [--shared ../shared] [--steps 300] [--repeat 20]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from codetracer.core.extract import Failure, extract_all
from codetracer.core.model import Action, Call, Observation, Outcome, Run, Step, Text
from codetracer.core.provenance import attach
from codetracer.core.stages import ensure_stages
from codetracer.localize.signal_localizer import SignalLocalizer

CORPORA = (
    "corpora/miniswe-swebench-verified",
    "corpora/atif-terminal-bench-2",
    "corpora/codetracebench-steps",
    "labeled/who-and-when-algorithm-generated",
)

_COMMANDS = [
    "ls -la src",
    "grep -rn 'def parse' src",
    "cat src/pkg/mod{n}.py",
    "cat <<'EOF' > fix_{n}.py\nfrom pathlib import Path\np = Path('src/pkg/mod{n}.py')\n"
    "p.write_text(p.read_text().replace('x = 0', 'x = {n}'))\nEOF",
    "python fix_{n}.py",
    "pytest tests/test_mod{n}.py -x",
    "sed -i 's/value = old_{n}/value = new_{n}/' src/pkg/mod{n}.py",
    "pip install -e .",
]


def synthetic_run(n_steps: int) -> Run:
    steps = []
    for i in range(1, n_steps + 1):
        command = _COMMANDS[i % len(_COMMANDS)].format(n=i % 13)
        failed = i % 9 == 0
        output = "line of output\n" * 150
        if failed:
            output += "Traceback (most recent call last):\nValueError: bad\n"
        if i == n_steps:
            command = "git diff"
            output = "".join(
                f"diff --git a/src/pkg/mod{n}.py b/src/pkg/mod{n}.py\n--- a/src/pkg/mod{n}.py\n"
                f"+++ b/src/pkg/mod{n}.py\n@@ -1,2 +1,2 @@\n-value = old_{n}\n+value = new_{n}\n"
                for n in range(13)
            )
        call = Call(
            id=f"c{i}",
            kind="tool",
            name="bash",
            action=Action(tool="bash", command=command),
            observation=Observation(text=Text(text=output, size=len(output)), exit_code=1 if failed else 0),
        )
        steps.append(Step(id=i, key=str(i), thought=Text(text=f"step {i}: try the next thing", size=30), calls=[call]))
    return ensure_stages(
        Run(id="bench", framework="bench", task="fix parse in src/pkg/mod1.py", steps=steps, outcome=Outcome.FAILED)
    )


def time_run(run: Run, localizer: SignalLocalizer) -> tuple[float, float]:
    """Milliseconds for provenance and for localization of one tree (given without provenance)."""
    bare = run.model_copy(update={"provenance": None, "steps": [s.model_copy(update={"changes": []})
                                                                 for s in run.steps]})
    started = time.perf_counter()
    attach(bare)
    blamed = time.perf_counter()
    localizer.localize(bare)
    done = time.perf_counter()
    return (blamed - started) * 1000, (done - blamed) * 1000


def _line(name: str, times: list[tuple[float, float]]) -> str:
    totals = sorted(a + b for a, b in times)
    p95 = totals[int(0.95 * (len(totals) - 1))]
    return (
        f"{name:44} {len(times):4} runs  provenance {statistics.mean(a for a, _ in times):5.2f} ms  "
        f"localize {statistics.mean(b for _, b in times):5.2f} ms  total mean {statistics.mean(totals):5.2f} ms  "
        f"p95 {p95:6.2f}  max {totals[-1]:6.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--shared", default=str(Path(__file__).resolve().parents[2] / "shared"))
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    localizer = SignalLocalizer()
    every: list[tuple[float, float]] = []
    for corpus in CORPORA:
        folder = Path(args.shared) / corpus
        if not folder.is_dir():
            print(f"{corpus}: not found under {args.shared}, skipped")
            continue
        runs = [r for r in extract_all(folder) if not isinstance(r, Failure)]
        times = [time_run(run, localizer) for run in runs]
        every += times
        print(_line(corpus, times))
    if every:
        mean = statistics.mean(a + b for a, b in every)
        print(_line("all corpora", every) + f"   (target: mean < 20 ms: {'met' if mean < 20 else 'MISSED'})")
    run = synthetic_run(args.steps)
    time_run(run, localizer)  # warm up regex caches
    print(_line(f"synthetic {args.steps}-step run x {args.repeat}", [time_run(run, localizer)
                                                                     for _ in range(args.repeat)]))


if __name__ == "__main__":
    main()

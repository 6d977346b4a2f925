"""How long the signal localizer takes on a 300-step run (target: under 50 ms).

The run is synthetic but shaped like a real long code-agent run: commands with outputs of a few KB, file edits,
repeated test runs, errors and recoveries, so every signal extractor has work to do.

    .venv/bin/python benchmarks/localize_speed.py [--steps 300] [--repeat 50]
"""

from __future__ import annotations

import argparse
import statistics
import time

from codetracer.core.model import Action, Call, FileEdit, Observation, Outcome, Run, Step, Text
from codetracer.core.stages import ensure_stages
from codetracer.localize.signal_localizer import SignalLocalizer

_COMMANDS = [
    "ls -la src",
    "grep -rn 'def parse' src",
    "cat src/pkg/mod{n}.py",
    "pytest tests/test_mod{n}.py -x",
    "python reproduce.py",
    "sed -i 's/a/b/' src/pkg/mod{n}.py",
    "pip install -e .",
]


def make_run(n_steps: int) -> Run:
    steps = []
    for i in range(1, n_steps + 1):
        command = _COMMANDS[i % len(_COMMANDS)].format(n=i % 13)
        failed = i % 9 == 0
        output = ("line of output\n" * 150) + (
            "Traceback (most recent call last):\nValueError: bad\n" if failed else ""
        )
        edits = [FileEdit(path=f"src/pkg/mod{i % 13}.py", old=f"x = {i - 1}", new=f"x = {i}")] if i % 11 == 0 else []
        call = Call(
            id=f"c{i}",
            kind="tool",
            name="bash",
            action=Action(tool="bash", command=command, edits=edits),
            observation=Observation(text=Text(text=output, size=len(output)), exit_code=1 if failed else 0),
        )
        steps.append(Step(id=i, key=str(i), thought=Text(text=f"step {i}: try the next thing", size=30), calls=[call]))
    return ensure_stages(
        Run(id="bench", framework="bench", task="fix parse in src/pkg/mod1.py", steps=steps, outcome=Outcome.FAILED)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()
    run = make_run(args.steps)
    localizer = SignalLocalizer()
    localizer.localize(run)  # warm up imports and regex caches
    times = []
    for _ in range(args.repeat):
        started = time.perf_counter()
        diagnosis = localizer.localize(run)
        times.append((time.perf_counter() - started) * 1000)
    print(
        f"signals localizer, {args.steps}-step run, {args.repeat} repeats: median {statistics.median(times):.1f} ms, "
        f"max {max(times):.1f} ms (target < 50 ms); onset {diagnosis.onset_step}, {len(diagnosis.evidence)} evidence"
    )


if __name__ == "__main__":
    main()

"""``codetracer analyze`` of a corpus with the store on, next to a bare ``json.load`` process over the same files.

    python benchmarks/analyze_store.py [--corpus ../shared/corpora/miniswe-swebench-verified] [--rounds 5]

Each round runs, in shuffled order and each in its own fresh process (so start-up and imports count, as for a
person typing the command): a Python process that only ``json.load``s every JSON file of the corpus; ``codetracer
analyze CORPUS`` into an empty store (the default view: one line per run); the same with ``--no-store``. Wall time
and peak RSS per process; the figures are medians over the rounds, and the ratios are taken within each round (the
machine is shared, so only what is measured side by side compares).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FLOOR = "import json, sys, pathlib\nfor p in sorted(pathlib.Path(sys.argv[1]).rglob('*.json')): json.load(open(p))\n"


def timed(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one process."""
    start = time.perf_counter()
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) not in (0, 1):
        raise SystemExit(f"{' '.join(command)} failed: {proc.stderr.read().decode() if proc.stderr else ''}")
    return wall, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default=str(REPO.parent / "shared/corpora/miniswe-swebench-verified"))
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    corpus = str(Path(args.corpus).resolve())
    modes = {
        "json.load floor": [sys.executable, "-c", FLOOR, corpus],
        "analyze, store on": [sys.executable, "-m", "codetracer", "analyze", corpus],
        "analyze --no-store": [sys.executable, "-m", "codetracer", "analyze", corpus, "--no-store"],
    }
    walls: dict[str, list[float]] = {m: [] for m in modes}
    rss: dict[str, list[float]] = {m: [] for m in modes}
    ratios: list[float] = []
    for _ in range(args.rounds):
        order = list(modes)
        random.shuffle(order)
        for mode in order:
            home = tempfile.mkdtemp(prefix="ct-analyze-")
            env = dict(os.environ, CODETRACER_HOME=home, LITELLM_LOCAL_MODEL_COST_MAP="True")
            wall, peak = timed(modes[mode], env)
            shutil.rmtree(home, ignore_errors=True)
            walls[mode].append(wall)
            rss[mode].append(peak)
        ratios.append(walls["analyze, store on"][-1] / walls["json.load floor"][-1])
    print(f"corpus {corpus}, {args.rounds} rounds, medians")
    for mode in modes:
        print(f"  {mode:20} {statistics.median(walls[mode]):6.3f} s  peak RSS {statistics.median(rss[mode]):5.0f} MB")
    print(f"  store on / json.load floor, per round: {', '.join(f'{r:.1f}' for r in ratios)} (target <= 8)")
    print(f"  median ratio {statistics.median(ratios):.1f}; load average now {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()

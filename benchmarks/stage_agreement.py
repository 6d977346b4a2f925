"""How automatic stage segmentation agrees with the human stage ranges of CodeTraceBench.

    python benchmarks/stage_agreement.py [--corpus ../shared/corpora/codetracebench-steps]

A boundary is the first step of a stage (step 1 excluded). For each run we compare our boundaries with the human
ones (exactly, and within one step), micro-averaged over all runs, per framework, next to two reference points: a
boundary at every step, and a single stage. The human ranges are fine-grained (a stage every few steps), so the
every-step rule scores well here; our stages aim at what a person calls a stage (inspect, install, patch, verify...).
"""

from __future__ import annotations

import argparse
import statistics
from collections import defaultdict
from pathlib import Path

from codetracer.core.extract import Failure, extract_all
from codetracer.core.model import Run, Stage
from codetracer.core.stages import segment_steps

REPO = Path(__file__).resolve().parent.parent


def boundaries(stages: list[Stage], n_steps: int) -> set[int]:
    return {s.start_step for s in stages if 1 < s.start_step <= n_steps}


def match(predicted: set[int], gold: set[int], tolerance: int) -> tuple[int, int, int]:
    """Greedy one-to-one matching within ``tolerance`` steps: (true positives, predicted, gold)."""
    unused = set(gold)
    hits = 0
    for b in sorted(predicted):
        near = sorted((abs(b - g), g) for g in unused if abs(b - g) <= tolerance)
        if near:
            unused.discard(near[0][1])
            hits += 1
    return hits, len(predicted), len(gold)


def f1(tp: int, n_pred: int, n_gold: int) -> float:
    if n_pred == 0 or n_gold == 0:
        return 0.0
    p, r = tp / n_pred, tp / n_gold
    return 0.0 if p + r == 0 else 2 * p * r / (p + r)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default=str(REPO.parent / "shared" / "corpora" / "codetracebench-steps"))
    args = parser.parse_args()
    methods = ("codetracer", "every step", "one stage")
    totals: dict[tuple[str, str, int], list[int]] = defaultdict(lambda: [0, 0, 0])
    sizes: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for item in extract_all(Path(args.corpus)):
        if isinstance(item, Failure):
            print(f"skipped {item.path}: {item.message}")
            continue
        run: Run = item
        n = len(run.steps)
        gold = boundaries([s for s in run.stages if s.source == "human"], n)
        ours = segment_steps(run.steps)
        predictions = {
            "codetracer": boundaries(ours, n),
            "every step": set(range(2, n + 1)),
            "one stage": set(),
        }
        sizes[run.framework].append((len(ours), len(gold) + 1))
        for method, predicted in predictions.items():
            for tolerance in (0, 1):
                for key in ((run.framework, method, tolerance), ("all", method, tolerance)):
                    counts = match(predicted, gold, tolerance)
                    totals[key] = [a + b for a, b in zip(totals[key], counts, strict=True)]
    frameworks = [*sorted(sizes), "all"]
    print(f"{'framework':16} {'method':12} {'F1 exact':>9} {'F1 +-1':>8} {'P exact':>8} {'R exact':>8}")
    for framework in frameworks:
        for method in methods:
            tp, n_pred, n_gold = totals[(framework, method, 0)]
            f_exact = f1(tp, n_pred, n_gold)
            f_tol = f1(*totals[(framework, method, 1)])
            precision = tp / n_pred if n_pred else 0.0
            recall = tp / n_gold if n_gold else 0.0
            print(f"{framework:16} {method:12} {f_exact:9.3f} {f_tol:8.3f} {precision:8.3f} {recall:8.3f}")
    for framework in sorted(sizes):
        ours = statistics.median(s[0] for s in sizes[framework])
        human = statistics.median(s[1] for s in sizes[framework])
        print(f"{framework}: median stages per run: codetracer {ours}, human {human}")


if __name__ == "__main__":
    main()

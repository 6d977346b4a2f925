"""``codetracer eval GOLD...``: a localizer scored on gold sets next to constant-rule baselines."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from codetracer.cli.common import Progress, _emit_json
from codetracer.core.errors import CodetracerError


class _CountingLocalizer:
    """Wraps a localizer to advance a progress bar per run it diagnoses; everything else passes through."""

    def __init__(self, inner: Any, progress: Progress) -> None:
        self._inner, self._progress = inner, progress

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def localize(self, run: Any) -> Any:
        self._progress.advance(str(run.id))
        return self._inner.localize(run)


def cmd_eval(args: argparse.Namespace) -> int:
    from codetracer.evaluate.gold import load_gold
    from codetracer.evaluate.harness import evaluate, format_report
    from codetracer.localize.registry import LocalizerRegistry

    localizer = LocalizerRegistry.from_plugins().get(args.localizer)
    if localizer is None:
        raise CodetracerError("no localizer is installed")
    status = 0
    for gold in args.gold:
        try:
            rows, problems = load_gold(Path(gold), Path(args.traj_root) if args.traj_root else None)
        except (OSError, ValueError) as exc:
            print(f"codetracer: {gold}: {exc}", file=sys.stderr)
            status = 1
            continue
        if args.split != "all":
            parity = 1 if args.split == "odd" else 0
            rows = [r for i, r in enumerate(rows) if ((r.number if r.number is not None else i) % 2) == parity]
        if not rows:
            print(f"codetracer: {gold}: no gold rows to evaluate", file=sys.stderr)
            status = 1
            continue
        title = f"{gold} ({len(rows)} rows{'' if args.split == 'all' else ', ' + args.split + ' ids'})"
        progress = Progress(len(rows), f"runs of {Path(gold).name}")
        counting = _CountingLocalizer(localizer, progress)
        report = evaluate(rows, counting, k=args.k, tolerance=args.tolerance, title=title, problems=problems)
        progress.clear()
        if args.json:
            _emit_json(report.to_json())
        else:
            print(format_report(report))
            print()
    totals = getattr(localizer, "totals", None)
    if totals is not None and hasattr(totals, "line"):
        print(totals.line(getattr(getattr(localizer, "config", None), "model", "?")), file=sys.stderr)
    return status

"""``codetracer analyze PATH``: every run under PATH as a tree, failed runs diagnosed, the runs stored."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from codetracer.cli.common import Progress, _emit_json, _store, use_color
from codetracer.core.errors import CodetracerError


def format_summary(runs: list[tuple[str, str, bool]], unreadable: int) -> str:
    """The end-of-batch table: runs per framework by outcome, how many got an onset, and unreadable inputs."""
    outcomes = ["solved", "failed", "unknown"]
    table: dict[str, dict[str, int]] = {}
    for framework, outcome, onset in runs:
        row = table.setdefault(framework, dict.fromkeys([*outcomes, "onset"], 0))
        row[outcome if outcome in outcomes else "unknown"] += 1
        row["onset"] += int(onset)
    name_w = max([len("framework"), len("all"), *(len(f) for f in table)])
    head = f"{'framework':{name_w}}  {'runs':>5}  " + "  ".join(f"{o:>7}" for o in outcomes) + f"  {'onset found':>11}"
    lines = ["summary", head, "-" * len(head)]

    def row_line(name: str, row: dict[str, int]) -> str:
        total = sum(row[o] for o in outcomes)
        cells = "  ".join(f"{row[o]:>7}" for o in outcomes)
        return f"{name:{name_w}}  {total:>5}  {cells}  {row['onset']:>11}"

    for framework in sorted(table):
        lines.append(row_line(framework, table[framework]))
    if len(table) > 1:
        lines.append(row_line("all", {k: sum(r[k] for r in table.values()) for k in [*outcomes, "onset"]}))
    lines.append(f"unreadable inputs: {unreadable}" + (" (see the lines on stderr)" if unreadable else ""))
    return "\n".join(lines)


def cmd_analyze(args: argparse.Namespace) -> int:
    from codetracer.core.discovery import Failure
    from codetracer.core.parallel import extract_in_order
    from codetracer.core.registry import ExtractorRegistry
    from codetracer.core.render import render_text, run_to_json_obj
    from codetracer.core.secrets import redact_run
    from codetracer.localize.registry import LocalizerRegistry

    registry = ExtractorRegistry.from_plugins()
    if args.format:
        extractor = registry.get(args.format)
        registry = ExtractorRegistry([extractor])
    from codetracer.localize import memory

    localizer = LocalizerRegistry.from_plugins().get(args.localizer)
    if args.remember and args.no_store:
        raise CodetracerError("--remember needs the store: drop --no-store")
    store = None if args.no_store else _store()
    if store is not None and localizer is not None and hasattr(localizer, "memory"):
        localizer.memory = store  # the LLM localizer reads this project's failure patterns as hints
    color = use_color(sys.stdout)
    # Discovery first (it only reads file heads), so the progress bar knows its total.
    found = list(registry.discover(Path(args.path)))
    progress = Progress(sum(1 for f in found if not isinstance(f, Failure)), "artifacts")
    failures = 0
    batch = []
    seen: list[tuple[str, str, bool]] = []
    jobs = args.jobs if args.jobs is not None else (os.cpu_count() or 1)
    # localizers run in the workers, except one that reads this project's memory from the store opened here
    in_workers = localizer is not None and not hasattr(localizer, "memory")
    for entry, items in extract_in_order(
        found, jobs=jobs, localizer=localizer.name if in_workers and localizer else None, all_runs=args.all_runs
    ):
        if not isinstance(entry, Failure):
            progress.advance(_relative(entry[0], Path(args.path)))
        for item in items:
            if isinstance(item, Failure):
                failures += 1
                progress.clear()
                print(f"codetracer: {item.path}: {item.message}", file=sys.stderr)
                continue
            run = item
            if localizer is not None and run.diagnosis is None and (run.outcome.value != "solved" or args.all_runs):
                run.diagnosis = localizer.localize(run)
                if store is not None:
                    run.diagnosis = memory.mention_known_pattern(store, run, run.diagnosis)
                    if args.remember:
                        memory.remember(store, run, run.diagnosis, confirmed=False)
            seen.append((run.framework, run.outcome.value, bool(run.diagnosis and run.diagnosis.onset_step)))
            shown = redact_run(run) if args.redact else run  # the store keeps the run as recorded
            if args.json:
                _emit_json(run_to_json_obj(shown))
            elif not args.quiet:
                progress.clear()
                hint = "" if store is not None else None
                print(render_text(shown, stages_folded=args.fold, color=color, hint=hint))
                print()
            if store is not None:
                batch.append(run)
                if len(batch) >= 50:
                    store.save_runs(batch)
                    batch.clear()
    progress.clear()
    if store is not None and batch:
        store.save_runs(batch)
    if not args.json and not args.quiet and (len(seen) + failures > 1 or os.path.isdir(args.path)):
        print(format_summary(seen, failures))
    if failures:
        print(f"codetracer: {failures} input(s) could not be read; the rest were processed", file=sys.stderr)
        return 1
    return 0


def _relative(path: Path, root: Path) -> str:
    """``path`` below ``root`` for the progress line (the root is already on screen in the command)."""
    try:
        return str(path.relative_to(root)) or path.name
    except ValueError:
        return str(path)

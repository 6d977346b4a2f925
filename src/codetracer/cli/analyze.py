"""``codetracer analyze PATH``: every run under PATH as a tree, failed runs diagnosed, the runs stored."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from codetracer.cli.common import Progress, _emit_json, _store, use_color, use_tty
from codetracer.core.errors import CodetracerError
from codetracer.core.text import cut, short_task

if TYPE_CHECKING:
    from codetracer.core.model import Run


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


SAVE_BATCH = 25
"""Runs written per store transaction. Large enough that the per-transaction cost vanishes (a commit and one bulk
full-text insert per batch), small enough that the runs waiting to be written hold little memory and that the batches
are written while the worker processes still read the next runs, not all at the end: on the 100 mini-swe-agent runs
25 per batch ends the command about 0.03 s sooner than 100 (``benchmarks/analyze_store.py``)."""


def cmd_analyze(args: argparse.Namespace) -> int:
    from codetracer.core.discovery import Failure
    from codetracer.core.parallel import extract_in_order
    from codetracer.core.registry import ExtractorRegistry
    from codetracer.core.render import render_text, run_to_json_obj
    from codetracer.core.secrets import redact_run
    from codetracer.core.store_rows import EncodedRun, encode_run
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
    n_artifacts = sum(1 for f in found if not isinstance(f, Failure))
    progress = Progress(n_artifacts, "artifacts")
    # Many runs: one line each (the tree of one is `codetracer show RUN`); one run, or --tree: the whole tree.
    concise = not args.json and not args.quiet and not args.tree and n_artifacts > 1
    failures = 0
    batch: list[EncodedRun] = []
    seen: list[tuple[str, str, bool]] = []
    jobs = args.jobs if args.jobs is not None else (os.cpu_count() or 1)
    # localizers run in the workers, except one that reads this project's memory from the store opened here
    in_workers = localizer is not None and not hasattr(localizer, "memory")
    # Runs need nothing more here when the view is one line each and no remembered pattern can add to a diagnosis:
    # then the workers hand back the store's rows (EncodedRun) and this process only prints and inserts them.
    rows_only = concise and in_workers and not args.remember and (store is None or not store.patterns(limit=1))
    lines = RunLines(sys.stdout, color=color, redact=args.redact) if concise else None
    for entry, items in extract_in_order(
        found,
        jobs=jobs,
        localizer=localizer.name if in_workers and localizer else None,
        all_runs=args.all_runs,
        encode=rows_only and store is not None,
    ):
        if not isinstance(entry, Failure):
            progress.advance(_relative(entry[0], Path(args.path)))
        for item in items:
            if isinstance(item, Failure):
                failures += 1
                progress.clear()
                print(f"codetracer: {item.path}: {item.message}", file=sys.stderr)
                continue
            if isinstance(item, EncodedRun):
                record = item
            else:
                run = item
                if localizer is not None and run.diagnosis is None and (run.outcome.value != "solved" or args.all_runs):
                    run.diagnosis = localizer.localize(run)
                    if store is not None:
                        run.diagnosis = memory.mention_known_pattern(store, run, run.diagnosis)
                        if args.remember:
                            memory.remember(store, run, run.diagnosis, confirmed=False)
                shown = redact_run(run) if args.redact else run  # the store keeps the run as recorded
                if args.json:
                    _emit_json(run_to_json_obj(shown))
                elif not args.quiet and not concise:
                    progress.clear()
                    hint = "" if store is not None else None
                    print(render_text(shown, stages_folded=args.fold, color=color, hint=hint))
                    print()
                if store is None:
                    seen.append((run.framework, run.outcome.value, bool(run.diagnosis and run.diagnosis.onset_step)))
                    if lines is not None:
                        progress.clear()
                        lines.print_run(run)
                    continue
                record = encode_run(run)
            seen.append((record.framework, record.outcome, bool(record.onset_step)))
            if lines is not None:
                progress.clear()
                lines.print(record)
            if store is not None:
                batch.append(record)
                if len(batch) >= SAVE_BATCH:
                    store.save_encoded(batch)
                    batch.clear()
    progress.clear()
    if store is not None and batch:
        store.save_encoded(batch)
    if not args.json and not args.quiet and (len(seen) + failures > 1 or os.path.isdir(args.path)):
        if lines is not None and lines.count:
            print()
            print("the tree of one run: codetracer " + ("show RUN" if store is not None else "analyze ARTIFACT"))
        print(format_summary(seen, failures))
    if failures:
        print(f"codetracer: {failures} input(s) could not be read; the rest were processed", file=sys.stderr)
        return 1
    return 0


ID_WIDTH = 48
"""Characters of the RUN column of the line per run; most run ids (artifact names) fit."""


class RunLines:
    """The concise view of many runs: a header, then one line per run (id, framework, outcome, steps, onset,
    confidence, the task shortened to what the terminal has left). The id is never cut: it is what `show` takes."""

    def __init__(self, stream: Any, *, color: bool, redact: bool = False) -> None:
        self.stream = stream
        self.color = color
        self.redact = redact
        """``--redact``: the task is shown redacted (the store keeps it as recorded)."""
        self.count = 0
        self.width = shutil.get_terminal_size((120, 20)).columns if use_tty(stream) else 160

    def print_run(self, run: Run) -> None:
        """The line of a tree (when nothing is stored, runs come back as trees)."""
        d = run.diagnosis
        self.print(
            SimpleNamespace(
                id=run.id,
                framework=run.framework,
                outcome=run.outcome.value,
                n_steps=len(run.steps),
                onset_step=d.onset_step if d else None,
                confidence=d.confidence if d else None,
                task=run.task,
            )
        )

    def print(self, r: Any) -> None:
        """The line of a run from its stored rows (:class:`~codetracer.core.store_rows.EncodedRun`) or the like."""
        if self.count == 0:
            head = f"{'RUN':{ID_WIDTH}} {'FRAMEWORK':14} {'OUTCOME':7} {'STEPS':>5} {'ONSET':>5} {'CONF':>4}  TASK"
            self.stream.write(head + "\n")
        self.count += 1
        onset = "" if r.onset_step is None else str(r.onset_step)
        conf = "" if r.confidence is None or r.onset_step is None else f"{r.confidence:.2f}"
        outcome = f"{r.outcome:7}"
        if self.color:
            outcome = {"solved": "\x1b[32m", "failed": "\x1b[31m"}.get(r.outcome, "") + outcome + "\x1b[0m"
        run_id = r.id
        if len(run_id) > ID_WIDTH:  # an id is never cut: a longer one gets a line of its own, the columns stay put
            self.stream.write(run_id + "\n")
            run_id = ""
        head = f"{run_id:{ID_WIDTH}} {cut(r.framework, 14):14} {outcome} {r.n_steps:5} {onset:>5} {conf:>4}  "
        room = max(self.width - ID_WIDTH - 14 - 7 - 5 - 5 - 4 - 7, 20)
        task = r.task
        if self.redact and task:
            from codetracer.core.secrets import redact

            task = redact(task)  # whole, before it is shortened, so no secret is cut in two
        self.stream.write(head + short_task(task, room) + "\n")


def _relative(path: Path, root: Path) -> str:
    """``path`` below ``root`` for the progress line (the root is already on screen in the command)."""
    try:
        return str(path.relative_to(root)) or path.name
    except ValueError:
        return str(path)

"""The ``codetracer`` command line: ``analyze`` artifacts, ``ls`` and ``show`` stored runs, ``search`` steps.

Every error is one line on stderr and a non-zero exit code, never a traceback (``CODETRACER_DEBUG=1`` shows it).
Exit codes: 0 fine, 1 some inputs could not be read (the others were processed), 2 usage or store error, 3 a bug.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import sys
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codetracer import __version__
from codetracer.core.errors import CodetracerError

if TYPE_CHECKING:
    from codetracer.core.model import Run


def _store() -> Any:
    from codetracer.core import config
    from codetracer.core.store import Store
    from codetracer.core.tracer import recover

    recover()
    return Store(config.store_path(), project=config.project())


def _parse_time(text: str) -> float:
    """``2026-11-01``, an ISO timestamp, or a relative ``7d`` / ``12h`` / ``30m``."""
    units = {"d": 86400, "h": 3600, "m": 60}
    if text and text[-1] in units and text[:-1].isdigit():
        return time.time() - int(text[:-1]) * units[text[-1]]
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        raise CodetracerError(f"cannot read time {text!r}: use an ISO date (2026-11-01) or 7d / 12h / 30m") from None


def _emit_json(obj: object) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")


# -- commands ---------------------------------------------------------------------------------------------------------


def use_tty(stream: Any) -> bool:
    """Whether ``stream`` is a terminal (a person is watching), tolerating streams without ``isatty``."""
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def use_color(stream: Any) -> bool:
    """Colour only for a person at a terminal: never when piped, with ``NO_COLOR`` set (no-color.org) or TERM=dumb."""
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    return use_tty(stream)


class Progress:
    """One self-overwriting progress line on stderr, and only when stderr is a terminal.

    Logs and CI output stay clean because nothing is drawn when stderr is redirected; other output first calls
    :meth:`clear` so a tree or an error line never lands in the middle of the bar.
    """

    def __init__(self, total: int, label: str, stream: Any = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = total > 1 and use_tty(self.stream)
        self.total, self.label, self.done = total, label, 0
        self._last = 0.0
        self._shown = False

    def advance(self, note: str = "") -> None:
        self.done += 1
        now = time.monotonic()
        if not self.enabled or (now - self._last < 0.1 and self.done < self.total):
            return
        self._last = now
        cells = 24
        filled = cells * self.done // max(self.total, 1)
        bar = "#" * filled + "." * (cells - filled)
        width = shutil.get_terminal_size((100, 20)).columns
        line = f"[{bar}] {self.done}/{self.total} {self.label}  {note}"
        self.stream.write("\r" + line[: width - 1] + "\x1b[K")
        self.stream.flush()
        self._shown = True

    def clear(self) -> None:
        if self._shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._shown = False


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
            if args.json:
                _emit_json(run_to_json_obj(run))
            elif not args.quiet:
                progress.clear()
                hint = "" if store is not None else None
                print(render_text(run, stages_folded=args.fold, color=color, hint=hint))
                print()
            if store is not None:
                batch.append(run)
                if len(batch) >= 50:
                    store.save_runs(batch)
                    batch.clear()
    progress.clear()
    if store is not None and batch:
        store.save_runs(batch)
    if not args.json and not args.quiet and (len(seen) + failures > 1 or Path(args.path).is_dir()):
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


def cmd_memory(args: argparse.Namespace) -> int:
    from codetracer.localize import memory

    store = _store()
    if args.action == "ls":
        rows = memory.list_patterns(store, framework=args.framework)
        for pattern_id, project, p in rows:
            if args.json:
                _emit_json({"id": pattern_id, "project": project, **p.__dict__})
            else:
                mark = "confirmed" if p.confirmed else "         "
                where = f"{p.framework}/{p.task_kind}"
                print(f"{pattern_id:4} {mark} {p.seen:3}x {where}  {p.signature}  (e.g. {p.example_run_id})")
        if not rows and not args.json:
            print(f"no failure patterns in project {store.project!r} (`analyze --remember`, `memory confirm RUN`)")
        return 0
    if args.action == "confirm":
        if not args.run:
            raise CodetracerError("memory confirm needs a RUN id (see `codetracer ls`)")
        run = store.load_run(args.run)
        diagnosis = run.diagnosis or next(iter(store.diagnoses(run.id)[-1:]), None)
        if diagnosis is None or diagnosis.onset_step is None:
            raise CodetracerError(f"run {run.id} has no diagnosis with an onset to confirm (analyze it first)")
        pattern = memory.remember(store, run, diagnosis, confirmed=True)
        assert pattern is not None
        print(f"confirmed {pattern.signature} for {pattern.framework}/{pattern.task_kind} in project {store.project!r}")
        return 0
    removed = memory.forget(store, run_id=args.run)
    print(f"forgot {removed} failure pattern(s) of project {store.project!r}")
    return 0


def cmd_ls(args: argparse.Namespace) -> int:
    store = _store()
    runs = store.list_runs(
        framework=args.framework,
        outcome=args.outcome,
        since=_parse_time(args.since) if args.since else None,
        until=_parse_time(args.until) if args.until else None,
        limit=args.limit,
    )
    if args.json:
        for r in runs:
            _emit_json(r.__dict__)
        return 0
    if not runs:
        print("no stored runs (trace a run, or `codetracer analyze PATH`)")
        return 0
    print(f"{'RUN':60} {'FRAMEWORK':15} {'OUTCOME':8} {'STEPS':>5} {'ERR':>4} {'ONSET':>5}")
    for r in runs:
        onset = "" if r.onset_step is None else str(r.onset_step)
        flag = "" if r.complete else " (incomplete)"
        print(f"{r.id[:60]:60} {r.framework[:15]:15} {r.outcome:8} {r.n_steps:5} {r.n_error_steps:4} {onset:>5}{flag}")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from codetracer.core import config
    from codetracer.core.blobs import BlobStore
    from codetracer.core.render import render_step, render_text, run_to_json_obj

    run = _store().load_run(args.run)
    color = use_color(sys.stdout)
    if args.full:
        sys.stdout.write(run.to_json(indent=2) + "\n")
    elif args.json:
        _emit_json(run_to_json_obj(run))
    elif args.step is not None:
        print(render_step(run, args.step, color=color, load_blob=BlobStore(config.blob_dir()).get))
    else:
        # Fold around the failure by default; with no onset there is nothing to fold around, so show it all.
        has_onset = run.diagnosis is not None and run.diagnosis.onset_step is not None
        folded = args.fold or (has_onset and not args.all)
        print(render_text(run, stages_folded=folded, color=color, hint=f"codetracer show {shlex.quote(args.run)}"))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from codetracer.report import write_report

    run = _load_run_or_artifact(args.run, args.localizer)
    out = Path(args.output or "report.html")
    started = time.perf_counter()
    write_report(run, out)
    took = time.perf_counter() - started
    size = out.stat().st_size / 1024
    print(f"wrote {out} ({size:,.0f} KiB, {len(run.steps)} steps, {took:.2f}s): open it in a browser")
    return 0


def _load_run_or_artifact(ref: str, localizer_name: str | None) -> Run:
    """A stored run by id (prefix), else an artifact path analyzed now (diagnosed, not stored)."""
    from codetracer.core.extract import Failure, extract_all
    from codetracer.localize.registry import LocalizerRegistry

    path = Path(ref)
    if not path.exists():
        return _store().load_run(ref)
    runs: list[Run] = []
    problems: list[Failure] = []
    for item in extract_all(path):
        if isinstance(item, Failure):
            problems.append(item)
        else:
            runs.append(item)
    if not runs:
        detail = f": {problems[0].path}: {problems[0].message}" if problems else ""
        raise CodetracerError(f"{ref}: no readable run{detail}")
    if len(runs) > 1:
        raise CodetracerError(f"{ref} holds {len(runs)} runs; give one artifact, or analyze it and use a run id")
    run = runs[0]
    localizer = LocalizerRegistry.from_plugins().get(localizer_name)
    if localizer is not None and run.diagnosis is None:
        run.diagnosis = localizer.localize(run)
    return run


def cmd_search(args: argparse.Namespace) -> int:
    hits = _store().search_steps(args.text, limit=args.limit)
    for hit in hits:
        if args.json:
            _emit_json(hit.__dict__)
        else:
            print(f"{hit.run_id} step {hit.step_id}: {' '.join(hit.snippet.split())}")
    return 0


def cmd_extractors(args: argparse.Namespace) -> int:
    from codetracer.core.registry import ExtractorRegistry

    if args.action == "suggest":
        return cmd_extractors_suggest(args)
    for extractor in ExtractorRegistry.from_plugins().extractors:
        doc = (getattr(extractor, "__doc__", None) or type(extractor).__doc__ or "").strip().splitlines()
        print(f"{extractor.name:22} {doc[0] if doc else ''}")
    return 0


def cmd_extractors_suggest(args: argparse.Namespace) -> int:
    from codetracer.core.mapping import save_spec
    from codetracer.core.suggest import heuristic_spec, llm_spec, validate_spec
    from codetracer.llm import LLMClient, LLMConfig

    if not args.path:
        raise CodetracerError("extractors suggest needs a PATH to an example artifact")
    path = Path(args.path)
    if not path.is_file():
        raise CodetracerError(f"{path}: not a file (suggest drafts a spec from one example artifact)")
    name = args.name or "".join(ch if ch.isalnum() else "-" for ch in path.stem.lower()).strip("-")[:40] or "custom"
    llm_config = None if args.no_llm else LLMConfig.from_env()
    if llm_config is not None:
        spec = llm_spec(path, name, LLMClient(llm_config))
        how = f"drafted by {llm_config.model}"
    else:
        spec = heuristic_spec(path, name)
        how = "drafted from field names (set CODETRACER_BASE_URL and CODETRACER_MODEL to draft with an LLM)"
    runs = validate_spec(spec, path)
    print(spec.model_dump_json(indent=2, exclude_defaults=True))
    print(f"# {how}; validated: {len(runs)} run(s), {sum(len(r.steps) for r in runs)} steps", file=sys.stderr)
    if not args.dry_run:
        saved = save_spec(spec)
        print(f"# saved to {saved}; `codetracer analyze` now reads such files", file=sys.stderr)
    return 0


def cmd_recover(args: argparse.Namespace) -> int:
    from codetracer.core.tracer import recover

    runs = recover()
    print(f"recovered {len(runs)} run(s) from orphaned journals")
    return 0


def cmd_export_otel(args: argparse.Namespace) -> int:
    from codetracer.core.extract import Failure, extract_all
    from codetracer.export.otel import send_runs
    from codetracer.localize.registry import LocalizerRegistry

    path = Path(args.target)
    failures = 0
    if path.exists():  # artifacts: analyze them as `analyze` does, without storing
        runs = []
        for item in extract_all(path):
            if isinstance(item, Failure):
                failures += 1
                print(f"codetracer: {item.path}: {item.message}", file=sys.stderr)
            else:
                runs.append(item)
    else:
        runs = [_store().load_run(args.target)]
    localizer = None if args.no_localize else LocalizerRegistry.from_plugins().get()
    for run in runs:
        if localizer is not None and run.diagnosis is None and run.outcome.value == "failed":
            run.diagnosis = localizer.localize(run)
    if not runs:
        raise CodetracerError(f"{args.target}: no run to export")
    result = send_runs(runs, endpoint=args.endpoint, timeout=args.timeout, capture_content=args.content or None)
    if not result.ok:
        print(f"codetracer: {result.error}", file=sys.stderr)
        return 1
    for run_id, trace_id in result.trace_ids.items():
        print(f"{run_id}  trace {trace_id}")
    print(f"sent {len(result.trace_ids)} run(s), {result.spans} spans, to {result.endpoint}", file=sys.stderr)
    return 1 if failures else 0


# -- parser -----------------------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="codetracer",
        description="Trace code-agent runs into trees, keep them, and find where a failed run went wrong.",
        epilog="Data lives in $CODETRACER_HOME (default: the user data dir); runs are grouped by $CODETRACER_PROJECT.",
    )
    parser.add_argument("--version", action="version", version=f"codetracer {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser(
        "analyze",
        help="read run artifacts (a file or a folder of runs), print trees and diagnoses, store them",
        description="Detect the format of every run under PATH by content, build its tree, localize failures and "
        "print the result. Exit 1 when some inputs could not be read (each gets one line on stderr).",
    )
    p.add_argument("path", help="a run artifact or a folder searched recursively")
    p.add_argument("--json", action="store_true", help="one JSON object per run per line")
    p.add_argument("--no-store", action="store_true", help="do not save the runs to the store")
    p.add_argument("--format", help="skip detection and use this extractor (see `codetracer extractors`)")
    p.add_argument("--localizer", help="localizer to use (default: the first registered)")
    p.add_argument("--all-runs", action="store_true", help="also diagnose runs whose outcome is solved")
    p.add_argument("--fold", action="store_true", help="fold stages that do not hold the onset")
    p.add_argument("--remember", action="store_true", help="store the diagnoses as (unconfirmed) failure patterns")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    p.add_argument("-j", "--jobs", type=int, help="processes reading artifacts in parallel (default: one per core)")
    p.set_defaults(func=cmd_analyze)

    p = sub.add_parser(
        "eval",
        help="score a localizer against gold labels, next to constant-rule baselines",
        description="Evaluate a localizer on gold sets: a folder of labeled runs (Who&When) or solved runs (false "
        "alarms), a CodeTraceBench manifest .json (with --traj-root) or a gold .jsonl (see codetracer.evaluate.gold). "
        "Prints step P/R/F1 (macro over labeled failures), the false-alarm rate on failure-free runs, earliest "
        "failing stage accuracy, exact and +-k step accuracy and agent accuracy, per framework, for the method and "
        "the baselines none/all/first/last/last-k/first-error.",
    )
    p.add_argument("gold", nargs="+", help="gold sets, each reported separately")
    p.add_argument("--traj-root", help="folder holding the trajectories a manifest or JSONL file names")
    p.add_argument("--localizer", help="localizer to evaluate (default: the first registered)")
    p.add_argument("--k", type=int, default=3, help="window of the last-k baseline (default 3)")
    p.add_argument(
        "--tolerance", type=int, default=1, help="an extra k of the +-k step accuracy (+-1 and +-3 are always shown)"
    )
    p.add_argument(
        "--split", choices=["all", "odd", "even"], default="all", help="only rows whose file number is odd/even"
    )
    p.add_argument("--json", action="store_true", help="one JSON report per gold set")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser(
        "memory",
        help="failure patterns remembered for this project: ls, confirm RUN, forget [RUN]",
        description="`memory ls` lists this project's failure patterns; `memory confirm RUN` stores the stored run's "
        "diagnosis as a confirmed pattern; `memory forget [RUN]` deletes the patterns learned from RUN (all of this "
        "project's without RUN). The project is $CODETRACER_PROJECT; other projects are never touched.",
    )
    p.add_argument("action", nargs="?", choices=["ls", "confirm", "forget"], default="ls")
    p.add_argument("run", nargs="?", help="with confirm/forget: a stored run id (a unique prefix is enough)")
    p.add_argument("--framework", help="with ls: only patterns of this framework")
    p.add_argument("--json", action="store_true", help="with ls: one JSON object per pattern per line")
    p.set_defaults(func=cmd_memory)

    p = sub.add_parser("ls", help="list stored runs", description="List stored runs, newest first.")
    p.add_argument("--framework", help="only runs of this framework")
    p.add_argument("--outcome", choices=["solved", "failed", "unknown"], help="only runs with this outcome")
    p.add_argument("--since", help="only runs started since (2026-11-01, 7d, 12h)")
    p.add_argument("--until", help="only runs started until (2026-11-01, 7d, 12h)")
    p.add_argument("--limit", type=int, default=50, help="at most this many runs (default 50)")
    p.add_argument("--json", action="store_true", help="one JSON object per run per line")
    p.set_defaults(func=cmd_ls)

    p = sub.add_parser(
        "show",
        help="print a stored run's tree",
        description="Print a stored run as a tree. Stages that do not hold the failure onset are folded to one line "
        "each (--all unfolds them); long outputs are shortened in the middle (--step N prints one step whole).",
    )
    p.add_argument("run", help="run id (a unique prefix is enough)")
    p.add_argument("--json", action="store_true", help="one JSON object: run, steps, diagnosis")
    p.add_argument("--full", action="store_true", help="the whole tree as JSON (loads back losslessly)")
    p.add_argument("--all", action="store_true", help="unfold every stage")
    p.add_argument("--fold", action="store_true", help="fold stages without the onset (the default when there is one)")
    p.add_argument("--step", type=int, metavar="N", help="print step N whole: thought, commands, full outputs")
    p.set_defaults(func=cmd_show)

    p = sub.add_parser(
        "report",
        help="write a self-contained HTML report of a run",
        description="Write one HTML file (no network access, nothing external) with the run's collapsible tree, the "
        "stage timeline, the failure onset and chain, evidence linked to steps, search and keyboard navigation. RUN "
        "is a stored run id (prefix) or a run artifact, analyzed on the fly and not stored.",
    )
    p.add_argument("run", help="a stored run id (a unique prefix is enough) or the path of one run artifact")
    p.add_argument("-o", "--output", metavar="FILE", help="where to write the report (default: report.html)")
    p.add_argument("--localizer", help="with an artifact: localizer to use (default: the first registered)")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("search", help="full-text search over stored steps", description="Search stored steps.")
    p.add_argument("text", help="words to find")
    p.add_argument("--limit", type=int, default=20)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_search)

    p = sub.add_parser(
        "extractors",
        help="list the artifact formats codetracer reads, or draft a spec for a new one",
        description="`extractors` (or `extractors list`) lists the formats; `extractors suggest PATH` drafts a "
        "declarative spec for an unknown format from one example file (with the LLM when CODETRACER_BASE_URL and "
        "CODETRACER_MODEL are set, else from field names), validates it on the file and saves it for reuse.",
    )
    p.add_argument("action", nargs="?", choices=["list", "suggest"], default="list")
    p.add_argument("path", nargs="?", help="with suggest: an example artifact of the new format")
    p.add_argument("--name", help="with suggest: the new extractor's name (default: from the file name)")
    p.add_argument("--no-llm", action="store_true", help="with suggest: draft from field names even if an LLM is set")
    p.add_argument("--dry-run", action="store_true", help="with suggest: print the spec, do not save it")
    p.set_defaults(func=cmd_extractors)

    p = sub.add_parser(
        "export-otel",
        help="send stored or analyzed runs to an OpenTelemetry collector (OTLP/HTTP)",
        description="Send runs as OpenTelemetry spans (GenAI semantic conventions) to an OTLP/HTTP collector: "
        "Phoenix, Langfuse, Jaeger, an OpenTelemetry Collector ... RUN is a stored run id (a unique prefix is "
        "enough) or a path to run artifacts. The endpoint, headers and timeout follow the OTEL_EXPORTER_OTLP_* "
        "variables unless given here. Needs `pip install 'codetracer[otel]'`. Exit 1 when the collector refused.",
    )
    p.add_argument("target", metavar="RUN|PATH", help="stored run id, or a run artifact / folder of runs")
    p.add_argument("--endpoint", help="collector URL, e.g. http://localhost:4318 (/v1/traces is appended)")
    p.add_argument("--timeout", type=float, help="seconds per request, retries included (default 10)")
    p.add_argument("--content", action="store_true", help="also send texts: task, thoughts, tool output, responses")
    p.add_argument("--no-localize", action="store_true", help="do not diagnose failed runs that have no diagnosis")
    p.set_defaults(func=cmd_export_otel)

    p = sub.add_parser(
        "recover",
        help="store runs left in orphaned journals by killed processes",
        description="Replay journals whose process is gone, store their runs (marked incomplete) and remove them.",
    )
    p.set_defaults(func=cmd_recover)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except CodetracerError as exc:
        print(f"codetracer: error: {exc}", file=sys.stderr)
        return 2
    except KeyError as exc:
        print(f"codetracer: error: {exc.args[0] if exc.args else exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("codetracer: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:
        if os.environ.get("CODETRACER_DEBUG"):
            raise
        print(
            f"codetracer: internal error: {type(exc).__name__}: {exc} (set CODETRACER_DEBUG=1 for the traceback)",
            file=sys.stderr,
        )
        return 3


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

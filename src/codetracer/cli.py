"""The ``codetracer`` command line: ``analyze`` artifacts, ``ls`` and ``show`` stored runs, ``search`` steps.

Every error is one line on stderr and a non-zero exit code, never a traceback (``CODETRACER_DEBUG=1`` shows it).
Exit codes: 0 fine, 1 some inputs could not be read (the others were processed), 2 usage or store error, 3 a bug.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from codetracer import __version__
from codetracer.core.errors import CodetracerError


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


def cmd_analyze(args: argparse.Namespace) -> int:
    from codetracer.core.extract import ExtractorRegistry, Failure, extract_all
    from codetracer.core.localize import LocalizerRegistry
    from codetracer.core.render import render_text, run_to_json_obj

    registry = ExtractorRegistry.from_plugins()
    if args.format:
        extractor = registry.get(args.format)
        registry = ExtractorRegistry([extractor])
    localizer = LocalizerRegistry.from_plugins().get(args.localizer)
    store = None if args.no_store else _store()
    failures = 0
    batch = []
    for item in extract_all(Path(args.path), registry):
        if isinstance(item, Failure):
            failures += 1
            print(f"codetracer: {item.path}: {item.message}", file=sys.stderr)
            continue
        run = item
        if localizer is not None and (run.outcome.value != "solved" or args.all_runs):
            run.diagnosis = localizer.localize(run)
        if args.json:
            _emit_json(run_to_json_obj(run))
        elif not args.quiet:
            print(render_text(run, stages_folded=args.fold))
            print()
        if store is not None:
            batch.append(run)
            if len(batch) >= 50:
                store.save_runs(batch)
                batch.clear()
    if store is not None and batch:
        store.save_runs(batch)
    if failures:
        print(f"codetracer: {failures} input(s) could not be read; the rest were processed", file=sys.stderr)
        return 1
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from codetracer.core.localize import LocalizerRegistry
    from codetracer.evaluate.gold import load_gold
    from codetracer.evaluate.harness import evaluate, format_report

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
        report = evaluate(rows, localizer, k=args.k, tolerance=args.tolerance, title=title, problems=problems)
        if args.json:
            _emit_json(report.to_json())
        else:
            print(format_report(report))
            print()
    return status


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
    from codetracer.core.render import render_text, run_to_json_obj

    run = _store().load_run(args.run)
    if args.full:
        sys.stdout.write(run.to_json(indent=2) + "\n")
    elif args.json:
        _emit_json(run_to_json_obj(run))
    else:
        print(render_text(run, stages_folded=args.fold))
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    hits = _store().search_steps(args.text, limit=args.limit)
    for hit in hits:
        if args.json:
            _emit_json(hit.__dict__)
        else:
            print(f"{hit.run_id} step {hit.step_id}: {' '.join(hit.snippet.split())}")
    return 0


def cmd_extractors(args: argparse.Namespace) -> int:
    from codetracer.core.extract import ExtractorRegistry

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
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
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
    p.add_argument("--tolerance", type=int, default=1, help="k of the +-k step accuracy (default 1)")
    p.add_argument(
        "--split", choices=["all", "odd", "even"], default="all", help="only rows whose file number is odd/even"
    )
    p.add_argument("--json", action="store_true", help="one JSON report per gold set")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("ls", help="list stored runs", description="List stored runs, newest first.")
    p.add_argument("--framework", help="only runs of this framework")
    p.add_argument("--outcome", choices=["solved", "failed", "unknown"], help="only runs with this outcome")
    p.add_argument("--since", help="only runs started since (2026-11-01, 7d, 12h)")
    p.add_argument("--until", help="only runs started until (2026-11-01, 7d, 12h)")
    p.add_argument("--limit", type=int, default=50, help="at most this many runs (default 50)")
    p.add_argument("--json", action="store_true", help="one JSON object per run per line")
    p.set_defaults(func=cmd_ls)

    p = sub.add_parser("show", help="print a stored run's tree", description="Print a stored run as a tree.")
    p.add_argument("run", help="run id (a unique prefix is enough)")
    p.add_argument("--json", action="store_true", help="one JSON object: run, steps, diagnosis")
    p.add_argument("--full", action="store_true", help="the whole tree as JSON (loads back losslessly)")
    p.add_argument("--fold", action="store_true", help="fold stages that do not hold the onset")
    p.set_defaults(func=cmd_show)

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

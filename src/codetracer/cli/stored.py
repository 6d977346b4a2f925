"""The commands on stored runs: ``ls``, ``show RUN``, ``search WORDS``, ``recover``, and ``report RUN`` (a stored run or
an artifact analyzed on the fly).
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from codetracer.cli.common import _emit_json, _parse_time, _store, use_color
from codetracer.core.errors import CodetracerError

if TYPE_CHECKING:
    from codetracer.core.model import Run


def cmd_ls(args: argparse.Namespace) -> int:
    store = _store()
    runs = store.list_runs(
        framework=args.framework,
        outcome=args.outcome,
        since=_parse_time(args.since) if args.since else None,
        until=_parse_time(args.until) if args.until else None,
        limit=args.limit + 1 if args.limit else None,  # one more: whether there are more than shown
    )
    more = bool(args.limit) and len(runs) > args.limit
    runs = runs[: args.limit] if more else runs
    note = f"(the newest {args.limit} runs; more are stored: --limit N shows N, --limit 0 all of them)"
    if args.json:
        for r in runs:
            _emit_json(r.__dict__)
        if more:
            print(note, file=sys.stderr)  # stdout stays one JSON object per line
        return 0
    if not runs:
        print("no stored runs (trace a run, or `codetracer analyze PATH`)")
        return 0
    print(f"{'RUN':60} {'FRAMEWORK':15} {'OUTCOME':8} {'STEPS':>5} {'ERR':>4} {'ONSET':>5}")
    for r in runs:
        onset = "" if r.onset_step is None else str(r.onset_step)
        flag = "" if r.complete else " (incomplete)"
        print(f"{r.id[:60]:60} {r.framework[:15]:15} {r.outcome:8} {r.n_steps:5} {r.n_error_steps:4} {onset:>5}{flag}")
    if more:
        print(note)
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from codetracer.core import config
    from codetracer.core.blobs import BlobStore
    from codetracer.core.render import render_step, render_text, run_to_json_obj

    run = _store().load_run(args.run)
    if args.redact:
        from codetracer.core.secrets import redact_run

        run = redact_run(run)
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
    write_report(run, out, redact=not args.no_redact)
    took = time.perf_counter() - started
    size = out.stat().st_size / 1024
    print(f"wrote {out} ({size:,.0f} KiB, {len(run.steps)} steps, {took:.2f}s): open it in a browser")
    return 0


def _load_run_or_artifact(ref: str, localizer_name: str | None) -> Run:
    """A stored run by id (prefix), else an artifact path analyzed now (diagnosed, not stored). A stored run is
    diagnosed for the report when a localizer is named or when it failed and has no diagnosis."""
    from codetracer.core.discovery import names_a_path
    from codetracer.core.extract import Failure, extract_all
    from codetracer.localize.registry import LocalizerRegistry

    path = Path(ref)
    if not names_a_path(path):
        from codetracer.core.model import Outcome
        from codetracer.verdicts import localize

        run = _store().load_run(ref)
        if localizer_name is not None or (run.diagnosis is None and run.outcome is Outcome.FAILED):
            run.diagnosis = localize(run, localizer_name)  # for this report; `codetracer diagnose` stores one
        return run
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


def cmd_recover(args: argparse.Namespace) -> int:
    from codetracer.core.tracer import recover

    runs = recover()
    print(f"recovered {len(runs)} run(s) from orphaned journals")
    return 0

"""The commands on stored runs: ``ls``, ``show RUN``, ``search WORDS``, ``recover``, and ``report RUN`` (a stored run or
an artifact analyzed on the fly).
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codetracer.cli.common import _emit_json, _parse_time, _store, use_color
from codetracer.cli.sequence_view import ls_header, ls_row, ls_sequence_line, sequence_text, summary_json
from codetracer.core.errors import CodetracerError
from codetracer.core.sequences import framework_detail

if TYPE_CHECKING:
    from codetracer.core.model import Run
    from codetracer.core.sequences import RunSequence
    from codetracer.core.store import RunSummary


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
    if not runs and not args.json:
        print("no stored runs (trace a run, or `codetracer analyze PATH`)")
        return 0
    rows = _ls_rows(store, runs)
    if args.json:
        for summary, head, sequence in rows:
            _emit_json(summary_json(summary, head, sequence))
        if more:
            print(note, file=sys.stderr)  # stdout stays one JSON object per line
        return 0
    width = max(24, min(66, max(len(r[0].id) for r in rows) + 6))  # room for the attempts' "  N. "
    print(ls_header(width))
    shown: set[str] = set()
    for summary, head, sequence in rows:
        detail = framework_detail(summary.framework, head.get("metadata") if isinstance(head.get("metadata"), dict)
                                  else None)
        if sequence is None:
            print(ls_row(summary, detail, width))
        elif sequence.root not in shown:
            shown.add(sequence.root)
            print(ls_sequence_line(sequence, detail, sequence.members[0].task, width))
        if sequence is not None:
            print(ls_row(summary, detail, width, prefix=f"  {sequence.number_of(summary.id)}. "))
    if more:
        print(note)
    return 0


def _ls_rows(store: Any, runs: list[RunSummary]) -> list[tuple[RunSummary, dict[str, Any], RunSequence | None]]:
    """The listed runs with their heads and sequences: a sequence's attempts together, in attempt order, where its
    newest listed attempt is (attempts not on the page are fetched, so a sequence is never shown in part)."""
    from codetracer.core.sequences import heads, sequences_for
    from codetracer.core.store import RunSummary

    sequences = sequences_for(store, [r.id for r in runs])
    by_id = {r.id: r for r in runs}
    for seq in sequences.values():  # attempts not on the page (older, or filtered out) join their sequence
        for m in seq.members:
            if m.run_id not in by_id:
                by_id[m.run_id] = RunSummary(
                    id=m.run_id, framework=m.framework, outcome=m.outcome, task=m.task, started_at=m.started_at,
                    n_steps=m.n_steps, n_error_steps=m.n_error_steps, complete=m.complete, onset_step=m.onset_step,
                    source=m.source,
                )
    ordered: list[RunSummary] = []
    placed: set[str] = set()
    for run in runs:
        sequence = sequences.get(run.id)
        members = [m.run_id for m in sequence.members] if sequence is not None else [run.id]
        for run_id in members:
            if run_id not in placed and run_id in by_id:
                placed.add(run_id)
                ordered.append(by_id[run_id])
    found = heads(store, [r.id for r in ordered])
    return [(r, found.get(r.id, {}), sequences.get(r.id)) for r in ordered]


def cmd_show(args: argparse.Namespace) -> int:
    from codetracer.core import config
    from codetracer.core.blobs import BlobStore
    from codetracer.core.render import render_step, render_text, run_to_json_obj
    from codetracer.core.sequences import sequence_of

    store = _store()
    run = store.load_run(args.run)
    sequence = sequence_of(store, run.id)
    if args.redact:
        from codetracer.core.secrets import redact_run

        run = redact_run(run)
    color = use_color(sys.stdout)
    if args.full:
        sys.stdout.write(run.to_json(indent=2) + "\n")
    elif args.json:
        _emit_json({**run_to_json_obj(run), "sequence": None if sequence is None else sequence.as_dict()})
    elif args.step is not None:
        print(render_step(run, args.step, color=color, load_blob=BlobStore(config.blob_dir()).get))
    else:
        # Fold around the failure by default; with no onset there is nothing to fold around, so show it all.
        has_onset = run.diagnosis is not None and run.diagnosis.onset_step is not None
        folded = args.fold or (has_onset and not args.all)
        print(render_text(run, stages_folded=folded, color=color, hint=f"codetracer show {shlex.quote(args.run)}"))
        if sequence is not None:
            print()
            print(sequence_text(_redacted(sequence) if args.redact else sequence, current=run.id))
    return 0


def _redacted(sequence: RunSequence) -> RunSequence:
    """The sequence with the corrections' texts redacted, as ``--redact`` redacts the tree."""
    from dataclasses import replace

    from codetracer.core.secrets import redact

    members = []
    for m in sequence.members:
        message = m.replay.get("message")
        replay = {**m.replay, "message": redact(message)} if isinstance(message, str) else m.replay
        members.append(replace(m, replay=replay))
    return replace(sequence, members=members)


def cmd_report(args: argparse.Namespace) -> int:
    from codetracer.report import write_report

    run = _load_run_or_artifact(args.run, args.localizer)
    out = Path(args.output or "report.html")
    started = time.perf_counter()
    write_report(run, out, redact=not args.no_redact, sequence=_stored_sequence(args.run, run))
    took = time.perf_counter() - started
    size = out.stat().st_size / 1024
    print(f"wrote {out} ({size:,.0f} KiB, {len(run.steps)} steps, {took:.2f}s): open it in a browser")
    return 0


def _stored_sequence(ref: str, run: Run) -> RunSequence | None:
    """The sequence of a stored run (none for an artifact analyzed on the fly)."""
    from codetracer.core.discovery import names_a_path
    from codetracer.core.sequences import sequence_of

    return None if names_a_path(Path(ref)) else sequence_of(_store(), run.id)


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

"""``codetracer export-otel RUN|PATH``: stored or analyzed runs sent to an OpenTelemetry collector."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from codetracer.cli.common import _store
from codetracer.core.errors import CodetracerError


def cmd_export_otel(args: argparse.Namespace) -> int:
    from codetracer.core.discovery import names_a_path
    from codetracer.core.extract import Failure, extract_all
    from codetracer.export.otel import send_runs
    from codetracer.localize.registry import LocalizerRegistry

    path = Path(args.target)
    failures = 0
    if names_a_path(path):  # artifacts: analyze them as `analyze` does, without storing
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
    result = send_runs(runs, endpoint=args.endpoint, timeout=args.timeout, capture_content=args.content or None,
                        redact=not args.no_redact)
    if not result.ok:
        print(f"codetracer: {result.error}", file=sys.stderr)
        return 1
    for run_id, trace_id in result.trace_ids.items():
        print(f"{run_id}  trace {trace_id}")
    print(f"sent {len(result.trace_ids)} run(s), {result.spans} spans, to {result.endpoint}", file=sys.stderr)
    return 1 if failures else 0

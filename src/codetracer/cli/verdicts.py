"""``codetracer diagnose RUN`` and ``codetracer verdict RUN OUTCOME``: judge and diagnose stored runs after the fact.

Both rewrite the stored run (see :mod:`codetracer.verdicts`) and print it folded around its onset, as ``show`` does.
"""

from __future__ import annotations

import argparse
import shlex
import sys

from codetracer.cli.common import _emit_json, use_color


def _print(run: object, ref: str, as_json: bool) -> None:
    from codetracer.core.model import Run
    from codetracer.core.render import render_text

    assert isinstance(run, Run)
    if as_json:
        diagnosis = run.diagnosis.model_dump(mode="json") if run.diagnosis is not None else None
        _emit_json({"run_id": run.id, "outcome": run.outcome.value, "diagnosis": diagnosis})
        return
    has_onset = run.diagnosis is not None and run.diagnosis.onset_step is not None
    print(render_text(run, stages_folded=has_onset, color=use_color(sys.stdout),
                      hint=f"codetracer show {shlex.quote(ref)}"))
    if run.diagnosis is None:
        print(f"  no diagnosis: the run is {run.outcome.value}")


def cmd_diagnose(args: argparse.Namespace) -> int:
    from codetracer.verdicts import diagnose

    run = diagnose(args.run, localizer=args.localizer)
    _print(run, args.run, args.json)
    return 0


def cmd_verdict(args: argparse.Namespace) -> int:
    from codetracer.verdicts import verdict

    run = verdict(args.run, args.outcome, by=args.by, localizer=args.localizer)
    _print(run, args.run, args.json)
    return 0

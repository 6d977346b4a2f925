"""``codetracer memory [ls | confirm RUN | forget [RUN]]``: the failure patterns remembered for this project."""

from __future__ import annotations

import argparse

from codetracer.cli.common import _emit_json, _store
from codetracer.core.errors import CodetracerError


def cmd_memory(args: argparse.Namespace) -> int:
    # `ls` and `forget` read and delete rows through the store alone: the localizer's memory module (and with it the
    # tree model and pydantic, 0.2 s of start-up) is only needed to confirm a run's pattern
    store = _store()
    if args.action == "ls":
        rows = store.patterns(framework=args.framework, limit=None)
        for p in rows:
            if args.json:
                _emit_json({"id": p.id, "project": p.project, **p.__dict__})
            else:
                mark = "confirmed" if p.confirmed else "         "
                where = f"{p.framework}/{p.task_kind}"
                print(f"{p.id:4} {mark} {p.seen:3}x {where}  {p.signature}  (e.g. {p.example_run_id})")
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
        from codetracer.localize import memory

        pattern = memory.remember(store, run, diagnosis, confirmed=True)
        assert pattern is not None
        print(f"confirmed {pattern.signature} for {pattern.framework}/{pattern.task_kind} in project {store.project!r}")
        return 0
    removed = store.forget_patterns(run_id=args.run)
    print(f"forgot {removed} failure pattern(s) of project {store.project!r}")
    return 0

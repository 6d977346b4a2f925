"""``codetracer run [--verify CMD] -- COMMAND ...``: run an agent's command line traced, without touching its code.

The command runs as a child process, with its own stdin, stdout and stderr, and its exit code becomes this one's
(``128 + N`` when signal N killed it). A folder holding only codetracer's ``sitecustomize.py`` goes first on its
``PYTHONPATH``; Python imports it at start-up, and it registers tracing when an agent framework is imported (see
:mod:`codetracer.autotrace`). When the command has ended, the runs it traced are listed on stderr, each failed one
with its diagnosis (computed now if the run has none, and stored with it).

Python started with ``-I`` or ``-E`` ignores ``PYTHONPATH`` and is not traced; neither is a program whose interpreter
cannot import codetracer (it says so once, and runs untraced).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import FrameType
from typing import Any

from codetracer.autotrace import PYTHONPATH_ENV, RUNS_FILE, SAID_FILE, SESSION_ENV, VERIFY_ENV
from codetracer.core.errors import CodetracerError

FORWARDED = (signal.SIGTERM, signal.SIGHUP)
"""Signals passed on to the command. ``SIGINT`` is not: a terminal sends it to the command itself, and a second one
would turn an agent's "interrupt" into "quit"."""


def child_environment(session: Path, verify: str | None) -> dict[str, str]:
    """The command's environment: the caller's, plus the bootstrap's folder first on ``PYTHONPATH`` and the session
    variables (which the bootstrap takes out again before the program runs)."""
    from codetracer.core import config

    site = session / "site"
    site.mkdir()
    shutil.copyfile(Path(__file__).resolve().parent.parent / "autotrace" / "_site.py", site / "sitecustomize.py")
    env = dict(os.environ)
    original = env.get("PYTHONPATH")
    env["PYTHONPATH"] = str(site) if not original else os.pathsep.join([str(site), original])
    if original is not None:
        env[PYTHONPATH_ENV] = original
    env[SESSION_ENV] = str(session)
    if verify:
        env[VERIFY_ENV] = verify
    env["CODETRACER_HOME"] = str(config.home().resolve())  # the child stores where `ls` here looks
    env["CODETRACER_PROJECT"] = config.project()
    return env


def _wait(child: subprocess.Popen[bytes]) -> int:
    """Wait for the command, passing on termination signals; its exit code, ``128 + N`` for a signal N."""
    previous: dict[signal.Signals, Any] = {}

    def forward(signum: int, frame: FrameType | None) -> None:
        if child.poll() is None:
            child.send_signal(signum)

    for sig in FORWARDED:
        previous[sig] = signal.signal(sig, forward)
    previous[signal.SIGINT] = signal.signal(signal.SIGINT, lambda signum, frame: None)
    try:
        code = child.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 128 - code if code < 0 else code


def traced_runs(session: Path) -> list[str]:
    """The ids of the runs the command's processes started, in order."""
    path = session / RUNS_FILE
    if not path.is_file():
        return []
    found: list[str] = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            run_id = json.loads(line)["run_id"]
        except (ValueError, KeyError, TypeError):
            continue  # a line torn by a kill: the rest still count
        if isinstance(run_id, str) and run_id not in found:
            found.append(run_id)
    return found


def report(session: Path, localizer_name: str | None, out: Any) -> None:
    """What the command traced: one line per run, and the diagnosis of each failed run."""
    from codetracer.cli.common import _store
    from codetracer.core.render import action_summary, shorten
    from codetracer.localize.registry import LocalizerRegistry

    ids = traced_runs(session)
    if not ids:
        if not (session / SAID_FILE).exists():
            print("codetracer: the command traced no agent run (codetracer traces mini-swe-agent, SWE-agent, "
                  "OpenHands SDK conversations and LangChain/LangGraph runs in a Python that can import it)", file=out)
        return
    store = _store()  # recovers the journals of runs whose process died first
    localizer = None
    try:
        for run_id in ids:
            try:
                run = store.load_run(run_id)
            except KeyError:
                print(f"codetracer: run {run_id} was started but is not stored", file=out)
                continue
            status = run.outcome.value + ("" if run.complete else ", incomplete")
            print(f"codetracer: run {run.id} [{status}] {len(run.steps)} steps  (codetracer show {run.id})", file=out)
            if run.outcome.value != "failed":
                continue
            if run.diagnosis is None:
                localizer = localizer or LocalizerRegistry.from_plugins().get(localizer_name)
                if localizer is None:
                    continue
                run.diagnosis = localizer.localize(run)
                store.save_run(run)
            d = run.diagnosis
            where = "no onset found"
            if d.onset_step is not None and 0 < d.onset_step <= len(run.steps):
                actions = run.steps[d.onset_step - 1].actions
                what = action_summary(actions[0]) if actions else "(no action)"
                where = f"onset step {d.onset_step}: {shorten(what, 80)}"
            print(f"  diagnosis ({d.localizer}, confidence {d.confidence:.2f}): {where}", file=out)
            if d.suggestion:
                print(f"  suggestion: {shorten(d.suggestion, 300)}", file=out)
    finally:
        store.close()


def cmd_run(args: argparse.Namespace) -> int:
    command = list(args.command)
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        raise CodetracerError("give the command to trace after --, e.g. codetracer run -- mini -t 'fix the test'")
    session = Path(tempfile.mkdtemp(prefix="codetracer-run-"))
    try:
        env = child_environment(session, args.verify)
        started = time.monotonic()
        try:
            child = subprocess.Popen(command, env=env)
        except OSError as exc:
            raise CodetracerError(f"cannot start {command[0]!r}: {exc.strerror or exc}") from None
        code = _wait(child)
        if not args.quiet:
            sys.stdout.flush()
            try:
                report(session, args.localizer, sys.stderr)
            except CodetracerError as exc:  # the command ran; only the report failed
                print(f"codetracer: cannot report the traced runs: {exc}", file=sys.stderr)
            if os.environ.get("CODETRACER_DEBUG"):
                print(f"codetracer: the command took {time.monotonic() - started:.1f} s", file=sys.stderr)
        return code
    finally:
        shutil.rmtree(session, ignore_errors=True)

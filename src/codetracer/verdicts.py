"""Stored runs judged and diagnosed after the fact: ``codetracer.diagnose(RUN)`` and ``codetracer.verdict(RUN, ...)``.

A live run is diagnosed when it finishes failed (the tracer's on-failure hook). Many runs learn their outcome only
later: a verifier run after the agent, a CI job's report, a person reading the patch. :func:`verdict` records that
outcome on the stored run (with who or what gave it) and diagnoses it when it failed; :func:`diagnose` (re)runs a
localizer on a stored run, e.g. the LLM localizer on a run the signal localizer already diagnosed. Both rewrite the
stored run, so ``ls``, ``show``, ``report``, ``--json`` and later exports see the result. The CLI commands
``codetracer diagnose`` and ``codetracer verdict`` call these.
"""

from __future__ import annotations

import time
from pathlib import Path

from codetracer.core import config
from codetracer.core.errors import CodetracerError
from codetracer.core.model import Diagnosis, Outcome, Run
from codetracer.core.store_api import RunStore
from codetracer.core.store_open import open_store, store_location

VERDICTS = {"failed": Outcome.FAILED, "solved": Outcome.SOLVED, "unknown": Outcome.UNKNOWN}
"""What a verdict may say, in the words the CLI takes (``passed``/``fail`` and friends are accepted too)."""

_ALIASES = {"fail": "failed", "failure": "failed", "passed": "solved", "pass": "solved", "success": "solved",
            "resolved": "solved"}


def _open(home: Path | str | None, project: str | None) -> RunStore:
    from codetracer.core.tracer import recover

    recover(home, project=project)  # a run that just finished may still be in its journal
    return open_store(store_location(Path(home) if home is not None else None), project=project or config.project())


def localize(run: Run, localizer: str | None = None) -> Diagnosis | None:
    """``run``'s diagnosis by the localizer called ``localizer`` (default: the first registered, ``signals``).

    A solved run gets an onset only when the localizer is confident (the localizer decides; a diagnosis without an
    onset is dropped), as in ``codetracer analyze``."""
    from codetracer.localize.registry import LocalizerRegistry

    try:
        found = LocalizerRegistry.from_plugins().get(localizer)
    except KeyError as exc:
        raise CodetracerError(str(exc.args[0])) from None
    if found is None:
        raise CodetracerError("no localizer is registered (is codetracer installed with its entry points?)")
    diagnosis = found.localize(run)
    if run.outcome is Outcome.SOLVED and diagnosis.onset_step is None:
        return None
    return diagnosis


def diagnose(
    run_id: str, *, localizer: str | None = None, home: Path | str | None = None, project: str | None = None
) -> Run:
    """Diagnose the stored run ``run_id`` (an id prefix is enough) and store the diagnosis; returns the run."""
    store = _open(home, project)
    try:
        run = store.load_run(run_id)
        run.diagnosis = localize(run, localizer)
        store.save_run(run)
        return run
    finally:
        store.close()


def verdict(
    run_id: str,
    outcome: str,
    *,
    by: str | None = None,
    localizer: str | None = None,
    home: Path | str | None = None,
    project: str | None = None,
) -> Run:
    """Record the stored run's outcome, given after it ended (``failed``, ``solved`` or ``unknown``), and store it.

    A failed run is diagnosed at once; a run judged solved loses a diagnosis that has no confident onset.
    ``by`` says who or what judged (``"CI job 1234"``, ``"pytest -q"``); it is kept in ``metadata["verdict"]``
    with the time and the outcome the run had before.
    """
    word = _ALIASES.get(outcome.strip().lower(), outcome.strip().lower())
    if word not in VERDICTS:
        raise CodetracerError(f"verdict {outcome!r}: expected one of {', '.join(VERDICTS)}")
    store = _open(home, project)
    try:
        run = store.load_run(run_id)
        before = run.outcome
        run.outcome = VERDICTS[word]
        run.metadata["verdict"] = {"outcome": word, "by": by, "at": time.time(), "before": before.value}
        if run.outcome is Outcome.FAILED or (run.outcome is Outcome.SOLVED and run.diagnosis is not None):
            run.diagnosis = localize(run, localizer)
        store.save_run(run)
        return run
    finally:
        store.close()

"""Cross-run memory: diagnoses become failure patterns, and similar runs get those patterns back as hints.

Why: the same agent on the same kind of task tends to fail the same way (edits a test instead of the code, submits
without running the tests, loops on a failing install). A pattern is a small *signature* of how a diagnosed run
failed -- the kind of action at the onset step plus the signal kinds seen there -- stored with the evidence text and
the advice under the store's ``(project, framework, task_kind)``. Later runs of the same framework and task kind
recall the patterns, ranked by how well their signals match, how often the pattern was seen and whether a person
confirmed it.

Isolation: everything goes through a store (:class:`~codetracer.core.store_api.RunStore`), whose ``project``
(``$CODETRACER_PROJECT``) scopes every read and write; the store is the file in ``$CODETRACER_HOME``, or one
PostgreSQL database every writer shares (``$CODETRACER_STORE``), so memory learned on one machine helps the others.
Memory is used only where a caller hands a store over (``codetracer analyze`` with its store, ``codetracer
memory``); the evaluation harness never does, so scores do not depend on what happened to be remembered.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from codetracer.core.model import Diagnosis, Evidence, Run
from codetracer.core.stages import classify_step
from codetracer.core.store_api import FailurePattern, RunStore
from codetracer.localize.signals import RunView, collect

META_SIGNALS = frozenset({"llm", "llm_usage", "llm_fallback", "memory"})
"""Evidence a localizer adds about itself; never part of a failure signature."""

_SWE_INSTANCE = re.compile(r"^[\w.-]+__[\w.-]+-\d+$")
_SWE_TASK = re.compile(r"<pr_description>|solving the following issue|github issue|pull request", re.I)
_TERMINAL_FRAMEWORKS = ("terminal-bench", "terminus", "claude-code", "codex", "harbor")
_CHAT_FRAMEWORKS = ("ag2", "autogen", "who-and-when", "magentic")


def task_kind(run: Run) -> str:
    """What kind of task the run worked on: ``swe-bench-like``, ``terminal-task``, ``chat-qa`` or ``code-task``.

    Derived from the framework and the metadata extractors record (never from gold labels), so live and offline runs
    of the same task land in the same bucket.
    """
    meta = run.metadata
    framework = run.framework.lower()
    instance = str(meta.get("instance_id") or "")
    dataset = str(meta.get("dataset") or meta.get("dataset_name") or "").lower()
    if _SWE_INSTANCE.match(instance) or "swe" in dataset or _SWE_TASK.search(run.task or ""):
        return "swe-bench-like"
    if any(name in framework for name in _CHAT_FRAMEWORKS) or (
        run.steps and all(not s.tool_calls for s in run.steps) and any(s.agent for s in run.steps)
    ):
        return "chat-qa"
    if (
        any(name in framework for name in _TERMINAL_FRAMEWORKS)
        or "terminal" in dataset
        or str(meta.get("format", "")).lower() == "atif"
        or "task_id" in meta
    ):
        return "terminal-task"
    return "code-task"


def onset_signals(diagnosis: Diagnosis) -> list[str]:
    """The failure signal kinds the diagnosis cites at its onset step (sorted, without localizer bookkeeping)."""
    if diagnosis.onset_step is None:
        return []
    kinds = {e.signal for e in diagnosis.evidence if e.step_id == diagnosis.onset_step}
    return sorted(kinds - META_SIGNALS)


def signature(run: Run, diagnosis: Diagnosis) -> str | None:
    """``<action kind>:<signal>+<signal>`` for the onset step, e.g. ``patching:overwritten_edit+test_fails_after_edit``;
    ``None`` when the diagnosis has no onset (nothing to learn from)."""
    onset = diagnosis.onset_step
    if onset is None or not 1 <= onset <= len(run.steps):
        return None
    action_kind = classify_step(run.step(onset)).value
    return f"{action_kind}:{'+'.join(onset_signals(diagnosis)) or 'silent'}"


def _evidence_text(diagnosis: Diagnosis) -> str:
    onset = diagnosis.onset_step
    cited = [e for e in diagnosis.evidence if e.step_id == onset and e.signal not in META_SIGNALS]
    details = "; ".join(f"{e.signal}: {e.detail}" for e in sorted(cited, key=lambda e: -e.weight)[:3])
    return (details or diagnosis.reasoning)[:500]


def remember(store: RunStore, run: Run, diagnosis: Diagnosis, *, confirmed: bool = False) -> FailurePattern | None:
    """Store ``diagnosis`` of ``run`` as a failure pattern of the store's project (or reinforce the same pattern).

    ``confirmed`` marks a diagnosis a person agreed with; confirmed patterns rank first and stay confirmed. Returns
    the pattern as stored, or ``None`` when the diagnosis has no onset to learn from.
    """
    sig = signature(run, diagnosis)
    if sig is None:
        return None
    kind = task_kind(run)
    store.remember_pattern(
        framework=run.framework,
        task_kind=kind,
        signature=sig,
        evidence=_evidence_text(diagnosis),
        advice=diagnosis.suggestion,
        confirmed=confirmed,
        example_run_id=run.id,
    )
    return next(p for p in store.patterns(framework=run.framework, task_kind=kind, limit=1000) if p.signature == sig)


def _signal_kinds(run: Run, evidence: Iterable[Evidence] | None) -> set[str]:
    found = list(evidence) if evidence is not None else collect(RunView(run))
    return {e.signal for e in found} - META_SIGNALS


def recall(
    store: RunStore, run: Run, *, evidence: Iterable[Evidence] | None = None, limit: int = 5
) -> list[FailurePattern]:
    """Patterns of the store's project for runs like ``run`` (same framework and task kind), best first.

    Ranking: confirmed first, then the share of the pattern's signal kinds that the run also shows (from
    ``evidence``, else the signal extractors), then how often it was seen. Patterns learned from this very run are
    left out, so a run never "recalls" its own diagnosis.
    """
    candidates = [
        p
        for p in store.patterns(framework=run.framework, task_kind=task_kind(run), limit=200)
        if p.example_run_id != run.id
    ]
    if not candidates:
        return []
    kinds = _signal_kinds(run, evidence)

    def overlap(pattern: FailurePattern) -> float:
        wanted = {k for k in pattern.signature.partition(":")[2].split("+") if k and k != "silent"}
        return len(wanted & kinds) / len(wanted) if wanted else 0.0

    ranked = sorted(candidates, key=lambda p: (-int(p.confirmed), -overlap(p), -p.seen))
    return ranked[:limit]


def matching(run: Run, diagnosis: Diagnosis, patterns: Iterable[FailurePattern]) -> FailurePattern | None:
    """The first recalled pattern whose signature equals this diagnosis's signature, if any."""
    sig = signature(run, diagnosis)
    return next((p for p in patterns if p.signature == sig), None) if sig else None


def mention_known_pattern(store: RunStore, run: Run, diagnosis: Diagnosis) -> Diagnosis:
    """``diagnosis`` with one sentence added to its reasoning when a remembered pattern of this project has the same
    signature -- how a localizer without a model uses memory: as context for the reader, never to move the onset."""
    found = matching(run, diagnosis, recall(store, run, evidence=diagnosis.evidence, limit=50))
    if found is None:
        return diagnosis
    status = "confirmed" if found.confirmed else "unconfirmed"
    note = (
        f" Known pattern ({status}, seen {found.seen}x in {found.framework}/{found.task_kind} runs"
        + (f", e.g. {found.example_run_id}" if found.example_run_id else "")
        + f"): {found.signature}."
        + (f" Advice then: {found.advice}" if found.advice else "")
    )
    return diagnosis.model_copy(update={"reasoning": diagnosis.reasoning + note})


def list_patterns(store: RunStore, *, framework: str | None = None) -> list[tuple[int, str, FailurePattern]]:
    """Every pattern of the store's project as ``(id, project, pattern)``, confirmed and most seen first."""
    return [(p.id, p.project, p) for p in store.patterns(framework=framework, limit=None)]


def forget(store: RunStore, *, run_id: str | None = None) -> int:
    """Delete this project's patterns (only those learned from ``run_id`` when given); returns how many went.

    Other projects' patterns are never touched.
    """
    return store.forget_patterns(run_id=run_id)

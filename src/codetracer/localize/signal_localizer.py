"""The signal-based localizer: combine per-step evidence into onset, chain, step labels, confidence and a story.

Why this combination: a failed run usually shows one of two shapes.

1. **A failure that is never recovered from.** Errors, failing checks, unverified edits or loops after the last
   *checkpoint* (the last successful verification or successful execution) are what the run ends on. Earlier
   errors that a later success repaired are not decisive (exploration errors are normal). The unrecovered evidence
   is grouped into clusters of nearby steps; the onset is the first step of the last cluster that carries real
   weight, the chain is every step with evidence from there on.
2. **A silent failure.** Nothing visibly breaks, yet the answer is wrong (typical of chat-style multi-agent logs and
   of wrong-but-plausible patches). The result then builds on the first artefact the run produced and used -- the
   first code handed to an executor, the first command/edit -- so that step is the onset, with low confidence.

Confidence grows with the unrecovered evidence weight (``1 - exp(-w / 1.5)``) and is kept low for silent failures.
A diagnosis is *confident* at ``confidence >= CONFIDENT`` (0.5); the evaluation counts a confident onset on a solved
run as a false alarm. When the run's outcome is known to be solved no onset is reported unless it is confident.
"""

from __future__ import annotations

import math
from collections import defaultdict

from codetracer.core.model import Diagnosis, Evidence, Outcome, Run, StageKind
from codetracer.localize.signals import INCORRECT_SIGNALS, UNUSEFUL_SIGNALS, RunView, collect

CONFIDENT = 0.5
"""Confidence at and above which a diagnosis claims the run failed where it says."""

SILENT_CONFIDENCE = {Outcome.FAILED: 0.35, Outcome.UNKNOWN: 0.15, Outcome.SOLVED: 0.0}
"""Confidence of a silent-failure onset: below :data:`CONFIDENT`, higher when the run is known to have failed."""

MIN_CLUSTER_WEIGHT = 1.0
_SUGGESTIONS = {
    "error": "Read the error output of step {s} and fix its cause before continuing, rather than retrying.",
    "test_fails_after_edit": "Revisit the edit at step {s}: the verification after it fails; check the change "
    "against the failing test before building on it.",
    "unverified": "Run the relevant tests after the edit at step {s} before submitting.",
    "no_verification": "Add a verification step (run the tests or a reproduction) after the change at step {s}.",
    "loop": "Stop repeating the action at step {s}; change approach or gather new information.",
    "repeat": "Stop repeating the action at step {s}; change approach or gather new information.",
    "ignored_error": "Do not claim success at step {s} while the previous result is an error; fix it first.",
    "overwritten_edit": "The edit at step {s} was later replaced: decide on the change before editing.",
    "unneeded_edit": "The edit at step {s} touches a file the task does not point to; check it is needed.",
    "unfinished": "The run stopped at step {s} without finishing; budget steps for verification and submission.",
    "silent": "Check the result of step {s} independently (another source, a test, a sanity check) before building "
    "the answer on it.",
}


class SignalLocalizer:
    """Evidence from the tree alone: no model, no API key, milliseconds per run."""

    name = "signals"

    def localize(self, run: Run) -> Diagnosis:
        view = RunView(run)
        evidence = collect(view)
        if not run.steps:
            return Diagnosis(localizer=self.name, reasoning="The run has no steps; nothing to localize.")
        checkpoint = _last_checkpoint(view)
        unrecovered = [e for e in evidence if e.signal in INCORRECT_SIGNALS and e.step_id > checkpoint]
        unrecovered += [e for e in evidence if e.signal in {"loop", "unfinished", "no_verification"}]
        onset, weight = _onset_from_clusters(unrecovered, len(run.steps))
        silent = onset is None
        if onset is None:
            onset = _first_used_artefact(view)
            confidence = SILENT_CONFIDENCE[run.outcome]
        else:
            confidence = min(0.95, 1.0 - math.exp(-weight / 1.5))
        if run.outcome is Outcome.SOLVED and confidence < CONFIDENT:
            return Diagnosis(
                localizer=self.name,
                confidence=confidence,
                evidence=evidence,
                reasoning="The run is solved and no confident failure evidence was found.",
            )
        return _diagnosis(self.name, run, view, evidence, onset, checkpoint, confidence, silent)


def _last_checkpoint(view: RunView) -> int:
    """Step id of the last successful check (a passing verification, or an executor turn that ran cleanly after an
    earlier failure); 0 when there is none. Evidence up to it counts as recovered."""
    last = 0
    seen_failure = False
    for i, step in enumerate(view.steps):
        if view.failed[i]:
            seen_failure = True
            continue
        if view.kinds[i] is StageKind.VERIFICATION and step.all_observations:
            last = view.judged(i) + 1
        elif view.executor[i] and seen_failure:
            last = i + 1
    return last


def _onset_from_clusters(found: list[Evidence], n_steps: int) -> tuple[int | None, float]:
    """First step of the last cluster of nearby evidence steps carrying real weight, and the weight from there on."""
    if not found:
        return None, 0.0
    per_step: dict[int, float] = defaultdict(float)
    for e in found:
        per_step[e.step_id] += e.weight
    steps = sorted(per_step)
    gap = max(3, n_steps // 10)
    clusters: list[list[int]] = [[steps[0]]]
    for s in steps[1:]:
        if s - clusters[-1][-1] <= gap:
            clusters[-1].append(s)
        else:
            clusters.append([s])
    for cluster in reversed(clusters):
        if sum(per_step[s] for s in cluster) >= MIN_CLUSTER_WEIGHT:
            start = cluster[0]
            return start, sum(w for s, w in per_step.items() if s >= start)
    return None, 0.0


def _first_used_artefact(view: RunView) -> int:
    """The first step that produced something the rest of the run used (code run by an executor, a command, an
    edit); without any, the first contribution after the opening message (or step 1)."""
    for i, made in enumerate(view.artefact):
        if made:
            return i + 1
    for i in range(1, len(view.steps)):
        if not view.executor[i]:
            return i + 1
    return 1


def _diagnosis(
    name: str,
    run: Run,
    view: RunView,
    evidence: list[Evidence],
    onset: int,
    checkpoint: int,
    confidence: float,
    silent: bool,
) -> Diagnosis:
    by_step: dict[int, list[Evidence]] = defaultdict(list)
    for e in evidence:
        by_step[e.step_id].append(e)
    chain = [s for s in sorted(by_step) if s > onset and any(e.weight >= 0.5 for e in by_step[s])]
    incorrect = [onset] + [s for s in chain if any(e.signal in INCORRECT_SIGNALS for e in by_step[s])]
    unuseful = [
        s
        for s in sorted(by_step)
        if s > onset and s not in incorrect and any(e.signal in UNUSEFUL_SIGNALS for e in by_step[s])
    ]
    onset_evidence = sorted(by_step.get(onset, []), key=lambda e: -e.weight)
    if silent:
        onset_evidence = [
            Evidence(
                step_id=onset,
                signal="silent",
                detail="first artefact the run used; no failure shows after the last checkpoint",
                weight=0.3,
            ),
            *onset_evidence,
        ]
    lead = onset_evidence[0].signal if onset_evidence else "silent"
    stage = run.stage_of(onset)
    agent = run.step(onset).agent
    return Diagnosis(
        localizer=name,
        onset_step=onset,
        chain=chain,
        stage_id=stage.id if stage else None,
        incorrect_step_ids=sorted(set(incorrect)),
        unuseful_step_ids=unuseful,
        confidence=round(confidence, 3),
        reasoning=_explain(run, onset, chain, onset_evidence, by_step, checkpoint, confidence, silent),
        evidence=[*onset_evidence[:1], *evidence] if silent else evidence,
        suggestion=_SUGGESTIONS.get(lead, _SUGGESTIONS["silent"]).format(s=onset),
        agent=agent,
    )


def _explain(
    run: Run,
    onset: int,
    chain: list[int],
    onset_evidence: list[Evidence],
    by_step: dict[int, list[Evidence]],
    checkpoint: int,
    confidence: float,
    silent: bool,
) -> str:
    """One paragraph citing step ids and the evidence behind them."""
    who = f" by {run.step(onset).agent}" if run.step(onset).agent else ""
    stage = run.stage_of(onset)
    where = f" (stage {stage.id}, {stage.kind})" if stage else ""
    parts = [f"Onset at step {onset}{who}{where}"]
    if silent:
        parts.append(
            ": no failure shows after the last checkpoint"
            + (f" (step {checkpoint})" if checkpoint else "")
            + f", so the failure is silent and the result builds on step {onset}, the first artefact the run used."
        )
    else:
        cited = "; ".join(f"{e.signal}: {e.detail}" for e in onset_evidence[:3])
        after = f" after the last checkpoint at step {checkpoint}" if checkpoint else ""
        parts.append(f": {cited}. It starts the last unrecovered run of failure evidence{after}.")
    if chain:
        shown = []
        for s in chain[:6]:
            top = max(by_step[s], key=lambda e: e.weight)
            shown.append(f"step {s} ({top.signal}: {top.detail})")
        more = f" and {len(chain) - 6} more" if len(chain) > 6 else ""
        parts.append(f" Downstream: {'; '.join(shown)}{more}.")
    parts.append(f" Confidence {confidence:.2f}.")
    return "".join(parts)

"""The signal-based localizer: evidence from the tree, a failure shape, then onset, chain, labels and a story.

Evidence comes from three families of small extractors, each documented with what it reads:
:mod:`codetracer.localize.signals` (errors, failing checks, loops, overwritten edits, ignored errors ...),
:mod:`codetracer.localize.edits` (what survives into the final patch or files, and what the verifier says about it)
and :mod:`codetracer.localize.calls` (garbled and failed tool calls). :mod:`codetracer.localize.shapes` then picks
the failure shape the run shows and its onset; this module turns that into a
:class:`~codetracer.core.model.Diagnosis`:

* ``chain`` -- the later steps that build on the onset: for change-shaped failures the steps that kept, applied or
  re-wrote the change, edited tests to fit it, or saw its check fail; for a degenerate run every later broken call;
  otherwise every later step with strong evidence;
* ``incorrect_step_ids`` -- the onset and its chain (CodeTraceBench's *incorrect*);
* ``unuseful_step_ids`` -- steps that were wasted without causing the failure: repeats, loops, garbled calls, steps
  with no valid action, thrown-away edits, errors later repaired (CodeTraceBench's *unuseful*);
* ``confidence`` -- the shape's; a diagnosis is *confident* at ``confidence >= CONFIDENT`` (0.5), and the evaluation
  counts a confident onset on a solved run (outcome hidden) as a false alarm. When the run is known to be solved no
  onset is reported unless it is confident.
"""

from __future__ import annotations

from collections import defaultdict

from codetracer.core.model import Diagnosis, Evidence, Outcome, Run
from codetracer.localize.calls import garbled, step_kind
from codetracer.localize.edits import EDIT_SIGNALS, EditFacts
from codetracer.localize.shapes import SILENT_CONFIDENCE, Verdict, decide, last_checkpoint
from codetracer.localize.signals import INCORRECT_SIGNALS, UNUSEFUL_SIGNALS, RunView, collect

__all__ = ["CONFIDENT", "SILENT_CONFIDENCE", "SignalLocalizer"]

CONFIDENT = 0.5
"""Confidence at and above which a diagnosis claims the run failed where it says."""

_SUGGESTIONS = {
    "error": "Read the error output of step {s} and fix its cause before continuing, rather than retrying.",
    "test_fails_after_edit": "Revisit the edit at step {s}: the verification after it fails; check the change "
    "against the failing test before building on it.",
    "verifier_fails": "Revisit the edit at step {s}: the verifier that judged the run fails{tests}; run the "
    "relevant tests after a change and fix it before submitting.",
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
    "surviving_edit": "Re-examine the change made at step {s} to {files}: it is what the final state holds and the "
    "run failed{tests}; check it against every case the task names and run the relevant tests before submitting.",
    "verifier_blames": "The failing verification{tests} points at the change made at step {s} to {files}: fix that "
    "change rather than what came after it.",
    "failing_attempts": "The approach taken at step {s} failed its checks and every later attempt kept it; go back "
    "to the cause the first failing check showed instead of patching around it.",
    "garbled_kept": "The file written at step {s} ({files}) holds garbled content: rewrite it whole and read it back "
    "before building on it.",
    "degenerate": "From step {s} on the tool calls are garbled or fail: stop, re-read the tool's call format, and "
    "issue one well-formed call that makes progress.",
    "never_started": "The run never acted successfully on its environment before stopping at step {s}: start with "
    "one simple, well-formed command and produce what the task asks for before ending.",
}
_CHAIN_SIGNALS = frozenset({"surviving_edit", "applied_edit", "edits_tests", "verifier_blames"})
"""Signals that put a later step on the chain of a change-shaped failure: it kept building on the change."""
UNUSEFUL = UNUSEFUL_SIGNALS | {"garbled_call", "no_action", "dropped_edit", "recovered_error"}
"""Signals of wasted steps (CodeTraceBench's *unuseful*): nothing came of them, but they did not cause the failure."""


class SignalLocalizer:
    """Evidence from the tree alone: no model, no API key, milliseconds per run."""

    name = "signals"

    def localize(self, run: Run) -> Diagnosis:
        if not run.steps:
            return Diagnosis(localizer=self.name, reasoning="The run has no steps; nothing to localize.")
        view = RunView(run)
        facts = EditFacts(run)
        kinds = [step_kind(step) for step in run.steps]
        evidence = collect(view)
        for extract in EDIT_SIGNALS:
            evidence.extend(extract(facts))
        evidence.extend(call_evidence(run, kinds))
        evidence.sort(key=lambda e: e.step_id)
        checkpoint = last_checkpoint(view)
        verdict = decide(run, view, facts, kinds, evidence, checkpoint)
        if run.outcome is Outcome.SOLVED and verdict.confidence < CONFIDENT:
            return Diagnosis(
                localizer=self.name,
                confidence=verdict.confidence,
                evidence=evidence,
                reasoning="The run is solved and no confident failure evidence was found.",
            )
        return _diagnosis(self.name, run, facts, kinds, evidence, verdict, checkpoint)


def call_evidence(run: Run, kinds: list[str]) -> list[Evidence]:
    """Garbled calls and steps that produced no action: wasted turns, and the raw material of the degenerate shape."""
    found = []
    for step, kind in zip(run.steps, kinds, strict=True):
        if kind == "garbled":
            reasons = [r for r in (garbled(a) for a in step.actions) if r]
            found.append(Evidence(step_id=step.id, signal="garbled_call", detail=reasons[0] if reasons else "garbled",
                                  weight=0.3))
        elif kind == "none" and step.thought is not None and any(o.text for o in step.observations):
            found.append(Evidence(step_id=step.id, signal="no_action",
                                  detail="the step gave no valid action (the framework answered with feedback)",
                                  weight=0.2))
    return found


def _chain(run: Run, kinds: list[str], verdict: Verdict, by_step: dict[int, list[Evidence]]) -> list[int]:
    onset = verdict.onset
    later = [s for s in sorted(by_step) if s > onset]
    if verdict.shape in ("surviving_change", "garbled_kept", "degenerate"):
        chain = {s for s in later if any(e.signal in _CHAIN_SIGNALS for e in by_step[s])}
        if verdict.shape == "degenerate":  # every broken call of the stretch continues the failure
            chain.update(s for s in range(onset + 1, len(run.steps) + 1) if kinds[s - 1] in ("garbled", "failed"))
        else:
            chain.update(s for s in later if any(e.signal == "test_fails_after_edit" for e in by_step[s]))
        return sorted(chain)
    if verdict.shape == "never_started":
        return []
    return [s for s in later if any(e.weight >= 0.5 for e in by_step[s])]


def _diagnosis(
    name: str,
    run: Run,
    facts: EditFacts,
    kinds: list[str],
    evidence: list[Evidence],
    verdict: Verdict,
    checkpoint: int,
) -> Diagnosis:
    onset = verdict.onset
    by_step: dict[int, list[Evidence]] = defaultdict(list)
    for e in evidence:
        by_step[e.step_id].append(e)
    chain = _chain(run, kinds, verdict, by_step)
    if verdict.shape == "unrecovered":
        incorrect = [onset] + [s for s in chain if any(e.signal in INCORRECT_SIGNALS for e in by_step[s])]
    else:
        incorrect = [onset, *chain]
    unuseful = [s for s in sorted(by_step) if s not in incorrect and any(e.signal in UNUSEFUL for e in by_step[s])]
    onset_evidence = sorted(by_step.get(onset, []), key=lambda e: -e.weight)
    if verdict.shape != "unrecovered":  # the shape's own reason leads
        lead = Evidence(step_id=onset, signal=verdict.lead, detail=verdict.why, weight=round(verdict.confidence, 3))
        onset_evidence = [lead, *[e for e in onset_evidence if e.signal != verdict.lead]]
    stage = run.stage_of(onset)
    return Diagnosis(
        localizer=name,
        onset_step=onset,
        chain=chain,
        stage_id=stage.id if stage else None,
        incorrect_step_ids=sorted(set(incorrect)),
        unuseful_step_ids=unuseful,
        confidence=round(verdict.confidence, 3),
        reasoning=_explain(run, verdict, chain, onset_evidence, by_step, checkpoint, facts),
        evidence=[onset_evidence[0], *evidence] if verdict.shape != "unrecovered" else evidence,
        suggestion=_suggestion(verdict.lead, onset, facts),
        agent=run.step(onset).agent,
    )


def _suggestion(lead: str, onset: int, facts: EditFacts) -> str:
    template = _SUGGESTIONS.get(lead, _SUGGESTIONS["silent"])
    files = ", ".join(f.path for f in facts.kept_files if str(onset) in f.lines_by_step) or "the changed files"
    failing = facts.findings.failed_tests[:2]
    tests = f" ({', '.join(failing)} failed)" if failing else ""
    return template.format(s=onset, files=files, tests=tests)


def _explain(
    run: Run,
    verdict: Verdict,
    chain: list[int],
    onset_evidence: list[Evidence],
    by_step: dict[int, list[Evidence]],
    checkpoint: int,
    facts: EditFacts,
) -> str:
    """One paragraph citing step ids and the evidence behind them."""
    onset = verdict.onset
    who = f" by {run.step(onset).agent}" if run.step(onset).agent else ""
    stage = run.stage_of(onset)
    where = f" (stage {stage.id}, {stage.kind})" if stage else ""
    parts = [f"Onset at step {onset}{who}{where}"]
    if verdict.shape == "silent":
        parts.append(
            ": no failure shows after the last checkpoint"
            + (f" (step {checkpoint})" if checkpoint else "")
            + f", so the failure is silent and the result builds on step {onset}, the first artefact the run used."
        )
    elif verdict.shape == "unrecovered":
        cited = "; ".join(f"{e.signal}: {e.detail}" for e in onset_evidence[:3])
        after = f" after the last checkpoint at step {checkpoint}" if checkpoint else ""
        parts.append(f": {cited}. It starts the last unrecovered run of failure evidence{after}.")
    else:
        cited = "; ".join(e.detail for e in onset_evidence[1:3] if e.detail)
        parts.append(f": {verdict.why}" + (f" ({cited})" if cited else "") + ".")
        provenance = facts.provenance
        if verdict.shape == "surviving_change" and provenance is not None:
            parts.append(f" The final state comes from {provenance.patch_source}.")
    failed_tests = facts.findings.failed_tests
    if failed_tests and verdict.shape not in ("silent", "unrecovered"):
        more = f" and {len(failed_tests) - 3} more" if len(failed_tests) > 3 else ""
        parts.append(f" The verifier failed {', '.join(failed_tests[:3])}{more}.")
    if chain:
        shown = []
        for s in chain[:6]:
            top = max(by_step[s], key=lambda e: e.weight) if by_step.get(s) else None
            shown.append(f"step {s} ({top.signal}: {top.detail})" if top else f"step {s}")
        more = f" and {len(chain) - 6} more" if len(chain) > 6 else ""
        parts.append(f" Downstream: {'; '.join(shown)}{more}.")
    parts.append(f" Confidence {verdict.confidence:.2f}.")
    return "".join(parts)

"""Failure shapes: the few ways a failed agent run goes wrong, each with a rule for where it began.

The signal localizer checks the shapes below in order, most specific first; the first one the run shows gives the
onset, a confidence and the words of the diagnosis. Every rule names the evidence it reads and none names a
framework, a benchmark or a task.

1. **garbled_kept** -- the first change that survives into the run's final state (patch or files) is itself garbled
   (the file path written as content, a stray ``:``/``,`` line above the code): the files the run left are broken
   from that write on. Reads: provenance (:mod:`codetracer.core.provenance`), the call checks of
   :mod:`codetracer.localize.calls`.
2. **degenerate** -- after the last change the run kept, its calls are garbled or fail at least two to one until the
   end (:func:`~codetracer.localize.calls.degenerate_tail`): the run lost the ability to act and never got it back.
   Onset: the first call of that stretch.
3. **never_started** -- the same stretch, but nothing before it ever acted on the environment successfully (or the
   run made calls and none succeeded): there is no wrong action to point to, the failure is stopping without the
   work. Onset: the last step.
4. **surviving_change** -- the run left a final patch (or files) and failed: a silent failure is where the kept
   change was introduced. Onset: the first step whose change survives (source files before test files, byproducts
   such as ``.orig`` never), moved to the change the verifier's failure points at when it names one
   (:func:`~codetracer.localize.edits.verifier_blame`), or back to the first of an unbroken line of thrown-away
   attempts on the same files whose checks all failed (:func:`failing_attempts_start`): the wrong line of work began
   there. With the outcome unknown the shape stays below the confident threshold unless the run visibly ends
   failing (its last check after the onset fails).
5. **unrecovered** -- errors, failing checks, loops after the last checkpoint (passing verification): the first step
   of the last cluster of such evidence, confidence growing with its weight.
6. **silent** -- nothing of the above (chat logs, runs without changes): the first artefact the run produced and
   used, with low confidence.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

from codetracer.core.model import Evidence, Outcome, Run, StageKind
from codetracer.core.provenance import same_file
from codetracer.localize.calls import degenerate_tail
from codetracer.localize.edits import EditFacts
from codetracer.localize.signals import INCORRECT_SIGNALS, RunView

SILENT_CONFIDENCE = {Outcome.FAILED: 0.35, Outcome.UNKNOWN: 0.15, Outcome.SOLVED: 0.0}
"""Confidence of a silent-failure onset: below the confident threshold, higher when the run is known to have
failed."""

MIN_CLUSTER_WEIGHT = 1.0


@dataclass
class Verdict:
    """What one shape says: the onset, how sure it is, the lead signal and its words."""

    shape: str
    onset: int
    confidence: float
    lead: str
    """The signal name the diagnosis leads with (it picks the suggestion)."""
    why: str = ""


def decide(
    run: Run, view: RunView, facts: EditFacts, kinds: list[str], evidence: list[Evidence], checkpoint: int
) -> Verdict:
    """The verdict of the first shape the run shows (see the module docstring for the order and the rules)."""
    failed = run.outcome is Outcome.FAILED
    surviving = facts.surviving(tests=False) or facts.surviving()
    first_kept = surviving[0] if surviving else None
    broken = [s for s in facts.surviving(named_only=False) if kinds[s - 1] == "garbled"]
    if broken and (first_kept is None or broken[0] <= first_kept or kinds[first_kept - 1] == "garbled"):
        return Verdict("garbled_kept", broken[0], 0.75 if failed else 0.45, "garbled_kept",
                       "its garbled write is still in the files the run left")
    tail = degenerate_tail(kinds, after=max(surviving) if surviving else 0)
    if tail is not None:
        if surviving or "productive" in kinds[:tail]:
            return Verdict("degenerate", tail + 1, 0.7 if failed else 0.45, "degenerate",
                           "from here on the run's calls are garbled or fail, and it never acts successfully again")
        return _never_started(run, 0.6 if failed else 0.35)
    if first_kept is not None:
        return _surviving_change(run, view, evidence, first_kept, failed)
    unrecovered = [e for e in evidence if e.signal in INCORRECT_SIGNALS and e.step_id > checkpoint]
    unrecovered += [e for e in evidence if e.signal in {"loop", "unfinished", "no_verification"}]
    onset, weight = onset_from_clusters(unrecovered, len(run.steps))
    if onset is not None:
        lead = max((e for e in unrecovered if e.step_id == onset), key=lambda e: e.weight).signal
        return Verdict("unrecovered", onset, min(0.95, 1.0 - math.exp(-weight / 1.5)), lead)
    if any(k != "none" for k in kinds) and "productive" not in kinds:
        return _never_started(run, 0.5 if failed else 0.25)
    return Verdict("silent", first_used_artefact(view), SILENT_CONFIDENCE[run.outcome], "silent",
                   "first artefact the run used; no failure shows after the last checkpoint")


def _never_started(run: Run, confidence: float) -> Verdict:
    return Verdict("never_started", len(run.steps), confidence, "never_started",
                   "no call of the run ever acted on its environment successfully; it stopped here")


def _surviving_change(run: Run, view: RunView, evidence: list[Evidence], first_kept: int, failed: bool) -> Verdict:
    blamed = sorted(e.step_id for e in evidence if e.signal == "verifier_blames")
    if blamed:
        onset, lead = blamed[0], "verifier_blames"
        why = "the verifier's failure points at its change, which the final state keeps"
    else:
        onset, lead = first_kept, "surviving_edit"
        why = "it wrote the first change that the final state keeps"
    start = failing_attempts_start(run, view, onset)
    if start != onset:
        lead = "failing_attempts"
        why = (f"it began the unbroken line of failing attempts on the same files that ends in the kept change of "
               f"step {onset}")
        onset = start
    known = 0.75 if blamed else 0.55
    confidence = known if failed else 0.55 if ends_failing(view, onset) else 0.3
    return Verdict("surviving_change", onset, confidence, lead, why)


def failing_attempts_start(run: Run, view: RunView, onset: int) -> int:
    """The first of the thrown-away attempts on the same files that led, without a passing check in between, to
    the kept change at ``onset``; ``onset`` itself when there is none.

    When each earlier attempt was overwritten or reverted after a failing check and the agent kept going the same
    way, the wrong line of work began at the first of them. Debugging edits (prints, logging) and deletions are not
    attempts.
    """
    files = [c.path for c in run.step(onset).changes]
    start = onset
    for i in range(onset - 2, -1, -1):
        step = view.steps[i]
        if view.kinds[i] is StageKind.VERIFICATION and step.all_observations and not view.failed[i]:
            break
        dropped = [
            c for c in step.changes
            if c.fate in ("overwritten", "reverted") and not c.debug and not c.empty
            and any(same_file(c.path, f) for f in files)
        ]
        if not dropped:
            continue
        checks = [j for j in range(i + 1, start - 1) if view.kinds[j] is StageKind.VERIFICATION]
        if not checks or not all(view.failed[j] for j in checks):
            break
        start = step.id
    return start


def ends_failing(view: RunView, onset: int) -> bool:
    """Whether the run's last check after ``onset`` failed: a visible failure at the end, which makes a surviving
    change suspect even when the outcome is not known."""
    last_check = None
    for i in range(onset - 1, len(view.steps)):
        if view.kinds[i] is StageKind.VERIFICATION and view.steps[i].all_observations:
            last_check = i
    return last_check is not None and view.failed[last_check]


def last_checkpoint(view: RunView) -> int:
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


def onset_from_clusters(found: list[Evidence], n_steps: int) -> tuple[int | None, float]:
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


def first_used_artefact(view: RunView) -> int:
    """The first step that produced something the rest of the run used (code run by an executor, a command, an
    edit); without any, the first contribution after the opening message (or step 1)."""
    for i, made in enumerate(view.artefact):
        if made:
            return i + 1
    for i in range(1, len(view.steps)):
        if not view.executor[i]:
            return i + 1
    return 1

"""Run a localizer and the constant-rule baselines over gold rows; tabulate the metrics per agent framework.

Why the baselines are always printed: on these benchmarks constant rules ("flag the last steps") are strong, so a
method's number means little without them beside it. The baselines are:

* ``none`` -- flag nothing (the floor for F1, the ceiling for false alarms);
* ``all`` -- flag every step, onset at step 1;
* ``first`` -- flag step 1;
* ``last`` -- flag the last step;
* ``last-k`` -- flag the last ``k`` steps, onset at the first of them;
* ``first-error`` -- flag the first step whose result is an error (nothing when there is none);
* ``middle`` -- flag the middle step (failure onsets of long code-agent runs sit near the middle as often as not);
* ``first-surviving-edit`` -- flag the first step whose change survives into the run's final patch or final files
  (:mod:`codetracer.core.provenance`; nothing when no change survives): the evidence the signal localizer leans on
  most, as a rule of its own.

Honesty rules the harness enforces:

* on failure-free rows (solved runs) the localizer sees the run with its outcome set to *unknown* and without its
  verification, so it cannot read the answer off the label or the verifier's report; an alarm is a diagnosis with
  an onset at confidence >= ``CONFIDENT``. A baseline raises an alarm whenever it flags any step;
* on labeled failures the localizer sees the outcome as failed -- the situation ``codetracer analyze`` is in;
* every row is evaluated; rows that could not be loaded are listed as problems, not dropped silently.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from codetracer.core.model import Outcome, Run
from codetracer.evaluate import metrics
from codetracer.evaluate.gold import GoldRow
from codetracer.localize.registry import Localizer
from codetracer.localize.signal_localizer import CONFIDENT


@dataclass(frozen=True)
class Prediction:
    """What a method says about one run."""

    onset: int | None
    incorrect: frozenset[int]
    agent: str | None = None
    confidence: float = 1.0


Rule = Callable[[Run], Prediction]


def _flag(run: Run, steps: Sequence[int]) -> Prediction:
    onset = min(steps) if steps else None
    agent = run.step(onset).agent if onset is not None else None
    return Prediction(onset=onset, incorrect=frozenset(steps), agent=agent)


def baselines(k: int = 3) -> dict[str, Rule]:
    """The constant rules, by name; ``k`` is the window of ``last-k``."""

    def last_k(run: Run) -> Prediction:
        n = len(run.steps)
        return _flag(run, list(range(max(1, n - k + 1), n + 1)))

    def first_error(run: Run) -> Prediction:
        errors = [s.id for s in run.steps if s.is_error]
        return _flag(run, errors[:1])

    def first_surviving_edit(run: Run) -> Prediction:
        provenance = run.provenance
        kept = provenance.surviving_steps if provenance is not None else []
        return _flag(run, kept[:1])

    return {
        "none": lambda run: _flag(run, []),
        "all": lambda run: _flag(run, [s.id for s in run.steps]),
        "first": lambda run: _flag(run, [1] if run.steps else []),
        "last": lambda run: _flag(run, [len(run.steps)] if run.steps else []),
        f"last-{k}": last_k,
        "first-error": first_error,
        "middle": lambda run: _flag(run, [(len(run.steps) + 1) // 2] if run.steps else []),
        "first-surviving-edit": first_surviving_edit,
    }


def localizer_rule(localizer: Localizer, timings: list[float]) -> Callable[[GoldRow], Prediction]:
    """Predictions of ``localizer``; failure-free rows are shown with their outcome hidden. Records seconds per run."""

    def predict(row: GoldRow) -> Prediction:
        run = row.run
        if row.failure_free:  # the verdict and the verifier's report would give the answer away
            run = run.model_copy(update={"outcome": Outcome.UNKNOWN, "verification": None})
        started = time.perf_counter()
        diagnosis = localizer.localize(run)
        timings.append(time.perf_counter() - started)
        return Prediction(
            onset=diagnosis.onset_step,
            incorrect=frozenset(diagnosis.incorrect_step_ids),
            agent=diagnosis.agent,
            confidence=diagnosis.confidence,
        )

    return predict


@dataclass
class Scores:
    """The figures of one method on one group of rows; None where the group has no rows to measure it on."""

    n_failed: int = 0
    n_failure_free: int = 0
    precision: float | None = None
    recall: float | None = None
    f1: float | None = None
    false_alarm: float | None = None
    stage_accuracy: float | None = None
    exact: float | None = None
    within: dict[int, float | None] = field(default_factory=dict)
    """Step accuracy within +-k steps, by k."""
    agent_accuracy: float | None = None


def score(
    rows: Sequence[GoldRow], predictions: Sequence[Prediction], *, tolerances: Sequence[int], confident: bool
) -> Scores:
    """Metrics of one method over ``rows``; ``confident`` applies the confidence threshold to alarms."""
    failed = [(r, p) for r, p in zip(rows, predictions, strict=True) if not r.failure_free]
    free = [(r, p) for r, p in zip(rows, predictions, strict=True) if r.failure_free]
    out = Scores(n_failed=len(failed), n_failure_free=len(free))
    prf = metrics.macro_prf((p.incorrect, r.incorrect) for r, p in failed)
    if prf is not None:
        out.precision, out.recall, out.f1 = prf.precision, prf.recall, prf.f1
    if free:
        out.false_alarm = metrics.false_alarm_rate(
            [p.onset is not None and (p.confidence >= CONFIDENT or not confident) for _, p in free]
        )
    staged = [(r, p) for r, p in failed if r.stages and r.failing_stage is not None]
    out.stage_accuracy = metrics.accuracy(
        [metrics.stage_containing(p.onset, r.stages) == r.failing_stage for r, p in staged]
    )
    single = [(r, p) for r, p in failed if r.mistake_step is not None]
    out.exact = metrics.accuracy([metrics.within(p.onset, r.mistake_step or 0) for r, p in single])
    for k in tolerances:
        out.within[k] = metrics.accuracy([metrics.within(p.onset, r.mistake_step or 0, k) for r, p in single])
    agents = [(r, p) for r, p in failed if r.mistake_agent]
    out.agent_accuracy = metrics.accuracy([p.agent == r.mistake_agent for r, p in agents])
    return out


@dataclass
class Report:
    """Scores per method per framework (``"all"`` included), plus the localizer's speed and the load problems."""

    title: str
    method: str
    tolerances: tuple[int, ...]
    table: dict[str, dict[str, Scores]] = field(default_factory=dict)
    ms_mean: float | None = None
    ms_max: float | None = None
    problems: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "method": self.method,
            "tolerances": list(self.tolerances),
            "ms_per_run_mean": self.ms_mean,
            "ms_per_run_max": self.ms_max,
            "problems": self.problems,
            "frameworks": {fw: {name: s.__dict__ for name, s in methods.items()} for fw, methods in self.table.items()},
        }


def evaluate(
    rows: Sequence[GoldRow],
    localizer: Localizer,
    *,
    k: int = 3,
    tolerance: int = 1,
    title: str = "",
    problems: Sequence[str] = (),
) -> Report:
    """Score ``localizer`` and every baseline on ``rows``, overall and per framework."""
    timings: list[float] = []
    predict = localizer_rule(localizer, timings)
    methods: dict[str, list[Prediction]] = {localizer.name: [predict(r) for r in rows]}
    for name, rule in baselines(k).items():
        methods[name] = [rule(r.run) for r in rows]
    tolerances = tuple(sorted({1, 3, tolerance}))
    report = Report(title=title, method=localizer.name, tolerances=tolerances, problems=list(problems))
    groups: dict[str, list[int]] = {"all": list(range(len(rows)))}
    for i, row in enumerate(rows):
        groups.setdefault(row.framework, []).append(i)
    for group, idx in groups.items():
        if group != "all" and len(groups) == 2:
            continue  # one framework: its table is the "all" table
        sel = [rows[i] for i in idx]
        report.table[group] = {
            name: score(sel, [preds[i] for i in idx], tolerances=tolerances, confident=name == localizer.name)
            for name, preds in methods.items()
        }
    if timings:
        report.ms_mean = 1000 * sum(timings) / len(timings)
        report.ms_max = 1000 * max(timings)
    return report


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:5.1f}"


def format_report(report: Report) -> str:
    """Plain-text tables, one per framework, the method first and the baselines under it."""
    lines = [f"== {report.title} ==" if report.title else "=="]
    columns = ["P", "R", "F1", "FalseAlarm", "Stage", "Exact", *(f"+-{k}" for k in report.tolerances), "Agent"]
    for group, methods in report.table.items():
        any_scores = next(iter(methods.values()))
        lines.append(
            f"-- framework: {group}  (labeled failures: {any_scores.n_failed}, failure-free: "
            f"{any_scores.n_failure_free}) --"
        )
        lines.append(f"{'method':21}" + "".join(f"{c:>11}" for c in columns))
        for name, s in methods.items():
            values = [s.precision, s.recall, s.f1, s.false_alarm, s.stage_accuracy, s.exact]
            values += [s.within.get(k) for k in report.tolerances]
            values.append(s.agent_accuracy)
            lines.append(f"{name:21}" + "".join(f"{_pct(v):>11}" for v in values))
    if report.ms_mean is not None:
        lines.append(f"{report.method}: {report.ms_mean:.2f} ms/run mean, {report.ms_max:.2f} ms max")
    for problem in report.problems:
        lines.append(f"note: {problem}")
    return "\n".join(lines)

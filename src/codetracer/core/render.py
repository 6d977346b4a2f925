"""Render trees for people (indented text) and for machines (one JSON object per run).

Text output keeps every step but shortens long texts in the middle, so the end of an output -- where errors show --
is always visible; the whole text stays in the tree (``codetracer show RUN --json`` or the blob store).
"""

from __future__ import annotations

from typing import Any

from codetracer.core.model import Action, Observation, Run, Step


def shorten(text: str, limit: int) -> str:
    """One line of at most ``limit`` characters, keeping both ends."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    keep = max(limit - 5, 2)
    return flat[: keep // 2] + " ... " + flat[-(keep - keep // 2) :]


def action_summary(action: Action) -> str:
    if action.command:
        return f"{action.tool}: {action.command}"
    if action.edits:
        return f"{action.tool}: edit " + ", ".join(e.path for e in action.edits)
    if action.arguments:
        args = ", ".join(f"{k}={v!r}" for k, v in action.arguments.items())
        return f"{action.tool}({args})"
    return action.tool


def observation_summary(obs: Observation, limit: int = 120) -> str:
    parts = []
    if obs.exit_code is not None:
        parts.append(f"exit {obs.exit_code}")
    if obs.is_error:
        parts.append("error")
    if obs.text is not None and obs.text.text.strip():
        parts.append(repr(shorten(obs.text.text, limit)))
    return " ".join(parts) or "(empty)"


def step_summary(step: Step, limit: int = 120) -> dict[str, Any]:
    """The machine-readable gist of a step (for ``--json`` output)."""
    observations = step.all_observations
    last = observations[-1] if observations else None
    return {
        "id": step.id,
        "stage": step.stage_id,
        "agent": step.agent,
        "action": "; ".join(action_summary(a) for a in step.actions) or None,
        "observation": observation_summary(last, limit) if last else None,
        "exit_code": last.exit_code if last else None,
        "error": step.is_error,
    }


def run_to_json_obj(run: Run) -> dict[str, Any]:
    """The ``--json`` line of a run: id, framework, outcome, stages, steps and the diagnosis when computed."""
    diagnosis = None
    if run.diagnosis is not None:
        d = run.diagnosis
        diagnosis = {
            "localizer": d.localizer,
            "onset_step": d.onset_step,
            "chain": d.chain,
            "stage_id": d.stage_id,
            "incorrect_step_ids": d.incorrect_step_ids,
            "unuseful_step_ids": d.unuseful_step_ids,
            "confidence": d.confidence,
            "reasoning": d.reasoning,
            "suggestion": d.suggestion,
            "agent": d.agent,
            "evidence": [e.model_dump() for e in d.evidence],
        }
    return {
        "run_id": run.id,
        "framework": run.framework,
        "outcome": run.outcome.value,
        "exit_status": run.exit_status,
        "complete": run.complete,
        "task": shorten(run.task, 200) if run.task else None,
        "n_steps": len(run.steps),
        "stages": [s.model_dump() for s in run.stages],
        "steps": [step_summary(step) for step in run.steps],
        "diagnosis": diagnosis,
        "source": run.metadata.get("source_path"),
    }


def render_text(run: Run, *, width: int = 110, stages_folded: bool = False) -> str:
    """An indented tree: run, stages, steps, calls; the diagnosis onset and chain are marked."""
    onset = run.diagnosis.onset_step if run.diagnosis else None
    chain = set(run.diagnosis.chain) if run.diagnosis else set()
    status = run.outcome.value + ("" if run.complete else ", incomplete")
    lines = [f"run {run.id}  [{status}]  framework={run.framework}  steps={len(run.steps)}"]
    if run.task:
        lines.append(f"  task: {shorten(run.task, width - 8)}")
    if run.dropped_events:
        lines.append(f"  ! {run.dropped_events} events were not recorded (see logs)")
    stages = run.stages or []
    covered: set[int] = set()
    for stage in stages:
        lines.append(f"  stage {stage.id} {stage.kind} (steps {stage.start_step}-{stage.end_step}, {stage.source})")
        ids = range(max(stage.start_step, 1), min(stage.end_step, len(run.steps)) + 1)
        covered.update(ids)
        if stages_folded and onset not in ids:
            continue
        lines.extend(_step_lines(run, ids, onset, chain, width))
    rest = [i for i in range(1, len(run.steps) + 1) if i not in covered]
    if rest:
        if stages:
            lines.append("  (steps outside any stage)")
        lines.extend(_step_lines(run, rest, onset, chain, width))
    if run.diagnosis is not None:
        d = run.diagnosis
        lines.append(
            f"  diagnosis ({d.localizer}, confidence {d.confidence:.2f}): onset step {d.onset_step}, "
            f"chain {d.chain or '-'}"
        )
        if d.reasoning:
            lines.append(f"    {shorten(d.reasoning, width * 3)}")
    return "\n".join(lines)


def _step_lines(run: Run, ids: Any, onset: int | None, chain: set[int], width: int) -> list[str]:
    lines = []
    for step_id in ids:
        step = run.steps[step_id - 1]
        mark = ">>" if step_id == onset else (" >" if step_id in chain else "  ")
        err = " !" if step.is_error else ""
        who = f" [{step.agent}]" if step.agent else ""
        head = f"  {mark} step {step.id}{who}{err}"
        actions = step.actions
        if not actions:
            text = step.thought.text if step.thought else (step.messages[0].content.text if step.messages else "")
            lines.append(f"{head}  {shorten(text, width - len(head))}")
        for n, call in enumerate(c for c in step.calls if c.action is not None):
            assert call.action is not None
            prefix = head if n == 0 else " " * len(head)
            lines.append(f"{prefix}  {shorten(action_summary(call.action), width - len(head) - 2)}")
            if call.observation is not None:
                lines.append(f"{' ' * len(head)}    -> {observation_summary(call.observation, width - len(head) - 12)}")
        for obs in step.observations:
            lines.append(f"{' ' * len(head)}    -> {observation_summary(obs, width - len(head) - 12)}")
    return lines

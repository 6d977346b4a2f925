"""How ``ls``, ``show`` and ``report`` print runs and sequences (the attempts of one reflective replay).

``ls`` puts a sequence on one line -- its first run, final outcome, the budget used of the budget given -- and its
attempts numbered under it; ``show`` of any attempt ends with the whole sequence: each attempt, its outcome, the
correction it was sent off with, and the budget. The data comes from :mod:`codetracer.core.sequences`.
"""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING, Any

from codetracer.core.sequences import RunSequence, framework_detail
from codetracer.core.text import short_task

if TYPE_CHECKING:  # pragma: no cover
    from codetracer.core.store import RunSummary

TASK_WIDTH = 36
FRAMEWORK_WIDTH = 34


def framework_label(framework: str, detail: str | None) -> str:
    """``langchain/LangGraph``, ``mini-swe-agent/DeterministicModel``, or the framework alone."""
    return f"{framework}/{detail}" if detail else framework


def summary_json(summary: RunSummary, head: dict[str, Any], sequence: RunSequence | None) -> dict[str, Any]:
    """The ``ls --json`` object of one run: ``run_id`` (the name ``show --json`` uses; ``id`` stays as a deprecated
    copy for one release), the framework detail and, for an attempt of a sequence, the sequence."""
    metadata = head.get("metadata") if isinstance(head.get("metadata"), dict) else None
    out: dict[str, Any] = {"run_id": summary.id, **summary.__dict__}
    out["detail"] = framework_detail(summary.framework, metadata)
    out["parent_run_id"] = head.get("parent_run_id")
    out["sequence"] = None
    if sequence is not None:
        out["sequence"] = {
            "root_run_id": sequence.root,
            "attempt": sequence.number_of(summary.id),
            "attempts": len(sequence.members),
            "outcome": sequence.outcome,
            "stop_reason": sequence.stop_reason,
            "budget": sequence.budget,
            "used": sequence.used,
        }
    return out


def ls_header(id_width: int) -> str:
    return (f"{'RUN':{id_width}} {'FRAMEWORK':{FRAMEWORK_WIDTH}} {'TASK':{TASK_WIDTH}} {'OUTCOME':8} {'STEPS':>5} "
            f"{'ERR':>4} {'ONSET':>5}")


def ls_row(summary: RunSummary, detail: str | None, id_width: int, *, prefix: str = "") -> str:
    onset = "" if summary.onset_step is None else str(summary.onset_step)
    flag = "" if summary.complete else " (incomplete)"
    run = (prefix + summary.id)[:id_width]
    label = framework_label(summary.framework, detail)[:FRAMEWORK_WIDTH]
    return (f"{run:{id_width}} {label:{FRAMEWORK_WIDTH}} {short_task(summary.task, TASK_WIDTH):{TASK_WIDTH}} "
            f"{summary.outcome:8} {summary.n_steps:5} {summary.n_error_steps:4} {onset:>5}{flag}")


def ls_sequence_line(sequence: RunSequence, detail: str | None, task: str | None, id_width: int) -> str:
    """The sequence's own line: its first run, the final outcome, all attempts' steps, and how it ended."""
    label = framework_label(sequence.last.framework, detail)[:FRAMEWORK_WIDTH]
    steps = sum(m.n_steps for m in sequence.members)
    ending = f"; {sequence.stop_reason}" if sequence.stop_reason else ""
    task_text = short_task(task, TASK_WIDTH)
    return (f"{sequence.root[:id_width]:{id_width}} {label:{FRAMEWORK_WIDTH}} {task_text:{TASK_WIDTH}} "
            f"{sequence.outcome:8} {steps:5} {'':4} {'':>5} sequence of {len(sequence.members)} attempts, budget "
            f"{sequence.budget_line()} used{ending}")


def sequence_text(sequence: RunSequence, current: str | None = None) -> str:
    """The sequence as ``show`` prints it after the tree: every attempt, its correction, the budget."""
    ending = f", stopped: {sequence.stop_reason}" if sequence.stop_reason else ""
    lines = [
        f"Sequence {sequence.root}: {len(sequence.members)} attempts, final outcome {sequence.outcome}{ending}",
        f"  budget: {sequence.budget_line()} used",
    ]
    for member in sequence.members:
        mark = "  <- this run" if member.run_id == current else ""
        verdict = member.replay.get("verdict")
        reason = member.replay.get("reason")
        why = f" ({verdict}: {reason})" if verdict and reason else ""
        onset = f", onset step {member.onset_step}" if member.onset_step is not None else ""
        lines.append(f"  attempt {member.number}  {member.run_id}  {member.outcome}{why}, {member.n_steps} steps"
                     f"{onset}{mark}")
        message = member.replay.get("message")
        if isinstance(message, str) and message:
            delivered = member.replay.get("delivered")
            how = "correction sent to the agent" if delivered is not False else "correction (not delivered)"
            lines.append(f"    {how}:")
            lines.extend(textwrap.indent(message, "      ").splitlines())
    return "\n".join(lines)

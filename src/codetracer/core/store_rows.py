"""A run as the rows a store writes: encoded once, anywhere, then inserted in bulk.

Encoding (the tree's JSON, its compression, the searchable text of every step) is most of what storing a run costs,
and none of it needs the database. So it is a function of the run alone: ``codetracer analyze`` encodes in its worker
processes, next to the extraction, and the process that holds the database only inserts rows, many runs per
transaction. The encoded form is plain data (it pickles cheaply) and names no SQL, so any store backend can write it:
:class:`EncodedRun` is the contract between a run and a backend.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the store's readers (ls, search) never load pydantic's models: a third of their start-up
    from codetracer.core.model import Run, Step

STEP_TEXT_LIMIT = 4000
"""Characters of each step indexed for search (the whole step stays in the tree)."""

TREE_COMPRESSION = 1
"""zlib level of stored trees. Level 1 takes about 20 % less time than level 3 on the mini-swe-agent corpus and the
trees come out about 10 % larger; a tree is written once and read back only by ``show`` (``benchmarks/store_write.py``
measures both)."""


@dataclass(frozen=True, slots=True)
class EncodedRun:
    """Everything a store keeps of one run, computed from the run alone.

    ``tree`` is the zlib-compressed JSON of the whole tree (``Run.model_validate_json`` loads it back losslessly);
    ``steps`` are ``(step_id, stage_kind, agent, tool, command, is_error, text)`` with the text that search indexes;
    ``diagnosis`` is ``(localizer, onset_step, diagnosis_json)`` or ``None``.
    """

    id: str
    framework: str
    task: str | None
    outcome: str
    exit_status: str | None
    parent_run_id: str | None
    started_at: float | None
    ended_at: float | None
    complete: bool
    n_steps: int
    n_error_steps: int
    dropped_events: int
    onset_step: int | None
    confidence: float | None
    source: str | None
    tree: bytes
    steps: list[tuple[int, str | None, str | None, str | None, str | None, int, str]]
    diagnosis: tuple[str, int | None, str] | None


def encode_run(run: Run) -> EncodedRun:
    """``run`` as the rows a store writes (see the module docstring for why this is separate from the store)."""
    diagnosis = run.diagnosis
    source = run.metadata.get("source_path")
    stage_of: dict[int, str] = {}
    for stage in run.stages:
        for step_id in range(stage.start_step, stage.end_step + 1):
            stage_of.setdefault(step_id, stage.kind)
    steps = []
    n_errors = 0
    for step in run.steps:
        tool, command, text = step_text(step)
        is_error = step.is_error
        n_errors += is_error
        steps.append((step.id, stage_of.get(step.id), step.agent, tool, command, int(is_error), text))
    return EncodedRun(
        id=run.id,
        framework=run.framework,
        task=run.task,
        outcome=run.outcome.value,
        exit_status=run.exit_status,
        parent_run_id=run.parent_run_id,
        started_at=run.started_at,
        ended_at=run.ended_at,
        complete=run.complete,
        n_steps=len(run.steps),
        n_error_steps=n_errors,
        dropped_events=run.dropped_events,
        onset_step=diagnosis.onset_step if diagnosis else None,
        confidence=diagnosis.confidence if diagnosis else None,
        source=str(source) if source is not None else None,
        tree=zlib.compress(run.to_json_bytes(), TREE_COMPRESSION),
        steps=steps,
        diagnosis=(diagnosis.localizer, diagnosis.onset_step, diagnosis.model_dump_json()) if diagnosis else None,
    )


def step_text(step: Step) -> tuple[str | None, str | None, str]:
    """The first tool and command of ``step`` and the text search indexes: thought, actions, edited paths, the head
    and tail of each observation (where errors are), messages, errors; at most :data:`STEP_TEXT_LIMIT` characters."""
    parts: list[str] = []
    tool = command = None
    if step.thought is not None:
        parts.append(step.thought.text[:1000])
    for action in step.actions:
        tool = tool or action.tool
        command = command or action.command
        parts.append(action.command or f"{action.tool} {action.arguments}"[:1000])
        parts.extend(f"edit {e.path}" for e in action.edits)
    for obs in step.all_observations:
        if obs.text is not None:
            text = obs.text.text
            parts.append(text if len(text) <= 1500 else text[:700] + " ... " + text[-700:])
    for message in step.messages:
        parts.append(message.content.text[:1500])
    for error in step.errors:
        parts.append(error.error[:500])
    return tool, command, "\n".join(parts)[:STEP_TEXT_LIMIT]

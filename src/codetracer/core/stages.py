"""Stage segmentation: split a run's steps into the workflow stages people recognise.

Each step is classified from what it did (its tool, command and edits), then neighbouring steps of the same kind are
merged into one contiguous stage, and one-step interruptions are absorbed into the stage around them so that a single
``ls`` in the middle of a patching session does not split it. Stages a source declares (human ranges) are kept as
they are.
"""

from __future__ import annotations

import re

from codetracer.core.model import Run, Stage, StageKind, Step

_RULES: list[tuple[StageKind, re.Pattern[str]]] = [
    (
        StageKind.SUBMIT,
        re.compile(r"\b(submit|COMPLETE_TASK|MINI_SWE_AGENT_FINAL_OUTPUT|finish|task_complete)\b", re.I),
    ),
    (
        StageKind.DEPENDENCY_INSTALL,
        re.compile(
            r"\b(pip3? install|uv (pip|add|sync)|poetry (add|install)|conda install|apt(-get)? install|"
            r"npm (i|install|ci)|yarn add|cargo (add|build)|go (get|mod)|setup\.py (install|develop)|make install)\b",
            re.I,
        ),
    ),
    (
        StageKind.VERIFICATION,
        re.compile(
            r"\b(pytest|py\.test|unittest|tox|nosetests|npm (run )?test|go test|cargo test|make (test|check)|"
            r"runtests|test_\w+\.py|reproduce\w*\.py|repro\w*\.py|verify|check_\w+)\b",
            re.I,
        ),
    ),
    (
        StageKind.PATCHING,
        re.compile(
            r"(\bsed -i\b|\bstr_replace\b|\bcreate\b|\binsert\b|\bedit\b|\bapply_patch\b|\bgit apply\b|"
            r"\bpatch -p|cat\s*(<<|>)|\btee\b|>\s*\S+\.\w+)",
            re.I,
        ),
    ),
    (
        StageKind.ENV_CHECK,
        re.compile(
            r"^\s*(pwd|ls|whoami|uname|env|which|python3? --version|pip (list|show|freeze)|git (status|log)|"
            r"nproc|df|free|cat /etc/\S+)\b",
            re.I,
        ),
    ),
    (
        StageKind.INSPECTION,
        re.compile(
            r"\b(cat|grep|rg|find|head|tail|less|sed -n|awk|view|open|search\w*|find_file|goto|scroll\w*|"
            r"nl|wc|python3? -c)\b",
            re.I,
        ),
    ),
]


def classify_step(step: Step) -> StageKind:
    """The stage kind one step's actions suggest."""
    texts: list[str] = []
    for action in step.actions:
        if action.edits:
            return StageKind.PATCHING
        # the head of a command says what it does; a 5 KB heredoc body does not
        texts.append((action.command or "")[:240])
        texts.append(action.tool)
        if action.command is None and action.arguments:
            texts.append(" ".join(str(v)[:120] for v in action.arguments.values())[:240])
    if not any(texts) and step.thought is not None:
        texts.append(step.thought.text[-240:])
    blob = "\n".join(t for t in texts if t)
    if not blob:
        return StageKind.OTHER
    for kind, pattern in _RULES:
        if pattern.search(blob):
            return kind
    return StageKind.OTHER


def segment(run: Run) -> list[Stage]:
    """Contiguous stages over all steps of ``run`` (automatic; ``source='auto'``)."""
    if not run.steps:
        return []
    kinds = [classify_step(step) for step in run.steps]
    # a step with no recognisable action belongs with what came before it
    for i, kind in enumerate(kinds):
        if kind is StageKind.OTHER and i > 0:
            kinds[i] = kinds[i - 1]
    segments: list[list[object]] = []  # [kind, start, end]
    for i, kind in enumerate(kinds, 1):
        if segments and segments[-1][0] is kind:
            segments[-1][2] = i
        else:
            segments.append([kind, i, i])
    # absorb one-step interruptions between two segments of the same kind
    merged: list[list[object]] = []
    for seg in segments:
        if (
            len(merged) >= 2
            and seg[0] is merged[-2][0]
            and merged[-1][1] == merged[-1][2]
            and merged[-1][0] is not StageKind.SUBMIT
        ):
            merged.pop()
            merged[-1][2] = seg[2]
        else:
            merged.append(seg)
    return [
        Stage(id=n, kind=str(getattr(kind, "value", kind)), start_step=int(start), end_step=int(end), source="auto")  # type: ignore[call-overload]
        for n, (kind, start, end) in enumerate(merged, 1)
    ]


def ensure_stages(run: Run) -> Run:
    """Give ``run`` stages (declared ones win) and point every step at its stage."""
    if not run.stages:
        run.stages = segment(run)
    for stage in run.stages:
        for step_id in range(max(stage.start_step, 1), min(stage.end_step, len(run.steps)) + 1):
            run.steps[step_id - 1].stage_id = stage.id
    return run

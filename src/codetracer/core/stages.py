"""Stage segmentation: split a run's steps into the workflow stages people recognise.

Each step is classified from what it did (its tool, command and edits), then neighbouring steps of the same kind are
merged into one contiguous stage, and one-step interruptions are absorbed into the stage around them so that a single
``ls`` in the middle of a patching session does not split it. Stages a source declares (human ranges) are kept as
they are.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from codetracer.core.model import Run, Stage, StageKind, Step

_RULES: list[tuple[StageKind, re.Pattern[str]]] = [
    (
        StageKind.SUBMIT,
        re.compile(r"\b(submit|complete_task\w*|mini_swe_agent_final_output|task_complete|finish)\b"),
    ),
    (
        StageKind.DEPENDENCY_INSTALL,
        re.compile(
            r"\b(pip3? install|python3? -m pip install|uv (pip|add|sync)|poetry (add|install)|conda install|"
            r"apt(-get)? (install|update)|apk add|npm (i|install|ci)|yarn (add|install)|cargo (add|build|fetch)|"
            r"go (get|mod)|setup\.py (install|develop)|make install|gem install|brew install)\b"
        ),
    ),
    (
        StageKind.VERIFICATION,
        re.compile(
            r"(\b(pytest|py\.test|unittest|tox|nosetests|npm (run )?test|go test|cargo test|make (test|check)|"
            r"runtests|verif\w*|validat\w*|diff -u)\b|\btest_\w+\.py|repro\w*\.py|^\s*\./[\w./-]+|"
            r"^\s*(python3?|bash|sh|node) (?!-)[\w./-]+\.(py|sh|js)\b)"
        ),
    ),
    (
        StageKind.PATCHING,
        re.compile(
            r"(\bsed -i\b|\bstr_replace\b(?!_editor\s+view)|\b(create|insert|edit|write|apply_patch)\b|\bgit apply\b|"
            r"\bpatch -p|cat\s*(<<|>)|\btee\b|>\s*[\w./-]+\.\w+|\bchmod \+x\b|\bmkdir\b|\bcp\b|\bmv\b|"
            r"\.write_text\(|\.write\(|\.replace\([^)]*\)\s*\)|open\([^)]*['\"][wa]\+?['\"])"
        ),
    ),
    (
        StageKind.ENV_CHECK,
        re.compile(
            r"(^\s*(pwd|ls|whoami|uname|env|which|type|nproc|df|free|id|hostname|lsb_release|file)\b|"
            r"--version\b|\bpip3? (list|show|freeze)\b|\bgit (status|log|branch)\b|cat /etc/\S+|"
            r"-c\s*[\"']\s*import [\w., ]+;?\s*print)"
        ),
    ),
    (
        StageKind.INSPECTION,
        re.compile(
            r"\b(cat|grep|rg|find|head|tail|less|sed -n|awk|view|open|search\w*|find_file|goto|scroll\w*|"
            r"nl|wc|python3? -c|ls|tree|git (diff|show))\b"
        ),
    ),
]
"""Stage rules, most specific first: the first pattern that matches a step's action decides its kind. Patterns
are written in lower case and run on the lower-cased text (much faster than ``re.I``)."""

_TRIGGERS: dict[StageKind, tuple[str, ...]] = {
    StageKind.SUBMIT: ("submit", "complete_task", "mini_swe_agent_final_output", "task_complete", "finish"),
    StageKind.DEPENDENCY_INSTALL: (
        "install",
        "uv ",
        "poetry",
        "apt",
        "apk add",
        "npm ",
        "yarn ",
        "cargo ",
        "go get",
        "go mod",
        "setup.py",
    ),
    StageKind.VERIFICATION: (
        "test",
        "tox",
        "check",
        "verif",
        "validat",
        "diff -u",
        "repro",
        "./",
        ".py",
        ".sh",
        ".js",
    ),
    StageKind.PATCHING: (
        "sed",
        "str_replace",
        "create",
        "insert",
        "edit",
        "write",
        "apply_patch",
        "git apply",
        "patch",
        "cat",
        "tee",
        ">",
        "chmod",
        "mkdir",
        "cp",
        "mv",
        ".replace(",
        "open(",
    ),
}
"""Words without which a rule's pattern cannot match (lower case): a substring test is far cheaper than a regex
search, and most steps are ruled out of most kinds by it. Rules without an entry always run their pattern."""
_PLAN = [(kind, _TRIGGERS.get(kind), pattern) for kind, pattern in _RULES]


_QUICK: dict[str, StageKind] = {
    **dict.fromkeys(("cat", "grep", "rg", "head", "tail", "find", "nl", "wc", "less", "tree"), StageKind.INSPECTION),
    **dict.fromkeys(("pwd", "whoami", "uname", "nproc", "df", "free", "hostname"), StageKind.ENV_CHECK),
    **dict.fromkeys(("pytest", "tox", "nosetests"), StageKind.VERIFICATION),
}
"""Commands whose first word alone decides the kind when the command is simple (no pipes, redirects, chains)."""
_COMPOUND = re.compile(r"[|;&><`$\n]|\s-i\b|\bsubmit|COMPLETE|verif|valid|install|test_|repro|\./")
_CD_PREFIX = re.compile(r"^\s*cd\s+[^\s;&|]+\s*&&\s*")
_READERS = frozenset(("cat", "head", "tail", "nl", "less", "more", "wc", "grep", "rg", "ls", "find", "tree", "cd",
                      "file", "stat", "sort", "uniq", "cut"))
_PARTS = re.compile(r"\s*(?:&&|\|\||[;|\n])\s*")


def _only_reads(command: str) -> bool:
    """Whether a (compound) command only reads files: every part starts with a reader (``cat``, ``grep``, ``sed
    -n`` ...) and nothing is redirected into a file. Reading a test file is inspection; running it is verification."""
    if ">" in command or "<<" in command or "`" in command or "$(" in command:
        return False
    parts = [p for p in _PARTS.split(command.strip()) if p]
    if not parts:
        return False
    for part in parts:
        words = part.split()
        if words[0] == "sed" and "-n" in words[1:3] and not any(w.startswith("-i") for w in words):
            continue
        if words[0] not in _READERS or "-exec" in words or "-delete" in words:
            return False
    return True


_ABSORBABLE = frozenset({StageKind.ENV_CHECK, StageKind.INSPECTION, StageKind.OTHER})


def classify_step(step: Step) -> StageKind:
    """The stage kind one step's actions suggest."""
    texts: list[str] = []
    first_command: str | None = None
    if any(c.applied and not c.debug and c.fate not in ("deleted", "failed") and not c.applied_in
           for c in step.changes):
        return StageKind.PATCHING  # it changed a file that stayed (provenance), however it spelled it
    actions = step.actions
    for action in actions:
        if action.edits:
            return StageKind.PATCHING
        # the ends of a command say what it does; the middle of a 5 KB heredoc does not
        command = action.command or ""
        if first_command is None and command:
            first_command = _CD_PREFIX.sub("", command, count=1)
        texts.append(command if len(command) <= 400 else command[:240] + "\n" + command[-160:])
        texts.append(action.tool)
        if action.command is None and action.arguments:
            texts.append(" ".join(str(v)[:120] for v in action.arguments.values())[:240])
    if not any(texts) and step.thought is not None:
        texts.append(step.thought.text[-240:])
    blob = "\n".join(t for t in texts if t)
    if not blob:
        return StageKind.OTHER
    return _classify_text(blob, first_command if len(actions) == 1 else None)


@functools.lru_cache(maxsize=1024)
def _classify_text(blob: str, single_command: str | None) -> StageKind:
    """The kind the text of a step's actions suggests (``single_command``: the step's one command, without a leading
    ``cd DIR &&``, when it has exactly one action).

    A pure function of its arguments, so it is cached: runs repeat their commands (the same reproduction script
    after every edit) and the localizer classifies the steps of every failed run again, right after its stages
    were segmented. The rules' regex searches are most of a step's classification. The repeats are near each
    other: 1,024 texts (a few MB at most) get as many hits on the mini-swe-agent corpus as 4,096."""
    if single_command and not _COMPOUND.search(single_command):
        words = single_command.split(None, 1)
        quick = _QUICK.get(words[0]) if words else None
        if quick is not None:
            return quick
    if single_command and _only_reads(single_command):
        return StageKind.ENV_CHECK if single_command.split()[0] in ("ls", "cd") else StageKind.INSPECTION
    lowered = blob.lower()
    for kind, triggers, pattern in _PLAN:
        if (triggers is None or any(t in lowered for t in triggers)) and pattern.search(lowered):
            return kind
    return StageKind.OTHER


def segment(run: Run) -> list[Stage]:
    """Contiguous stages over all steps of ``run`` (automatic; ``source='auto'``)."""
    return segment_steps(run.steps)


def segment_steps(steps: list[Step], first_stage_id: int = 1) -> list[Stage]:
    """Contiguous automatic stages over ``steps`` (consecutive steps of one run)."""
    if not steps:
        return []
    kinds = [classify_step(step) for step in steps]
    # a step with no recognisable action belongs with what came before it
    for i, kind in enumerate(kinds):
        if kind is StageKind.OTHER and i > 0:
            kinds[i] = kinds[i - 1]
    segments: list[list[Any]] = []  # [kind, start, end] as step ids
    for step, kind in zip(steps, kinds, strict=True):
        if segments and segments[-1][0] is kind:
            segments[-1][2] = step.id
        else:
            segments.append([kind, step.id, step.id])
    # absorb a one-step look around (an ``ls``, a ``grep``) between two segments of the same kind; edits, test
    # runs and installs always stand as stages of their own: edit-test cycles are what people look for
    merged: list[list[Any]] = []
    for seg in segments:
        if (
            len(merged) >= 2
            and seg[0] is merged[-2][0]
            and merged[-1][1] == merged[-1][2]
            and merged[-1][0] in _ABSORBABLE
        ):
            merged.pop()
            merged[-1][2] = seg[2]
        else:
            merged.append(seg)
    return [
        Stage(id=n, kind=kind.value, start_step=start, end_step=end, source="auto")
        for n, (kind, start, end) in enumerate(merged, first_stage_id)
    ]


def ensure_stages(run: Run) -> Run:
    """Give ``run`` stages and point every step at its stage.

    Declared stages (human ranges) win; steps no declared stage covers get automatic stages of their own, numbered
    after the declared ones, so every step has a stage.
    """
    if not run.stages:
        run.stages = segment(run)
    else:
        covered = [False] * (len(run.steps) + 1)
        for stage in run.stages:
            for step_id in range(max(stage.start_step, 1), min(stage.end_step, len(run.steps)) + 1):
                covered[step_id] = True
        gap: list[Step] = []
        for step in [*run.steps, None]:
            if step is not None and not covered[step.id]:
                gap.append(step)
                continue
            if gap:
                run.stages.extend(segment_steps(gap, len(run.stages) + 1))
                gap = []
    for stage in run.stages:
        for step_id in range(max(stage.start_step, 1), min(stage.end_step, len(run.steps)) + 1):
            run.steps[step_id - 1].stage_id = stage.id
    return run

"""Evidence extractors: one small function per failure signal, each reading a :class:`RunView` of the tree.

Every extractor returns :class:`~codetracer.core.model.Evidence` items (step id, signal name, a human-readable detail
that cites the step and what was seen, a weight). They are deliberately simple and general -- no rule names a
framework, a benchmark or a task -- because the localizer is judged on held-out runs of agents it never saw.

Two shapes of run are covered by the same code:

* **tool-using code agents** (mini-swe-agent, OpenHands, Terminus, ...): a step holds the action *and* its result
  (exit code, output), so evidence lands on the step itself;
* **multi-agent chat logs** (Who&When / AG2): a speaking agent writes code in its message and a separate executor
  turn (no thought, only an observation such as ``exitcode: 1``) answers. Evidence about the result is attributed to
  the *producer* of the code -- the executor did nothing wrong -- via :attr:`RunView.producer`.

Signal weights are on one scale: 1.0 is "this step certainly failed", 0.3 is "mildly suspicious". The
:data:`INCORRECT_SIGNALS` mark a step as incorrect, :data:`UNUSEFUL_SIGNALS` as unuseful (wasted but harmless).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

from codetracer.core.model import Evidence, Run, StageKind, Step
from codetracer.core.provenance import same_file
from codetracer.core.stages import classify_step
from codetracer.core.verifier import file_of_test, read_output

_TAIL_CHARS = 4000
_ERROR_LINE = re.compile(r"^[^\S\n]*\w*(?:Error|Exception): \S", re.M)
_ERROR_PARTS: tuple[tuple[tuple[str, ...], re.Pattern[str], bool], ...] = (
    (("Traceback (most recent call last)",), re.compile(r"Traceback \(most recent call last\)"), True),
    (("Error: ", "Exception: "), _ERROR_LINE, True),
    (("Error",), re.compile(r"^E\s+\w+Error", re.M), False),
    (("FAILED",), re.compile(r"\bFAILED\b"), True),
    (("command not found",), re.compile(r"command not found"), True),
    (("No such file or directory",), re.compile(r"No such file or directory"), True),
    (("Segmentation fault",), re.compile(r"Segmentation fault"), True),
    (("fatal:",), re.compile(r"\bfatal:"), True),
)
"""What an output showing an error contains: a traceback, an error line, a failed test, a missing command or file, a
crash, git's ``fatal:``; each with the substrings it cannot match without one of, and whether its match starts on the
line of that substring (not for ``E   ...Error``: ``\\s`` crosses lines) (see :func:`first_error`)."""
_SUCCESS_CLAIM = re.compile(
    r"\b(success(fully)?|works?( correctly| as expected)?|verified|confirmed|all tests pass(ed)?|correct(ly)?|"
    r"TERMINATE|complete[ds]?)\b",
    re.I,
)
_CODE_BLOCK = re.compile(r"```")
_REDIRECT_TARGET = re.compile(r"(?:>|\btee\s+(?:-a\s+)?|\bsed\s+-i\S*\s+(?:'[^']*'|\"[^\"]*\"|\S+)\s+)([\w./-]+\.\w+)")
_SCRATCH = re.compile(r"(repro|reproduce|test|debug|tmp|temp|scratch|check|verify|example|demo)", re.I)
_BAD_EXIT_STATUS = re.compile(r"limit|exceed|agent.?timeout|crash|abort|interrupt", re.I)
_MIN_LOOP_CHARS = 4  # shorter actions (``:``, an empty wait) are pauses, not attempts


@dataclass
class RunView:
    """Cheap precomputed looks at a run, shared by all extractors so each text is scanned once."""

    run: Run
    _shown: dict[int, str | None] = field(default_factory=dict, init=False, repr=False)

    @property
    def steps(self) -> list[Step]:
        return self.run.steps

    @cached_property
    def kinds(self) -> list[StageKind]:
        """The stage kind each step's actions suggest (index = step id - 1)."""
        return [classify_step(step) for step in self.steps]

    @cached_property
    def executor(self) -> list[bool]:
        """True for executor turns: a step with observations but neither thought nor action (a terminal answering)."""
        return [bool(s.observations) and s.thought is None and not s.actions for s in self.steps]

    @cached_property
    def producer(self) -> list[int]:
        """The step whose output each step's observations judge: itself, or for an executor turn the speaking step
        just before it (the one that wrote the code the executor ran)."""
        out: list[int] = []
        for i in range(len(self.steps)):
            j = i
            if self.executor[i]:
                while j > 0 and self.executor[j]:
                    j -= 1
            out.append(self.steps[j].id)
        return out

    @cached_property
    def commands(self) -> list[str]:
        """Each step's actions as one normalized string ('' when the step did nothing)."""
        out = []
        for step in self.steps:
            parts = []
            for action in step.actions:
                parts.append(action.command or action.tool)
                parts.extend(f"{e.path}:{e.new or e.diff or ''}" for e in action.edits)
                if action.command is None and not action.edits and action.arguments:
                    parts.append(repr(sorted(action.arguments.items()))[:2000])
            out.append(_squeezed(" ".join(parts)))
        return out

    @cached_property
    def says(self) -> list[str]:
        """What the agent said in each step (thought, else its message), tail-limited."""
        out = []
        for step in self.steps:
            text = step.thought.text if step.thought is not None else ""
            if not text and step.messages and not step.observations:
                text = step.messages[0].content.text
            out.append(text[-_TAIL_CHARS:])
        return out

    @cached_property
    def outputs(self) -> list[str]:
        """The tail of each step's observations, where errors show."""
        return ["\n".join(o.text.text[-_TAIL_CHARS:] for o in s.all_observations if o.text) for s in self.steps]

    def shown_error(self, i: int) -> str | None:
        """The first error step index ``i``'s output shows (:func:`first_error`), or None. Read on demand and once:
        a step that exited non-zero is failed without it, and its evidence cites the exit code instead."""
        if i not in self._shown:
            self._shown[i] = first_error(self.outputs[i])
        return self._shown[i]

    @cached_property
    def failed(self) -> list[bool]:
        """The step's result is an error: raised, non-zero exit, error flag, or a traceback/error line in its output."""
        return [s.is_error or self.shown_error(i) is not None for i, s in enumerate(self.steps)]

    @cached_property
    def heads(self) -> list[str]:
        """The program each step's first command runs (``python``, ``make``, ...), '' for none."""
        return [cmd.split(" ", 1)[0] if cmd else "" for cmd in self.commands]

    @cached_property
    def recovered(self) -> list[bool]:
        """The step failed, but a later step running the same program succeeded: the failure was repaired."""
        ok_after: set[str] = set()
        out = [False] * len(self.steps)
        for i in range(len(self.steps) - 1, -1, -1):
            head = self.heads[i]
            if self.failed[i] and head and head in ok_after:
                out[i] = True
            elif not self.failed[i] and head:
                ok_after.add(head)
        return out

    @cached_property
    def artefact(self) -> list[bool]:
        """The step produced something that gets used: an action, a file edit, or code it handed to an executor."""
        out = []
        for i, step in enumerate(self.steps):
            if self.executor[i]:
                out.append(False)
            elif step.actions:
                out.append(any(a.command or a.edits or a.arguments for a in step.actions))
            else:
                nxt = i + 1 < len(self.steps) and self.executor[i + 1]
                out.append(nxt and bool(_CODE_BLOCK.search(self.says[i])))
        return out

    @cached_property
    def edit_targets(self) -> list[set[str]]:
        """Files each step writes: structured edits plus shell redirections / ``sed -i`` targets."""
        out = []
        for i, step in enumerate(self.steps):
            paths = {e.path for a in step.actions for e in a.edits}
            if self.kinds[i] is StageKind.PATCHING:
                paths.update(m.group(1) for m in _REDIRECT_TARGET.finditer(self.commands[i][:600]))
            out.append(paths)
        return out

    def judged(self, i: int) -> int:
        """Index of the step evidence about step index ``i``'s result belongs to (its producer)."""
        return self.producer[i] - 1


Signal = Callable[[RunView], list[Evidence]]


def _squeezed(text: str) -> str:
    """``text`` with every run of whitespace made one space, and none at the ends: what ``re.sub(r"\\s+", " ",
    text).strip()`` gives (``str.split`` and ``\\s`` know the same whitespace), three times faster on long
    commands (heredocs)."""
    return " ".join(text.split())


def first_error(text: str) -> str | None:
    """The first error :data:`_ERROR_PARTS` finds in ``text`` (stripped), or None.

    They used to be one alternation, which over a long tool output costs Python's regex engine every alternative
    at every position (about 0.3 ms per failing output of a real run, the localizer's largest cost); alone, each
    has a literal the engine skips to, and a substring test rules most out first. The leftmost match wins, as in
    the alternation (an error line's match starts where its line does). Same results on all 16,374 step outputs
    of the shared corpora and fixtures, 8x faster.
    """
    best: tuple[int, str] | None = None
    for literals, pattern, same_line in _ERROR_PARTS:
        found = [at for literal in literals if (at := text.find(literal)) >= 0]
        if not found:
            continue
        # a match of a one-line pattern starts on the line of the first literal at the earliest: the engine need
        # not try every position before it (``^`` and ``\b`` still look at the text before ``pos``)
        match = pattern.search(text, text.rfind("\n", 0, min(found)) + 1 if same_line else 0)
        if match is None:
            continue
        start = text.rfind("\n", 0, match.start()) + 1 if pattern is _ERROR_LINE else match.start()
        if best is None or start < best[0]:
            best = (start, match.group(0))
    return best[1].strip() if best is not None else None


def _ev(view: RunView, index: int, signal: str, detail: str, weight: float) -> Evidence:
    return Evidence(step_id=view.steps[index].id, signal=signal, detail=detail, weight=weight)


def error_results(view: RunView) -> list[Evidence]:
    """Errors, non-zero exits and tracebacks, attributed to the step whose action or code produced them."""
    found = []
    for i, step in enumerate(view.steps):
        if not view.failed[i]:
            continue
        codes = [o.exit_code for o in step.all_observations if o.exit_code not in (None, 0)]
        what = f"exit {codes[0]}" if codes else ("error event" if step.errors else "error output")
        shown = view.shown_error(i) if not codes else None
        if shown is not None:
            what = f"output shows {shown[:40]!r}"
        where = f"its result at step {step.id}" if view.judged(i) != i else "its result"
        if view.recovered[i]:
            found.append(_ev(view, view.judged(i), "recovered_error", f"{where}: {what}, later repaired", 0.2))
        else:
            found.append(_ev(view, view.judged(i), "error", f"{where}: {what}", 1.0))
    return found


def repeated_actions(view: RunView) -> list[Evidence]:
    """An action identical to an earlier one, with no file changed since, gains nothing new; three or more copies
    are a loop. Re-running the same test after an edit is not a repeat: the code under test changed."""
    seen: dict[str, int] = {}
    found = []
    for i, cmd in enumerate(view.commands):
        if view.steps[i].changes or view.edit_targets[i]:
            seen.clear()  # the files changed: every earlier action may give a new answer now
        if len(cmd.replace(" ", "")) < _MIN_LOOP_CHARS:
            continue
        count = seen.get(cmd, 0)
        seen[cmd] = count + 1
        if count == 1:
            found.append(_ev(view, i, "repeat", f"repeats an earlier action: {cmd[:60]!r}", 0.4))
        elif count >= 2:
            found.append(_ev(view, i, "loop", f"action run {count + 1} times: {cmd[:60]!r}", 0.7))
    return found


def repeated_claims(view: RunView) -> list[Evidence]:
    """A speaking agent saying the same thing again (chat logs) adds nothing: unuseful."""
    seen: set[str] = set()
    found = []
    for i, text in enumerate(view.says):
        if view.commands[i] or len(text) < 20:
            continue
        key = _squeezed(text).lower()
        if key in seen:
            found.append(_ev(view, i, "repeat", "repeats an earlier message word for word", 0.4))
        seen.add(key)
    return found


def overwritten_edits(view: RunView) -> list[Evidence]:
    """An edit whose new text a later edit replaces or reverts was wrong or wasted."""
    later_olds: dict[str, list[tuple[int, str]]] = {}
    for j, step in enumerate(view.steps):
        for action in step.actions:
            for edit in action.edits:
                if edit.old:
                    later_olds.setdefault(edit.path, []).append((j, edit.old))
    found = []
    for i, step in enumerate(view.steps):
        for action in step.actions:
            for edit in action.edits:
                new = (edit.new or "").strip()
                if not new:
                    continue
                hit = next((j for j, old in later_olds.get(edit.path, []) if j > i and new in old), None)
                if hit is not None:
                    found.append(
                        _ev(view, i, "overwritten_edit", f"edit of {edit.path} replaced at step {hit + 1}", 0.6)
                    )
    return found


def rewritten_files(view: RunView) -> list[Evidence]:
    """A file written whole again later (shell redirections, ``create``): the first version did not hold."""
    found = []
    last_write: dict[str, int] = {}
    for i, targets in enumerate(view.edit_targets):
        structured = any(a.edits for a in view.steps[i].actions)
        for path in sorted(targets):
            if path in last_write and not structured:  # structured edits are judged by overwritten_edits
                prev = last_write[path]
                found.append(_ev(view, prev, "overwritten_edit", f"{path} written again at step {i + 1}", 0.3))
            last_write[path] = i
    return found


def unneeded_edits(view: RunView) -> list[Evidence]:
    """Edits to files neither the task nor any earlier output or command mentions (scratch files excepted)."""
    task = view.run.task or ""
    if not task:
        return []
    found = []
    context = [task]
    for i, targets in enumerate(view.edit_targets):
        for path in sorted(targets):
            name = path.rsplit("/", 1)[-1]
            if _SCRATCH.search(name) or any(name in text for text in context):
                continue
            found.append(_ev(view, i, "unneeded_edit", f"edits {path}, which nothing before pointed to", 0.3))
        context.append(view.commands[i][:2000])
        context.append(view.outputs[i][-2000:])
    return found


def _checks_edit(view: RunView, i: int, edit: int) -> bool:
    """Step ``i`` (not an edit) checks the edit at step ``edit``: a verification step, or a command that reads a
    file the edit wrote (``grep -q ... file``, ``python file``, ``cat file``)."""
    if view.kinds[i] is StageKind.VERIFICATION:
        return True
    return any(path in view.commands[i] for path in view.edit_targets[edit])


def failing_tests_after_edit(view: RunView) -> list[Evidence]:
    """A check that fails after an edit (a verification step, or a command reading the edited file) points at the
    latest edit before it."""
    found = []
    last_edit: int | None = None
    for i, kind in enumerate(view.kinds):
        if view.edit_targets[i] or kind is StageKind.PATCHING:
            last_edit = i
        elif view.failed[i] and last_edit is not None and _checks_edit(view, i, last_edit):
            what = "verification" if kind is StageKind.VERIFICATION else "the check of the edited file"
            found.append(_ev(view, last_edit, "test_fails_after_edit", f"{what} at step {i + 1} fails", 0.8))
    return found


def unverified_submission(view: RunView) -> list[Evidence]:
    """The run ends (or submits) with edits that no later check (a verification step, or a command reading the
    edited file) exercised."""
    edits = [i for i, k in enumerate(view.kinds) if k is StageKind.PATCHING or view.edit_targets[i]]
    if not edits:
        return []
    later = range(edits[-1] + 1, len(view.kinds))
    if any(not view.edit_targets[i] and _checks_edit(view, i, edits[-1]) for i in later):
        return []
    return [_ev(view, edits[-1], "unverified", "the last edit is never verified before the run ends", 0.6)]


def failing_verifier(view: RunView) -> list[Evidence]:
    """The verifier that judged the run after its last step (``Run.verification``: a live ``verify=``, a benchmark's
    tests) fails, and what it failed names a file the run edited (a traceback through it, a failing test of it):
    the last edit of that file made what it judged. For an agent that never tested its change this is the only
    check the change ever got, so it weighs like a failing test run after the edit."""
    verification = view.run.verification
    if verification is None or verification.passed is not False:
        return []
    found = read_output(verification.output.text if verification.output is not None else "")
    tests = list(dict.fromkeys([*verification.failed_tests, *found.failed_tests]))
    test_files = [f for f in (file_of_test(t) for t in tests) if f]
    tested = {_tested_module(f) for f in test_files} - {None}
    named = [*found.files, *test_files]
    for i in reversed(range(len(view.steps))):
        hit = sorted(t for t in view.edit_targets[i]
                     if any(same_file(t, n) for n in named) or t.rsplit("/", 1)[-1] in tested)
        if hit:
            what = f": {tests[0]} fails" if tests else " fails"
            detail = f"the verifier after the run ({verification.verifier}) judged its change to {hit[0]}{what}"
            return [_ev(view, i, "verifier_fails", detail, 0.8)]
    return []


def _tested_module(test_file: str) -> str | None:
    """The file name a test file is named after: ``tests/test_calc.py`` and ``calc_test.py`` -> ``calc.py``."""
    name = test_file.rsplit("/", 1)[-1]
    stem, dot, ext = name.rpartition(".")
    if not dot:
        return None
    if stem.startswith("test_") and len(stem) > 5:
        return f"{stem[5:]}.{ext}"
    if stem.endswith("_test") and len(stem) > 5:
        return f"{stem[:-5]}.{ext}"
    return None


def ignored_errors(view: RunView) -> list[Evidence]:
    """An error result followed by the agent claiming success or submitting: the error was ignored."""
    found = []
    for i, failed in enumerate(view.failed):
        if not failed:
            continue
        j = i + 1
        while j < len(view.steps) and view.executor[j]:
            j += 1
        if j >= len(view.steps) or view.failed[j]:
            continue
        claims = bool(_SUCCESS_CLAIM.search(view.says[j][:600]))
        submits = view.kinds[j] is StageKind.SUBMIT
        if (claims or submits) and not view.artefact[j]:
            found.append(_ev(view, j, "ignored_error", f"moves on after the error at step {i + 1}", 0.6))
    return found


def never_verified(view: RunView) -> list[Evidence]:
    """A run that changed things but never reached a verification stage, nor read back a file it edited."""
    kinds = set(view.kinds)
    if StageKind.PATCHING not in kinds or StageKind.VERIFICATION in kinds:
        return []
    edits = [i for i, t in enumerate(view.edit_targets) if t]
    if any(not view.edit_targets[i] and _checks_edit(view, i, e) for e in edits for i in range(e + 1, len(view.kinds))):
        return []
    last = max(i for i, k in enumerate(view.kinds) if k is StageKind.PATCHING)
    return [_ev(view, last, "no_verification", "no stage of the run ever verifies its changes", 0.4)]


def unfinished(view: RunView) -> list[Evidence]:
    """The run stopped without finishing: incomplete trace or an exit status naming a limit, timeout or error."""
    if not view.steps:
        return []
    status = view.run.exit_status or ""
    if view.run.complete and not _BAD_EXIT_STATUS.search(status):
        return []
    why = f"exit status {status!r}" if status else "the run never reported its end"
    return [_ev(view, len(view.steps) - 1, "unfinished", why, 0.5)]


SIGNALS: tuple[Signal, ...] = (
    error_results,
    repeated_actions,
    repeated_claims,
    overwritten_edits,
    rewritten_files,
    unneeded_edits,
    failing_tests_after_edit,
    failing_verifier,
    unverified_submission,
    ignored_errors,
    never_verified,
    unfinished,
)
"""Every extractor, in the order their evidence is listed."""

INCORRECT_SIGNALS = frozenset(
    {"error", "overwritten_edit", "test_fails_after_edit", "verifier_fails", "ignored_error", "unverified",
     "unneeded_edit"}
)
UNUSEFUL_SIGNALS = frozenset({"repeat", "loop"})


def collect(view: RunView) -> list[Evidence]:
    """All evidence for a run, sorted by step."""
    found: list[Evidence] = []
    for signal in SIGNALS:
        found.extend(signal(view))
    found.sort(key=lambda e: e.step_id)
    return found

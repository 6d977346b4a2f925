"""Edit provenance: which step changed which file, how, and whether the change survived into the final patch.

Why: most failed code-agent runs fail *silently* -- the agent's own checks pass and the hidden tests do not. What
decided the outcome is the patch the run left behind, so the first question about a failure is "which steps wrote
what is in that patch?". This module answers it for every format, from what the tree already holds:

1. **Changes per step** (:func:`step_writes`): structured edits the adapters report (editor ``create`` /
   ``str_replace`` / ``insert`` / ``undo_edit``, ATIF ``Write``/``Edit``/``MultiEdit``, LangChain file tools) and
   what shell commands spell out (:mod:`codetracer.core.shell`). A script written in one step and run in a later one
   is linked to both: the step that *wrote* the script is the change's author, the step that ran it applied it.
   A change whose application visibly failed (an error result, "could not find the block") did not happen.
2. **The final patch** (:func:`final_patch`): the run's submission (mini-swe-agent, SWE-agent), OpenHands'
   ``git_patch``, else the last ``git diff`` output the agent printed.
3. **Blame** (:func:`blame`): every added line of the final patch is credited to the *first* effective change that
   wrote it to that file (re-applying the same text later does not move the credit: the decision was made where the
   text first appeared). Changes none of whose text survives are marked ``overwritten``, ``reverted`` (a later
   ``git checkout``/``git stash``/``undo_edit``) or ``deleted`` (the file was removed: scratch files).

:func:`attach` stores the result in the tree: ``Step.changes`` (one :class:`~codetracer.core.model.FileChange` per
changed file) and ``Run.provenance`` (:class:`~codetracer.core.model.Provenance`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from codetracer.core import shell
from codetracer.core.diff import FileDiff, looks_like_diff, parse_diff
from codetracer.core.model import Action, Call, FileChange, PatchFile, Provenance, Run, Step

_PATCH_KEYS = ("submission", "git_patch", "model_patch", "patch")
"""Run metadata keys adapters use for the run's final patch, in order of preference."""
_QUOTED_PATH = re.compile(r"""['"]((?:[\w.-]+/)*[\w.-]*[\w-]\.[A-Za-z][\w]{0,6})['"]""")
_FAILED_APPLY = re.compile(
    r"could ?n[o']t find|can ?n[o']t find|not found|no match|did not (?:find|match)|unable to|failed to|"
    r"no replacement|did not appear verbatim|introduced new syntax error|traceback \(most recent|\berror:|"
    r"patch failed|hunk #\d+ failed|does not apply|not applied"
)
"""What a change's result says (lower-cased) when the change did not happen. Editor tools say it first (their result
goes on to show the file); scripts say it anywhere, usually last."""
_FAILED_WORDS = ("find", "found", "match", "unable", "failed", "replacement", "verbatim", "syntax error",
                 "traceback", "error:", "apply", "applied")
"""Substrings one of which every :data:`_FAILED_APPLY` match holds: a cheap test before the regex."""
_TEST_PATH = re.compile(r"(^|/)(tests?|testing|__tests__|spec)/|(^|/)test_[^/]*$|_tests?\.\w+$|(^|/)conftest\.py$|"
                        r"\.(spec|test)\.\w+$")
_BYPRODUCT = re.compile(r"\.(orig|rej|bak|backup|old|save|swp|pyc|patch|diff)$|~$|\.bak\d*$")
"""Files a patch holds by accident: backups, rejected hunks, saved patches. Blamed to nobody; listed as stray."""
FINAL_CONTENTS = "final file contents"
"""The patch source of a run that left no patch: the files its own writes produced."""
_OPENED = re.compile(r"""(?:open|Path|path\.Path)\(\s*r?['"]([^'"\n]+)['"]""")
_DEBUG_LINE = re.compile(r"\bprint\(|console\.log|\blog(?:ger|ging)?\.debug|\bDEBUG\b|\bbreakpoint\(\)|pdb\.set_trace|"
                         r"^#|^//|^\s*$")
_MIN_LINE = 6
"""Added lines shorter than this (stripped) say too little to tell their author (``)``, ``else:``, ``pass``)."""
_WHOLE_FILE_HOWS = frozenset({"heredoc", "echo", "redirect", "tee", "write", "create"})


def is_test_path(path: str) -> bool:
    """True for files of a test suite (``tests/``, ``test_*.py``, ``*_test.go``, ``conftest.py``, ``*.spec.ts``)."""
    return bool(_TEST_PATH.search(path))


def same_file(a: str, b: str) -> bool:
    """Whether two spellings of a path name the same file: equal, or one ends with the other at a ``/``
    (``/testbed/pkg/mod.py`` and ``pkg/mod.py``; agents mix absolute, relative and ``./`` paths)."""
    a, b = a.removeprefix("./"), b.removeprefix("./")
    if a == b:
        return True
    if len(a) < len(b):
        a, b = b, a
    return a.endswith("/" + b) or (a.endswith(b) and "/" in b and a[-len(b) - 1 : -len(b)] in ("/", ""))


@dataclass
class Write:
    """One change to a file (or, for a script, to the files its text names), before blame."""

    step: int
    """The step where the change happened (the run of a script)."""
    author: int
    """The step whose text holds the change (the step that wrote the script; else ``step``)."""
    how: str
    path: str | None
    """``None`` for a script or inline code: its targets are the files its text names."""
    text: str = ""
    fragments: list[str] = field(default_factory=list)
    effective: bool = True
    whole: bool = False
    script: str | None = None
    old: str | None = None
    """The text a replace edit took out (editor ``str_replace``, ATIF ``Edit``)."""
    _lines: set[str] | None = None
    _unescaped: str | None = None

    def targets(self, path: str, name: re.Pattern[str] | None = None) -> bool:
        """Whether this change may have written ``path`` (``name``: :func:`_name_pattern` of it, when known)."""
        if self.path is not None:
            return same_file(self.path, path)
        if not self.text:
            return False
        if path in self.text:
            return True
        base = path.rsplit("/", 1)[-1]
        if len(base) <= 3 or base not in self.text:
            return False
        return (name or _name_pattern(path)).search(self.text) is not None

    def lines(self) -> set[str]:
        """The stripped lines of the written text, also split at escaped newlines (code inside Python strings)."""
        if self._lines is None:
            text = self.text.replace("\\n", "\n") if "\\n" in self.text else self.text
            self._lines = {line.strip() for line in text.splitlines()}
        return self._lines

    def wrote(self, line: str) -> bool:
        """Whether ``line`` (stripped) is part of what this change wrote: one of its lines, containing one of its
        fragments, or (for code that builds the text) inside it, also once string escapes are undone."""
        if line in self.lines():
            return True
        if any(len(f) >= 4 and f in line for f in self.fragments):
            return True
        if len(line) < 12:
            return False
        if line in self.text:
            return True
        if self._unescaped is None:
            self._unescaped = _unescape(self.text)
        return line in self._unescaped


def removed_by(path: str, deleted: str) -> bool:
    """Whether deleting ``deleted`` removes ``path``: the same file, or a file inside that folder (``rm -rf build``
    takes ``build/x.py`` with it; ``rm -rf build/*`` too). Globs other than a trailing ``/*`` and the tree's root
    (``.``, ``/``, ``~``) are not followed: what they match is not spelled out."""
    if same_file(path, deleted):
        return True
    folder = deleted.rstrip("/")
    if folder.endswith("/*"):
        folder = folder[:-2]
    if folder in ("", ".", "..", "~") or folder.endswith(("/.", "/..")) or any(c in folder for c in "*?[{$"):
        return False
    if folder.startswith("/"):
        return path.startswith(folder + "/")
    return f"/{folder.removeprefix('./')}/" in f"/{path.removeprefix('./')}"


def _name_pattern(path: str) -> re.Pattern[str]:
    """The file's base name as a whole word (``mod.py`` but not ``amod.py`` nor ``mod.pyc``)."""
    return re.compile(rf"(?<![\w.-]){re.escape(path.rsplit('/', 1)[-1])}(?![\w])")


@dataclass
class Revert:
    step: int
    path: str
    how: str


@dataclass
class _Scan:
    """Everything read off a run's steps: changes, reverts and deletions in order."""

    writes: list[Write] = field(default_factory=list)
    reverts: list[Revert] = field(default_factory=list)
    deletes: list[Revert] = field(default_factory=list)
    scripts: dict[str, Write] = field(default_factory=dict)


def _applied(step: Step, calls: list[Call], action_index: int, *, command: bool) -> bool:
    """Whether the action's result shows its change took effect: no error, no "could not find the block" (at the
    head of an editor's answer; anywhere in the last part of a command's output). ``calls``: the step's calls
    that hold an action, in order."""
    obs = calls[action_index].observation if action_index < len(calls) else None
    observations = [obs] if obs is not None else step.observations
    for o in observations:
        if o.is_error or (o.exit_code not in (None, 0)):
            return False
        text = o.text.text if o.text is not None else ""
        if not text:
            continue
        where = (text[:300] + "\n" + text[-1500:] if command else text[:300]).lower()
        if any(word in where for word in _FAILED_WORDS) and _FAILED_APPLY.search(where):
            return False
    return True


def _edit_how(action: Action, old: str | None, new: str | None, kind: str | None) -> str:
    if kind:
        return kind
    tool = action.tool.lower()
    if old is None and new is not None and any(w in tool for w in ("write", "create")):
        return "write"
    if old is not None:
        return "replace"
    return "insert" if new is not None else "edit"


def _scan(run: Run) -> _Scan:
    scan = _Scan()
    parsed: dict[str, list[shell.ShellOp]] = {}
    """Each command's ops, read once per run: agents run the same command again and again (a reproduction script
    after every edit). The ops are only read here, never changed."""
    for step in run.steps:
        calls = [c for c in step.calls if c.action is not None]
        for index, call in enumerate(calls):
            action = call.action
            assert action is not None
            ops: list[shell.ShellOp] = []
            if action.command:
                if action.command not in parsed:
                    parsed[action.command] = shell.parse(action.command)
                ops = parsed[action.command]
            if not action.edits and not ops:
                continue  # most actions change no file: their results need no reading
            effective = _applied(step, calls, index, command=action.command is not None and not action.edits)
            for edit in action.edits:
                how = _edit_how(action, edit.old, edit.new, edit.kind)
                if how in ("undo", "undo_edit"):
                    scan.reverts.append(Revert(step.id, edit.path, "undo_edit"))
                    continue
                if how == "delete":
                    scan.deletes.append(Revert(step.id, edit.path, "delete"))
                    continue
                text = edit.new or ""
                if edit.diff and not text:
                    text = "\n".join(line for f in parse_diff(edit.diff) for line in f.added)
                whole = how in ("write", "create")
                edges = _edge_fragments(text) if edit.old is not None else []
                scan.writes.append(
                    Write(step.id, step.id, how, edit.path, text, edges, effective=effective, whole=whole, old=edit.old)
                )
            _scan_ops(scan, step.id, ops, effective)
    return scan


def _edge_fragments(text: str) -> list[str]:
    """The first and last lines of a replace edit's new text, which may be parts of lines (``str_replace`` of
    ``sum(values)`` by ``round(sum(values))``): an added line of the patch containing one was written by the edit.
    Short ones say too little to tell."""
    lines = text.strip("\n").split("\n")
    found = {lines[0].strip(), lines[-1].strip()}
    return sorted(f for f in found if len(f) >= _MIN_LINE)


def _scan_ops(scan: _Scan, step_id: int, ops: list[shell.ShellOp], effective: bool) -> None:
    for op in ops:
        if op.kind == "write":
            source = _inherit(scan, op.source) if op.source else None
            if source is not None:
                write = Write(step_id, source.author, op.how, op.path, source.text, list(source.fragments),
                              effective and source.effective, whole=True, script=source.script)
            else:
                write = Write(step_id, step_id, op.how, op.path, op.text, op.fragments, effective,
                              whole=op.how in _WHOLE_FILE_HOWS and not op.append)
            scan.writes.append(write)
            if write.text:  # a script, a patch file, a snippet read back later (sed 'r', cp, mv)
                scan.scripts[op.path] = write
                scan.scripts[op.path.rsplit("/", 1)[-1]] = write
        elif op.kind == "run":
            script = scan.scripts.get(op.path) or scan.scripts.get(op.path.rsplit("/", 1)[-1])
            if script is None:
                continue
            if op.how == "patch":
                for item in parse_diff(script.text) or []:
                    scan.writes.append(Write(step_id, script.author, "patch", item.path, "\n".join(item.added),
                                             effective=effective))
            elif shell.writes_files(script.text) or "sys.stdout" in script.text or "print(" in script.text:
                scan.writes.append(Write(step_id, script.author, "script", None, script.text, effective=effective,
                                         script=op.path))
        elif op.kind == "code":
            if shell.writes_files(op.text):
                scan.writes.append(Write(step_id, step_id, op.how or "code", None, op.text, effective=effective))
        elif op.kind == "revert":
            scan.reverts.append(Revert(step_id, op.path, op.how))
        elif op.kind == "restore":  # git stash pop/apply: the changes the last stash put away are back
            stash = next((r for r in reversed(scan.reverts) if r.how == "git stash"), None)
            if stash is not None:
                scan.reverts.remove(stash)
        elif op.kind == "delete":
            scan.deletes.append(Revert(step_id, op.path, op.how))


def _inherit(scan: _Scan, source: str) -> Write | None:
    """The change whose content ``source`` holds, for ``cp``/``mv`` of a file written earlier in the run."""
    for write in reversed(scan.writes):
        if write.path is not None and same_file(write.path, source):
            return write
    return None


def final_patch(run: Run) -> tuple[str, list[FileDiff]] | None:
    """The run's final patch and where it came from: a metadata patch, else the last diff an agent printed."""
    for key in _PATCH_KEYS:
        value = run.metadata.get(key)
        if isinstance(value, str) and value.strip():
            files = parse_diff(value)
            if files:
                return key, files
    for step in reversed(run.steps):
        for obs in reversed(step.all_observations):
            text = obs.text.text if obs.text is not None else ""
            if text and "diff --git" in text and looks_like_diff(text):
                files = parse_diff(text[text.find("diff --git") :])
                if files:
                    return f"git diff at step {step.id}", files
    return None


def final_contents(scan: _Scan) -> list[FileDiff]:
    """What the run's files hold at its end, where its own writes show it: the last whole-file write of each file
    (``Write``/``create``, a heredoc into it), with the text replacements made after it applied. Files deleted or
    reverted later are left out. Used when a run leaves no patch (terminal tasks, live runs without git): the
    "patch" is then the files the run produced, read as wholly added."""
    states: dict[str, str | None] = {}
    order: list[str] = []
    events: list[tuple[int, int, object]] = [(w.step, 0, w) for w in scan.writes if w.effective and w.path]
    events += [(r.step, 1, r) for r in scan.reverts] + [(d.step, 2, d) for d in scan.deletes]
    events.sort(key=lambda e: (e[0], e[1]))
    for _, kind, item in events:
        if kind:
            assert isinstance(item, Revert)
            for path in list(states):
                if item.path == "*" or (same_file(path, item.path) if kind == 1 else removed_by(path, item.path)):
                    states[path] = None
            continue
        assert isinstance(item, Write) and item.path is not None
        key = next((p for p in order if same_file(p, item.path)), None)
        if key is None:
            key = item.path
            order.append(key)
        state = states.get(key)
        if item.whole:
            states[key] = item.text
        elif state is not None and item.how == "replace":
            states[key] = _replace_once(state, item)
        elif state is not None and item.text:
            states[key] = state + "\n" + item.text
    return [FileDiff(path=p, added=text.splitlines(), new_file=True) for p in order if (text := states.get(p))]


def _replace_once(state: str, write: Write) -> str:
    old = write.old or ""
    return state.replace(old, write.text, 1) if old and old in state else state + "\n" + write.text


def _unescape(text: str) -> str:
    """Text as a program that builds it in string literals writes it: ``\\"`` and ``\\'`` as quotes, f-string ``{{``
    and ``}}`` as braces, escaped newlines and tabs as such."""
    return (text.replace('\\"', '"').replace("\\'", "'").replace("{{", "{").replace("}}", "}")
            .replace("\\n", "\n").replace("\\t", "\t"))


def _stripped_text(lines: Iterable[str]) -> str:
    return "\n".join(line.strip() for line in lines).strip()


def _normalized(lines: Iterable[str]) -> list[str]:
    out = []
    for line in lines:
        stripped = line.strip()
        if len(stripped) >= _MIN_LINE and any(ch.isalnum() for ch in stripped):
            out.append(stripped)
    return out


def blame(run: Run, scan: _Scan | None = None) -> tuple[Provenance | None, dict[int, list[FileChange]]]:
    """The run's provenance and each step's changes (step id -> changes); ``None`` provenance without a patch."""
    scan = scan if scan is not None else _scan(run)
    patch = final_patch(run)
    if patch is None:
        produced = final_contents(scan)
        patch = (FINAL_CONTENTS, produced) if produced else None
    credit: dict[int, dict[str, int]] = {}
    """write index -> patch path -> surviving lines it authored."""
    reapplied: set[int] = set()
    rewrote: dict[int, set[str]] = {}
    """write index -> patch paths whose surviving lines it wrote again (after the first writer)."""
    files: list[PatchFile] = []
    if patch is not None:
        for diff in patch[1]:
            if _BYPRODUCT.search(diff.path):
                files.append(PatchFile(path=diff.path, added=len(diff.added), removed=len(diff.removed),
                                       new_file=diff.new_file, byproduct=True))
                continue
            name = _name_pattern(diff.path)
            candidates = [(i, w) for i, w in enumerate(scan.writes) if w.effective and w.targets(diff.path, name)]
            authors: dict[int, int] = {}
            unattributed = 0
            lines = _normalized(diff.added)
            content = _stripped_text(diff.added) if not lines else ""
            if any(ch.isalnum() for ch in content):
                # lines too short to tell writers apart ("e2e4", "42"): a whole-file write of exactly that text
                # wrote them. Text without a letter or digit (":", "><": garbled tool calls) is authored by nobody
                exact = [i for i, w in candidates if w.whole and _stripped_text(w.text.splitlines()) == content]
                if exact:
                    first = min(exact, key=lambda i: (scan.writes[i].author, i))
                    credit.setdefault(first, {})[diff.path] = len(diff.added)
                    authors[scan.writes[first].author] = len(diff.added)
                    reapplied.add(scan.writes[first].step)
                    for i in exact:
                        rewrote.setdefault(i, set()).add(diff.path)
            for line in lines:
                hits = [i for i, w in candidates if w.wrote(line)]
                if not hits:
                    unattributed += 1
                    continue
                first = min(hits, key=lambda i: (scan.writes[i].author, i))
                credit.setdefault(first, {}).setdefault(diff.path, 0)
                credit[first][diff.path] += 1
                authors[scan.writes[first].author] = authors.get(scan.writes[first].author, 0) + 1
                reapplied.update(scan.writes[i].step for i in hits)
                for i in hits:
                    rewrote.setdefault(i, set()).add(diff.path)
                reapplied.add(scan.writes[first].step)
            files.append(
                PatchFile(
                    path=diff.path,
                    added=len(diff.added),
                    removed=len(diff.removed),
                    test=is_test_path(diff.path),
                    new_file=diff.new_file,
                    authors=sorted(authors),
                    lines_by_step={str(k): v for k, v in sorted(authors.items())},
                    unattributed=unattributed,
                )
            )
    changes: dict[int, list[FileChange]] = {}
    for i, write in enumerate(scan.writes):
        for path in _paths_of(write):
            fate = _fate(scan, i, write, path, credit, patch is not None, rewrote.get(i, set()))
            kept = credit.get(i, {}).get(_patch_path(path, files) or "", 0)
            elsewhere = write.author != write.step
            change = FileChange(
                path=path,
                how=write.how,
                via_step=write.author if elsewhere else None,
                applied=write.effective,
                in_patch=0 if elsewhere else kept,
                fate=fate,
                debug=write.path is not None and _debug_only(write.text),
                empty=not write.text.strip() and not write.fragments,
            )
            _add_change(changes.setdefault(write.step, []), change)
            if elsewhere and (kept or fate in ("overwritten", "reverted")):
                # the step that wrote the script or patch file is where the change was decided: it holds it too
                authored = change.model_copy(update={"via_step": None, "applied_in": write.step, "in_patch": kept})
                _add_change(changes.setdefault(write.author, []), authored)
    if patch is None:
        return None, changes
    surviving = sorted({scan.writes[i].author for i in credit})
    applied = sorted({scan.writes[i].step for i in credit} - set(surviving))
    dropped: dict[str, set[int]] = {"overwritten": set(), "reverted": set(), "deleted": set()}
    for step_id, items in changes.items():
        for change in items:
            if change.fate in dropped and step_id not in surviving:
                dropped[change.fate].add(change.via_step or step_id)
    return (
        Provenance(
            patch_source=patch[0],
            files=files,
            surviving_steps=surviving,
            applied_steps=applied,
            reapplied_steps=sorted(reapplied - set(surviving) - set(applied)),
            overwritten_steps=sorted(dropped["overwritten"] - set(surviving)),
            reverted_steps=sorted(dropped["reverted"] - set(surviving)),
        ),
        changes,
    )


_FATE_RANK = {"survives": 0, None: 1, "not in patch": 2, "overwritten": 3, "reverted": 4, "deleted": 5, "failed": 6}


def _add_change(step_changes: list[FileChange], change: FileChange) -> None:
    """One change per file per step: several writes of a step to one file (``sed -e .. -e ..``, two commands) are
    merged, keeping the best fate (a step's change survives if any of its writes does)."""
    for i, known in enumerate(step_changes):
        if known.path == change.path:
            best = known if _FATE_RANK.get(known.fate, 9) <= _FATE_RANK.get(change.fate, 9) else change
            step_changes[i] = best.model_copy(update={
                "in_patch": max(known.in_patch, change.in_patch) if known.applied_in
                else known.in_patch + change.in_patch,
                "applied": known.applied or change.applied,
                "debug": known.debug and change.debug,
                "empty": known.empty and change.empty,
            })
            return
    step_changes.append(change)


def _patch_path(path: str, files: list[PatchFile]) -> str | None:
    for f in files:
        if same_file(f.path, path):
            return f.path
    return None


def _paths_of(write: Write) -> list[str]:
    """The files a change touched: its path, or the file names a script's text quotes (when it writes files)."""
    if write.path is not None:
        return [write.path]
    if not shell.writes_files(write.text) and "sys.stdout" not in write.text:
        return []
    seen: list[str] = []
    opened = {m.group(1) for m in _OPENED.finditer(write.text)}
    for m in _QUOTED_PATH.finditer(write.text):
        name = m.group(1)
        if name in seen or (write.script is not None and same_file(name, write.script)):
            continue
        if "/" in name or name in opened:
            seen.append(name)
    return seen[:8]


def _debug_only(text: str) -> bool:
    """Whether a change only adds instrumentation (prints, debug logging, breakpoints): debugging, not a fix.
    Stops at the first line that is not (most changes: their first line), whatever the length of the text."""
    seen = False
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        if not _DEBUG_LINE.search(line):
            return False
        seen = True
    return seen


def _fate(
    scan: _Scan, index: int, write: Write, path: str, credit: dict[int, dict[str, int]], known: bool,
    rewrote: set[str],
) -> str | None:
    """What became of one change to ``path``: survives, overwritten, reverted, deleted, or unknown (``None``).

    A change that wrote surviving lines again (a script re-run after a ``git checkout``) survives too, though the
    lines are credited to their first writer."""
    if index in credit and any(same_file(p, path) for p in credit[index]):
        return "survives"
    if any(same_file(p, path) for p in rewrote):
        return "survives"
    if not write.effective:
        return "failed"
    later_revert = any(r.step > write.step and (r.path == "*" or same_file(r.path, path)) for r in scan.reverts)
    later_delete = any(d.step > write.step and removed_by(path, d.path) for d in scan.deletes)
    if later_delete:
        return "deleted"
    if later_revert:
        return "reverted"
    if not known:
        return None
    later_write = any(w.step > write.step and w.path is not None and same_file(w.path, path) for w in scan.writes)
    return "overwritten" if later_write else "not in patch"


def attach(run: Run) -> Run:
    """Compute provenance and store it in ``run`` (``Step.changes``, ``Run.provenance``); returns ``run``."""
    if not run.steps:
        return run
    provenance, changes = blame(run)
    for step in run.steps:
        step.changes = changes.get(step.id, [])
    run.provenance = provenance
    return run

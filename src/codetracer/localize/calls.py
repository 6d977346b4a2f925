"""How each tool call went: productive, failed, or garbled (a call that could not do what it meant to).

Models degenerate in long runs: commands prefixed with the shell's no-op ``:``, bare brackets left over from a
broken JSON call (``]}``), tool-call markup pasted into arguments (``<parameter name=...>``), a file path written as
a file's content, a write to a path made of whitespace. Such a call does nothing, or something worse, and a run
that keeps emitting them never recovers. These checks read only the call itself (tool, arguments, command, result),
so they hold for any framework.

A step is **productive** when one of its calls acted on the environment and succeeded: a command that ran without
error, a file read or written. Planning and web tools (to-do lists, web search/fetch) do not count: a run whose only
successful calls were those never started the task.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from codetracer.core.model import Action, Call, Step

_NOOP = re.compile(r"^\s*:(?:\s|$|[^\w/=-])")
"""``: anything`` runs the shell's no-op builtin: the command after it never runs (``: > f`` truncates ``f``, the
one exception, and it is rare enough to be ignored)."""
_DEBRIS = re.compile(r"^[\s\]\[{}()=,:;>'\"`|.]*$")
"""A command made only of brackets, quotes and punctuation: the remains of a broken call."""
_MARKUP = re.compile(r"<parameter name=|</parameter>|<invoke\b|</invoke>|<\|?tool_call|</?function_calls?>|<\|im_")
_BAD_PATH = re.compile(r"^\s*$|^[\s:,;>\]\[{}]|[\n\t]")
_PATH_KEYS = ("file_path", "path", "filename", "notebook_path")
_NON_ENV_TOOL = re.compile(r"todo|plan|think|web_?search|web_?fetch|search_web|fetch_url|ask_user|^task$", re.I)
"""Tools that do not act on the agent's environment: planning, thinking, the web."""


def garbled(action: Action) -> str | None:
    """Why a call is garbled, or ``None`` when it looks like a real call."""
    command = action.command
    if command is not None:
        if not command.strip():
            return "empty command"
        if _NOOP.match(command):
            return "command behind the no-op ':'"
        if _DEBRIS.match(command):
            return f"command is only punctuation ({command.strip()[:12]!r})"
        if _MARKUP.search(command):
            return "tool-call markup inside the command"
        return None
    path = next((action.arguments[k] for k in _PATH_KEYS if k in action.arguments), None)
    if path is not None:
        if not isinstance(path, str) or _BAD_PATH.search(path):
            return "garbled file path"
        content = action.arguments.get("content")
        if isinstance(content, str):
            first = content.lstrip("\n").split("\n", 1)[0].strip()
            if content.strip() == path.strip():
                return "the file path written as the file's content"
            if first and (first == path.strip() or re.match(r"^[:,>]\s*\S{0,3}$|^[:,>]['\"\[{]", first)):
                return f"stray first line {first[:20]!r} in the written file"
    for value in action.arguments.values():
        if isinstance(value, str) and _MARKUP.search(value):
            return "tool-call markup inside the arguments"
    return None


def acts_on_environment(call: Call) -> bool:
    """Whether the call touches the agent's environment (not planning, thinking or the web)."""
    return not _NON_ENV_TOOL.search(call.name or "")


def _failed(call: Call) -> bool:
    obs = call.observation
    if obs is None:
        return not call.complete and call.ending is None  # cancelled or interrupted: not the call's failure
    return obs.is_error or obs.exit_code not in (None, 0)


def step_kind(step: Step) -> str:
    """``productive``, ``garbled``, ``failed``, ``idle`` (calls that do not touch the environment) or ``none``
    (no call at all)."""
    # a call that ended without returning (cancelled, interrupted: ``Call.ending``) did not happen as far as its
    # result goes: it neither helped nor failed
    calls = [c for c in step.calls if c.kind == "tool" and c.action is not None and c.ending is None]
    if not calls:
        return "none"
    kinds = []
    for call in calls:
        assert call.action is not None
        if garbled(call.action):
            kinds.append("garbled")
        elif _failed(call):
            kinds.append("failed")
        elif acts_on_environment(call):
            kinds.append("productive")
        else:
            kinds.append("idle")
    for kind in ("productive", "idle", "failed"):
        if kind in kinds and (kind != "idle" or "garbled" not in kinds):
            return kind
    return "garbled"


def degenerate_tail(kinds: Sequence[str], after: int = 0) -> int | None:
    """Index of the first step of the run's last *degenerate stretch*, or ``None``.

    The stretch is the longest suffix that starts at a garbled call (at index ``>= after``) and in which garbled and
    failed calls outnumber productive ones at least two to one, with at least two garbled: once a run is there, it
    keeps failing to act until it ends. Failed calls right before it (nothing productive in between) belong to it:
    the run had already stopped making progress.
    """
    acting = [i for i, k in enumerate(kinds) if k in ("productive", "garbled", "failed")]
    garbled_after = productive_after = broken_after = 0
    best: int | None = None
    for i in reversed(acting):
        kind = kinds[i]
        garbled_after += kind == "garbled"
        broken_after += kind != "productive"
        productive_after += kind == "productive"
        if i >= after and kind == "garbled" and garbled_after >= 2 and broken_after >= 2 * productive_after:
            best = i
    if best is None:
        return None
    start = best
    for i in range(best - 1, max(after, 0) - 1, -1):
        if kinds[i] == "failed":
            start = i
        elif kinds[i] == "productive":
            break
    return start

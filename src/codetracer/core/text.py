"""Text on one line, for the listing views (``ls``, ``analyze``'s line per run) and the text tree.

Model-free on purpose: ``ls`` starts without importing the tree model, and still shortens tasks the same way as
every other view.
"""

from __future__ import annotations

import re

__all__ = ["cut", "short_task", "shorten"]

_TAG = re.compile(r"</?[A-Za-z_][\w-]*>")


def cut(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters, an ellipsis saying it was cut."""
    return text if len(text) <= width else text[: max(width - 1, 0)].rstrip() + "\u2026"


def shorten(text: str, limit: int) -> str:
    """One line of at most ``limit`` characters, keeping both ends (a command's end is often what differs)."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    keep = max(limit - 5, 2)
    return flat[: keep // 2] + " ... " + flat[-(keep - keep // 2) :]


def short_task(task: str | None, width: int = 40) -> str:
    """The task on one line of at most ``width`` characters: markup tags dropped, whitespace collapsed, and a short
    lead-in phrase ending in a colon ("Consider the following PR description:") skipped, so the line says what the
    task is about rather than how every task of a benchmark begins."""
    text = " ".join(_TAG.sub(" ", task or "").split())
    lead, colon, rest = text.partition(": ")
    if colon and len(lead) <= 48 and len(rest) > 20 and lead.count(" ") >= 2:  # "Consider the following issue: ..."
        text = rest
    return cut(text, width)

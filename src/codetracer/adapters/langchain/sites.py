"""Where in a LangGraph run an exception was raised, read from the exception itself: which graph node, and whether
inside a tool (which call) or a model.

The graph path (:mod:`codetracer.adapters.langchain.graph`) sees no callback, only the exception the stream raises,
and must not blame a model call that never happened for a failing post-processing node. Two things on the exception
tell where it came from:

* LangGraph's notes (``"During task with name 'post' and id '...'"``), one per graph level the exception crossed,
  innermost first: the node path (``"researcher/tools"``);
* its traceback: a frame of ``langchain_core.tools`` holding the ``tool_call_id`` of the call it runs (the tool
  raised), or a frame of ``langchain_core.language_models`` (the model raised). The outermost of the two wins: a
  model called inside a tool is the tool's failure.

Read once, when a run fails, off every hot path. Nothing here imports LangChain; a LangGraph release that words its
notes differently, or a traceback without those frames, degrades to less detail (the mapper then places the error
as before: the one tool call in flight, else the step, else a model call).
"""

from __future__ import annotations

import re
from typing import Any

_NOTE = re.compile(r"During task with name '([^']*)'")

_MAX_FRAMES = 2000
"""A bound on the traceback walk (a deep recursion's traceback is long; the frames that matter are near the top)."""

Site = tuple[str | None, bool, bool, str | None]
"""``(tool_call_id, in_tool, in_model, node_path)``, journaled as a list with the run's error record."""


def error_site(error: BaseException) -> Site:
    """Where ``error`` was raised (see the module docstring). Never raises."""
    try:
        return _site(error)
    except Exception:  # noqa: BLE001 - an odd exception object: place the error as if nothing were known
        return None, False, False, None


def _site(error: BaseException) -> Site:
    notes = getattr(error, "__notes__", None) or ()
    names = [m.group(1) for m in (_NOTE.search(n) for n in notes if isinstance(n, str)) if m is not None]
    node = "/".join(reversed(names)) or None
    tool_call_id: str | None = None
    in_tool = in_model = False
    tb, seen = error.__traceback__, 0
    while tb is not None and seen < _MAX_FRAMES:
        frame, seen = tb.tb_frame, seen + 1
        module = frame.f_globals.get("__name__", "")
        if isinstance(module, str):
            if module.startswith("langchain_core.tools"):
                in_tool = True
                value: Any = frame.f_locals.get("tool_call_id")
                if isinstance(value, str) and value:
                    tool_call_id = value
                    break
            elif module.startswith("langchain_core.language_models") and not in_tool:
                in_model = True
                break
        tb = tb.tb_next
    return tool_call_id, in_tool, in_model, node

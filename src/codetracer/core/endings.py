"""How a live run, or a call inside it, ended: one vocabulary for every adapter.

A framework that names its own ends (mini-swe-agent's ``Submitted``, an OpenHands execution status) keeps its words
in ``exit_status``; for the ends frameworks share, adapters say the same thing with these words, so a run stopped
early reads ``stopped`` whichever way of tracing it recorded it (the LangChain adapter's two paths use them; the
mini-swe-agent, OpenHands and SWE-agent adapters report what the framework itself writes, which their saved
trajectories repeat):

=====================  ===========  ==============  ==========================================================
how the run ended      ``outcome``  ``exit_status``  what it means
=====================  ===========  ==============  ==========================================================
it returned            the verdict  ``finished``     the verifier's (or ``outcome=``'s) verdict, else ``unknown``
it raised              ``failed``   the type name    the exception of the agent's code (``RuntimeError`` ...)
an interrupt           ``unknown``  ``interrupted``  paused for input (LangGraph ``interrupt()``); it resumes
the caller stopped     ``unknown``  ``stopped``      the caller stopped reading it (``break`` out of a stream)
it was cancelled       ``unknown``  ``cancelled``    cancelled from outside (asyncio cancellation, Ctrl-C)
it never said          -            -                ``complete = False``: the process died (closed at exit or
                                                     by ``codetracer recover``)
=====================  ===========  ==============  ==========================================================

A call that never returned says why in ``Call.ending`` (``codetracer_call_ended``): ``cancelled`` (its run ended
around it: a sibling raised, the run was stopped or cancelled) or ``interrupted`` (the run paused there; resuming
runs it again). Such a call is not an error of the agent, and not complete.

No framework is imported here: LangGraph's interrupt is told by the name of its exception class.
"""

from __future__ import annotations

import concurrent.futures
import sys

FINISHED = "finished"
INTERRUPTED = "interrupted"
STOPPED = "stopped"
CANCELLED = "cancelled"

NOT_FAILED = frozenset({FINISHED, INTERRUPTED, STOPPED, CANCELLED})
"""Endings that are not a failure of the agent (the outcome of the three last is ``unknown``)."""

CALL_ENDINGS = frozenset({CANCELLED, INTERRUPTED})
"""What ``Call.ending`` may say."""

_CANCELLED = (concurrent.futures.CancelledError, KeyboardInterrupt)
"""Cancellations from outside; asyncio's is added by :func:`_cancelled` when asyncio is loaded (an asyncio
cancellation cannot exist before), so importing this module does not cost asyncio's import (30 ms)."""


def _cancelled(error: BaseException) -> bool:
    if isinstance(error, _CANCELLED):
        return True
    aio = sys.modules.get("asyncio")
    return aio is not None and isinstance(error, aio.CancelledError)


_INTERRUPTS = frozenset({"GraphInterrupt", "NodeInterrupt"})


def ending_of(error: BaseException | None) -> str | None:
    """The word for a run that ended with ``error`` (``None``: it returned, :data:`FINISHED`); ``None`` when the
    error is a failure, whose ``exit_status`` is the exception's type name."""
    if error is None:
        return FINISHED
    if isinstance(error, GeneratorExit):
        return STOPPED
    if _cancelled(error):
        return CANCELLED
    if any(cls.__name__ in _INTERRUPTS for cls in type(error).__mro__):
        return INTERRUPTED
    return None


def call_ending(ending: str) -> str:
    """What a call still in flight when its run ended ``ending`` is: interrupted with its run, else cancelled."""
    return INTERRUPTED if ending == INTERRUPTED else CANCELLED

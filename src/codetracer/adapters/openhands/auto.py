"""Tracing every OpenHands conversation a process builds, without touching the program's code.

openhands-sdk takes event callbacks only when a conversation is built, so code that cannot edit the program (the
pytest plugin's ``--codetracer``, ``codetracer run -- python script.py``) wraps the conversation class's
``__init__``: :func:`trace_conversations` adds a :class:`~codetracer.adapters.openhands.live.CodetracerCallback`
to the ``callbacks`` of each new ``LocalConversation`` or ``RemoteConversation`` (``Conversation(...)`` builds one
of the two), and returns what undoes it.

A run ends on the conversation's own end (see :mod:`codetracer.adapters.openhands.live`). A local conversation whose
stuck detector stops ``run()`` emits no event for it, so for a local class ``run()`` is wrapped too: when it returns
(or raises), the callback's :meth:`~codetracer.adapters.openhands.live.CodetracerCallback.finish` ends a run still
open with the conversation's execution status (a no-op for a run that already ended).
"""

from __future__ import annotations

import functools
import inspect
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

from codetracer.adapters.openhands.live import CodetracerCallback

CallbackFactory = Callable[[Any, Path | None], CodetracerCallback | None]
"""``make(agent, workspace)``: the callback of a conversation being built, or ``None`` to leave it untraced.
``workspace`` is the local folder a ``LocalConversation`` works in (``None`` for a remote one: its folder is the
agent server's)."""

Guard = Callable[..., Any]
"""``guard(where, fn, *args)``: ``fn(*args)``, or ``None`` when it raised (the caller logs it; the program goes on)."""


def model_of(agent: Any) -> str | None:
    """The agent's model name, for the tree's LLM calls (the SDK's events do not carry it)."""
    model = getattr(getattr(agent, "llm", None), "model", None)
    return model if isinstance(model, str) else None


def _local_folder(workspace: Any) -> Path | None:
    """The folder of a ``LocalConversation``'s ``workspace`` argument (a path or a ``LocalWorkspace``)."""
    if isinstance(workspace, (str, Path)):
        return Path(workspace)
    folder = getattr(workspace, "working_dir", None)
    return Path(folder) if isinstance(folder, (str, Path)) else None


def _restore(cls: type, name: str, ours: Any, original: Any) -> None:
    """Put ``original`` back unless someone replaced our wrapper meanwhile (then theirs stays, wrapping ours)."""
    if cls.__dict__.get(name) is ours:
        setattr(cls, name, original)


def trace_conversations(cls: type, make: CallbackFactory, guard: Guard, *, local: bool) -> Callable[[], None]:
    """Give each conversation of ``cls`` built from now on the callback ``make`` returns; returns the undo.

    A conversation built with a ``CodetracerCallback`` of its own (the documented one line) keeps it and gets no
    second one. With ``local`` (``LocalConversation``, whose ``run()`` runs the agent in this process), a run still
    open when ``run()`` returns is ended then. Every step goes through ``guard``: a failure leaves the conversation
    as the program built it.
    """
    callbacks: weakref.WeakKeyDictionary[Any, CodetracerCallback] = weakref.WeakKeyDictionary()
    original_init = cls.__dict__["__init__"]
    signature = inspect.signature(original_init)

    def add_callback(conversation: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, Any]:
        bound = signature.bind(conversation, *args, **kwargs)
        given = list(bound.arguments.get("callbacks") or [])
        if any(isinstance(cb, CodetracerCallback) for cb in given):
            return args, kwargs
        folder = _local_folder(bound.arguments.get("workspace")) if local else None
        callback = make(bound.arguments.get("agent"), folder)
        if callback is None:
            return args, kwargs
        bound.arguments["callbacks"] = [*given, callback]
        try:
            callbacks[conversation] = callback
        except TypeError:  # not weak-referenceable: its run ends on the conversation's events alone
            pass
        return bound.args[1:], bound.kwargs

    @functools.wraps(original_init)
    def __init__(conversation: Any, *args: Any, **kwargs: Any) -> None:
        changed = guard("tracing an OpenHands conversation", add_callback, conversation, args, kwargs)
        if changed is not None:
            args, kwargs = changed
        original_init(conversation, *args, **kwargs)

    cls.__init__ = __init__  # type: ignore[misc]
    undo = [functools.partial(_restore, cls, "__init__", __init__, original_init)]
    if local and "run" in cls.__dict__:
        original_run = cls.__dict__["run"]

        def finish(conversation: Any) -> None:
            callback = callbacks.get(conversation)
            if callback is not None:
                callback.finish(status=getattr(getattr(conversation, "state", None), "execution_status", None))

        @functools.wraps(original_run)
        def run(conversation: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                return original_run(conversation, *args, **kwargs)
            finally:
                guard("finishing an OpenHands run", finish, conversation)

        cls.run = run  # type: ignore[attr-defined]
        undo.append(functools.partial(_restore, cls, "run", run, original_run))

    def undo_all() -> None:
        for step in reversed(undo):
            step()

    return undo_all

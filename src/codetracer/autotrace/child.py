"""The traced command's side of ``codetracer run``: register tracing when an agent framework is imported.

:func:`start` runs from ``sitecustomize`` before the program's own code. It imports no framework and creates no
tracer: it puts a finder on ``sys.meta_path`` that waits for the modules below and, right after one is imported,
registers codetracer on its classes the way each framework's documented one line does (the same registrations the
pytest plugin makes):

* ``minisweagent.agents.default``: every ``DefaultAgent`` (``mini``'s ``InteractiveAgent`` included) is traced at
  construction, as ``codetracer.trace(agent)`` traces it;
* ``sweagent.agent.agents``: every ``DefaultAgent`` gets ``agent.add_hook(SweAgentHook())`` at construction, so
  ``sweagent run`` and each ``run-batch`` instance are traced live, step by step;
* ``openhands.sdk.conversation.impl.local_conversation`` / ``remote_conversation``: every ``LocalConversation`` and
  ``RemoteConversation`` (whatever builds it: a script, the OpenHands CLI, any SDK program) gets a
  ``CodetracerCallback`` at construction (:func:`codetracer.adapters.openhands.auto.trace_conversations`, which the
  pytest plugin uses too); a local run still open when ``run()`` returns (stuck) ends then;
* ``langchain_core``: every LangChain / LangGraph run of the process, as ``codetracer.langchain(verify=...)``
  registers it.

``--verify`` is each framework's ``verify=``: run when the agent stops, in the process's working folder (an OpenHands
local conversation's: its workspace).

Each run the process starts is written to the session's ``runs.jsonl`` at once (a run-started hook), so the parent
finds it even if this process is killed. A failure inside codetracer is logged once and the agent goes on.
"""

from __future__ import annotations

import functools
import importlib.abc
import json
import logging
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codetracer.autotrace import RUNS_FILE
from codetracer.hooks.specs import hookimpl

if TYPE_CHECKING:  # pragma: no cover
    from importlib.machinery import ModuleSpec
    from types import ModuleType

    from codetracer.core.tracer import Tracer

log = logging.getLogger("codetracer.autotrace")

VIA = {"via": "codetracer run"}
"""Metadata of every run traced this way."""


class RunReporter:
    """A plugin that appends each run's id to the session's ``runs.jsonl`` as the run starts (one small append)."""

    def __init__(self, session: Path) -> None:
        self.path = session / RUNS_FILE

    @hookimpl
    def codetracer_run_started(self, run_id: str, framework: str, parent_run_id: str | None) -> None:
        line = json.dumps({"run_id": run_id, "framework": framework, "parent": parent_run_id, "pid": os.getpid()})
        with open(self.path, "a", encoding="utf-8") as out:
            out.write(line + "\n")


class _Session:
    """The process's tracing state: the tracer (made when the first framework is imported) and the verifier."""

    def __init__(self, session: Path, verify: str | None) -> None:
        self.session = session
        self.verify_command = verify
        self._tracer: Tracer | None = None
        self._lock = threading.Lock()
        self._reported: set[str] = set()

    @property
    def tracer(self) -> Tracer:
        with self._lock:
            if self._tracer is None:
                import codetracer

                tracer = codetracer.get_tracer()
                tracer.pm.register(RunReporter(self.session), name="codetracer.autotrace.reporter")
                self._tracer = tracer
            return self._tracer

    def verify(self) -> Callable[[Any], Any] | None:
        """The ``--verify`` command as a verifier (run in the command's working directory; its exit code and output
        become the run's verification node)."""
        if not self.verify_command:
            return None
        from codetracer.core.checks import CommandCheck

        return CommandCheck(self.verify_command, cwd=Path.cwd())

    def guard(self, where: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run ``fn``; an exception is logged once per place and swallowed: the agent must go on."""
        try:
            return fn(*args, **kwargs)
        except Exception:  # tracing must never break the agent
            if where not in self._reported:
                self._reported.add(where)
                log.warning("codetracer: %s failed; the agent goes on untraced there", where, exc_info=True)
            return None


def _patch_init(cls: type, trace: Callable[[Any], None], session: _Session, where: str) -> None:
    """Wrap ``cls.__init__`` so each new instance (of ``cls`` or a subclass) is traced once it is built (tracing an
    object twice changes nothing, so a subclass calling this ``__init__`` is fine)."""
    original = cls.__dict__["__init__"]

    @functools.wraps(original)
    def __init__(obj: Any, *args: Any, **kwargs: Any) -> None:
        original(obj, *args, **kwargs)
        session.guard(where, trace, obj)

    cls.__init__ = __init__  # type: ignore[misc]


def _patch_mini(session: _Session, module: ModuleType) -> None:
    from codetracer.adapters.mini_swe_agent import live as mini_live

    def trace(agent: Any) -> None:
        if mini_live.live_state(agent) is None:
            mini_live.instrument(agent, session.tracer, verify=session.verify(), metadata=dict(VIA))

    _patch_init(module.DefaultAgent, trace, session, "tracing a mini-swe-agent agent")


def _patch_sweagent(session: _Session, module: ModuleType) -> None:
    from codetracer.adapters.swe_agent import live as swe_live

    def trace(agent: Any) -> None:
        swe_live.instrument(agent, session.tracer, verify=session.verify(), metadata=dict(VIA))

    _patch_init(module.DefaultAgent, trace, session, "tracing a SWE-agent agent")


def _patch_openhands(cls_name: str, local: bool, session: _Session, module: ModuleType) -> None:
    from codetracer.adapters.openhands import auto
    from codetracer.adapters.openhands.live import CodetracerCallback

    # the process-wide tracer now, so that the runs of a conversation the program traces itself with the one line
    # (which keeps its own callback) are reported too
    tracer = session.tracer

    def callback(agent: Any, workspace: Path | None) -> CodetracerCallback:
        return CodetracerCallback(tracer, model=auto.model_of(agent), verify=session.verify_command,
                                  workspace=workspace, metadata=dict(VIA))

    auto.trace_conversations(getattr(module, cls_name), callback, session.guard, local=local)


def _patch_langchain(session: _Session, module: ModuleType) -> None:
    from codetracer.adapters.langchain import live as lc_live

    lc_live.register_global(session.tracer, verify=session.verify(), metadata=dict(VIA))


PATCHES: dict[str, Callable[[_Session, ModuleType], None]] = {
    "minisweagent.agents.default": _patch_mini,
    "sweagent.agent.agents": _patch_sweagent,
    "openhands.sdk.conversation.impl.local_conversation": functools.partial(_patch_openhands, "LocalConversation",
                                                                            True),
    "openhands.sdk.conversation.impl.remote_conversation": functools.partial(_patch_openhands, "RemoteConversation",
                                                                             False),
    "langchain_core": _patch_langchain,
}
"""Module -> what to register once it is imported."""


def start(session: str, *, verify: str | None = None) -> None:
    """Called by the bootstrap: watch for the frameworks' modules (those already imported are patched now)."""
    state = _Session(Path(session), verify)
    waiting: dict[str, Callable[[ModuleType], None]] = {}
    for name, patch in PATCHES.items():
        bound = functools.partial(patch, state)
        module = sys.modules.get(name)
        if module is not None:
            state.guard(f"instrumenting {name}", bound, module)
        else:
            waiting[name] = functools.partial(state.guard, f"instrumenting {name}", bound)
    sys.meta_path.insert(0, PostImportFinder(waiting))


class PostImportFinder(importlib.abc.MetaPathFinder):
    """Calls ``callbacks[name](module)`` right after module ``name`` is first imported.

    It finds nothing itself: it asks the other finders for the spec and wraps the loader so the callback runs once
    the module's code has executed; the module keeps its real loader. (The pytest plugin has its own copy: that
    package imports pytest, which a traced program need not have.)
    """

    def __init__(self, callbacks: dict[str, Callable[[ModuleType], None]]) -> None:
        self.callbacks = callbacks
        self._busy: set[str] = set()

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> ModuleSpec | None:
        callback = self.callbacks.get(fullname)
        if callback is None or fullname in self._busy:
            return None
        self._busy.add(fullname)
        try:
            spec = None
            for finder in sys.meta_path:
                if finder is self or not hasattr(finder, "find_spec"):
                    continue
                spec = finder.find_spec(fullname, path, target)
                if spec is not None:
                    break
        finally:
            self._busy.discard(fullname)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        self.callbacks.pop(fullname, None)
        spec.loader = _CallbackLoader(spec.loader, callback)
        return spec


class _CallbackLoader(importlib.abc.Loader):
    def __init__(self, loader: Any, callback: Callable[[ModuleType], None]) -> None:
        self.loader = loader
        self.callback = callback

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        create: Callable[[ModuleSpec], ModuleType | None] = self.loader.create_module
        return create(spec)

    def exec_module(self, module: ModuleType) -> None:
        module.__loader__ = self.loader
        if module.__spec__ is not None:
            module.__spec__.loader = self.loader
        self.loader.exec_module(module)
        self.callback(module)  # guarded by the session: the import the program asked for always succeeds

    def __getattr__(self, name: str) -> Any:
        return getattr(self.loader, name)

"""The pytest plugin's framework patches: with ``--codetracer``, every agent a test runs is traced, untouched code.

Each framework gets a reversible class-level patch, applied when its module is imported (now, or later through a
finder on ``sys.meta_path``) and undone at session end:

* mini-swe-agent: ``DefaultAgent.run`` traces each agent (and subclass) the first time it runs;
* LangChain / LangGraph: the process-wide registration (``register_global``);
* OpenHands: each ``LocalConversation`` / ``RemoteConversation`` gets a codetracer callback at construction, and a
  local conversation's run ends when ``run()`` returns;
* SWE-agent: each ``DefaultAgent`` gets the codetracer hook at construction.

This module imports only the standard library; each patch imports its adapter when its framework is imported.
"""

from __future__ import annotations

import functools
import importlib.abc
import logging
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # pragma: no cover
    from importlib.machinery import ModuleSpec
    from types import ModuleType

    from codetracer.core.tracer import Tracer

log = logging.getLogger("codetracer.pytest")


class Session(Protocol):
    """What the patches need of the plugin's session (:class:`~codetracer.pytest_plugin.CodetracerSession`)."""

    off: bool
    """True while a ``codetracer_off`` test runs: the patches leave its agents alone."""

    @property
    def tracer(self) -> Tracer: ...

    def _guard(self, where: str, fn: Callable[..., Any], *args: Any) -> Any: ...


class FrameworkPatches:
    """The patches of one session: :meth:`install` them, :meth:`uninstall` them (newest first)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._undo: list[tuple[str, Callable[[], None]]] = []
        self._finder: _PostImportFinder | None = None

    def install(self) -> None:
        """Patch the frameworks already imported; the others when (if ever) they are imported."""
        patches: dict[str, Callable[[ModuleType], Callable[[], None] | None]] = {
            "minisweagent.agents.default": self._patch_mini,
            "langchain_core": self._patch_langchain,
            "openhands.sdk.conversation.impl.local_conversation": self._patch_openhands_local,
            "openhands.sdk.conversation.impl.remote_conversation": self._patch_openhands_remote,
            "sweagent.agent.agents": self._patch_sweagent,
        }
        waiting: dict[str, Callable[[ModuleType], None]] = {}
        for name, patch in patches.items():
            module = sys.modules.get(name)
            if module is not None:
                self._apply(name, patch, module)
            else:
                waiting[name] = functools.partial(self._apply, name, patch)
        self._finder = _PostImportFinder(waiting)
        sys.meta_path.insert(0, self._finder)

    def _apply(self, name: str, patch: Callable[[ModuleType], Callable[[], None] | None], module: ModuleType) -> None:
        undo = self.session._guard(f"instrumenting {name}", patch, module)
        if undo is not None:
            self._undo.append((name, undo))

    def uninstall(self) -> None:
        """Undo every patch, newest first, and stop watching imports."""
        if self._finder is not None:
            try:
                sys.meta_path.remove(self._finder)
            except ValueError:
                pass
            self._finder = None
        while self._undo:
            name, undo = self._undo.pop()
            self.session._guard(f"un-instrumenting {name}", undo)

    @property
    def instrumented(self) -> list[str]:
        """Modules patched so far (for tests and the summary)."""
        return [name for name, _ in self._undo]

    def _patch_mini(self, module: ModuleType) -> Callable[[], None]:
        """Wrap ``DefaultAgent.run``: the first run of each agent instruments it (instance-level, as
        ``codetracer.trace(agent)`` does), later runs go through that instance wrapper; agents the test traced
        itself keep their own tracer."""
        from codetracer.adapters.mini_swe_agent import live as mini_live

        cls = module.DefaultAgent
        original = cls.__dict__["run"]
        session = self.session

        @functools.wraps(original)
        def run(agent: Any, *args: Any, **kwargs: Any) -> Any:
            if session.off or mini_live.live_state(agent) is not None:  # an instance wrapper is in charge, or off
                return original(agent, *args, **kwargs)
            state = session._guard("tracing a mini-swe-agent agent", self._mini_state, mini_live, agent)
            if state is None:
                return original(agent, *args, **kwargs)
            state.guard("run start", state.begin, agent)  # this call is not through the instance wrapper: trace it
            try:
                result = original(agent, *args, **kwargs)
            except BaseException as exc:
                state.guard("run end", state.end, agent, None, exc)
                raise
            state.guard("run end", state.end, agent, result, None)
            return result

        cls.run = run
        return functools.partial(_restore, cls, "run", run, original)

    def _mini_state(self, mini_live: Any, agent: Any) -> Any:
        mini_live.instrument(agent, self.session.tracer)
        return mini_live.live_state(agent)

    def _patch_langchain(self, module: ModuleType) -> Callable[[], None]:
        from codetracer.adapters.langchain import live as lc_live

        handler = lc_live.register_global(self.session.tracer, metadata={"via": "pytest"})

        def undo() -> None:
            if lc_live.global_handler() is handler:
                lc_live.unregister_global()

        return undo

    def _patch_openhands_local(self, module: ModuleType) -> Callable[[], None]:
        return self._patch_openhands(module.LocalConversation, local=True)

    def _patch_openhands_remote(self, module: ModuleType) -> Callable[[], None]:
        return self._patch_openhands(module.RemoteConversation, local=False)

    def _patch_openhands(self, cls: type, *, local: bool) -> Callable[[], None]:
        """Add a codetracer callback to each conversation's ``callbacks`` at construction (the only time the SDK
        takes them); a local conversation's run still open when ``run()`` returns ends then
        (:func:`codetracer.adapters.openhands.auto.trace_conversations`)."""
        from codetracer.adapters.openhands import auto
        from codetracer.adapters.openhands.live import CodetracerCallback

        session = self.session

        def callback(agent: Any, workspace: Any) -> CodetracerCallback | None:
            return None if session.off else CodetracerCallback(session.tracer, model=auto.model_of(agent))

        return auto.trace_conversations(cls, callback, session._guard, local=local)

    def _patch_sweagent(self, module: ModuleType) -> Callable[[], None]:
        from codetracer.adapters.swe_agent import live as swe_live

        cls = module.DefaultAgent
        original = cls.__dict__["__init__"]
        session = self.session

        @functools.wraps(original)
        def __init__(agent: Any, *args: Any, **kwargs: Any) -> None:
            original(agent, *args, **kwargs)
            if not session.off:
                session._guard("tracing a SWE-agent agent", swe_live.instrument, agent, session.tracer)

        cls.__init__ = __init__
        return functools.partial(_restore, cls, "__init__", __init__, original)

    def pause_langchain(self, pause: bool) -> None:
        """The LangChain registration is process-wide: take it out for a ``codetracer_off`` test, then back."""
        if "langchain_core" not in self.instrumented:
            return
        from codetracer.adapters.langchain import live as lc_live

        if pause:
            lc_live.unregister_global()
        else:
            lc_live.register_global(self.session.tracer, metadata={"via": "pytest"})


# ----------------------------------------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------------------------------------


class _Current:
    """The test this pytest process runs now (one at a time; an xdist worker is a process of its own). Not per
    thread: an agent a test runs in a thread or a thread pool belongs to that test too."""

    nodeid: str | None = None


CURRENT = _Current()


def current_test_metadata() -> dict[str, str] | None:
    """What every run started during a test carries, whatever its framework: ``pytest_test``, the test's node id
    (the session's :attr:`~codetracer.core.runlog.RunLog.run_context`)."""
    nodeid = CURRENT.nodeid
    return None if nodeid is None else {"pytest_test": nodeid}


def _restore(cls: type, name: str, ours: Any, original: Any) -> None:
    """Put ``original`` back unless someone replaced our wrapper meanwhile (then theirs stays, wrapping ours)."""
    if cls.__dict__.get(name) is ours:
        setattr(cls, name, original)


class _PostImportFinder(importlib.abc.MetaPathFinder):
    """Calls ``callbacks[name](module)`` right after module ``name`` is imported (first import only).

    It finds nothing itself: it asks the other finders for the spec and wraps the loader so the callback runs once
    the module's code has executed; the module keeps its real loader.
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
        try:
            self.callback(module)
        except Exception:  # the import the test asked for must succeed whatever happens here
            log.warning("codetracer could not instrument %s", module.__name__, exc_info=True)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.loader, name)

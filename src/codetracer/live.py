"""One line to trace a running agent: ``codetracer.trace(agent_or_conversation)``.

The target's class tells which framework it belongs to (by module name, without importing any framework); the
matching adapter module under :mod:`codetracer.adapters` is imported only then. Each live adapter module exposes:

* ``FRAMEWORK_MODULES``: top-level package names its targets come from (``("openhands",)``);
* ``instrument(target, tracer, **options)``: attach to ``target`` through the framework's own callback system and
  return the target (or a handle the caller must use instead, which the adapter documents).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from codetracer.core.errors import CodetracerError

if TYPE_CHECKING:  # pragma: no cover
    from codetracer.core.tracer import Tracer

LIVE_ADAPTERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("codetracer.adapters.openhands.live", ("openhands",)),
    ("codetracer.adapters.mini_swe_agent.live", ("minisweagent",)),
    ("codetracer.adapters.swe_agent.live", ("sweagent",)),
    ("codetracer.adapters.langchain.live", ("langchain", "langchain_core", "langgraph", "langchain_openai")),
)
"""(adapter module, top-level packages of the targets it handles), checked in order."""


def _target_packages(target: Any) -> set[str]:
    cls = target if isinstance(target, type) else type(target)
    return {(klass.__module__ or "").split(".")[0] for klass in cls.__mro__}


def adapter_for(target: Any) -> Any:
    """The live adapter module for ``target``; a clear error when no adapter knows it."""
    packages = _target_packages(target)
    for module_name, roots in LIVE_ADAPTERS:
        if packages & set(roots):
            return importlib.import_module(module_name)
    known = ", ".join(sorted({r for _, roots in LIVE_ADAPTERS for r in roots}))
    raise CodetracerError(
        f"codetracer cannot trace a {type(target).__name__} (from {sorted(packages - {'builtins'})}); "
        f"live adapters exist for objects of: {known}"
    )


def trace(target: Any, *, tracer: Tracer | None = None, **options: Any) -> Any:
    """Trace ``target`` live into ``tracer`` (default: the process-wide tracer); returns what the adapter returns."""
    if tracer is None:
        from codetracer import get_tracer

        tracer = get_tracer()
    return adapter_for(target).instrument(target, tracer, **options)


def langchain(*, tracer: Tracer | None = None, graph_path: bool = True) -> Any:
    """Trace every LangChain/LangGraph run in this process (global registration); returns the callback handler.

    LangGraph graphs with a ``messages`` channel are traced through their own ``updates`` stream, as
    ``codetracer.trace(graph)`` traces them; ``graph_path=False`` traces them through callbacks like everything else.
    """
    if tracer is None:
        from codetracer import get_tracer

        tracer = get_tracer()
    module = importlib.import_module("codetracer.adapters.langchain.live")
    return module.register_global(tracer, graph_path=graph_path)

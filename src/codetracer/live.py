"""One line to trace a running agent: ``codetracer.trace(agent_or_conversation)``.

The target's class tells which framework it belongs to (by module name, without importing any framework); the
matching adapter module under :mod:`codetracer.adapters` is imported only then. Each live adapter module exposes:

* ``FRAMEWORK_MODULES``: top-level package names its targets come from (``("openhands",)``);
* ``instrument(target, tracer, **options)``: attach to ``target`` through the framework's own callback system and
  return the target (or a handle the caller must use instead, which the adapter documents).
"""

from __future__ import annotations

import importlib
import inspect
from types import EllipsisType
from typing import TYPE_CHECKING, Any

from codetracer.core.errors import CodetracerError

if TYPE_CHECKING:  # pragma: no cover
    from codetracer.core.scope import TaskScope
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
    """Trace ``target`` live into ``tracer`` (default: the process-wide tracer); returns what the adapter returns.

    ``verify=`` (what judges the run when it ends) is the same keyword for every framework that takes one, as in
    :func:`codetracer.auto_retry`; the former ``verifier=`` still works with a :class:`DeprecationWarning`. An option
    the target's adapter does not take is a :class:`CodetracerError` naming the options it does take.
    """
    if "verifier" in options:
        from codetracer.core.checks import verify_keyword

        options["verify"] = verify_keyword("codetracer.trace()", options.get("verify"), options.pop("verifier"))
    if tracer is None:
        from codetracer import get_tracer

        tracer = get_tracer()
    adapter = adapter_for(target)
    _check_options(adapter.instrument, options, target)
    return adapter.instrument(target, tracer, **options)


def _check_options(instrument: Any, options: dict[str, Any], target: Any) -> None:
    """Refuse options the adapter's ``instrument`` does not name, in the words of the public function (an adapter
    that takes ``**options`` checks its own)."""
    try:
        params = inspect.signature(instrument).parameters
    except (TypeError, ValueError):
        return
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    known = [name for name, p in params.items() if p.kind is inspect.Parameter.KEYWORD_ONLY]
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise CodetracerError(
            f"codetracer.trace() of a {type(target).__name__} takes no option {', '.join(map(repr, unknown))} "
            f"(it takes: {', '.join(['tracer', *known])})"
        )


def langchain(
    *,
    tracer: Tracer | None = None,
    verify: Any = None,
    outcome: str | bool | None = None,
    metadata: dict[str, Any] | None = None,
    graph_path: bool = True,
    keep_runs: int | None = None,
    keep_bytes: int | EllipsisType | None = ...,
    verifier: Any = None,
) -> Any:
    """Trace every LangChain/LangGraph run in this process (global registration); returns the callback handler.

    ``verify`` judges each run that returns, with the meaning it has in ``codetracer.trace(graph, verify=...)``: a
    shell command, or ``verify(outputs)`` returning ``True``/``False``, ``"solved"``/``"failed"``, ``None`` or the
    ``CompletedProcess`` it ran (kept as the run's verification node); ``verifier=`` is its former name (a
    :class:`DeprecationWarning`). ``outcome`` is the outcome of runs that return when nothing judges them,
    ``metadata`` is added to every run's.

    LangGraph graphs with a ``messages`` channel are traced through their own ``updates`` stream, as
    ``codetracer.trace(graph)`` traces them; ``graph_path=False`` traces them through callbacks like everything else.
    ``keep_runs`` and ``keep_bytes`` bound the finished trees the tracer keeps in memory (``tracer.runs``: by default
    the last 1,000 and at most about 64 MiB of them; ``keep_bytes=None`` lifts the size bound); every run is in the
    store whatever they say.
    """
    if tracer is None:
        from codetracer import get_tracer

        tracer = get_tracer()
    if keep_runs is not None or keep_bytes is not ...:
        tracer.keep(keep_runs, keep_bytes)
    module = importlib.import_module("codetracer.adapters.langchain.live")
    return module.register_global(tracer, verify=verify, verifier=verifier, outcome=outcome, metadata=metadata,
                                  graph_path=graph_path)


def task(
    task: str | None = None,
    *,
    verify: Any = None,
    metadata: dict[str, Any] | None = None,
    tracer: Tracer | None = None,
) -> TaskScope:
    """``with codetracer.task("fix the failing test", verify="python -m pytest -q"):`` -- one run for the block.

    Every LangChain/LangGraph callback run started inside the block (a hand-written loop of ``model.invoke`` and
    ``tool.invoke`` under ``codetracer.langchain()`` or a codetracer handler) joins one codetracer run whose task is
    ``task``, instead of one run per call. Leaving the block ends the run: an exception makes it ``failed``, else
    ``verify`` judges it (the ``verify=`` of every framework: a shell command, or ``verify(result)`` with the
    ``result`` set on the block, ``t.result = ...``), else it is ``unknown``; a failed run is diagnosed as it is
    stored. Runs of mini-swe-agent, OpenHands and SWE-agent are one run each already and are not affected (see
    :mod:`codetracer.core.scope`). Usable as ``async with`` too.
    """
    from codetracer.core.scope import TaskScope

    if tracer is None:
        from codetracer import get_tracer

        tracer = get_tracer()
    return TaskScope(tracer, task, verify=verify, metadata=metadata)

"""codetracer: trace code-agent runs into trees, keep them, and find where a failed run went wrong.

``import codetracer`` is light: it imports no agent framework and no LLM client. Public names load on first use.
"""

from __future__ import annotations

import importlib
import threading
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_LAZY = {
    "Tracer": "codetracer.core.tracer",
    "recover": "codetracer.core.tracer",
    "Run": "codetracer.core.model",
    "Step": "codetracer.core.model",
    "Stage": "codetracer.core.model",
    "Call": "codetracer.core.model",
    "Diagnosis": "codetracer.core.model",
    "Outcome": "codetracer.core.model",
    "Store": "codetracer.core.store",
    "Events": "codetracer.core.events",
    "extract_all": "codetracer.core.extract",
    "hookimpl": "codetracer.hooks.specs",
    "trace": "codetracer.live",
    "langchain": "codetracer.live",
    "task": "codetracer.live",
    "auto_retry": "codetracer.replay.engine",
    "diagnose": "codetracer.verdicts",
    "verdict": "codetracer.verdicts",
    "Budget": "codetracer.replay.policy",
    "RetryPolicy": "codetracer.replay.policy",
    "OutOfBudget": "codetracer.replay.engine",
}

__all__ = [*_LAZY, "get_tracer", "__version__"]

if TYPE_CHECKING:  # pragma: no cover
    from codetracer.core.tracer import Tracer

_default_tracer: Tracer | None = None
_tracer_lock = threading.Lock()


def get_tracer() -> Tracer:
    """The process-wide tracer that one-line adapter registrations use (data under ``$CODETRACER_HOME``)."""
    global _default_tracer
    with _tracer_lock:
        if _default_tracer is None:
            from codetracer.core.tracer import Tracer

            _default_tracer = Tracer()
        return _default_tracer


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'codetracer' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value

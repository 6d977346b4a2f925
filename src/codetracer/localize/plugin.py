"""Registers the built-in localizers; the first one (``signals``) is the default of ``codetracer analyze``.

``LOCALIZERS`` is computed on every read (a module ``__getattr__``) because the LLM localizer exists only while an
endpoint is configured (``CODETRACER_BASE_URL`` and ``CODETRACER_MODEL``), and the environment may change between
registry builds in one process (tests, notebooks).
"""

from __future__ import annotations

from typing import Any

from codetracer.localize.signal_localizer import SignalLocalizer

_SIGNALS = SignalLocalizer()


def localizers() -> list[Any]:
    """The signal localizer, then the LLM localizer when an endpoint is configured in the environment."""
    from codetracer.llm import LLMConfig

    found: list[Any] = [_SIGNALS]
    config = LLMConfig.from_env()
    if config is not None:
        from codetracer.localize.llm_localizer import LLMLocalizer

        found.append(LLMLocalizer(config))
    return found


def __getattr__(name: str) -> Any:
    if name == "LOCALIZERS":
        return localizers()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

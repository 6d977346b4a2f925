"""Registers the built-in localizers; the first one (``signals``) is the default of ``codetracer analyze``."""

from __future__ import annotations

from codetracer.localize.signal_localizer import SignalLocalizer

LOCALIZERS = [SignalLocalizer()]

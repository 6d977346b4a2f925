"""Live OpenTelemetry export: a plugin that turns every run a Tracer finishes into spans, off the agent's thread.

The :class:`~codetracer.core.tracer.Tracer`'s writer thread hands :class:`OtelExporter` each finished tree (hook
``codetracer_run_completed``) and it only enqueues spans into the SDK's ``BatchSpanProcessor``, whose own thread talks
to the collector, so a slow or dead collector never blocks the agent. :data:`env_exporter` is the instance codetracer
advertises as entry point ``otel`` (on while ``CODETRACER_OTEL`` is set).
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import weakref
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from codetracer.core.errors import CodetracerError
from codetracer.core.model import Outcome, Run
from codetracer.export.otel.spans import _truthy, tree_to_spans
from codetracer.export.otel.transport import _bounded, _id_generator, _require_otel, _resource, otlp_span_exporter
from codetracer.hooks.specs import hookimpl

if TYPE_CHECKING:  # pragma: no cover - typing only
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter

log = logging.getLogger("codetracer.otel")

ENABLE_ENV = "CODETRACER_OTEL"
"""``CODETRACER_OTEL=1`` turns on the entry-point exporter for every Tracer in the process."""

EXIT_TIMEOUT_ENV = "CODETRACER_OTEL_EXIT_TIMEOUT"
"""Seconds the process may spend at exit sending the last spans (default 5): a dead collector must not hang exit."""


# -- live export plugin -------------------------------------------------------------------------------------------

_explicit_exporters: weakref.WeakSet[OtelExporter] = weakref.WeakSet()


class OtelExporter:
    """Live OpenTelemetry export of every run a Tracer finishes.

    Register it on a tracer (``tracer.pm.register(OtelExporter())``) or set ``CODETRACER_OTEL=1`` to turn on the
    instance codetracer advertises as entry point ``otel`` (loaded by every Tracer). The Tracer's writer thread calls
    the ``codetracer_run_completed`` hook with the finished, validated tree; it turns the tree into spans and hands
    them to a ``BatchSpanProcessor``, which queues them (dropping, never waiting, when its queue is full) and sends
    them from its own thread. So the agent's thread never touches OpenTelemetry, and a slow or dead collector costs
    the agent nothing; export failures are logged by the SDK and counted here, never raised.

    :param endpoint: collector base URL or traces URL (default: the ``OTEL_EXPORTER_OTLP_*`` variables).
    :param tracer_provider: send through this provider instead (e.g. the one Phoenix's ``register()`` returns);
        codetracer then neither flushes nor shuts it down at exit.
    :param span_exporter: use this SDK span exporter (console, gRPC, ...) behind a ``BatchSpanProcessor``.
    :param localize: diagnose failed runs that have no diagnosis yet with the default localizer before export.
    :param capture_content: send texts too (default ``$OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``).
    :param enabled: ``True`` always exports; ``None`` exports only while ``$CODETRACER_OTEL`` is set (and no
        explicitly created exporter exists, so runs are not sent twice).
    """

    def __init__(
        self,
        endpoint: str | None = None,
        *,
        tracer_provider: TracerProvider | None = None,
        span_exporter: SpanExporter | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        localize: bool = True,
        capture_content: bool | None = None,
        enabled: bool | None = True,
        redact: bool = True,
    ) -> None:
        self.endpoint = endpoint
        self.headers = headers
        self.timeout = timeout
        self.localize = localize
        self.capture_content = capture_content
        self.redact = redact
        """Redact what leaves (on unless turned off explicitly: ``redact=False``)."""
        self.enabled = enabled
        self.exported = 0
        """Runs handed to the span processor."""
        self.failures = 0
        """Runs that could not be turned into spans (logged once)."""
        self._provider: TracerProvider | None = tracer_provider
        self._owns_provider = tracer_provider is None
        self._span_exporter = span_exporter
        self._lock = threading.Lock()
        self._broken = False
        self._localizer: Any = None
        self._localizer_loaded = False
        if enabled:
            _explicit_exporters.add(self)

    @property
    def active(self) -> bool:
        """Whether :meth:`export_run` sends anything right now."""
        if self._broken or self.enabled is False:
            return False
        if self.enabled is None:
            explicit = any(e.enabled and not e._broken for e in list(_explicit_exporters))
            return _truthy(os.environ.get(ENABLE_ENV)) and not explicit
        return True

    def provider(self) -> TracerProvider:
        """The tracer provider spans go to; built on first use (imports OpenTelemetry only then)."""
        if self._provider is None:
            with self._lock:
                if self._provider is None:
                    _require_otel()
                    from opentelemetry.sdk.trace import TracerProvider
                    from opentelemetry.sdk.trace.export import BatchSpanProcessor

                    exporter = self._span_exporter or otlp_span_exporter(
                        self.endpoint, headers=self.headers, timeout=self.timeout
                    )
                    # shutdown_on_exit=False: the SDK's own exit hook flushes without a time limit.
                    provider = TracerProvider(
                        resource=_resource(), shutdown_on_exit=False, id_generator=_id_generator()
                    )
                    provider.add_span_processor(BatchSpanProcessor(exporter))
                    atexit.register(self._at_exit)
                    self._provider = provider
        return self._provider

    def _default_localizer(self) -> Any:
        if not self._localizer_loaded:
            from codetracer.localize.registry import LocalizerRegistry

            self._localizer = LocalizerRegistry.from_plugins().get()
            self._localizer_loaded = True
        return self._localizer

    def _prepared(self, run: Run) -> Run:
        """``run`` with a diagnosis when it failed and has none; a copy, so the Tracer's stored tree is untouched."""
        if not self.localize or run.diagnosis is not None or run.outcome is not Outcome.FAILED:
            return run
        try:
            localizer = self._default_localizer()
            if localizer is None:
                return run
            return run.model_copy(update={"diagnosis": localizer.localize(run)})
        except Exception as exc:  # noqa: BLE001 - export the tree without a diagnosis rather than nothing
            log.warning("codetracer could not diagnose run %s for export (%s: %s)", run.id, type(exc).__name__, exc)
            return run

    @hookimpl
    def codetracer_run_completed(self, run: Run) -> None:
        """The tracer's writer thread hands over each finished tree: export it."""
        self.export_run(run)

    def export_run(self, run: Run) -> None:
        """Queue ``run`` as spans for export. Called by the Tracer off the agent's thread; never raises."""
        if not self.active:
            return
        try:
            tree_to_spans(self._prepared(run), self.provider(), capture_content=self.capture_content,
                          redact=self.redact)
            self.exported += 1
        except CodetracerError as exc:
            self._broken = True
            log.warning("codetracer OpenTelemetry export is off: %s", exc)
        except Exception as exc:  # noqa: BLE001 - an exporter must never reach the agent
            self.failures += 1
            if self.failures == 1:
                log.warning(
                    "codetracer could not export run %s to OpenTelemetry (%s: %s); further failures are counted",
                    run.id,
                    type(exc).__name__,
                    exc,
                )

    def flush(self, timeout: float = 5.0) -> bool:
        """Send what is queued, waiting at most ``timeout`` seconds; False when it was not sent in time."""
        provider = self._provider
        if provider is None:
            return True
        return _bounded(provider.force_flush, timeout, "flush")

    def shutdown(self, timeout: float = 5.0) -> bool:
        """Flush and stop the export thread (only a provider codetracer built), waiting at most ``timeout`` seconds."""
        provider = self._provider
        if provider is None or not self._owns_provider:
            return True
        atexit.unregister(self._at_exit)
        self._broken = True  # nothing more can be sent through a shut-down provider

        def stop() -> bool:
            provider.shutdown()
            return True

        return _bounded(stop, timeout, "shutdown")

    def _at_exit(self) -> None:
        """At exit: let live tracers close their open runs first (so those get exported too), then flush, bounded."""
        try:
            from codetracer.core.tracer import _close_all_tracers

            _close_all_tracers()
        except Exception:
            log.exception("codetracer could not close tracers before the OpenTelemetry flush")
        try:
            timeout = float(os.environ.get(EXIT_TIMEOUT_ENV, "5"))
        except ValueError:
            timeout = 5.0
        if not self.shutdown(timeout):
            log.warning("codetracer: the OpenTelemetry collector did not take the last spans within %.0f s", timeout)


env_exporter = OtelExporter(enabled=None)
"""The instance behind entry point ``codetracer.otel``: exports only while ``CODETRACER_OTEL`` is set."""

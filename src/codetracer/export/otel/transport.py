"""Getting spans to a collector: the OTLP/HTTP exporter, the SDK resource, and the one-shot export of finished runs
(:func:`send_runs`, what ``codetracer export-otel`` calls: a person waits for the answer).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from codetracer.core import ids
from codetracer.core.errors import CodetracerError
from codetracer.core.model import Run
from codetracer.export.otel.spans import tree_to_spans

if TYPE_CHECKING:  # pragma: no cover - typing only
    from opentelemetry.sdk.trace.export import SpanExporter

log = logging.getLogger("codetracer.otel")


def traces_url(endpoint: str) -> str:
    """The OTLP/HTTP traces URL for ``endpoint``: a base URL (``http://host:4318``) gets ``/v1/traces`` appended,
    as ``OTEL_EXPORTER_OTLP_ENDPOINT`` does; a URL already ending in ``/v1/traces`` is kept."""
    url = endpoint.rstrip("/")
    return url if url.endswith("/v1/traces") else f"{url}/v1/traces"


def resolved_endpoint(endpoint: str | None = None) -> str:
    """Where spans go: ``endpoint``, else ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``, else ``OTEL_EXPORTER_OTLP_ENDPOINT``
    plus ``/v1/traces``, else the OTLP/HTTP default ``http://localhost:4318/v1/traces``."""
    if endpoint:
        return traces_url(endpoint)
    signal = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "").strip()
    if signal:
        return signal
    base = os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()
    return traces_url(base or "http://localhost:4318")


# -- building an OTLP pipeline ------------------------------------------------------------------------------------


def _require_otel() -> None:
    try:
        import opentelemetry.exporter.otlp.proto.http.trace_exporter
        import opentelemetry.sdk.trace  # noqa: F401
    except ImportError as exc:
        raise CodetracerError(
            f"OpenTelemetry export needs the otel extra: pip install 'codetracer[otel]' ({exc})"
        ) from None


def _resource() -> Any:
    """The SDK resource from ``OTEL_RESOURCE_ATTRIBUTES`` / ``OTEL_SERVICE_NAME``, named ``codetracer`` by default."""
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource

    try:
        resource = Resource.create()
    except RuntimeError:  # at interpreter exit the SDK's detector thread pool can no longer start
        resource = Resource({SERVICE_NAME: os.environ.get("OTEL_SERVICE_NAME") or "unknown_service"})
    if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: "codetracer"}))
    return resource


def _id_generator() -> Any:
    """Span and trace ids from codetracer's own generator (:mod:`codetracer.core.ids`). The SDK's default draws from
    the process-wide ``random``, which the traced program may have seeded: a draw on the writer thread would shift
    the values the program draws after it."""
    from opentelemetry.sdk.trace.id_generator import IdGenerator

    class PrivateIdGenerator(IdGenerator):
        def generate_span_id(self) -> int:
            return ids.random_bits(64) or 1  # 0 is the invalid span id

        def generate_trace_id(self) -> int:
            return ids.random_bits(128) or 1

    return PrivateIdGenerator()


def otlp_span_exporter(
    endpoint: str | None = None, *, headers: Mapping[str, str] | None = None, timeout: float | None = None
) -> SpanExporter:
    """An OTLP/HTTP (protobuf) span exporter; without arguments it follows the standard ``OTEL_EXPORTER_OTLP_*``
    variables (endpoint, headers, timeout, compression, certificates)."""
    _require_otel()
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter(
        endpoint=traces_url(endpoint) if endpoint else None,
        headers=dict(headers) if headers is not None else None,
        timeout=timeout,
    )


def _bounded(func: Callable[[], object], timeout: float, name: str) -> bool:
    """Run ``func`` on a daemon thread and wait at most ``timeout`` seconds: the SDK's ``force_flush`` has no
    working timeout, and a hanging collector must not hang the caller. True when it finished and returned truthy."""
    done = threading.Event()
    result: list[object] = [False]

    def target() -> None:
        try:
            result[0] = func()
        except Exception:
            log.exception("codetracer OpenTelemetry %s failed", name)
        finally:
            done.set()

    threading.Thread(target=target, name=f"codetracer-otel-{name}", daemon=True).start()
    return done.wait(timeout) and result[0] is not False


# -- one-shot export ----------------------------------------------------------------------------------------------


@dataclass
class SendResult:
    """What :func:`send_runs` sent: whether the collector accepted every batch, and the trace id of each run."""

    ok: bool
    endpoint: str
    spans: int = 0
    trace_ids: dict[str, str] = field(default_factory=dict)
    error: str | None = None


def send_runs(
    runs: Iterable[Run],
    *,
    endpoint: str | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float | None = None,
    capture_content: bool | None = None,
    span_exporter: SpanExporter | None = None,
    batch_size: int = 512,
    redact: bool = True,
) -> SendResult:
    """Export ``runs`` now and report whether the collector took them (for the CLI: a person waits for the answer).

    The spans are built in memory first and then posted in batches of ``batch_size``, each request bounded by the
    exporter's timeout (``timeout`` or ``OTEL_EXPORTER_OTLP_TIMEOUT``, default 10 s, retries included). Texts are
    redacted unless ``redact=False`` (see :func:`~codetracer.export.otel.spans.tree_to_spans`).
    """
    _require_otel()
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=_resource(), shutdown_on_exit=False, id_generator=_id_generator())
    provider.add_span_processor(SimpleSpanProcessor(memory))
    result = SendResult(ok=True, endpoint="(custom exporter)" if span_exporter else resolved_endpoint(endpoint))
    for run in runs:
        result.trace_ids[run.id] = tree_to_spans(run, provider, capture_content=capture_content, redact=redact)
    spans = memory.get_finished_spans()
    result.spans = len(spans)
    exporter = span_exporter or otlp_span_exporter(endpoint, headers=headers, timeout=timeout)
    try:
        for i in range(0, len(spans), batch_size):
            if exporter.export(spans[i : i + batch_size]) is not SpanExportResult.SUCCESS:
                result.ok = False
                result.error = f"the collector at {result.endpoint} did not accept the spans (see the log above)"
                break
    finally:
        exporter.shutdown()
        provider.shutdown()
    return result

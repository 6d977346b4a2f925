"""OpenTelemetry export: a finished trace tree as spans following the GenAI semantic conventions.

Why spans: teams already run an OTLP collector or an LLM observability tool (Phoenix, Langfuse, Jaeger, ...). Sending
codetracer's tree there puts the failure diagnosis next to the rest of their telemetry without a new UI.

Three ways in, one module each:

* :func:`tree_to_spans` writes one finished :class:`~codetracer.core.model.Run` into any ``TracerProvider``
  (:mod:`~codetracer.export.otel.spans`: the span mapping and the GenAI attribute names);
* :class:`OtelExporter` is a plugin for live tracing (:mod:`~codetracer.export.otel.exporter`): the
  :class:`~codetracer.core.tracer.Tracer`'s writer thread hands it each finished tree (hook
  ``codetracer_run_completed``) and it only enqueues spans into the SDK's ``BatchSpanProcessor``, whose own thread
  talks to the collector, so a slow or dead collector never blocks the agent;
* :func:`send_runs` exports stored or analyzed runs synchronously and says whether the collector took them
  (``codetracer export-otel``; :mod:`~codetracer.export.otel.transport`, with the OTLP exporter both others use).

opentelemetry is imported only inside functions: ``import codetracer`` and a Tracer without OTel export never load it.
This package names everything callers import; ``env_exporter`` is the entry point ``otel``.
"""

from __future__ import annotations

from codetracer.export.otel.exporter import (
    ENABLE_ENV,
    EXIT_TIMEOUT_ENV,
    OtelExporter,
    env_exporter,
)
from codetracer.export.otel.spans import (
    CAPTURE_ENV,
    CONTENT_LIMIT,
    ERROR_TYPE,
    EXCEPTION_MESSAGE,
    EXCEPTION_TYPE,
    GEN_AI_AGENT_NAME,
    GEN_AI_CONVERSATION_ID,
    GEN_AI_OPERATION_NAME,
    GEN_AI_OUTPUT_MESSAGES,
    GEN_AI_PROVIDER_NAME,
    GEN_AI_REQUEST_MODEL,
    GEN_AI_TOOL_CALL_ARGUMENTS,
    GEN_AI_TOOL_CALL_ID,
    GEN_AI_TOOL_CALL_RESULT,
    GEN_AI_TOOL_NAME,
    GEN_AI_TOOL_TYPE,
    GEN_AI_USAGE_INPUT_TOKENS,
    GEN_AI_USAGE_OUTPUT_TOKENS,
    OP_CHAT,
    OP_EXECUTE_TOOL,
    OP_INVOKE_AGENT,
    SCOPE,
    TICK_NS,
    capture_content_default,
    plan_times,
    tree_to_spans,
)
from codetracer.export.otel.transport import (
    SendResult,
    otlp_span_exporter,
    resolved_endpoint,
    send_runs,
    traces_url,
)

__all__ = [
    "CAPTURE_ENV",
    "CONTENT_LIMIT",
    "ENABLE_ENV",
    "ERROR_TYPE",
    "EXCEPTION_MESSAGE",
    "EXCEPTION_TYPE",
    "EXIT_TIMEOUT_ENV",
    "GEN_AI_AGENT_NAME",
    "GEN_AI_CONVERSATION_ID",
    "GEN_AI_OPERATION_NAME",
    "GEN_AI_OUTPUT_MESSAGES",
    "GEN_AI_PROVIDER_NAME",
    "GEN_AI_REQUEST_MODEL",
    "GEN_AI_TOOL_CALL_ARGUMENTS",
    "GEN_AI_TOOL_CALL_ID",
    "GEN_AI_TOOL_CALL_RESULT",
    "GEN_AI_TOOL_NAME",
    "GEN_AI_TOOL_TYPE",
    "GEN_AI_USAGE_INPUT_TOKENS",
    "GEN_AI_USAGE_OUTPUT_TOKENS",
    "OP_CHAT",
    "OP_EXECUTE_TOOL",
    "OP_INVOKE_AGENT",
    "SCOPE",
    "TICK_NS",
    "OtelExporter",
    "SendResult",
    "capture_content_default",
    "env_exporter",
    "otlp_span_exporter",
    "plan_times",
    "resolved_endpoint",
    "send_runs",
    "traces_url",
    "tree_to_spans",
]

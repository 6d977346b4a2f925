"""A finished trace tree as OpenTelemetry spans following the GenAI semantic conventions (the span mapping), with
OpenInference's span kinds and input/output beside them (:mod:`.openinference`) for Phoenix and Langfuse.

Span layout (one trace per run)::

    invoke_agent {framework}            the run; diagnosis as codetracer.diagnosis.* attributes
      stage {kind}                      a contiguous step range (inspection, patching, verification, ...)
        step {id}                       one turn of the agent loop; diagnosis role as span events
          chat {model}                  an LLM call: gen_ai.request.model, gen_ai.usage.*
          execute_tool {tool}           a tool call: gen_ai.tool.name, gen_ai.tool.call.id, command, exit code
          execute_tool {tool}           parallel tool calls of one step are siblings

:func:`tree_to_spans` writes one :class:`~codetracer.core.model.Run` into any ``TracerProvider``. The GenAI
attribute names below are the ones of ``opentelemetry-semantic-conventions``
(``opentelemetry.semconv._incubating.attributes.gen_ai_attributes``); they are spelled out here because that module
is incubating and marks them as moved to the GenAI conventions repository, and a test checks they still match.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from codetracer import __version__
from codetracer.core.model import Call, Outcome, Run, Stage, Step
from codetracer.core.secrets import redact_run, shorten_redacted
from codetracer.export.otel import openinference as oi

if TYPE_CHECKING:  # pragma: no cover - typing only
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import Span

# -- GenAI semantic convention names (checked against the installed semconv package by the tests) ------------------

GEN_AI_OPERATION_NAME = "gen_ai.operation.name"
GEN_AI_AGENT_NAME = "gen_ai.agent.name"
GEN_AI_CONVERSATION_ID = "gen_ai.conversation.id"
GEN_AI_PROVIDER_NAME = "gen_ai.provider.name"
GEN_AI_REQUEST_MODEL = "gen_ai.request.model"
GEN_AI_USAGE_INPUT_TOKENS = "gen_ai.usage.input_tokens"
GEN_AI_USAGE_OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
GEN_AI_OUTPUT_MESSAGES = "gen_ai.output.messages"
GEN_AI_TOOL_NAME = "gen_ai.tool.name"
GEN_AI_TOOL_CALL_ID = "gen_ai.tool.call.id"
GEN_AI_TOOL_TYPE = "gen_ai.tool.type"
GEN_AI_TOOL_CALL_ARGUMENTS = "gen_ai.tool.call.arguments"
GEN_AI_TOOL_CALL_RESULT = "gen_ai.tool.call.result"
ERROR_TYPE = "error.type"
EXCEPTION_TYPE = "exception.type"
EXCEPTION_MESSAGE = "exception.message"

OP_INVOKE_AGENT = "invoke_agent"
OP_CHAT = "chat"
OP_EXECUTE_TOOL = "execute_tool"

SCOPE = "codetracer"
"""Instrumentation scope name of every span codetracer emits."""

CAPTURE_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
"""The GenAI instrumentations' opt-in switch for prompt/response content; codetracer honours it for the same data."""

TICK_NS = 1_000_000
"""Length of a synthetic time slot (1 ms) for tree nodes whose source recorded no timestamps."""

CONTENT_LIMIT = 8192
"""Characters kept of a text sent as an attribute (head and tail, as the tree keeps them)."""

_FALSY = {"", "0", "false", "no", "off", "none", "no_content"}


def _truthy(value: str | None) -> bool:
    return value is not None and value.strip().lower() not in _FALSY


def capture_content_default() -> bool:
    """Whether texts (task, thoughts, tool arguments and results, responses) go into spans: opt-in, as in GenAI."""
    return _truthy(os.environ.get(CAPTURE_ENV))


def _clip(text: str, limit: int = CONTENT_LIMIT) -> str:
    """Head and tail of ``text``: errors sit at the end of outputs, so never cut only the end. The cuts fall
    between words (:func:`~codetracer.core.secrets.shorten_redacted`), so no half of a secret stays at an edge."""
    if len(text) <= limit:
        return text
    return shorten_redacted(text, limit, lambda n: f"\n...[{n} characters elided]...\n", head_share=0.5)


# -- timeline -----------------------------------------------------------------------------------------------------


def _ns(ts: float) -> int:
    return int(ts * 1_000_000_000)


class _Clock:
    """Start and end times for spans: the tree's own when recorded, else synthetic slots after the last time used.

    Parents always contain their children (a parent ends no earlier than its last child), synthetic times only move
    forward, and parallel tool calls without times share one start, so a trace viewer draws them side by side.
    """

    def __init__(self, cursor: int) -> None:
        self.cursor = cursor

    def start(self, ts: float | None) -> int:
        if ts is not None:
            start = _ns(ts)
            self.cursor = max(self.cursor, start)
            return start
        self.cursor += TICK_NS
        return self.cursor

    def end(self, start: int, ts: float | None, children_end: int | None = None) -> int:
        floor = start if children_end is None else max(start, children_end)
        if ts is not None:
            end = max(_ns(ts), floor)
        elif children_end is not None:
            end = floor
        else:
            end = start + TICK_NS
        self.cursor = max(self.cursor, end)
        return end


def _known_times(run: Run) -> list[float]:
    found = [t for t in (run.started_at, run.ended_at) if t is not None]
    for step in run.steps:
        found.extend(t for t in (step.started_at, step.ended_at) if t is not None)
        for call in step.calls:
            found.extend(t for t in (call.started_at, call.ended_at) if t is not None)
    return found


def plan_times(run: Run) -> dict[int, tuple[int, int]]:
    """``id(node) -> (start_ns, end_ns)`` for the run, its steps and calls.

    A tree without any timestamp (many artifacts record none) is laid out in 1 ms slots ending now, so it shows up
    among recent traces; a partly timed tree keeps its times and fills the gaps after the preceding known time.
    """
    known = _known_times(run)
    clock = _Clock(_ns(min(known)) - TICK_NS if known else 0)
    times: dict[int, tuple[int, int]] = {}
    run_start = clock.start(run.started_at)
    steps_end: int | None = None
    for step in run.steps:
        step_start = clock.start(step.started_at)
        first = step_start
        calls_end: int | None = None
        parallel_start: int | None = None
        for call in step.calls:
            if call.started_at is None and call.kind == "tool":
                if parallel_start is None:
                    parallel_start = clock.start(None)
                start = parallel_start
            else:
                start = clock.start(call.started_at)
            end = clock.end(start, call.ended_at)
            times[id(call)] = (start, end)
            first = min(first, start)
            calls_end = end if calls_end is None else max(calls_end, end)
        step_end = clock.end(step_start, step.ended_at, calls_end)
        times[id(step)] = (first, step_end)
        run_start = min(run_start, first)
        steps_end = step_end if steps_end is None else max(steps_end, step_end)
    times[id(run)] = (run_start, clock.end(run_start, run.ended_at, steps_end))
    if not known:
        shift = time.time_ns() - times[id(run)][1]
        times = {key: (start + shift, end + shift) for key, (start, end) in times.items()}
    return times


# -- attributes ---------------------------------------------------------------------------------------------------


def _attrs(pairs: Iterable[tuple[str, Any]]) -> dict[str, Any]:
    """OTel attributes from ``pairs``, leaving out ``None`` (the SDK warns on it) and making sequences tuples."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if value is None:
            continue
        if isinstance(value, list | tuple):
            value = tuple(value)
        out[key] = value
    return out


def _model_of(run: Run) -> str | None:
    for key in ("model", "model_name", "llm_model"):
        value = run.metadata.get(key)
        if isinstance(value, str) and value:
            return value
    models = {c.name for s in run.steps for c in s.calls if c.kind == "llm" and c.name}
    return models.pop() if len(models) == 1 else None


def _sum(values: Iterable[int | float | None]) -> int | float | None:
    present = [v for v in values if v is not None]
    return sum(present) if present else None


def _run_attributes(run: Run, capture: bool) -> dict[str, Any]:
    calls = [c for s in run.steps for c in s.calls]
    model = _model_of(run)
    provider = run.metadata.get("provider")
    pairs: list[tuple[str, Any]] = [
        (GEN_AI_OPERATION_NAME, OP_INVOKE_AGENT),
        (GEN_AI_AGENT_NAME, run.framework),
        (GEN_AI_CONVERSATION_ID, run.id),
        (GEN_AI_REQUEST_MODEL, model),
        (GEN_AI_PROVIDER_NAME, provider if isinstance(provider, str) else None),
        (GEN_AI_USAGE_INPUT_TOKENS, _sum(c.input_tokens for c in calls)),
        (GEN_AI_USAGE_OUTPUT_TOKENS, _sum(c.output_tokens for c in calls)),
        ("codetracer.run.id", run.id),
        ("codetracer.run.framework", run.framework),
        ("codetracer.run.outcome", run.outcome.value),
        ("codetracer.run.exit_status", run.exit_status),
        ("codetracer.run.complete", run.complete),
        ("codetracer.run.parent_run_id", run.parent_run_id),
        ("codetracer.run.dropped_events", run.dropped_events or None),
        ("codetracer.run.steps", len(run.steps)),
        ("codetracer.run.error_steps", sum(1 for s in run.steps if s.is_error)),
        ("codetracer.run.cost", _sum(c.cost for c in calls)),
        ("codetracer.run.task", _clip(run.task) if capture and run.task else None),
    ]
    for key in ("instance_id", "source_path"):
        value = run.metadata.get(key)
        if isinstance(value, str | int | float | bool):
            pairs.append((f"codetracer.run.{key}", value))
    d = run.diagnosis
    if d is not None:
        pairs += [
            ("codetracer.diagnosis.localizer", d.localizer),
            ("codetracer.diagnosis.onset_step", d.onset_step),
            ("codetracer.diagnosis.chain", list(d.chain)),
            ("codetracer.diagnosis.confidence", float(d.confidence)),
            ("codetracer.diagnosis.stage_id", d.stage_id),
            ("codetracer.diagnosis.incorrect_step_ids", list(d.incorrect_step_ids)),
            ("codetracer.diagnosis.unuseful_step_ids", list(d.unuseful_step_ids)),
            ("codetracer.diagnosis.reasoning", _clip(d.reasoning) if d.reasoning else None),
            ("codetracer.diagnosis.suggestion", d.suggestion),
            ("codetracer.diagnosis.agent", d.agent),
        ]
    return _attrs(pairs + oi.run_pairs(run, capture, _clip))


def _stage_attributes(stage: Stage, run: Run) -> dict[str, Any]:
    holds_onset = run.diagnosis is not None and run.diagnosis.stage_id == stage.id
    return _attrs(
        [
            ("codetracer.stage.id", stage.id),
            ("codetracer.stage.kind", stage.kind),
            ("codetracer.stage.start_step", stage.start_step),
            ("codetracer.stage.end_step", stage.end_step),
            ("codetracer.stage.source", stage.source),
            ("codetracer.stage.holds_onset", True if holds_onset else None),
            *oi.stage_pairs(stage),
        ]
    )


def _step_attributes(step: Step, run: Run, capture: bool) -> dict[str, Any]:
    d = run.diagnosis
    role = None
    if d is not None:
        if d.onset_step == step.id:
            role = "onset"
        elif step.id in d.chain:
            role = "chain"
    exit_codes = [o.exit_code for o in step.observations if o.exit_code is not None]
    return _attrs(
        [
            ("codetracer.step.id", step.id),
            ("codetracer.step.key", step.key),
            ("codetracer.step.stage_id", step.stage_id),
            ("codetracer.step.agent", step.agent),
            ("codetracer.step.is_error", step.is_error),
            ("codetracer.step.complete", step.complete),
            ("codetracer.step.exit_code", exit_codes[-1] if exit_codes else None),
            ("codetracer.step.raw_ref", step.raw_ref),
            ("codetracer.step.thought", _clip(step.thought.text) if capture and step.thought else None),
            ("codetracer.diagnosis.role", role),
            ("codetracer.diagnosis.incorrect", True if d and step.id in d.incorrect_step_ids else None),
            ("codetracer.diagnosis.unuseful", True if d and step.id in d.unuseful_step_ids else None),
            *oi.step_pairs(step, capture, _clip),
        ]
    )


def _llm_attributes(call: Call, capture: bool) -> dict[str, Any]:
    output = None
    if capture and call.response is not None:
        message = {"role": "assistant", "parts": [{"type": "text", "content": _clip(call.response.text)}]}
        output = json.dumps([message], ensure_ascii=False)
    return _attrs(
        [
            (GEN_AI_OPERATION_NAME, OP_CHAT),
            (GEN_AI_REQUEST_MODEL, call.name or None),
            (GEN_AI_USAGE_INPUT_TOKENS, call.input_tokens),
            (GEN_AI_USAGE_OUTPUT_TOKENS, call.output_tokens),
            (GEN_AI_OUTPUT_MESSAGES, output),
            ("codetracer.call.id", call.id),
            ("codetracer.call.complete", call.complete),
            ("codetracer.call.raw_ref", call.raw_ref),
            ("codetracer.llm.input_messages", call.input_messages),
            ("codetracer.llm.cost", call.cost),
            *oi.llm_pairs(call, capture, _clip),
        ]
    )


def _tool_failure(call: Call) -> str | None:
    """``error.type`` of a failed tool call (its exit code, or ``tool_error``), ``None`` when it did not fail."""
    obs = call.observation
    if obs is None:
        return None
    if obs.exit_code not in (None, 0):
        return str(obs.exit_code)
    return "tool_error" if obs.is_error else None


def _tool_attributes(call: Call, capture: bool) -> dict[str, Any]:
    action, obs = call.action, call.observation
    arguments = None
    if capture and action is not None and action.arguments:
        arguments = _clip(json.dumps(action.arguments, ensure_ascii=False, default=repr))
    return _attrs(
        [
            (GEN_AI_OPERATION_NAME, OP_EXECUTE_TOOL),
            (GEN_AI_TOOL_NAME, call.name),
            (GEN_AI_TOOL_CALL_ID, call.id),
            (GEN_AI_TOOL_TYPE, "function"),
            (GEN_AI_TOOL_CALL_ARGUMENTS, arguments),
            (GEN_AI_TOOL_CALL_RESULT, _clip(obs.text.text) if capture and obs and obs.text else None),
            (ERROR_TYPE, _tool_failure(call)),
            ("codetracer.tool.command", action.command if action is not None else None),
            ("codetracer.tool.edited_files", [e.path for e in action.edits] if action and action.edits else None),
            ("codetracer.tool.exit_code", obs.exit_code if obs is not None else None),
            ("codetracer.tool.is_error", obs.is_error if obs is not None else None),
            ("codetracer.tool.output_chars", obs.text.size if obs is not None and obs.text is not None else None),
            ("codetracer.call.complete", call.complete),
            ("codetracer.call.raw_ref", call.raw_ref),
            *oi.tool_pairs(call, capture, _clip),
        ]
    )


# -- the tree as spans --------------------------------------------------------------------------------------------


def _error_events(span: Span, errors: Sequence[Any], at: int) -> None:
    for err in errors:
        span.add_event(
            "exception",
            _attrs([(EXCEPTION_TYPE, err.kind or "Error"), (EXCEPTION_MESSAGE, _clip(err.error))]),
            timestamp=_ns(err.timestamp) if err.timestamp is not None else at,
        )


def _diagnosis_events(span: Span, step: Step, run: Run, at: int) -> None:
    """The diagnosis where a person looks at the trace: on the onset step, on each chain step, with its evidence."""
    d = run.diagnosis
    if d is None:
        return
    if d.onset_step == step.id:
        span.add_event(
            "codetracer.diagnosis.onset",
            _attrs(
                [
                    ("codetracer.diagnosis.localizer", d.localizer),
                    ("codetracer.diagnosis.confidence", float(d.confidence)),
                    ("codetracer.diagnosis.chain", list(d.chain)),
                    ("codetracer.diagnosis.reasoning", _clip(d.reasoning) if d.reasoning else None),
                    ("codetracer.diagnosis.suggestion", d.suggestion),
                ]
            ),
            timestamp=at,
        )
    if step.id in d.chain:
        span.add_event(
            "codetracer.diagnosis.chain",
            _attrs(
                [
                    ("codetracer.diagnosis.onset_step", d.onset_step),
                    ("codetracer.diagnosis.chain_position", d.chain.index(step.id) + 1),
                ]
            ),
            timestamp=at,
        )
    for ev in d.evidence:
        if ev.step_id == step.id:
            span.add_event(
                "codetracer.diagnosis.evidence",
                _attrs(
                    [
                        ("codetracer.evidence.signal", ev.signal),
                        ("codetracer.evidence.detail", ev.detail or None),
                        ("codetracer.evidence.weight", float(ev.weight)),
                    ]
                ),
                timestamp=at,
            )


def tree_to_spans(
    run: Run, tracer_provider: TracerProvider, *, capture_content: bool | None = None, redact: bool = True
) -> str:
    """Emit ``run`` as one trace of ended spans into ``tracer_provider``; returns the trace id (32 hex digits).

    The spans carry the tree's own timestamps where it has them (see :func:`plan_times`), so a historical run shows
    up when it happened. ``capture_content`` (default: ``$OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``) adds
    the texts -- task, thoughts, tool arguments and outputs, model responses -- which may hold secrets; shell
    commands, exit codes and the diagnosis are always sent, being what a person needs to read the failure.

    Everything leaves redacted (:func:`~codetracer.core.secrets.redact_run`: commands too, an ``export
    AWS_SECRET_ACCESS_KEY=...`` is a command) unless ``redact=False``, the explicit opt-out.
    """
    from opentelemetry import context as otel_context
    from opentelemetry import trace
    from opentelemetry.trace import SpanKind, Status, StatusCode

    capture = capture_content_default() if capture_content is None else capture_content
    if redact:
        run = redact_run(run)
    times = plan_times(run)
    tracer = tracer_provider.get_tracer(SCOPE, __version__)
    run_start, run_end = times[id(run)]

    root = tracer.start_span(
        f"{OP_INVOKE_AGENT} {run.framework}",
        context=otel_context.Context(),  # a run is a trace of its own, whatever span is current on this thread
        kind=SpanKind.INTERNAL,
        attributes=_run_attributes(run, capture),
        start_time=run_start,
    )
    _error_events(root, run.errors, run_start)
    root_ctx = trace.set_span_in_context(root)

    stage_spans: dict[int, Span] = {}
    for stage in run.stages:
        spans_of = [times[id(s)] for s in run.steps if stage.start_step <= s.id <= stage.end_step]
        if not spans_of:
            continue
        stage_spans[stage.id] = tracer.start_span(
            f"stage {stage.kind}",
            context=root_ctx,
            attributes=_stage_attributes(stage, run),
            start_time=min(s for s, _ in spans_of),
        )

    for step in run.steps:
        stage_id = step.stage_id
        if stage_id is None or stage_id not in stage_spans:
            found = run.stage_of(step.id)
            stage_id = found.id if found is not None else None
        parent = stage_spans.get(stage_id) if stage_id is not None else None
        step_start, step_end = times[id(step)]
        step_span = tracer.start_span(
            f"step {step.id}",
            context=trace.set_span_in_context(parent) if parent is not None else root_ctx,
            attributes=_step_attributes(step, run, capture),
            start_time=step_start,
        )
        _diagnosis_events(step_span, step, run, step_start)
        for obs in step.observations:
            step_span.add_event(
                "codetracer.observation",
                _attrs(
                    [
                        ("codetracer.observation.exit_code", obs.exit_code),
                        ("codetracer.observation.is_error", obs.is_error),
                        ("codetracer.observation.text", _clip(obs.text.text) if capture and obs.text else None),
                    ]
                ),
                timestamp=step_end,
            )
        _error_events(step_span, step.errors, step_end)
        if step.errors:
            step_span.set_status(Status(StatusCode.ERROR, step.errors[-1].kind or "error"))
        step_ctx = trace.set_span_in_context(step_span)
        for call in step.calls:
            call_start, call_end = times[id(call)]
            if call.kind == "llm":
                name = f"{OP_CHAT} {call.name}" if call.name else OP_CHAT
                span = tracer.start_span(
                    name,
                    context=step_ctx,
                    kind=SpanKind.CLIENT,
                    attributes=_llm_attributes(call, capture),
                    start_time=call_start,
                )
            else:
                span = tracer.start_span(
                    f"{OP_EXECUTE_TOOL} {call.name}",
                    context=step_ctx,
                    kind=SpanKind.INTERNAL,
                    attributes=_tool_attributes(call, capture),
                    start_time=call_start,
                )
                failure = _tool_failure(call)
                if failure is not None:
                    span.set_status(Status(StatusCode.ERROR, f"exit code {failure}" if failure.isdigit() else failure))
            span.end(end_time=call_end)
        step_span.end(end_time=step_end)

    for stage in run.stages:
        stage_span = stage_spans.get(stage.id)
        if stage_span is not None:
            ends = [times[id(s)][1] for s in run.steps if stage.start_step <= s.id <= stage.end_step]
            stage_span.end(end_time=max(ends))

    if run.outcome is Outcome.FAILED:
        root.set_attribute(ERROR_TYPE, run.exit_status or "failed")
        why = f"run failed ({run.exit_status})" if run.exit_status else "run failed"
        root.set_status(Status(StatusCode.ERROR, why))
    root.end(end_time=run_end)
    return format(root.get_span_context().trace_id, "032x")

"""OpenInference attributes on the exported spans: what Phoenix and Langfuse read to show a run as an agent trace."""

from __future__ import annotations

import json
from pathlib import Path

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from codetracer.core.extract import extract_all
from codetracer.core.model import Run
from codetracer.export.otel import tree_to_spans
from codetracer.localize.registry import LocalizerRegistry

FAILING = Path(__file__).resolve().parents[1] / "examples" / "runs" / "failing.traj.json"


def _spans(run: Run, capture: bool) -> list[ReadableSpan]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tree_to_spans(run, provider, capture_content=capture)
    provider.shutdown()
    return list(exporter.get_finished_spans())


def _failing_run() -> Run:
    (run,) = [r for r in extract_all(FAILING) if isinstance(r, Run)]
    localizer = LocalizerRegistry.from_plugins().get()
    assert localizer is not None
    run.diagnosis = localizer.localize(run)
    return run


def test_every_span_has_its_openinference_kind_and_the_run_carries_the_diagnosis() -> None:
    run = _failing_run()
    spans = _spans(run, capture=True)
    expected = {"invoke_agent": "AGENT", "stage": "CHAIN", "step": "CHAIN", "chat": "LLM", "execute_tool": "TOOL"}
    for span in spans:
        assert (span.attributes or {})["openinference.span.kind"] == expected[span.name.split()[0]], span.name
    assert {s.name.split()[0] for s in spans} >= {"invoke_agent", "stage", "step", "execute_tool"}
    (root,) = [s for s in spans if s.parent is None]
    attrs = dict(root.attributes or {})
    assert attrs["openinference.span.kind"] == "AGENT" and attrs["agent.name"] == run.framework
    assert attrs["session.id"] == run.id and attrs["input.value"] == run.task
    verdict = json.loads(str(attrs["output.value"]))
    assert verdict["outcome"] == "failed" and verdict["onset_step"] == run.diagnosis.onset_step  # type: ignore[union-attr]
    assert json.loads(str(attrs["metadata"]))["confidence"] == run.diagnosis.confidence  # type: ignore[union-attr]
    tools = [s for s in spans if s.attributes and s.attributes.get("openinference.span.kind") == "TOOL"]
    commands = [a.command for st in run.steps for c in st.calls if (a := c.action) is not None and a.command]
    assert len(tools) == len(commands) > 0
    assert [t.attributes["input.value"] for t in tools] == commands  # type: ignore[index]
    shown = [bool(c.observation and c.observation.text and c.observation.text.text)
             for st in run.steps for c in st.calls if c.kind != "llm" and c.action is not None and c.action.command]
    assert ["output.value" in (t.attributes or {}) for t in tools] == shown and any(shown)


def test_without_content_capture_only_kinds_names_commands_and_the_diagnosis_leave() -> None:
    run = _failing_run()
    spans = _spans(run, capture=False)
    (root,) = [s for s in spans if s.parent is None]
    assert "input.value" not in (root.attributes or {}), "the task is content"
    assert json.loads(str((root.attributes or {})["output.value"]))["outcome"] == "failed"
    for span in spans:
        attrs = span.attributes or {}
        kind = attrs["openinference.span.kind"]
        if kind in ("LLM", "CHAIN") and span.name.startswith(("chat", "step")):
            assert "output.value" not in attrs and "llm.output_messages.0.message.content" not in attrs
        if kind == "TOOL":
            assert "output.value" not in attrs and "tool.parameters" not in attrs


def test_every_attempt_of_a_retry_sequence_shares_its_session() -> None:
    run = _failing_run()
    run.metadata["replay"] = {"root": "first-attempt", "attempt": 2}
    (root,) = [s for s in _spans(run, capture=False) if s.parent is None]
    assert (root.attributes or {})["session.id"] == "first-attempt"

"""OpenTelemetry export against a real OTLP/HTTP receiver on 127.0.0.1 that decodes the protobuf payload.

The receiver is what a collector (Phoenix, Langfuse, Jaeger, the OTel Collector) sees: POST /v1/traces with an
``ExportTraceServiceRequest``, maybe gzip-compressed. The tests check the span tree, the GenAI attributes and the
diagnosis on real runs, and that a hanging or dead collector never slows or breaks a live Tracer.
"""

from __future__ import annotations

import gzip
import logging
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("opentelemetry.exporter.otlp.proto.http.trace_exporter")

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from codetracer.cli import main
from codetracer.core import config
from codetracer.core.extract import extract_all
from codetracer.core.model import Call, Run, Step
from codetracer.core.store import Store
from codetracer.core.tracer import Tracer
from codetracer.export import otel
from codetracer.export.otel import OtelExporter, otlp_span_exporter, plan_times, send_runs, tree_to_spans
from codetracer.localize.registry import LocalizerRegistry

REPO = Path(__file__).resolve().parents[1]
FAILING = REPO / "examples" / "runs" / "failing.traj.json"
STATUS_ERROR = 2  # opentelemetry.proto.trace.v1.Status.STATUS_CODE_ERROR


# -- a real OTLP/HTTP receiver ------------------------------------------------------------------------------------


def _value(v: Any) -> Any:
    kind = v.WhichOneof("value")
    if kind == "array_value":
        return [_value(x) for x in v.array_value.values]
    return getattr(v, kind) if kind else None


def _kv(items: Any) -> dict[str, Any]:
    return {kv.key: _value(kv.value) for kv in items}


class Receiver:
    """An OTLP/HTTP trace receiver: decodes every POST /v1/traces and keeps the spans as plain dicts."""

    def __init__(self, hang: bool = False) -> None:
        self.spans: list[dict[str, Any]] = []
        self.resources: list[dict[str, Any]] = []
        self.encodings: list[str] = []
        self.hang = hang
        self.hanging = 0
        self.release = threading.Event()
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.path != "/v1/traces":
                    self.send_error(404)
                    return
                if receiver.hang:
                    with receiver.lock:
                        receiver.hanging += 1
                    receiver.release.wait(30)
                encoding = self.headers.get("Content-Encoding", "")
                if encoding == "gzip":
                    body = gzip.decompress(body)
                request = ExportTraceServiceRequest.FromString(body)
                with receiver.lock:
                    receiver.encodings.append(encoding)
                    for rs in request.resource_spans:
                        receiver.resources.append(_kv(rs.resource.attributes))
                        for ss in rs.scope_spans:
                            for s in ss.spans:
                                receiver.spans.append(
                                    {
                                        "name": s.name,
                                        "trace_id": s.trace_id.hex(),
                                        "span_id": s.span_id.hex(),
                                        "parent": s.parent_span_id.hex() or None,
                                        "kind": s.kind,
                                        "start": s.start_time_unix_nano,
                                        "end": s.end_time_unix_nano,
                                        "attrs": _kv(s.attributes),
                                        "events": [(e.name, _kv(e.attributes)) for e in s.events],
                                        "status": s.status.code,
                                        "scope": ss.scope.name,
                                    }
                                )
                payload = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    def wait_for(self, predicate: Any, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if predicate(self):
                    return True
            time.sleep(0.02)
        return False

    def roots(self) -> list[dict[str, Any]]:
        return [s for s in self.spans if s["parent"] is None]

    def tree(self, root: dict[str, Any]) -> tuple[dict[str, dict[str, Any]], dict[str, list[dict[str, Any]]]]:
        """Spans of ``root``'s trace by id, and children by parent id (in start order)."""
        spans = [s for s in self.spans if s["trace_id"] == root["trace_id"]]
        children: dict[str, list[dict[str, Any]]] = {}
        for s in sorted(spans, key=lambda s: (s["start"], s["name"])):
            if s["parent"]:
                children.setdefault(s["parent"], []).append(s)
        return {s["span_id"]: s for s in spans}, children


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def exporters() -> Iterator[list[OtelExporter]]:
    """Exporters made by a test, shut down after it so their threads and exit hooks do not outlive it."""
    made: list[OtelExporter] = []
    yield made
    for e in made:
        e.shutdown(timeout=2)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _localized(run: Run) -> Run:
    localizer = LocalizerRegistry.from_plugins().get()
    assert localizer is not None
    run.diagnosis = localizer.localize(run)
    return run


def _failing_run() -> Run:
    runs = [r for r in extract_all(FAILING) if isinstance(r, Run)]
    assert len(runs) == 1
    return _localized(runs[0])


# -- semantic conventions -----------------------------------------------------------------------------------------


def test_gen_ai_names_are_the_installed_semconv_ones() -> None:
    gen_ai = pytest.importorskip("opentelemetry.semconv._incubating.attributes.gen_ai_attributes")
    from opentelemetry.semconv.attributes import error_attributes, exception_attributes

    names = [n for n in dir(otel) if n.startswith("GEN_AI_")]
    assert len(names) >= 10
    for name in names:
        assert getattr(gen_ai, name) == getattr(otel, name), name
    assert error_attributes.ERROR_TYPE == otel.ERROR_TYPE
    assert exception_attributes.EXCEPTION_TYPE == otel.EXCEPTION_TYPE
    assert exception_attributes.EXCEPTION_MESSAGE == otel.EXCEPTION_MESSAGE
    ops = gen_ai.GenAiOperationNameValues
    assert (ops.INVOKE_AGENT.value, ops.CHAT.value, ops.EXECUTE_TOOL.value) == (
        otel.OP_INVOKE_AGENT,
        otel.OP_CHAT,
        otel.OP_EXECUTE_TOOL,
    )


def test_import_codetracer_and_a_tracer_do_not_load_opentelemetry(tmp_path: Path) -> None:
    code = (
        "import sys, codetracer\n"
        "from codetracer import Tracer\n"
        f"t = Tracer(home={str(tmp_path)!r})\n"
        "t.events.run_started('r', 'demo'); t.events.run_finished('r', 'failed'); t.flush(); t.close()\n"
        "print(sorted(m for m in sys.modules if m.startswith('opentelemetry')))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != otel.ENABLE_ENV}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == "[]"


# -- the tree as spans --------------------------------------------------------------------------------------------


def test_failing_example_run_arrives_as_a_span_tree(receiver: Receiver) -> None:
    run = _failing_run()
    d = run.diagnosis
    assert d is not None and d.onset_step is not None and d.chain
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(otlp_span_exporter(receiver.url)))
    trace_id = tree_to_spans(run, provider, capture_content=False)
    assert provider.force_flush()
    provider.shutdown()

    n_calls = sum(len(s.calls) for s in run.steps)
    assert len(receiver.spans) == 1 + len(run.stages) + len(run.steps) + n_calls
    (root,) = receiver.roots()
    assert root["trace_id"] == trace_id and {s["trace_id"] for s in receiver.spans} == {trace_id}
    assert root["name"] == "invoke_agent mini-swe-agent" and root["scope"] == "codetracer"
    assert root["attrs"]["gen_ai.operation.name"] == "invoke_agent"
    assert root["attrs"]["gen_ai.agent.name"] == "mini-swe-agent"
    assert root["attrs"]["codetracer.run.outcome"] == "failed" and root["status"] == STATUS_ERROR
    assert root["attrs"]["codetracer.diagnosis.onset_step"] == d.onset_step
    assert root["attrs"]["codetracer.diagnosis.chain"] == d.chain
    assert root["attrs"]["codetracer.diagnosis.confidence"] == pytest.approx(d.confidence)
    assert root["attrs"]["codetracer.diagnosis.localizer"] == d.localizer
    assert "codetracer.run.task" not in root["attrs"]  # content is opt-in

    by_id, children = receiver.tree(root)
    stages = children[root["span_id"]]
    assert [s["name"] for s in stages] == [f"stage {st.kind}" for st in run.stages]
    steps = [step for stage in stages for step in children.get(stage["span_id"], [])]
    assert [s["name"] for s in steps] == [f"step {i}" for i in range(1, len(run.steps) + 1)]
    for stage_span, stage in zip(stages, run.stages, strict=True):
        ids = [s["attrs"]["codetracer.step.id"] for s in children[stage_span["span_id"]]]
        assert ids == list(range(stage.start_step, stage.end_step + 1))

    for step_span, step in zip(steps, run.steps, strict=True):
        parent = by_id[step_span["parent"]]
        assert parent["start"] <= step_span["start"] <= step_span["end"] <= parent["end"] <= root["end"]
        calls = children.get(step_span["span_id"], [])
        assert [c["name"] for c in calls] == [f"execute_tool {c.name}" for c in step.calls]
        for span, call in zip(calls, step.calls, strict=True):
            assert step_span["start"] <= span["start"] <= span["end"] <= step_span["end"]
            assert span["attrs"]["gen_ai.tool.name"] == call.name == "bash"
            assert span["attrs"]["gen_ai.tool.call.id"] == call.id
            assert call.action is not None
            assert span["attrs"]["codetracer.tool.command"] == call.action.command
            exit_code = call.observation.exit_code if call.observation is not None else None
            assert span["attrs"].get("codetracer.tool.exit_code") == exit_code
            failed = exit_code not in (None, 0)
            assert (span["status"] == STATUS_ERROR) == failed
            if failed:
                assert span["attrs"]["error.type"] == str(exit_code)
        events = [name for name, _ in step_span["events"]]
        assert ("codetracer.diagnosis.onset" in events) == (step.id == d.onset_step)
        assert ("codetracer.diagnosis.chain" in events) == (step.id in d.chain)
        if step.id == d.onset_step:
            assert step_span["attrs"]["codetracer.diagnosis.role"] == "onset"
            onset = dict(step_span["events"])["codetracer.diagnosis.onset"]
            assert onset["codetracer.diagnosis.chain"] == d.chain
        signals = [a["codetracer.evidence.signal"] for n, a in step_span["events"] if n.endswith("evidence")]
        assert signals == [e.signal for e in d.evidence if e.step_id == step.id]
    assert sum(s["status"] == STATUS_ERROR for s in receiver.spans) >= 2


def test_real_atif_trial_gives_chat_spans_with_usage(receiver: Receiver, shared: Path) -> None:
    trial = shared / "corpora/atif-terminal-bench-2/chess-best-move__wpPQ5MU"
    (run,) = [_localized(r) for r in extract_all(trial) if isinstance(r, Run)]
    result = send_runs([run], endpoint=receiver.url, timeout=5)
    assert result.ok and result.endpoint == f"{receiver.url}/v1/traces"
    assert result.spans == len(receiver.spans)
    (root,) = receiver.roots()
    assert root["name"] == f"invoke_agent {run.framework}" and root["trace_id"] == result.trace_ids[run.id]
    llm_calls = [c for s in run.steps for c in s.calls if c.kind == "llm"]
    chats = sorted((s for s in receiver.spans if s["name"].startswith("chat")), key=lambda s: s["start"])
    assert llm_calls and len(chats) == len(llm_calls)
    by_id = {s["span_id"]: s for s in receiver.spans}
    for span, call in zip(chats, llm_calls, strict=True):
        assert span["name"] == f"chat {call.name}" and span["kind"] == 3  # SPAN_KIND_CLIENT
        assert span["attrs"]["gen_ai.operation.name"] == "chat"
        assert span["attrs"]["gen_ai.request.model"] == call.name
        assert span["attrs"].get("gen_ai.usage.input_tokens") == call.input_tokens
        assert span["attrs"].get("gen_ai.usage.output_tokens") == call.output_tokens
        assert by_id[span["parent"]]["name"].startswith("step ")
    total_in = sum(c.input_tokens or 0 for c in llm_calls)
    assert root["attrs"]["gen_ai.usage.input_tokens"] == total_in
    # the tree's own timestamps are kept
    assert run.started_at is not None and root["start"] == int(run.started_at * 1_000_000_000)


def test_untimed_tree_gets_ordered_synthetic_times() -> None:
    def tool(call_id: str) -> Call:
        return Call(id=call_id, kind="tool", name="bash")

    run = Run(
        id="r",
        framework="demo",
        steps=[
            Step(id=1, key="1", calls=[Call(id="l1", kind="llm", name="m"), tool("a"), tool("b")]),
            Step(id=2, key="2", calls=[tool("c")]),
        ],
    )
    before = time.time_ns()
    times = plan_times(run)
    s1, s2 = run.steps
    llm, a, b = s1.calls
    assert times[id(a)] == times[id(b)]  # parallel calls side by side
    assert times[id(llm)][1] <= times[id(a)][0]
    assert times[id(s1)][0] <= times[id(llm)][0] and times[id(b)][1] <= times[id(s1)][1]
    assert times[id(s1)][1] < times[id(s2)][0] < times[id(s2.calls[0])][0]
    run_start, run_end = times[id(run)]
    assert run_start <= times[id(s1)][0] and times[id(s2)][1] <= run_end
    assert before - 10**9 < run_end <= time.time_ns()  # laid out to end now


# -- live tracing ---------------------------------------------------------------------------------------------------


def _emit_parallel_run(tracer: Tracer, run_id: str) -> None:
    ev = tracer.events
    ev.run_started(run_id, "demo-agent", task="fix the failing test", metadata={"model": "demo-model"})
    ev.step_started(run_id, "s1", thought="look around")
    ev.llm_call_started(run_id, "s1", "llm-1", model="demo-model", input_messages=2)
    ev.llm_call_finished(run_id, "llm-1", response="run two commands", input_tokens=120, output_tokens=30)
    ev.tool_call_started(run_id, "s1", "t-1", "bash", command="ls")
    ev.tool_call_started(run_id, "s1", "t-2", "bash", command="pytest -x -q")
    ev.tool_call_finished(run_id, "t-1", output="a.py", exit_code=0)
    ev.tool_call_finished(run_id, "t-2", output="1 failed", exit_code=1)
    ev.step_finished(run_id, "s1")
    ev.step_started(run_id, "s2")
    ev.tool_call_started(run_id, "s2", "t-3", "bash", command="pytest -x -q")
    ev.tool_call_finished(run_id, "t-3", output="1 failed", exit_code=1)
    ev.step_finished(run_id, "s2")
    ev.run_finished(run_id, "failed", exit_status="Submitted")


def test_live_tracer_exports_finished_runs(receiver: Receiver, exporters: list[OtelExporter], tmp_path: Path) -> None:
    exporter = OtelExporter(receiver.url)
    exporters.append(exporter)
    tracer = Tracer(tmp_path / "home", load_plugins=False)
    tracer.pm.register(exporter, name="otel")
    _emit_parallel_run(tracer, "live-1")
    assert tracer.flush(5)
    assert exporter.flush(5)
    diagnosis = tracer.runs[0].diagnosis
    assert diagnosis is not None  # the tracer diagnosed the failed run before any exporter saw it
    tracer.close()

    (root,) = receiver.roots()
    assert root["name"] == "invoke_agent demo-agent"
    assert root["attrs"]["gen_ai.request.model"] == "demo-model"
    assert root["attrs"]["codetracer.run.exit_status"] == "Submitted"
    assert receiver.resources[0]["service.name"] == "codetracer"  # unless OTEL_SERVICE_NAME says otherwise
    assert root["attrs"]["codetracer.diagnosis.onset_step"] == diagnosis.onset_step  # the stored diagnosis
    _, children = receiver.tree(root)
    steps = [s for stage in children[root["span_id"]] for s in children.get(stage["span_id"], [])]
    assert [s["name"] for s in steps] == ["step 1", "step 2"]
    calls = children[steps[0]["span_id"]]
    assert [c["name"] for c in calls] == ["chat demo-model", "execute_tool bash", "execute_tool bash"]
    chat, t1, t2 = calls
    assert chat["attrs"]["gen_ai.usage.input_tokens"] == 120 and chat["attrs"]["gen_ai.usage.output_tokens"] == 30
    # two parallel tool calls: siblings under the same step, not nested
    assert t1["parent"] == t2["parent"] == steps[0]["span_id"]
    assert {t1["attrs"]["gen_ai.tool.call.id"], t2["attrs"]["gen_ai.tool.call.id"]} == {"t-1", "t-2"}
    failed = t1 if t1["attrs"]["gen_ai.tool.call.id"] == "t-2" else t2
    assert failed["status"] == STATUS_ERROR and failed["attrs"]["codetracer.tool.exit_code"] == 1
    assert failed["attrs"]["codetracer.tool.command"] == "pytest -x -q"


def test_span_ids_come_from_codetracers_own_generator(
    receiver: Receiver, exporters: list[OtelExporter], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The SDK's default ids draw from the process-wide ``random``, which the traced program may have seeded or
    patched: codetracer's providers draw none of them (the writer thread shares that generator with the agent)."""
    import random

    drawn: list[int] = []
    real = random.getrandbits

    def counted(n: int) -> int:
        drawn.append(n)
        return real(n)

    monkeypatch.setattr(random, "getrandbits", counted)
    exporter = OtelExporter(receiver.url)
    exporters.append(exporter)
    tracer = Tracer(tmp_path / "home", load_plugins=False)
    tracer.pm.register(exporter, name="otel")
    _emit_parallel_run(tracer, "live-ids")
    assert tracer.flush(5) and exporter.flush(5)
    tracer.close()
    (root,) = receiver.roots()
    assert int(root["span_id"], 16) != 0
    assert drawn == []


def test_codetracer_otel_env_turns_on_the_entry_point_exporter(
    receiver: Receiver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fresh = OtelExporter(enabled=None)
    monkeypatch.setattr(otel, "env_exporter", fresh)
    monkeypatch.setenv(otel.ENABLE_ENV, "1")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url)
    monkeypatch.setenv("OTEL_SERVICE_NAME", "my-agent")
    try:
        tracer = Tracer(tmp_path / "home")
        assert tracer.pm.original("otel") is fresh
        _emit_parallel_run(tracer, "env-1")
        assert tracer.flush(5) and fresh.flush(5)
        tracer.close()
    finally:
        fresh.shutdown(2)
    assert [r["name"] for r in receiver.roots()] == ["invoke_agent demo-agent"]
    assert receiver.resources[0]["service.name"] == "my-agent"


def _event_costs(tracer: Tracer, runs: int, steps: int) -> list[float]:
    """Emit ``runs`` runs of ``steps`` one-call steps; the time each event took on this (the agent's) thread."""
    costs: list[float] = []
    ev = tracer.events

    def timed(emit: Any, *args: Any, **kwargs: Any) -> None:
        t = time.perf_counter()
        emit(*args, **kwargs)
        costs.append(time.perf_counter() - t)

    for r in range(runs):
        run_id = f"load-{r}"
        timed(ev.run_started, run_id, "demo")
        for i in range(steps):
            timed(ev.step_started, run_id, str(i))
            timed(ev.tool_call_started, run_id, str(i), f"c{i}", "bash", command="pytest")
            timed(ev.tool_call_finished, run_id, f"c{i}", output="x" * 200, exit_code=i % 2)
            timed(ev.step_finished, run_id, str(i))
        timed(ev.run_finished, run_id, "failed")
    return costs


def test_hanging_collector_never_slows_the_agent(exporters: list[OtelExporter], tmp_path: Path) -> None:
    hanging = Receiver(hang=True)
    try:
        exporter = OtelExporter(hanging.url, timeout=20, localize=False)
        exporters.append(exporter)
        tracer = Tracer(tmp_path / "home", persist=False, load_plugins=False)
        tracer.pm.register(exporter, name="otel")
        baseline_tracer = Tracer(tmp_path / "home2", persist=False, load_plugins=False)
        baseline = _event_costs(baseline_tracer, 20, 20)

        costs = _event_costs(tracer, 100, 20)  # ~4,300 spans: more than a batch, fills the SDK queue
        assert tracer.flush(10), "the writer thread must not wait for the collector"
        assert hanging.wait_for(lambda r: r.hanging >= 1), "the exporter should be stuck in a request by now"
        costs += _event_costs(tracer, 20, 20)  # while a request hangs
        assert tracer.flush(10)
        assert exporter.exported == 120

        median, base_median = statistics.median(costs), statistics.median(baseline)
        p99 = sorted(costs)[int(len(costs) * 0.99)]
        assert median < max(5 * base_median, 200e-6), (median, base_median)
        assert p99 < 0.02, p99
        assert max(costs) < 0.5, max(costs)

        t = time.monotonic()
        assert exporter.flush(timeout=0.5) is False  # bounded even though the collector never answers
        assert exporter.shutdown(timeout=0.5) is False
        assert time.monotonic() - t < 2.0
        tracer.close()
        baseline_tracer.close()
    finally:
        hanging.close()


def test_dead_collector_is_logged_not_raised(
    exporters: list[OtelExporter], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"http://127.0.0.1:{_free_port()}"
    exporter = OtelExporter(url, timeout=1, localize=False)
    exporters.append(exporter)
    tracer = Tracer(tmp_path / "home", load_plugins=False)
    tracer.pm.register(exporter, name="otel")
    with caplog.at_level(logging.WARNING):
        costs = _event_costs(tracer, 5, 10)
        assert tracer.flush(5)
        exporter.flush(timeout=10)
    assert max(costs) < 0.5
    assert exporter.exported == 5 and exporter.failures == 0
    assert not tracer.pm.failures.counts
    assert len(tracer.runs) == 5  # the store still got every run
    assert any(r.name.startswith("opentelemetry") and r.levelno >= logging.WARNING for r in caplog.records)
    tracer.close()


def test_send_runs_reports_a_dead_collector() -> None:
    run = _failing_run()
    result = send_runs([run], endpoint=f"http://127.0.0.1:{_free_port()}", timeout=1)
    assert not result.ok and result.error and "did not accept" in result.error


# -- command line -------------------------------------------------------------------------------------------------


def test_cli_exports_artifacts_gzipped(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip")
    assert main(["export-otel", str(REPO / "examples" / "runs"), "--endpoint", receiver.url]) == 0
    out = capsys.readouterr()
    roots = receiver.roots()
    assert sorted(r["name"] for r in roots) == ["invoke_agent mini-swe-agent"] * 2
    assert set(receiver.encodings) == {"gzip"}
    failed = next(r for r in roots if r["attrs"]["codetracer.run.outcome"] == "failed")
    assert failed["attrs"]["codetracer.diagnosis.onset_step"] >= 1
    assert "sent 2 run(s)" in out.err and all(r["trace_id"] in out.out for r in roots)


def test_cli_exports_a_stored_run(receiver: Receiver, home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = _failing_run()
    Store(config.store_path(), project=config.project()).save_runs([run])
    assert main(["export-otel", run.id[:20], "--endpoint", f"{receiver.url}/v1/traces", "--content"]) == 0
    (root,) = receiver.roots()
    assert root["attrs"]["codetracer.run.id"] == run.id
    assert root["attrs"]["codetracer.run.task"]  # --content sends texts
    assert root["attrs"]["codetracer.diagnosis.onset_step"] == run.diagnosis.onset_step  # type: ignore[union-attr]
    tools = [s for s in receiver.spans if s["name"].startswith("execute_tool")]
    answered = {c.id for s in run.steps for c in s.calls if c.observation is not None and c.observation.text}
    assert answered and all(
        ("gen_ai.tool.call.result" in s["attrs"]) == (s["attrs"]["gen_ai.tool.call.id"] in answered) for s in tools
    )
    assert main(["export-otel", "no-such-run", "--endpoint", receiver.url]) == 2
    assert "no stored run" in capsys.readouterr().err

"""Traces in a real observability backend: a real Arize Phoenix server, started here on 127.0.0.1 with its own ports
and working directory, receives codetracer's OTLP export, and the spans are read back through Phoenix's own REST API
(``/v1/projects/{project}/spans``): the tree (run > stage > step > LLM/tool call), its parents, the OpenInference
kinds Phoenix parsed, and the diagnosis.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from codetracer.core.extract import extract_all
from codetracer.core.model import Run
from codetracer.export.otel import send_runs
from codetracer.localize.registry import LocalizerRegistry

ROOT = Path(__file__).resolve().parents[2]
FAILING = ROOT / "examples" / "runs" / "failing.traj.json"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:  # a local server started by the test
        return json.loads(response.read())


@pytest.fixture(scope="module")
def phoenix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    exe = shutil.which("phoenix")
    assert exe is not None, "arize-phoenix is installed by the tox env integration-phoenix"
    work = tmp_path_factory.mktemp("phoenix")
    port = _free_port()
    env = {**os.environ, "PHOENIX_HOST": "127.0.0.1", "PHOENIX_PORT": str(port),
           "PHOENIX_GRPC_PORT": str(_free_port()), "PHOENIX_WORKING_DIR": str(work),
           "PHOENIX_TELEMETRY_ENABLED": "false"}
    log = (work / "serve.log").open("w")
    server = subprocess.Popen([exe, "serve"], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert server.poll() is None, (work / "serve.log").read_text()[-3000:]
            try:
                _get(f"{url}/v1/projects")
                break
            except OSError:
                assert time.monotonic() < deadline, "Phoenix did not answer within 120 s"
                time.sleep(0.5)
        yield url
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()


def _diagnosed(path: Path) -> Run:
    (run,) = [r for r in extract_all(path) if isinstance(r, Run)]
    localizer = LocalizerRegistry.from_plugins().get()
    assert localizer is not None
    run.diagnosis = localizer.localize(run)
    return run


def _spans_of(url: str, trace_id: str, expected: int) -> list[dict[str, Any]]:
    """The trace's spans as Phoenix stored them (it ingests asynchronously: poll until all are there)."""
    deadline = time.monotonic() + 60
    while True:
        data = _get(f"{url}/v1/projects/default/spans?limit=1000")["data"]
        spans = [s for s in data if s["context"]["trace_id"] == trace_id]
        if len(spans) >= expected or time.monotonic() > deadline:
            return spans
        time.sleep(0.5)


def test_a_diagnosed_run_reads_back_from_phoenix_as_the_same_tree(phoenix: str, shared: Path) -> None:
    failing = _diagnosed(FAILING)
    trial = _diagnosed(shared / "corpora/atif-terminal-bench-2/chess-best-move__wpPQ5MU")  # has LLM calls
    result = send_runs([failing, trial], endpoint=phoenix, timeout=10, capture_content=True)
    assert result.ok, result
    for run in (failing, trial):
        calls = [c for s in run.steps for c in s.calls]
        expected = 1 + len(run.stages) + len(run.steps) + len(calls)
        spans = _spans_of(phoenix, result.trace_ids[run.id], expected)
        assert len(spans) == expected, f"{run.id}: {len(spans)} of {expected} spans in Phoenix"
        by_id = {s["context"]["span_id"]: s for s in spans}
        (root,) = [s for s in spans if s["parent_id"] is None]
        kind_of_parent = {"stage": "invoke_agent", "step": "stage", "chat": "step", "execute_tool": "step"}
        for span in spans:
            if span is root:
                continue
            parent = by_id[span["parent_id"]]
            assert parent["name"].split()[0] == kind_of_parent[span["name"].split()[0]], (span["name"], parent["name"])
        kinds = {s["name"].split()[0]: s["span_kind"] for s in spans}
        assert kinds["invoke_agent"] == "AGENT" and kinds["stage"] == kinds["step"] == "CHAIN"
        assert kinds.get("execute_tool", "TOOL") == "TOOL" and kinds.get("chat", "LLM") == "LLM"
        steps = sorted(int(s["attributes"]["codetracer.step.id"]) for s in spans if s["name"].startswith("step "))
        assert steps == [s.id for s in run.steps]
        attrs = root["attributes"]
        assert root["status_code"] == "ERROR" and attrs["codetracer.run.outcome"] == "failed"
        d = run.diagnosis
        assert d is not None and attrs["codetracer.diagnosis.onset_step"] == d.onset_step
        assert list(attrs["codetracer.diagnosis.chain"]) == list(d.chain)
        assert attrs["metadata.onset_step"] == d.onset_step and attrs["input.value"] == run.task
        onset = [s for s in spans if s["name"] == f"step {d.onset_step}"]
        assert onset and onset[0]["attributes"]["codetracer.diagnosis.role"] == "onset"
    chats = [s for s in _spans_of(phoenix, result.trace_ids[trial.id], 0) if s["name"].startswith("chat")]
    llm_calls = [c for s in trial.steps for c in s.calls if c.kind == "llm"]
    assert chats and len(chats) == len(llm_calls)
    assert all(s["span_kind"] == "LLM" and s["attributes"].get("llm.model_name") for s in chats)
    tools = [s for s in _spans_of(phoenix, result.trace_ids[failing.id], 0) if s["name"].startswith("execute_tool")]
    assert tools and all(s["attributes"]["tool.name"] == "bash" and s["attributes"]["input.value"] for s in tools)

"""Claude Code's stream-json log (``agent/claude-code.txt``) on the real terminal-bench 2 trials in ../shared.

41 of the 46 trials also have the harness's ATIF ``agent/trajectory.json``, written from Claude Code's session files:
the tree read from the log is compared with the ATIF tree field by field. 5 trials have only the log (3 of them
timed out): they must still give diagnosable runs.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from codetracer.adapters.atif.artifacts import AtifExtractor
from codetracer.adapters.claude_code.artifacts import EXTRACTORS, ClaudeCodeLogExtractor, replay_log
from codetracer.core.errors import ExtractError
from codetracer.core.events import Events
from codetracer.core.extract import Candidate, build_runs
from codetracer.core.model import Call, Run
from codetracer.localize.signal_localizer import SignalLocalizer

CORPUS = "corpora/atif-terminal-bench-2"
NO_ATIF = {
    "feal-linear-cryptanalysis__zkWNvqg": None,
    "financial-document-processor__FkdfmDK": "AgentTimeoutError",
    "make-mips-interpreter__VUpgyyS": None,
    "merge-diff-arc-agi-task__yBSGZPs": "AgentTimeoutError",
    "vulnerable-secret__9tUKcpe": "AgentTimeoutError",
}
# The harness's ATIF converter decorates a tool result with what it knows besides the text, after a blank line:
# "[stdout]\n<the stdout again>", "[stderr]...", "[metadata] {...}" (the tool's structured result) and
# "[error] tool reported failure" (is_error). The log has the bare text and the is_error flag, so an ATIF text
# equals the log's when it is the log's text followed by nothing but such decorations.
_DECORATIONS = ("[stdout]", "[stderr]", "[metadata] ", "[error] tool reported failure")


def _same_result(atif: str | None, log: str | None) -> bool:
    # the converter also strips the text's leading and trailing white space; an image result is its JSON in the ATIF
    # file (base64 data and all), "[image]" in the log tree (a content part without text is named, not inlined)
    if log == "[image]":
        return (atif or "").startswith('{"type": "image"')
    atif, log = (atif or "").lstrip(), (log or "").strip()
    if not atif.startswith(log):
        return False
    rest = atif[len(log) :]
    return not rest.strip() or rest.lstrip("\n").startswith(_DECORATIONS)


class _FromLog:
    """The log reader on a trial that has a trajectory too (detection would hand such a trial to ATIF)."""

    def extract(self, path: Path, events: Events) -> None:
        replay_log(path / "agent" / "claude-code.txt", events, run_path=path, trial=path)


def _trials(shared: Path) -> list[Path]:
    return sorted(p for p in (shared / CORPUS).iterdir() if (p / "agent" / "claude-code.txt").exists())


def _text(value: object) -> str | None:
    return None if value is None else str(getattr(value, "text", value))


def _tool_calls(run: Run) -> list[Call]:
    return [c for s in run.steps for c in s.calls if c.kind == "tool"]


def _call_key(call: Call) -> tuple[str, str, str, str | None, str]:
    """A call as both trees must agree on: its tool_use id (the tree id's step prefix differs), tool, arguments,
    shell command and file edits."""
    action = call.action
    assert action is not None
    edits = json.dumps([e.model_dump() for e in action.edits], sort_keys=True, default=str)
    return (
        call.id.split(":", 1)[1],
        call.name,
        json.dumps(action.arguments, sort_keys=True, default=str),
        action.command,
        edits,
    )


def test_every_trial_has_the_log_and_detection_splits_them(shared: Path) -> None:
    trials = _trials(shared)
    assert len(trials) == 46
    ex, atif = ClaudeCodeLogExtractor(), AtifExtractor()
    for trial in trials:
        candidate = Candidate(trial, True)
        if (trial / "agent" / "trajectory.json").exists():
            assert ex.detect(candidate) == 0.0 and atif.detect(candidate) >= 0.9, trial.name  # no double runs
        else:
            assert trial.name in NO_ATIF
            assert ex.detect(candidate) > atif.detect(candidate) > 0, trial.name
    assert ex.detect(Candidate(trials[0] / "agent" / "claude-code.txt", False)) >= 0.9
    assert ex.detect(Candidate(trials[0] / "result.json", False)) == 0.0


def test_log_tree_equals_the_atif_tree_field_by_field(shared: Path) -> None:
    compared = extra_calls = unanswered = 0
    for trial in _trials(shared):
        if not (trial / "agent" / "trajectory.json").exists():
            continue
        compared += 1
        (atif,) = build_runs(trial, AtifExtractor())
        (log,) = build_runs(trial, _FromLog())
        name = trial.name
        assert (log.id, log.framework, log.outcome, log.exit_status) == (
            atif.id,
            atif.framework,
            atif.outcome,
            atif.exit_status,
        ), name
        for key in ("reward", "task_name", "trial_name", "n_input_tokens", "n_output_tokens"):
            assert log.metadata.get(key) == atif.metadata.get(key), (name, key)
        # the cost: result.json's when it has one (both trees); else the log's result record (the log tree only)
        assert atif.metadata.get("cost") is None or log.metadata.get("cost") == atif.metadata["cost"], name
        assert (log.verification is None) == (atif.verification is None), name
        if log.verification is not None and atif.verification is not None:
            assert log.verification.passed == atif.verification.passed, name
            assert log.verification.failed_tests == atif.verification.failed_tests, name
        # Excluded, legitimately different: the task (the prompt is a command-line argument of `claude -p`, never a
        # record of the log: the log tree has none), the step partition (the converter makes one ATIF step per
        # content block, the log tree one step per model response, parallel tool_use blocks as sibling calls),
        # timestamps (assistant records carry none) and tree call ids (prefixed by the step key).
        assert atif.task and log.task is None, name
        assert len(log.steps) <= len(atif.steps), name
        # thoughts: the same set (ATIF repeats a response's reasoning on each of its block steps)
        assert {_text(s.thought).strip() for s in atif.steps if s.thought} == {  # type: ignore[union-attr]
            _text(s.thought) for s in log.steps if s.thought
        }, name
        # tool calls: every ATIF call is in the log tree with the same arguments, command, edits and observation
        by_key: dict[tuple[str, str, str, str | None, str], list[Call]] = {}
        for call in _tool_calls(log):
            by_key.setdefault(_call_key(call), []).append(call)
        wanted = Counter(_call_key(c) for c in _tool_calls(atif))
        for key, n in wanted.items():
            assert len(by_key.get(key, [])) >= n, (name, key[:2])
        for call in _tool_calls(atif):
            if call.observation is None:  # the converter kept the call, not its result
                unanswered += 1
                continue
            # the same call can recur (one id, one input); the one whose result text is the same is its twin
            text = _text(call.observation.text)
            same = [
                c for c in by_key[_call_key(call)] if c.observation and _same_result(text, _text(c.observation.text))
            ]
            assert same, (name, call.id)
            mine = same[0]
            by_key[_call_key(call)].remove(mine)
            assert mine.observation is not None
            assert (mine.observation.is_error, mine.observation.exit_code) == (
                call.observation.is_error,
                call.observation.exit_code,
            ), (name, call.id)
        # the converter leaves some calls of the session out of the ATIF file; the log has every one
        extra_calls += len(_tool_calls(log)) - len(_tool_calls(atif))
    assert compared == 41
    assert extra_calls > 0


@pytest.mark.parametrize("name", sorted(NO_ATIF))
def test_trial_without_atif_is_a_diagnosed_failed_run(shared: Path, name: str) -> None:
    trial = shared / CORPUS / name
    (run,) = build_runs(trial, EXTRACTORS[0])
    assert run.framework == "claude-code" and run.outcome == "failed"
    assert len(run.steps) >= 2 and _tool_calls(run)
    assert run.metadata["reward"] == 0.0 and run.metadata["trial_name"] == name
    assert run.exit_status == NO_ATIF[name]
    if NO_ATIF[name]:
        assert [e.kind for e in run.errors] == [NO_ATIF[name]]
    else:
        assert not run.errors
    shells = [c for c in _tool_calls(run) if c.name == "Bash" and c.action]
    for call in shells:
        assert call.action is not None and call.action.command == call.action.arguments.get("command"), name
    edits = [
        c
        for c in _tool_calls(run)
        if c.name in ("Write", "Edit", "MultiEdit") and c.action and c.action.arguments.get("file_path")
    ]  # the model sent some Write calls without arguments
    assert all(call.action is not None and call.action.edits for call in edits), name
    assert shells or edits
    for call in _tool_calls(run):  # a call no tool_result answered never ran to its end: cancelled, not an error
        assert (call.observation is None) == (call.ending == "cancelled") and call.complete == (call.ending is None)
    diagnosis = SignalLocalizer().localize(run)
    assert diagnosis.onset_step is not None and 1 <= diagnosis.onset_step <= len(run.steps)
    assert diagnosis.reasoning


def test_parallel_tool_uses_are_one_step_with_sibling_calls(shared: Path) -> None:
    # six Read blocks on six lines sharing one message id, their results on six later lines in another order
    trial = shared / CORPUS / "financial-document-processor__FkdfmDK"
    (run,) = build_runs(trial, EXTRACTORS[0])
    step = run.steps[1]
    tools = [c for c in step.calls if c.kind == "tool"]
    assert [c.id for c in tools] == [f"2:functions.Read:{i}" for i in range(2, 8)]
    for call in tools:
        assert call.observation is not None and call.action is not None
        assert _text(call.observation.text) == f"PDF file read: {call.action.arguments['file_path']}" or (
            str(_text(call.observation.text)).startswith(f"PDF file read: {call.action.arguments['file_path']} (")
        )
    assert step.thought and len([c for c in step.calls if c.kind == "llm"]) == 1


def _log_with(tmp_path: Path, shared: Path, line: int, text: bytes) -> Path:
    source = (shared / CORPUS / "chess-best-move__wpPQ5MU" / "agent" / "claude-code.txt").read_bytes().splitlines()
    source[line - 1] = text
    path = tmp_path / "claude-code.txt"
    path.write_bytes(b"\n".join(source) + b"\n")
    return path


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        (b'{"type":"assistant","message":{"id":"x","content":[', 3, "not JSON"),
        (b"[1, 2]", 4, "without a 'type'"),
        (b'{"type":"assistant","message":{"id":"x","content":"a"}}', 2, None),
        (b'{"type":"assistant","message":{"id":"x","content":7}}', 5, "'content' is not a list"),
        (b'{"type":"assistant","message":{"content":[{"type":"tool_use","name":"Bash"}]}}', 2, "tool_use id"),
    ],
)
def test_malformed_line_names_file_and_line(
    shared: Path, tmp_path: Path, text: bytes, line: int, problem: str | None
) -> None:
    path = _log_with(tmp_path, shared, line, text)
    if problem is None:  # a plain-string content is a text block, not an error
        (run,) = build_runs(path, EXTRACTORS[0])
        assert run.steps
        return
    with pytest.raises(ExtractError) as info:
        build_runs(path, EXTRACTORS[0])
    message = str(info.value)
    assert str(path) in message and f"line {line}" in message and problem in message
    assert info.value.position is not None and info.value.position.startswith(f"line {line}")


def test_a_log_cut_off_mid_record_is_read_up_to_its_last_whole_line(shared: Path, tmp_path: Path) -> None:
    """A killed agent's log can end in the middle of a record: the run is what the whole lines say, the torn line
    is named in the metadata; the same text with a newline after it is a malformed line (an error, above)."""
    whole = (shared / CORPUS / "vulnerable-secret__9tUKcpe" / "agent" / "claude-code.txt").read_bytes()
    lines = whole.splitlines()
    kept = tmp_path / "kept" / "claude-code.txt"
    kept.parent.mkdir()
    kept.write_bytes(b"\n".join(lines[:-1]) + b"\n")
    torn = tmp_path / "torn" / "claude-code.txt"
    torn.parent.mkdir()
    torn.write_bytes(b"\n".join(lines[:-1]) + b"\n" + lines[-1][: len(lines[-1]) // 2])
    (expected,) = build_runs(kept, EXTRACTORS[0])
    (run,) = build_runs(torn, EXTRACTORS[0])
    assert run.metadata["torn_line"] == len(lines) and "torn_line" not in expected.metadata
    assert [s.model_dump(exclude={"raw_ref"}) for s in run.steps] == [
        s.model_dump(exclude={"raw_ref"}) for s in expected.steps
    ]


def test_analyze_reads_every_trial(shared: Path, home: Path) -> None:
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "codetracer", "analyze", str(shared / CORPUS), "--no-store"],
        capture_output=True,
        text=True,
    )
    assert "unreadable inputs: 0" in out.stdout, out.stdout[-500:] + out.stderr[-500:]
    assert "Traceback" not in out.stderr
    summary = [line.split() for line in out.stdout.splitlines() if line.startswith("claude-code ")]
    assert summary and summary[-1][1] == "46"

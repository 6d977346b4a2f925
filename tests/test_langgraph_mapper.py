"""``GraphMapper``: the records of a LangGraph run traced through its updates stream, made into steps.

The records are built here as ``adapters/langchain/graph.py`` journals them (messages as the field dicts of
LangChain's message classes); the integration tests check the same mapping on real LangGraph runs. No LangChain
import: recovery maps these records in processes without it.
"""

from __future__ import annotations

from typing import Any

from codetracer.adapters.langchain.turns import GRAPH_MAPPER
from codetracer.core.builder import to_run
from codetracer.core.model import Run
from codetracer.core.runlog import Op, build_tree

RUN = "run-1"


def ai(content: Any, *calls: tuple[str, str, dict[str, Any]], tokens: tuple[int, int] | None = None,
       model: str | None = None) -> dict[str, Any]:
    """An ``AIMessage.__dict__`` as the journal holds it."""
    return {
        "content": content, "additional_kwargs": {}, "response_metadata": {"model_name": model} if model else {},
        "type": "ai", "name": None, "id": "m", "invalid_tool_calls": [],
        "tool_calls": [{"name": n, "args": a, "id": i, "type": "tool_call"} for n, i, a in calls],
        "usage_metadata": {"input_tokens": tokens[0], "output_tokens": tokens[1], "total_tokens": sum(tokens)}
        if tokens else None,
    }


def tool(call_id: str, name: str, content: str, status: str = "success") -> dict[str, Any]:
    """A ``ToolMessage.__dict__`` as the journal holds it."""
    return {"content": content, "additional_kwargs": {}, "response_metadata": {}, "type": "tool", "name": name,
            "id": None, "tool_call_id": call_id, "artifact": None, "status": status}


def run_of(*records: tuple[Any, ...], end: tuple[str, str] | None = ("unknown", "finished")) -> Run:
    ops: list[Op] = [("run_started", RUN, "langchain", "fix add()", {}, None, 1.0),
                     ("record", RUN, GRAPH_MAPPER, ("input", 1, 1.0), 1.0)]
    ops += [("record", RUN, GRAPH_MAPPER, record, None) for record in records]
    if end is not None:
        ops.append(("run_finished", RUN, end[0], end[1], {}, 99.0))
    return to_run(build_tree(ops, closed_at=99.0))


def calls_of(run: Run) -> list[list[tuple[str, str | None, str | None, bool]]]:
    return [
        [(c.kind, c.name, c.observation.text.text if c.observation and c.observation.text else None,
          bool(c.observation and c.observation.is_error)) for c in s.calls]
        for s in run.steps
    ]


def test_model_turns_with_parallel_tool_calls() -> None:
    run = run_of(
        ("update", "agent", [ai("Read both.", ("read_file", "p1", {"path": "a.py"}), ("run_shell", "p2",
                                                                                      {"command": "pytest"}),
                                tokens=(12, 5), model="gpt-test")], 1.0, 2.0),
        ("update", "tools", [tool("p2", "run_shell", "1 failed")], 2.0, 3.0),
        ("update", "tools", [tool("p1", "read_file", "def add(a, b): ...")], 3.0, 3.5),
        ("update", "agent", [ai("Done.")], 3.5, 4.0),
    )
    assert calls_of(run) == [
        [("llm", "gpt-test", None, False), ("tool", "read_file", "def add(a, b): ...", False),
         ("tool", "run_shell", "1 failed", False)],
        [("llm", "llm", None, False)],
    ]
    first, second = run.steps
    llm = first.calls[0]
    assert (llm.input_messages, llm.input_tokens, llm.output_tokens) == (1, 12, 5)
    assert (llm.started_at, llm.ended_at) == (1.0, 2.0)
    assert second.calls[0].input_messages == 4, "the input, the AI message and its two tool answers"
    assert first.thought is not None and first.thought.text == "Read both."
    assert [c.raw_ref for c in first.tool_calls] == ["tool_call_id=p1", "tool_call_id=p2"]
    shell = first.tool_calls[1]
    assert shell.action is not None and shell.action.command == "pytest"
    assert (shell.started_at, shell.ended_at) == (2.0, 3.0)
    assert first.ended_at == 3.5, "the step ends with its last tool answer"
    assert all(s.complete for s in run.steps)


def test_error_goes_to_the_one_tool_call_in_flight() -> None:
    run = run_of(
        ("update", "agent", [ai("", ("run_shell", "a2", {"command": "mkae"}))], 1.0, 2.0),
        ("error", "command not found: mkae", "RuntimeError", 2.0, 2.5),
        end=("failed", "RuntimeError"),
    )
    assert calls_of(run) == [[("llm", "llm", None, False), ("tool", "run_shell", "command not found: mkae", True)]]
    assert [(e.kind, e.error) for e in run.steps[0].errors] == [("RuntimeError", "command not found: mkae")]
    assert not run.errors


def test_error_with_no_tool_in_flight_is_the_model_call_that_did_not_return() -> None:
    run = run_of(("error", "endpoint unreachable", "ConnectionError", 1.0, 1.5), end=("failed", "ConnectionError"))
    (step,) = run.steps
    assert [(c.kind, c.response, c.input_messages) for c in step.calls] == [("llm", None, 1)]
    assert [(e.kind, e.error) for e in step.errors] == [("ConnectionError", "endpoint unreachable")]


def test_error_with_several_tools_in_flight_is_the_steps() -> None:
    run = run_of(
        ("update", "agent", [ai("", ("run_shell", "x", {"command": "a"}), ("run_shell", "y", {"command": "b"}))],
         1.0, 2.0),
        ("error", "boom", "OSError", 2.0, 3.0),
        end=("failed", "OSError"),
    )
    (step,) = run.steps
    assert [(e.kind, e.error) for e in step.errors] == [("OSError", "boom")]
    assert [c.observation for c in step.tool_calls] == [None, None], "which of the two raised is unknown"


def test_tool_answer_nobody_requested_is_a_step_of_its_own() -> None:
    run = run_of(("update", "tools", [tool("elsewhere", "run_shell", "ok")], 1.0, 2.0))
    assert calls_of(run) == [[("tool", "run_shell", "ok", False)]]


def test_messages_written_as_pairs_or_dicts_keep_their_text() -> None:
    run = run_of(
        ("update", "agent", [["assistant", "plain pair"]], 1.0, 2.0),
        ("update", "agent", [{"role": "ai", "content": [{"type": "text", "text": "block"}]}], 2.0, 3.0),
        ("update", "review", [["user", "not a model call"]], 3.0, 4.0),
    )
    assert [s.calls[0].response.text for s in run.steps if s.calls[0].response] == ["plain pair", "block"]
    assert len(run.steps) == 2


def test_killed_run_keeps_the_tool_call_in_flight_open() -> None:
    run = run_of(
        ("update", "agent", [ai("Run the tests.", ("run_shell", "k2", {"command": "pytest -q"}))], 1.0, 2.0),
        end=None,
    )
    assert not run.complete
    (call,) = run.steps[0].tool_calls
    assert call.observation is None and not call.complete
    assert call.action is not None and call.action.command == "pytest -q"


def test_unknown_record_is_an_error_of_the_run_not_a_lost_run() -> None:
    run = run_of(("update", "agent", [ai("ok")], 1.0, 2.0), ("telemetry", 1))
    assert len(run.steps) == 1
    assert any("telemetry" in e.error for e in run.errors)

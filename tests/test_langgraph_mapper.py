"""``GraphMapper``: the records of a LangGraph run traced through its updates stream, made into steps.

The records are built here as ``adapters/langchain/graph.py`` journals them (messages as the field dicts of
LangChain's message classes); the integration tests check the same mapping on real LangGraph runs. No LangChain
import: recovery maps these records in processes without it.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from codetracer.adapters.langchain.graph_turns import ident
from codetracer.adapters.langchain.turns import GRAPH_MAPPER
from codetracer.core.builder import to_run
from codetracer.core.model import Run
from codetracer.core.runlog import Op, build_tree

RUN = "run-1"
_ids = itertools.count(1)


def ai(content: Any, *calls: tuple[str, str, dict[str, Any]], tokens: tuple[int, int] | None = None,
       model: str | None = None) -> dict[str, Any]:
    """An ``AIMessage.__dict__`` as the journal holds it (a chat model's answer has its own id)."""
    return {
        "content": content, "additional_kwargs": {}, "response_metadata": {"model_name": model} if model else {},
        "type": "ai", "name": None, "id": f"lc_run-{next(_ids)}", "invalid_tool_calls": [],
        "tool_calls": [{"name": n, "args": a, "id": i, "type": "tool_call"} for n, i, a in calls],
        "usage_metadata": {"input_tokens": tokens[0], "output_tokens": tokens[1], "total_tokens": sum(tokens)}
        if tokens else None,
    }


def tool(call_id: str, name: str, content: str, status: str = "success") -> dict[str, Any]:
    """A ``ToolMessage.__dict__`` as the journal holds it."""
    return {"content": content, "additional_kwargs": {}, "response_metadata": {}, "type": "tool", "name": name,
            "id": None, "tool_call_id": call_id, "artifact": None, "status": status}


def run_of(*records: tuple[Any, ...], end: tuple[str, str] | None = ("unknown", "finished"),
           first: tuple[Any, ...] = ("input", 1, 1.0)) -> Run:
    ops: list[Op] = [("run_started", RUN, "langchain", "fix add()", {}, None, 1.0),
                     ("record", RUN, GRAPH_MAPPER, first, 1.0)]
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


# -- subgraphs, threads, where errors were raised, how runs end ----------------------------------------------------


def human(text: str, mid: str | None = None) -> dict[str, Any]:
    return {"content": text, "additional_kwargs": {}, "response_metadata": {}, "type": "human", "name": None,
            "id": mid}


def with_id(message: dict[str, Any], mid: str) -> dict[str, Any]:
    return {**message, "id": mid}


def test_a_subgraphs_returned_history_is_not_recorded_again() -> None:
    """A subagent's steps come from its own namespace; the parent's update for its node (the whole history, ids
    given by the reducer) adds nothing, and the next model reads the parent's state."""
    asked = ai("", ("read_file", "r1", {"path": "calc.py"}))
    answer = tool("r1", "read_file", "def add")
    done = ai("It subtracts.")
    run = run_of(
        ("sub", ["researcher:t1"], "model", [asked], 1.0, 2.0),
        ("sub", ["researcher:t1"], "tools", [answer], 2.0, 3.0),
        ("sub", ["researcher:t1"], "model", [done], 3.0, 4.0),
        ("update", "researcher", [human("fix add()", "h"), asked, with_id(answer, "given-by-reducer"), done], 4.0, 4.5),
        ("update", "supervisor", [{"__ref__": asked["id"]}, ai("All done.")], 4.5, 5.0),
        first=("input", 1, 1.0, [list(ident(human("fix add()")))]),
    )
    assert [(s.agent, s.raw_ref) for s in run.steps] == [("researcher", "node=researcher/model")] * 2 + [
        (None, "node=supervisor")]
    assert calls_of(run)[0] == [("llm", "llm", None, False), ("tool", "read_file", "def add", False)]
    assert [c.input_messages for s in run.steps for c in s.calls if c.kind == "llm"] == [1, 3, 4]


def test_a_resumed_thread_answers_the_earlier_request_with_its_arguments_and_replays_nothing() -> None:
    before = tool("t2", "run_shell", "1 passed")
    run = run_of(
        ("thread", "T", [[[], 5, ["h", "a1", "r1", "a2", "done-before"]]], {"q1": ["ask_human", {"question": "ok?"}]},
         1.0),
        ("update", "tools", [with_id(before, "done-before")], 1.0, 1.5),  # LangGraph replays the saved write
        ("update", "tools", [tool("q1", "ask_human", "yes")], 1.5, 2.0),
        ("update", "model", [ai("Done.")], 2.0, 3.0),
    )
    assert calls_of(run) == [[("tool", "ask_human", "yes", False)], [("llm", "llm", None, False)]]
    question = run.steps[0].tool_calls[0]
    assert question.action is not None and question.action.arguments == {"question": "ok?"}
    assert run.steps[1].calls[0].input_messages == 1 + 5 + 1, "the input's message, the thread's five, the answer"


def test_an_error_goes_where_it_was_raised() -> None:
    two = ai("", ("run_shell", "x", {"command": "a"}), ("run_shell", "y", {"command": "b"}))
    by_tool = run_of(("update", "model", [two], 1.0, 2.0),
                     ("error", "boom", "OSError", 2.0, 3.0, ["y", True, False, "tools"]),
                     ("end", "failed", 3.0), end=("failed", "OSError"))
    assert [(c.name, c.observation.is_error if c.observation else None, c.ending)
            for c in by_tool.steps[0].tool_calls] == [("run_shell", None, "cancelled"), ("run_shell", True, None)]
    by_node = run_of(("update", "model", [ai("ok")], 1.0, 2.0),
                     ("error", "'summary'", "KeyError", 2.0, 3.0, [None, False, False, "post"]),
                     end=("failed", "KeyError"))
    assert [(s.raw_ref, [c.kind for c in s.calls], [e.kind for e in s.errors]) for s in by_node.steps] == [
        ("node=model", ["llm"], []), ("node=post", [], ["KeyError"])], "no model call made up for the node"
    by_model = run_of(("error", "unreachable", "ConnectionError", 1.0, 2.0, [None, False, True, "agent/model"]),
                      end=("failed", "ConnectionError"))
    (step,) = by_model.steps
    assert (step.agent, step.raw_ref, [c.kind for c in step.calls]) == ("agent", "node=agent/model", ["llm"])


@pytest.mark.parametrize(("ending", "expected"), [("interrupted", "interrupted"), ("stopped", "cancelled"),
                                                  ("cancelled", "cancelled"), ("finished", None)])
def test_calls_in_flight_end_with_their_run(ending: str, expected: str | None) -> None:
    run = run_of(("update", "model", [ai("", ("run_shell", "k", {"command": "pytest"}))], 1.0, 2.0),
                 ("end", ending, 3.0))
    (call,) = run.steps[0].tool_calls
    assert call.ending == expected and call.observation is None

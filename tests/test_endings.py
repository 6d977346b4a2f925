"""The vocabulary of run endings (``core/endings.py``) and calls that end without returning (``call_ended``)."""

from __future__ import annotations

import asyncio
import concurrent.futures

import pytest

from codetracer.core import endings
from codetracer.core.builder import to_run
from codetracer.core.runlog import Op, build_tree
from codetracer.localize.calls import step_kind


class GraphInterrupt(Exception):
    """Named as LangGraph names its interrupt (core imports no framework: it goes by the class name)."""


class NodeInterrupt(GraphInterrupt):
    pass


@pytest.mark.parametrize(
    ("error", "ending"),
    [
        (None, "finished"),
        (GeneratorExit(), "stopped"),
        (asyncio.CancelledError(), "cancelled"),
        (concurrent.futures.CancelledError(), "cancelled"),
        (KeyboardInterrupt(), "cancelled"),
        (GraphInterrupt(), "interrupted"),
        (NodeInterrupt(), "interrupted"),
        (RuntimeError("command not found"), None),
        (ValueError("boom"), None),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, BaseException) else str(value),
)
def test_every_end_has_its_word_and_a_failure_has_none(error: BaseException | None, ending: str | None) -> None:
    assert endings.ending_of(error) == ending
    if ending is not None:
        assert ending in endings.NOT_FAILED


def test_calls_in_flight_are_interrupted_with_their_run_else_cancelled() -> None:
    assert endings.call_ending("interrupted") == "interrupted"
    assert {endings.call_ending(e) for e in ("stopped", "cancelled", "failed")} == {"cancelled"}
    assert {endings.call_ending(e) for e in endings.NOT_FAILED} <= endings.CALL_ENDINGS


def test_a_call_that_ended_without_returning_is_incomplete_and_no_failure() -> None:
    ops: list[Op] = [
        ("run_started", "r", "demo", "t", {}, None, 1.0),
        ("step_started", "r", "1", None, None, None, 1.0),
        ("tool_call_started", "r", "1", "a", "slow", {"key": "k"}, None, [], None, 1.0),
        ("tool_call_started", "r", "1", "b", "boom", {}, None, [], None, 1.0),
        ("tool_call_finished", "r", "b", "boom 1", None, True, 1.5),
        ("call_ended", "r", "a", "cancelled", 1.6),
        ("step_finished", "r", "1", 1.6),
        ("run_finished", "r", "failed", "ValueError", {}, 2.0),
    ]
    run = to_run(build_tree(ops))
    slow, boom = run.steps[0].tool_calls
    assert (slow.complete, slow.ending, slow.observation, slow.ended_at) == (False, "cancelled", None, 1.6)
    assert (boom.complete, boom.ending) == (True, None) and boom.observation is not None
    assert step_kind(run.steps[0]) == "failed", "the raising sibling fails the step"

    only_cancelled = to_run(build_tree([op for op in ops if op[0] != "tool_call_finished" and op[3:4] != ("b",)]))
    (call,) = only_cancelled.steps[0].tool_calls
    assert call.ending == "cancelled" and step_kind(only_cancelled.steps[0]) == "none", "a cancelled call did nothing"


def test_a_call_left_open_by_a_killed_process_has_no_ending() -> None:
    ops: list[Op] = [
        ("run_started", "r", "demo", "t", {}, None, 1.0),
        ("tool_call_started", "r", "1", "a", "bash", {"command": "pytest"}, "pytest", [], None, 1.0),
    ]
    run = to_run(build_tree(ops, closed_at=5.0))
    (call,) = run.steps[0].tool_calls
    assert (call.complete, call.ending, run.complete) == (False, None, False)

"""Events fold into the right tree; trees render and load back losslessly; huge texts keep both ends."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from codetracer.core.blobs import EDGE, BlobStore
from codetracer.core.builder import TreeBuilder
from codetracer.core.events import Events
from codetracer.core.model import Outcome, Run
from codetracer.core.render import render_text, run_to_json_obj
from codetracer.hooks.manager import PluginManager


def make(blobs: BlobStore | None = None) -> tuple[Events, TreeBuilder]:
    pm = PluginManager()
    builder = TreeBuilder(blobs=blobs)
    pm.register(builder, name="tree-builder")
    return Events(pm.hook), builder


def sample_run(events: Events) -> None:
    events.run_started("r1", "demo", task="fix the parser", metadata={"model": "m"}, timestamp=1.0)
    events.message("r1", "user", "please fix the parser", timestamp=1.0)
    events.step_started("r1", "a", thought="look around", timestamp=2.0)
    events.llm_call_started("r1", "a", "llm-1", model="m", input_messages=2)
    events.llm_call_finished("r1", "llm-1", response="ls", input_tokens=10, output_tokens=2, cost=0.001)
    events.tool_call_started("r1", "a", "t1", "bash", command="ls")
    events.tool_call_finished("r1", "t1", output="src tests", exit_code=0)
    events.step_finished("r1", "a")
    events.step_started("r1", "b", thought="edit two files at once")
    events.tool_call_started(
        "r1", "b", "t2", "editor", arguments={"path": "a.py"}, edits=[{"path": "a.py", "diff": "-x\n+y"}]
    )
    events.tool_call_started("r1", "b", "t3", "editor", arguments={"path": "b.py"}, edits=[{"path": "b.py"}])
    events.tool_call_finished("r1", "t3", output="ok")
    events.tool_call_finished("r1", "t2", output="no such file", is_error=True)
    events.step_finished("r1", "b")
    events.step_started("r1", "c")
    events.tool_call_started("r1", "c", "t4", "bash", command="pytest -q")
    events.tool_call_finished("r1", "t4", output="1 failed", exit_code=1)
    events.error("r1", "tests failed", step_key="c", kind="TestFailure")
    events.step_finished("r1", "c")
    events.run_finished("r1", "failed", exit_status="Submitted", timestamp=9.0)


def test_events_build_run_stage_step_call_tree() -> None:
    events, builder = make()
    sample_run(events)
    (run,) = builder.finished
    assert run.outcome is Outcome.FAILED and run.exit_status == "Submitted" and run.complete
    assert [s.id for s in run.steps] == [1, 2, 3]
    assert [s.key for s in run.steps] == ["a", "b", "c"]
    first = run.step(1)
    assert [c.kind for c in first.calls] == ["llm", "tool"]
    assert first.calls[0].input_tokens == 10 and first.calls[0].response.text == "ls"
    # parallel tool calls are siblings in one step, each with its own observation
    second = run.step(2)
    assert [c.id for c in second.tool_calls] == ["t2", "t3"]
    assert second.calls[0].action.edits[0].diff == "-x\n+y"
    assert second.calls[0].observation.is_error and not second.calls[1].observation.is_error
    assert second.is_error and not first.is_error
    third = run.step(3)
    assert third.errors[0].kind == "TestFailure" and third.all_observations[0].exit_code == 1
    assert run.messages[0].content.text == "please fix the parser"


def test_events_before_run_started_and_unknown_steps_are_tolerated() -> None:
    events, builder = make()
    events.tool_call_started("r", "s1", "c1", "bash", command="ls")  # no run, no step yet
    events.observation("r", "s2", "screen text")
    events.tool_call_finished("r", "nope", output="ignored")  # unknown call
    events.step_finished("r", "zzz")  # unknown step
    events.run_finished("r", "weird-outcome")
    (run,) = builder.finished
    assert [s.key for s in run.steps] == ["s1", "s2"]
    assert run.outcome is Outcome.UNKNOWN


def test_wrongly_typed_event_values_are_coerced_not_fatal() -> None:
    events, builder = make()
    events.run_started("r", "demo", metadata={"odd": object()})
    events.step_started("r", "1", agent=7)  # type: ignore[arg-type]
    events.message("r", None, "hi", step_key="1")  # type: ignore[arg-type]
    events.tool_call_started("r", "1", "c", 42, command="ls")  # type: ignore[arg-type]
    events.tool_call_finished("r", "c", output="ok", exit_code="zero")  # type: ignore[arg-type]
    events.run_finished("r", "solved")
    (run,) = builder.finished
    step = run.steps[0]
    assert step.agent == "7" and step.messages[0].role == "" and step.calls[0].name == "42"
    assert step.calls[0].observation.exit_code is None and step.calls[0].observation.text.text == "ok"
    assert "object object" in run.to_json()
    assert run.to_json_bytes() == run.to_json().encode(), "the bytes the store compresses are the same JSON"


def test_finalize_incomplete_closes_children_first() -> None:
    events, builder = make()
    events.run_started("r", "demo")
    events.step_started("r", "1")
    events.tool_call_started("r", "1", "c", "bash", command="sleep 100")
    assert builder.finalize_incomplete(timestamp=5.0) == 1
    (run,) = builder.finished
    assert not run.complete and not run.steps[0].complete and not run.steps[0].calls[0].complete
    assert run.steps[0].calls[0].ended_at == 5.0 and run.ended_at == 5.0


def test_json_round_trip_is_lossless_and_text_render_marks_onset() -> None:
    events, builder = make()
    sample_run(events)
    (run,) = builder.finished
    from codetracer.core.model import Diagnosis
    from codetracer.core.stages import ensure_stages

    ensure_stages(run)
    run.diagnosis = Diagnosis(localizer="test", onset_step=2, chain=[2, 3], incorrect_step_ids=[2, 3])
    again = Run.from_json(run.to_json())
    assert again == run
    text = render_text(run)
    assert ">> step 2" in text and " > step 3" in text and "pytest -q" in text
    line = json.loads(json.dumps(run_to_json_obj(run)))
    assert line["diagnosis"]["onset_step"] == 2 and line["steps"][2]["error"] is True
    assert {"run_id", "framework", "outcome", "steps"} <= set(line)
    assert {"id", "stage", "action", "observation", "error"} <= set(line["steps"][0])


def test_huge_observation_keeps_both_ends_and_the_whole_in_a_blob(tmp_path) -> None:
    blobs = BlobStore(tmp_path / "blobs")
    events, builder = make(blobs)
    big = "START" + "x" * 5_000_000 + "Traceback: the real error is here END"
    events.run_started("r", "demo")
    events.step_started("r", "1")
    events.tool_call_started("r", "1", "c", "bash", command="cat log")
    events.tool_call_finished("r", "c", output=big, exit_code=1)
    events.run_finished("r", "failed")
    text = builder.finished[0].steps[0].calls[0].observation.text
    assert text.size == len(big) and text.elided
    assert text.text.startswith("START") and text.text.endswith("the real error is here END")
    assert len(text.text) < 3 * EDGE
    assert blobs.get(text.blob) == big


event_names = st.sampled_from(["step", "tool", "finish_tool", "obs", "msg", "err", "end_step"])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(event_names, st.integers(0, 4), st.text(max_size=30)), max_size=40))
def test_any_event_sequence_builds_a_tree_that_round_trips(script: list[tuple[str, int, str]]) -> None:
    events, builder = make()
    events.run_started("r", "prop")
    for kind, n, text in script:
        key, call = f"s{n}", f"c{n}"
        if kind == "step":
            events.step_started("r", key, thought=text or None)
        elif kind == "tool":
            events.tool_call_started("r", key, call, "bash", command=text)
        elif kind == "finish_tool":
            events.tool_call_finished("r", call, output=text, exit_code=n)
        elif kind == "obs":
            events.observation("r", key, text)
        elif kind == "msg":
            events.message("r", "user", text, step_key=key if n % 2 else None)
        elif kind == "err":
            events.error("r", text, step_key=key)
        else:
            events.step_finished("r", key)
    events.run_finished("r", "failed")
    (run,) = builder.finished
    assert [s.id for s in run.steps] == list(range(1, len(run.steps) + 1))
    assert Run.from_json(run.to_json()) == run

"""The SWE-agent live hook, replayed from real hook-call transcripts and checked against the ``.traj`` of the same run.

``../shared/fixtures/swe-agent/sweagent-1.1-hook-calls-*.json`` hold every ``AbstractAgentHook`` call of a real
offline SWE-agent 1.1.0 run, in order, with its keyword arguments serialized (pydantic ``model_dump``); the run also
wrote ``sweagent-1.1-{fc,ta}-demo-1.traj``. Replaying the calls into :class:`SweAgentHook` must give the tree the
``.traj`` extractor builds from that file: same steps, thoughts, commands, tools, observations and outcome.
SWE-agent itself is not needed (it is not on PyPI); when it happens to be importable, the hook's methods are also
checked against its abstract classes.
"""

from __future__ import annotations

import copy
import importlib
import json
import subprocess
import sys
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from codetracer.adapters.swe_agent.artifacts import SweAgentExtractor
from codetracer.adapters.swe_agent.live import SweAgentHook, SweAgentRunHook, instrument
from codetracer.core.extract import build_runs
from codetracer.core.model import Run, Text
from codetracer.core.tracer import Tracer

PAIRS = {
    "function-calling": ("sweagent-1.1-hook-calls-function-calling.json", "sweagent-1.1-fc-demo-1.traj"),
    "thought-action": ("sweagent-1.1-hook-calls-thought-action.json", "sweagent-1.1-ta-demo-1.traj"),
}

AGENT_HOOK_METHODS = (
    "on_init",
    "on_run_start",
    "on_step_start",
    "on_actions_generated",
    "on_action_started",
    "on_action_executed",
    "on_step_done",
    "on_run_done",
    "on_setup_attempt",
    "on_model_query",
    "on_query_message_added",
    "on_setup_done",
    "on_tools_installation_started",
)
"""The 13 methods of ``sweagent.agent.hooks.abstract.AbstractAgentHook``."""

RUN_HOOK_METHODS = (
    "on_init",
    "on_start",
    "on_end",
    "on_instance_start",
    "on_instance_skipped",
    "on_instance_completed",
)
"""The methods of ``sweagent.run.hooks.abstract.RunHook``."""

Call = tuple[str, dict[str, Any]]


@pytest.fixture
def strict(caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The hook swallows its own exceptions (they must never reach the agent): make sure none happened."""
    import codetracer.adapters.swe_agent.hook as hook

    monkeypatch.setattr(hook, "_reported", set())
    with caplog.at_level("ERROR", logger="codetracer"):
        yield
    assert not [r for r in caplog.records if r.name.startswith("codetracer")], caplog.text


# -- transcripts ------------------------------------------------------------------------------------------------------


def fixture(shared: Path, name: str) -> Path:
    return shared / "fixtures" / "swe-agent" / name


def load_calls(path: Path) -> list[Call]:
    """The recorded calls, with what the recorder serialized turned back into objects of the shape SWE-agent passes:
    ``step`` is a StepOutput (attributes; its tool_calls, state and query stay dicts/lists), ``agent`` of
    ``on_init`` an agent object; messages, info and trajectory entries are dicts in SWE-agent too."""
    calls = []
    for raw in json.loads(path.read_text())["calls"]:
        kwargs = dict(raw["kwargs"])
        if isinstance(kwargs.get("step"), dict):
            kwargs["step"] = SimpleNamespace(**kwargs["step"])
        if raw["hook"] == "on_init" and isinstance(kwargs.get("agent"), dict):
            kwargs["agent"] = SimpleNamespace(**kwargs["agent"])
        calls.append((raw["hook"], kwargs))
    return calls


def replay(hook: Any, calls: list[Call]) -> None:
    for name, kwargs in calls:
        getattr(hook, name)(**kwargs)


def live_runs(calls: list[Call]) -> list[Run]:
    tracer = Tracer(persist=False, load_plugins=False)
    replay(SweAgentHook(tracer), calls)
    assert tracer.flush()
    return tracer.runs


def offline_run(path: Path) -> Run:
    runs = build_runs(path, SweAgentExtractor())
    assert len(runs) == 1
    return runs[0]


# -- comparing trees --------------------------------------------------------------------------------------------------


def text(value: Text | None) -> str | None:
    return None if value is None else value.text


def call_summary(call: Any) -> tuple[Any, ...]:
    action = call.action
    obs = call.observation
    return (
        call.kind,
        call.name,
        None if action is None else (action.tool, action.command, action.arguments, [e.path for e in action.edits]),
        None if obs is None else (text(obs.text), obs.exit_code, obs.is_error),
        text(call.response),
        call.input_messages,
        call.complete,
    )


def summary(run: Run) -> dict[str, Any]:
    """Everything the two paths must agree on (ids, timestamps, raw refs and source metadata aside)."""
    return {
        "framework": run.framework,
        "task": run.task,
        "outcome": str(run.outcome),
        "exit_status": run.exit_status,
        "complete": run.complete,
        "submission": run.metadata.get("submission"),
        "cost": run.metadata.get("cost"),
        "messages": [(m.role, text(m.content)) for m in run.messages],
        "errors": [(e.kind, e.error) for e in run.errors],
        "steps": [
            {
                "thought": text(step.thought),
                "calls": [call_summary(c) for c in step.calls],
                "observations": [(text(o.text), o.exit_code, o.is_error) for o in step.observations],
                "errors": [(e.kind, e.error) for e in step.errors],
                "complete": step.complete,
            }
            for step in run.steps
        ],
    }


# -- the recorded runs ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(PAIRS))
def test_replayed_hook_calls_give_the_tree_of_the_traj(shared: Path, kind: str, strict: None) -> None:
    transcript, traj = PAIRS[kind]
    raw = json.loads(fixture(shared, transcript).read_text())
    recorded = json.loads(fixture(shared, traj).read_text())
    # the two files come from the same run
    assert raw["result_exit_status"] == recorded["info"]["exit_status"]
    assert [c["kwargs"]["step"]["action"] for c in raw["calls"] if c["hook"] == "on_step_done"] == [
        e["action"] for e in recorded["trajectory"]
    ]

    runs = live_runs(load_calls(fixture(shared, transcript)))
    assert len(runs) == 1
    live, offline = runs[0], offline_run(fixture(shared, traj))
    assert summary(live) == summary(offline)
    assert live.framework == "swe-agent" and live.metadata["live"] is True
    assert live.parent_run_id is None
    assert len(live.steps) == len(recorded["trajectory"])
    assert all(s.started_at is not None and s.ended_at is not None for s in live.steps)


def test_function_calling_run_in_detail(shared: Path, strict: None) -> None:
    """``exit`` fires no on_action_started/on_action_executed: its call is closed from on_step_done."""
    run = live_runs(load_calls(fixture(shared, PAIRS["function-calling"][0])))[0]
    assert [s.tool_calls[0].action.command for s in run.steps] == ["ls -la", "python -m pytest -q", "exit"]
    assert [s.tool_calls[0].action.tool for s in run.steps] == ["bash", "bash", "bash"]
    assert run.steps[0].tool_calls[0].action.arguments == {"command": "ls -la"}
    assert text(run.steps[2].tool_calls[0].observation.text) == "Exited"
    assert all(c.complete for s in run.steps for c in s.calls)
    assert (run.exit_status, str(run.outcome)) == ("exit_command", "unknown")


def test_thought_action_submit_uses_the_recorded_observation(shared: Path, strict: None) -> None:
    """on_action_executed shows the raw submission marker; the step (and the .traj) record the patch text instead."""
    run = live_runs(load_calls(fixture(shared, PAIRS["thought-action"][0])))[0]
    last = run.steps[-1].tool_calls[0]
    assert last.action.tool == "submit"
    assert text(last.observation.text) == ""
    assert "SWE_AGENT_SUBMISSION" not in json.dumps(run.model_dump(mode="json"))
    assert text(run.steps[0].thought) == "I should look at the repository layout first.\n"
    assert text(run.steps[0].calls[0].response).startswith("I should look at the repository layout first.\n```")
    assert (run.exit_status, str(run.outcome)) == ("submitted", "unknown")


def test_retry_agent_attempts_become_child_runs(shared: Path, strict: None) -> None:
    """RetryAgent: on_run_start before the first attempt, on_init + on_setup_attempt per attempt, on_run_done once."""
    calls = load_calls(fixture(shared, PAIRS["thought-action"][0]))
    attempt = [c for c in calls if c[0] not in ("on_run_start", "on_run_done")]
    run_done = next(c for c in calls if c[0] == "on_run_done")
    runs = live_runs([("on_run_start", {}), *attempt, *copy.deepcopy(attempt), run_done])
    assert len(runs) == 2
    first, second = runs
    assert first.parent_run_id is None and second.parent_run_id == first.id
    assert second.metadata["attempt"] == 1
    offline = summary(offline_run(fixture(shared, PAIRS["thought-action"][1])))
    assert summary(first) == offline and summary(second) == offline


def test_setup_done_and_extra_keyword_arguments_change_nothing(shared: Path, strict: None) -> None:
    """Newer SWE-agent versions add on_setup_done and keyword arguments such as thinking_blocks."""
    calls = load_calls(fixture(shared, PAIRS["function-calling"][0]))
    first_step = next(i for i, c in enumerate(calls) if c[0] == "on_run_start")
    calls.insert(first_step, ("on_setup_done", {}))
    noisy = [(name, {**kwargs, "thinking_blocks": [], "some_future_argument": 1}) for name, kwargs in calls]
    plain = load_calls(fixture(shared, PAIRS["function-calling"][0]))
    assert summary(live_runs(noisy)[0]) == summary(live_runs(plain)[0])


def test_format_error_steps_are_read_from_the_agents_trajectory(shared: Path, tmp_path: Path, strict: None) -> None:
    """An answer that fails to parse reaches no hook: SWE-agent records it in the trajectory and re-queries. The hook
    reads it from the agent, so the live tree still has the step the ``.traj`` file has."""
    calls = load_calls(fixture(shared, PAIRS["thought-action"][0]))
    agent = SimpleNamespace(name="main", trajectory=[])
    calls[0] = ("on_init", {"agent": agent})
    bad = {"action": "", "observation": "", "response": "I will just think.", "thought": "I will just think.",
           "execution_time": 0.0, "state": {}, "query": [{"role": "system", "content": ""}], "extra_info": {}}
    second_query = [i for i, c in enumerate(calls) if c[0] == "on_model_query"][1]
    script: list[Any] = []
    for i, call in enumerate(calls):
        if call[0] == "on_step_done":  # SWE-agent appends the step to its trajectory right before on_step_done
            step = call[1]["step"]
            script.append(lambda s=step: agent.trajectory.append(
                {k: getattr(s, k) for k in ("action", "observation", "thought", "state", "query", "extra_info")}
                | {"response": s.output, "execution_time": s.execution_time}))
        script.append(call)
        if i == second_query:  # the answer failed to parse; the agent records it and asks again
            script.append(lambda: agent.trajectory.append(dict(bad)))
            script.append(call)
    tracer = Tracer(persist=False, load_plugins=False)
    hook = SweAgentHook(tracer)
    for item in script:
        if callable(item):
            item()
        else:
            getattr(hook, item[0])(**item[1])
    assert tracer.flush()
    live = tracer.runs[0]

    recorded = json.loads(fixture(shared, PAIRS["thought-action"][1]).read_text())
    recorded["trajectory"] = agent.trajectory
    path = tmp_path / "with-format-error.traj"
    path.write_text(json.dumps(recorded))
    assert summary(live) == summary(offline_run(path))
    assert len(live.steps) == 5 and text(live.steps[1].thought) == "I will just think."
    assert live.steps[1].tool_calls == []


def test_autosubmission_after_a_crashed_command_keeps_both_steps(shared: Path, strict: None) -> None:
    """A command that crashes the environment is not in the trajectory (the agent records a substitute step);
    live, the crashed command stays visible as an error step before it."""
    calls = load_calls(fixture(shared, PAIRS["thought-action"][0]))
    cut = [i for i, c in enumerate(calls) if c[0] == "on_action_started"][1]
    info = {"exit_status": "exit_environment_error", "submission": None, "model_stats": {"instance_cost": 0.5}}
    done = SimpleNamespace(thought="Exit due to environment error: boom", output="Exit due to environment error: boom",
                           action="", observation="", done=True, exit_status="exit_environment_error",
                           submission=None, state={}, tool_calls=None, query=[])
    runs = live_runs([*calls[:cut + 1], ("on_step_done", {"step": done, "info": info})])
    run = runs[0]
    assert len(run.steps) == 3
    crashed = run.steps[1]
    assert crashed.tool_calls[0].action.command.startswith("python -m pytest")
    assert crashed.tool_calls[0].observation.is_error
    assert [e.kind for e in crashed.errors] == ["exit_environment_error"]
    assert text(run.steps[2].thought) == "Exit due to environment error: boom"
    assert (run.exit_status, str(run.outcome), run.metadata["cost"]) == ("exit_environment_error", "failed", 0.5)


# -- robustness -------------------------------------------------------------------------------------------------------


class _Exploding:
    def __getattr__(self, name: str) -> Any:
        raise RuntimeError(f"no {name} today")


def test_every_hook_method_exists_and_tolerates_anything() -> None:
    tracer = Tracer(persist=False, load_plugins=False)
    hook = SweAgentHook(tracer)
    for name in AGENT_HOOK_METHODS:
        method = getattr(hook, name)
        assert method(unexpected=1) is None
        assert method(step=_Exploding(), info=_Exploding(), messages=_Exploding(), agent=_Exploding()) is None
    run_hook = SweAgentRunHook(tracer)
    for name in RUN_HOOK_METHODS:
        assert getattr(run_hook, name)(unexpected=1) is None
        assert getattr(run_hook, name)(run=_Exploding(), result=_Exploding(), problem_statement=_Exploding()) is None


def test_a_failing_tracer_never_reaches_the_agent(shared: Path) -> None:
    class Broken:
        def __getattr__(self, name: str) -> Any:
            def fail(*args: Any, **kwargs: Any) -> None:
                raise OSError("disk on fire")

            return fail

    hook = SweAgentHook(Tracer(persist=False, load_plugins=False))
    hook.ev = Broken()  # type: ignore[assignment]
    replay(hook, load_calls(fixture(shared, PAIRS["function-calling"][0])))  # must not raise


def test_module_imports_without_sweagent() -> None:
    code = (
        "import sys; sys.modules['sweagent'] = None\n"  # makes `import sweagent` fail
        "import codetracer.adapters.swe_agent.live as live\n"
        "assert callable(live.SweAgentHook) and callable(live.instrument)\n"
        "print('ok')"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


# -- attaching: codetracer.trace(agent), RunSingle, RunBatch ----------------------------------------------------------


class FakeAgent:
    """Stands for SWE-agent's DefaultAgent as far as hooks go: add_hook calls on_init and keeps the hook."""

    __module__ = "sweagent.agent.agents"

    def __init__(self) -> None:
        self.hooks: list[Any] = []

    def add_hook(self, hook: Any) -> None:
        hook.on_init(agent=self)
        self.hooks.append(hook)

    def step(self) -> None:  # pragma: no cover - never called
        raise AssertionError

    def play(self, calls: list[Call]) -> None:
        for name, kwargs in calls:
            if name == "on_init":
                continue  # add_hook already said it
            for hook in self.hooks:
                getattr(hook, name)(**kwargs)


def test_trace_attaches_once(shared: Path, strict: None) -> None:
    import codetracer

    tracer = Tracer(persist=False, load_plugins=False)
    agent = FakeAgent()
    assert codetracer.trace(agent, tracer=tracer) is agent
    assert codetracer.trace(agent, tracer=tracer) is agent
    assert instrument(agent, tracer) is agent
    assert len(agent.hooks) == 1
    agent.play(load_calls(fixture(shared, PAIRS["function-calling"][0])))
    assert tracer.flush()
    assert len(tracer.runs) == 1 and len(tracer.runs[0].steps) == 3


class FakeRunBatch:
    """SWE-agent's RunBatch as run hooks see it: each instance's agent is made inside ``_run_instance`` and never
    passed to them; the agent writes ``<output_dir>/<id>/<id>.traj`` before ``on_instance_completed``."""

    __module__ = "sweagent.run.run_batch"

    def __init__(self, output_dir: Path) -> None:
        self.hooks: list[Any] = []
        self.output_dir = output_dir

    def add_hook(self, hook: Any) -> None:
        hook.on_init(run=self)
        self.hooks.append(hook)

    def _run_instance(self, instance_id: str, traj: Path | None, barrier: threading.Barrier) -> None:
        problem_statement = SimpleNamespace(id=instance_id)
        for hook in self.hooks:
            hook.on_instance_start(index=0, env=None, problem_statement=problem_statement)
        barrier.wait(timeout=10)  # both workers are inside their runs at once
        if traj is not None:
            folder = self.output_dir / instance_id
            folder.mkdir(parents=True)
            (folder / f"{instance_id}.traj").write_bytes(traj.read_bytes())
        for hook in self.hooks:
            hook.on_instance_completed(result=SimpleNamespace(info={"exit_status": "submitted"}))


def run_batch(tmp_path: Path, plans: dict[str, Path | None]) -> tuple[Tracer, SweAgentRunHook]:
    tracer = Tracer(persist=False, load_plugins=False)
    batch = FakeRunBatch(tmp_path / "batch")
    run_hook = SweAgentRunHook(tracer)
    batch.add_hook(run_hook)
    barrier = threading.Barrier(len(plans))
    workers = [threading.Thread(target=batch._run_instance, args=(name, traj, barrier)) for name, traj in plans.items()]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=30)
    for hook in batch.hooks:
        hook.on_end()
    assert tracer.flush()
    return tracer, run_hook


def test_run_hook_traces_parallel_batch_instances_from_their_trajectories(
    shared: Path, tmp_path: Path, strict: None
) -> None:
    plans = {
        "fc-instance": fixture(shared, PAIRS["function-calling"][1]),
        "ta-instance": fixture(shared, PAIRS["thought-action"][1]),
    }
    tracer, run_hook = run_batch(tmp_path, plans)
    assert run_hook.hooks == []  # no agent was reached for: the batch's agents are out of a run hook's sight
    assert len(run_hook.run_ids) == 2 and {r.id for r in tracer.runs} == set(run_hook.run_ids)
    by_path = {Path(run.metadata["source_path"]).name: run for run in tracer.runs}
    for name, traj in plans.items():
        run = by_path[f"{name}.traj"]
        assert run.metadata["batch"] is True
        assert summary(run) == summary(offline_run(traj))


def test_run_hook_warns_when_an_instance_left_no_trajectory(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("WARNING", logger="codetracer"):
        tracer, run_hook = run_batch(tmp_path, {"lost": None})
    assert tracer.runs == [] and run_hook.run_ids == []
    assert [r.message for r in caplog.records if "lost" in r.message] == [
        f"codetracer: no trajectory at {tmp_path / 'batch' / 'lost' / 'lost.traj'} for SWE-agent instance lost; "
        "it is not traced"
    ]


def test_run_hook_attaches_to_a_single_run(shared: Path, strict: None) -> None:
    tracer = Tracer(persist=False, load_plugins=False)
    agent = FakeAgent()
    single = SimpleNamespace(agent=agent)
    run_hook = SweAgentRunHook(tracer)
    run_hook.on_init(run=single)
    run_hook.on_instance_start(index=0, env=None, problem_statement=SimpleNamespace(id="one"))
    assert len(agent.hooks) == 1  # on_init attached it, on_instance_start found it attached
    agent.play(load_calls(fixture(shared, PAIRS["thought-action"][0])))
    assert tracer.flush()
    assert [r.metadata["instance_id"] for r in tracer.runs] == ["one"]


def test_run_hook_closes_runs_of_agents_that_raised(shared: Path, strict: None) -> None:
    tracer = Tracer(persist=False, load_plugins=False)
    agent = FakeAgent()
    run_hook = SweAgentRunHook(tracer)
    run_hook.on_init(run=SimpleNamespace(agent=agent))
    calls = load_calls(fixture(shared, PAIRS["thought-action"][0]))
    agent.play(calls[: [c[0] for c in calls].index("on_action_executed") + 1])  # the agent dies mid-step
    run_hook.on_end()
    assert tracer.flush()
    run = tracer.runs[0]
    assert str(run.outcome) == "failed" and run.metadata["incomplete"] is True
    assert [e.kind for e in run.errors] == ["Incomplete"]
    assert len(run.steps) == 1 and run.steps[0].tool_calls[0].observation is not None


# -- the real package, when it is installed ---------------------------------------------------------------------------


def test_against_the_real_sweagent_hook_classes() -> None:
    abstract = pytest.importorskip("sweagent.agent.hooks.abstract")
    run_abstract = importlib.import_module("sweagent.run.hooks.abstract")
    agent_methods = {n for n in vars(abstract.AbstractAgentHook) if n.startswith("on_")}
    assert agent_methods <= set(dir(SweAgentHook))
    run_methods = {n for n in vars(run_abstract.RunHook) if n.startswith("on_")}
    assert run_methods <= set(dir(SweAgentRunHook))
    combined = abstract.CombinedAgentHook()
    combined.add_hook(SweAgentHook(Tracer(persist=False, load_plugins=False)))
    combined.on_step_start()  # the real dispatcher calls it as SWE-agent does


def test_a_killed_run_recovers_from_its_journal_with_the_steps_it_had(shared: Path, home: Path, strict: None) -> None:
    """The steps are journaled as the hook's records (mapper ``"swe-agent"``) and mapped when the tree is built: the
    journal of a run that never ended (the last ``on_step_done`` never came: a killed process) maps, through its JSON
    lines, to the tree the open run's records in memory give, steps and the call in flight included."""
    from codetracer.core.builder import to_run
    from codetracer.core.journal import read_ops
    from codetracer.core.runlog import build_tree

    calls = load_calls(fixture(shared, PAIRS["function-calling"][0]))
    last_done = max(i for i, (name, _) in enumerate(calls) if name == "on_step_done")
    tracer = Tracer(load_plugins=False)
    hook = SweAgentHook(tracer)
    replay(hook, calls[:last_done])
    (run_id,) = hook.run_ids
    path = tracer.journal.path_of(run_id) if tracer.journal is not None else None
    assert path is not None
    ops, skipped = read_ops(path)
    assert skipped == 0 and {op[2] for op in ops if op[0] == "record"} == {"swe-agent"}
    recovered = to_run(build_tree(ops, closed_at=ops[-1][-1]))
    kept = tracer.builder.snapshot(run_id)
    tracer.close()
    assert kept is not None and kept.steps
    done, in_flight = summary(recovered)["steps"], summary(kept)["steps"]
    assert done[:-1] == in_flight[:-1]
    # the step whose end never came: the same thought and calls, and recovery closes it as incomplete
    assert done[-1]["thought"] == in_flight[-1]["thought"] == "bye"
    assert [c[:6] for c in done[-1]["calls"]] == [c[:6] for c in in_flight[-1]["calls"]]
    assert done[-1]["complete"] is False and recovered.complete is False
    assert len(recovered.steps) == len(live_runs(calls)[0].steps)  # only the last step's end was missing

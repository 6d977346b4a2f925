"""Assertions about trace trees that read well in agent tests, with failure messages that show the steps involved.

::

    from codetracer.testing import assert_called_before, assert_finished_within, assert_no_step_errored

    def test_agent_fixes_the_bug(codetracer):
        agent.run(task)
        run = codetracer.run
        assert_called_before(run, "pytest", "submit")   # reproduce before submitting
        assert_no_step_errored(run)
        assert_finished_within(run, 8)

A *matcher* picks tool calls: a string matches a call whose tool name equals it or whose shell command contains it
(``"pytest"`` matches ``bash: python -m pytest -q``); a callable gets the :class:`~codetracer.core.model.Call` and
its :class:`~codetracer.core.model.Step` and returns a bool. Every helper takes a :class:`~codetracer.core.model.Run`
(or the ``codetracer`` fixture, meaning its last run) and raises ``AssertionError`` whose message lists the relevant
steps the way ``codetracer show`` prints them, so the failure says what the agent actually did.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from codetracer.core.model import Call, Outcome, Run, Step
from codetracer.core.render import action_summary, observation_summary, shorten

Matcher = str | Callable[[Call, Step], bool]

__all__ = [
    "Matcher",
    "assert_called",
    "assert_called_before",
    "assert_finished_within",
    "assert_no_step_errored",
    "assert_not_called",
    "assert_outcome",
    "find_calls",
    "format_steps",
]

_WIDTH = 110


def _run_of(target: Run | Any) -> Run:
    """A run, or the ``codetracer`` fixture's last run."""
    if isinstance(target, Run):
        return target
    run = getattr(target, "run", None)
    if isinstance(run, Run):
        return run
    raise TypeError(f"expected a codetracer Run (or the codetracer fixture), got {type(target).__name__}")


def _matches(matcher: Matcher, call: Call, step: Step) -> bool:
    if callable(matcher):
        return bool(matcher(call, step))
    if call.kind != "tool":
        return False
    if call.name == matcher:
        return True
    command = call.action.command if call.action is not None else None
    return bool(command) and matcher in command  # type: ignore[operator]


def _describe(matcher: Matcher) -> str:
    return repr(matcher) if isinstance(matcher, str) else getattr(matcher, "__name__", repr(matcher))


def find_calls(run: Run | Any, matcher: Matcher) -> list[tuple[Step, Call]]:
    """Every tool call of ``run`` that ``matcher`` picks, in order, with its step."""
    tree = _run_of(run)
    return [(step, call) for step in tree.steps for call in step.calls if _matches(matcher, call, step)]


def format_steps(run: Run | Any, step_ids: Iterable[int] | None = None, *, mark: Iterable[int] = ()) -> str:
    """Steps as one line per action and one per result (all steps by default); ``mark`` flags steps with ``>>``."""
    tree = _run_of(run)
    marked = set(mark)
    ids = list(step_ids) if step_ids is not None else [s.id for s in tree.steps]
    lines = []
    for step_id in ids:
        if not 1 <= step_id <= len(tree.steps):
            continue
        step = tree.step(step_id)
        flag = ">>" if step_id in marked else "  "
        err = " !" if step.is_error else ""
        head = f"{flag} step {step_id}{err}"
        actions = [c for c in step.calls if c.action is not None]
        if not actions:
            text = step.thought.text if step.thought else (step.messages[0].content.text if step.messages else "")
            lines.append(f"{head}  {shorten(text, _WIDTH - len(head))}")
        for n, call in enumerate(actions):
            assert call.action is not None
            lines.append(f"{head if n == 0 else ' ' * len(head)}  {shorten(action_summary(call.action), _WIDTH)}")
            if call.observation is not None:
                lines.append(f"{' ' * len(head)}    -> {observation_summary(call.observation, 90)}")
        for obs in step.observations:
            lines.append(f"{' ' * len(head)}    -> {observation_summary(obs, 90)}")
        for error in step.errors:
            lines.append(f"{' ' * len(head)}    error: {shorten(error.error, 90)}")
    return "\n".join(lines)


def _fail(message: str, run: Run, step_ids: Iterable[int] | None = None, mark: Iterable[int] = ()) -> None:
    __tracebackhide__ = True
    steps = format_steps(run, step_ids, mark=mark)
    where = f"run {run.id} ({run.framework}, {run.outcome.value}, {len(run.steps)} steps)"
    raise AssertionError(f"{message}\n{where}:\n{steps}" if steps else f"{message}\n{where}: no steps")


def assert_called(run: Run | Any, matcher: Matcher, *, times: int | None = None) -> list[tuple[Step, Call]]:
    """The agent made a tool call ``matcher`` picks (exactly ``times`` times when given); returns the matches."""
    __tracebackhide__ = True
    tree = _run_of(run)
    found = find_calls(tree, matcher)
    if not found:
        _fail(f"no tool call matched {_describe(matcher)}; the agent did:", tree)
    if times is not None and len(found) != times:
        ids = sorted({step.id for step, _ in found})
        _fail(f"{_describe(matcher)} was called {len(found)} time(s), expected {times}:", tree, ids, mark=ids)
    return found


def assert_not_called(run: Run | Any, matcher: Matcher) -> None:
    """No tool call picked by ``matcher`` happened."""
    __tracebackhide__ = True
    tree = _run_of(run)
    found = find_calls(tree, matcher)
    if found:
        ids = sorted({step.id for step, _ in found})
        _fail(f"{_describe(matcher)} was called at step(s) {', '.join(map(str, ids))}:", tree, ids, mark=ids)


def assert_called_before(run: Run | Any, first: Matcher, then: Matcher) -> None:
    """A call picked by ``first`` happened in an earlier step than every call picked by ``then``.

    Both must happen. Calls in the same step are parallel siblings, so they do not count as "before".
    """
    __tracebackhide__ = True
    tree = _run_of(run)
    firsts = find_calls(tree, first)
    thens = find_calls(tree, then)
    if not firsts:
        _fail(f"{_describe(first)} was never called (expected before {_describe(then)}); the agent did:", tree)
    if not thens:
        _fail(f"{_describe(then)} was never called (expected after {_describe(first)}); the agent did:", tree)
    first_step = firsts[0][0].id
    early = [step.id for step, _ in thens if step.id <= first_step]
    if early:
        ids = sorted({*early, first_step})
        _fail(
            f"{_describe(then)} was called at step {early[0]}, not after the first {_describe(first)} "
            f"(step {first_step}):",
            tree,
            range(1, max(ids) + 1),
            mark=ids,
        )


def assert_no_step_errored(run: Run | Any) -> None:
    """No step raised, had an error result or a non-zero exit code."""
    __tracebackhide__ = True
    tree = _run_of(run)
    bad = [step.id for step in tree.steps if step.is_error]
    if bad:
        _fail(f"{len(bad)} step(s) errored: {', '.join(map(str, bad))}", tree, bad, mark=bad)
    if tree.errors:
        _fail(f"the run has {len(tree.errors)} error(s): {shorten(tree.errors[0].error, 200)}", tree, [])


def assert_finished_within(run: Run | Any, max_steps: int) -> None:
    """The run reported its end (it did not crash or hang) and took at most ``max_steps`` steps."""
    __tracebackhide__ = True
    tree = _run_of(run)
    if not tree.complete:
        last = range(max(1, len(tree.steps) - 2), len(tree.steps) + 1)
        _fail(f"the run never finished (still open or killed after {len(tree.steps)} steps); its last steps:",
              tree, last)
    if len(tree.steps) > max_steps:
        _fail(f"the run took {len(tree.steps)} steps, more than {max_steps}:", tree)


def assert_outcome(run: Run | Any, outcome: str | Outcome) -> None:
    """The run's outcome is ``outcome`` (``solved`` / ``failed`` / ``unknown``)."""
    __tracebackhide__ = True
    tree = _run_of(run)
    expected = Outcome.parse(outcome)
    if tree.outcome is not expected:
        status = f", exit status {tree.exit_status}" if tree.exit_status else ""
        last = range(max(1, len(tree.steps) - 2), len(tree.steps) + 1)
        _fail(f"the run is {tree.outcome.value}{status}, expected {expected.value}; its last steps:", tree, last)

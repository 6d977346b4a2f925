"""Runs for the report tests: a long realistic run and one whose observations carry HTML and script.

Built through the same hooks a live trace uses (events -> tree builder -> stages -> localizer), so the reports are
made from real trees rather than hand-written JSON.
"""

from __future__ import annotations

from codetracer.core.builder import TreeBuilder
from codetracer.core.events import Events
from codetracer.core.model import Run
from codetracer.core.stages import ensure_stages
from codetracer.hooks.manager import PluginManager
from codetracer.localize.registry import LocalizerRegistry

PWNED = "<script>window.__pwned=1</script>"
IMG = '<img src=x onerror="window.__pwned=2">'
HOSTILE = (
    f"total 3\n{PWNED}\n{IMG}\n</script><script>window.__pwned=3</script>\n<!-- comment --> &amp; &lt; "
    '\u2028 line separator\n<style>body{display:none}</style><a href="javascript:window.__pwned=4">x</a>'
)
NEEDLE = "zebra-needle-4711"


def _events() -> tuple[Events, TreeBuilder]:
    pm = PluginManager()
    builder = TreeBuilder()
    pm.register(builder, name="tree-builder")
    return Events(pm.hook), builder


def _finish(builder: TreeBuilder) -> Run:
    (run,) = builder.finished
    ensure_stages(run)
    localizer = LocalizerRegistry.from_plugins().get()
    if localizer is not None:
        run.diagnosis = localizer.localize(run)
    return run


def long_run(n_steps: int = 1000, hostile_step: int | None = 7, output_chars: int = 1500) -> Run:
    """``n_steps`` steps cycling through inspect / edit / test, a failing test streak, and hostile text at one step.

    Outputs are ``output_chars`` long so the page carries a realistic amount of text (a few MB for 1,000 steps).
    """
    ev, builder = _events()
    rid = "report:long:1"
    ev.run_started(rid, "demo-agent", task="Make the failing tests pass without touching the tests.", timestamp=1.0)
    filler = "".join(f"line {i}: some ordinary tool output here\n" for i in range(output_chars // 40 + 1))
    for i in range(1, n_steps + 1):
        key = str(i)
        phase = i % 5
        t = 1.0 + i * 2
        ev.step_started(rid, key, thought=f"step {i}: thinking about what to do next ({'x' * 80})", timestamp=t)
        if phase == 0:
            cmd, out, code = f"sed -i 's/a{i}/b{i}/' src/module_{i % 13}.py", "", 0
            ev.tool_call_started(
                rid,
                key,
                f"c{i}",
                "editor",
                arguments={"path": f"src/module_{i % 13}.py"},
                edits=[{"path": f"src/module_{i % 13}.py", "diff": f"-a{i}\n+b{i}"}],
                timestamp=t,
            )
        else:
            if phase in (1, 2):
                cmd, out, code = f"grep -rn 'def f{i}' src/", filler[:output_chars], 0
            elif phase == 3:
                cmd, out, code = "python -m pytest -q tests/", filler[:output_chars] + "\n1 failed, 9 passed", 1
            else:
                cmd, out, code = f"cat src/module_{i % 13}.py", filler[:output_chars], 0
            ev.tool_call_started(rid, key, f"c{i}", "bash", command=cmd, timestamp=t)
        if i == hostile_step:
            out = HOSTILE
        if i == n_steps // 2:
            out = f"{out}\nfound {NEEDLE} in the log"
        ev.tool_call_finished(rid, f"c{i}", output=out, exit_code=code, timestamp=t + 1)
        ev.step_finished(rid, key, timestamp=t + 1.5)
    ev.run_finished(rid, "failed", timestamp=2.0 + n_steps * 2)
    return _finish(builder)


def hostile_run() -> Run:
    """A short failed run whose observations, command and thought contain markup and script."""
    ev, builder = _events()
    rid = "report:hostile:<b>1</b>"
    ev.run_started(rid, "demo-agent", task=f"task with {IMG}", timestamp=1.0)
    steps = [
        ("ls -la", HOSTILE, 0),
        (f"echo '{PWNED}'", PWNED, 0),
        ("python -m pytest -q", f"E   AssertionError {IMG}\n1 failed", 1),
        ("sed -i 's/x/y/' app.py", "", 0),
        ("python -m pytest -q", f"E   AssertionError {PWNED}\n1 failed", 1),
    ]
    for i, (cmd, out, code) in enumerate(steps, 1):
        ev.step_started(rid, str(i), thought=f"thought {i} {PWNED}", timestamp=1.0 + i)
        ev.tool_call_started(rid, str(i), f"c{i}", "bash", command=cmd, timestamp=1.0 + i)
        ev.tool_call_finished(rid, f"c{i}", output=out, exit_code=code, timestamp=1.5 + i)
        ev.step_finished(rid, str(i), timestamp=1.6 + i)
    ev.run_finished(rid, "failed", timestamp=10.0)
    return _finish(builder)

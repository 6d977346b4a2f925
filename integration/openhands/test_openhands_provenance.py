"""Edit provenance and diagnosis of live OpenHands runs: the real openhands-sdk ``LocalConversation`` with its
``TestLLM``, real shell commands in a (git) workspace.

The scripted agent writes an edit script with a heredoc, runs it in the next turn, tries a second edit and throws it
away with ``git checkout``, prints ``git diff`` and finishes. The live tree must blame the final diff to the step
that wrote the script, and the persisted conversation must give the same changes offline.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("OPENHANDS_SUPPRESS_BANNER", "1")

import pytest

pytest.importorskip("openhands.sdk", reason="needs openhands-sdk (Python >= 3.12)")

from integration.shown import assert_shown_with_diagnosis
from openhands.sdk import Agent
from openhands.sdk.testing import TestLLM
from test_openhands_live import conversation, offline_run, reply, shell

import codetracer
from codetracer.core.tracer import Tracer
from codetracer.localize.signal_localizer import SignalLocalizer

SCRIPT = """cat <<'EOF' > fix.py
from pathlib import Path
p = Path("calc.py")
p.write_text(p.read_text().replace("return a - b", "return a + b + 1"))
EOF"""

@pytest.fixture
def tracer(tmp_path: Path) -> Iterator[Tracer]:
    """A tracer of its own (no entry-point plugins), closed after the test."""
    tracer = Tracer(tmp_path / "home", load_plugins=False)
    yield tracer
    tracer.close()


STEPS = [
    reply("Write a script that fixes add().", shell("c1", SCRIPT)),
    reply("Run it.", shell("c2", "python3 fix.py")),
    reply("Try renaming the argument too.", shell("c3", "sed -i 's/(a, b)/(x, b)/' calc.py")),
    reply("No, undo that.", shell("c4", "git checkout -- calc.py && python3 fix.py && git diff")),
    reply("Done.", ("c5", "finish", {"message": "fixed add"})),
]


def test_live_blame_matches_the_persisted_conversation(tmp_path: Path, tracer: Tracer) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    for command in (["git", "init", "-q"], ["git", "add", "-A"],
                    ["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "start"]):
        subprocess.run(command, cwd=ws, check=True)
    cb = codetracer.trace(Agent(llm=TestLLM.from_messages([]), tools=[]), tracer=tracer, run_id="oh-prov")
    conv = conversation(tmp_path, STEPS, [cb])
    conv.send_message("add() subtracts; fix calc.py.")
    conv.run()
    cb.finish("failed", status=conv.state.execution_status)  # the caller's verdict: add(2, 3) is 6
    assert tracer.flush()
    (run,) = tracer.runs

    prov = run.provenance
    assert prov is not None and prov.patch_source == "git diff at step 4"
    assert [f.path for f in prov.files] == ["calc.py"] and prov.files[0].authors == [1]
    assert prov.surviving_steps == [1] and 2 in prov.applied_steps
    assert {c.path: c.fate for c in run.step(3).changes} == {"calc.py": "reverted"}
    diagnosis = SignalLocalizer().localize(run)
    assert diagnosis.onset_step == 1 and diagnosis.confidence >= 0.5

    offline = offline_run(conv)
    assert [s.changes for s in offline.steps] == [s.changes for s in run.steps]


# -- a failed live run diagnosed where the user looks ------------------------------------------------------------------

PYTEST = "python3 -m pytest -q -p no:cacheprovider"
WRONG_SED = "sed -i 's/return a - b/return a + b + 1/' calc.py"


def wrong_fix(tested: bool) -> list[Any]:
    """Read, the wrong edit (``+ 1``), the tests run (failing visibly) when ``tested``, finish."""
    steps = [reply("Read the code.", shell("d1", "cat calc.py")),
             reply("Make add() add.", shell("d2", WRONG_SED))]
    if tested:
        steps.append(reply("Run the tests.", shell("d3", PYTEST)))
    return [*steps, reply("Done.", ("d9", "finish", {"message": "fixed add"}))]


@pytest.mark.parametrize("how", ["one-line", "auto-retry"])
@pytest.mark.parametrize("tested", [True, False], ids=["tests-failed-visibly", "submitted-untested"])
def test_a_failed_live_run_is_diagnosed_and_names_the_wrong_edit(tmp_path: Path, home: Path, tested: bool,
                                                                 how: str) -> None:
    """The verifier given to the one line (``codetracer.trace(agent, verify=...)``, run as the agent finishes) or to
    ``auto_retry(conversation, verify=...)`` (one attempt here): the verify command's output becomes the run's
    verification node, the stored run carries the diagnosis, and ``ls``/``show``/``--json``/``report`` name the
    wrong ``sed``. Nobody calls ``cb.finish()``."""
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    (ws / "test_calc.py").write_text("import calc\n\n\ndef test_add():\n    assert calc.add(2, 3) == 5\n")
    task = "add() subtracts; fix calc.py so that test_calc.py passes."
    tracer = Tracer(home, load_plugins=False)
    try:
        agent = Agent(llm=TestLLM.from_messages([]), tools=[])
        if how == "one-line":
            cb = codetracer.trace(agent, tracer=tracer, verify=PYTEST, workspace=ws)
            conv = conversation(tmp_path, wrong_fix(tested), [cb])
            conv.send_message(task)
            conv.run()
            assert not cb.active
        else:
            cb = codetracer.trace(agent, tracer=tracer)
            conv = conversation(tmp_path, wrong_fix(tested), [cb])
            codetracer.auto_retry(conv, verify=PYTEST, max_attempts=1, tracer=tracer).run(task)
        assert tracer.flush()
        (run,) = tracer.runs
    finally:
        tracer.close()
    assert str(run.outcome) == "failed" and len(run.steps) == (4 if tested else 3)
    v = run.verification
    assert v is not None and (v.command, v.passed, v.exit_code) == (PYTEST, False, 1)
    assert v.failed_tests == ["test_calc.py::test_add"] and v.output is not None and "assert 6 == 5" in v.output.text
    assert run.diagnosis is not None and run.diagnosis.onset_step == 2
    shown = assert_shown_with_diagnosis(run.id, 2, WRONG_SED, tmp_path, verifier=PYTEST)
    assert "test_calc.py::test_add" in shown["diagnosis"]["reasoning"]  # the verifier's evidence, not a guess


def test_a_verifier_that_cannot_run_is_a_verifier_error(tmp_path: Path, home: Path) -> None:
    (tmp_path / "ws").mkdir()
    tracer = Tracer(home, load_plugins=False)
    try:
        cb = codetracer.trace(Agent(llm=TestLLM.from_messages([]), tools=[]), tracer=tracer)
        conv = conversation(tmp_path, [reply("Done.", ("d9", "finish", {"message": "nothing to do"}))], [cb])
        retrying = codetracer.auto_retry(conv, verify="no-such-test-runner", max_attempts=1, tracer=tracer)
        retrying.run("Check the project.")
        assert tracer.flush()
        (run,) = tracer.runs
    finally:
        tracer.close()
    assert retrying.attempts[0].verdict.kind == "verifier_error"
    assert (str(run.outcome), run.diagnosis) == ("unknown", None)  # the verifier broke, not the agent
    v = run.verification
    assert v is not None and v.passed is None and v.output is not None
    assert v.output.text.startswith("verifier error: the command was not found (exit 127)")

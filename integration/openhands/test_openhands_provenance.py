"""Edit provenance of a live OpenHands run: the real openhands-sdk ``LocalConversation`` with its ``TestLLM``, real
shell commands in a git workspace.

The scripted agent writes an edit script with a heredoc, runs it in the next turn, tries a second edit and throws it
away with ``git checkout``, prints ``git diff`` and finishes. The live tree must blame the final diff to the step
that wrote the script, and the persisted conversation must give the same changes offline.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("OPENHANDS_SUPPRESS_BANNER", "1")

import pytest

pytest.importorskip("openhands.sdk", reason="needs openhands-sdk (Python >= 3.12)")

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

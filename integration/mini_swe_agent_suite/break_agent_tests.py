"""A pytest plugin that breaks two of mini-swe-agent's own agent tests at run time (``-p break_agent_tests``).

Loaded into a run of mini's suite by ``test_mini_suite.py``; mini's files stay as they are. Both tests run once per
model kind of mini's ``model_factory`` fixture (text, tool calls, Responses API):

* ``test_multiple_steps_before_completion`` gets another script of four scripted actions on a file it is given:
  read it, a **wrong ``sed`` edit at step 2** (``no`` -> ``every`` where the task wants ``all``), a check of the
  file at step 3 (which fails), and the submission of the file's content, so the test's own assertion on the
  submission fails. With ``CT_BREAK_RIGHT_EDIT=1`` step 2 makes the right edit and the test passes (the control).
* ``test_successful_completion`` gets a **wrong expectation** after its own assertions, which pass: the agent did
  nothing wrong, so no confident onset must be reported.

The scripts are substituted by wrapping the model factories the fixture returns (module attributes of mini's
``tests.agents.test_default``, looked up each time the fixture runs).
"""

from __future__ import annotations

import functools
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest

WRONG_EDIT_TEST = "test_multiple_steps_before_completion"
WRONG_EXPECTATION_TEST = "test_successful_completion"
FACTORIES = ("make_text_model", "make_tc_model", "make_response_api_model")


def wrong_edit_script(path: Path) -> list[tuple[str, list[dict[str, str]]]]:
    """Four steps on a file the test's task is about; step 2 is the wrong edit, step 3 the check that shows it."""
    path.write_text("completed no steps\n")
    edit = "all" if os.environ.get("CT_BREAK_RIGHT_EDIT") == "1" else "every"
    return [
        ("Read the summary file", [{"command": f"cat {path}"}]),
        ("Fix the wording of the summary", [{"command": f"sed -i 's/no/{edit}/' {path}"}]),
        ("Check the summary", [{"command": f"grep -qx 'completed all steps' {path}"}]),
        ("Submit the summary", [{"command": f"echo 'COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT'\ncat {path}"}]),
    ]


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    name = getattr(item, "originalname", item.name)
    if name == WRONG_EDIT_TEST:
        module = item.module  # type: ignore[attr-defined]
        folder = Path(tempfile.mkdtemp(prefix="ct-break-"))
        item.stash[_FOLDER] = folder
        path = folder / "summary.txt"
        script = wrong_edit_script(path)
        item.stash[_RESTORE] = [(module, factory, getattr(module, factory)) for factory in FACTORIES]
        for module, factory, original in item.stash[_RESTORE]:
            setattr(module, factory, _scripted(original, script))
    elif name == WRONG_EXPECTATION_TEST:
        item.obj = _with_wrong_expectation(item.obj)  # type: ignore[attr-defined]


def pytest_runtest_teardown(item: pytest.Item) -> None:
    for module, factory, original in item.stash.get(_RESTORE, []):
        setattr(module, factory, original)
    folder = item.stash.get(_FOLDER, None)
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)


_RESTORE = pytest.StashKey[list[tuple[Any, str, Any]]]()
_FOLDER = pytest.StashKey[Path]()


def _scripted(factory: Any, script: list[tuple[str, list[dict[str, str]]]]) -> Any:
    @functools.wraps(factory)
    def make(outputs_spec: Any, **kwargs: Any) -> Any:
        return factory(script, **kwargs)

    return make


def _with_wrong_expectation(test: Any) -> Any:
    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> None:
        test(*args, **kwargs)
        raise AssertionError("patched expectation: the submission should have been 'Task failed'")

    return run

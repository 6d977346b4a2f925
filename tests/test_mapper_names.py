"""Record mappers are journaled by a registered name, never by their module, and journals from before still recover.

The journals in ``tests/data/old_journals`` are real live runs killed mid-run, written by codetracer before mappers
had names (each record names its mapper ``"package.module:Name"``; ``make_old_journals.py`` there made them). What
recovery gives for them is spelled out below: the trees that codetracer recovered from them when it wrote them.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import orjson
import pytest

from codetracer.adapters.langchain.graph_turns import GraphMapper
from codetracer.adapters.langchain.turns import GRAPH_MAPPER, TurnMapper
from codetracer.adapters.langchain.turns import MAPPER as LANGCHAIN_MAPPER
from codetracer.adapters.mini_swe_agent.live import MAPPER as MINI_MAPPER
from codetracer.adapters.mini_swe_agent.live import MessageMapper
from codetracer.adapters.openhands.live import MAPPER as OPENHANDS_MAPPER
from codetracer.adapters.openhands.live import EventMapper
from codetracer.core.builder import to_run
from codetracer.core.model import Run
from codetracer.core.records import load_mapper, mapper_names
from codetracer.core.runlog import build_tree
from codetracer.core.tracer import recover

OLD_JOURNALS = Path(__file__).parent / "data" / "old_journals"

Step = tuple[str, list[tuple[str, str, str | None, str | None]]]

RECOVERED: dict[str, dict[str, Any]] = {
    "mini-swe-agent": {
        "id": "mini-swe-agent:ccdd16d78335",
        "framework": "mini-swe-agent",
        "task": "calc.mean([1, 2, 3, 4]) returns 3.33 instead of 2.5. Fix calc.py so that test_calc.py passes.",
        "steps": [
            ("Let me see the files first.", [
                ("llm", "deterministic", None, None),
                ("tool", "bash", "ls", "<returncode>0</returncode>\n<output>\ncalc.py\n</output>"),
            ]),
            ("Read the module.", [
                ("llm", "deterministic", None, None),
                ("tool", "bash", "cat calc.py", "<returncode>0</returncode>\n<output>\ndef mean(values):\n"
                 "    return sum(values) / (len(values) - 1)\n</output>"),
            ]),
            ("Fix the divisor.", [("llm", "deterministic", None, None), ("tool", "bash", "kill -9 $PPID", None)]),
        ],
    },
    "openhands": {
        "id": "openhands:live:0bf1fe520cc9",
        "framework": "openhands",
        "task": "Create calc.py with add(a, b) and prove it works.",
        "steps": [
            ("Write the module.", [
                ("llm", "test-model", None, None),
                ("tool", "shell", "printf 'def add(a, b):\\n    return a + b\\n' > calc.py", ""),
            ]),
            ("Check it.", [
                ("llm", "test-model", None, None),
                ("tool", "shell", "python3 -c 'import calc; print(calc.add(2, 3))'", "5\n"),
            ]),
            ("Run the tests.", [("llm", "test-model", None, None), ("tool", "shell", "kill -9 $PPID", None)]),
        ],
    },
    "langchain": {
        "id": "01a23aec-0b68-7704-ba6a-9a36bdff9736",
        "framework": "langchain",
        "task": "add(2, 3) returns -1; fix calc.py.",
        "steps": [
            ("List the files.", [
                ("llm", "Scripted", None, None),
                ("tool", "run_shell", "ls", "calc.py\ntest_calc.py"),
            ]),
            ("Read the module.", [
                ("llm", "Scripted", None, None),
                ("tool", "run_shell", "cat calc.py", "def add(a, b):\n    return a - b\n"),
            ]),
            ("Run the tests.", [("llm", "Scripted", None, None), ("tool", "run_shell", "pytest -q", None)]),
        ],
    },
    "langgraph": {
        "id": "1c217812-1419-47ea-93b2-e8809ec8818a",
        "framework": "langchain",
        "task": "add(2, 3) returns -1; fix calc.py.",
        "steps": [
            ("List the files.", [("llm", "llm", None, None), ("tool", "run_shell", "ls", "calc.py\ntest_calc.py")]),
            ("Read the module.", [
                ("llm", "llm", None, None),
                ("tool", "run_shell", "cat calc.py", "def add(a, b):\n    return a - b\n"),
            ]),
            ("Run the tests.", [("llm", "llm", None, None), ("tool", "run_shell", "pytest -q", None)]),
        ],
    },
}


def steps_of(run: Run) -> list[Step]:
    return [
        (
            step.thought.text if step.thought else "",
            [
                (
                    call.kind,
                    call.name,
                    call.action.command if call.action else None,
                    call.observation.text.text if call.observation and call.observation.text else None,
                )
                for call in step.calls
            ],
        )
        for step in run.steps
    ]


def journaled_mappers(journal: Path) -> set[str]:
    return {event[2] for event in map(orjson.loads, journal.read_bytes().splitlines()) if event[0] == "record"}


def test_live_adapters_journal_registered_names_not_module_paths() -> None:
    registered = mapper_names()
    for name, cls in [(MINI_MAPPER, MessageMapper), (OPENHANDS_MAPPER, EventMapper),
                      (LANGCHAIN_MAPPER, TurnMapper), (GRAPH_MAPPER, GraphMapper)]:
        assert ":" not in name and name in registered, name
        assert load_mapper(name) is cls


@pytest.mark.parametrize("name", sorted(RECOVERED))
def test_journals_written_before_mappers_had_names_still_recover(name: str, home: Path) -> None:
    journal = OLD_JOURNALS / f"{name}.ctj"
    (former,) = journaled_mappers(journal)
    assert former.startswith("codetracer.adapters.") and ":" in former  # the module path, as journals had it
    assert former in mapper_names(), "registered under its former name: moving the module would not strand it"
    folder = home / "journal"
    folder.mkdir(parents=True)
    shutil.copy(journal, folder / journal.name)

    (run,) = recover()

    expected = RECOVERED[name]
    assert (run.id, run.framework, run.task) == (expected["id"], expected["framework"], expected["task"])
    assert not run.complete and run.metadata["recovered_from_journal"] is True  # killed mid-run
    assert steps_of(run) == expected["steps"]
    assert not run.errors and not any(step.errors for step in run.steps)  # every record found its mapper
    assert not list(folder.iterdir()), "the recovered journal is gone"


def test_a_name_no_plugin_registers_is_an_error_of_the_run_not_a_lost_run() -> None:
    ops = [
        ("run_started", "r", "demo", None, {}, None, 1.0),
        ("step_started", "r", "1", None, "kept", None, 1.0),
        ("record", "r", "no-such-mapper", {"x": 1}, 1.5),
        ("run_finished", "r", "failed", None, {}, 2.0),
    ]
    run = to_run(build_tree(ops))
    assert run.steps[0].thought is not None and run.steps[0].thought.text == "kept"
    assert [e.error for e in run.errors] == [
        "record mapper 'no-such-mapper' cannot be loaded: no plugin registers a mapper of that name"
    ]

"""``ls`` / ``show`` / ``report`` on the stored attempts of a reflective replay: one sequence, told from any attempt.

The runs are stored by the real replay loop (:class:`~codetracer.replay.Retrying`) through a real tracer and store;
only the agent is framework-free (``replay_fakes.FakeRunner``: each attempt emits a scripted run)."""

from __future__ import annotations

import json
import re
import sys
import zlib
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from codetracer.cli import main
from codetracer.core import config
from codetracer.core.sequences import head_of, sequence_of
from codetracer.core.store import Store
from codetracer.core.tracer import Tracer
from codetracer.hooks.manager import PluginManager
from codetracer.replay import HEADER, Budget, Retrying, RetryPolicy
from replay_fakes import FakeReinject, FakeRunner

WRONG = [("cat calc.py", 0), ("python broken.py", 1), ("echo done", 0)]
RIGHT = [("fix calc.py", 0), ("pytest", 0)]


def recovers_on_the_third(n: int, correction: str | None) -> tuple[list[tuple[str, int]], Any]:
    """Fails twice, then recovers when told step 2 (three attempts: a chain of two parent links)."""
    if n >= 3 and correction and "step 2" in correction and "python broken.py" in correction:
        return RIGHT, True
    return WRONG, False


def replayed(home: Path, *, budget: Budget | None = None, max_attempts: int = 3) -> Retrying:
    tracer = Tracer(home, load_plugins=False)
    try:
        runner = FakeRunner(tracer, recovers_on_the_third, budget=budget)
        retrying = Retrying(runner, RetryPolicy(max_attempts=max_attempts, verify=lambda result: result),
                            pm=PluginManager(), reinject_plugin=FakeReinject())
        retrying.run()
    finally:
        tracer.close()
    return retrying


def alone(home: Path) -> None:
    """A run of its own next to the sequence (it must stay a plain row)."""
    tracer = Tracer(home, load_plugins=False)
    ev = tracer.events
    task = "a task with\nseveral lines that go on and on for a while longer"
    ev.run_started("solo", "demo", task=task, timestamp=1.0)
    ev.step_started("solo", "1", thought="look")
    ev.step_finished("solo", "1")
    ev.run_finished("solo", "unknown", timestamp=2.0)
    tracer.close()


def test_attempts_form_a_chain_with_the_budget_and_stop_reason_stored(home: Path) -> None:
    retrying = replayed(home, budget=Budget(steps=20))
    assert retrying.succeeded and retrying.run_ids == ["fake-1", "fake-2", "fake-3"]
    store = Store(config.store_path(home), project="tests")
    try:
        runs = [store.load_run(i) for i in retrying.run_ids]
        assert [r.parent_run_id for r in runs] == [None, "fake-1", "fake-2"]  # each attempt names the one before
        replay = [r.metadata["replay"] for r in runs]
        assert [r["sequence"] for r in replay] == ["fake-1"] * 3
        assert [r["used"]["steps"] for r in replay] == [3, 6, 8] and replay[0]["budget"] == {"steps": 20}
        assert "stop_reason" not in replay[0] and replay[2]["stop_reason"] == "succeeded"
        for attempt_id in retrying.run_ids:  # any attempt gives the whole sequence
            sequence = sequence_of(store, attempt_id)
            assert sequence is not None and [m.run_id for m in sequence.members] == retrying.run_ids
            assert sequence.outcome == "solved" and sequence.budget_line() == "8 of 20 steps"
        assert sequence_of(store, "nothing-like-it") is None
    finally:
        store.close()


def test_ls_groups_the_attempts_under_the_first_run(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    alone(home)
    replayed(home, budget=Budget(steps=20))
    assert main(["ls"]) == 0
    lines = capsys.readouterr().out.splitlines()
    header, rows = lines[0], lines[1:]
    assert header.split()[:4] == ["RUN", "FRAMEWORK", "TASK", "OUTCOME"]
    sequence_rows = [r for r in rows if "sequence of" in r]
    assert len(sequence_rows) == 1
    line = sequence_rows[0]
    assert line.startswith("fake-1 ") and " solved " in line and "sequence of 3 attempts" in line
    assert "budget 8 of 20 steps used; succeeded" in line and "make the test pass" in line
    at = rows.index(line)
    attempts = rows[at + 1 : at + 4]
    assert [a.split()[:2] for a in attempts] == [["1.", "fake-1"], ["2.", "fake-2"], ["3.", "fake-3"]]
    assert [" failed " in a for a in attempts] == [True, True, False] and " solved " in attempts[2]
    assert all(a.startswith("  ") for a in attempts)
    solo = next(r for r in rows if r.startswith("solo"))
    assert "a task with several lines" in solo and "\u2026" in solo  # the task on one line, shortened
    assert sum(1 for r in rows if re.match(r"\s*(\d\. )?fake-", r)) == 4  # the root's row + its 3 attempts, once


def test_ls_json_gives_run_id_and_the_sequence(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    alone(home)
    replayed(home, budget=Budget(steps=20))
    assert main(["ls", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    by_id = {r["run_id"]: r for r in rows}
    assert all(r["id"] == r["run_id"] for r in rows)  # the old key, kept for one release
    assert list(by_id) == ["fake-1", "fake-2", "fake-3", "solo"]  # the newest first, a sequence's attempts in order
    assert by_id["solo"]["sequence"] is None and by_id["solo"]["parent_run_id"] is None
    for n, run_id in enumerate(["fake-1", "fake-2", "fake-3"], 1):
        seq = by_id[run_id]["sequence"]
        assert (seq["root_run_id"], seq["attempt"], seq["attempts"], seq["outcome"]) == ("fake-1", n, 3, "solved")
        assert seq["budget"] == {"steps": 20} and seq["used"]["steps"] == 8 and seq["stop_reason"] == "succeeded"
    assert by_id["fake-3"]["parent_run_id"] == "fake-2"


def test_a_sequence_beyond_the_page_is_shown_whole(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    replayed(home)
    assert main(["ls", "--limit", "1"]) == 0  # only the newest attempt is on the page; its sequence comes whole
    out = capsys.readouterr().out
    assert "sequence of 3 attempts" in out and all(f"fake-{n}" in out for n in (1, 2, 3))


def test_show_of_any_attempt_tells_the_whole_sequence(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    retrying = replayed(home, budget=Budget(steps=20))
    corrections = [a.message for a in retrying.attempts[:2]]
    assert all(c is not None and c.startswith(HEADER) for c in corrections)
    for attempt_id in retrying.run_ids:
        assert main(["show", attempt_id]) == 0
        out = capsys.readouterr().out
        tail = out[out.index("Sequence fake-1: 3 attempts, final outcome solved, stopped: succeeded"):]
        assert "budget: 8 of 20 steps used" in tail
        assert re.search(r"attempt 1 {2}fake-1 {2}failed \(verify: the verifier rejected the result\), 3 steps, "
                         r"onset step 2", tail)
        assert "attempt 3  fake-3  solved" in tail
        assert f"attempt {retrying.run_ids.index(attempt_id) + 1}  {attempt_id} " in tail
        assert tail.count("<- this run") == 1
        for correction in corrections:  # each correction, verbatim (indented), under its attempt
            assert "\n".join("      " + line for line in correction.splitlines()) in tail  # type: ignore[union-attr]

        assert main(["show", attempt_id, "--json"]) == 0
        seq = json.loads(capsys.readouterr().out)["sequence"]
        assert seq["root_run_id"] == "fake-1" and seq["outcome"] == "solved" and seq["attempts"] == 3
        assert [m["run_id"] for m in seq["members"]] == retrying.run_ids
        assert [m["correction"] for m in seq["members"]] == [*corrections, None]
        assert [m["verdict"] for m in seq["members"]] == ["verify", "verify", "ok"]
        assert [m["n_steps"] for m in seq["members"]] == [3, 3, 2] and seq["used"]["steps"] == 8


def test_show_of_a_run_alone_has_no_sequence(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    alone(home)
    assert main(["show", "solo"]) == 0
    assert "Sequence" not in capsys.readouterr().out
    assert main(["show", "solo", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["sequence"] is None


def test_report_of_any_attempt_holds_the_sequence(home: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    retrying = replayed(home, budget=Budget(steps=20))
    out = tmp_path / "r.html"
    assert main(["report", "fake-2", "-o", str(out)]) == 0
    page = out.read_text()
    data = json.loads(re.search(r'<script type="application/json" id="ct-data">(.*?)</script>', page, re.S)
                      .group(1))  # type: ignore[union-attr]
    seq = data["sequence"]
    assert seq["root_run_id"] == "fake-1" and seq["current"] == "fake-2" and seq["outcome"] == "solved"
    assert [m["run_id"] for m in seq["members"]] == retrying.run_ids
    assert seq["members"][0]["correction"]["t"] == retrying.attempts[0].message
    assert seq["budget_line"] == "8 of 20 steps" and 'id="sequence"' in page


def test_head_of_reads_only_the_head_of_a_long_tree(home: Path) -> None:
    replayed(home)
    store = Store(config.store_path(home), project="tests")
    try:
        (row,) = store._query("SELECT tree FROM runs WHERE id = 'fake-1'")
        tree = row["tree"]
    finally:
        store.close()
    head = head_of(tree)
    full = json.loads(zlib.decompress(tree))
    assert head == {k: full[k] for k in head} and head["metadata"] == full["metadata"]
    assert head["parent_run_id"] is None and head["metadata"]["replay"]["attempt"] == 1
    assert head_of(b"not zlib at all") == {}
    assert head_of(zlib.compress(b'{"id": "x", "task": "cut') ) == {"id": "x"}

"""What every framework's auto_retry test checks on the stored runs, through the real command line: ``ls`` shows one
sequence (the attempts numbered under the first run), ``show`` / ``show --json`` / ``report`` of *each* attempt show
every attempt with the correction sent to the agent, verbatim, and the budget is never exceeded.

Imported by ``integration/<framework>/test_*_replay.py`` (each puts this folder on ``sys.path``).
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import tempfile
from pathlib import Path
from typing import Any

from codetracer.cli import main


def _cli(*argv: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(list(argv))
    assert code == 0, f"codetracer {' '.join(argv)} exited {code}: {out.getvalue()}"
    return out.getvalue()


def assert_one_sequence(
    run_ids: list[str], corrections: list[str], *, budget_steps: int | None = None, outcome: str | None = None
) -> dict[str, Any]:
    """Check the stored sequence of ``run_ids`` (first = root) through ``ls``, ``show`` and ``report``.

    :param corrections: the messages the agent received, in order (one per attempt but the last).
    :param budget_steps: the shared step budget: the attempts' steps, as stored, add up to no more than it.
    :param outcome: the sequence's final outcome, if the test knows it.
    Returns the ``sequence`` object of ``show --json``.
    """
    root = run_ids[0]
    listing = _cli("ls", "--limit", "0").splitlines()
    heads = [line for line in listing if "sequence of" in line]
    assert len(heads) == 1, listing
    head = heads[0]
    assert head.startswith(root + " ") and f"sequence of {len(run_ids)} attempts" in head, head
    at = listing.index(head)
    numbered = listing[at + 1 : at + 1 + len(run_ids)]
    assert len(numbered) == len(run_ids), listing
    for n, (rid, line) in enumerate(zip(run_ids, numbered, strict=True), 1):
        assert line.startswith(f"  {n}. {rid[:30]}"), listing  # numbered under the first run, in attempt order
    if budget_steps is not None:
        assert re.search(rf"budget \d+ of {budget_steps} steps[,;]? ", head), head

    sequence: dict[str, Any] = {}
    for rid in run_ids:
        text = _cli("show", rid, "--all")
        tail = text[text.index(f"Sequence {root}: {len(run_ids)} attempts") :]
        for n, other in enumerate(run_ids, 1):
            assert f"attempt {n}  {other}  " in tail, tail
        assert tail.count("<- this run") == 1 and f"  {rid}  " in tail.split("<- this run")[0].splitlines()[-1]
        for correction in corrections:
            assert "\n".join("      " + line for line in correction.splitlines()) in tail, tail

        sequence = json.loads(_cli("show", rid, "--json"))["sequence"]
        assert sequence["root_run_id"] == root and [m["run_id"] for m in sequence["members"]] == run_ids
        assert [m["correction"] for m in sequence["members"]][: len(corrections)] == corrections
        assert all(m["correction"] is None for m in sequence["members"][len(corrections) :])

        with tempfile.TemporaryDirectory() as folder:
            page = Path(folder, "r.html")
            _cli("report", rid, "-o", str(page))
            blob = re.search(r'id="ct-data">(.*?)</script>', page.read_text(), re.S)
            assert blob is not None
            data = json.loads(blob.group(1))["sequence"]
        assert data["current"] == rid and [m["run_id"] for m in data["members"]] == run_ids
        assert [m["correction"]["t"] for m in data["members"] if m["correction"]] == corrections

    steps = [m["n_steps"] for m in sequence["members"]]
    assert sequence["used"]["steps"] == sum(steps), sequence
    if budget_steps is not None:
        assert sum(steps) <= budget_steps and sequence["budget"]["steps"] == budget_steps, sequence
    if outcome is not None:
        assert sequence["outcome"] == outcome, sequence
    return sequence

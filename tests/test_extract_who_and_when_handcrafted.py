"""Who&When's hand-crafted subset (Magentic-One logs), built here from its published schema.

The subset is not in ../shared, so these files are made by the test from the schema the dataset documents: a
``history`` of ``{"content", "role"}`` turns whose role carries the agent (``Orchestrator (thought)``,
``Orchestrator (-> WebSurfer)``, ``WebSurfer``, ``human``), ``history`` first and long, then ``question``,
``ground_truth``, ``is_corrected``, ``mistake_agent``, ``mistake_step`` (0-based index into ``history``, as a
string), ``mistake_reason`` and ``question_ID``; no ``system_prompt`` and no ``level``.
"""

from __future__ import annotations

import json
from pathlib import Path

from codetracer.adapters.who_and_when.artifacts import EXTRACTORS
from codetracer.core.extract import Candidate, ExtractorRegistry, Failure, extract_all
from codetracer.evaluate.gold import load_gold
from codetracer.evaluate.harness import evaluate
from codetracer.localize.signal_localizer import SignalLocalizer

EX = EXTRACTORS[0]


def handcrafted(n_rounds: int = 60, *, mistake: int = 5) -> dict[str, object]:
    history: list[dict[str, object]] = [{"content": "How many studio albums did the band release before 2000?",
                                         "role": "human"}]
    history.append({"content": "Initial plan:\n\nWe are working to address the following user request: ...",
                    "role": "Orchestrator (thought)"})
    for i in range(n_rounds):
        history.append({"content": "Updated Ledger:\n{\"is_request_satisfied\": {\"answer\": false}} " + "x" * 300,
                        "role": "Orchestrator (thought)"})
        history.append({"content": f"Please search the web for the band's discography (round {i}).",
                        "role": "Orchestrator (-> WebSurfer)"})
        history.append({"content": f"I typed 'discography' into the search bar. Page {i} of results " + "y" * 400,
                        "role": "WebSurfer"})
    history.append({"content": "FINAL ANSWER: 7", "role": "Orchestrator (termination condition)"})
    return {
        "history": history,  # first, and long: the labels below are far beyond any head window
        "question": "How many studio albums did the band release before 2000?",
        "ground_truth": "5",
        "is_corrected": False,
        "mistake_agent": "WebSurfer",
        "mistake_step": str(mistake),
        "mistake_reason": "The WebSurfer read the wrong page and reported an inflated count.",
        "question_ID": "0a1b2c3d-hand-crafted",
    }


def write(tmp_path: Path, data: dict[str, object], name: str = "11.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    assert path.stat().st_size > 60_000  # long enough that a head window holds no label
    return path


def test_detected_by_content_whatever_the_key_order(tmp_path: Path) -> None:
    data = handcrafted()
    first = write(tmp_path, data)
    assert EX.detect(Candidate(first, False)) >= 0.85
    reordered = {k: data[k] for k in ["question_ID", "mistake_step", "history", "is_corrected", "question",
                                      "mistake_agent", "mistake_reason", "ground_truth"]}
    assert EX.detect(Candidate(write(tmp_path, reordered, "12.json"), False)) >= 0.85
    # labels in the middle of the file: neither head nor tail names them, the parse does
    middle = {"history": data["history"], "mistake_step": "5", "is_corrected": False,
              "padding": ["z" * 100] * 200}
    assert EX.detect(Candidate(write(tmp_path, middle, "13.json"), False)) >= 0.85
    registry = ExtractorRegistry.from_plugins()
    assert registry.pick(Candidate(first, False)) is EX


def test_agents_come_from_the_role_and_the_labels_are_kept(tmp_path: Path) -> None:
    (run,) = [r for r in extract_all(write(tmp_path, handcrafted())) if not isinstance(r, Failure)]
    assert run.framework == "ag2" and run.metadata["variant"] == "hand-crafted"
    assert run.outcome.value == "failed"
    assert run.step(1).agent == "human"
    assert run.step(2).agent == "Orchestrator" and run.step(4).agent == "Orchestrator"
    assert run.step(5).agent == "WebSurfer"
    assert run.metadata["gold"] == {"mistake_step": 5, "mistake_step_id": 6, "mistake_agent": "WebSurfer",
                                    "mistake_reason": "The WebSurfer read the wrong page and reported an inflated "
                                    "count."}
    assert run.step(5).messages[0].role == "WebSurfer"  # the role as given is kept on the message


def test_scored_by_eval_with_agent_accuracy(tmp_path: Path) -> None:
    for n, mistake in ((11, 4), (12, 7)):
        write(tmp_path, handcrafted(mistake=mistake), f"{n}.json")
    rows, problems = load_gold(tmp_path)
    assert len(rows) == 2 and not problems
    assert {r.mistake_step for r in rows} == {5, 8} and {r.mistake_agent for r in rows} == {"WebSurfer"}
    report = evaluate(rows, SignalLocalizer())
    scores = report.table["all"]["signals"]
    assert scores.agent_accuracy is not None and scores.exact is not None  # both measured on the variant

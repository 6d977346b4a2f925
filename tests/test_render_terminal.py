"""The terminal view: colour only when asked, control characters defused, stages folded around the onset with a
note of what they hide, hints to see long texts whole, ``show --step``, and the batch progress line and summary."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from codetracer.cli import Progress, format_summary, use_color
from codetracer.core.render import render_step, render_text
from report_runs import hostile_run, long_run

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples" / "runs"
ESC = "\x1b"


def cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "codetracer", *args], capture_output=True, text=True, env={**os.environ, **env}
    )


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_colour_only_when_asked_and_control_characters_are_shown_not_obeyed() -> None:
    run = hostile_run()
    call = run.steps[0].calls[0]
    assert call.observation is not None and call.observation.text is not None
    call.observation.text.text += "\x1b]0;owned\x07\x1b[2J"
    run.steps[1].thought.text = "clear \x1b[2J the screen"  # type: ignore[union-attr]
    plain = render_text(run)
    assert ESC not in plain
    coloured = render_text(run, color=True)
    assert "\x1b[1;97;41m  >> step 2" in coloured  # the onset row stands out
    assert "\x1b]0" not in coloured and "\x1b[2J" not in coloured
    step = render_step(run, 2, color=False)
    assert ESC not in step and "clear \\x1b[2J the screen" in step


def test_use_color_needs_a_tty_and_no_NO_COLOR(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    assert use_color(FakeTTY()) and not use_color(io.StringIO())
    monkeypatch.setenv("NO_COLOR", "1")
    assert not use_color(FakeTTY())


def test_folded_stages_keep_errors_and_chain_in_view_and_hint_how_to_unfold() -> None:
    run = hostile_run()
    assert run.diagnosis is not None and run.diagnosis.onset_step == 2
    text = render_text(run, stages_folded=True, hint="codetracer show RUN")
    assert ">> step 2" in text and "step 3" not in text.split("diagnosis")[0].replace("steps 3-3", "")
    assert "[folded: 1 step, 1 error, chain 3]" in text
    assert "4 stage(s) folded: `codetracer show RUN --all` unfolds them" in text
    assert "stage(s) folded" not in render_text(run, stages_folded=True)  # no hint unless asked


def test_a_long_run_folds_into_a_short_timeline() -> None:
    run = long_run(1000)
    assert len(run.stages) > 100
    text = render_text(run, stages_folded=True, hint="")
    assert len(text.splitlines()) < 60
    assert "stages " in text and "(+" in text  # merged folded stages, long chain lists cut with a count
    assert "--step N` prints step N whole" in text


def test_render_step_prints_the_whole_output() -> None:
    run = long_run(12, hostile_step=None, output_chars=5000)
    step = render_step(run, 3)
    out = run.steps[2].calls[0].observation
    assert out is not None and out.text is not None
    assert all(f"    {line}" in step for line in out.text.text.splitlines()) and "1 failed, 9 passed" in step
    assert "exit 1" in step
    with pytest.raises(KeyError):
        render_step(run, 99)


def test_show_folds_by_default_unfolds_with_all_and_prints_one_step(home: Path) -> None:
    assert cli("analyze", str(EXAMPLES), "-q").returncode == 0
    folded = cli("show", "mini-swe-agent:failing").stdout
    assert ">> step 4" in folded and "[folded:" in folded and not re.search(r"^ *>* *step 12 ", folded, re.M)
    assert "`codetracer show mini-swe-agent:failing --all` unfolds them" in folded
    assert ESC not in folded  # a pipe gets no colour
    unfolded = cli("show", "mini-swe-agent:failing", "--all").stdout
    assert "step 12" in unfolded and "[folded:" not in unfolded
    solved = cli("show", "mini-swe-agent:solved").stdout  # no onset: nothing to fold around
    assert "[folded:" not in solved and "step 5" in solved
    one = cli("show", "mini-swe-agent:failing", "--step", "5")
    assert one.returncode == 0 and "4 failed, 2 passed" in one.stdout and "step 5/13" in one.stdout
    assert "test_mean_even_length" in one.stdout  # the middle of the output, which the tree view shortens
    bad = cli("show", "mini-swe-agent:failing", "--step", "99")
    assert bad.returncode == 2 and "has no step 99" in bad.stderr
    line = json.loads(cli("show", "mini-swe-agent:failing", "--json").stdout)
    assert line["diagnosis"]["onset_step"] == 4  # --json is unchanged


def test_analyze_folder_ends_with_a_summary_table_and_json_stays_clean(home: Path, tmp_path: Path) -> None:
    folder = tmp_path / "runs"
    folder.mkdir()
    for name in ("failing.traj.json", "solved.traj.json", "report.json"):  # report.json holds the outcomes
        (folder / name).write_text((EXAMPLES / name).read_text())
    (folder / "broken.traj.json").write_text("{not json")
    out = cli("analyze", str(folder), "--no-store")
    assert out.returncode == 1
    table = out.stdout[out.stdout.index("summary") :].splitlines()
    assert table[1].split() == ["framework", "runs", "solved", "failed", "unknown", "onset", "found"]
    assert table[3].split() == ["mini-swe-agent", "2", "1", "1", "0", "1"]
    assert table[4] == "unreadable inputs: 1 (see the lines on stderr)"
    assert "\r" not in out.stderr  # stderr is not a terminal: no progress line
    lines = cli("analyze", str(folder), "--no-store", "--json").stdout.splitlines()
    assert len(lines) == 2 and all(json.loads(line)["run_id"] for line in lines)


def test_progress_draws_only_on_a_terminal() -> None:
    quiet = io.StringIO()
    bar = Progress(3, "artifacts", quiet)
    for _ in range(3):
        bar.advance("x")
    bar.clear()
    assert quiet.getvalue() == ""
    tty = FakeTTY()
    bar = Progress(3, "artifacts", tty)
    for _ in range(3):
        bar.advance("x")
    assert "3/3 artifacts" in tty.getvalue() and tty.getvalue().startswith("\r")
    bar.clear()
    assert tty.getvalue().endswith("\r\x1b[K")


def test_summary_table_counts_frameworks_outcomes_and_onsets() -> None:
    table = format_summary([("a", "failed", True), ("a", "solved", False), ("b", "weird", False)], 2)
    rows = [line.split() for line in table.splitlines()]
    assert ["a", "2", "1", "1", "0", "1"] in rows and ["b", "1", "0", "0", "1", "0"] in rows
    assert ["all", "3", "1", "1", "1", "1"] in rows
    assert table.endswith("unreadable inputs: 2 (see the lines on stderr)")

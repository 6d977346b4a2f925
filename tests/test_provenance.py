"""Edit provenance and patch blame on real runs of every format in ../shared.

Each case names the run and what a person reading it finds: which step wrote what the final patch holds, which
script was written in one step and run in the next, which change was reverted, overwritten or never applied.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from codetracer.core.extract import Failure, extract_all
from codetracer.core.model import Run
from codetracer.core.provenance import FINAL_CONTENTS, is_test_path, removed_by, same_file

MINI = "corpora/miniswe-swebench-verified"
CTB = "corpora/codetracebench-steps"


def one_run(path: Path) -> Run:
    runs = [r for r in extract_all(path) if not isinstance(r, Failure)]
    assert len(runs) == 1, path
    return runs[0]


def fates(run: Run, step: int) -> dict[str, str | None]:
    return {c.path: c.fate for c in run.step(step).changes}


def test_a_script_written_in_one_step_and_run_in_the_next_is_blamed_to_its_writer(shared: Path) -> None:
    # django-11149: step 28 writes update_admin_options.py (a heredoc), step 29 runs it; the script rewrites
    # django/contrib/admin/options.py, and every added line of the submission comes from it
    run = one_run(shared / MINI / "django__django-11149")
    prov = run.provenance
    assert prov is not None and prov.patch_source == "submission"
    (patched,) = prov.files
    assert patched.path == "django/contrib/admin/options.py" and patched.unattributed == 0
    assert patched.authors == [28]
    assert prov.surviving_steps == [28] and prov.applied_steps == [29]
    (change,) = [c for c in run.step(29).changes if c.path == patched.path]
    assert change.how == "script" and change.via_step == 28 and change.fate == "survives"


def test_a_script_run_again_later_still_survives_and_its_first_run_keeps_the_credit(shared: Path) -> None:
    # astropy-14508: update_card.py (step 9) is run at step 10 and again at step 21; the lines are credited to the
    # first run, and the second is a reapplication whose change survives, not one "not in patch"
    run = one_run(shared / MINI / "astropy__astropy-14508")
    prov = run.provenance
    assert prov is not None
    assert prov.surviving_steps == [9] and prov.applied_steps == [10] and prov.reapplied_steps == [21]
    (again,) = [c for c in run.step(21).changes if c.path == "astropy/io/fits/card.py"]
    assert again.via_step == 9 and again.fate == "survives" and again.in_patch == 0


def test_a_script_whose_run_says_it_found_nothing_changed_nothing(shared: Path) -> None:
    # astropy-14369: update_cds.py of step 10 prints "Could not find the block to replace" at step 11; the rewrite
    # of step 14, run at step 15, is what the submission holds
    run = one_run(shared / MINI / "astropy__astropy-14369")
    prov = run.provenance
    assert prov is not None
    assert 14 in prov.surviving_steps and 10 not in prov.surviving_steps
    assert fates(run, 11)["astropy/units/format/cds.py"] == "failed"
    assert fates(run, 15)["astropy/units/format/cds.py"] == "survives"


def test_sed_reading_a_snippet_file_and_patch_with_a_patch_file(shared: Path) -> None:
    # django-13195, step 15: replacement.txt (heredoc) spliced in with sed '212r replacement.txt', then deleted
    run = one_run(shared / MINI / "django__django-13195")
    assert run.provenance is not None and run.provenance.surviving_steps[0] == 15
    # django-15957, step 18: a heredoc .patch file applied with `patch FILE PATCHFILE`; the .orig patch leaves
    # behind is a byproduct, blamed to nobody
    run = one_run(shared / MINI / "django__django-15957")
    prov = run.provenance
    assert prov is not None and prov.surviving_steps[0] == 18
    orig = next(f for f in prov.files if f.path.endswith(".orig"))
    assert orig.byproduct and orig.authors == []


def test_git_checkout_reverts_and_git_stash_pop_restores(shared: Path) -> None:
    # django-14315: the step-6 edit of postgresql/client.py is thrown away by `git checkout` at step 16
    run = one_run(shared / MINI / "django__django-14315")
    prov = run.provenance
    assert prov is not None and 6 in prov.reverted_steps
    assert fates(run, 6) == {"django/db/backends/postgresql/client.py": "reverted"}
    # sympy-13091: `git stash && bin/test ...` at step 44, `git stash pop` at step 45: the earlier edits come back
    run = one_run(shared / MINI / "sympy__sympy-13091")
    prov = run.provenance
    assert prov is not None
    assert {10, 13} <= set(prov.surviving_steps)
    assert fates(run, 10) == {"sympy/core/basic.py": "survives"}


def test_the_last_git_diff_is_the_final_patch_when_there_is_no_submission(shared: Path) -> None:
    # the project's own example: step 12 prints `git diff`; edits 4 and 6 were undone, step 8's change is kept
    run = one_run(Path(__file__).resolve().parent.parent / "examples" / "runs" / "failing.traj.json")
    prov = run.provenance
    assert prov is not None and prov.patch_source == "git diff at step 12"
    assert prov.surviving_steps == [8]
    assert {4, 6} <= set(prov.overwritten_steps)
    assert [c.how for c in run.step(8).changes] == ["python"]


def test_one_change_per_file_per_step(shared: Path) -> None:
    for run in extract_all(shared / MINI):
        assert not isinstance(run, Failure)
        for step in run.steps:
            paths = [c.path for c in step.changes]
            assert len(paths) == len(set(paths)), (run.id, step.id)


def test_swe_agent_windowed_and_replace_edits_and_a_rejected_edit(shared: Path) -> None:
    # marshmallow-1867 (SWE-agent 0.7): the edit of step 10 is rejected for a syntax error, step 11 redoes it
    run = one_run(shared / "fixtures/swe-agent/demo_marshmallow-1867_default_v07.traj")
    prov = run.provenance
    assert prov is not None and prov.patch_source == "submission"
    assert prov.surviving_steps == [11]
    (rejected,) = run.step(10).changes
    assert rejected.fate == "failed" and not rejected.applied
    assert [c.fate for c in run.step(4).changes] == ["deleted"]  # reproduce.py, removed before submitting
    # function calling: edit with search/replace arguments
    run = one_run(shared / "fixtures/swe-agent/demo_function_calling_simple.traj")
    assert run.provenance is not None and run.provenance.surviving_steps == [3]
    (change,) = run.step(3).changes
    assert change.how == "replace" and change.path.endswith("tests/missing_colon.py")


def test_atif_writes_without_a_patch_are_blamed_on_the_final_file_contents(shared: Path) -> None:
    # torch-tensor-parallelism: step 3 writes the file path as the file's content; the rewrites of steps 5 and 10
    # keep that first line, so the final /app/parallel_linear.py still starts with what step 3 wrote
    run = one_run(shared / "corpora/atif-terminal-bench-2/torch-tensor-parallelism__TghwvbV")
    prov = run.provenance
    assert prov is not None and prov.patch_source == FINAL_CONTENTS
    linear = next(f for f in prov.files if f.path == "/app/parallel_linear.py")
    assert linear.authors[:2] == [3, 5]
    assert run.step(3).changes[0].how == "write"


def test_openhands_and_terminal_bench_writes(shared: Path) -> None:
    run = next(r for r in extract_all(shared / "fixtures/terminal-bench") if not isinstance(r, Failure))
    assert run.provenance is not None and run.provenance.surviving_steps == [1]
    assert [(c.path, c.how) for c in run.step(1).changes] == [("hello.txt", "echo")]
    run = next(r for r in extract_all(shared / "fixtures/openhands/sdk") if not isinstance(r, Failure))
    assert any(c.path == "hello.txt" for s in run.steps for c in s.changes)


def test_files_inside_a_folder_removed_with_rm_rf_are_deleted(shared: Path) -> None:
    # reshard-c4-data (OpenHands): step 15 echoes three scratch files under test_nested/, step 19 runs
    # `rm -rf test_output ... test_nested ...`: none of them is part of what the run leaves
    name = "openhands-Anthropic__Claude-Sonnet-4-20250514-Thinking-reshard-c4-data-7e4ba322"
    run = one_run(shared / CTB / "openhands" / name)
    assert set(fates(run, 15).values()) == {"deleted"} and len(fates(run, 15)) == 3
    files = run.provenance.files if run.provenance else []
    assert not any("test_nested" in f.path for f in files)


def test_a_short_answer_file_is_credited_to_the_step_that_wrote_it(shared: Path) -> None:
    # chess-best-move (Terminus 2): the answer file holds one short line (a move); scripts of steps 16-28 wrote it
    # too, but step 29's `echo ... > /app/move.txt` is the write whose text the file holds
    run = one_run(shared / CTB / "terminus2/terminus2-DeepSeek__DeepSeek-V3.2-chess-best-move-241232d1")
    assert run.provenance is not None
    move = next(f for f in run.provenance.files if f.path.endswith("move.txt"))
    assert move.authors == [29] and move.unattributed == 0
    assert fates(run, 29) == {"/app/move.txt": "survives"}


@pytest.mark.parametrize(
    ("path", "deleted", "removed"),
    [
        ("/app/t/file1.txt", "/app/t", True),
        ("/app/t/a/b.txt", "t", True),
        ("build/x.py", "build/*", True),
        ("/app/tx/file.txt", "/app/t", False),
        ("/app/t/file.txt", ".", False),
        ("/app/t/file.txt", "/app/*.txt", False),
    ],
)
def test_removed_by_a_folder_deletion(path: str, deleted: str, removed: bool) -> None:
    assert removed_by(path, deleted) is removed


def test_every_corpus_run_gets_provenance_and_solved_patches_are_mostly_blamed(shared: Path) -> None:
    attributed = 0
    lines = 0
    for run in extract_all(shared / MINI):
        assert not isinstance(run, Failure)
        prov = run.provenance
        if prov is None:
            continue
        for f in prov.files:
            if not f.byproduct:
                attributed += sum(f.lines_by_step.values())
                lines += sum(f.lines_by_step.values()) + f.unattributed
    assert lines > 800
    assert attributed / lines > 0.8  # most added lines of the submissions are traced to the step that wrote them


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("/testbed/pkg/mod.py", "pkg/mod.py", True),
        ("./pkg/mod.py", "pkg/mod.py", True),
        ("pkg/mod.py", "other/mod.py", False),
        ("mod.py", "pkg/amod.py", False),
    ],
)
def test_same_file_matches_spellings_of_one_path(a: str, b: str, same: bool) -> None:
    assert same_file(a, b) is same


def test_test_paths() -> None:
    assert is_test_path("tests/model_fields/models.py") and is_test_path("src/test_x.py")
    assert is_test_path("pkg/x_test.go") and is_test_path("web/a.spec.ts") and is_test_path("conftest.py")
    assert not is_test_path("django/db/models/base.py") and not is_test_path("latest/notes.py")

"""Evidence from what the run left behind: its final patch, who wrote it, and what the verifier said about it.

A failed run's outcome was decided by its final state, so the changes that survive into it are where a silent
failure was introduced (:mod:`codetracer.core.provenance` blames the patch to steps). The verifier's output
(:mod:`codetracer.core.verifier`) narrows it further: a failing test in the directory of a changed support file, a
traceback through a changed file, a deliverable the task asked for that was never written.

Each extractor reads a :class:`~codetracer.localize.signals.RunView` and returns evidence like the ones in
:mod:`codetracer.localize.signals`; weights are on the same scale.
"""

from __future__ import annotations

import re
from functools import cached_property

from codetracer.core.model import Evidence, PatchFile, Provenance, Run
from codetracer.core.provenance import FINAL_CONTENTS, same_file
from codetracer.core.verifier import Findings, file_of_test, read_output

_PATH_IN_TEXT = re.compile(r"(?<![\w.-])(/?(?:[\w.-]+/)*[\w.-]+\.[A-Za-z]\w{0,6})(?![\w/])")


class EditFacts:
    """The run's provenance and verifier findings, read once and shared by the extractors below."""

    def __init__(self, run: Run) -> None:
        self.run = run
        self.provenance: Provenance | None = run.provenance
        verification = run.verification
        text = verification.output.text if verification is not None and verification.output is not None else ""
        self.findings: Findings = read_output(text)
        if verification is not None:
            for test in verification.failed_tests:
                if test not in self.findings.failed_tests:
                    self.findings.failed_tests.append(test)

    @cached_property
    def deliverables(self) -> list[str]:
        """Files the task or the verifier names (``/app/out.html``): what the outcome is judged on, when said."""
        texts = [self.run.task or ""]
        verification = self.run.verification
        if verification is not None and verification.output is not None:
            texts.append(verification.output.text[-20000:])
        return [m.group(1) for text in texts for m in _PATH_IN_TEXT.finditer(text) if "/" in m.group(1)]

    @cached_property
    def all_files(self) -> list[PatchFile]:
        """Every file of the final state but byproducts (backups, .orig, saved patches)."""
        return [f for f in self.provenance.files if not f.byproduct] if self.provenance is not None else []

    @cached_property
    def kept_files(self) -> list[PatchFile]:
        """Files of the final state the outcome depends on: only the named deliverables when a run without a patch
        produced any of them (terminal tasks), else every file of the final state but byproducts."""
        if self.provenance is None or self.provenance.patch_source != FINAL_CONTENTS:
            return self.all_files
        named = [f for f in self.all_files if any(same_file(f.path, d) for d in self.deliverables)]
        return named or self.all_files

    def surviving(self, *, tests: bool = True, named_only: bool = True) -> list[int]:
        """Steps whose change is in the kept files (every file, with ``named_only`` false), in order; without
        test-suite files when ``tests`` is false."""
        files = self.kept_files if named_only else self.all_files
        return sorted({int(s) for f in files if tests or not f.test for s in f.lines_by_step})

    @cached_property
    def failing_test_files(self) -> list[str]:
        return [path for path in (file_of_test(t) for t in self.findings.failed_tests) if path]


def surviving_changes(facts: EditFacts) -> list[Evidence]:
    """Each step whose change survives into the final patch or final files: the changes the outcome was judged on."""
    found = []
    for f in facts.kept_files:
        for key, lines in f.lines_by_step.items():
            what = "test file" if f.test else "file"
            found.append(Evidence(step_id=int(key), signal="surviving_edit",
                                  detail=f"wrote {lines} line(s) of {what} {f.path} that the final state keeps",
                                  weight=0.5))
    provenance = facts.provenance
    if provenance is not None:
        for step_id in provenance.applied_steps:
            found.append(Evidence(step_id=step_id, signal="applied_edit",
                                  detail="applied a script or patch whose change the final state keeps", weight=0.3))
        for step_id in provenance.reapplied_steps:
            found.append(Evidence(step_id=step_id, signal="applied_edit",
                                  detail="wrote again text that the final state keeps", weight=0.3))
    return found


def edits_to_tests(facts: EditFacts) -> list[Evidence]:
    """A surviving change to an *existing* test-suite file: the agent changed the checks to fit its change, or
    left code beside the official tests that can clash with them."""
    found = []
    for f in facts.kept_files:
        if f.test and not f.new_file:
            for step in f.lines_by_step:
                found.append(Evidence(step_id=int(step), signal="edits_tests",
                                      detail=f"changes the existing test file {f.path}", weight=0.4))
    return found


def dropped_changes(facts: EditFacts) -> list[Evidence]:
    """Changes the run threw away (overwritten or reverted): wasted work, not the cause."""
    provenance = facts.provenance
    if provenance is None:
        return []
    found = [Evidence(step_id=s, signal="dropped_edit", detail="its change was overwritten later", weight=0.2)
             for s in provenance.overwritten_steps]
    found += [Evidence(step_id=s, signal="dropped_edit", detail="its change was reverted later", weight=0.2)
              for s in provenance.reverted_steps]
    return found


def verifier_blame(facts: EditFacts) -> list[Evidence]:
    """Surviving changes the verifier's failures point at: a file a traceback passes through, or a support file in
    the directory of a failing test (a fixture or model the official tests clash with)."""
    found = []
    findings = facts.findings
    failing = facts.failing_test_files
    test_dirs = {path.rsplit("/", 1)[0] for path in failing if "/" in path}
    for f in facts.kept_files:
        named = [p for p in findings.files if same_file(p, f.path)]
        beside = not any(_same_module(f.path, t) for t in failing)  # the official tests replace the test file itself
        near = f.test and not f.new_file and beside and any(_in_dir(f.path, d) for d in test_dirs)
        if not (named or near) or not f.lines_by_step:
            continue
        why = (f"the verifier's failure passes through {f.path}" if named
               else f"a failing test lives beside {f.path}")
        first = min(int(s) for s in f.lines_by_step)
        found.append(Evidence(step_id=first, signal="verifier_blames", detail=why, weight=0.8))
    return found


def _same_module(path: str, test_path: str) -> bool:
    return same_file(path, test_path) or (path.endswith("/" + test_path.rsplit("/", 1)[-1]) and _in_dir(
        path, test_path.rsplit("/", 1)[0] if "/" in test_path else ""))


def _in_dir(path: str, directory: str) -> bool:
    path = path.removeprefix("./")
    directory = directory.removeprefix("./").removeprefix("../")
    return ("/" + path).rsplit("/", 1)[0].endswith("/" + directory) or path.startswith(directory + "/")


EDIT_SIGNALS = (surviving_changes, edits_to_tests, dropped_changes, verifier_blame)

"""Reading file operations out of shell commands as agents type them, and unified diffs.

The commands are the shapes found in the real runs of ``../shared/corpora`` (heredocs into files and scripts,
``sed -i`` with ``s``/``a``/``c``/``r``, ``patch FILE PATCHFILE``, ``git checkout``/``stash``); the last test reads
every command of the mini-swe-agent corpus and checks the parser never fails and finds the edits those runs made.
"""

from __future__ import annotations

from pathlib import Path

from codetracer.core import shell
from codetracer.core.diff import looks_like_diff, parse_diff
from codetracer.core.extract import Failure, extract_all


def kinds(command: str) -> list[tuple[str, str, str]]:
    return [(op.kind, op.path, op.how) for op in shell.parse(command)]


def test_heredoc_into_a_file_keeps_its_body_whole() -> None:
    ops = shell.parse("cat <<'EOF' > fix.py\nimport sys\n# not a comment to the shell\nprint('x > y')\nEOF\n")
    assert [(o.kind, o.path, o.how) for o in ops] == [("write", "fix.py", "heredoc")]
    assert ops[0].text == "import sys\n# not a comment to the shell\nprint('x > y')"


def test_heredoc_appended_and_tab_stripped_delimiters() -> None:
    ops = shell.parse("cat >> notes.txt <<-END\n\tline one\n\tEND\necho done")
    assert ops[0].kind == "write" and ops[0].append and ops[0].text == "\tline one"


def test_sed_substitution_gives_the_replacement_as_fragments() -> None:
    (op,) = shell.parse(r"sed -i 's/ordering = ()/ordering = None/' django/contrib/admin/filters.py")
    assert (op.kind, op.path, op.how) == ("write", "django/contrib/admin/filters.py", "sed")
    assert op.fragments == ["ordering = None"]


def test_sed_append_change_and_read_commands() -> None:
    (append,) = shell.parse("sed -i '397i\\        if self.min_lines == 0:\\n            return []' similar.py")
    assert append.text.splitlines() == ["        if self.min_lines == 0:", "            return []"]
    ops = shell.parse("sed -i '213,220d' resp.py && sed -i '212r part.txt' resp.py && rm part.txt")
    assert [(o.kind, o.path, o.source) for o in ops] == [
        ("write", "resp.py", None), ("write", "resp.py", "part.txt"), ("delete", "part.txt", None)
    ]


def test_sed_without_in_place_writes_nothing() -> None:
    assert kinds("sed -n '100,200p' big.py") == []
    assert kinds("nl -ba calc.py | sed -n '11,19p'") == []


def test_echo_printf_and_tee_into_files() -> None:
    ops = shell.parse(
        "echo 'x = 1' >> conf.py; printf 'a\\nb\\n' > two.txt; echo hi | tee -a log.txt >/dev/null"
    )
    assert [(o.kind, o.path, o.how, o.append) for o in ops] == [
        ("write", "conf.py", "echo", True), ("write", "two.txt", "echo", False), ("write", "log.txt", "tee", True)
    ]
    assert ops[0].text == "x = 1" and ops[1].text == "a\nb\n"


def test_redirections_of_errors_and_to_dev_null_write_nothing() -> None:
    assert kinds("make 2> err.log > /dev/null") == []
    assert kinds("make > build.log 2>&1") == [("write", "build.log", "redirect")]


def test_scripts_inline_code_and_their_interpreters() -> None:
    assert kinds("python3 apply_fix.py && bash ./run.sh") == [
        ("run", "apply_fix.py", "python3"), ("run", "run.sh", "bash")
    ]
    (code,) = shell.parse("python -c \"open('a.txt', 'w').write('hi')\"")
    assert code.kind == "code" and "open('a.txt', 'w')" in code.text
    (stdin,) = shell.parse("python - <<'EOF'\nfrom pathlib import Path\nPath('calc.py').write_text('x')\nEOF")
    assert stdin.kind == "code" and "write_text" in stdin.text
    assert kinds("python -m pytest -q tests/") == []


def test_patch_in_all_its_spellings() -> None:
    assert kinds("patch -p1 < fix.patch") == [("run", "fix.patch", "patch")]
    assert kinds("patch -i fix.diff") == [("run", "fix.diff", "patch")]
    assert kinds("patch src/mod.py src/mod.py.patch") == [("run", "src/mod.py.patch", "patch")]
    assert kinds("git apply changes.diff") == [("run", "changes.diff", "patch")]
    diff = "--- a/m.py\n+++ b/m.py\n@@ -1,1 +1,1 @@\n-old()\n+new_call()\n"
    (op,) = shell.parse(f"git apply <<'EOF'\n{diff}EOF")
    assert (op.kind, op.path, op.how, op.text) == ("write", "m.py", "patch", "new_call()")


def test_git_reverts_stashes_and_restores() -> None:
    assert kinds("git checkout django/db/base.py") == [("revert", "django/db/base.py", "git checkout")]
    assert kinds("git checkout -- a.py b.py") == [
        ("revert", "a.py", "git checkout"), ("revert", "b.py", "git checkout")
    ]
    assert kinds("git checkout -b feature") == []
    assert kinds("git restore .") == [("revert", "*", "git restore")]
    assert kinds("git stash && pytest && git stash pop") == [
        ("revert", "*", "git stash"), ("restore", "*", "git stash pop")
    ]
    assert kinds("git reset --hard HEAD") == [("revert", "*", "git reset --hard")]


def test_copies_moves_deletions_and_cd() -> None:
    ops = shell.parse("cd pkg && cp mod.py mod.py.bak && mv tmp.py mod.py && rm -f notes.txt")
    assert [(o.kind, o.path, o.how, o.source) for o in ops] == [
        ("write", "pkg/mod.py.bak", "copy", "pkg/mod.py"),
        ("write", "pkg/mod.py", "move", "pkg/tmp.py"),
        ("delete", "pkg/tmp.py", "move", None),
        ("delete", "pkg/notes.txt", "rm", None),
    ]


def test_unbalanced_quotes_and_nonsense_never_raise() -> None:
    for command in ("echo 'unterminated > x", ":", "]}", "<<", "sed -i", "cat <<EOF > f", "", "\x00\x01"):
        assert isinstance(shell.parse(command), list)


def test_unified_diffs_with_and_without_git_headers() -> None:
    text = (
        "diff --git a/pkg/a.py b/pkg/a.py\nindex 1..2 100644\n--- a/pkg/a.py\n+++ b/pkg/a.py\n@@ -1,2 +1,3 @@\n"
        " keep\n-gone\n+added one\n+added two\ndiff --git a/new.txt b/new.txt\nnew file mode 100644\n"
        "--- /dev/null\n+++ b/new.txt\n@@ -0,0 +1 @@\n+hello\n"
        "diff --git a/old.py b/old.py\ndeleted file mode 100644\n--- a/old.py\n+++ /dev/null\n@@ -1 +0,0 @@\n-bye\n"
    )
    files = parse_diff(text)
    assert [(f.path, f.added, f.removed, f.new_file, f.deleted) for f in files] == [
        ("pkg/a.py", ["added one", "added two"], ["gone"], False, False),
        ("new.txt", ["hello"], [], True, False),
        ("old.py", [], ["bye"], False, True),
    ]
    assert looks_like_diff(text) and not looks_like_diff("plain text\n+++ not a diff")
    bare = parse_diff("--- x.py\n+++ x.py\n@@ -3,1 +3,1 @@\n-a\n+b\n")
    assert [(f.path, f.added) for f in bare] == [("x.py", ["b"])]


def test_hunk_lines_that_look_like_headers_are_content() -> None:
    """Inside a hunk a line is told by its first character: ``--- x`` is a removed line ``-- x``, ``+++ y`` an
    added one; a line that is none of ``+ - space \\`` ends the hunk, and a header after it starts a file."""
    text = (
        "--- a/m.py\n+++ b/m.py\n@@ -1,3 +1,3 @@\n ctx\n--- x\n++++ y\n\\ No newline at end of file\n"
        "end of hunk\n--- a/n.py\n+++ b/n.py\n@@ -1 +1 @@\n-old\n+new\n"
    )
    assert [(f.path, f.added, f.removed) for f in parse_diff(text)] == [
        ("m.py", ["+++ y"], ["-- x"]),
        ("n.py", ["new"], ["old"]),
    ]


def test_every_command_of_the_mini_corpus_parses_and_edits_are_found(shared: Path) -> None:
    commands = 0
    writes = 0
    for run in extract_all(shared / "corpora/miniswe-swebench-verified"):
        assert not isinstance(run, Failure)
        for step in run.steps:
            for action in step.actions:
                if action.command:
                    commands += 1
                    writes += sum(op.kind in ("write", "run", "code") for op in shell.parse(action.command))
    assert commands > 3000
    assert writes > 1000  # heredocs, sed -i and script runs: about a third of all commands edit something

"""Bad input on the command line: one line that says what the path is and where the problem is, exit 1 -- never
"internal error" (issue 20, items 4-6).

Permissions are real: the CLI runs as a process that may not read what it is given. Under root (CI containers) that
process keeps uid 0 but loses the capabilities that let root read everything (``setpriv``), so mode bits count.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from codetracer.core.extract import extract_all

ARTIFACT = "fixtures/mini-swe-agent/example_text.traj.json"


def unprivileged() -> list[str]:
    """The prefix that makes a process subject to file permissions."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("root without setpriv: permissions cannot be made to count")
    drop = "-dac_override,-dac_read_search"
    return [setpriv, f"--inh-caps={drop}", f"--bounding-set={drop}"]


def analyze(target: Path | str, *extra: str, prefix: list[str] | None = None, cwd: Path | None = None,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    command = [*(prefix or []), sys.executable, "-m", "codetracer.cli", "analyze", os.fsdecode(target), *extra]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=cwd,
                          env={**os.environ, **(env or {})}, errors="backslashreplace")


def one_line(done: subprocess.CompletedProcess[str], code: int = 1) -> str:
    assert done.returncode == code, (done.returncode, done.stderr)
    assert "internal error" not in done.stderr and "Traceback" not in done.stderr, done.stderr
    problem = [line for line in done.stderr.splitlines() if "could not be read" not in line]
    assert len(problem) == 1, done.stderr
    return problem[0]


@pytest.fixture
def locked(tmp_path: Path, shared: Path) -> Path:
    """A folder nobody may enter, holding a valid artifact."""
    folder = tmp_path / "locked"
    folder.mkdir()
    shutil.copy(shared / ARTIFACT, folder / "run.traj.json")
    folder.chmod(0)
    yield folder
    folder.chmod(0o700)


def test_artifact_inside_a_folder_that_cannot_be_entered(locked: Path, home: Path) -> None:
    """Item 4: was ``internal error: PermissionError``, exit 3."""
    line = one_line(analyze(locked / "run.traj.json", "--no-store", prefix=unprivileged()))
    assert f"{locked / 'run.traj.json'}: cannot read: Permission denied" in line


def test_home_under_a_folder_that_cannot_be_entered_is_a_store_problem(locked: Path, tmp_path: Path,
                                                                        shared: Path) -> None:
    """Item 4: ``CODETRACER_HOME`` where the store cannot be made: exit 2, one line; the built-in formats still load
    (reading the home's extractor specs failed inside the built-in plugin and dropped every format)."""
    env = {"CODETRACER_HOME": str(locked / "home")}
    done = analyze(shared / ARTIFACT, prefix=unprivileged(), env=env)
    assert done.returncode == 2, done.stderr
    assert "cannot create the store folder" in done.stderr and "internal error" not in done.stderr
    assert "plugin 'builtin' failed" not in done.stderr
    listed = subprocess.run([*unprivileged(), sys.executable, "-m", "codetracer.cli", "ls"], capture_output=True,
                            text=True, env={**os.environ, **env}, timeout=120)
    assert listed.returncode == 2 and len(listed.stderr.splitlines()) == 1, listed.stderr
    no_store = analyze(shared / ARTIFACT, "--no-store", "-q", prefix=unprivileged(), env=env)
    assert no_store.returncode == 0, no_store.stderr
    assert "cannot read extractor specs" in no_store.stderr and "Permission denied" in no_store.stderr


def test_unreadable_file_given_by_name_says_so(tmp_path: Path, shared: Path, home: Path) -> None:
    """Item 6: said "unknown format" (the folder walk already said "cannot read: Permission denied")."""
    target = tmp_path / "run.traj.json"
    shutil.copy(shared / ARTIFACT, target)
    target.chmod(0)
    line = one_line(analyze(target, "--no-store", prefix=unprivileged()))
    assert line == f"codetracer: {target}: cannot read: Permission denied"
    walked = one_line(analyze(tmp_path, "--no-store", prefix=unprivileged()))
    assert walked == line


def test_invalid_utf8_deep_in_a_file_is_reported_where_it_is(tmp_path: Path, shared: Path, home: Path) -> None:
    """Item 6: orjson says "surrogates not allowed" at line 1 column 1 wherever the byte is."""
    data = (shared / ARTIFACT).read_bytes()
    lines = data.split(b"\n")
    line_no = len(lines) // 2
    column = 1 + len(lines[line_no - 1]) // 2
    lines[line_no - 1] = lines[line_no - 1][: column - 1] + b"\xff" + lines[line_no - 1][column - 1 :]
    target = tmp_path / "run.traj.json"
    target.write_bytes(b"\n".join(lines))
    line = one_line(analyze(target, "--no-store"))
    assert line == (f"codetracer: {target}: line {line_no} column {column}: byte 0xff is not UTF-8 "
                    "(expected JSON text in UTF-8)")


def test_self_referencing_symlink_fifo_and_broken_link_say_what_they_are(tmp_path: Path, home: Path) -> None:
    """Item 6: a link to itself said "cannot stat (broken link?)", a FIFO "cannot list folder: Not a directory"
    (and a FIFO must never be opened to sniff: that blocks)."""
    loop = tmp_path / "loop.traj.json"
    loop.symlink_to(loop.name)
    fifo = tmp_path / "pipe.traj.json"
    os.mkfifo(fifo)
    broken = tmp_path / "broken.traj.json"
    broken.symlink_to("gone.traj.json")
    assert one_line(analyze(loop, "--no-store")).endswith(
        f"{loop}: symlink loop: the link resolves to itself, or to links that lead back to it")
    assert one_line(analyze(fifo, "--no-store")).endswith(
        f"{fifo}: a FIFO (named pipe), not a run artifact (expected a file or a folder of runs)")
    assert one_line(analyze(broken, "--no-store")).endswith(
        f"{broken}: broken symlink (it points to gone.traj.json, which does not exist)")
    folder = tmp_path / "walk"
    folder.mkdir()
    (folder / "loop").symlink_to("loop")
    lines = [item.message for item in extract_all(folder) if hasattr(item, "message")]
    assert "symlink loop: the link resolves to itself, or to links that lead back to it" in lines


def test_valid_run_whose_file_name_is_not_utf8(tmp_path: Path, shared: Path, home: Path) -> None:
    """Item 5: ``stable_run_id`` raised ``UnicodeEncodeError``; then storing the tree failed the same way."""
    folder = tmp_path / "runs"
    folder.mkdir()
    name = os.fsdecode(b"caf\xe9-\xff.traj.json")  # Latin-1 bytes, not UTF-8
    shutil.copy(shared / ARTIFACT, folder / name)
    stored = analyze(folder / name, "-q")
    assert stored.returncode == 0, stored.stderr
    listed = subprocess.run([sys.executable, "-m", "codetracer.cli", "ls", "--json"], capture_output=True, text=True,
                            timeout=120)
    assert listed.returncode == 0 and "caf" in listed.stdout, listed.stderr
    as_json = analyze(folder, "--json", "--no-store")
    assert as_json.returncode == 0 and "\\\\xe9" in as_json.stdout, as_json.stderr
    again = analyze(folder / name, "-q")
    assert again.returncode == 0
    rows = [line for line in listed.stdout.splitlines() if line.strip()]
    relisted = subprocess.run([sys.executable, "-m", "codetracer.cli", "ls", "--json"], capture_output=True,
                              text=True, timeout=120)
    assert [line for line in relisted.stdout.splitlines() if line.strip()] == rows, "the same id: stored once"

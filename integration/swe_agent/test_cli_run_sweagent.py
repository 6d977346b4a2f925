"""``codetracer run -- sweagent run ...``: SWE-agent's own CLI traced without touching its code, offline.

``sweagent run`` with SWE-agent's default config, the ``replay`` model (``--agent.model.name=replay``) and the
``local`` deployment on a throwaway repository. codetracer registers its hook in SWE-agent's process, keeps the
command's output and exit code, and prints the run and its diagnosis at the end; the stored tree is the tree of the
``.traj`` SWE-agent wrote.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("sweagent", reason="needs SWE-agent (tox -e integration-sweagent)")

import swe_script
from test_swe_live import LIVE_ONLY, differences, offline, write_report

from codetracer.core import config
from codetracer.core.store import Store

RUN_TIMEOUT = 240
"""Seconds a ``sweagent run`` may take: a traced replayed run of five steps took about 60 s at load average 14 on
2 cores, so a run still going after four times that hangs (a SWE-ReX session waiting on a reply that will not come)
and fails with its stderr instead of holding the suite."""


def sweagent_run(repo: Path, replay: Path, out: Path) -> list[str]:
    sweagent = str(Path(sys.executable).parent / "sweagent")
    return [sweagent, "run", "--agent.model.name=replay", f"--agent.model.replay_path={replay}",
            "--env.deployment.type=local", "--env.repo.type=local", f"--env.repo.path={repo}",
            f"--problem_statement.text={swe_script.TASK}", f"--problem_statement.id={repo.name}",
            f"--output_dir={out}"]


def run(args: list[str], tmp_path: Path, home: Path) -> subprocess.CompletedProcess[str]:
    """Run from a folder of its own: SWE-agent turns a config value naming a path that exists relative to the working
    directory into an absolute path, the problem statement's id (the repository's name) included."""
    cwd = tmp_path / "cwd"
    cwd.mkdir(exist_ok=True)
    env = {**os.environ, "CODETRACER_HOME": str(home)}
    try:
        return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired as hung:
        tail = (hung.stderr or b"")[-2000:]
        text = tail.decode(errors="replace") if isinstance(tail, bytes) else tail
        pytest.fail(f"{' '.join(args[:4])} ... did not end within {RUN_TIMEOUT} s (killed); its stderr ended:\n{text}",
                    pytrace=False)


def test_sweagent_cli_traced_with_its_diagnosis(repo: Path, tmp_path: Path, home: Path) -> None:
    replay = swe_script.write_replay(tmp_path / "replay.jsonl", repo.name, swe_script.wrong_edit(f"/{repo.name}"))
    out = tmp_path / "out"
    verify = f"cd /{repo.name} && python -m pytest -q -p no:cacheprovider"
    done = run([sys.executable, "-m", "codetracer.cli", "run", "--verify", verify, "--",
                *sweagent_run(repo, replay, out)], tmp_path, home)

    assert done.returncode == 0, done.stderr[-3000:]
    assert "Submission successful" in done.stdout  # SWE-agent's own output, untouched
    ours = [line for line in done.stderr.splitlines() if line.startswith(("codetracer", "  diagnosis"))]
    run_id = ours[0].split()[2]
    assert ours[0] == f"codetracer: run {run_id} [failed] 5 steps  (codetracer show {run_id})"
    assert ours[1].startswith("  diagnosis (signals, confidence ") and "onset step 2: str_replace_editor" in ours[1]

    store = Store(config.store_path(home), project="tests")
    try:
        live = store.load_run(run_id)
    finally:
        store.close()
    assert live.metadata["via"] == "codetracer run" and live.metadata["resolved"] is False
    assert live.diagnosis is not None and live.diagnosis.onset_step == 2
    traj = swe_script.traj_path(out / repo.name, repo.name)
    write_report(traj, repo.name, resolved=False)
    saved = offline(traj)
    # the stored tree also holds the diagnosis the offline tree has not been given, and the --verify command's output
    assert differences(live.model_dump(exclude=LIVE_ONLY), saved.model_dump(exclude=LIVE_ONLY)) == []
    v = live.verification
    assert v is not None and (v.command, v.passed, v.exit_code) == (verify, False, 1)
    assert v.failed_tests == ["test_calc.py::test_mean"]


def test_sweagent_exit_code_is_kept_when_it_fails(repo: Path, tmp_path: Path, home: Path) -> None:
    command = sweagent_run(repo, tmp_path / "no-such-replay.jsonl", tmp_path / "out")
    untraced = run(command, tmp_path, home)
    traced = run([sys.executable, "-m", "codetracer.cli", "run", "--", *command], tmp_path, home)
    assert untraced.returncode != 0
    assert traced.returncode == untraced.returncode
    assert "no-such-replay.jsonl not found" in traced.stdout + traced.stderr

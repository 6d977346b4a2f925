"""Cost as the store grows: ``codetracer analyze`` of 100, 1,000 and 10,000 runs, then ``ls``/``show``/``search``.

    python benchmarks/store_scale.py [--template ../shared/corpora/miniswe-swebench-verified] [--runs 100 1000 10000]

The corpora are made here, not committed: copies of ``--template`` (each in its own folder, so every run gets a
fresh id: ids hash the artifact's path), hard-linked where the file system allows (no extra disk; the bytes read are
the same). For each size, in a fresh process and an empty store, as a person would type it: ``codetracer analyze
CORPUS`` (the default view, one line per run). Reported: wall time, time per run and its ratio to the smallest size,
the peak RSS of the largest process (the CLI or one of its workers), and the runs stored, counted against the runs
the copies hold (none lost, none twice). Then, on the largest store, ``ls``, ``show RUN``, ``search WORD`` and
``memory ls``, each a whole fresh process, median of ``--repeats``.
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def timed(command: list[str], env: dict[str, str]) -> tuple[float, float, bytes]:
    """Wall seconds, peak RSS (MB) of the largest process of the tree, and stdout of one command."""
    start = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        err = proc.stderr.read().decode() if proc.stderr else ""
        if os.waitstatus_to_exitcode(status) not in (0, 1):
            raise SystemExit(f"{' '.join(command)} failed: {err}")
        out.seek(0)
        return wall, usage.ru_maxrss / 1024, out.read()


def copy_tree(template: Path, dest: Path) -> None:
    """``template`` under ``dest``, hard-linked file by file (copied where links are impossible)."""
    for folder, _dirs, files in os.walk(template):
        target = dest / Path(folder).relative_to(template)
        target.mkdir(parents=True, exist_ok=True)
        for name in files:
            try:
                os.link(Path(folder) / name, target / name)
            except OSError:
                shutil.copy2(Path(folder) / name, target / name)


def stored_counts(home: Path) -> tuple[int, int]:
    """Rows in the store's runs table, and distinct ids among them."""
    with sqlite3.connect(home / "codetracer.db") as db:
        total, distinct = db.execute("SELECT COUNT(*), COUNT(DISTINCT id) FROM runs").fetchone()
    return int(total), int(distinct)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--template", default=str(REPO.parent / "shared/corpora/miniswe-swebench-verified"))
    parser.add_argument("--runs", type=int, nargs="+", default=[100, 1000, 10000])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--work", help="folder for the corpora and stores (default: a temporary one, removed)")
    args = parser.parse_args()
    template = Path(args.template).resolve()
    work = Path(args.work or tempfile.mkdtemp(prefix="ct-scale-"))
    base_env = dict(os.environ, LITELLM_LOCAL_MODEL_COST_MAP="True")
    cli = [sys.executable, "-m", "codetracer"]

    # the runs one copy holds: analyze the template once, into its own store
    probe = work / "probe-home"
    timed([*cli, "analyze", str(template), "-q"], dict(base_env, CODETRACER_HOME=str(probe)))
    per_copy = stored_counts(probe)[0]
    print(f"template {template}: {per_copy} runs per copy; Python {sys.version.split()[0]}, {os.cpu_count()} cores")

    corpus = work / "corpus"  # grows copy by copy: each size analyzes all copies made so far
    made = 0
    rows = []
    largest_home = None
    for size in sorted(args.runs):
        copies = math.ceil(size / per_copy)
        while made < copies:
            copy_tree(template, corpus / f"copy-{made:05d}")
            made += 1
        home = work / f"home-{size}"
        shutil.rmtree(home, ignore_errors=True)
        env = dict(base_env, CODETRACER_HOME=str(home))
        wall, rss, _ = timed([*cli, "analyze", str(corpus)], env)
        total, distinct = stored_counts(home)
        expected = copies * per_copy
        rows.append((size, expected, wall, rss, total, distinct))
        largest_home = home
        print(
            f"  {expected:6} runs: {wall:7.2f} s, {wall / expected * 1e3:6.2f} ms per run, peak RSS {rss:5.0f} MB, "
            f"stored {total} ({distinct} distinct, lost {expected - distinct}, twice {total - distinct})",
            flush=True,
        )
    first = rows[0]
    for (_s0, n0, wall0, *_), (_s1, n1, wall1, *_) in itertools.pairwise(rows):
        ratio = (wall1 / n1) / (first[2] / first[1])
        marginal = (wall1 - wall0) / (n1 - n0)
        print(
            f"  per-run time at {n1} runs / at {first[1]} runs: {ratio:.2f} (target <= 1.2); "
            f"each run from {n0} to {n1}: {marginal * 1e3:.2f} ms"
        )
    assert largest_home is not None
    env = dict(base_env, CODETRACER_HOME=str(largest_home))
    with sqlite3.connect(largest_home / "codetracer.db") as db:
        run_id = db.execute("SELECT id FROM runs ORDER BY n_steps DESC LIMIT 1").fetchone()[0]
        size_mb = (largest_home / "codetracer.db").stat().st_size / 2**20
    print(f"on the store of {rows[-1][4]} runs ({size_mb:.0f} MB), whole process, median of {args.repeats}:")
    commands = {
        "ls": ["ls"],
        "ls --limit 1000": ["ls", "--limit", "1000"],
        "show (the longest run)": ["show", run_id],
        "search traceback": ["search", "traceback"],
        "search 'def test'": ["search", "def test"],
        "memory ls": ["memory", "ls"],
    }
    for label, command in commands.items():
        walls = [timed([*cli, *command], env)[0] for _ in range(args.repeats)]
        print(f"  {label:24} {statistics.median(walls):6.3f} s (max {max(walls):.3f}; target < 0.3 s)")
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

"""Loading gold sets: labeled failures (and failure-free runs) as :class:`GoldRow` objects with their trees.

Four sources are read, chosen by what the path is:

* **a folder of runs** (any format :func:`~codetracer.core.extract.extract_all` reads). Runs that carry gold in
  ``run.metadata["gold"]`` (the Who&When extractor puts ``mistake_step_id`` / ``mistake_agent`` there) become
  single-step rows; runs whose outcome is *solved* become failure-free rows, used for the false-alarm rate; other
  runs (failed without labels, unknown) are skipped and counted.
* **a CodeTraceBench manifest** (a ``.json`` list of rows with ``traj_id``, ``stages`` [``stage_id``,
  ``start_step_id``, ``end_step_id``], ``incorrect_stages`` [``stage_id``, ``incorrect_step_ids``,
  ``unuseful_step_ids``] and ``solved``) plus ``traj_root``, the folder holding one run folder per ``traj_id``
  (directly or one level down, as in ``corpora/codetracebench-steps/<agent>/<traj_id>``). Label ``stage_id``
  indexes the row's own ``stages`` list, so stage accuracy is judged on those ranges, not on codetracer's own
  segmentation.
* **a JSONL gold file** (``.jsonl``), one object per line::

      {"run": "path/to/artifact",          # file or folder; relative to the JSONL file (or to traj_root)
       "incorrect_step_ids": [12, 13],     # 1-based step ids; [] or absent for a failure-free run
       "unuseful_step_ids": [14],          # optional
       "stages": [{"stage_id": 1, "start_step_id": 1, "end_step_id": 10}],   # optional, for stage accuracy
       "mistake_step_id": 12,              # optional single-step gold (1-based)
       "mistake_agent": "Coder",           # optional
       "solved": false}                    # optional; true marks a failure-free row

  A row with no incorrect steps and no ``mistake_step_id`` is failure-free only when ``solved`` is true.

Each loader returns ``(rows, problems)``: problems are one-line notes for rows that could not be used, so a report
says how much of a set it covers instead of silently shrinking it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codetracer.core.extract import Failure, extract_all
from codetracer.core.model import Outcome, Run
from codetracer.evaluate.metrics import earliest_stage

_TRAILING_INT = re.compile(r"(\d+)(?!.*\d)")


@dataclass
class GoldRow:
    """One trajectory with its gold labels; ``failure_free`` rows have none and measure false alarms."""

    run: Run
    source: str
    incorrect: frozenset[int] = frozenset()
    unuseful: frozenset[int] = frozenset()
    stages: list[tuple[int, int, int]] = field(default_factory=list)
    failing_stage: int | None = None
    mistake_step: int | None = None
    mistake_agent: str | None = None
    failure_free: bool = False

    @property
    def framework(self) -> str:
        return self.run.framework

    @property
    def number(self) -> int | None:
        """The last integer in the row's source name (``17.json`` -> 17), used for odd/even development splits."""
        match = _TRAILING_INT.search(Path(self.source).name)
        return int(match.group(1)) if match else None


def load_gold(path: Path, traj_root: Path | None = None) -> tuple[list[GoldRow], list[str]]:
    """Rows of the gold set at ``path`` (a run folder, a manifest ``.json`` or a ``.jsonl`` file)."""
    path = Path(path)
    if path.is_dir():
        return load_run_folder(path)
    if path.suffix == ".jsonl":
        return load_jsonl(path, traj_root)
    if path.suffix == ".json":
        data = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(data, list):
            if traj_root is None:
                raise ValueError(f"{path}: a CodeTraceBench manifest needs --traj-root (the trajectory folders)")
            return load_manifest(data, traj_root, str(path))
        return load_run_folder(path)
    raise ValueError(f"{path}: expected a folder of runs, a manifest .json or a gold .jsonl")


def load_run_folder(path: Path) -> tuple[list[GoldRow], list[str]]:
    """Labeled runs (``metadata['gold']``) and solved runs under ``path``."""
    rows: list[GoldRow] = []
    problems: list[str] = []
    skipped = 0
    for item in extract_all(path):
        if isinstance(item, Failure):
            problems.append(f"{item.path}: {item.message}")
            continue
        source = str(item.metadata.get("source_path", item.id))
        gold = item.metadata.get("gold")
        if isinstance(gold, dict) and gold.get("mistake_step_id") is not None:
            step = int(gold["mistake_step_id"])
            rows.append(
                GoldRow(
                    run=item,
                    source=source,
                    incorrect=frozenset({step}),
                    mistake_step=step,
                    mistake_agent=gold.get("mistake_agent"),
                )
            )
        elif item.outcome is Outcome.SOLVED:
            rows.append(GoldRow(run=item, source=source, failure_free=True))
        else:
            skipped += 1
    if skipped:
        problems.append(f"{path}: {skipped} run(s) neither labeled nor solved, not evaluated")
    return rows, problems


def _find_run(traj_root: Path, name: str) -> Path | None:
    direct = traj_root / name
    if direct.exists():
        return direct
    for child in sorted(traj_root.iterdir()) if traj_root.is_dir() else []:
        if child.is_dir() and (child / name).exists():
            return child / name
    return None


def _one_run(path: Path) -> Run | str:
    runs = [r for r in extract_all(path) if not isinstance(r, Failure)]
    if len(runs) != 1:
        return f"{path}: expected one run, found {len(runs)}"
    return runs[0]


def _stages(raw: Any) -> list[tuple[int, int, int]]:
    out = []
    for s in raw or []:
        out.append((int(s["stage_id"]), int(s["start_step_id"]), int(s["end_step_id"])))
    return out


def load_manifest(rows: list[dict[str, Any]], traj_root: Path, source: str) -> tuple[list[GoldRow], list[str]]:
    """CodeTraceBench manifest rows whose trajectory folder is under ``traj_root``."""
    out: list[GoldRow] = []
    problems: list[str] = []
    for row in rows:
        traj_id = str(row.get("traj_id", ""))
        folder = _find_run(Path(traj_root), traj_id)
        if folder is None:
            problems.append(f"{source}: no trajectory for {traj_id} under {traj_root}")
            continue
        run = _one_run(folder)
        if isinstance(run, str):
            problems.append(run)
            continue
        incorrect: set[int] = set()
        unuseful: set[int] = set()
        failing = []
        for stage in row.get("incorrect_stages") or []:
            incorrect.update(int(i) for i in stage.get("incorrect_step_ids") or [])
            unuseful.update(int(i) for i in stage.get("unuseful_step_ids") or [])
            if stage.get("incorrect_step_ids"):
                failing.append(int(stage["stage_id"]))
        solved = bool(row.get("solved"))
        run.outcome = Outcome.SOLVED if solved else Outcome.FAILED
        beyond = sorted(i for i in incorrect if i > len(run.steps))
        if beyond:
            problems.append(
                f"{source}: {traj_id}: {len(beyond)} gold step(s) beyond the {len(run.steps)} steps of the "
                "trajectory (it holds a prefix); they count as misses for every method"
            )
        out.append(
            GoldRow(
                run=run,
                source=traj_id,
                incorrect=frozenset(incorrect),
                unuseful=frozenset(unuseful),
                stages=_stages(row.get("stages")),
                failing_stage=min(failing) if failing else None,
                failure_free=solved and not incorrect,
            )
        )
    return out, problems


def load_jsonl(path: Path, traj_root: Path | None = None) -> tuple[list[GoldRow], list[str]]:
    """The simple JSONL gold format described in this module's docstring."""
    base = Path(traj_root) if traj_root else path.parent
    out: list[GoldRow] = []
    problems: list[str] = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        row = json.loads(line)
        target = Path(row["run"])
        target = target if target.is_absolute() else base / target
        run = _one_run(target)
        if isinstance(run, str):
            problems.append(f"{path}:{lineno}: {run}")
            continue
        incorrect = frozenset(int(i) for i in row.get("incorrect_step_ids") or [])
        mistake = row.get("mistake_step_id")
        solved = bool(row.get("solved"))
        if not incorrect and mistake is None and not solved:
            problems.append(f"{path}:{lineno}: no incorrect steps and not marked solved; skipped")
            continue
        stages = _stages(row.get("stages"))
        if "stage_id" in row and row["stage_id"] is not None:
            failing: int | None = int(row["stage_id"])
        else:
            failing = earliest_stage(incorrect, stages) if stages else None
        if solved:
            run.outcome = Outcome.SOLVED
        elif incorrect or mistake is not None:
            run.outcome = Outcome.FAILED
        out.append(
            GoldRow(
                run=run,
                source=str(target),
                incorrect=incorrect or (frozenset({int(mistake)}) if mistake is not None else frozenset()),
                unuseful=frozenset(int(i) for i in row.get("unuseful_step_ids") or []),
                stages=stages,
                failing_stage=failing,
                mistake_step=int(mistake) if mistake is not None else None,
                mistake_agent=row.get("mistake_agent"),
                failure_free=solved and not incorrect and mistake is None,
            )
        )
    return out, problems

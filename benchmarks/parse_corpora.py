"""Parse + build trees for every run in ``../shared/corpora``, next to plain ``json.load`` of the same files.

    python benchmarks/parse_corpora.py [--corpora ../shared/corpora] [--repeat 3]

Each mode runs in its own fresh subprocess so its wall time and peak memory (max RSS) are its own:

* ``json.load``  -- the floor: read and parse every JSON file under the corpora, nothing else;
* ``one core``   -- discovery, detection by content, extraction, tree building and stage segmentation, serially;
* ``all cores``  -- the same spread over a process pool (one task per run).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _json_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in {".json", ".jsonl"})


def mode_json(root: Path) -> dict[str, object]:
    files = _json_files(root)
    start = time.perf_counter()
    size = 0
    for path in files:
        with open(path, "rb") as fh:
            data = fh.read()
        size += len(data)
        if path.suffix == ".jsonl":
            for line in data.splitlines():
                if line.strip():
                    json.loads(line)
        else:
            json.loads(data)
    return {"seconds": time.perf_counter() - start, "files": len(files), "mb": size / 2**20}


def _extract_item(item: tuple[str, str]) -> tuple[int, int, int]:
    from codetracer.core.extract import ExtractorRegistry, Failure, extract_one

    path, name = item
    extractor = ExtractorRegistry.from_plugins().get(name)
    runs = steps = failures = 0
    for result in extract_one(Path(path), extractor):
        if isinstance(result, Failure):
            failures += 1
        else:
            runs += 1
            steps += len(result.steps)
    return runs, steps, failures


def mode_serial(root: Path) -> dict[str, object]:
    from codetracer.core.extract import Failure, extract_all

    start = time.perf_counter()
    runs = steps = failures = 0
    for result in extract_all(root):
        if isinstance(result, Failure):
            failures += 1
        else:
            runs += 1
            steps += len(result.steps)
    return {"seconds": time.perf_counter() - start, "runs": runs, "steps": steps, "failures": failures}


def mode_parallel(root: Path) -> dict[str, object]:
    from concurrent.futures import ProcessPoolExecutor

    from codetracer.core.extract import ExtractorRegistry, Failure

    start = time.perf_counter()
    registry = ExtractorRegistry.from_plugins()
    items, failures = [], 0
    for found in registry.discover(root):
        if isinstance(found, Failure):
            failures += 1
        else:
            items.append((str(found[0]), found[1].name))
    runs = steps = 0
    workers = os.cpu_count() or 1
    with ProcessPoolExecutor(workers) as pool:
        for r, s, f in pool.map(_extract_item, items, chunksize=8):
            runs, steps, failures = runs + r, steps + s, failures + f
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {
        "seconds": time.perf_counter() - start,
        "runs": runs,
        "steps": steps,
        "failures": failures,
        "workers": workers,
        "worker_peak_rss_mb": round(children, 1),
    }


MODES = {"json": mode_json, "serial": mode_serial, "parallel": mode_parallel}


def _child(mode: str, root: str) -> None:
    result = MODES[mode](Path(root))
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    print(json.dumps(result))


def _run(mode: str, root: Path) -> dict[str, object]:
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    out = subprocess.run(
        [sys.executable, __file__, "--child", mode, "--corpora", str(root)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpora", default=str(REPO.parent / "shared" / "corpora"))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--child", choices=sorted(MODES), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child, args.corpora)
        return
    root = Path(args.corpora)
    results: dict[str, list[dict[str, object]]] = {m: [_run(m, root) for _ in range(args.repeat)] for m in MODES}
    floor = statistics.median(float(r["seconds"]) for r in results["json"])  # type: ignore[arg-type]
    info = results["json"][0]
    print(f"corpora: {root} ({info['files']} JSON files, {float(info['mb']):.1f} MB)")  # type: ignore[arg-type]
    for mode, label in [
        ("json", "json.load floor"),
        ("serial", "codetracer, one core"),
        ("parallel", "codetracer, all cores"),
    ]:
        seconds = statistics.median(float(r["seconds"]) for r in results[mode])  # type: ignore[arg-type]
        last = results[mode][-1]
        extra = ""
        if mode != "json":
            extra = f"  runs={last['runs']} steps={last['steps']} unreadable={last['failures']}"
        if mode == "parallel":
            extra += f" workers={last['workers']} worker peak RSS={last['worker_peak_rss_mb']} MB"
        print(
            f"{label:24} {seconds:7.3f} s  x{seconds / floor:5.2f} of floor  peak RSS {last['peak_rss_mb']} MB{extra}"
        )


if __name__ == "__main__":
    main()

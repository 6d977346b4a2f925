"""What redaction costs where texts leave the machine: the real runs of a shared corpus, every text redacted.

    python benchmarks/redaction.py [--corpus ../shared/corpora/miniswe-swebench-verified] [--runs 100]

Reads the runs (not timed), then times :func:`codetracer.core.secrets.redact_run` over them -- what the HTML report,
the OTel export and ``--json --redact`` do to each run -- and reports MB of text per second and the time per run.
Redaction never runs on the agent's thread; this is the price of a report or an export.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _text_bytes(value: object) -> int:
    if isinstance(value, str):
        return len(value.encode("utf-8", "surrogatepass"))
    if isinstance(value, dict):
        return sum(_text_bytes(v) for v in value.values())
    if isinstance(value, list):
        return sum(_text_bytes(v) for v in value)
    return 0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--corpus", type=Path, default=REPO.parent / "shared/corpora/miniswe-swebench-verified")
    parser.add_argument("--runs", type=int, default=100)
    args = parser.parse_args()

    from codetracer.core.extract import extract_all
    from codetracer.core.model import Run
    from codetracer.core.secrets import redact_run

    runs = [r for r in extract_all(args.corpus) if isinstance(r, Run)][: args.runs]
    size = sum(_text_bytes(r.model_dump()) for r in runs)
    started = time.perf_counter()
    redacted = [redact_run(r) for r in runs]
    seconds = time.perf_counter() - started
    changed = sum(1 for a, b in zip(runs, redacted, strict=True) if a.to_json() != b.to_json())
    print(json.dumps({
        "runs": len(runs),
        "text_mb": round(size / 1e6, 2),
        "seconds": round(seconds, 3),
        "mb_per_s": round(size / 1e6 / seconds, 1),
        "ms_per_run": round(seconds / max(len(runs), 1) * 1000, 1),
        "runs_with_a_redaction": changed,
    }))


if __name__ == "__main__":
    main()

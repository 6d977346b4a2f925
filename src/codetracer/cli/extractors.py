"""``codetracer extractors [list | suggest FILE]``: the artifact formats codetracer reads, and a drafted spec for a new
one.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from codetracer.core.errors import CodetracerError


def cmd_extractors(args: argparse.Namespace) -> int:
    from codetracer.core.registry import ExtractorRegistry

    if args.action == "suggest":
        return cmd_extractors_suggest(args)
    for extractor in ExtractorRegistry.from_plugins().extractors:
        doc = (getattr(extractor, "__doc__", None) or type(extractor).__doc__ or "").strip().splitlines()
        print(f"{extractor.name:22} {doc[0] if doc else ''}")
    return 0


def cmd_extractors_suggest(args: argparse.Namespace) -> int:
    from codetracer.core.mapping import save_spec
    from codetracer.core.suggest import heuristic_spec, llm_spec, validate_spec
    from codetracer.llm import LLMClient, LLMConfig

    if not args.path:
        raise CodetracerError("extractors suggest needs a PATH to an example artifact")
    path = Path(args.path)
    if not path.is_file():
        raise CodetracerError(f"{path}: not a file (suggest drafts a spec from one example artifact)")
    name = args.name or "".join(ch if ch.isalnum() else "-" for ch in path.stem.lower()).strip("-")[:40] or "custom"
    llm_config = None if args.no_llm else LLMConfig.from_env()
    if llm_config is not None:
        spec = llm_spec(path, name, LLMClient(llm_config))
        how = f"drafted by {llm_config.model}"
    else:
        spec = heuristic_spec(path, name)
        how = "drafted from field names (set CODETRACER_BASE_URL and CODETRACER_MODEL to draft with an LLM)"
    runs = validate_spec(spec, path)
    print(spec.model_dump_json(indent=2, exclude_defaults=True))
    print(f"# {how}; validated: {len(runs)} run(s), {sum(len(r.steps) for r in runs)} steps", file=sys.stderr)
    if not args.dry_run:
        saved = save_spec(spec)
        print(f"# saved to {saved}; `codetracer analyze` now reads such files", file=sys.stderr)
    return 0

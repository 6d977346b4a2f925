"""Draft a declarative extractor spec for an unknown artifact, validate it against the file, save it for reuse.

With an LLM endpoint configured (:mod:`codetracer.llm`) the model is shown the file's *shape* -- keys, types and short
redacted samples, delimited as untrusted data -- and asked for a :class:`~codetracer.core.mapping.MappingSpec` as
JSON. Without one, a heuristic finds the longest list of objects and maps its fields by their usual names. Either
way the draft is only data: it is validated by extracting the file with it, never executed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from codetracer.core.errors import CodetracerError
from codetracer.core.extract import build_runs
from codetracer.core.extractor import Candidate, load_json, load_jsonl
from codetracer.core.mapping import MappedExtractor, MappingSpec
from codetracer.core.model import Run

SYNONYMS: dict[str, tuple[str, ...]] = {
    "thought": (
        "thought",
        "thoughts",
        "reasoning",
        "analysis",
        "plan",
        "think",
        "rationale",
        "content",
        "text",
        "message",
    ),
    "command": ("command", "cmd", "keystrokes", "code", "input", "action", "bash", "shell"),
    "observation": ("observation", "output", "result", "stdout", "obs", "response", "tool_output", "feedback"),
    "exit_code": ("exit_code", "returncode", "return_code", "exitcode", "status_code", "rc"),
    "tool": ("tool", "tool_name", "function", "function_name", "action_type", "type"),
    "agent": ("agent", "name", "speaker", "role", "sender", "author"),
    "error": ("error", "is_error", "failed", "exception"),
    "timestamp": ("timestamp", "time", "ts", "created_at"),
    "arguments": ("arguments", "args", "params", "parameters", "tool_input"),
}
TASK_KEYS = ("task", "problem_statement", "instruction", "question", "prompt", "goal", "query", "issue")
OUTCOME_KEYS = ("resolved", "success", "solved", "is_resolved", "exit_status", "status", "outcome", "reward", "passed")


def _lists_of_objects(value: Any, path: str = "$", depth: int = 0) -> Iterator[tuple[str, list[Any]]]:
    if isinstance(value, list) and value and sum(isinstance(v, dict) for v in value) >= max(1, len(value) // 2):
        yield path, value
    if depth >= 3:
        return
    if isinstance(value, dict):
        for key, child in value.items():
            if isinstance(key, str) and key.replace("_", "").isalnum():
                yield from _lists_of_objects(child, key if path == "$" else f"{path}.{key}", depth + 1)


def _field_paths(items: list[Any]) -> dict[str, type]:
    """Paths (one level of nesting) present in the list's objects, with the type seen first."""
    paths: dict[str, type] = {}
    for item in items[:50]:
        if not isinstance(item, dict):
            continue
        for key, value in item.items():
            paths.setdefault(key, type(value))
            if isinstance(value, dict):
                for sub, subvalue in value.items():
                    paths.setdefault(f"{key}.{sub}", type(subvalue))
    return paths


def _pick(paths: dict[str, type], names: tuple[str, ...], used: set[str], want: tuple[type, ...]) -> str | None:
    for name in names:
        for path, kind in paths.items():
            leaf = path.rsplit(".", 1)[-1].lower()
            if leaf == name and path not in used and (kind in want or kind is type(None)):
                used.add(path)
                return path
    return None


def heuristic_spec(path: Path, name: str) -> MappingSpec:
    """A first draft from field names alone; good enough for many JSON logs, a starting point for the rest."""
    document, fmt = _load(path)
    found = list(_lists_of_objects(document)) if fmt == "json" else [("$", document)]
    if not found:
        raise CodetracerError(f"{path}: no list of objects found to use as steps")
    steps_path, items = max(found, key=lambda pair: len(pair[1]))
    paths = _field_paths(items)
    used: set[str] = set()
    step: dict[str, str] = {}
    for field, want in (
        ("command", (str,)),
        ("observation", (str,)),
        ("exit_code", (int,)),
        ("tool", (str,)),
        ("agent", (str,)),
        ("error", (bool, str)),
        ("timestamp", (int, float)),
        ("arguments", (dict,)),
        ("thought", (str,)),
    ):
        picked = _pick(paths, SYNONYMS[field], used, want)
        if picked:
            step[field] = picked
    top = document if isinstance(document, dict) else {}
    task = next((k for k in TASK_KEYS if isinstance(top.get(k), str)), None)
    outcome = next((k for k in OUTCOME_KEYS if k in top), None)
    keys = [k for k in top if isinstance(k, str)][:3]
    head = Candidate(path, False).head_text
    match: dict[str, Any] = {"json_keys": [k for k in keys if f'"{k}"' in head]}
    if not match["json_keys"]:
        sample = next((f'"{p.rsplit(".", 1)[-1]}"' for p in step.values() if f'"{p.rsplit(".", 1)[-1]}"' in head), None)
        if sample is None:
            raise CodetracerError(f"{path}: cannot tell this format by its content (no distinctive keys near the top)")
        match = {"contains": sample}
    return MappingSpec.model_validate(
        {
            "name": name,
            "framework": name,
            "format": fmt,
            "match": match,
            "steps": steps_path,
            "step": step,
            "task": task,
            "outcome": outcome,
        }
    )


def _load(path: Path) -> tuple[Any, str]:
    head = Candidate(path, False).head.lstrip()
    if head[:1] == b"{" and b"\n{" in head[:4096] and not head.rstrip().endswith(b"}\n]"):
        try:
            return load_json(path), "json"
        except CodetracerError:
            return load_jsonl(path), "jsonl"
    return load_json(path), "json"


def shape(value: Any, depth: int = 0, width: int = 8) -> Any:
    """A compact picture of a document: keys, types, list lengths and short samples (for the LLM prompt)."""
    if isinstance(value, dict):
        if depth >= 4:
            return f"<object with {len(value)} keys>"
        return {k: shape(v, depth + 1, width) for k, v in list(value.items())[:25]}
    if isinstance(value, list):
        if not value:
            return []
        return [f"<list of {len(value)}>", *(shape(v, depth + 1, width) for v in value[:2])]
    if isinstance(value, str):
        return value if len(value) <= 60 else value[:40] + f"... <{len(value)} chars>"
    return value


class _Draft(BaseModel):
    spec: dict[str, Any]


def llm_spec(path: Path, name: str, client: Any) -> MappingSpec:
    """Ask the configured LLM for a spec; validate it; one retry that shows the model what went wrong."""
    from codetracer.llm import untrusted

    document, fmt = _load(path)
    picture = json.dumps(shape(document if fmt == "json" else document[:3]), ensure_ascii=False, default=str)[:12000]
    schema = json.dumps(MappingSpec.model_json_schema())[:6000]
    system = (
        "You write declarative extractor specs for codetracer. A spec maps a JSON agent-run log onto steps "
        '(thought, tool, command, observation, exit_code, error, agent). Reply with {"spec": {...}} where spec '
        f"follows this JSON schema: {schema}"
    )
    user = f"Name the extractor {name!r}. File format: {fmt}. The file's shape:\n{untrusted(picture)}"
    problem = ""
    for _ in range(2):
        draft = client.chat_json(system, user + problem, _Draft)
        data = dict(draft.spec, name=name)
        try:
            spec = MappingSpec.model_validate(data)
            validate_spec(spec, path)
            return spec
        except (ValidationError, CodetracerError) as exc:
            problem = f"\nYour previous spec failed: {str(exc).splitlines()[0]}. Fix it."
    raise CodetracerError(f"{path}: the LLM's spec did not validate ({problem.strip()})")


def validate_spec(spec: MappingSpec, path: Path) -> list[Run]:
    """Extract ``path`` with ``spec``: it must be detected and give at least one run with steps."""
    extractor = MappedExtractor(spec)
    if extractor.detect(Candidate(path, False)) < 0.5:
        raise CodetracerError(f"{path}: the spec's match rules do not recognise this file")
    runs = build_runs(path, extractor)
    if not runs or not any(run.steps for run in runs):
        raise CodetracerError(f"{path}: the spec finds no steps in this file")
    return runs

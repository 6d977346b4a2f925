"""Declarative extractors: a small JSON/YAML spec says where steps, actions, observations and the outcome live.

A new artifact format then needs no code: drop a spec in ``$CODETRACER_HOME/extractors/`` (or a folder named in
``$CODETRACER_EXTRACTORS``) and ``codetracer analyze`` reads such files. Specs are data only -- paths into the JSON
document and constant values -- so a spec drafted by an LLM (``codetracer extractors suggest``) can be validated
and used without ever executing generated code.

Example::

    {
      "name": "my-agent",
      "framework": "my-agent",
      "match": {"json_keys": ["events", "meta"], "contains": "my-agent-version"},
      "steps": "events",
      "where": {"type": "action"},
      "step": {"thought": "thought", "command": "args.cmd", "tool": "tool", "observation": "result.output",
               "exit_code": "result.code", "error": "result.error", "agent": "who", "timestamp": "ts"},
      "task": "meta.task",
      "outcome": "meta.status",
      "outcome_map": {"done": "solved", "gave_up": "failed"}
    }

Paths are dotted keys with optional ``[n]`` indexes (``result.output``, ``messages[0].content``); ``$`` is the
document itself (a top-level list of steps). ``format: "jsonl"`` reads one JSON value per line as the step list.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from codetracer.core import config
from codetracer.core.errors import CodetracerError, ExtractError
from codetracer.core.events import Events
from codetracer.core.extractor import Candidate, load_json, load_jsonl, stable_run_id

_PATH_TOKEN = re.compile(r"([^.\[\]]+)|\[(-?\d+)\]")


def parse_path(path: str) -> list[str | int]:
    """``"a.b[2].c"`` -> ``["a", "b", 2, "c"]``; ``"$"`` -> ``[]``."""
    if path in ("$", ""):
        return []
    tokens: list[str | int] = []
    position = 0
    for match in _PATH_TOKEN.finditer(path):
        if match.start() != position and path[position : match.start()] != ".":
            raise ValueError(f"bad path {path!r} at character {position}")
        tokens.append(match.group(1) if match.group(1) is not None else int(match.group(2)))
        position = match.end()
    if position != len(path):
        raise ValueError(f"bad path {path!r} at character {position}")
    return tokens


def resolve(document: Any, tokens: list[str | int]) -> Any:
    """The value at ``tokens`` in ``document``, or ``None`` when any part is missing or of the wrong type."""
    value = document
    for token in tokens:
        if isinstance(token, int):
            if not isinstance(value, list) or not -len(value) <= token < len(value):
                return None
            value = value[token]
        else:
            if not isinstance(value, dict):
                return None
            value = value.get(token)
    return value


def _check_path(value: str | None) -> str | None:
    if value is not None:
        parse_path(value)
    return value


class MatchSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    json_keys: list[str] = Field(default_factory=list, description="top-level keys the document must have")
    contains: str | None = Field(default=None, description="text the first 8 KiB must contain")
    filename: str | None = Field(default=None, description="a glob the file name must match (never enough alone)")


class StepSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    thought: str | None = None
    tool: str | None = None
    tool_const: str | None = None
    command: str | None = None
    arguments: str | None = None
    observation: str | None = None
    exit_code: str | None = None
    error: str | None = None
    agent: str | None = None
    timestamp: str | None = None

    _paths = field_validator(
        "thought", "tool", "command", "arguments", "observation", "exit_code", "error", "agent", "timestamp"
    )(_check_path)


class MappingSpec(BaseModel):
    """A declarative extractor: where things live in a JSON (or JSON-lines) artifact."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,62}$")
    framework: str
    format: Literal["json", "jsonl"] = "json"
    match: MatchSpec = Field(description="how to recognise the format by content")
    steps: str = "$"
    where: dict[str, Any] = Field(default_factory=dict)
    step: StepSpec = Field(default_factory=StepSpec)
    task: str | None = None
    outcome: str | None = None
    outcome_map: dict[str, str] = Field(default_factory=dict)
    run_id: str | None = None

    _paths = field_validator("steps", "task", "outcome", "run_id")(_check_path)

    @field_validator("match")
    @classmethod
    def _match_says_something(cls, value: MatchSpec) -> MatchSpec:
        if not value.json_keys and not value.contains:
            raise ValueError("match needs json_keys or contains: detection is by content, not by file name alone")
        return value


class MappedExtractor:
    """An extractor driven by a :class:`MappingSpec`."""

    def __init__(self, spec: MappingSpec, origin: Path | None = None) -> None:
        self.spec = spec
        self.name = spec.name
        self.origin = origin
        self.__doc__ = f"declarative spec{f' from {origin}' if origin else ''} (framework {spec.framework})"
        self._steps = parse_path(spec.steps)
        self._step_paths = {
            field: parse_path(path) for field, path in spec.step.model_dump().items() if path and field != "tool_const"
        }

    def detect(self, candidate: Candidate) -> float:
        spec = self.spec.match
        if candidate.is_dir:
            return 0.0
        if spec.filename and not fnmatch.fnmatch(candidate.path.name, spec.filename):
            return 0.0
        head = candidate.head_text
        if spec.contains and spec.contains not in head:
            return 0.0
        for key in spec.json_keys:
            if f'"{key}"' not in head:
                return 0.0
        return 0.7 if spec.json_keys else 0.6

    def extract(self, path: Path, events: Events) -> None:
        spec = self.spec
        if spec.format == "jsonl":
            document: Any = load_jsonl(path)
            items = document
        else:
            document = load_json(path)
            items = resolve(document, self._steps)
        if not isinstance(items, list):
            raise ExtractError(path, f"spec {spec.name}: no list of steps at {spec.steps!r}", expected="a JSON list")
        run_value = resolve(document, parse_path(spec.run_id)) if spec.run_id else None
        run_id = f"{spec.framework}:{run_value}" if run_value else stable_run_id(spec.framework, path)
        task = resolve(document, parse_path(spec.task)) if spec.task else None
        events.run_started(
            run_id,
            spec.framework,
            task=task if isinstance(task, str) else None,
            metadata={"source_path": str(path), "extractor": spec.name},
        )
        n = 0
        for index, item in enumerate(items):
            if not isinstance(item, dict) or any(item.get(k) != v for k, v in spec.where.items()):
                continue
            n += 1
            self._emit_step(run_id, str(index), item, f"{spec.steps}[{index}]", events)
        if n == 0:
            raise ExtractError(path, f"spec {spec.name}: the step list holds no matching step", expected="steps")
        outcome = "unknown"
        if spec.outcome:
            raw = resolve(document, parse_path(spec.outcome))
            outcome = spec.outcome_map.get(str(raw), str(raw)) if raw is not None else "unknown"
        events.run_finished(run_id, outcome, exit_status=None)

    def _emit_step(self, run_id: str, key: str, item: dict[str, Any], raw_ref: str, events: Events) -> None:
        values = {field: resolve(item, tokens) for field, tokens in self._step_paths.items()}
        text = _text
        timestamp = values.get("timestamp")
        ts = float(timestamp) if isinstance(timestamp, (int, float)) and not isinstance(timestamp, bool) else None
        events.step_started(
            run_id,
            key,
            agent=text(values.get("agent")),
            thought=text(values.get("thought")),
            raw_ref=raw_ref,
            timestamp=ts,
        )
        command = text(values.get("command"))
        tool = text(values.get("tool")) or self.spec.step.tool_const
        arguments = values.get("arguments")
        if command is not None or tool is not None or isinstance(arguments, dict):
            call_id = f"{key}.0"
            events.tool_call_started(
                run_id,
                key,
                call_id,
                tool or "action",
                arguments=arguments if isinstance(arguments, dict) else {},
                command=command,
                raw_ref=raw_ref,
                timestamp=ts,
            )
            exit_code = values.get("exit_code")
            code = exit_code if isinstance(exit_code, int) and not isinstance(exit_code, bool) else None
            observation = text(values.get("observation"))
            events.tool_call_finished(
                run_id, call_id, output=observation, exit_code=code, is_error=bool(values.get("error"))
            )
        elif values.get("observation") is not None:
            events.observation(run_id, key, text(values.get("observation")) or "", is_error=bool(values.get("error")))
        events.step_finished(run_id, key)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


# -- loading specs ----------------------------------------------------------------------------------------------------


def spec_dirs() -> list[Path]:
    """Folders searched for specs: ``$CODETRACER_EXTRACTORS`` (``os.pathsep``-separated), then the home's."""
    dirs = [Path(p) for p in os.environ.get("CODETRACER_EXTRACTORS", "").split(os.pathsep) if p]
    dirs.append(config.home() / "extractors")
    return dirs


def load_spec(path: Path) -> MappingSpec:
    """Read and validate one spec file (JSON, or YAML when PyYAML is installed)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CodetracerError(f"{path}: cannot read extractor spec ({exc})") from None
    try:
        if path.suffix in {".yaml", ".yml"}:
            try:
                import yaml
            except ImportError:
                raise CodetracerError(f"{path}: YAML specs need PyYAML (pip install pyyaml), or write JSON") from None
            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except ValueError as exc:
        raise CodetracerError(f"{path}: extractor spec is not valid JSON/YAML ({exc})") from None
    try:
        return MappingSpec.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top)"
        raise CodetracerError(f"{path}: extractor spec invalid at {where}: {first['msg']}") from None


def load_specs(dirs: Iterable[Path] | None = None) -> tuple[list[MappedExtractor], list[str]]:
    """Every valid spec in ``dirs`` as an extractor, plus one error line per invalid spec file."""
    extractors: list[MappedExtractor] = []
    errors: list[str] = []
    for folder in dirs if dirs is not None else spec_dirs():
        try:
            if not folder.is_dir():
                continue
            paths = sorted(folder.iterdir())
        except OSError as exc:  # a folder we may not enter: one line, and the built-in formats still load
            errors.append(f"{folder}: cannot read extractor specs ({exc.strerror or exc})")
            continue
        for path in paths:
            if path.suffix not in {".json", ".yaml", ".yml"}:
                continue
            try:
                extractors.append(MappedExtractor(load_spec(path), origin=path))
            except CodetracerError as exc:
                errors.append(str(exc))
    return extractors, errors


def save_spec(spec: MappingSpec, folder: Path | None = None) -> Path:
    folder = folder or config.home() / "extractors"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{spec.name}.json"
    path.write_text(spec.model_dump_json(indent=2, exclude_defaults=True) + "\n", encoding="utf-8")
    return path

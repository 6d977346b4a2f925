"""CodeTraceBench pre-normalized runs as trace trees.

A run is a folder with ``steps.json`` (a list of ``{"step_id", "action_ref", "observation_ref"}``; each ref is
``{"path", "line_start", "line_end", "content"}`` pointing into the original agent log, ``observation_ref`` may be
null), ``stage_ranges.json`` (human stages ``{"stage", "start_step_id", "end_step_id"}``) and ``task.md``.

Step ids are kept as given. They must be 1, 2, 3 ... in file order: the CodeTraceBench labels
(``incorrect_step_ids`` / ``unuseful_step_ids``) use the same numbers, so a file whose ids are not contiguous is
rejected with an :class:`ExtractError` naming the first bad position rather than renumbered behind the labels' back.

Each step becomes one tool call (its action) whose result is the observation snippet. The snippet is interpreted as
far as its source format allows, cheaply and without failing on odd snippets (the file is still valid when a snippet
is not): OpenHands event JSON (command, thought, exit code), Terminus 2 ``response.txt`` JSON (keystrokes, analysis
and plan), mini-swe-agent message fragments (``THOUGHT`` text, the ```` ```bash ```` block, ``<returncode>``) and the
``step_N.jsonl`` rows (command, agent analysis, terminal result). The ``llm_analysis`` field of those rows is an
annotator's judgement, not part of the agent's trace, and is left out. Anything else is kept as raw text.

Human stage ranges are emitted with ``stage_declared(kind="other", source="human")`` (the files give no stage
labels). Many files declare ranges past the last step of ``steps.json`` (the normalized file holds a prefix of the
annotated trajectory); those ranges are clipped to the steps present and the ones starting beyond are dropped, so
stage ids stay aligned with the labels' ``stage_id`` for every step in the tree. The full original ranges are kept in
run metadata (``human_stage_ranges``, ``declared_step_count``). Outcome: the files carry none, so it is unknown.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from codetracer.core.errors import ExtractError
from codetracer.core.events import Events
from codetracer.core.extractor import Candidate, load_json, stable_run_id

try:
    import orjson

    _loads: Any = orjson.loads
except ImportError:  # pragma: no cover - orjson is a declared dependency
    _loads = json.loads

_FOLDER_FRAMEWORKS = {"miniswe": "mini-swe-agent", "openhands": "openhands", "terminus2": "terminus2"}
_BASH_BLOCK = re.compile(r"```(?:bash|sh)?\s*\n(.*?)\n?```", re.S)
_RETURNCODE = re.compile(r"<returncode>\s*(-?\d+)\s*</returncode>")
_OH_EXIT = re.compile(r"exit code (-?\d+)")
_DECODER = json.JSONDecoder()

Interpreted = tuple[str, dict[str, Any], str | None, str | None]
"""(tool, arguments, command, thought)."""


class CodeTraceBenchExtractor:
    """Reads one CodeTraceBench run folder (``steps.json`` + ``stage_ranges.json`` + ``task.md``)."""

    name = "codetracebench"

    def detect(self, candidate: Candidate) -> float:
        if not candidate.is_dir or "steps.json" not in candidate.names:
            return 0.0
        head = Candidate(candidate.path / "steps.json", False).head
        if not head.lstrip().startswith(b"[") or b'"step_id"' not in head or b'"action_ref"' not in head:
            return 0.0
        return 0.9 if "stage_ranges.json" in candidate.names or "task.md" in candidate.names else 0.7

    def extract(self, path: Path, events: Events) -> None:
        folder = path if path.is_dir() else path.parent
        steps_path = folder / "steps.json"
        steps = load_json(steps_path)
        if not isinstance(steps, list):
            raise ExtractError(steps_path, f"top level is {type(steps).__name__}", expected="a list of steps")
        if not steps:
            raise ExtractError(steps_path, "no steps", expected="at least one step")
        checked = [_check_step(steps_path, i, step) for i, step in enumerate(steps)]
        ranges = _stage_ranges(folder / "stage_ranges.json")
        framework = _framework(folder, checked)
        run_id = stable_run_id(framework, folder)
        metadata: dict[str, Any] = {"source_path": str(folder), "format": self.name, "trajectory_id": folder.name}
        if ranges:
            metadata["human_stage_ranges"] = [[start, end] for start, end in ranges]
            metadata["declared_step_count"] = ranges[-1][1]
        events.run_started(run_id, framework, task=_task(folder / "task.md"), metadata=metadata)
        for i, (step_id, action, observation) in enumerate(checked):
            _emit_step(events, run_id, i, step_id, action, observation)
        _declare_stages(events, run_id, ranges, len(checked))
        events.run_finished(run_id, "unknown")


# -- validation ------------------------------------------------------------------------------------------------------


def _check_ref(path: Path, where: str, ref: object, required: bool) -> dict[str, Any] | None:
    if ref is None and not required:
        return None
    if not isinstance(ref, dict):
        raise ExtractError(path, "reference is not an object", position=where, expected="{path, line_start, content}")
    content = ref.get("content", "")
    if not isinstance(content, str):
        raise ExtractError(path, "'content' is not a string", position=where + ".content", expected="a string")
    if not isinstance(ref.get("path", ""), str):
        raise ExtractError(path, "'path' is not a string", position=where + ".path", expected="a string")
    for key in ("line_start", "line_end"):
        value = ref.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise ExtractError(path, f"'{key}' is not an integer", position=f"{where}.{key}", expected="an integer")
    return ref


def _check_step(path: Path, index: int, step: object) -> tuple[int, dict[str, Any], dict[str, Any] | None]:
    where = f"[{index}]"
    if not isinstance(step, dict):
        raise ExtractError(path, f"step is {type(step).__name__}", position=where, expected="an object")
    step_id = step.get("step_id")
    if isinstance(step_id, bool) or not isinstance(step_id, int):
        raise ExtractError(path, "'step_id' is not an integer", position=where + ".step_id", expected="an integer")
    if step_id != index + 1:
        raise ExtractError(
            path, f"step_id {step_id} breaks the sequence", position=where + ".step_id",
            expected=f"contiguous 1-based ids (step_id {index + 1} here)",
        )
    action = _check_ref(path, where + ".action_ref", step.get("action_ref"), required=True)
    assert action is not None
    observation = _check_ref(path, where + ".observation_ref", step.get("observation_ref"), required=False)
    return step_id, action, observation


def _stage_ranges(path: Path) -> list[tuple[int, int]]:
    """The human ranges, validated: each start <= end, in order, not overlapping."""
    if not path.exists():
        return []
    data = load_json(path)
    if not isinstance(data, list):
        raise ExtractError(path, f"top level is {type(data).__name__}", expected="a list of stage ranges")
    ranges: list[tuple[int, int]] = []
    for i, item in enumerate(data):
        where = f"[{i}]"
        if not isinstance(item, dict):
            raise ExtractError(path, f"range is {type(item).__name__}", position=where, expected="an object")
        start, end = item.get("start_step_id"), item.get("end_step_id")
        if any(isinstance(v, bool) or not isinstance(v, int) for v in (start, end)):
            raise ExtractError(path, "step ids are not integers", position=where, expected="integer start/end")
        assert isinstance(start, int) and isinstance(end, int)
        number = item.get("stage", i + 1)
        if number != i + 1:
            raise ExtractError(path, f"stage {number!r} out of order", position=where + ".stage",
                               expected=f"stages numbered 1, 2, 3 ... (stage {i + 1} here)")
        if not 1 <= start <= end:
            raise ExtractError(path, f"range {start}..{end} is empty", position=where, expected="1 <= start <= end")
        if ranges and start <= ranges[-1][1]:
            raise ExtractError(path, f"range {start}..{end} overlaps the one before", position=where,
                               expected="ranges in step order")
        ranges.append((start, end))
    return ranges


def _framework(folder: Path, steps: list[tuple[int, dict[str, Any], dict[str, Any] | None]]) -> str:
    """From the folder names first (``miniswe/miniswe-...``), else from the reference paths' first segment."""
    for name in (folder.parent.name, folder.name.split("-", 1)[0]):
        if name in _FOLDER_FRAMEWORKS:
            return _FOLDER_FRAMEWORKS[name]
    first = str(steps[0][1].get("path", "")).split("/", 1)[0]
    return _FOLDER_FRAMEWORKS.get(first, "unknown")


def _task(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace").strip() or None
    except OSError:
        return None


# -- emission --------------------------------------------------------------------------------------------------------


def _ref_text(ref: dict[str, Any]) -> str:
    return f"{ref.get('path', '')}:{ref.get('line_start', '?')}-{ref.get('line_end', '?')}"


def _emit_step(
    events: Events, run_id: str, index: int, step_id: int, action: dict[str, Any], observation: dict[str, Any] | None
) -> None:
    key = str(step_id)
    tool, arguments, command, thought = interpret_action(action.get("content", ""))
    events.step_started(run_id, key, thought=thought, raw_ref=f"steps.json[{index}] {_ref_text(action)}")
    call_id = f"{key}.action"
    events.tool_call_started(
        run_id, key, call_id, tool, arguments=arguments, command=command, raw_ref=_ref_text(action)
    )
    if observation is not None:
        text, exit_code = interpret_observation(observation.get("content", ""))
        failed = exit_code not in (None, 0)
        events.tool_call_finished(run_id, call_id, output=text, exit_code=exit_code, is_error=failed)
    events.step_finished(run_id, key)


def _declare_stages(events: Events, run_id: str, ranges: list[tuple[int, int]], n_steps: int) -> None:
    for start, end in ranges:
        if start > n_steps:
            break
        events.stage_declared(run_id, "other", start, min(end, n_steps), source="human")


# -- snippet interpretation ------------------------------------------------------------------------------------------


def _json_object(text: str) -> dict[str, Any] | None:
    """The first JSON object in ``text`` (Terminus 2 answers may have prose around it), or None."""
    start = text.find("{")
    if start < 0 or start > 2000:
        return None
    try:
        value = _loads(text) if start == len(text) - len(text.lstrip()) else None
    except ValueError:
        value = None
    if value is None:
        try:
            value, _ = _DECODER.raw_decode(text, start)
        except ValueError:
            return None
    return value if isinstance(value, dict) else None


def _is_fragment(text: str) -> bool:
    """A slice of pretty-printed chat messages (mini-swe-agent ``.traj.json`` lines), not a whole JSON document."""
    return '"role":' in text[:300]


def _fragment_content(text: str) -> str | None:
    """The ``"content"`` string of a pretty-printed chat message fragment (mini-swe-agent ``.traj.json`` lines)."""
    at = text.find('"content": "')
    if at < 0:
        return None
    try:
        value, _ = _DECODER.raw_decode(text, at + len('"content": '))
    except ValueError:
        return None
    return value if isinstance(value, str) else None


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def interpret_action(content: str) -> Interpreted:
    """What a step's action snippet says: tool, arguments, shell command and thought, as far as it can tell."""
    fragment = _is_fragment(content)
    obj = None if fragment else _json_object(content)
    if obj is not None:
        if "action" in obj and isinstance(obj.get("args"), dict):  # OpenHands event
            args = obj["args"]
            meta = obj.get("tool_call_metadata")
            tool = _str(meta.get("function_name")) if isinstance(meta, dict) else None
            command = _str(args.get("command")) or _str(args.get("code"))
            return tool or str(obj.get("action")), {"action": obj.get("action")}, command, _str(args.get("thought"))
        if isinstance(obj.get("commands"), list):  # Terminus 2 response
            keys = [c.get("keystrokes") for c in obj["commands"] if isinstance(c, dict)]
            command = "".join(k for k in keys if isinstance(k, str)) or None
            parts = [p for p in (_str(obj.get("analysis")), _str(obj.get("plan"))) if p]
            arguments = {"task_complete": obj.get("task_complete")} if "task_complete" in obj else {}
            return "terminal", arguments, command, "\n\n".join(parts) or None
        if "command" in obj:  # step_N.jsonl row
            return "bash", {}, _str(obj.get("command")), _str(obj.get("agent_analysis"))
    message = _fragment_content(content) if fragment else None
    text = message if message is not None else content
    block = _BASH_BLOCK.search(text)
    if block:
        thought = text[: block.start()].strip()
        if thought.startswith("THOUGHT:"):
            thought = thought[len("THOUGHT:"):].strip()
        return "bash", {}, block.group(1), thought or None
    if message is not None:
        return "message", {}, None, message or None
    return "raw", {"text": content}, None, None


def interpret_observation(content: str) -> tuple[str, int | None]:
    """The observation text and its exit code when the snippet states one."""
    if _is_fragment(content):
        content = _fragment_content(content) or content
    elif content.lstrip().startswith("{"):
        obj = _json_object(content)
        if obj is not None and "observation" in obj:  # OpenHands event
            text = _str(obj.get("content")) or _str(obj.get("message")) or ""
            return text, _openhands_exit(obj)
        if obj is not None and "terminal_result" in obj:  # step_N.jsonl row
            return str(obj.get("terminal_result") or ""), None
    match = _RETURNCODE.search(content, 0, 200)
    return content, int(match.group(1)) if match else None


def _openhands_exit(obj: dict[str, Any]) -> int | None:
    extras = obj.get("extras")
    if isinstance(extras, dict):
        meta = extras.get("metadata")
        code = meta.get("exit_code") if isinstance(meta, dict) else extras.get("exit_code")
        if isinstance(code, int) and not isinstance(code, bool):
            return code
    match = _OH_EXIT.search(str(obj.get("message", "")))
    return int(match.group(1)) if match else None


EXTRACTORS = [CodeTraceBenchExtractor()]

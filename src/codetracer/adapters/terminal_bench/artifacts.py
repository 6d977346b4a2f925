"""Extractor for terminal-bench trial folders (``<task>.<k>-of-<n>.<run id>/``).

A trial folder is one run. What it holds, and what becomes steps, in order of preference:

1. ``agent-logs/episode-N/`` (Terminus 1 and 2): each episode is a step. ``response.txt`` (Terminus 2) or
   ``response.json`` (Terminus 1) is the model's answer: ``analysis``/``plan`` (``state_analysis``/``explanation``)
   form the thought, every ``commands[].keystrokes`` a ``terminal`` tool call. The *next* episode's ``prompt.txt`` is
   the terminal screen the agent saw afterwards, so it is this step's observation. ``debug.json`` names the model.
2. a mini-swe-agent trajectory under ``agent-logs/`` (replayed with the mini-swe-agent reader);
3. mini-swe-agent's console transcript in ``sessions/agent.log`` (installed mini agents leave only that);
4. the asciinema recording ``sessions/agent.cast`` (v2): one step per ``Episode N`` marker, or per typed input, with
   the terminal output that followed as its observation;
5. ``commands.txt`` (one Python-literal line per command sent to tmux), without observations.

``results.json`` of the trial gives the outcome (``is_resolved``) and the facts of the trial. The run-level folder
above trials holds a ``results.json`` with a ``results`` list: it is not claimed, so discovery walks into each trial.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from codetracer.adapters.mini_swe_agent.artifacts import (
    looks_like_trajectory,
    parse_console_log,
    read_tail,
    replay_messages,
    strip_terminal,
)
from codetracer.core.errors import ExtractError
from codetracer.core.events import Events
from codetracer.core.extractor import Candidate, load_json, stable_run_id

FRAMEWORK = "terminal-bench"
TOOL = "terminal"
_TRIAL_MARKERS = frozenset({"agent-logs", "sessions", "commands.txt", "panes"})
_EPISODE_RE = re.compile(r"^episode-(\d+)$")
_PARSE_ERROR_PREFIX = "Previous response had parsing errors"


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _read_text(path: Path) -> str | None:
    """A text file as the agent wrote it; undecodable bytes are replaced, a missing file is ``None``."""
    try:
        return path.read_bytes().decode("utf-8", "replace")
    except OSError:
        return None


def _iso_time(value: Any) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        return None


# ----------------------------------------------------------------------------------------------------------------------
# Trial facts: results.json
# ----------------------------------------------------------------------------------------------------------------------


def _read_results(trial: Path) -> Mapping[str, Any]:
    path = trial / "results.json"
    if not path.is_file():
        return {}
    data = load_json(path)
    if not isinstance(data, dict):
        raise ExtractError(path, f"top level is {type(data).__name__}", position="line 1 column 1",
                           expected="a trial result object")
    resolved = data.get("is_resolved")
    if resolved is not None and not isinstance(resolved, bool):
        raise ExtractError(path, f"is_resolved is {type(resolved).__name__}", position="is_resolved",
                           expected="true, false or null")
    parser = data.get("parser_results")
    if parser is not None and not isinstance(parser, dict):
        raise ExtractError(path, f"parser_results is {type(parser).__name__}", position="parser_results",
                           expected="an object of test name -> status")
    return data


def _outcome(results: Mapping[str, Any]) -> str:
    """``is_resolved`` is the harness's verdict; ``null`` (tests never ran) stays unknown."""
    resolved = results.get("is_resolved")
    if isinstance(resolved, bool):
        return "solved" if resolved else "failed"
    return "unknown"


def _run_metadata(trial: Path) -> Mapping[str, Any]:
    """``run_metadata.json`` two levels up (``<run>/<task>/<trial>``) names the agent and model; optional."""
    path = trial.parent.parent / "run_metadata.json"
    if not path.is_file():
        return {}
    try:
        return _dict(load_json(path))
    except ExtractError:
        return {}


# ----------------------------------------------------------------------------------------------------------------------
# Terminus episodes
# ----------------------------------------------------------------------------------------------------------------------


@dataclass
class Episode:
    """One Terminus turn as read from its folder."""

    index: int
    folder: Path
    prompt: str | None
    response: str | None
    response_name: str
    parsed: Mapping[str, Any] | None
    commands: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


def _episodes(logs: Path) -> list[tuple[int, Path]]:
    found = []
    try:
        entries = list(logs.iterdir())
    except OSError:
        return []
    for entry in entries:
        match = _EPISODE_RE.match(entry.name)
        if match and entry.is_dir():
            found.append((int(match.group(1)), entry))
    return sorted(found)


def _parse_response(text: str) -> Mapping[str, Any] | None:
    """Terminus answers with JSON (extra text around it is tolerated, as Terminus does) or with XML tags."""
    start, end = text.find("{"), text.rfind("}")
    if 0 <= start < end:
        try:
            data = orjson.loads(text[start: end + 1])
        except ValueError:
            data = None
        if isinstance(data, dict):
            return data
    if "<response>" in text or "<commands>" in text:
        return _parse_xml_response(text)
    return None


_XML_TAG_RE = re.compile(r"<(analysis|plan|task_complete)>(.*?)</\1>", re.DOTALL)
_XML_KEYS_RE = re.compile(r"<keystrokes([^>]*)>(.*?)</keystrokes>", re.DOTALL)


def _parse_xml_response(text: str) -> Mapping[str, Any]:
    """Terminus 2's XML answer: ``<analysis>``, ``<plan>``, ``<keystrokes duration="..">``, ``<task_complete>``."""
    out: dict[str, Any] = {tag: value.strip() for tag, value in _XML_TAG_RE.findall(text)}
    out["commands"] = [{"keystrokes": keys, "attributes": attrs.strip()} for attrs, keys in _XML_KEYS_RE.findall(text)]
    return out


def _commands_of(parsed: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(keystrokes, arguments) per command; commands that are not objects with string keystrokes are the model's own
    malformed output and are skipped (the next prompt tells the agent so)."""
    commands = parsed.get("commands")
    if not isinstance(commands, list):
        return []
    out = []
    for command in commands:
        if isinstance(command, dict) and isinstance(command.get("keystrokes"), str):
            out.append((command["keystrokes"], dict(command)))
    return out


def _thought_of(parsed: Mapping[str, Any]) -> str | None:
    parts = []
    for key in ("analysis", "state_analysis", "plan", "explanation"):
        value = parsed.get(key)
        if isinstance(value, str) and value.strip():
            parts.append(value.strip())
    return "\n\n".join(parts) or None


def _read_episode(index: int, folder: Path) -> Episode:
    response, name = None, "response.txt"
    for candidate in ("response.txt", "response.json"):
        response = _read_text(folder / candidate)
        if response is not None:
            name = candidate
            break
    parsed = _parse_response(response) if response is not None else None
    episode = Episode(index, folder, _read_text(folder / "prompt.txt"), response, name, parsed)
    if parsed is not None:
        episode.commands = _commands_of(parsed)
    return episode


def _debug_model(folder: Path) -> str | None:
    """The model name from litellm's ``debug.json``; a broken debug log only loses the name."""
    path = folder / "debug.json"
    if not path.is_file():
        return None
    try:
        model = _dict(load_json(path)).get("model")
    except ExtractError:
        return None
    return model if isinstance(model, str) else None


def _task_from_prompt(prompt: str | None) -> str | None:
    if not prompt:
        return None
    start = prompt.find("Task Description:\n")
    if start < 0:
        return None
    start += len("Task Description:\n")
    end = prompt.find("\n\nCurrent terminal state:", start)
    return prompt[start: end if end >= 0 else None].strip() or None


def _agent_kind(episodes: list[Episode]) -> str:
    for episode in episodes:
        if episode.parsed is not None:
            if "state_analysis" in episode.parsed or "is_task_complete" in episode.parsed:
                return "terminus-1"
            return "terminus-2"
    return "terminus"


def _emit_episodes(events: Events, run_id: str, trial: Path, episodes: list[Episode]) -> dict[str, Any]:
    """One step per episode; the next episode's prompt is the observation of this one."""
    model = _debug_model(episodes[0].folder) if episodes else None
    if episodes and episodes[0].prompt is not None:
        events.message(run_id, "user", episodes[0].prompt, raw_ref=_rel(trial, episodes[0].folder / "prompt.txt"))
    for n, episode in enumerate(episodes):
        key = f"episode-{episode.index}"
        ref = _rel(trial, episode.folder / episode.response_name)
        thought = _thought_of(episode.parsed) if episode.parsed is not None else episode.response
        events.step_started(run_id, key, thought=thought, raw_ref=ref)
        if episode.response is None:
            events.error(run_id, "the episode has no response: the agent stopped while waiting for the model",
                         step_key=key, kind="NoResponse")
        elif episode.parsed is None:
            events.error(run_id, "the model's response is neither JSON nor XML", step_key=key, kind="ParseError")
        for k, (keys, arguments) in enumerate(episode.commands):
            events.tool_call_started(run_id, key, f"{key}:{k}", TOOL, arguments=arguments,
                                     command=keys.rstrip("\n") or keys, raw_ref=ref)
        following = episodes[n + 1].prompt if n + 1 < len(episodes) else None
        if following is not None:
            events.observation(run_id, key, following, is_error=following.startswith(_PARSE_ERROR_PREFIX),
                               raw_ref=_rel(trial, episodes[n + 1].folder / "prompt.txt"))
    task_complete = episodes[-1].parsed.get("task_complete", episodes[-1].parsed.get("is_task_complete")) \
        if episodes and episodes[-1].parsed is not None else None
    return {"agent": _agent_kind(episodes), "model": model, "episodes": len(episodes),
            "task_complete": task_complete if isinstance(task_complete, bool) else None,
            "task_from_prompt": _task_from_prompt(episodes[0].prompt) if episodes else None}


def _rel(trial: Path, path: Path) -> str:
    try:
        return str(path.relative_to(trial))
    except ValueError:
        return str(path)


# ----------------------------------------------------------------------------------------------------------------------
# mini-swe-agent inside a trial
# ----------------------------------------------------------------------------------------------------------------------


def _mini_trajectory(logs: Path) -> Path | None:
    """A mini-swe-agent ``.json`` trajectory directly under ``agent-logs/`` or one folder deeper."""
    if not logs.is_dir():
        return None
    for path in sorted(logs.glob("*.json")) + sorted(logs.glob("*/*.json")):
        head = _read_head(path)
        if head and looks_like_trajectory(head, read_tail(path)) >= 0.7:
            return path
    return None


def _read_head(path: Path, size: int = 8192) -> str:
    try:
        with open(path, "rb") as fh:
            return fh.read(size).decode("utf-8", "replace")
    except OSError:
        return ""


def _emit_mini_trajectory(events: Events, run_id: str, trial: Path, path: Path) -> dict[str, Any]:
    data = load_json(path)
    messages = data.get("messages") if isinstance(data, dict) else data
    replay = replay_messages(events, run_id, messages, path, ref=f"{_rel(trial, path)}:messages")
    return {"agent": "mini-swe-agent", "agent_exit_status": replay.exit_status, "steps_source": _rel(trial, path)}


def _emit_mini_console(events: Events, run_id: str, trial: Path, log_text: str) -> dict[str, Any] | None:
    steps = parse_console_log(log_text)
    if not steps:
        return None
    ref = "sessions/agent.log"
    for step in steps:
        key = f"step-{step.number}"
        events.step_started(run_id, key, thought=step.thought if step.command else step.response,
                            raw_ref=f"{ref} line {step.line}")
        if step.command is not None:
            events.tool_call_started(run_id, key, key, "bash", arguments={"command": step.command},
                                     command=step.command, raw_ref=f"{ref} line {step.line}")
            if step.observation is not None:
                events.tool_call_finished(run_id, key, output=step.observation, exit_code=step.exit_code)
        elif step.observation is not None:
            events.observation(run_id, key, step.observation, exit_code=step.exit_code,
                               raw_ref=f"{ref} line {step.line}")
    return {"agent": "mini-swe-agent", "steps_source": ref, "agent_cost": steps[-1].cost}


# ----------------------------------------------------------------------------------------------------------------------
# Recordings: asciinema casts and commands.txt
# ----------------------------------------------------------------------------------------------------------------------


@dataclass
class CastStep:
    """Inputs typed in one step (one ``Episode`` marker or one input event) and the output that followed."""

    key: str
    line: int
    timestamp: float | None
    inputs: list[str] = field(default_factory=list)
    output: list[str] = field(default_factory=list)


def read_cast(path: Path) -> tuple[Mapping[str, Any], Iterator[tuple[int, float, str, str]]]:
    """The header of an asciinema v2 file and an iterator over its ``(line, time, kind, data)`` events."""
    try:
        fh = open(path, "rb")  # noqa: SIM115 - closed by the event iterator (or below on a bad header)
    except OSError as exc:
        raise ExtractError(path, f"cannot read: {exc.strerror or exc}") from None
    first = fh.readline()
    try:
        header = orjson.loads(first)
    except ValueError:
        fh.close()
        raise ExtractError(path, "invalid asciicast header", position="line 1",
                           expected='a JSON object like {"version": 2, ...}') from None
    if not isinstance(header, dict) or header.get("version") != 2:
        fh.close()
        raise ExtractError(path, "not an asciicast v2 recording", position="line 1", expected='{"version": 2, ...}')
    return header, _cast_events(path, fh)


def _cast_events(path: Path, fh: Any) -> Iterator[tuple[int, float, str, str]]:
    with fh:
        for lineno, line in enumerate(fh, 2):
            if not line.strip():
                continue
            try:
                event = orjson.loads(line)
            except ValueError:
                raise ExtractError(path, "invalid JSON line", position=f"line {lineno}",
                                   expected='an event [time, "o"|"i"|"m", "text"]') from None
            if (not isinstance(event, list) or len(event) < 3 or isinstance(event[0], bool)
                    or not isinstance(event[0], (int, float)) or not isinstance(event[1], str)
                    or not isinstance(event[2], str)):
                raise ExtractError(path, "malformed event", position=f"line {lineno}",
                                   expected='[time, "o"|"i"|"m", "text"]')
            yield lineno, float(event[0]), event[1], event[2]


def cast_steps(path: Path) -> tuple[list[CastStep], float | None]:
    """Steps of a recording: ``m`` markers (``Episode N: ...``) start steps when present, else each ``i`` input does.
    Output before the first step is the screen before the agent acted and is dropped."""
    header, stream = read_cast(path)
    start = header.get("timestamp") if isinstance(header.get("timestamp"), (int, float)) else None
    events = list(stream)
    use_markers = any(kind == "m" for _, _, kind, _ in events)
    steps: list[CastStep] = []
    for lineno, t, kind, data in events:
        stamp = start + t if start is not None else None
        if (kind == "m" and use_markers) or (kind == "i" and not use_markers):
            key = data.split(":", 1)[0].strip().replace(" ", "-").lower() if kind == "m" else f"input-{len(steps) + 1}"
            if any(s.key == key for s in steps):
                key = f"{key}@{lineno}"
            steps.append(CastStep(key, lineno, stamp))
        if not steps:
            continue
        if kind == "i":
            steps[-1].inputs.append(data)
        elif kind == "o":
            steps[-1].output.append(data)
    return steps, start


def _emit_cast(events: Events, run_id: str, trial: Path, path: Path) -> dict[str, Any] | None:
    steps, _ = cast_steps(path)
    if not steps:
        return None
    ref = _rel(trial, path)
    for step in steps:
        events.step_started(run_id, step.key, raw_ref=f"{ref} line {step.line}", timestamp=step.timestamp)
        for k, typed in enumerate(step.inputs):
            command = typed.rstrip("\r\n") or typed
            events.tool_call_started(run_id, step.key, f"{step.key}:{k}", TOOL, arguments={"keystrokes": typed},
                                     command=command, raw_ref=f"{ref} line {step.line}", timestamp=step.timestamp)
        if step.output:
            events.observation(run_id, step.key, strip_terminal("".join(step.output)),
                               raw_ref=f"{ref} line {step.line}")
    return {"steps_source": ref}


def read_commands(path: Path) -> list[tuple[int, str, list[str]]]:
    """``commands.txt``: each line the Python repr of keystrokes sent to tmux, a string or a list of keys."""
    text = _read_text(path)
    if text is None:
        raise ExtractError(path, "cannot read")
    out = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            value = ast.literal_eval(line)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            raise ExtractError(path, "not a Python literal", position=f"line {lineno}",
                               expected="a quoted string or a list of strings") from None
        keys = [value] if isinstance(value, str) else value
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            raise ExtractError(path, f"line holds {type(value).__name__}", position=f"line {lineno}",
                               expected="a quoted string or a list of strings")
        out.append((lineno, keys[0] if keys else "", keys))
    return out


def _emit_commands(events: Events, run_id: str, path: Path) -> dict[str, Any] | None:
    """Last resort: each command sent is a step without observation (the recorder's own start is skipped)."""
    commands = [c for c in read_commands(path) if not c[1].startswith("asciinema rec")]
    for lineno, command, keys in commands:
        key = f"command-{lineno}"
        events.step_started(run_id, key, raw_ref=f"commands.txt line {lineno}")
        events.tool_call_started(run_id, key, key, TOOL, arguments={"keys": keys}, command=command,
                                 raw_ref=f"commands.txt line {lineno}")
    return {"steps_source": "commands.txt"} if commands else None


# ----------------------------------------------------------------------------------------------------------------------
# The extractor
# ----------------------------------------------------------------------------------------------------------------------


class TerminalBenchExtractor:
    """A terminal-bench trial folder as one run."""

    name = FRAMEWORK

    def detect(self, candidate: Candidate) -> float:
        if not candidate.is_dir:
            return 0.0
        names = candidate.names
        markers = len(names & _TRIAL_MARKERS)
        if "results.json" in names:
            head = _read_head(candidate.path / "results.json", 4096)
            if '"results": [' in head or '"n_resolved"' in head:
                return 0.0  # a run-level summary: its trials are below
            if '"trial_name"' in head and markers:
                return 0.95
            return 0.0
        if "agent-logs" in names and _episodes(candidate.path / "agent-logs"):
            return 0.7  # an unfinished trial: Terminus episodes but no results yet
        if {"commands.txt", "sessions"} <= names:
            return 0.6
        return 0.0

    def extract(self, path: Path, events: Events) -> None:
        if not path.is_dir():
            raise ExtractError(path, "not a folder", expected="a terminal-bench trial folder")
        results = _read_results(path)
        meta = _run_metadata(path)
        run_id = stable_run_id(FRAMEWORK, path)
        task = results.get("instruction") if isinstance(results.get("instruction"), str) else None
        start = _iso_time(results.get("agent_started_at")) or _iso_time(results.get("trial_started_at"))
        metadata = {
            "source_path": str(path), "task_id": results.get("task_id"), "trial_name": results.get("trial_name"),
            "agent_name": meta.get("agent_name"), "model": meta.get("model_name"),
            "dataset": meta.get("dataset_name"),
        }
        events.run_started(run_id, FRAMEWORK, task=task, timestamp=start,
                           metadata={k: v for k, v in metadata.items() if isinstance(v, str)})
        found = self._steps(path, events, run_id)
        if task is None and isinstance(found.get("task_from_prompt"), str):
            events.message(run_id, "user", found["task_from_prompt"], name="task")
        end = {k: v for k, v in found.items() if v is not None and k != "task_from_prompt"}
        for key in ("is_resolved", "failure_mode", "parser_results", "total_input_tokens", "total_output_tokens"):
            if results.get(key) is not None:
                end[key] = results[key]
        failure = results.get("failure_mode")
        exit_status = failure if isinstance(failure, str) and failure != "unset" else None
        stop = _iso_time(results.get("agent_ended_at")) or _iso_time(results.get("trial_ended_at"))
        events.run_finished(run_id, _outcome(results), exit_status=exit_status, metadata=end, timestamp=stop)

    def _steps(self, trial: Path, events: Events, run_id: str) -> dict[str, Any]:
        """Steps from the richest source the trial has (see the module docstring for the order)."""
        logs = trial / "agent-logs"
        numbered = _episodes(logs) if logs.is_dir() else []
        if numbered:
            episodes = [_read_episode(i, folder) for i, folder in numbered]
            return _emit_episodes(events, run_id, trial, episodes) | {"steps_source": "agent-logs"}
        mini = _mini_trajectory(logs)
        if mini is not None:
            return _emit_mini_trajectory(events, run_id, trial, mini)
        log_text = _read_text(trial / "sessions" / "agent.log")
        if log_text is not None and "mini-swe-agent" in log_text and "step " in log_text:
            found = _emit_mini_console(events, run_id, trial, log_text)
            if found is not None:
                return found
        cast = trial / "sessions" / "agent.cast"
        if cast.is_file():
            found = _emit_cast(events, run_id, trial, cast)
            if found is not None:
                return found
        commands = trial / "commands.txt"
        if commands.is_file():
            found = _emit_commands(events, run_id, commands)
            if found is not None:
                return found
        return {"steps_source": None}


EXTRACTORS = [TerminalBenchExtractor()]

"""Extractor for SWE-agent ``.traj`` files.

Formats handled (all one JSON object per file):

* **0.7**: ``trajectory`` entries with ``action``/``observation``/``response``/``thought`` and ``state`` as a JSON
  *string* recorded before the action; ``history`` of chat messages (demonstrations marked ``is_demo``).
* **1.0 / 1.1**: the same entries plus ``execution_time``, ``state`` as a dict recorded after the action, ``query``
  (the messages the model saw) and ``extra_info``; function-calling runs keep the model's ``tool_calls`` only in
  ``history``, so each trajectory entry is matched with its assistant message there.
* **RetryAgent**: ``attempts`` (one full trajectory record per attempt) plus a copy of the chosen attempt at the top
  level. Every attempt becomes its own run; later attempts hang under attempt 0 through ``parent_run_id``.
* **demonstrations**: ``history`` only; steps are rebuilt from assistant messages and the observation after each.

SWE-agent records no exit codes and no per-step token counts; only ``info.model_stats`` totals.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from codetracer.adapters.swe_agent.fields import (
    _EDITOR_KINDS,
    _OPEN_MARK,
    EDITOR_WRITES,
    FRAMEWORK,
    OPEN_FILE_EDITS,
    SWE_COMMANDS,
    _assistant_actions,
    _format_version,
    _function_call,
    _model_name,
    _open_file_from_state,
    _outcome,
    _replay_config,
    _windowed_edit,
    message_text,
    observation_failed,
)
from codetracer.core.errors import ExtractError
from codetracer.core.events import Events
from codetracer.core.extractor import Candidate, load_json, stable_run_id


class _Source:
    """Where the file is and how to say where inside it something went wrong."""

    __slots__ = ("path",)

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, problem: str, where: str, expected: str) -> ExtractError:
        return ExtractError(self.path, problem, position=where, expected=expected)

    def text(self, value: Any, where: str) -> str | None:
        """A string field or ``None``; any other type is malformed input."""
        if value is None or isinstance(value, str):
            return value
        raise self.fail(f"{type(value).__name__} where text was expected", where, "a string or null")

    def obj(self, value: Any, where: str, expected: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(f"{type(value).__name__} where an object was expected", where, expected)
        return value

    def seq(self, value: Any, where: str, expected: str) -> list[Any]:
        if not isinstance(value, list):
            raise self.fail(f"{type(value).__name__} where a list was expected", where, expected)
        return value


# ----------------------------------------------------------------------------------------------------------------
# detection
# ----------------------------------------------------------------------------------------------------------------


class SweAgentExtractor:
    """SWE-agent ``.traj`` files (one run, or one run per RetryAgent attempt)."""

    name = FRAMEWORK

    def detect(self, candidate: Candidate) -> float:
        """Judged from the first 8 KiB: a JSON object whose keys are SWE-agent's record keys."""
        if candidate.is_dir or not candidate.head.lstrip().startswith(b"{"):
            return 0.0
        head = candidate.head_text
        if '"hook"' in head and '"calls"' in head:
            return 0.1  # a recorded hook-call transcript: structure reference, not a run artifact
        bonus = 0.05 if candidate.path.name.endswith(".traj") else 0.0
        has_traj = '"trajectory"' in head
        if '"attempts"' in head and (has_traj or '"history"' in head or '"action"' in head):
            return 0.9 + bonus
        if (
            has_traj
            and '"action"' in head
            and '"observation"' in head
            and ('"thought"' in head or '"response"' in head)
        ):
            return 0.9 + bonus
        if '"history"' in head and '"role"' in head and ('"message_type"' in head or '"agent": "' in head):
            if '"source"' in head and '"instance_id"' in head:
                return 0.2  # OpenHands output rows also carry a history list
            return 0.7 + bonus
        return 0.0

    def extract(self, path: Path, events: Events) -> None:
        read_trajectory(path, events)


def read_trajectory(path: Path, events: Events, metadata: Mapping[str, Any] | None = None) -> list[str]:
    """Replay one ``.traj`` file as trace events; returns the ids of the runs it started (one per RetryAgent
    attempt). ``metadata`` is added to every run's (the run hook marks batch instances with it)."""
    src = _Source(path)
    data = src.obj(load_json(path), "top level", "a SWE-agent trajectory object")
    attempts = data.get("attempts")
    if attempts is not None:
        attempts = src.seq(attempts, "attempts", "a list of attempt records")
    if attempts:
        return _extract_attempts(src, data, attempts, events, dict(metadata or {}))
    if not isinstance(data.get("trajectory"), list) and not isinstance(data.get("history"), list):
        raise src.fail("no trajectory, history or attempts", "top level", "a 'trajectory' or 'history' list")
    run_id = stable_run_id(FRAMEWORK, path)
    _RunReader(src, events, run_id, "", extra=metadata).read(data)
    return [run_id]


def _extract_attempts(
    src: _Source, data: dict[str, Any], attempts: list[Any], events: Events, metadata: dict[str, Any]
) -> list[str]:
    """One run per RetryAgent attempt; the top-level copy of the chosen attempt is not a run of its own."""
    info: dict[str, Any] = data["info"] if isinstance(data.get("info"), dict) else {}
    best = info.get("best_attempt_idx") if isinstance(info.get("best_attempt_idx"), int) else None
    first_id = stable_run_id(FRAMEWORK, src.path, "attempt-0")
    run_ids = []
    for n, attempt in enumerate(attempts):
        where = f"attempts[{n}]"
        record = src.obj(attempt, where, "an attempt record with trajectory/history/info")
        run_id = first_id if n == 0 else stable_run_id(FRAMEWORK, src.path, f"attempt-{n}")
        extra: dict[str, Any] = {**metadata, "attempt": n, "attempts": len(attempts)}
        if best is not None:
            extra["best_attempt_idx"] = best
            extra["chosen"] = n == best
        reader = _RunReader(src, events, run_id, f"{where}.", parent=first_id if n else None, extra=extra)
        reader.read(record)
        run_ids.append(run_id)
    return run_ids


# ----------------------------------------------------------------------------------------------------------------
# one run
# ----------------------------------------------------------------------------------------------------------------


class _RunReader:
    """Replays one trajectory record (a whole file, or one RetryAgent attempt) as trace events."""

    def __init__(
        self,
        src: _Source,
        events: Events,
        run_id: str,
        prefix: str,
        parent: str | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        self.src = src
        self.ev = events
        self.run_id = run_id
        self.prefix = prefix
        self.parent = parent
        self.extra = dict(extra or {})
        self.model: str | None = None
        self.last_open: str | None = None
        self.prev_observation: str | None = None

    def read(self, record: dict[str, Any]) -> None:
        src, p = self.src, self.prefix
        history = src.seq(record.get("history", []), f"{p}history", "a list of messages")
        trajectory_raw = record.get("trajectory")
        trajectory = None if trajectory_raw is None else src.seq(trajectory_raw, f"{p}trajectory", "a list of steps")
        info_raw = record.get("info")
        info = {} if info_raw is None else src.obj(info_raw, f"{p}info", "an object")
        replay = _replay_config(record.get("replay_config"))
        self.model = _model_name(replay)
        metadata = self._metadata(record, info, replay, trajectory)
        task = self._start(history, metadata)
        if trajectory is not None:
            self._trajectory_steps(trajectory, history)
        else:
            self._history_steps(history)
        self._finish(info, metadata, demonstration=trajectory is None and info_raw is None, task=task)

    # -- run level ------------------------------------------------------------------------------------------------

    def _metadata(
        self, record: dict[str, Any], info: dict[str, Any], replay: dict[str, Any], trajectory: list[Any] | None
    ) -> dict[str, Any]:
        meta: dict[str, Any] = {"source_path": str(self.src.path), **self.extra}
        meta["format"] = _format_version(info, trajectory)
        if trajectory is None:
            meta["demonstration"] = True
        if self.model:
            meta["model"] = self.model
        env = record.get("environment")
        if isinstance(env, str):
            meta["environment"] = env
        problem = replay.get("problem_statement")
        if isinstance(problem, dict) and isinstance(problem.get("id"), str):
            meta["instance_id"] = problem["id"]
        else:
            meta["instance_id"] = self.src.path.name.removesuffix(".traj")
        return meta

    def _start(self, history: list[Any], metadata: dict[str, Any]) -> str | None:
        """Start the run; the system prompt and the task become run-level messages."""
        task: str | None = None
        task_index = -1
        system: tuple[int, str] | None = None
        for j, msg in enumerate(history):
            if not isinstance(msg, dict):
                continue
            role, content = msg.get("role"), message_text(msg.get("content"))
            if role == "system" and system is None and content is not None:
                system = (j, content)
            elif role == "user" and not msg.get("is_demo") and content is not None:
                task = content or None
                task_index = j
                break
            elif role in ("assistant", "tool"):
                break
        self.ev.run_started(self.run_id, FRAMEWORK, task=task, metadata=metadata, parent_run_id=self.parent)
        if system is not None and system[1]:
            self.ev.message(self.run_id, "system", system[1], raw_ref=f"{self.prefix}history[{system[0]}]")
        if task is not None:
            self.ev.message(self.run_id, "user", task, raw_ref=f"{self.prefix}history[{task_index}]")
        return task

    def _finish(self, info: dict[str, Any], metadata: dict[str, Any], demonstration: bool, task: str | None) -> None:
        exit_status = info.get("exit_status")
        exit_status = exit_status if isinstance(exit_status, str) else None
        end: dict[str, Any] = {}
        submission = info.get("submission")
        if isinstance(submission, str) and submission.strip():
            end["submission"] = submission
        stats = info.get("model_stats")
        if isinstance(stats, dict):
            end["model_stats"] = {k: v for k, v in stats.items() if isinstance(v, (int, float))}
            cost = stats.get("instance_cost")
            if isinstance(cost, (int, float)):
                end["cost"] = cost
        review = info.get("review")
        if isinstance(review, dict):
            end["review"] = review
        if exit_status is None and not demonstration:
            return  # saved mid-run (SWE-agent writes the file after every step): leave the run incomplete
        outcome = _outcome(self.src.path, info, exit_status, bool(end.get("submission")), metadata.get("instance_id"))
        self.ev.run_finished(self.run_id, outcome, exit_status=exit_status, metadata=end)

    # -- steps ----------------------------------------------------------------------------------------------------

    def _trajectory_steps(self, trajectory: list[Any], history: list[Any]) -> None:
        src, p = self.src, self.prefix
        calls = _assistant_actions(history)
        cursor = 0
        for i, raw in enumerate(trajectory):
            where = f"{p}trajectory[{i}]"
            entry = src.obj(raw, where, "an object with action/observation/thought/response")
            action = src.text(entry.get("action"), f"{where}.action") or ""
            observation = src.text(entry.get("observation"), f"{where}.observation")
            thought = src.text(entry.get("thought"), f"{where}.thought")
            response = src.text(entry.get("response"), f"{where}.response")
            query = entry.get("query")
            state_open = _open_file_from_state(entry.get("state"))
            tool_calls: Any = None
            for k in range(cursor, len(calls)):
                if calls[k][0] == action or calls[k][0].strip() == action.strip():
                    tool_calls, cursor = calls[k][1], k + 1
                    break
            self._step(
                where,
                thought=thought,
                response=response,
                action=action,
                observation=observation,
                open_file=state_open,
                tool_calls=tool_calls,
                n_in=len(query) if isinstance(query, list) else None,
            )

    def _history_steps(self, history: list[Any]) -> None:
        """Demonstrations: each assistant message is a step; the user/tool message after it is its observation."""
        src, p = self.src, self.prefix
        pending: tuple[int, dict[str, Any]] | None = None
        for j, raw in enumerate(history):
            msg = src.obj(raw, f"{p}history[{j}]", "a message object with role and content")
            role = msg.get("role")
            if role == "assistant":
                if pending is not None:
                    self._history_step(*pending, None)
                pending = (j, msg)
            elif role in ("user", "tool") and pending is not None:
                self._history_step(*pending, self._content(msg, f"{p}history[{j}].content"))
                pending = None
        if pending is not None:
            self._history_step(*pending, None)

    def _history_step(self, j: int, msg: dict[str, Any], observation: str | None) -> None:
        where = f"{self.prefix}history[{j}]"
        content = self._content(msg, f"{where}.content")
        action = self.src.text(msg.get("action"), f"{where}.action")
        thought = self.src.text(msg.get("thought"), f"{where}.thought")
        self._step(
            where,
            thought=thought if thought is not None else content,
            response=content,
            action=action or "",
            observation=observation,
            open_file=None,
            tool_calls=msg.get("tool_calls"),
            n_in=None,
        )

    def _content(self, msg: dict[str, Any], where: str) -> str | None:
        """A message's text, whether a string or a list of content blocks; anything else is malformed input."""
        raw = msg.get("content")
        text = message_text(raw)
        if text is None and raw is not None:
            raise self.src.fail(f"{type(raw).__name__} where text was expected", where,
                                "a string or a list of content blocks")
        return text

    def _step(
        self,
        key: str,
        *,
        thought: str | None,
        response: str | None,
        action: str,
        observation: str | None,
        open_file: str | None,
        tool_calls: Any,
        n_in: int | None,
    ) -> None:
        ev, run_id = self.ev, self.run_id
        ev.step_started(run_id, key, thought=thought or None, raw_ref=key)
        if response is not None:
            llm_id = f"{key}/llm"
            ev.llm_call_started(run_id, key, llm_id, model=self.model, input_messages=n_in)
            ev.llm_call_finished(run_id, llm_id, response=response)
        if open_file:
            self.last_open = open_file
        if action.strip():
            fc_name, arguments, fc_id = _function_call(tool_calls)
            first = action.split(None, 1)[0]
            tool = fc_name or (first if first in SWE_COMMANDS else "bash")
            edits = self._edits(tool, action, arguments)
            call_id = f"{key}/{fc_id or 'tool'}"
            ev.tool_call_started(
                run_id, key, call_id, tool, arguments=arguments, command=action, edits=edits, raw_ref=key
            )
            ev.tool_call_finished(run_id, call_id, output=observation, is_error=observation_failed(observation))
        elif observation:
            ev.observation(run_id, key, observation, raw_ref=key)
        ev.step_finished(run_id, key)
        self.prev_observation = observation

    def _edits(self, tool: str, action: str, arguments: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The file a SWE-agent edit command changes and the text it writes, when the artifact makes them clear."""
        path: Any = None
        edit: dict[str, Any] = {}
        if tool == "str_replace_editor":
            words = action.split(None, 3)
            sub = arguments.get("command") or (words[1] if len(words) > 1 else None)
            if sub in EDITOR_WRITES:
                path = arguments.get("path") or (words[2] if len(words) > 2 else None)
                edit["kind"] = _EDITOR_KINDS[sub]
                for key, target in (("old_str", "old"), ("new_str", "new"), ("file_text", "new")):
                    if isinstance(arguments.get(key), str):
                        edit[target] = arguments[key]
        elif tool == "create":
            words = action.split(None, 2)
            path = arguments.get("filename") or arguments.get("path") or (words[1] if len(words) > 1 else None)
            edit["kind"] = "create"
        elif tool in OPEN_FILE_EDITS:
            path = arguments.get("path") or self._open_file()
            edit.update(_windowed_edit(tool, action, arguments))
        if not isinstance(path, str):
            return []
        path = path.strip().strip("'\"")
        return [{"path": path, **edit}] if path else []

    def _open_file(self) -> str | None:
        """The file open in SWE-agent's editor: from ``state``, else the last ``(Open file: ...)`` prompt line."""
        if self.last_open:
            return self.last_open
        text = self.prev_observation
        if not text:
            return None
        at = text.rfind(_OPEN_MARK)
        if at < 0:
            return None
        end = text.find(")", at)
        name = text[at + len(_OPEN_MARK) : end if end > 0 else None].strip()
        return name if name and name != "n/a" else None


EXTRACTORS = [SweAgentExtractor()]

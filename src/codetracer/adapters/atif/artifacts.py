"""ATIF v1.x trajectories (Harbor's Agent Trajectory Interchange Format) as trace trees.

Input is either a bare ATIF file (a JSON object whose ``schema_version`` starts with ``"ATIF-v1."``) or a Harbor /
terminal-bench 2 *trial folder* (``agent/trajectory.json`` plus ``verifier/reward.txt`` and ``result.json``). A trial
folder is one run; its outcome comes from the verifier reward (1 -> solved, 0 -> failed), else from
``result.json``'s ``verifier_result.rewards.reward``, else unknown. A trial folder without ``agent/trajectory.json``
(the agent crashed or timed out before writing it) is reported as an :class:`ExtractError`, not silently skipped;
when it holds Claude Code's log ``agent/claude-code.txt``, :mod:`codetracer.adapters.claude_code.artifacts` claims it
first and reads the run from the log (with :func:`trial_outcome` and :func:`trial_verification` from here).

Mapping of ATIF steps (the choice, applied consistently):

* ``system`` and ``user`` steps that come *before the first agent step* are the run's opening messages: they become
  run-level messages (``step_key=None``) and the first user message is the run's task. User/system steps that come
  *later* (a mid-run user turn, a background-task notification) are part of the story at their position, so each
  becomes a step of its own holding that message (and the system step's observation, if any). Tree step ids are
  therefore ATIF ``step_id`` minus the number of opening messages (usually 1); each step's ``key`` is the ATIF
  ``step_id`` and its ``raw_ref`` is ``steps[i]``.
* An ``agent`` step becomes one step: ``reasoning_content`` is the thought; when the step has ``metrics`` it carries
  one LLM call (model, prompt/completion tokens, cost; the response is the step's ``message``), otherwise a non-empty
  ``message`` is kept as an assistant message. Its ``tool_calls`` are tool calls of the step (several calls are
  parallel siblings) with the shell command and file edits read from the arguments of well-known tools. Observation
  results are matched to calls by ``source_call_id``; results without a matching call become step observations.
* ATIF has no exit code or error flag. They are read from ``extra`` when present (codetracer's own export puts them in
  ``extra.codetracer``; Claude Code's harness writes ``tool_result_is_error``) and from a leading ``Exit code N`` line.

Tool call ids are only unique per step in real files (``functions.Bash:0`` recurs), so the tree's call id is
``"<step_id>:<tool_call_id>"``; the exporter strips that prefix again.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from codetracer.core.errors import ExtractError
from codetracer.core.events import Events
from codetracer.core.extractor import Candidate, load_json, stable_run_id

SHELL_TOOLS = frozenset(
    {"bash", "execute_bash", "shell", "run", "run_command", "terminal", "exec", "execute_command", "local_shell",
     "bash_command", "run_shell_command", "execute"}
)
"""Tools whose ``command`` argument is a shell command (``str_replace_editor``'s ``command`` is not)."""

_EXTRA_KEY = "codetracer"


class AtifExtractor:
    """Reads ATIF trajectories: a bare ``trajectory.json`` or a trial folder holding ``agent/trajectory.json``."""

    name = "atif"

    def detect(self, candidate: Candidate) -> float:
        if candidate.is_dir:
            return self._detect_trial(candidate)
        return 0.95 if _is_atif_head(candidate.head) else 0.0

    def _detect_trial(self, candidate: Candidate) -> float:
        if "agent" not in candidate.names:
            return 0.0
        trajectory = candidate.path / "agent" / "trajectory.json"
        if _is_atif_head(Candidate(trajectory, False).head):
            return 0.95
        # a Harbor trial that never wrote its trajectory: claim it so the user hears why there is no run
        if "result.json" in candidate.names:
            head = Candidate(candidate.path / "result.json", False).head
            if b'"trial_name"' in head and b'"agent_info"' in head:
                return 0.55
        return 0.0

    def extract(self, path: Path, events: Events) -> None:
        trial: Path | None
        if path.is_dir():
            trial, file = path, path / "agent" / "trajectory.json"
            if not file.exists():
                raise ExtractError(
                    path, "trial has no agent/trajectory.json (the agent wrote no ATIF trajectory)",
                    position="agent/", expected="an ATIF trajectory file",
                )
        else:
            file = path
            trial = path.parent.parent if path.parent.name == "agent" else None
            if trial is not None and not (trial / "verifier").is_dir() and not (trial / "result.json").exists():
                trial = None
        doc = load_json(file)
        replay(doc, file, events, run_path=trial or file, trial=trial)


# -- detection helpers -----------------------------------------------------------------------------------------------


def _is_atif_head(head: bytes) -> bool:
    return head.lstrip().startswith(b"{") and b'"schema_version"' in head and b'"ATIF-v1.' in head


# -- validation helpers: a wrong type must name its position, never escape as KeyError/TypeError -----------------------


def _obj(path: Path, value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ExtractError(path, f"found {type(value).__name__}", position=where, expected="an object")
    return value


def _opt_str(path: Path, obj: dict[str, Any], key: str, where: str) -> str | None:
    value = obj.get(key)
    if value is None or isinstance(value, str):
        return value
    raise ExtractError(path, f"'{key}' is {type(value).__name__}", position=f"{where}.{key}", expected="a string")


def _opt_num(path: Path, obj: dict[str, Any], key: str, where: str, kind: type = int) -> Any:
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or (kind is int and not isinstance(value, int)):
        raise ExtractError(path, f"'{key}' is {value!r}", position=f"{where}.{key}", expected=f"a {kind.__name__}")
    return value


def _timestamp(path: Path, obj: dict[str, Any], where: str) -> float | None:
    """ISO 8601 to epoch seconds; an unparsable optional timestamp is dropped, a non-string one is an error."""
    raw = _opt_str(path, obj, "timestamp", where)
    if not raw:
        return None
    try:
        return datetime.fromisoformat(raw).timestamp()
    except ValueError:
        return None


# -- replay ----------------------------------------------------------------------------------------------------------


def replay(doc: object, file: Path, events: Events, *, run_path: Path, trial: Path | None = None) -> str:
    """Emit the trace events of one ATIF document; returns the run id. ``file`` is named in errors."""
    root = _obj(file, doc, "top level")
    version = root.get("schema_version")
    if not isinstance(version, str) or not version.startswith("ATIF-v1."):
        raise ExtractError(file, f"schema_version is {version!r}", position="schema_version", expected="'ATIF-v1.x'")
    steps = root.get("steps")
    if not isinstance(steps, list):
        raise ExtractError(file, "'steps' is missing or not a list", position="steps", expected="a list of steps")
    if not steps:
        raise ExtractError(file, "'steps' is empty", position="steps", expected="at least one step")
    agent = _obj(file, root.get("agent", {}), "agent")
    framework = _opt_str(file, agent, "name", "agent") or "atif"
    checked = [_obj(file, step, f"steps[{i}]") for i, step in enumerate(steps)]
    opening = _opening_count(file, checked)
    task = next((s["message"] for s in checked[:opening] if s.get("source") == "user" and s.get("message")), None)
    run_id = stable_run_id(framework, run_path)
    metadata = _run_metadata(file, root, agent, version)
    if trial is not None:
        metadata["trial_path"] = str(trial)
    started = _timestamp(file, checked[0], "steps[0]")
    events.run_started(run_id, framework, task=task, metadata=metadata, timestamp=started)
    for i, step in enumerate(checked):
        _replay_step(file, events, run_id, i, step, opening=i < opening)
    outcome, exit_status, end_meta = trial_outcome(trial) if trial is not None else ("unknown", None, {})
    if trial is not None:
        trial_verification(trial, events, run_id, outcome)
    ext = root.get("extra")
    if isinstance(ext, dict) and isinstance(ext.get(_EXTRA_KEY), dict) and outcome == "unknown":
        outcome = str(ext[_EXTRA_KEY].get("outcome") or "unknown")
        exit_status = exit_status or ext[_EXTRA_KEY].get("exit_status")
    events.run_finished(run_id, outcome, exit_status=exit_status, metadata=end_meta,
                        timestamp=_timestamp(file, checked[-1], f"steps[{len(checked) - 1}]"))
    return run_id


def _opening_count(file: Path, steps: list[dict[str, Any]]) -> int:
    """How many user/system steps precede the first agent step (they become run messages)."""
    for i, step in enumerate(steps):
        source = step.get("source")
        if source not in ("system", "user", "agent"):
            raise ExtractError(file, f"source is {source!r}", position=f"steps[{i}].source",
                               expected="'system', 'user' or 'agent'")
        if source == "agent":
            return i
    return len(steps)


def _run_metadata(file: Path, root: dict[str, Any], agent: dict[str, Any], version: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"source_path": str(file), "format": "atif", "schema_version": version}
    session = root.get("session_id")
    if isinstance(session, str | int):
        meta["session_id"] = session
    for key, out in (("name", "agent_name"), ("version", "agent_version"), ("model_name", "model")):
        value = _opt_str(file, agent, key, "agent")
        if value is not None:
            meta[out] = value
    final = root.get("final_metrics")
    if final is not None:
        final = _obj(file, final, "final_metrics")
        meta["final_metrics"] = {k: v for k, v in final.items() if k != "extra"}
        cost = _opt_num(file, final, "total_cost_usd", "final_metrics", float)
        if cost is not None:
            meta["cost"] = cost
    if isinstance(root.get("notes"), str):
        meta["notes"] = root["notes"]
    return meta


def _replay_step(file: Path, events: Events, run_id: str, index: int, step: dict[str, Any], *, opening: bool) -> None:
    where = f"steps[{index}]"
    step_id = step.get("step_id")
    if isinstance(step_id, bool) or not isinstance(step_id, int):
        raise ExtractError(file, f"step_id is {step_id!r}", position=where + ".step_id", expected="an integer")
    message = step.get("message", "")
    if not isinstance(message, str):
        # ATIF >= 1.6 may carry content parts; keep their text rather than reject the file
        message = _parts_text(file, message, where + ".message")
    ts = _timestamp(file, step, where)
    source = step["source"]
    if opening:
        events.message(run_id, source, message, raw_ref=where, timestamp=ts)
        return
    key = str(step_id)
    thought = _opt_str(file, step, "reasoning_content", where)
    extra = _dict_or_empty(step.get("extra"))
    ours = _dict_or_empty(extra.get(_EXTRA_KEY))
    agent_name = ours.get("agent") if isinstance(ours.get("agent"), str) else None
    events.step_started(run_id, key, agent=agent_name, thought=thought or None, raw_ref=where, timestamp=ts)
    if source != "agent":
        events.message(run_id, source, message, step_key=key, raw_ref=where, timestamp=ts)
    else:
        _replay_llm(file, events, run_id, key, step, message, where, ts)
    calls = _replay_tool_calls(file, events, run_id, key, step, where, ts)
    _replay_results(file, events, run_id, key, step, calls, extra, ours, where, ts)
    events.step_finished(run_id, key, timestamp=ts)


def _dict_or_empty(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _parts_text(file: Path, message: object, where: str) -> str:
    if isinstance(message, list):
        texts = [p.get("text") for p in message if isinstance(p, dict)]
        return "\n".join(t for t in texts if isinstance(t, str))
    raise ExtractError(file, f"message is {type(message).__name__}", position=where, expected="a string")


def _replay_llm(
    file: Path, events: Events, run_id: str, key: str, step: dict[str, Any], message: str, where: str,
    ts: float | None,
) -> None:
    metrics = step.get("metrics")
    model = _opt_str(file, step, "model_name", where)
    if metrics is None:
        if message:
            events.message(run_id, "assistant", message, step_key=key, raw_ref=where, timestamp=ts)
        return
    metrics = _obj(file, metrics, where + ".metrics")
    call_id = f"{key}:llm"
    events.llm_call_started(run_id, key, call_id, model=model, timestamp=ts)
    events.llm_call_finished(
        run_id, call_id, response=message,
        input_tokens=_opt_num(file, metrics, "prompt_tokens", where + ".metrics"),
        output_tokens=_opt_num(file, metrics, "completion_tokens", where + ".metrics"),
        cost=_opt_num(file, metrics, "cost_usd", where + ".metrics", float), timestamp=ts,
    )


def _replay_tool_calls(
    file: Path, events: Events, run_id: str, key: str, step: dict[str, Any], where: str, ts: float | None
) -> dict[str, str]:
    """Start every tool call of the step (parallel siblings); returns ATIF tool_call_id -> tree call id."""
    raw = step.get("tool_calls")
    if raw is None:
        return {}
    if not isinstance(raw, list):
        raise ExtractError(file, "'tool_calls' is not a list", position=where + ".tool_calls", expected="a list")
    ids: dict[str, str] = {}
    for j, item in enumerate(raw):
        at = f"{where}.tool_calls[{j}]"
        call = _obj(file, item, at)
        call_id = call.get("tool_call_id")
        tool = call.get("function_name")
        if not isinstance(call_id, str) or not call_id:
            raise ExtractError(file, f"tool_call_id is {call_id!r}", position=at, expected="a non-empty string")
        if not isinstance(tool, str):
            raise ExtractError(file, f"function_name is {tool!r}", position=at, expected="a string")
        arguments = call.get("arguments")
        if arguments is None:
            arguments = {}
        if not isinstance(arguments, dict):
            raise ExtractError(file, "arguments is not an object", position=at + ".arguments", expected="an object")
        tree_id = ids[call_id] = f"{key}:{call_id}"
        events.tool_call_started(
            run_id, key, tree_id, tool, arguments=arguments, command=shell_command(tool, arguments),
            edits=file_edits(tool, arguments), raw_ref=at, timestamp=ts,
        )
    return ids


def _replay_results(
    file: Path, events: Events, run_id: str, key: str, step: dict[str, Any], calls: dict[str, str],
    extra: dict[str, Any], ours: dict[str, Any], where: str, ts: float | None,
) -> None:
    raw = step.get("observation")
    if raw is None:
        return
    results = _obj(file, raw, where + ".observation").get("results")
    if not isinstance(results, list):
        raise ExtractError(file, "'results' is not a list", position=where + ".observation.results", expected="a list")
    raw_flags = ours.get("results")
    flags: list[Any] = raw_flags if isinstance(raw_flags, list) else []
    harness_error = extra.get("tool_result_is_error") if len(results) == 1 else None
    for j, item in enumerate(results):
        at = f"{where}.observation.results[{j}]"
        result = _obj(file, item, at)
        text = _result_text(file, result, at)
        source = result.get("source_call_id")
        flag = flags[j] if j < len(flags) and isinstance(flags[j], dict) else {}
        exit_code = flag.get("exit_code") if isinstance(flag.get("exit_code"), int) else leading_exit_code(text)
        is_error = bool(flag.get("is_error", harness_error is True)) or exit_code not in (None, 0)
        if isinstance(source, str) and source in calls:
            events.tool_call_finished(run_id, calls[source], output=text, exit_code=exit_code, is_error=is_error,
                                      timestamp=ts)
        else:
            events.observation(run_id, key, text, exit_code=exit_code, is_error=is_error, raw_ref=at, timestamp=ts)


def _result_text(file: Path, result: dict[str, Any], where: str) -> str:
    content = result.get("content")
    if isinstance(content, str):
        return content
    if content is None:
        refs = result.get("subagent_trajectory_ref")
        if isinstance(refs, list) and refs:
            ids = [r.get("session_id") for r in refs if isinstance(r, dict)]
            return "subagent trajectories: " + ", ".join(str(i) for i in ids)
        return ""
    if isinstance(content, list):  # content parts (ATIF >= 1.6)
        return _parts_text(file, content, where + ".content")
    raise ExtractError(file, f"content is {type(content).__name__}", position=where + ".content", expected="a string")


def leading_exit_code(text: str) -> int | None:
    """Claude Code reports a failed command as ``Exit code N`` on the first line; a cheap prefix check."""
    if not text.startswith("Exit code "):
        return None
    digits = text[10:20].split("\n", 1)[0].strip()
    return int(digits) if digits.lstrip("-").isdigit() else None


# -- tool argument interpretation ------------------------------------------------------------------------------------


def shell_command(tool: str, arguments: dict[str, Any]) -> str | None:
    """The shell command a call runs, when its tool is a shell (or it types keystrokes into a terminal)."""
    if tool.lower() in SHELL_TOOLS:
        for name in ("command", "cmd", "keystrokes", "script"):
            value = arguments.get(name)
            if isinstance(value, str):
                return value
            if isinstance(value, list) and all(isinstance(v, str) for v in value):
                return " ".join(value)
    value = arguments.get("keystrokes")
    return value if isinstance(value, str) else None


def file_edits(tool: str, arguments: dict[str, Any]) -> list[dict[str, Any]]:
    """File edits of the common editing tools (Claude Code Edit/Write/MultiEdit, str_replace_editor)."""
    path = arguments.get("file_path", arguments.get("path"))
    if not isinstance(path, str) or not path:
        return []
    name = tool.lower()
    if name in ("edit", "str_replace_based_edit_tool", "str_replace_editor", "edit_file"):
        sub = arguments.get("command")
        if sub == "view":
            return []
        if sub == "undo_edit":
            return [{"path": path, "kind": "undo"}]
        old = arguments.get("old_string", arguments.get("old_str"))
        new = arguments.get("new_string", arguments.get("new_str", arguments.get("file_text")))
        kind = {"create": "create", "insert": "insert"}.get(sub if isinstance(sub, str) else "", "replace")
        return [_edit(path, old, new, kind)]
    if name in ("write", "write_file", "create_file"):
        return [_edit(path, None, arguments.get("content"), "write")]
    if name == "multiedit" and isinstance(arguments.get("edits"), list):
        edits = [e for e in arguments["edits"] if isinstance(e, dict)]
        return [_edit(path, e.get("old_string"), e.get("new_string"), "replace") for e in edits]
    return []


def _edit(path: str, old: object, new: object, kind: str) -> dict[str, Any]:
    edit: dict[str, Any] = {"path": path, "kind": kind}
    if isinstance(old, str):
        edit["old"] = old
    if isinstance(new, str):
        edit["new"] = new
    return edit


# -- outcome ---------------------------------------------------------------------------------------------------------


def trial_outcome(trial: Path) -> tuple[str, str | None, dict[str, Any]]:
    """Outcome, exit status and end metadata of a trial: reward.txt first, result.json second."""
    meta: dict[str, Any] = {}
    result = _result_json(trial / "result.json")
    exit_status = None
    if result is not None:
        exit_status = _result_facts(result, meta)
    reward = _reward_txt(trial / "verifier" / "reward.txt")
    if reward is None and result is not None:
        verifier = result.get("verifier_result")
        rewards = verifier.get("rewards") if isinstance(verifier, dict) else None
        value = rewards.get("reward") if isinstance(rewards, dict) else None
        if isinstance(value, int | float) and not isinstance(value, bool):
            reward = float(value)
    if reward is None:
        return "unknown", exit_status, meta
    meta["reward"] = reward
    outcome = "solved" if reward == 1.0 else "failed" if reward == 0.0 else "unknown"
    return outcome, exit_status, meta


def trial_verification(trial: Path, events: Events, run_id: str, outcome: str) -> None:
    """The verifier's test log (``verifier/test-stdout.txt``) as the run's verification, with its failing tests."""
    log = trial / "verifier" / "test-stdout.txt"
    try:
        text = log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return
    from codetracer.core.verifier import read_output

    found = read_output(text)
    verdict = True if outcome == "solved" else False if outcome == "failed" else None
    events.verification(run_id, "terminal-bench tests", passed=verdict, output=text, failed_tests=found.failed_tests,
                        passed_tests=_passed_tests(text))


def _passed_tests(text: str) -> list[str]:
    return [line.split(None, 1)[1].strip() for line in text.splitlines() if line.startswith("PASSED ")]


def _reward_txt(path: Path) -> float | None:
    try:
        text = path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return None
    try:
        return float(text)
    except ValueError:
        raise ExtractError(path, f"reward is {text[:40]!r}", position="line 1", expected="a number") from None


def _result_json(path: Path) -> dict[str, Any] | None:
    if not path.exists():
        return None
    data = load_json(path)
    return data if isinstance(data, dict) else None


def _result_facts(result: dict[str, Any], meta: dict[str, Any]) -> str | None:
    for key in ("trial_name", "task_name"):
        if isinstance(result.get(key), str):
            meta[key] = result[key]
    agent = result.get("agent_result")
    if isinstance(agent, dict):
        for key in ("cost_usd", "n_input_tokens", "n_output_tokens", "n_cache_tokens"):
            value = agent.get(key)
            if isinstance(value, int | float) and not isinstance(value, bool):
                meta["cost" if key == "cost_usd" else key] = value
    exception = result.get("exception_info")
    if isinstance(exception, dict) and isinstance(exception.get("exception_type"), str):
        meta["exception"] = exception["exception_type"]
        return exception["exception_type"]
    return None


EXTRACTORS = [AtifExtractor()]

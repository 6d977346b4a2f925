"""Export any codetracer tree as an ATIF-v1.2 trajectory, so runs of every format open in ATIF tools.

The mapping is the inverse of :mod:`codetracer.adapters.atif.artifacts`:

* run-level messages become the opening ``system`` / ``user`` steps (a run with a task but no messages gets one user
  step holding the task);
* a tree step that has only user/system messages (no calls, thought, agent or observations) becomes a ``user`` /
  ``system`` step; every other step becomes an ``agent`` step: thought -> ``reasoning_content``, LLM response (or the
  assistant messages) -> ``message``, LLM calls -> ``metrics`` and ``model_name``, tool calls -> ``tool_calls`` (a
  shell command without arguments is given as ``{"command": ...}``), tool and step observations -> observation
  results (tool ones carry ``source_call_id``);
* what ATIF has no field for (exit codes, error flags, the acting agent's name, elided texts) goes to ``extra``
  under ``"codetracer"``, which the importer reads back; the schema's own objects get no unknown keys.

Texts too large to keep inline are exported as the tree holds them (head and tail) with the blob reference in
``extra``: the trajectory stays small, and the whole text stays in the blob store.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from codetracer.core.model import Call, Run, Step, Text

SCHEMA_VERSION = "ATIF-v1.2"
_KEY = "codetracer"
_AGENT_ONLY = ("model_name", "reasoning_effort", "reasoning_content", "tool_calls", "metrics")


def to_atif(run: Run) -> dict[str, Any]:
    """The ATIF-v1.2 document of ``run`` (a JSON-serialisable dict)."""
    steps: list[dict[str, Any]] = []
    for message in run.messages:
        source = "system" if message.role == "system" else "user" if message.role in ("user", "human") else "agent"
        steps.append(_step(len(steps) + 1, source, _text(message.content), message.timestamp))
    if not run.messages and run.task:
        steps.append(_step(1, "user", run.task, run.started_at))
    for step in run.steps:
        steps.append(_export_step(len(steps) + 1, step))
    meta = run.metadata
    agent: dict[str, Any] = {
        "name": _meta_str(meta, "agent_name") or run.framework,
        "version": _meta_str(meta, "agent_version") or "unknown",
    }
    model = _meta_str(meta, "model") or _first_model(run)
    if model:
        agent["model_name"] = model
    doc: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "session_id": str(meta.get("session_id") or run.id),
        "agent": agent,
        "steps": steps,
        "final_metrics": _final_metrics(steps),
        "extra": {_KEY: {"run_id": run.id, "framework": run.framework, "outcome": run.outcome.value,
                         "exit_status": run.exit_status, "task": run.task}},
    }
    return doc


def _meta_str(meta: dict[str, Any], key: str) -> str | None:
    value = meta.get(key)
    return value if isinstance(value, str) and value else None


def _first_model(run: Run) -> str | None:
    for step in run.steps:
        for call in step.calls:
            if call.kind == "llm" and call.name != "llm":
                return call.name
    return None


def _text(text: Text | None) -> str:
    return text.text if text is not None else ""


def _iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, tz=UTC).isoformat().replace("+00:00", "Z")


def _step(step_id: int, source: str, message: str, ts: float | None) -> dict[str, Any]:
    out: dict[str, Any] = {"step_id": step_id, "source": source, "message": message}
    stamp = _iso(ts)
    if stamp:
        out["timestamp"] = stamp
    return out


def _is_plain_message(step: Step) -> bool:
    return (
        not step.calls and step.thought is None and step.agent is None and not step.observations
        and bool(step.messages) and all(m.role in ("user", "system", "human") for m in step.messages)
    )


def _export_step(step_id: int, step: Step) -> dict[str, Any]:
    ours: dict[str, Any] = {"key": step.key}
    if _is_plain_message(step):
        source = "system" if all(m.role == "system" for m in step.messages) else "user"
        out = _step(step_id, source, "\n\n".join(_text(m.content) for m in step.messages), step.started_at)
        out["extra"] = {_KEY: ours}
        return out
    llm = [c for c in step.calls if c.kind == "llm"]
    tools = [c for c in step.calls if c.kind == "tool"]
    responses = [_text(c.response) for c in llm if c.response is not None]
    messages = [_text(m.content) for m in step.messages]
    out = _step(step_id, "agent", "\n\n".join(responses or messages), step.started_at)
    if llm and llm[0].name != "llm":
        out["model_name"] = llm[0].name
    if step.thought is not None:
        out["reasoning_content"] = step.thought.text
        _note_elided(ours, "thought", step.thought)
    if tools:
        out["tool_calls"] = [_tool_call(step, c) for c in tools]
    results, flags = _results(step, tools)
    if results:
        out["observation"] = {"results": results}
        ours["results"] = flags
    metrics = _metrics(llm)
    if metrics:
        out["metrics"] = metrics
    if step.agent:
        ours["agent"] = step.agent
    if messages and responses:
        ours["messages"] = messages
    out["extra"] = {_KEY: ours}
    return out


def _note_elided(ours: dict[str, Any], what: str, text: Text) -> None:
    if text.elided:
        ours.setdefault("elided", {})[what] = {"blob": text.blob, "size": text.size}


def _call_id(step: Step, call: Call) -> str:
    prefix = f"{step.key}:"
    return call.id[len(prefix):] if call.id.startswith(prefix) and len(call.id) > len(prefix) else call.id


def _tool_call(step: Step, call: Call) -> dict[str, Any]:
    action = call.action
    arguments: dict[str, Any] = dict(action.arguments) if action else {}
    if action and action.command is not None and "command" not in arguments and "keystrokes" not in arguments:
        arguments["command"] = action.command
    if action and action.edits and not arguments:
        arguments["edits"] = [e.model_dump(exclude_none=True) for e in action.edits]
    return {"tool_call_id": _call_id(step, call), "function_name": call.name, "arguments": arguments}


def _results(step: Step, tools: list[Call]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    results: list[dict[str, Any]] = []
    flags: list[dict[str, Any]] = []
    for call in tools:
        obs = call.observation
        if obs is None:
            continue
        results.append({"source_call_id": _call_id(step, call), "content": _text(obs.text)})
        flags.append(_flag(obs.exit_code, obs.is_error, obs.text))
    for obs in step.observations:
        results.append({"content": _text(obs.text)})
        flags.append(_flag(obs.exit_code, obs.is_error, obs.text))
    return results, flags


def _flag(exit_code: int | None, is_error: bool, text: Text | None) -> dict[str, Any]:
    flag: dict[str, Any] = {"exit_code": exit_code, "is_error": is_error}
    if text is not None and text.elided:
        flag["blob"], flag["size"] = text.blob, text.size
    return flag


def _metrics(llm: list[Call]) -> dict[str, Any]:
    metrics: dict[str, Any] = {}
    for field, attr in (("prompt_tokens", "input_tokens"), ("completion_tokens", "output_tokens"),
                        ("cost_usd", "cost")):
        values = [getattr(c, attr) for c in llm if getattr(c, attr) is not None]
        if values:
            metrics[field] = sum(values)
    return metrics


def _final_metrics(steps: list[dict[str, Any]]) -> dict[str, Any]:
    final: dict[str, Any] = {"total_steps": len(steps)}
    for field, total in (("prompt_tokens", "total_prompt_tokens"), ("completion_tokens", "total_completion_tokens"),
                         ("cost_usd", "total_cost_usd")):
        values = [s["metrics"][field] for s in steps if field in s.get("metrics", {})]
        if values:
            final[total] = sum(values)
    return final


def validate_atif(doc: object) -> list[str]:
    """Problems that make ``doc`` invalid ATIF v1.x (empty when valid), checked against the RFC's rules.

    Required root fields and types, ``step_id`` 1, 2, 3 ..., ``source`` in system/user/agent, agent-only fields only on
    agent steps, observations not on user steps, tool calls well-formed and every ``source_call_id`` naming a tool
    call of the same step.
    """
    problems: list[str] = []
    if not isinstance(doc, dict):
        return ["top level is not an object"]
    if not str(doc.get("schema_version", "")).startswith("ATIF-v1."):
        problems.append("schema_version must start with 'ATIF-v1.'")
    if not isinstance(doc.get("session_id"), str):
        problems.append("session_id must be a string")
    agent = doc.get("agent")
    if not (isinstance(agent, dict) and isinstance(agent.get("name"), str) and isinstance(agent.get("version"), str)):
        problems.append("agent must have string name and version")
    steps = doc.get("steps")
    if not isinstance(steps, list):
        return [*problems, "steps must be a list"]
    for i, step in enumerate(steps):
        problems.extend(f"steps[{i}]: {p}" for p in _step_problems(i, step))
    return problems


def _step_problems(index: int, step: object) -> list[str]:
    if not isinstance(step, dict):
        return ["not an object"]
    problems = []
    if step.get("step_id") != index + 1:
        problems.append(f"step_id {step.get('step_id')!r} should be {index + 1}")
    source = step.get("source")
    if source not in ("system", "user", "agent"):
        problems.append(f"source {source!r}")
    if not isinstance(step.get("message"), str):
        problems.append("message must be a string")
    if source != "agent":
        problems.extend(f"{key} only allowed on agent steps" for key in _AGENT_ONLY if key in step)
    if source == "user" and "observation" in step:
        problems.append("observation not allowed on user steps")
    call_ids = set()
    for call in step.get("tool_calls") or []:
        if not (isinstance(call, dict) and isinstance(call.get("tool_call_id"), str)
                and isinstance(call.get("function_name"), str) and isinstance(call.get("arguments"), dict)):
            problems.append("tool call needs tool_call_id, function_name and an arguments object")
            continue
        call_ids.add(call["tool_call_id"])
    observation = step.get("observation")
    if observation is not None:
        results = observation.get("results") if isinstance(observation, dict) else None
        if not isinstance(results, list):
            problems.append("observation.results must be a list")
        else:
            for result in results:
                source_id = result.get("source_call_id") if isinstance(result, dict) else None
                if source_id is not None and source_id not in call_ids:
                    problems.append(f"source_call_id {source_id!r} names no tool call of this step")
    return problems

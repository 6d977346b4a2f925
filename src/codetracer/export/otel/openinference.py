"""OpenInference attributes beside the GenAI ones, so that Arize Phoenix and Langfuse show a run as an agent trace.

Phoenix (and Langfuse's OTLP endpoint) read ``openinference.span.kind`` to tell agents, chains, LLM and tool calls
apart and ``input.value``/``output.value`` to show what went in and out; without them a codetracer trace arrives as
unlabelled spans. The mapping (names from the OpenInference semantic conventions, ``spec/semantic_conventions.md``):

    run    AGENT  agent.name, session.id (the first attempt of a retry sequence), input = the task,
                  output = outcome and diagnosis, metadata (JSON: framework, outcome, onset, confidence)
    stage  CHAIN  input = its kind and step range
    step   CHAIN  input = the thought, output = the step's last observation
    LLM    LLM    llm.model_name, llm.token_count.*, output = the response (as llm.output_messages too)
    tool   TOOL   tool.name, input = the command (always sent, as the GenAI side does) or the arguments,
                  tool.parameters (JSON), output = the observation

Content (the task, thoughts, responses, arguments, outputs) follows the same opt-in as the GenAI content attributes:
without ``capture`` only kinds, names, counts and the diagnosis are sent.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from codetracer.core.model import Call, Run, Stage, Step

SPAN_KIND = "openinference.span.kind"
INPUT_VALUE = "input.value"
INPUT_MIME_TYPE = "input.mime_type"
OUTPUT_VALUE = "output.value"
OUTPUT_MIME_TYPE = "output.mime_type"
METADATA = "metadata"
SESSION_ID = "session.id"
AGENT_NAME = "agent.name"
LLM_MODEL_NAME = "llm.model_name"
LLM_TOKEN_COUNT_PROMPT = "llm.token_count.prompt"
LLM_TOKEN_COUNT_COMPLETION = "llm.token_count.completion"
LLM_TOKEN_COUNT_TOTAL = "llm.token_count.total"
LLM_OUTPUT_MESSAGE_ROLE = "llm.output_messages.0.message.role"
LLM_OUTPUT_MESSAGE_CONTENT = "llm.output_messages.0.message.content"
TOOL_NAME = "tool.name"
TOOL_PARAMETERS = "tool.parameters"

AGENT, CHAIN, LLM, TOOL = "AGENT", "CHAIN", "LLM", "TOOL"

Pairs = list[tuple[str, Any]]
Clip = Callable[[str], str]


def _text(key: str, mime_key: str, text: str | None, clip: Clip) -> Pairs:
    return [] if not text else [(key, clip(text)), (mime_key, "text/plain")]


def _json(key: str, mime_key: str, value: Any, clip: Clip) -> Pairs:
    return [(key, clip(json.dumps(value, ensure_ascii=False, default=repr))), (mime_key, "application/json")]


def _session(run: Run) -> str:
    """The first run of its retry sequence: Phoenix groups a session's traces, so every attempt lands in one."""
    replay = run.metadata.get("replay")
    root = replay.get("root") if isinstance(replay, dict) else None
    return root if isinstance(root, str) and root else run.id


def run_pairs(run: Run, capture: bool, clip: Clip) -> Pairs:
    d = run.diagnosis
    verdict: dict[str, Any] = {"outcome": run.outcome.value, "exit_status": run.exit_status}
    if d is not None:
        verdict.update(onset_step=d.onset_step, confidence=d.confidence, chain=list(d.chain), reasoning=d.reasoning)
    meta = {"framework": run.framework, "outcome": run.outcome.value, "steps": len(run.steps),
            "onset_step": d.onset_step if d else None, "confidence": d.confidence if d else None}
    pairs: Pairs = [(SPAN_KIND, AGENT), (AGENT_NAME, run.framework), (SESSION_ID, _session(run)),
                    (METADATA, json.dumps(meta))]
    if capture:
        pairs += _text(INPUT_VALUE, INPUT_MIME_TYPE, run.task, clip)
    return pairs + _json(OUTPUT_VALUE, OUTPUT_MIME_TYPE, verdict, clip)


def stage_pairs(stage: Stage) -> Pairs:
    return [(SPAN_KIND, CHAIN), (INPUT_VALUE, f"{stage.kind}: steps {stage.start_step}-{stage.end_step}"),
            (INPUT_MIME_TYPE, "text/plain")]


def step_pairs(step: Step, capture: bool, clip: Clip) -> Pairs:
    pairs: Pairs = [(SPAN_KIND, CHAIN)]
    if not capture:
        return pairs
    last = next((o for o in reversed(step.all_observations) if o.text), None)
    pairs += _text(INPUT_VALUE, INPUT_MIME_TYPE, step.thought.text if step.thought else None, clip)
    return pairs + _text(OUTPUT_VALUE, OUTPUT_MIME_TYPE, last.text.text if last and last.text else None, clip)


def llm_pairs(call: Call, capture: bool, clip: Clip) -> Pairs:
    total = None
    if call.input_tokens is not None or call.output_tokens is not None:
        total = (call.input_tokens or 0) + (call.output_tokens or 0)
    pairs: Pairs = [
        (SPAN_KIND, LLM),
        (LLM_MODEL_NAME, call.name or None),
        (LLM_TOKEN_COUNT_PROMPT, call.input_tokens),
        (LLM_TOKEN_COUNT_COMPLETION, call.output_tokens),
        (LLM_TOKEN_COUNT_TOTAL, total),
    ]
    if capture and call.response is not None and call.response.text:
        response = clip(call.response.text)
        pairs += [(OUTPUT_VALUE, response), (OUTPUT_MIME_TYPE, "text/plain"),
                  (LLM_OUTPUT_MESSAGE_ROLE, "assistant"), (LLM_OUTPUT_MESSAGE_CONTENT, response)]
    return pairs


def tool_pairs(call: Call, capture: bool, clip: Clip) -> Pairs:
    """A shell command is always its input (commands are always sent, as ``codetracer.tool.command``); arguments
    and the observation only with ``capture``."""
    action, obs = call.action, call.observation
    pairs: Pairs = [(SPAN_KIND, TOOL), (TOOL_NAME, call.name)]
    if action is not None and action.command:
        pairs += _text(INPUT_VALUE, INPUT_MIME_TYPE, action.command, clip)
    if not capture:
        return pairs
    if action is not None and action.arguments:
        pairs.append((TOOL_PARAMETERS, clip(json.dumps(action.arguments, ensure_ascii=False, default=repr))))
        if not action.command:
            pairs += _json(INPUT_VALUE, INPUT_MIME_TYPE, action.arguments, clip)
    return pairs + _text(OUTPUT_VALUE, OUTPUT_MIME_TYPE, obs.text.text if obs and obs.text else None, clip)

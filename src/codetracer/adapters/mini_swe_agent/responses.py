"""mini-swe-agent's OpenAI Responses-API messages, read as the chat-completions messages they stand for.

mini 2.x keeps the history of a Responses-API model (``litellm_response``, ``openrouter_response``,
``portkey_response``, and the test model ``DeterministicResponseAPIToolcallModel``) in that API's own shapes:

* a model answer is the whole response object, ``{"object": "response", "output": [...], "extra": {...}}``, with no
  ``role``; its ``output`` holds ``message`` items (``output_text`` parts), ``function_call`` items (``call_id``,
  ``name``, ``arguments`` as a JSON string) and ``reasoning`` items (``summary`` / ``content`` text parts);
* a tool result is ``{"type": "function_call_output", "call_id": ..., "output": "<returncode>..."}``, no ``role``;
* every other message (system, task, format errors, the final ``exit``) is ``{"type": "message", "role": ...,
  "content": [{"type": "input_text", "text": ...}]}``, which the chat reader already takes (list content).

:func:`as_chat` turns the first two into an ``assistant`` message with ``tool_calls`` and a ``tool`` message, so the
one replay of :mod:`~codetracer.adapters.mini_swe_agent.artifacts` (live and ``.traj.json`` alike) gives a Responses
run the tree a tool-call model's run of the same scenario gets. Reasoning items become the start of the step's
thought (the chat formats carry no reasoning of their own). Anything else passes through unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def is_response(msg: Mapping[str, Any]) -> bool:
    """A Responses-API model answer (the response object mini stores as the message)."""
    return msg.get("object") == "response" and "role" not in msg


def as_chat(msg: dict[str, Any]) -> dict[str, Any]:
    """``msg`` as a chat-completions message: an answer with ``tool_calls``, a ``tool`` result, or ``msg`` itself."""
    if "role" in msg:
        return msg
    if msg.get("object") == "response":
        return _answer(msg)
    if msg.get("type") == "function_call_output":
        out = msg.get("output")
        return {"role": "tool", "tool_call_id": msg.get("call_id"), "content": _text(out), "extra": msg.get("extra")}
    return msg


def _answer(msg: dict[str, Any]) -> dict[str, Any]:
    output = msg.get("output")
    items = output if isinstance(output, list) else []
    reasoning: list[str] = []
    said: list[str] = []
    tool_calls: list[dict[str, Any]] = []
    for item in items:
        if not isinstance(item, dict):
            continue
        kind = item.get("type")
        if kind == "message":
            said.append(_text(item.get("content")))
        elif kind == "reasoning":
            reasoning.append(_text(item.get("summary")) or _text(item.get("content")))
        elif kind == "function_call":
            arguments = item.get("arguments")
            tool_calls.append({
                "id": item.get("call_id") or item.get("id"),
                "type": "function",
                "function": {"name": item.get("name"), "arguments": arguments if arguments is not None else "{}"},
            })
    text = "\n\n".join(t for t in reasoning + said if t) or None
    chat: dict[str, Any] = {"role": "assistant", "content": text, "extra": _extra(msg)}
    if tool_calls:
        chat["tool_calls"] = tool_calls
    return chat


def _extra(msg: Mapping[str, Any]) -> dict[str, Any]:
    """The message's ``extra``, with the response's model and token counts where the chat reader looks for them
    (``extra.response.model`` and ``.usage.prompt_tokens`` / ``completion_tokens``), unless mini put them there."""
    extra = msg.get("extra")
    out = dict(extra) if isinstance(extra, dict) else {}
    if isinstance(out.get("response"), dict):
        return out
    raw_usage = msg.get("usage")
    usage: Mapping[str, Any] = raw_usage if isinstance(raw_usage, dict) else {}
    response: dict[str, Any] = {}
    if isinstance(msg.get("model"), str):
        response["model"] = msg["model"]
    tokens = {"prompt_tokens": usage.get("input_tokens"), "completion_tokens": usage.get("output_tokens")}
    if any(isinstance(v, int) for v in tokens.values()):
        response["usage"] = tokens
    if response:
        out["response"] = response
    return out


def _text(content: Any) -> str:
    """The text of an output item's ``content`` / ``summary``: a string or a list of ``{"text": ...}`` parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))
    return ""

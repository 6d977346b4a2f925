"""The model and tool callbacks of a LangChain run, mapped onto trace events when the tree is built.

The live handler (:mod:`codetracer.adapters.langchain.live`) keeps, on the agent's thread, only what routes a
callback to its codetracer run (LangChain's ``run_id`` / ``parent_run_id`` tables) and records each model and tool
callback as a tuple of plain values (``codetracer_record``). :class:`TurnMapper` replays those records, in order,
into steps: a model call opens a step with its LLM call; the tool calls its response requests become that step's
tool calls (parallel siblings), matched on the ``tool_call_id`` LangChain passes to the tool (or on an unclaimed
requested call of the same tool); the step ends when its last requested call ends; a tool nobody requested is a
step of its own.

No LangChain import here: ``codetracer recover`` maps a killed run's records in a process without LangChain.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from codetracer.core.events import Events

MAPPER = "langchain"
"""The registered name of :class:`TurnMapper`, the record mapper of live LangChain runs (see
:mod:`codetracer.plugins`)."""

_COMMAND_KEYS = ("command", "cmd", "script")
_PATH_KEYS = ("path", "file_path", "filename", "file")


@dataclass(slots=True)
class _Requested:
    step_key: str
    tool: str
    arguments: Any


def content_text(content: Any) -> str:
    """A message content (a string, or a list of content blocks) as plain text."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for block in content:
            if isinstance(block, str):
                parts.append(block)
            elif isinstance(block, Mapping) and isinstance(block.get("text"), str):
                parts.append(block["text"])
        return "".join(parts)
    return str(content)


def message_role_and_text(message: Any) -> tuple[str | None, str]:
    if isinstance(message, str):
        return "human", message
    if isinstance(message, tuple | list) and len(message) == 2:
        return str(message[0]), content_text(message[1])
    if isinstance(message, Mapping):
        return str(message.get("role") or message.get("type") or ""), content_text(message.get("content"))
    return getattr(message, "type", None), content_text(getattr(message, "content", None))


def _first_str(arguments: Mapping[str, Any], keys: tuple[str, ...]) -> str | None:
    for key in keys:
        value = arguments.get(key)
        if isinstance(value, str):
            return value
    return None


def _command_and_edits(arguments: Mapping[str, Any]) -> tuple[str | None, list[dict[str, Any]]]:
    """A shell command or a file edit when the tool's arguments look like one (``command=``, ``path=`` + content)."""
    command = _first_str(arguments, _COMMAND_KEYS)
    edits: list[dict[str, Any]] = []
    path = _first_str(arguments, _PATH_KEYS)
    if path is not None:
        new = arguments.get("new_str", arguments.get("content", arguments.get("file_text")))
        old = arguments.get("old_str")
        if isinstance(new, str) or isinstance(old, str):
            edits.append({"path": path, "old": old if isinstance(old, str) else None, "new": new})
    return command, edits


class TurnMapper:
    """Maps one LangChain run's model and tool records (see the module docstring for their meaning).

    Records are tuples ``(kind, langchain_run_id, *values, timestamp)``:

    * ``("llm_start", id, model, n_messages, agent, ts)`` and ``("llm_end", id, text, input_tokens, output_tokens,
      tool_calls, invalid_tool_calls, ts)``, ``("llm_error", id, error, kind, report, ts)``;
    * ``("tool_start", id, tool, inputs, input_str, tool_call_id, ts)``, ``("tool_end", id, output, is_error, ts)``,
      ``("tool_error", id, error, kind, report, ts)``.

    ``report`` is false when the same exception was already recorded for the run (LangChain re-raises one exception
    through every enclosing run).
    """

    def __init__(self, events: Events, run_id: str) -> None:
        self.ev = events
        self.run_id = run_id
        self.requested: dict[str, _Requested] = {}
        """tool_call_id -> the step whose model response asked for it, until its tool starts."""
        self.pending: dict[str, set[str]] = {}
        """step_key -> tool_call ids the step still waits for."""
        self.tools: dict[str, tuple[str, str | None]] = {}
        """A started tool run's call id -> (its step, the requested call it answers)."""

    def feed(self, payload: Any, timestamp: float | None) -> None:
        kind = payload[0]
        handler = getattr(self, f"_{kind}", None)
        if handler is None:
            raise ValueError(f"unknown LangChain record kind {kind!r}")
        handler(str(payload[1]), *payload[2:])

    def close(self) -> None:
        """Nothing to flush: the run's end closes what is still open."""

    # -- models -------------------------------------------------------------------------------------------------------

    def _llm_start(self, key: str, model: str | None, n_messages: int | None, agent: Any, ts: float | None) -> None:
        self.ev.step_started(self.run_id, key, agent=agent if isinstance(agent, str) else None, timestamp=ts)
        self.ev.llm_call_started(self.run_id, key, key, model=model, input_messages=n_messages, timestamp=ts)

    def _llm_end(
        self,
        key: str,
        text: str | None,
        input_tokens: Any,
        output_tokens: Any,
        tool_calls: Any,
        invalid_tool_calls: Any,
        ts: float | None,
    ) -> None:
        ev, run_id = self.ev, self.run_id
        ev.llm_call_finished(
            run_id, key, response=text, input_tokens=input_tokens, output_tokens=output_tokens, timestamp=ts
        )
        if text:  # the step was announced at model start; its thought is only known now (the builder fills it in)
            ev.step_started(run_id, key, thought=text, timestamp=ts)
        waiting: set[str] = set()
        for index, call in enumerate(tool_calls or ()):
            if not isinstance(call, Mapping):
                continue
            call_id = str(call.get("id") or f"{key}#{index}")
            self.requested[call_id] = _Requested(key, str(call.get("name") or ""), call.get("args"))
            waiting.add(call_id)
        for invalid in invalid_tool_calls or ():
            if isinstance(invalid, Mapping):
                detail = f"invalid tool call {invalid.get('name')!r}: {invalid.get('error') or invalid.get('args')}"
                ev.error(run_id, detail, step_key=key, kind="InvalidToolCall", timestamp=ts)
        if waiting:
            self.pending[key] = waiting
        else:
            ev.step_finished(run_id, key, timestamp=ts)

    def _llm_error(self, key: str, error: str, kind: str | None, report: bool, ts: float | None) -> None:
        self.ev.llm_call_finished(self.run_id, key, timestamp=ts)
        if report:
            self.ev.error(self.run_id, error, step_key=key, kind=kind, timestamp=ts)
        self.ev.step_finished(self.run_id, key, timestamp=ts)

    # -- tools --------------------------------------------------------------------------------------------------------

    def _claim(self, tool_call_id: Any, tool: str, arguments: Any) -> tuple[str | None, _Requested | None]:
        """The requested call this tool run answers: by ``tool_call_id``, else the oldest unclaimed call of the tool."""
        if isinstance(tool_call_id, str) and tool_call_id in self.requested:
            return tool_call_id, self.requested.pop(tool_call_id)
        if tool_call_id is None:
            candidates = [(k, r) for k, r in self.requested.items() if r.tool == tool]
            exact = [(k, r) for k, r in candidates if r.arguments == arguments]
            for key, _ in (exact or candidates)[:1]:
                return key, self.requested.pop(key)
        return None, None

    def _tool_start(
        self, call_id: str, tool: str, inputs: Any, input_str: Any, tool_call_id: Any, ts: float | None
    ) -> None:
        arguments: dict[str, Any] = dict(inputs) if isinstance(inputs, Mapping) else {"input": input_str}
        claimed, requested = self._claim(tool_call_id, tool, inputs)
        if requested is not None:
            step_key = requested.step_key
        else:  # nobody asked for it (a tool run directly, or by a plain chain): a step of its own
            step_key = call_id
            self.ev.step_started(self.run_id, call_id, timestamp=ts)
        self.tools[call_id] = (step_key, claimed if requested is not None else None)
        command, edits = _command_and_edits(arguments)
        self.ev.tool_call_started(
            self.run_id,
            step_key,
            call_id,
            tool,
            arguments=arguments,
            command=command,
            edits=edits,
            raw_ref=f"tool_call_id={claimed}" if claimed else None,
            timestamp=ts,
        )

    def _tool_end(self, call_id: str, output: str, is_error: bool, ts: float | None) -> None:
        if call_id not in self.tools:
            return
        self.ev.tool_call_finished(self.run_id, call_id, output=output, is_error=bool(is_error), timestamp=ts)
        self._tool_done(call_id, ts)

    def _tool_error(self, call_id: str, error: str, kind: str | None, report: bool, ts: float | None) -> None:
        if call_id not in self.tools:
            return
        self.ev.tool_call_finished(self.run_id, call_id, output=error, is_error=True, timestamp=ts)
        if report:
            self.ev.error(self.run_id, error, step_key=self.tools[call_id][0], kind=kind, timestamp=ts)
        self._tool_done(call_id, ts)

    def _tool_done(self, call_id: str, ts: float | None) -> None:
        step_key, answered = self.tools.pop(call_id)
        if answered is None:
            self.ev.step_finished(self.run_id, step_key, timestamp=ts)
            return
        waiting = self.pending.get(step_key)
        if waiting is None:
            return
        waiting.discard(answered)
        if not waiting:
            del self.pending[step_key]
            self.ev.step_finished(self.run_id, step_key, timestamp=ts)


GRAPH_MAPPER = "langgraph"
"""The registered name of :class:`GraphMapper`, the record mapper of LangGraph graphs traced through their task
stream (``adapters/langchain/graph.py``)."""


class GraphMapper(TurnMapper):
    """Maps the records of a LangGraph run traced through its ``updates`` stream onto the steps :class:`TurnMapper`
    makes from callbacks.

    Records are tuples:

    * ``("input", n_messages, ts)``: how many messages the run started with;
    * ``("update", node, messages, started, ts)``: what one node wrote to the ``messages`` channel, each message as
      its field dict (``type``, ``content``, ``tool_calls``, ``usage_metadata``, ``tool_call_id``, ``status`` ...) or
      as a node may write it (a ``(role, content)`` pair, a ``{"role", "content"}`` dict); ``started`` is when the
      chunk before it came;
    * ``("error", error, kind, started, ts)``: the agent's code raised (LangGraph's own errors are run errors).

    An AI message is a model call, a step from ``started`` to ``ts``; the tool calls it requests start when it ends
    (LangGraph runs them next) and end with the tool message carrying their ``tool_call_id``. A tool message nobody
    requested is a step of its own. An error goes to the tool call in flight when there is one, to the step when
    several are, else it is the model call that did not return. Tool calls still open when the run ends (killed,
    interrupted, stopped) stay open: they were in flight.
    """

    def __init__(self, events: Events, run_id: str) -> None:
        super().__init__(events, run_id)
        self.seen = 0
        """Messages in the state so far: what the next model call reads."""
        self.calls = 0
        self.open: dict[str, str] = {}
        """tool_call_id -> the key of its started, unanswered tool call."""

    def feed(self, payload: Any, timestamp: float | None) -> None:
        kind = payload[0]
        if kind == "input":
            self.seen = payload[1] if isinstance(payload[1], int) else 0
        elif kind == "update":
            self._update(*payload[1:])
        elif kind == "error":
            self._error(*payload[1:])
        else:
            raise ValueError(f"unknown LangGraph record kind {kind!r}")

    def _update(self, node: str, messages: Any, started: float | None, ts: float | None) -> None:
        for written in messages or ():
            role, message = _written(written)
            if role == "ai":
                self._model_call(node, message, started, ts)
            elif role == "tool":
                self._tool_answer(message, started, ts)
            self.seen += 1

    def _next_key(self, node: str) -> str:
        self.calls += 1
        return f"{node}#{self.calls}"

    def _model_call(self, node: str, message: Mapping[str, Any], started: float | None, ts: float | None) -> None:
        step = self._next_key(node)
        usage = message.get("usage_metadata")
        usage = usage if isinstance(usage, Mapping) else {}
        meta = message.get("response_metadata")
        model = (meta.get("model_name") or meta.get("model")) if isinstance(meta, Mapping) else None
        agent = message.get("name")
        tool_calls = message.get("tool_calls")
        self._llm_start(step, model if isinstance(model, str) else None, self.seen,
                        agent if isinstance(agent, str) else None, started)
        self._llm_end(step, content_text(message.get("content")), usage.get("input_tokens"),
                      usage.get("output_tokens"), tool_calls, message.get("invalid_tool_calls"), ts)
        for index, call in enumerate(tool_calls or ()):
            if isinstance(call, Mapping):
                call_id = str(call.get("id") or f"{step}#{index}")
                key = self.open[call_id] = f"{step}:{call_id}"
                self._tool_start(key, str(call.get("name") or ""), call.get("args"), None, call_id, ts)

    def _tool_answer(self, message: Mapping[str, Any], started: float | None, ts: float | None) -> None:
        call_id = message.get("tool_call_id")
        key = self.open.pop(call_id, None) if isinstance(call_id, str) else None
        if key is None:  # nobody asked for it: a step of its own
            key = self._next_key(str(message.get("name") or "tool"))
            self._tool_start(key, str(message.get("name") or ""), {}, None, None, started)
        self._tool_end(key, content_text(message.get("content")), message.get("status") == "error", ts)

    def _error(self, error: str, kind: str | None, started: float | None, ts: float | None) -> None:
        if len(self.open) == 1:
            _, key = self.open.popitem()
            self._tool_error(key, error, kind, True, ts)
        elif self.open:
            step_key = self.tools[next(iter(self.open.values()))][0]
            self.ev.error(self.run_id, error, step_key=step_key, kind=kind, timestamp=ts)
        else:
            step = self._next_key("model")
            self._llm_start(step, None, self.seen, None, started)
            self._llm_error(step, error, kind, True, ts)


_ROLES = {"ai": "ai", "assistant": "ai", "AIMessageChunk": "ai", "tool": "tool", "ToolMessageChunk": "tool"}


def _written(message: Any) -> tuple[str | None, Mapping[str, Any]]:
    """(``"ai"`` / ``"tool"`` / other, the message's fields) of one written message, in whichever form it came."""
    if isinstance(message, Mapping) and "type" in message:
        return _ROLES.get(str(message["type"])), message
    role, text = message_role_and_text(message)
    return _ROLES.get(role or ""), {"content": text}

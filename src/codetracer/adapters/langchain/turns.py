"""The model and tool callbacks of a LangChain run, mapped onto trace events when the tree is built.

The live handler (:mod:`codetracer.adapters.langchain.live`) keeps, on the agent's thread, only what routes a
callback to its codetracer run (LangChain's ``run_id`` / ``parent_run_id`` tables) and records each model and tool
callback as a tuple of plain values (``codetracer_record``). :class:`TurnMapper` replays those records, in order,
into steps: a model call opens a step with its LLM call; the tool calls its response requests become that step's
tool calls (parallel siblings), matched on the ``tool_call_id`` LangChain passes to the tool (or on an unclaimed
requested call of the same tool); the step ends when its last requested call ends; a tool nobody requested is a
step of its own, and so is a graph node that raised outside any model or tool. A step names the graph node that ran
it (``raw_ref = "node=researcher/model"``). When the run ends otherwise than by returning, the calls still in flight
end as ``cancelled`` or ``interrupted`` (:mod:`codetracer.core.endings`), requested ones that never started too.

No LangChain import here: ``codetracer recover`` maps a killed run's records in a process without LangChain.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from codetracer.core import endings

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
    ts: float | None = None
    """When the model asked for it (a call that never starts is placed there when the run ends)."""


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
      ``("tool_error", id, error, kind, report, ts)``;
    * ``("call_ended", id, ending, ts)``: a model or tool run that did not return and did not fail (cancelled,
      interrupted: :mod:`codetracer.core.endings`);
    * ``("node_error", id, error, kind, node, agent, ts)``: a graph node raised outside any model or tool call;
    * ``("end", root_id, ending, ts)``: how the run ended, just before it does.

    ``llm_start`` and ``tool_start`` may carry the graph node path as a last value (``"researcher/model"``).
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
        self.models: set[str] = set()
        """Model calls started and not yet answered (each is its step's key)."""

    def feed(self, payload: Any, timestamp: float | None) -> None:
        kind = payload[0]
        handler = getattr(self, f"_{kind}", None)
        if handler is None:
            raise ValueError(f"unknown LangChain record kind {kind!r}")
        handler(str(payload[1]), *payload[2:])

    def close(self) -> None:
        """Nothing to flush: the run's end closes what is still open."""

    # -- models -------------------------------------------------------------------------------------------------------

    def _llm_start(self, key: str, model: str | None, n_messages: int | None, agent: Any, ts: float | None,
                   node: str | None = None) -> None:
        self.ev.step_started(self.run_id, key, agent=agent if isinstance(agent, str) else None,
                             raw_ref=f"node={node}" if node else None, timestamp=ts)
        self.ev.llm_call_started(self.run_id, key, key, model=model, input_messages=n_messages, timestamp=ts)
        self.models.add(key)

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
        self.models.discard(key)
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
            self.requested[call_id] = _Requested(key, str(call.get("name") or ""), call.get("args"), ts)
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
        self.models.discard(key)
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
        self, call_id: str, tool: str, inputs: Any, input_str: Any, tool_call_id: Any, ts: float | None,
        node: str | None = None,
    ) -> None:
        arguments: dict[str, Any] = dict(inputs) if isinstance(inputs, Mapping) else {"input": input_str}
        claimed, requested = self._claim(tool_call_id, tool, inputs)
        if requested is not None:
            step_key = requested.step_key
        else:  # nobody asked for it (a tool run directly, by a plain chain, a resumed thread): a step of its own
            step_key = call_id
            self.ev.step_started(self.run_id, call_id, raw_ref=f"node={node}" if node else None, timestamp=ts)
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

    # -- ends that are not returns ------------------------------------------------------------------------------------

    def _call_ended(self, call_id: str, ending: str, ts: float | None) -> None:
        """A model or tool run that neither returned nor failed: cancelled, or interrupted by ``interrupt()``."""
        if call_id in self.tools:
            self.ev.call_ended(self.run_id, call_id, ending, timestamp=ts)
            self._tool_done(call_id, ts)
        elif call_id in self.models:
            self.models.discard(call_id)
            self.ev.call_ended(self.run_id, call_id, ending, timestamp=ts)
            self.ev.step_finished(self.run_id, call_id, timestamp=ts)

    def _node_error(self, key: str, error: str, kind: str | None, node: Any, agent: Any, ts: float | None) -> None:
        """A graph node raised outside any model or tool call (a post-processing node, a router): a step of its own,
        named after the node, holds the error; no model call is made up for it."""
        self.ev.step_started(self.run_id, key, agent=agent if isinstance(agent, str) else None,
                             raw_ref=f"node={node}" if isinstance(node, str) else None, timestamp=ts)
        self.ev.error(self.run_id, error, step_key=key, kind=kind, timestamp=ts)
        self.ev.step_finished(self.run_id, key, timestamp=ts)

    def _end(self, key: str, ending: str, ts: float | None) -> None:
        """The run ends ``ending``: unless it returned, what is still in flight ends with it (cancelled, or
        interrupted), and so do the calls a model requested that never started (LangGraph cancelled them before
        they ran, or the run paused before them), as the graph path sees them."""
        if ending == endings.FINISHED:
            return
        word = endings.call_ending(ending)
        for call_id in list(self.tools):
            self._call_ended(call_id, word, ts)
        for call_id in list(self.models):
            self._call_ended(call_id, word, ts)
        for tool_call_id, requested in list(self.requested.items()):
            del self.requested[tool_call_id]
            key = f"{requested.step_key}:{tool_call_id}"
            arguments = requested.arguments
            arguments = dict(arguments) if isinstance(arguments, Mapping) else {}
            command, edits = _command_and_edits(arguments)
            self.ev.tool_call_started(self.run_id, requested.step_key, key, requested.tool, arguments=arguments,
                                      command=command, edits=edits, raw_ref=f"tool_call_id={tool_call_id}",
                                      timestamp=requested.ts)
            self.ev.call_ended(self.run_id, key, word, timestamp=ts)
            waiting = self.pending.get(requested.step_key)
            if waiting is not None:
                waiting.discard(tool_call_id)
                if not waiting:
                    del self.pending[requested.step_key]
                    self.ev.step_finished(self.run_id, requested.step_key, timestamp=ts)

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
"""The registered name of :class:`~codetracer.adapters.langchain.graph_turns.GraphMapper`, the record mapper of
LangGraph graphs traced through their updates stream (``adapters/langchain/graph.py``)."""

"""The records of a LangGraph run traced through its ``updates`` stream, mapped onto the steps the callback handler's
records make (:class:`GraphMapper`).

What a node writes to the ``messages`` channel is all the graph path sees, so the mapper must tell new messages from
ones it has seen: a compiled subgraph used as a node (a subagent, ``create_agent`` as a node, a supervisor) returns
its whole message list, the parent's history included, and a thread resumed after ``interrupt()`` replays the writes
its tasks made before the pause. A message already seen is never a new call. It is known by its ``id`` (every
message in a LangGraph state has one, and a chat model's answer has one from the start); a message first written
without an id (before the reducer gives it one) is known by a fingerprint of its type, tool call ids and text, and a
tool's answer always by the call it answers and its text (LangGraph may give one answer different ids in the update
and in the state).

Each graph namespace (the root graph, each run of a subgraph) has its own state as the mapper follows it: the
messages in it, so a model call's ``input_messages`` is the number its model read. A subgraph's state starts as its
parent's, or, on a resumed thread, as the checkpoint holds it.

No LangChain import: ``codetracer recover`` maps a killed run's records in a process without LangChain.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from codetracer.adapters.langchain.turns import GRAPH_MAPPER, TurnMapper, content_text, message_role_and_text
from codetracer.core import endings

if TYPE_CHECKING:  # pragma: no cover
    from codetracer.core.events import Events

__all__ = ["GRAPH_MAPPER", "GraphMapper", "fingerprint", "ident", "message_fields"]

Fingerprint = tuple[Any, ...]

_ROLES = {"ai": "ai", "assistant": "ai", "AIMessageChunk": "ai", "tool": "tool", "ToolMessageChunk": "tool",
          "human": "human", "user": "human", "HumanMessageChunk": "human", "system": "system"}

REF = "__ref__"
"""A written message journaled by reference (``{REF: id}``): the graph path already journaled that message whole."""


def _written(message: Any) -> tuple[str | None, Mapping[str, Any]]:
    """(``"ai"`` / ``"tool"`` / ``"human"`` / other, the message's fields) of one written message, in whichever form
    it came."""
    if isinstance(message, Mapping) and "type" in message:
        return _ROLES.get(str(message["type"])), message
    role, text = message_role_and_text(message)
    return _ROLES.get(role or ""), {"content": text}


def fingerprint(role: str | None, message: Mapping[str, Any]) -> Fingerprint:
    """What a message without an id is known by: its type, the tool call it answers or the calls it makes, its
    length and both ends of its text (cheap for 30 KB outputs, and the same in every process)."""
    text = content_text(message.get("content"))
    calls = message.get("tool_calls")
    asked = ",".join(str(c.get("id")) for c in calls if isinstance(c, Mapping)) if isinstance(calls, list) else ""
    answers = message.get("tool_call_id")
    return (role or "", answers if isinstance(answers, str) else "", asked, len(text), text[:64], text[-64:])


def message_fields(message: Any) -> Any:
    """A message as the graph path journals it: a message object's field dict; pairs, dicts and strings as they
    are."""
    return getattr(message, "__dict__", message)


def ident(message: Any) -> tuple[str | None, Fingerprint]:
    """(id, fingerprint) of a message in any form (what the graph path records of a run's input)."""
    role, fields = _written(message_fields(message))
    mid = fields.get("id")
    return (mid if isinstance(mid, str) and mid else None), fingerprint(role, fields)


class _Known:
    """Messages known by id, or by fingerprint when they came without one."""

    __slots__ = ("fps", "ids")

    def __init__(self, ids: Iterable[str] = (), fps: dict[Fingerprint, bool] | None = None) -> None:
        self.ids: set[str] = set(ids)
        self.fps: dict[Fingerprint, bool] = dict(fps or {})
        """fingerprint -> whether the message had an id when it was seen."""

    def has(self, mid: str | None, fp: Fingerprint | None) -> bool:
        if mid is not None and mid in self.ids:
            return True
        if fp is None:
            return False
        had_id = self.fps.get(fp)
        if had_id is None:
            return False
        # A tool's answer is known by the call it answers and its text: LangGraph may give the message an id in the
        # state and another in the update that wrote it. Other messages that both have ids are the same only by id
        # (two agents may well both answer "Done.").
        return mid is None or not had_id or (fp[0] == "tool" and bool(fp[1]))

    def add(self, mid: str | None, fp: Fingerprint | None) -> None:
        if mid is not None:
            self.ids.add(mid)
        if fp is not None:
            self.fps[fp] = self.fps.get(fp, False) or mid is not None


class _Context(_Known):
    """One graph namespace's message state as the mapper follows it."""

    __slots__ = ("count",)

    def __init__(self, count: int = 0, ids: Iterable[str] = (), fps: dict[Fingerprint, bool] | None = None) -> None:
        super().__init__(ids, fps)
        self.count = count

    def copy(self) -> _Context:
        return _Context(self.count, self.ids, self.fps)


class GraphMapper(TurnMapper):
    """Maps the records of a LangGraph run traced through its ``updates`` stream onto the steps :class:`TurnMapper`
    makes from callbacks.

    Records are tuples:

    * ``("input", n_messages, ts[, idents])``: how many messages the run's input holds (and their ids and
      fingerprints);
    * ``("thread", thread_id, contexts, requested, ts)``: the thread's checkpoint when the run started: per graph
      namespace ``[ns, count, ids]``, and the tool calls asked for and not answered there (``{id: [tool, args]}``);
    * ``("update", node, messages, started, ts)``: what one node of the root graph wrote to the ``messages`` channel,
      each message as its field dict (``type``, ``content``, ``tool_calls``, ``usage_metadata``, ``tool_call_id``,
      ``status`` ...), as a node may write it (a ``(role, content)`` pair, a ``{"role", "content"}`` dict), or as a
      reference ``{"__ref__": id}`` to one journaled before; ``started`` is when the chunk before it came;
    * ``("sub", ns, node, messages, started, ts)``: the same from a node of a subgraph (``ns``: LangGraph's
      namespace, ``["researcher:<task id>", ...]``);
    * ``("error", error, kind, started, ts[, site])``: the agent's code raised (LangGraph's own errors are run
      errors); ``site`` says where (:func:`~codetracer.adapters.langchain.sites.error_site`);
    * ``("end", ending, ts)``: how the run ended (:mod:`codetracer.core.endings`), just before it does.

    A new AI message is a model call, a step from ``started`` to ``ts`` named after its node (``raw_ref =
    "node=researcher/model"``, the agent its message names, else the subgraph's node); the tool calls it requests
    start when it ends (LangGraph runs them next) and end with the tool message carrying their ``tool_call_id``. A
    tool message nobody requested in this run is a step of its own (on a resumed thread, with the arguments the
    checkpoint holds). An error goes to the tool call that raised, else to the model call that did not return, else
    to a step of the node that raised; without a site (older journals): to the one tool call in flight, to the step
    when several are, else to a model call. Tool calls still open when the run ends stay open when it returned or
    the process died, and end ``cancelled`` or ``interrupted`` otherwise.
    """

    def __init__(self, events: Events, run_id: str) -> None:
        super().__init__(events, run_id)
        self.calls = 0
        self.open: dict[str, str] = {}
        """tool_call_id -> the key of its started, unanswered tool call."""
        self.contexts: dict[tuple[str, ...], _Context] = {(): _Context()}
        self.recorded = _Known()
        """Messages already made into calls (or in the thread's checkpoint when the run started)."""
        self.asked_before: dict[str, tuple[str, Any]] = {}
        """tool_call_id -> (tool, arguments) of calls a previous run of the thread asked for."""

    @property
    def seen(self) -> int:
        """Messages in the root graph's state so far."""
        return self.contexts[()].count

    def feed(self, payload: Any, timestamp: float | None) -> None:
        kind = payload[0]
        if kind == "update":
            self._update((), *payload[1:])
        elif kind == "sub":
            self._update(tuple(payload[1]), *payload[2:])
        elif kind == "input":
            self._input(*payload[1:])
        elif kind == "thread":
            self._thread(*payload[1:])
        elif kind == "error":
            self._error(*payload[1:])
        elif kind == "end":
            self._ended(*payload[1:])
        else:
            raise ValueError(f"unknown LangGraph record kind {kind!r}")

    # -- what the run started from ------------------------------------------------------------------------------------

    def _input(self, n_messages: Any, ts: float | None = None, idents: Any = None) -> None:
        root = self.contexts[()]
        root.count += n_messages if isinstance(n_messages, int) else 0
        for item in idents or ():
            mid, fp = item[0], tuple(item[1]) if item[1] is not None else None
            root.add(mid, fp)
            self.recorded.add(mid, fp)

    def _thread(self, thread_id: Any, contexts: Any, requested: Any, ts: float | None = None) -> None:
        for ns, count, ids in contexts or ():
            count = count if isinstance(count, int) else 0
            if ns:  # a subgraph paused inside a task: its own state, not a copy of its parent's
                context = self.contexts[tuple(ns)] = _Context(count, ids)
            else:  # the root's state before the run, to which the run's input adds
                context = self.contexts[()]
                context.count += count
                context.ids.update(ids)
            self.recorded.ids.update(context.ids)
        for call_id, (tool, arguments) in (requested or {}).items():
            self.asked_before[call_id] = (tool, arguments)

    def _context(self, ns: tuple[str, ...]) -> _Context:
        context = self.contexts.get(ns)
        if context is None:  # a subgraph starts from its parent's state
            context = self.contexts[ns] = self._context(ns[:-1]).copy()
        return context

    # -- updates ------------------------------------------------------------------------------------------------------

    def _update(self, ns: tuple[str, ...], node: str, messages: Any, started: float | None, ts: float | None) -> None:
        context = self._context(ns)
        names = [part.split(":", 1)[0] for part in ns]
        path = "/".join([*names, str(node)])
        agent = names[0] if names else None
        for written in messages or ():
            role: str | None
            message: Mapping[str, Any]
            fp: Fingerprint | None
            if type(written) is dict and REF in written:  # journaled whole before: known by its id
                role, message, mid, fp = None, written, written[REF], None
            else:
                role, message = _written(written)
                mid = message.get("id")
                mid = mid if isinstance(mid, str) and mid else None
                fp = fingerprint(role, message)
            before = context.count
            if not context.has(mid, fp):
                context.count += 1
            context.add(mid, fp)  # known, also by the id it may carry only now (a reference names that id)
            seen_before = self.recorded.has(mid, fp)
            self.recorded.add(mid, fp)
            if seen_before:
                continue
            if role == "ai":
                self._model_call(path, agent, message, before, started, ts)
            elif role == "tool":
                self._tool_answer(path, message, started, ts)

    def _next_key(self, node: str) -> str:
        self.calls += 1
        return f"{node}#{self.calls}"

    def _model_call(self, path: str, agent: str | None, message: Mapping[str, Any], seen: int, started: float | None,
                    ts: float | None) -> None:
        step = self._next_key(path)
        usage = message.get("usage_metadata")
        usage = usage if isinstance(usage, Mapping) else {}
        meta = message.get("response_metadata")
        model = (meta.get("model_name") or meta.get("model")) if isinstance(meta, Mapping) else None
        name = message.get("name")
        tool_calls = message.get("tool_calls")
        self._llm_start(step, model if isinstance(model, str) else None, seen,
                        name if isinstance(name, str) and name else agent, started, path)
        self._llm_end(step, content_text(message.get("content")), usage.get("input_tokens"),
                      usage.get("output_tokens"), tool_calls, message.get("invalid_tool_calls"), ts)
        for index, call in enumerate(tool_calls or ()):
            if isinstance(call, Mapping):
                call_id = str(call.get("id") or f"{step}#{index}")
                key = self.open[call_id] = f"{step}:{call_id}"
                self._tool_start(key, str(call.get("name") or ""), call.get("args"), None, call_id, ts)

    def _tool_answer(self, path: str, message: Mapping[str, Any], started: float | None, ts: float | None) -> None:
        call_id = message.get("tool_call_id")
        key = self.open.pop(call_id, None) if isinstance(call_id, str) else None
        if key is None:  # nobody asked for it in this run: a step of its own
            tool, arguments = self.asked_before.pop(call_id, ("", None)) if isinstance(call_id, str) else ("", None)
            name = message.get("name")
            key = self._next_key(path)
            self._tool_start(key, str(name or tool or ""), arguments if isinstance(arguments, Mapping) else {}, None,
                             None, started, path)
        self._tool_end(key, content_text(message.get("content")), message.get("status") == "error", ts)

    # -- errors and ends ----------------------------------------------------------------------------------------------

    def _error(self, error: str, kind: str | None, started: float | None, ts: float | None, site: Any = None) -> None:
        if not isinstance(site, list | tuple) or len(site) != 4:
            self._placed_as_before(error, kind, started, ts)
            return
        tool_call_id, in_tool, in_model, path = site
        if in_tool:
            key = self.open.pop(tool_call_id, None) if isinstance(tool_call_id, str) else None
            if key is None and len(self.open) == 1:
                _, key = self.open.popitem()
            if key is not None:
                self._tool_error(key, error, kind, True, ts)
                return
        if not isinstance(path, str) or not path:
            self._placed_as_before(error, kind, started, ts)
            return
        names = path.split("/")
        agent = names[0] if len(names) > 1 else None
        step = self._next_key(path)
        if in_model:  # the model of this node raised: its call never answered
            self._llm_start(step, None, self._context_of(names[:-1]).count, agent, started, path)
            self._llm_error(step, error, kind, True, ts)
        else:  # the node's own code raised (a post-processing node, a router, a tool run outside a request)
            self._node_error(step, error, kind, path, agent, ts)

    def _context_of(self, names: list[str]) -> _Context:
        """The latest state of the namespace at node path ``names`` (the root's when none matches)."""
        for ns in reversed(list(self.contexts)):
            if [part.split(":", 1)[0] for part in ns] == names:
                return self.contexts[ns]
        return self.contexts[()]

    def _placed_as_before(self, error: str, kind: str | None, started: float | None, ts: float | None) -> None:
        """Where nothing says who raised: the one tool call in flight, the step when several are, else the model."""
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

    def _ended(self, ending: str, ts: float | None = None) -> None:
        """The run ended ``ending``: unless it returned, the tool calls in flight end with it (a sibling raised, the
        run was stopped, cancelled or interrupted)."""
        if ending == endings.FINISHED:
            return
        word = endings.call_ending(ending)
        for key in list(self.open.values()):
            self._call_ended(key, word, ts)
        self.open.clear()

"""Live tracing of LangChain / LangGraph runs through LangChain's own callback system.

Mapping (LangChain callback -> trace event), all keyed by LangChain's own ``run_id`` / ``parent_run_id``:

* the outermost LangChain run (no ``parent_run_id``, or a parent this handler never saw) is one codetracer run whose
  id is that LangChain run id; every run below it (graph nodes, nested chains, sub-agents) belongs to it by walking
  ``parent_run_id``, never by ambient context, so threads and asyncio tasks in parallel keep their trees apart;
* each chat-model (or completion-model) call opens a step holding its LLM call; the tool calls that model response
  requests become that step's tool calls (several = parallel siblings), matched on the ``tool_call_id`` LangChain
  passes to ``on_tool_start`` (or, on releases that do not pass it, on an unclaimed requested call of the same tool);
  a tool nobody requested is a step of its own;
* ``on_tool_end`` / ``on_tool_error`` finish the tool call (its observation; an error is flagged and recorded as a
  step error); the step ends when the last of its requested tool calls ends (at once when it requested none);
* ``on_llm_error`` and ``on_chain_error`` are error events, each exception reported once (LangChain re-raises it
  through every enclosing chain);
* the outermost run's end finishes the codetracer run: outcome ``failed`` when it raised, else what the user's
  ``verifier(outputs)`` or ``outcome`` says, else ``unknown`` (a chain that returns has not proved anything solved).

On the agent's thread the handler only routes callbacks to their run and records each model and tool callback as a
tuple of plain values (``codetracer_record``, journaled at once); :class:`~codetracer.adapters.langchain.turns.
TurnMapper` turns the records into steps and calls when the tree is built, off the agent's thread.

The handler never raises into LangChain (``raise_error = False`` and every callback body is guarded), is thread-safe
(one lock around its id tables) and runs inline (``run_inline = True``), so async runs do not hop to an executor
thread for it. Retriever, text, retry and custom events are ignored.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast
from uuid import UUID

from langchain_core.callbacks import AsyncCallbackHandler, BaseCallbackHandler

from codetracer.adapters.langchain.turns import MAPPER, content_text, message_role_and_text
from codetracer.core.events import Events, Recorder
from codetracer.core.model import Outcome
from codetracer.core.tracer import Tracer

log = logging.getLogger("codetracer.langchain")

FRAMEWORK = "langchain"
FRAMEWORK_MODULES: tuple[str, ...] = ("langchain", "langchain_core", "langgraph", "langchain_openai")
"""Top-level packages whose runnables :func:`instrument` accepts (any ``Runnable`` works)."""

Verifier = Callable[[Any], Any]
"""``verifier(outputs)`` of the outermost run -> ``True``/``False``/``"solved"``/``"failed"``/``None``."""

_TASK_KEYS = ("input", "question", "query", "task", "prompt", "instruction")
_SCALARS = (str, int, float, bool)

F = TypeVar("F", bound=Callable[..., None])


def _guarded(method: F) -> F:
    """Never let a tracing bug reach the agent: catch everything, log once per callback kind, go on."""
    name = method.__name__

    @functools.wraps(method)
    def wrapper(self: _Recorder, *args: Any, **kwargs: Any) -> None:
        try:
            method(self, *args, **kwargs)
        except Exception:  # noqa: BLE001 - tracing must never reach the agent
            self._failed(name)

    return cast(F, wrapper)


# --------------------------------------------------------------------------------------------------------------------
# State: one _Run per codetracer run, one _Node per LangChain run id seen
# --------------------------------------------------------------------------------------------------------------------


class _Muted:
    """Events of a run another handler of the same tracer already records: every call is a no-op."""

    def __getattr__(self, name: str) -> Callable[..., None]:
        return _no_op


def _no_op(*args: Any, **kwargs: Any) -> None:
    return None


_MUTED = _Muted()


class _Claims:
    """The outermost LangChain runs being recorded into one tracer, by any of its handlers.

    A run can reach two handlers of the same tracer (``codetracer.trace(agent)`` while ``codetracer.langchain()`` is
    registered): both would emit the same run id and double every call. The first handler to see the run records it;
    the others follow it silently.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.roots: set[UUID] = set()

    def claim(self, root: UUID) -> bool:
        with self.lock:
            if root in self.roots:
                return False
            self.roots.add(root)
            return True

    def release(self, root: UUID) -> None:
        with self.lock:
            self.roots.discard(root)


_claims_by_tracer: weakref.WeakKeyDictionary[Tracer, _Claims] = weakref.WeakKeyDictionary()
_claims_lock = threading.Lock()


def claims_of(tracer: Tracer) -> _Claims:
    """The claims of ``tracer``'s runs, shared by its handlers and its traced graphs (one run, one recorder)."""
    with _claims_lock:
        claims = _claims_by_tracer.get(tracer)
        if claims is None:
            claims = _claims_by_tracer[tracer] = _Claims()
        return claims


@dataclass(slots=True)
class _Run:
    id: str
    root: UUID
    events: Any
    """The tracer's :class:`Events`, or :data:`_MUTED` when another handler of the tracer records this run."""
    lc_ids: list[int] = field(default_factory=list)
    """Keys of every LangChain run of the tree, dropped from the handler's table when the run ends."""
    record: Recorder = _no_op
    """Records a model or tool callback of the run (:meth:`~codetracer.core.events.Events.recorder`); a no-op when
    another handler records the run."""
    reported: list[BaseException] = field(default_factory=list)
    """Exceptions already recorded (LangChain re-raises one exception through every enclosing run)."""


@dataclass(slots=True)
class _Node:
    run: _Run
    kind: str  # "chain" | "llm" | "tool"
    root: bool = False


# --------------------------------------------------------------------------------------------------------------------
# Small readers of LangChain objects (duck-typed, so version drift degrades to less detail, never to an exception)
# --------------------------------------------------------------------------------------------------------------------


def _task_of(inputs: Any) -> str | None:
    """The task statement of a run from its outermost inputs: the first user message, or an ``input``-like key."""
    if isinstance(inputs, str):
        return inputs or None
    messages: Any = None
    if isinstance(inputs, Mapping):
        messages = inputs.get("messages")
        if messages is None:
            for key in _TASK_KEYS:
                value = inputs.get(key)
                if isinstance(value, str) and value:
                    return value
            return None
    elif isinstance(inputs, list):
        messages = inputs
    if not isinstance(messages, list):
        return None
    for message in messages:
        role, text = message_role_and_text(message)
        if role in ("human", "user") and text:
            return text
    return None


def _name(serialized: Any, kwargs: Mapping[str, Any]) -> str | None:
    name = kwargs.get("name")
    if isinstance(name, str) and name:
        return name
    if isinstance(serialized, Mapping):
        name = serialized.get("name")
        if isinstance(name, str) and name:
            return name
        ident = serialized.get("id")
        if isinstance(ident, list) and ident:
            return str(ident[-1])
    return None


def _model_name(serialized: Any, metadata: Mapping[str, Any] | None, kwargs: Mapping[str, Any]) -> str | None:
    if metadata:
        name = metadata.get("ls_model_name")
        if isinstance(name, str) and name:
            return name
    params = kwargs.get("invocation_params")
    if isinstance(params, Mapping):
        for key in ("model", "model_name", "model_id"):
            value = params.get(key)
            if isinstance(value, str) and value:
                return value
    return _name(serialized, kwargs)


def _scalar_metadata(metadata: Mapping[str, Any] | None) -> dict[str, Any]:
    """The user's own run metadata (thread ids, tenants ...), without LangChain/LangGraph bookkeeping."""
    if not metadata:
        return {}
    return {
        key: value
        for key, value in metadata.items()
        if isinstance(value, _SCALARS) and not key.startswith(("langgraph_", "ls_", "checkpoint_", "lc_"))
    }


def _generation_message(response: Any) -> tuple[Any, str | None]:
    """The first generation's message (chat models) and its text, from an ``LLMResult``."""
    generations = getattr(response, "generations", None) or []
    if not generations or not generations[0]:
        return None, None
    generation = generations[0][0]
    message = getattr(generation, "message", None)
    if message is not None:
        return message, content_text(getattr(message, "content", None))
    return None, getattr(generation, "text", None)


def _tokens(response: Any, message: Any) -> tuple[int | None, int | None]:
    usage = getattr(message, "usage_metadata", None)
    if isinstance(usage, Mapping):
        return usage.get("input_tokens"), usage.get("output_tokens")
    llm_output = getattr(response, "llm_output", None)
    if isinstance(llm_output, Mapping):
        usage = llm_output.get("token_usage") or llm_output.get("usage")
        if isinstance(usage, Mapping):
            return usage.get("prompt_tokens", usage.get("input_tokens")), usage.get(
                "completion_tokens", usage.get("output_tokens")
            )
    return None, None


def _tool_output(output: Any) -> tuple[str, bool]:
    """A tool's result as text, and whether the framework marked it an error (a ``ToolMessage`` with status error)."""
    if isinstance(output, str):
        return output, False
    if hasattr(output, "content"):
        return content_text(output.content), getattr(output, "status", None) == "error"
    update = getattr(output, "update", None)  # a LangGraph Command returned by the tool
    if isinstance(update, Mapping) and isinstance(update.get("messages"), list):
        texts = [content_text(getattr(m, "content", m)) for m in update["messages"]]
        return "\n".join(texts), any(getattr(m, "status", None) == "error" for m in update["messages"])
    return str(output), False


def error_text(error: BaseException) -> str:
    """An exception's message, or its repr when it has none."""
    return str(error) or repr(error)


def run_metadata(
    run_id: UUID,
    name: str | None,
    tags: Sequence[str] | None,
    metadata: Mapping[str, Any] | None,
    parent_run_id: UUID | None,
    extra: Mapping[str, Any],
) -> dict[str, Any]:
    """The metadata of a codetracer run from its outermost LangChain run: ids, name, tags, the user's scalars."""
    meta: dict[str, Any] = {"langchain_run_id": str(run_id), **_scalar_metadata(metadata), **extra}
    if name:
        meta["name"] = name
    if tags:
        meta["tags"] = list(tags)
    if metadata and metadata.get("ls_integration") == "langgraph":
        meta["langgraph"] = True
    if parent_run_id is not None:
        meta["langchain_parent_run_id"] = str(parent_run_id)
    return meta


def task_and_parent(inputs: Any, metadata: Mapping[str, Any] | None) -> tuple[str | None, str | None]:
    """The run's task and, for an attempt of reflective replay (:mod:`codetracer.adapters.langchain.replay`), the
    codetracer run it retries, which replay names in the run's metadata together with the original task."""
    task = _task_of(inputs)
    parent = metadata.get("codetracer_parent_run_id") if metadata else None
    if not isinstance(parent, str):
        return task, None
    named = metadata.get("codetracer_task") if metadata else None
    return (named if isinstance(named, str) and named else task), parent


def decide_outcome(outcome: str | bool | None, verifier: Verifier | None, outputs: Any) -> str:
    """The outcome of a run that returned ``outputs``: the verifier's verdict, else the fixed ``outcome``."""
    if verifier is not None:
        try:
            outcome = verifier(outputs)
        except Exception as exc:  # noqa: BLE001 - a broken verifier must not lose the run
            log.warning("codetracer: the LangChain run verifier raised %s: %s", type(exc).__name__, exc)
            outcome = None
    return (Outcome.UNKNOWN if outcome is None else Outcome.parse(outcome)).value


# --------------------------------------------------------------------------------------------------------------------
# The recorder: callback logic shared by the sync and the async handler
# --------------------------------------------------------------------------------------------------------------------


class _Recorder:
    """Turns LangChain callbacks into codetracer events. Thread-safe; one instance may serve many runs at once.

    Events are emitted while holding the lock, so the events of one run keep their causal order even when LangGraph
    runs parallel tool calls in a thread pool.
    """

    def __init__(
        self,
        tracer: Tracer,
        *,
        outcome: str | bool | None = None,
        verifier: Verifier | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        self.tracer = tracer
        self.events: Events = tracer.events
        self.outcome = outcome
        self.verifier = verifier
        self.metadata = dict(metadata or {})
        self.failures = 0
        """Callbacks that failed inside the handler (logged once per kind, never raised)."""
        self._logged: set[str] = set()
        self._lock = threading.Lock()
        self._nodes: dict[int, _Node] = {}
        """LangChain run id (as ``UUID.int``: hashing a UUID runs Python code, an int does not) -> node."""
        self._runs: dict[str, _Run] = {}
        self._claims = claims_of(tracer)

    # -- bookkeeping --------------------------------------------------------------------------------------------------

    def _failed(self, name: str) -> None:
        """Called from an ``except`` block: count the failure, log it once per callback kind."""
        self.failures += 1
        if name not in self._logged:
            self._logged.add(name)
            log.exception("codetracer's LangChain handler failed in %s; the run goes on (logged once)", name)

    def open_run_ids(self) -> list[str]:
        """codetracer runs this handler has started and not yet finished."""
        with self._lock:
            return list(self._runs)

    def _child(self, key: int, parent_run_id: UUID | None, kind: str) -> _Node | None:
        """The hot path (call under the lock): a run inside a known run is one lookup and one small object."""
        parent = self._nodes.get(parent_run_id.int) if parent_run_id is not None else None
        if parent is None:
            return None
        node = self._nodes[key] = _Node(parent.run, kind)
        parent.run.lc_ids.append(key)
        return node

    def _enter(
        self,
        key: int,
        run_id: UUID,
        parent_run_id: UUID | None,
        kind: str,
        *,
        inputs: Any,
        serialized: Any,
        kwargs: Mapping[str, Any],
        tags: list[str] | None,
        metadata: Mapping[str, Any] | None,
        now: float | None,
        name: str | None = None,
    ) -> _Node:
        """Register a LangChain run under its parent's codetracer run, or start a new one when it is outermost."""
        node = self._child(key, parent_run_id, kind)
        if node is not None:
            return node
        owned = self._claims.claim(run_id)
        run = _Run(str(run_id), run_id, self.events if owned else _MUTED, [key])
        self._runs[run.id] = run
        node = self._nodes[key] = _Node(run, kind, root=True)
        if owned:
            name = name or _name(serialized, kwargs)
            meta = run_metadata(run_id, name, tags, metadata, parent_run_id, self.metadata)
            meta["trace_path"] = "callbacks"
            task, parent = task_and_parent(inputs, metadata)
            run.events.run_started(run.id, FRAMEWORK, task=task, metadata=meta, parent_run_id=parent,
                                   timestamp=now or time.time())
            run.record = run.events.recorder(run.id, MAPPER)
        return node

    @staticmethod
    def _first_report(run: _Run, error: BaseException) -> bool:
        """True the first time ``error`` reaches the run (LangChain re-raises it through every enclosing run)."""
        if any(seen is error for seen in run.reported):
            return False
        run.reported.append(error)
        return True

    def _report(self, run: _Run, error: BaseException, step_key: str | None, now: float) -> None:
        if self._first_report(run, error):
            run.events.error(run.id, error_text(error), step_key=step_key, kind=type(error).__name__, timestamp=now)

    def _finish_run(self, run: _Run, outputs: Any, error: BaseException | None, now: float) -> None:
        for lc_id in run.lc_ids:
            self._nodes.pop(lc_id, None)
        self._runs.pop(run.id, None)
        if run.events is _MUTED:
            return
        self._claims.release(run.root)
        if error is not None:
            self._report(run, error, None, now)
            run.events.run_finished(run.id, "failed", exit_status=type(error).__name__, timestamp=now)
            return
        outcome = decide_outcome(self.outcome, self.verifier, outputs)
        run.events.run_finished(run.id, outcome, exit_status="finished", timestamp=now)

    def _end_node(self, node: _Node, outputs: Any, error: BaseException | None, now: float) -> None:
        if node.root:
            self._finish_run(node.run, outputs, error, now)

    # -- chains -------------------------------------------------------------------------------------------------------

    def chain_start(
        self,
        serialized: Any,
        inputs: Any,
        run_id: UUID,
        parent_run_id: UUID | None,
        tags: list[str] | None,
        metadata: Mapping[str, Any] | None,
        kwargs: Mapping[str, Any],
    ) -> None:
        """Six of a LangGraph step's fourteen callbacks are chain starts inside a run already known (graph nodes,
        sequences, routers): that path is one lookup and one small object, with no guard frame around it."""
        try:
            with self._lock:
                key = run_id.int
                if key in self._nodes or self._child(key, parent_run_id, "chain") is not None:
                    return
                self._enter(
                    key,
                    run_id,
                    parent_run_id,
                    "chain",
                    inputs=inputs,
                    serialized=serialized,
                    kwargs=kwargs,
                    tags=tags,
                    metadata=metadata,
                    now=None,
                )
        except Exception:  # noqa: BLE001 - tracing must never reach the agent
            self._failed("chain_start")

    def chain_end(self, outputs: Any, run_id: UUID) -> None:
        """Only the outermost chain's end matters (it ends the run): every other one is a lookup."""
        try:
            node = self._nodes.get(run_id.int)
            if node is None or not node.root:
                return
            with self._lock:
                if self._nodes.get(run_id.int) is node:  # not ended meanwhile by another thread
                    self._finish_run(node.run, outputs, None, time.time())
        except Exception:  # noqa: BLE001 - tracing must never reach the agent
            self._failed("chain_end")

    @_guarded
    def chain_error(self, error: BaseException, run_id: UUID) -> None:
        now = time.time()
        with self._lock:
            node = self._nodes.get(run_id.int)
            if node is None:
                return
            if node.root:
                self._finish_run(node.run, None, error, now)
            else:
                self._report(node.run, error, None, now)

    # -- models -------------------------------------------------------------------------------------------------------

    @_guarded
    def model_start(
        self,
        serialized: Any,
        prompt: Any,
        n_messages: int | None,
        run_id: UUID,
        parent_run_id: UUID | None,
        tags: list[str] | None,
        metadata: Mapping[str, Any] | None,
        kwargs: Mapping[str, Any],
    ) -> None:
        now = time.time()
        with self._lock:
            key = run_id.int
            if key in self._nodes:
                return
            model = _model_name(serialized, metadata, kwargs)
            node = self._enter(
                key,
                run_id,
                parent_run_id,
                "llm",
                inputs=prompt,
                serialized=serialized,
                kwargs=kwargs,
                tags=tags,
                metadata=metadata,
                now=now,
                name=model,
            )
            agent = metadata.get("lc_agent_name") if metadata else None
            node.run.record(("llm_start", run_id, model, n_messages, agent, now), None)

    @_guarded
    def llm_end(self, response: Any, run_id: UUID) -> None:
        now = time.time()
        with self._lock:
            node = self._nodes.get(run_id.int)
            if node is None or node.kind != "llm":
                return
            message, text = _generation_message(response)
            input_tokens, output_tokens = _tokens(response, message)
            record = ("llm_end", run_id, text, input_tokens, output_tokens,
                      getattr(message, "tool_calls", None), getattr(message, "invalid_tool_calls", None), now)
            node.run.record(record, None)
            self._end_node(node, response, None, now)

    @_guarded
    def llm_error(self, error: BaseException, run_id: UUID) -> None:
        self._call_failed("llm_error", "llm", error, run_id)

    def _call_failed(self, record_kind: str, node_kind: str, error: BaseException, run_id: UUID) -> None:
        """A model or tool run raised: its record (the error, and whether it is new to the run), then its end."""
        now = time.time()
        with self._lock:
            node = self._nodes.get(run_id.int)
            if node is None or node.kind != node_kind:  # a run its start callback did not announce
                return
            run = node.run
            report = self._first_report(run, error)
            record = (record_kind, run_id, error_text(error), type(error).__name__, report, now)
            run.record(record, None)
            self._end_node(node, None, error, now)

    # -- tools --------------------------------------------------------------------------------------------------------

    @_guarded
    def tool_start(
        self,
        serialized: Any,
        input_str: Any,
        inputs: Any,
        run_id: UUID,
        parent_run_id: UUID | None,
        tags: list[str] | None,
        metadata: Mapping[str, Any] | None,
        kwargs: Mapping[str, Any],
    ) -> None:
        now = time.time()
        with self._lock:
            key = run_id.int
            if key in self._nodes:
                return
            tool = _name(serialized, kwargs) or "tool"
            node = self._enter(
                key,
                run_id,
                parent_run_id,
                "tool",
                inputs=input_str,
                serialized=serialized,
                kwargs=kwargs,
                tags=tags,
                metadata=metadata,
                now=now,
                name=tool,
            )
            record = ("tool_start", run_id, tool, inputs, input_str, kwargs.get("tool_call_id"), now)
            node.run.record(record, None)

    @_guarded
    def tool_end(self, output: Any, run_id: UUID) -> None:
        now = time.time()
        with self._lock:
            node = self._nodes.get(run_id.int)
            if node is None or node.kind != "tool":  # a tool run tool_start saw
                return
            text, is_error = _tool_output(output)
            node.run.record(("tool_end", run_id, text, is_error, now), None)
            self._end_node(node, output, None, now)

    @_guarded
    def tool_error(self, error: BaseException, run_id: UUID) -> None:
        self._call_failed("tool_error", "tool", error, run_id)


# --------------------------------------------------------------------------------------------------------------------
# The handlers LangChain calls
# --------------------------------------------------------------------------------------------------------------------


def _n_messages(messages: Sequence[Sequence[Any]]) -> int | None:
    return len(messages[0]) if messages else None


class _Ignores:
    """Callback families the adapter does not map: skip them in LangChain's dispatcher, not in ours.

    Not ``ignore_agent``: LangChain gates the tool callbacks on it.
    """

    @property
    def ignore_retriever(self) -> bool:
        return True

    @property
    def ignore_retry(self) -> bool:
        return True

    @property
    def ignore_custom_event(self) -> bool:
        return True


class CodetracerCallbackHandler(_Ignores, BaseCallbackHandler):
    """A LangChain callback handler that records every run it sees as a codetracer trace tree.

    Use it in ``config={"callbacks": [handler]}``, bind it with ``runnable.with_config(callbacks=[handler])``
    (:func:`instrument`), or register it for every run in the process (:func:`register_global`). One handler serves
    any number of concurrent runs (threads, asyncio tasks): state is keyed by LangChain's run ids.

    :param outcome: the outcome of runs that end without raising (default ``unknown``).
    :param verifier: ``verifier(outputs)`` of the outermost run decides the outcome of runs that end without raising
        (``True`` / ``"solved"``, ``False`` / ``"failed"``, ``None`` for unknown).
    :param metadata: added to every run's metadata.
    """

    raise_error = False
    run_inline = True

    def __init__(
        self,
        tracer: Tracer,
        *,
        outcome: str | bool | None = None,
        verifier: Verifier | None = None,
        metadata: Mapping[str, Any] | None = None,
        recorder: _Recorder | None = None,
    ) -> None:
        super().__init__()
        self.recorder = recorder or _Recorder(tracer, outcome=outcome, verifier=verifier, metadata=metadata)

    def on_chain_start(
        self,
        serialized: dict[str, Any],
        inputs: dict[str, Any],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        self.recorder.chain_start(serialized, inputs, run_id, parent_run_id, tags, metadata, kwargs)

    def on_chain_end(
        self, outputs: dict[str, Any], *, run_id: UUID, parent_run_id: UUID | None = None, **kwargs: Any
    ) -> None:
        self.recorder.chain_end(outputs, run_id)

    def on_chain_error(
        self, error: BaseException, *, run_id: UUID, parent_run_id: UUID | None = None, **kwargs: Any
    ) -> None:
        self.recorder.chain_error(error, run_id)

    def on_chat_model_start(
        self,
        serialized: dict[str, Any],
        messages: list[list[Any]],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        prompt = messages[0] if messages else None
        self.recorder.model_start(
            serialized, prompt, _n_messages(messages), run_id, parent_run_id, tags, metadata, kwargs
        )

    def on_llm_start(
        self,
        serialized: dict[str, Any],
        prompts: list[str],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        prompt = prompts[0] if prompts else None
        self.recorder.model_start(
            serialized, prompt, 1 if prompts else None, run_id, parent_run_id, tags, metadata, kwargs
        )

    def on_llm_end(
        self,
        response: Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        self.recorder.llm_end(response, run_id)

    def on_llm_error(
        self,
        error: BaseException,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        self.recorder.llm_error(error, run_id)

    def on_tool_start(
        self,
        serialized: dict[str, Any],
        input_str: str,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        inputs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        self.recorder.tool_start(serialized, input_str, inputs, run_id, parent_run_id, tags, metadata, kwargs)

    def on_tool_end(self, output: Any, *, run_id: UUID, parent_run_id: UUID | None = None, **kwargs: Any) -> None:
        self.recorder.tool_end(output, run_id)

    def on_tool_error(
        self, error: BaseException, *, run_id: UUID, parent_run_id: UUID | None = None, **kwargs: Any
    ) -> None:
        self.recorder.tool_error(error, run_id)


class AsyncCodetracerCallbackHandler(_Ignores, AsyncCallbackHandler):
    """The ``AsyncCallbackHandler`` variant, for code that only accepts async handlers.

    Its coroutines do the same cheap, non-blocking work inline. :class:`CodetracerCallbackHandler` already serves
    async runs without an executor hop (``run_inline``); this class exists for APIs that insist on async handlers.
    Pass ``recorder=`` to share one recorder (and its runs) with a sync handler.
    """

    raise_error = False
    run_inline = True

    def __init__(
        self,
        tracer: Tracer,
        *,
        outcome: str | bool | None = None,
        verifier: Verifier | None = None,
        metadata: Mapping[str, Any] | None = None,
        recorder: _Recorder | None = None,
    ) -> None:
        super().__init__()
        self.recorder = recorder or _Recorder(tracer, outcome=outcome, verifier=verifier, metadata=metadata)

    async def on_chain_start(
        self,
        serialized: dict[str, Any],
        inputs: dict[str, Any],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        self.recorder.chain_start(serialized, inputs, run_id, parent_run_id, tags, metadata, kwargs)

    async def on_chain_end(
        self,
        outputs: dict[str, Any],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        self.recorder.chain_end(outputs, run_id)

    async def on_chain_error(
        self,
        error: BaseException,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        self.recorder.chain_error(error, run_id)

    async def on_chat_model_start(
        self,
        serialized: dict[str, Any],
        messages: list[list[Any]],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        prompt = messages[0] if messages else None
        self.recorder.model_start(
            serialized, prompt, _n_messages(messages), run_id, parent_run_id, tags, metadata, kwargs
        )

    async def on_llm_start(
        self,
        serialized: dict[str, Any],
        prompts: list[str],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        prompt = prompts[0] if prompts else None
        self.recorder.model_start(
            serialized, prompt, 1 if prompts else None, run_id, parent_run_id, tags, metadata, kwargs
        )

    async def on_llm_end(
        self,
        response: Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        self.recorder.llm_end(response, run_id)

    async def on_llm_error(
        self,
        error: BaseException,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        self.recorder.llm_error(error, run_id)

    async def on_tool_start(
        self,
        serialized: dict[str, Any],
        input_str: str,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        inputs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        self.recorder.tool_start(serialized, input_str, inputs, run_id, parent_run_id, tags, metadata, kwargs)

    async def on_tool_end(
        self,
        output: Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        self.recorder.tool_end(output, run_id)

    async def on_tool_error(
        self,
        error: BaseException,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        self.recorder.tool_error(error, run_id)


# --------------------------------------------------------------------------------------------------------------------
# Registration
# --------------------------------------------------------------------------------------------------------------------


def instrument(
    target: Any,
    tracer: Tracer,
    *,
    outcome: str | bool | None = None,
    verifier: Verifier | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> Any:
    """``codetracer.trace(runnable)``: a traced copy of the runnable; use the returned object.

    A LangGraph graph with a ``messages`` channel is traced through its own task stream, without callbacks
    (:mod:`codetracer.adapters.langchain.graph`, much cheaper). Any other runnable is bound with a codetracer handler:
    runnables are immutable, so ``with_config`` returns a new runnable whose every invocation (``invoke``, ``stream``,
    ``batch`` and their async forms) carries the handler, merged with any callbacks passed at call time.
    """
    from codetracer.adapters.langchain import graph

    if graph.traceable(target):
        try:
            return graph.instrument(target, tracer, outcome=outcome, verifier=verifier, metadata=metadata)
        except Exception as exc:  # noqa: BLE001 - a graph class codetracer cannot copy is traced by callbacks
            log.warning("codetracer cannot copy the %s graph (%s: %s); tracing it through callbacks",
                        type(target).__name__, type(exc).__name__, exc)
    handler = CodetracerCallbackHandler(tracer, outcome=outcome, verifier=verifier, metadata=metadata)
    return target.with_config(callbacks=[handler])


GRAPH_RUN: ContextVar[Tracer | None] = ContextVar("codetracer_graph_run", default=None)
"""The tracer whose graph path (:mod:`codetracer.adapters.langchain.graph`) records the LangGraph run being computed
in this context. Set only while LangGraph computes a chunk of that run (its nodes, models and tools, in this thread,
in LangGraph's worker threads and tasks, which copy the context); the global handler of the same tracer stays out of
those LangChain runs, and a graph invoked inside them is seen through what its node writes."""


class _GlobalSlot:
    """What LangChain's configure hook reads for the global handler.

    ``register_configure_hook`` expects a ``ContextVar``, which LangChain only ever ``.get()``s while configuring each
    run. A ContextVar set in one thread is invisible in threads started before or without a copied context, which a
    process-wide registration must cover; this slot answers ``get()`` with the same handler everywhere, but inside a
    LangGraph run its tracer records through the graph path (:data:`GRAPH_RUN`).
    """

    def __init__(self) -> None:
        self.handler: CodetracerCallbackHandler | None = None
        self.graphs: Any = None
        """The graph path's options for root runs of LangGraph graphs (a ``GraphTracing``), or ``None``."""
        self.graph_path = False
        """What the registration asked for (``graphs`` stays ``None`` without LangGraph)."""

    def get(self, default: Any = None) -> CodetracerCallbackHandler | None:
        handler = self.handler
        if handler is None or GRAPH_RUN.get() is handler.recorder.tracer:
            return default
        return handler


_slot = _GlobalSlot()
_hook_lock = threading.Lock()
_hook_installed = False
_unpatch_graphs: Callable[[], None] | None = None


def register_global(
    tracer: Tracer,
    *,
    outcome: str | bool | None = None,
    verifier: Verifier | None = None,
    metadata: Mapping[str, Any] | None = None,
    graph_path: bool = True,
) -> CodetracerCallbackHandler:
    """Trace every LangChain/LangGraph run in this process (what ``codetracer.langchain()`` calls); returns the handler.

    Uses langchain-core's supported extension point for process-wide handlers,
    ``langchain_core.tracers.context.register_configure_hook`` (the mechanism its own LangSmith tracer uses): every
    callback manager LangChain configures adds our handler, inheritable, so nested runs report to it too. Calling it
    again for the same tracer returns the registered handler; for another tracer it replaces it.

    With ``graph_path`` (the default) and LangGraph installed, an outermost run of a LangGraph graph with a
    ``messages`` channel is traced as ``codetracer.trace(graph)`` traces it, through LangGraph's own ``updates``
    stream, with the handler kept out of it (:data:`GRAPH_RUN`): ``Pregel.stream`` and ``astream`` are wrapped while
    the registration lasts (:func:`~codetracer.adapters.langchain.graph.patch_pregel`). A graph run inside another
    LangChain run (a tool's, a chain's, a node's) stays part of that run, through callbacks.
    """
    global _hook_installed, _unpatch_graphs
    with _hook_lock:
        current = _slot.handler
        if (current is not None and current.recorder.tracer is tracer and outcome is None and verifier is None
                and _slot.graph_path == graph_path):
            return current
        if not _hook_installed:
            from langchain_core.tracers.context import register_configure_hook

            register_configure_hook(cast("ContextVar[Any]", _slot), inheritable=True)
            _hook_installed = True
        handler = CodetracerCallbackHandler(tracer, outcome=outcome, verifier=verifier, metadata=metadata)
        _slot.graphs, _slot.graph_path = None, graph_path
        if not graph_path:
            _give_pregel_back()
        else:
            from codetracer.adapters.langchain import graph

            if _unpatch_graphs is None:
                _unpatch_graphs = graph.patch_pregel(lambda: _slot.graphs)
            if _unpatch_graphs is not None:  # None: LangGraph is not installed
                _slot.graphs = graph.GraphTracing(tracer, outcome, verifier, dict(metadata or {}))
        _slot.handler = handler
        return handler


def _give_pregel_back() -> None:
    """LangGraph's own ``Pregel.stream``/``astream`` again (call with the hook lock held)."""
    global _unpatch_graphs
    if _unpatch_graphs is not None:
        _unpatch_graphs()
        _unpatch_graphs = None


def unregister_global() -> None:
    """Stop tracing every run (runs already started keep reporting until they end)."""
    with _hook_lock:
        _slot.handler = None
        _slot.graphs = None
        _give_pregel_back()


def global_handler() -> CodetracerCallbackHandler | None:
    """The handler :func:`register_global` installed, if any."""
    return _slot.handler

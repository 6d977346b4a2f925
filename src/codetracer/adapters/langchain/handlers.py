"""The callback handlers LangChain calls, sync and async, and the slot a process-wide registration fills.

Both handlers hand every callback to one :class:`~codetracer.adapters.langchain.recorder._Recorder`. They never raise
into LangChain (``raise_error = False``; every recorder body is guarded) and run inline (``run_inline = True``), so
async runs do not hop to an executor thread for them. Retriever, text, retry and custom events are ignored.

With a LangGraph release that has graph lifecycle callbacks (``langgraph.callbacks.GraphCallbackHandler``), the
handlers are such handlers too: LangGraph tells them when it pauses a run (``on_interrupt``: ``interrupt()`` and
``interrupt_before``/``after``, which raise nothing the callbacks would see), and the run ends ``interrupted``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from uuid import UUID

from langchain_core.callbacks import AsyncCallbackHandler, BaseCallbackHandler

try:  # LangGraph's lifecycle callbacks (interrupt, resume); older releases and LangChain alone have none
    from langgraph.callbacks import GraphCallbackHandler as _Lifecycle
except ImportError:  # pragma: no cover - depends on the installed LangGraph
    _Lifecycle = BaseCallbackHandler  # type: ignore[assignment,misc,unused-ignore]

from codetracer.adapters.langchain.common import GRAPH_RUN, Verifier, verify_option
from codetracer.adapters.langchain.recorder import _Recorder
from codetracer.core.tracer import Tracer


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


class CodetracerCallbackHandler(_Ignores, _Lifecycle):
    """A LangChain callback handler that records every run it sees as a codetracer trace tree.

    Use it in ``config={"callbacks": [handler]}``, bind it with ``runnable.with_config(callbacks=[handler])``
    (:func:`~codetracer.adapters.langchain.live.instrument`), or register it for every run in the process
    (:func:`~codetracer.adapters.langchain.live.register_global`). One handler serves any number of concurrent runs
    (threads, asyncio tasks): state is keyed by LangChain's run ids.

    :param outcome: the outcome of runs that end without raising (default ``unknown``).
    :param verify: ``verify(outputs)`` of the outermost run decides the outcome of runs that end without raising
        (``True`` / ``"solved"``, ``False`` / ``"failed"``, ``None`` for unknown, or the ``CompletedProcess`` it
        ran), or a shell command judges them, as ``codetracer.trace(runnable, verify=...)``; in a
        ``codetracer.task`` block it judges the block's run when the block gives no ``verify`` of its own.
        ``verifier=`` is its former name (a :class:`DeprecationWarning`).
    :param metadata: added to every run's metadata.
    """

    raise_error = False
    run_inline = True

    def __init__(
        self,
        tracer: Tracer,
        *,
        outcome: str | bool | None = None,
        verify: Verifier | str | None = None,
        metadata: Mapping[str, Any] | None = None,
        recorder: _Recorder | None = None,
        verifier: Verifier | None = None,
    ) -> None:
        super().__init__()
        judge: Verifier | None = verify_option("CodetracerCallbackHandler()", verify, verifier)
        self.recorder = recorder or _Recorder(tracer, outcome=outcome, verifier=judge, metadata=metadata)

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

    def on_interrupt(self, event: Any) -> None:
        """LangGraph paused a graph run (``GraphInterruptEvent``): the run ends ``interrupted``."""
        _interrupted(self.recorder, event)


def _interrupted(recorder: _Recorder, event: Any) -> None:
    try:
        recorder.interrupted(getattr(event, "run_id", None))
    except Exception:  # noqa: BLE001 - tracing must never reach the agent
        recorder._failed("on_interrupt")


class AsyncCodetracerCallbackHandler(_Ignores, AsyncCallbackHandler, _Lifecycle):
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
        verify: Verifier | str | None = None,
        metadata: Mapping[str, Any] | None = None,
        recorder: _Recorder | None = None,
        verifier: Verifier | None = None,
    ) -> None:
        super().__init__()
        judge: Verifier | None = verify_option("AsyncCodetracerCallbackHandler()", verify, verifier)
        self.recorder = recorder or _Recorder(tracer, outcome=outcome, verifier=judge, metadata=metadata)

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

    async def on_interrupt(self, event: Any) -> None:  # type: ignore[override,unused-ignore]
        """LangGraph paused a graph run (``GraphInterruptEvent``): the run ends ``interrupted``."""
        _interrupted(self.recorder, event)


# --------------------------------------------------------------------------------------------------------------------
# The global slot (filled by :func:`~codetracer.adapters.langchain.live.register_global`)
# --------------------------------------------------------------------------------------------------------------------


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


def global_handler() -> CodetracerCallbackHandler | None:
    """The handler :func:`~codetracer.adapters.langchain.live.register_global` installed, if any."""
    return _slot.handler

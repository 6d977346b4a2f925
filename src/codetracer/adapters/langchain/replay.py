"""Reflective replay for LangChain / LangGraph: the diagnosis added to the messages and the graph invoked again.

``codetracer.auto_retry(graph, verify=..., config={"configurable": {"thread_id": "t1"}}).run({"messages": [...]})``.
Each attempt is one ``invoke``, traced as ``codetracer.trace`` traces it (a graph with a ``messages`` channel through
its updates stream, any other runnable with a :class:`CodetracerCallbackHandler`), with an explicit LangChain
``run_id`` (which is the codetracer run id) and, for retries, ``metadata.codetracer_parent_run_id`` so the tree
links the attempt to the first one. The retry's input:

* with a checkpointer and a ``thread_id`` in the config: only the correction, ``{"messages": [HumanMessage(...)]}``,
  invoked on the same thread, whose saved state holds everything the failed attempt did;
* without one: the failed attempt's output messages (or the original input's, when it raised) plus the correction.

Budget: LangGraph's ``recursion_limit`` counts super-steps, and a tool-calling agent takes two per step (model, then
tools; a step of the tree is one model turn with its tool results), so the shared step budget is applied as
``recursion_limit = 2 * steps_left``: the agent gets at most ``steps_left`` model turns, the tools of the last one
included, and the budget is never exceeded (``+ 1`` would let one more model turn in). By default the budget is the
config's ``recursion_limit`` (LangGraph's default 25) halved. A ``GraphRecursionError`` is a budget failure, and when
it ends the sequence ``run()`` returns an :class:`~codetracer.replay.engine.OutOfBudget` (with the thread's state as
its ``value`` when there is a checkpointer) instead of raising it.

Workspace: LangChain has none; pass ``workspace=`` to auto_retry for command verifiers and rollback.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from codetracer.adapters.langchain import graph
from codetracer.adapters.langchain.common import framework_run_id
from codetracer.adapters.langchain.live import CodetracerCallbackHandler
from codetracer.core.model import Diagnosis, Run
from codetracer.hooks.specs import hookimpl
from codetracer.replay.engine import AttemptResult, AttemptRunner, Judge
from codetracer.replay.policy import Budget

if TYPE_CHECKING:  # pragma: no cover
    from codetracer.core.tracer import Tracer

DEFAULT_RECURSION_LIMIT = 25
"""LangGraph's default ``recursion_limit``."""


def _messages_of(value: Any) -> list[Any] | None:
    if isinstance(value, Mapping) and isinstance(value.get("messages"), list):
        return list(value["messages"])
    return None


class LangChainAttempts(AttemptRunner):
    """Runs the attempts of one runnable or compiled graph (the handle the reinject hook receives)."""

    framework = "langchain"

    def __init__(self, runnable: Any, tracer: Tracer, *, config: Mapping[str, Any] | None = None,
                 handler: CodetracerCallbackHandler | None = None) -> None:
        super().__init__(runnable, tracer)
        self.config = dict(config or {})
        self.handler = handler or CodetracerCallbackHandler(tracer)
        self.inputs: Any = None
        self.last_value: Any = None
        self.task: str | None = None

    @property
    def threaded(self) -> bool:
        """True when the graph keeps the thread's state between invocations (a checkpointer and a thread id)."""
        configurable = self.config.get("configurable") or {}
        return getattr(self.target, "checkpointer", None) not in (None, False) and "thread_id" in configurable

    def default_budget(self) -> Budget:
        limit = self.config.get("recursion_limit", DEFAULT_RECURSION_LIMIT)
        return Budget(steps=max(1, int(limit) // 2))

    def _config(
        self, run_id: uuid.UUID, parent_run_id: str | None, remaining: Budget, *, handler: bool
    ) -> dict[str, Any]:
        config = self._with_handler(dict(self.config)) if handler else dict(self.config)
        config["run_id"] = run_id
        if parent_run_id is not None:
            config["metadata"] = {**(config.get("metadata") or {}), "codetracer_parent_run_id": parent_run_id,
                                  **({"codetracer_task": self.task} if self.task else {})}
        if remaining.steps is not None:
            config["recursion_limit"] = 2 * max(1, remaining.steps)
        return config

    def _with_handler(self, config: dict[str, Any]) -> dict[str, Any]:
        callbacks = config.get("callbacks")
        if callbacks is None:
            config["callbacks"] = [self.handler]
        elif isinstance(callbacks, list):
            config["callbacks"] = [*callbacks, self.handler]
        else:  # a callback manager: add ours as an inheritable handler of a copy
            manager = callbacks.copy()
            manager.add_handler(self.handler, inherit=True)
            config["callbacks"] = manager
        return config

    def attempt(
        self,
        n: int,
        args: tuple[Any, ...],
        kwargs: Mapping[str, Any],
        *,
        parent_run_id: str | None,
        remaining: Budget,
        judge: Judge,
    ) -> AttemptResult:
        if n == 1:
            self.inputs = args[0] if args else kwargs.get("input", kwargs.get("inputs"))
            from codetracer.adapters.langchain.common import _task_of

            self.task = _task_of(self.inputs)
            inputs = self.inputs
        else:
            inputs = self._retry_inputs()
        run_id = framework_run_id()

        def verdict(outputs: Any) -> Any:
            judged = judge(result=outputs)
            if judged.check is not None:  # the verifier ran: its command and output go into the tree
                return judged.check
            return judged.outcome

        value: Any = None
        error: BaseException | None = None
        if graph.traceable(self.target):  # traced through its updates stream, as codetracer.trace(graph) does
            target = graph.instrument(self.target, self.tracer, verifier=verdict)
            try:
                value = target.invoke(inputs, self._config(run_id, parent_run_id, remaining, handler=False))
            except Exception as exc:  # noqa: BLE001 - judged; re-raised by the engine if it was the last try
                error = exc
        else:
            recorder = self.handler.recorder
            saved = recorder.verifier
            recorder.verifier = verdict
            try:
                value = self.target.invoke(inputs, self._config(run_id, parent_run_id, remaining, handler=True))
            except Exception as exc:  # noqa: BLE001 - judged; re-raised by the engine if it was the last try
                error = exc
            finally:
                recorder.verifier = saved
        self.last_value = value if error is None else None
        return AttemptResult(value=value, error=error, run_id=str(run_id),
                             exit_status=type(error).__name__ if error is not None else "finished")

    def partial_value(self, result: AttemptResult) -> Any:
        """The thread's state when the graph keeps one (a checkpointer and a thread id), else ``None``."""
        if not self.threaded:
            return None
        try:
            return self.target.get_state(self.config).values
        except Exception:  # noqa: BLE001 - a state that cannot be read is no reason to fail the caller
            return None

    def _retry_inputs(self) -> Any:
        from langchain_core.messages import HumanMessage

        correction = HumanMessage(content=self.pending or "")
        self.pending = None
        if self.threaded:
            return {"messages": [correction]}
        base = _messages_of(self.last_value) or _messages_of(self.inputs)
        if base is None:  # a chain without messages: the correction goes in front of the original input
            return {"messages": [correction]} if self.inputs is None else self.inputs
        merged = dict(self.inputs) if isinstance(self.inputs, Mapping) else {}
        merged["messages"] = [*base, correction]
        return merged


def attempt_runner(target: Any, tracer: Tracer, **options: Any) -> LangChainAttempts:
    """What :func:`codetracer.auto_retry` builds for a runnable (options: ``config=``, ``handler=``)."""
    return LangChainAttempts(target, tracer, **options)


@hookimpl
def codetracer_reinject(run: Run, diagnosis: Diagnosis, handle: Any) -> bool | None:
    """Keep the correction; the next attempt adds it to the messages (or the thread) and invokes the graph."""
    if not isinstance(handle, LangChainAttempts):
        return None
    return handle.reinject(run, diagnosis)

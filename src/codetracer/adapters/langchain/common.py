"""What the two ways of tracing LangChain share: the callback handler (:mod:`codetracer.adapters.langchain.live`) and
the LangGraph graph path (:mod:`codetracer.adapters.langchain.graph`) both import it, and it imports neither.

The run's framework name and metadata, its task, the outcome of a run that returned, the claims that keep two
codetracer layers from recording one LangChain run twice, and :data:`GRAPH_RUN`, the context in which the graph path
records a run. Nothing here imports LangChain.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any
from uuid import UUID

from codetracer.adapters.langchain.turns import message_role_and_text
from codetracer.core import checks, endings
from codetracer.core.model import Outcome
from codetracer.core.tracer import Tracer

if TYPE_CHECKING:  # pragma: no cover
    from codetracer.core.events import Events

log = logging.getLogger("codetracer.langchain")

FRAMEWORK = "langchain"
FRAMEWORK_MODULES: tuple[str, ...] = ("langchain", "langchain_core", "langgraph", "langchain_openai")
"""Top-level packages whose runnables :func:`~codetracer.adapters.langchain.live.instrument` accepts (any
``Runnable`` works)."""

Verifier = Callable[[Any], Any]
"""``verify(outputs)`` of the outermost run -> ``True``/``False``/``"solved"``/``"failed"``/``None``, or a
``CompletedProcess`` / :class:`~codetracer.core.checks.Check` whose command and output are kept."""

_TASK_KEYS = ("input", "question", "query", "task", "prompt", "instruction")
_SCALARS = (str, int, float, bool)


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


GRAPH_RUN: ContextVar[Tracer | None] = ContextVar("codetracer_graph_run", default=None)
"""The tracer whose graph path (:mod:`codetracer.adapters.langchain.graph`) records the LangGraph run being computed
in this context. Set only while LangGraph computes a chunk of that run (its nodes, models and tools, in this thread,
in LangGraph's worker threads and tasks, which copy the context); the global handler of the same tracer stays out of
those LangChain runs, and a graph invoked inside them is seen through what its node writes."""


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


def _scalar_metadata(metadata: Mapping[str, Any] | None) -> dict[str, Any]:
    """The user's own run metadata (thread ids, tenants ...), without LangChain/LangGraph bookkeeping."""
    if not metadata:
        return {}
    return {
        key: value
        for key, value in metadata.items()
        if isinstance(value, _SCALARS) and not key.startswith(("langgraph_", "ls_", "checkpoint_", "lc_"))
    }


def error_text(error: BaseException) -> str:
    """An exception's message, or its repr when it has none. A cancellation says so: LangGraph cancels its tasks with
    a marker object (``task.cancel(sentinel)``) whose text would read ``<object object at 0x...>``."""
    if endings.ending_of(error) == endings.CANCELLED and not (error.args and isinstance(error.args[0], str)):
        return "cancelled"
    return str(error) or repr(error)


_CONTROL_FLOW = frozenset({"GraphBubbleUp"})


def is_control_flow(error: BaseException) -> bool:
    """LangGraph's control flow, raised through the callbacks and never an error: a ``Command(graph=PARENT)`` handing
    off to another agent (``ParentCommand``), an interrupt (``GraphInterrupt``, see :mod:`codetracer.core.endings`).
    Told by class name, so nothing here imports LangGraph."""
    return any(cls.__name__ in _CONTROL_FLOW for cls in type(error).__mro__)


def node_path(checkpoint_ns: Any) -> tuple[str | None, str | None]:
    """The graph node a LangChain run belongs to, from LangGraph's ``langgraph_checkpoint_ns`` metadata
    (``"researcher:<task id>|model:<task id>"``): its path of node names (``"researcher/model"``) and, for a node
    inside a subgraph, the outermost node (``"researcher"``: the subagent whose work it is)."""
    if not isinstance(checkpoint_ns, str) or not checkpoint_ns:
        return None, None
    names = [part.split(":", 1)[0] for part in checkpoint_ns.split("|")]
    return "/".join(names), names[0] if len(names) > 1 else None


class ThreadLinks:
    """The last run of each LangGraph thread (``thread_id``) a tracer recorded, by either path, and how it ended: a
    run resuming an interrupted thread names the run it resumes (``metadata["resumes"]``). Bounded: the oldest
    threads are forgotten first."""

    LIMIT = 4096

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.last: OrderedDict[str, tuple[str, str, str | None]] = OrderedDict()
        """thread_id -> (its last run, how that run ended, the task it had)."""

    def paused(self, thread_id: str | None) -> tuple[str, str | None] | None:
        """(run, task) an interrupted ``thread_id`` stopped in, when this tracer recorded it."""
        if thread_id is None:
            return None
        with self.lock:
            last = self.last.get(thread_id)
        return (last[0], last[2]) if last is not None and last[1] == endings.INTERRUPTED else None

    def ended(self, thread_id: str | None, run_id: str, ending: str, task: str | None = None) -> None:
        if thread_id is None:
            return
        with self.lock:
            self.last[thread_id] = (run_id, ending, task)
            self.last.move_to_end(thread_id)
            while len(self.last) > self.LIMIT:
                self.last.popitem(last=False)


_links_by_tracer: weakref.WeakKeyDictionary[Tracer, ThreadLinks] = weakref.WeakKeyDictionary()


def links_of(tracer: Tracer) -> ThreadLinks:
    """The thread links of ``tracer``'s runs, shared by the graph path and the callback handler."""
    with _claims_lock:
        links = _links_by_tracer.get(tracer)
        if links is None:
            links = _links_by_tracer[tracer] = ThreadLinks()
        return links


def thread_meta(links: ThreadLinks, thread_id: Any) -> tuple[dict[str, Any], str | None]:
    """``thread_id`` and, when the run resumes an interrupted run of the thread, ``resumes`` (that run's id); and
    the task of that run (a resumed run's input is a ``Command(resume=...)``, no task)."""
    if not isinstance(thread_id, str | int) or isinstance(thread_id, bool):
        return {}, None
    meta: dict[str, Any] = {"thread_id": str(thread_id)}
    paused = links.paused(str(thread_id))
    if paused is None:
        return meta, None
    meta["resumes"] = paused[0]
    return meta, paused[1]


def ending_outcome(ending: str | None, error: BaseException | None, outcome: str | bool | None,
                   verifier: Verifier | None, outputs: Any, events: Events | None = None,
                   run_id: str | None = None) -> tuple[str, str]:
    """(outcome, exit_status) of a run that ended ``ending`` (:mod:`codetracer.core.endings`; ``None``: it failed
    with ``error``). What the verifier said goes to ``events`` as the run's verification, when given."""
    if ending is None:
        return Outcome.FAILED.value, type(error).__name__
    if ending == endings.FINISHED:
        return decide_outcome(outcome, verifier, outputs, events, run_id), ending
    return Outcome.UNKNOWN.value, ending


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


def decide_outcome(outcome: str | bool | None, verifier: Verifier | None, outputs: Any,
                   events: Events | None = None, run_id: str | None = None) -> str:
    """The outcome of a run that returned ``outputs``: the verifier's verdict, else the fixed ``outcome``
    (:func:`codetracer.core.checks.decide`: a ``CompletedProcess`` or a check is sent to ``events`` as the run's
    verification; a verifier that raises is a verifier error and the outcome ``unknown``)."""
    return checks.decide(verifier, outputs, outcome, events, run_id)


def verify_option(public: str, verify: Any, verifier: Any, *, stacklevel: int = 2) -> Any:
    """The verifier given to ``public`` as ``verify=`` or the deprecated ``verifier=``
    (:func:`codetracer.core.checks.verify_keyword`); a shell command string becomes a
    :class:`~codetracer.core.checks.CommandCheck`."""
    verify = checks.verify_keyword(public, verify, verifier, stacklevel=stacklevel + 1)
    if isinstance(verify, str):
        verify = checks.CommandCheck(verify)
    return verify


def framework_run_id() -> UUID:
    """A run id for a LangChain run codetracer starts itself (the root of a traced graph run, a retry), drawn from
    the generator LangChain's callback manager would have used for that run had codetracer not named it
    (``uuid7`` in ``langchain_core.callbacks.manager``, else ``uuid.uuid4``), looked up when called.

    Passing ``run_id`` in the config keeps LangChain from drawing one: codetracer's draw replaces the framework's,
    one for one, so a program that patches that generator (a deterministic sequence in a snapshot test) sees the same
    ids traced and untraced, and a private id would have shifted them.
    """
    import uuid

    try:
        from langchain_core.callbacks import manager
    except ImportError:
        return uuid.uuid4()
    make = getattr(manager, "uuid7", None)
    return make() if callable(make) else uuid.uuid4()

"""The codetracer hook specifications: the contract between frameworks and the trace tree.

Every way a run reaches codetracer -- a live framework callback or a run artifact read from disk -- is turned by an
adapter into calls of the *trace-event* hooks below. The tree builder, the journal, exporters and any third-party
plugin implement them; none of them knows which framework produced the events.

Conventions shared by all trace-event hooks:

* ``run_id`` names the run the event belongs to. Events of different runs may interleave (threads, asyncio tasks):
  every event carries its run explicitly, never through ambient context.
* ``step_key`` is the adapter's own key for a step (a framework event id, a history index, ...). It only has to be
  unique within the run. The tree numbers steps 1, 2, 3 ... in the order their ``step_started`` arrived, which is the
  CodeTraceBench convention for step ids.
* ``call_id`` is the adapter's key for an LLM or tool call, unique within the run. Several tool calls started in the
  same step are *parallel* calls: siblings in the tree.
* ``timestamp`` is seconds since the epoch (float) or ``None`` when the source does not say.
* ``raw_ref`` points back at the source of the event (``"events/event-00003.json"``, ``"history[4]"``) so a person
  can find it in the artifact.

Trace-event hooks return nothing and must be cheap: they run on the observed agent's thread. The plugin manager
isolates them: an implementation that raises is logged once and skipped, never propagated to the agent.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:  # pragma: no cover - typing only
    from codetracer.core.model import Diagnosis, Run

PROJECT = "codetracer"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# --------------------------------------------------------------------------------------------------------------------
# Run lifecycle
# --------------------------------------------------------------------------------------------------------------------


@hookspec
def codetracer_run_started(
    run_id: str,
    framework: str,
    task: str | None,
    metadata: Mapping[str, Any],
    parent_run_id: str | None,
    timestamp: float | None,
) -> None:
    """A run begins: the first event of every run.

    :param framework: short name of the producing framework (``"openhands"``, ``"mini-swe-agent"``, ...).
    :param task: the task statement the agent was given, if known.
    :param metadata: free-form facts about the run (model name, instance id, source path ...); JSON-serialisable.
    :param parent_run_id: set when this run is a retry attempt of another run (reflective replay), so attempts
        hang under the original run.
    """


@hookspec
def codetracer_run_finished(
    run_id: str,
    outcome: str,
    exit_status: str | None,
    metadata: Mapping[str, Any],
    timestamp: float | None,
) -> None:
    """A run ends, normally or not: the last event of a run.

    :param outcome: ``"solved"``, ``"failed"`` or ``"unknown"`` as far as the source can tell.
    :param exit_status: the framework's own word for how it stopped (``"Submitted"``, ``"LimitsExceeded"``, ...).
    :param metadata: facts learnt only at the end (final patch, cost totals, verifier reward ...).

    Runs that never see this event (a killed process) are closed by the tracer at exit or on recovery from the
    journal, children first, and marked incomplete.
    """


@hookspec
def codetracer_stage_declared(
    run_id: str,
    kind: str,
    start_step: int,
    end_step: int,
    source: str,
) -> None:
    """The source itself says which steps form a stage (e.g. CodeTraceBench ``stage_ranges.json``).

    :param kind: a stage kind (see :class:`codetracer.core.model.StageKind`) or the source's own label.
    :param start_step: first step id of the stage (1-based, inclusive).
    :param end_step: last step id of the stage (inclusive).
    :param source: who drew the boundary (``"human"``, ``"artifact"``); automatic segmentation never overrides it.
    """


# --------------------------------------------------------------------------------------------------------------------
# Steps and calls
# --------------------------------------------------------------------------------------------------------------------


@hookspec
def codetracer_step_started(
    run_id: str,
    step_key: str,
    agent: str | None,
    thought: str | None,
    raw_ref: str | None,
    timestamp: float | None,
) -> None:
    """The agent begins one step of its loop (one model turn and the actions it triggers).

    :param agent: name of the acting agent in multi-agent runs (AG2/Who&When ``name``), else ``None``.
    :param thought: the model's reasoning text for the step, if the framework separates it from the action.
    """


@hookspec
def codetracer_step_finished(run_id: str, step_key: str, timestamp: float | None) -> None:
    """The step ends: all its calls have returned. Calls still open are closed with it."""


@hookspec
def codetracer_llm_call_started(
    run_id: str,
    step_key: str,
    call_id: str,
    model: str | None,
    input_messages: int | None,
    timestamp: float | None,
) -> None:
    """A model request leaves for the LLM.

    :param input_messages: how many messages the prompt holds (the prompt itself stays in the framework's logs).
    """


@hookspec
def codetracer_llm_call_finished(
    run_id: str,
    call_id: str,
    response: str | None,
    input_tokens: int | None,
    output_tokens: int | None,
    cost: float | None,
    timestamp: float | None,
) -> None:
    """The model answered (or failed: then ``response`` is ``None`` and an error event follows)."""


@hookspec
def codetracer_tool_call_started(
    run_id: str,
    step_key: str,
    call_id: str,
    tool: str,
    arguments: Mapping[str, Any],
    command: str | None,
    edits: Sequence[Mapping[str, Any]],
    raw_ref: str | None,
    timestamp: float | None,
) -> None:
    """The agent invokes a tool. Several calls started in one step are parallel siblings.

    :param tool: the tool's name (``"bash"``, ``"str_replace_editor"``, ``"execute_bash"`` ...).
    :param arguments: the call's arguments as the model gave them (JSON-serialisable).
    :param command: the shell command, when the tool runs one.
    :param edits: file edits the call makes, each ``{"path": ..., "diff": ..., "old": ..., "new": ...}`` (keys
        optional except ``path``).
    """


@hookspec
def codetracer_tool_call_finished(
    run_id: str,
    call_id: str,
    output: str | None,
    exit_code: int | None,
    is_error: bool,
    timestamp: float | None,
) -> None:
    """The tool returned. ``output`` is kept whole: huge outputs go to blob files, never cut at the end."""


@hookspec
def codetracer_call_ended(run_id: str, call_id: str, ending: str, timestamp: float | None) -> None:
    """A model or tool call ended without returning, and not by an error of its own.

    :param ending: ``"cancelled"`` (its run ended around it: a parallel sibling raised, the run was stopped or
        cancelled) or ``"interrupted"`` (the run paused there, e.g. LangGraph's ``interrupt()``; resuming runs it
        again). See :mod:`codetracer.core.endings`. The call stays incomplete and is no error of the agent.
    """


@hookspec
def codetracer_observation(
    run_id: str,
    step_key: str,
    text: str,
    exit_code: int | None,
    is_error: bool,
    raw_ref: str | None,
    timestamp: float | None,
) -> None:
    """The environment's answer to a step when it is not tied to one tool call (a terminal screen, a text-mode
    agent's command output)."""


@hookspec
def codetracer_message(
    run_id: str,
    step_key: str | None,
    role: str,
    content: str,
    name: str | None,
    raw_ref: str | None,
    timestamp: float | None,
) -> None:
    """A chat message that is part of the story (user instruction, agent reply, system notice).

    With ``step_key=None`` the message belongs to the run, not to a step (e.g. the initial task prompt).
    """


@hookspec
def codetracer_error(
    run_id: str,
    step_key: str | None,
    error: str,
    kind: str | None,
    timestamp: float | None,
) -> None:
    """Something went wrong: an exception in the agent, a format error of the model's output, a tool crash.

    :param kind: a short class (``"FormatError"``, ``"TimeoutError"``, the exception's type name ...).
    """


@hookspec
def codetracer_verification(
    run_id: str,
    verifier: str,
    passed: bool | None,
    command: str | None,
    exit_code: int | None,
    output: str | None,
    failed_tests: Sequence[str],
    passed_tests: Sequence[str],
    timestamp: float | None,
) -> None:
    """Something outside the agent judged the run: a test suite, a benchmark's verifier, a ``verify=`` callable.

    What decided the outcome is the strongest evidence of where the run went wrong (failing test names, tracebacks
    and file/line references point at the changes that broke them), so it becomes part of the tree
    (``Run.verification``, shown after the last step). Sent before ``run_finished``; a second call replaces the
    first.

    Offline extractors send what the artifacts say; live adapters send what the verifier codetracer ran said
    (mini's and LangChain's ``verify=``, SWE-agent's ``verify`` callback, ``auto_retry(verify=...)``, ``codetracer
    run --verify``), through :meth:`codetracer.core.checks.Check.emit`: its command, exit code and output when it
    gives them (a shell command, a returned ``CompletedProcess``), else the bare verdict.

    :param verifier: what judged, in words (``"SWE-bench report.json"``, ``"terminal-bench tests"``, ``"pytest -q"``,
        ``"verify=tests_pass"``).
    :param passed: the verdict; ``None`` when the verifier itself could not run -- a *verifier error*: the command
        was not found, its module is not installed, it timed out, the callable raised. Then ``output`` starts with
        ``"verifier error: <what broke>"`` and the run's outcome is the agent's own, never a failure the verifier
        did not establish.
    :param output: the verifier's own output (test log), whole; the tree keeps head and tail of a huge one.
    :param failed_tests: ids of the tests that failed, as the verifier names them.
    :param passed_tests: ids of the tests that passed (may be empty when only a count is known).
    """


@hookspec
def codetracer_record(run_id: str, mapper: str, payload: Any, timestamp: float | None) -> None:
    """A framework's own record (a chat message, a serialised event), to be turned into the events above later.

    The cheapest way for a live adapter to trace a callback: the agent's thread only journals ``payload`` and keeps
    it; the mapping onto trace events runs when the tree is needed (the run finished, someone looks at it, a crash
    is recovered), off the agent's thread, and is the same code the adapter's offline extractor runs on the
    framework's artifacts.

    Adapters call it through :meth:`~codetracer.core.events.Events.recorder`: while codetracer's run log is the only
    implementation, records skip the dispatch and go straight into the run's events and journal; once a plugin
    implements this hook, every record reaches it, including later records of runs already open.

    :param mapper: the registered name of a :class:`~codetracer.core.records.RecordMapper`
        (:func:`codetracer_register_mappers`; ``"package.module:Name"`` of one works too); one is made per run and
        mapper, fed the run's records in order, and closed before the run's ``run_finished`` applies. The name is
        journaled with every record, so it must outlive any move of the mapper's module.
    :param payload: JSON-like data, journaled as JSON (a serialised event may come as its JSON text, which the
        mapper parses); it must not change after the call.
    """


@hookspec
def codetracer_run_completed(run: Run) -> None:
    """A live run's tree is final: validated, segmented into stages, about to be stored.

    Fires once per finished run on the tracer's writer thread, never on the agent's, so exporters (OpenTelemetry,
    dashboards) may take their time here. Runs closed as incomplete at exit arrive here too (``run.complete`` is
    ``False``). Adapters never call this hook; the tracer does.
    """


# --------------------------------------------------------------------------------------------------------------------
# Failure handling
# --------------------------------------------------------------------------------------------------------------------


@hookspec(firstresult=True)
def codetracer_on_failure(run: Run, attempt: int) -> Diagnosis | None:
    """A run has failed (its outcome is ``"failed"``): return a diagnosis, or ``None`` to let another plugin try.

    The first non-``None`` result wins. ``attempt`` counts from 1 for the original run. Called by the tracer on its
    writer thread for every live run that finishes failed (``attempt=1``; the answer is stored with the run), by
    journal recovery for recovered failed runs, and by auto-retry for each failed attempt (then ``attempt`` is the
    attempt's number). codetracer's own plugin answers last (``trylast``) with the default localizer.
    """


@hookspec(firstresult=True)
def codetracer_reinject(run: Run, diagnosis: Diagnosis, handle: Any) -> bool | None:
    """Deliver ``diagnosis`` back to the still-running agent so it retries from the right place.

    :param handle: the framework object the adapter registered for the run (a conversation, an agent ...).
    :returns: ``True`` when the adapter delivered it; ``None`` when this plugin does not know the handle.
    """


# --------------------------------------------------------------------------------------------------------------------
# Registries
# --------------------------------------------------------------------------------------------------------------------


@hookspec
def codetracer_register_extractors(register: Callable[[Any], None]) -> None:
    """Call ``register(extractor)`` for each artifact extractor the plugin provides.

    An extractor has ``name``, ``detect(path) -> float`` (confidence 0..1 judged from the content) and
    ``extract(path, events)`` which replays the artifact as trace-event hook calls; see
    :class:`codetracer.core.extractor.Extractor`.
    """


@hookspec
def codetracer_register_localizers(register: Callable[[Any], None]) -> None:
    """Call ``register(localizer)`` for each failure localizer the plugin provides.

    A localizer has ``name`` and ``localize(run) -> Diagnosis``.
    """


@hookspec
def codetracer_register_mappers(register: Callable[[str, Any], None]) -> None:
    """Call ``register(name, mapper)`` for each record mapper the plugin provides (see :func:`codetracer_record`).

    ``name`` is what adapters pass as ``mapper`` and what journals keep, so it must stay the same for good;
    ``mapper`` is the :class:`~codetracer.core.records.RecordMapper` class or its ``"package.module:Name"``, imported
    only when a run's records are first mapped. A mapper known under an earlier name is registered under that name
    too, so the journals written then still recover.
    """

"""The steps of a live SWE-agent run, mapped from the hook calls off the agent's thread.

:class:`~codetracer.adapters.swe_agent.hook.SweAgentHook` does as little as it can on the agent's thread: a hook
call keeps the few fields it carries (references to SWE-agent's own strings, no copies) as one small item, and the
items of a hook call that closes or opens something go into the run's journal as one framework record
(``codetracer_record``, mapper ``"swe-agent"``): about three journal lines per step instead of six or seven events,
each with its own dispatch, journal line and the mapping logic around it. :class:`StepMapper` turns those items into
the step, LLM-call and tool-call events when the tree is built (at the run's end on the tracer's writer thread, in a
snapshot of an open run, in crash recovery), with exactly the logic the hook ran on the agent's thread before, so
the tree is the one it built then (and the ``.traj`` extractor's: the integration tests compare both).

A record is a list of items, each a list whose first element says which hook call it comes from:

* ``["init", base, model]``: the run's first record; ``base`` is how many trajectory entries the agent already held
  when the attempt began (an agent run again keeps its old ones), ``model`` the model's name;
* ``["s", ts, live_obs]``: ``on_step_start``;
* ``["q", ts, n_messages, first, entries, end, live_obs]``: ``on_model_query``; ``entries`` are the trajectory
  entries from index ``first`` the agent added since the last record that said so (answers rejected and re-queried
  without a hook call of their own), ``end`` the trajectory's length then;
* ``["a", ts, thought, output, action, tool_calls, n_query, live_obs]``: ``on_actions_generated``;
* ``["x", ts, observation]``: ``on_action_executed``;
* ``["d", ts, matched, step, first, entries, end]``: ``on_step_done``; ``matched`` says whether the step is the one
  ``on_actions_generated`` announced (then ``step`` is ``[observation, open_file]``), else ``step`` holds
  what the recorded substitute step needs (see :data:`STEP_FIELDS`);
* ``["e", ts, note, live_obs]``: the run ends (``note``: why it is incomplete, or ``None``).

``live_obs`` is the observation of the step ``on_actions_generated`` announced, read when the item was made (what
closes a step that never reached ``on_step_done``), ``None`` when no such step is open. Timestamps are the hook
calls' own.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codetracer.adapters.swe_agent.artifacts import _RunReader, _Source
from codetracer.adapters.swe_agent.fields import SWE_COMMANDS, _function_call, observation_failed

if TYPE_CHECKING:  # pragma: no cover
    from codetracer.core.events import Events

MAPPER = "swe-agent"
"""The registered name of :class:`StepMapper` (``codetracer.plugins.MAPPERS``), what the live hook journals."""

STEP_FIELDS = ("response", "output", "n_query", "thought", "action", "observation", "open_file", "tool_calls",
               "exit_status")
"""What a step recorded without the hook calls that announce one carries (a trajectory entry, or a substitute
``StepOutput`` the agent recorded after the announced step broke), in this order."""


SUBMISSION_MARKER = "<<SWE_AGENT_SUBMISSION>>"
"""What SWE-agent's ``submit`` tool prints around the patch; the agent replaces that output with the patch itself
(empty when the patch is) before the step is recorded, so a call showing it is finished from ``on_step_done``."""

_RETRY_TOKENS = ("###SWE-AGENT-RETRY-WITH-OUTPUT###", "###SWE-AGENT-RETRY-WITHOUT-OUTPUT###")
"""Control tokens SWE-agent strips from an observation before it records it."""


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


class StepMapper:
    """Turns one live SWE-agent run's hook-call items into its steps (a :class:`~codetracer.core.records.
    RecordMapper`)."""

    def __init__(self, events: Events, run_id: str) -> None:
        self.ev = events
        self.run_id = run_id
        self._model: str | None = None
        self._entries: dict[int, list[Any]] = {}
        self._n_steps = 0
        self._accounted = 0  # trajectory entries already turned into steps
        self._step_ts: float | None = None
        self._query_ts: float | None = None
        self._n_in: int | None = None
        self._live_key: str | None = None
        self._live_obs: str | None = None
        self._open_call: str | None = None
        self._held_output: str | None = None
        self._reader = _RunReader(_Source(Path(f"<live {run_id}>")), events, run_id, "")

    # -- RecordMapper -------------------------------------------------------------------------------------------------

    def feed(self, payload: Any, timestamp: float | None) -> None:
        for item in payload:
            getattr(self, "_on_" + item[0])(*item[1:])

    def close(self) -> None:
        """Nothing to close: a run that ends says so with an ``e`` item; one closed as incomplete (a killed process)
        keeps its step and call in flight open, as the builder shows them."""

    # -- items --------------------------------------------------------------------------------------------------------

    def _on_init(self, base: int, model: str | None) -> None:
        self._accounted, self._model = base, model

    def _on_s(self, ts: float, live_obs: str | None) -> None:
        self._refresh(live_obs)
        self._close_live_step(None, timestamp=ts)
        self._step_ts, self._query_ts = ts, None

    def _on_q(self, ts: float, n_in: int | None, first: int, entries: list[Any], end: int | None,
              live_obs: str | None) -> None:
        """A (re-)query. A re-query inside one step means the previous answer was rejected: it is a step of its own
        in the trajectory, closed here, and answers that never reached ``on_actions_generated`` are caught up."""
        self._keep(first, entries)
        self._refresh(live_obs)
        if self._live_key is not None:
            self._close_live_step(None, timestamp=ts)
            self._accounted += 1
        if end is not None:
            self._catch_up(end, ts)
        self._query_ts = ts
        self._n_in = n_in

    def _on_a(self, ts: float, thought: Any, output: Any, action: str, tool_calls: Any, n_query: int | None,
              live_obs: str | None) -> None:
        self._refresh(live_obs)
        if self._live_key is not None:  # two answers without a query between: close the first
            self._close_live_step(None, timestamp=ts)
            self._accounted += 1
        n_in = n_query if n_query else self._n_in
        started = self._step_ts or self._query_ts
        self._step_ts = None  # a re-queried answer starts its step at its own query
        key = self._start_step(thought, output if isinstance(output, str) else "", n_in, started, ts)
        self._live_key, self._live_obs = key, None
        self._open_call = self._start_action(key, action, tool_calls, ts)

    def _on_x(self, ts: float, observation: str) -> None:
        for token in _RETRY_TOKENS:
            observation = observation.replace(token, "")
        if SUBMISSION_MARKER in observation:
            self._held_output = observation  # the agent swaps in the patch before it records the step
            return
        self._finish_call(observation, timestamp=ts)

    def _on_d(self, ts: float, matched: bool, step: list[Any], first: int, entries: list[Any],
              end: int | None) -> None:
        self._keep(first, entries)
        if matched:
            observation, open_file = step
            self._note_state(open_file)
            self._close_live_step(observation, timestamp=ts)
            self._accounted += 1
            return
        fields = dict(zip(STEP_FIELDS, step, strict=True))
        if self._live_key is not None:  # its command broke the step; the agent recorded a substitute step
            self.ev.error(self.run_id, _text(fields["thought"]) or "the step failed", step_key=self._live_key,
                          kind=fields["exit_status"] or "StepError", timestamp=ts)
            self._close_live_step(None, is_error=True, timestamp=ts)
        if end is not None:
            self._catch_up(end - 1, ts)
        self._emit_recorded(fields, ts)

    def _on_e(self, ts: float, note: str | None, live_obs: str | None) -> None:
        self._refresh(live_obs)
        self._close_live_step(None, timestamp=ts)
        if note:
            self.ev.error(self.run_id, note, kind="Incomplete", timestamp=ts)

    # -- the steps ----------------------------------------------------------------------------------------------------

    def _refresh(self, live_obs: str | None) -> None:
        if self._live_key is not None and live_obs is not None:
            self._live_obs = live_obs

    def _keep(self, first: int, entries: list[Any]) -> None:
        for i, entry in enumerate(entries):
            self._entries[first + i] = entry

    def _start_step(self, thought: Any, output: Any, query_len: int | None, started: float | None,
                    now: float) -> str:
        """step_started plus the LLM call that produced the step's answer."""
        self._n_steps += 1
        key = str(self._n_steps)
        ref = f"trajectory[{self._accounted}]"
        self.ev.step_started(self.run_id, key, thought=_text(thought) or None, raw_ref=ref, timestamp=started or now)
        if isinstance(output, str):
            llm_id = f"{key}/llm"
            self.ev.llm_call_started(self.run_id, key, llm_id, model=self._model, input_messages=query_len,
                                     timestamp=self._query_ts or started)
            self.ev.llm_call_finished(self.run_id, llm_id, response=output, timestamp=now)
        return key

    def _start_action(self, key: str, action: str, tool_calls: Any, ts: float) -> str | None:
        """The tool call of a step, named and with edits as the extractor names them."""
        if not action.strip():
            return None
        fc_name, arguments, fc_id = _function_call(tool_calls)
        first = action.split(None, 1)[0]
        tool = fc_name or (first if first in SWE_COMMANDS else "bash")
        edits = self._reader._edits(tool, action, arguments)
        call_id = f"{key}/{fc_id or 'tool'}"
        self.ev.tool_call_started(
            self.run_id, key, call_id, tool, arguments=arguments, command=action, edits=edits,
            raw_ref=f"trajectory[{self._accounted}]", timestamp=ts,
        )
        return call_id

    def _finish_call(self, output: str | None, *, is_error: bool | None = None, timestamp: float | None) -> None:
        if self._open_call is None:
            return
        failed = observation_failed(output) if is_error is None else is_error
        self.ev.tool_call_finished(self.run_id, self._open_call, output=output, is_error=failed, timestamp=timestamp)
        self._open_call = None
        self._held_output = None
        self._reader.prev_observation = output

    def _close_live_step(self, observation: str | None, *, is_error: bool | None = None,
                         timestamp: float | None) -> None:
        """Close the step opened by an ``a`` item (its call with ``observation`` if still open)."""
        if self._live_key is None:
            return
        if self._open_call is not None:
            output = observation if observation is not None else self._held_output
            if output is None:
                output = _text(self._live_obs)
            self._finish_call(output, is_error=is_error, timestamp=timestamp)
        self.ev.step_finished(self.run_id, self._live_key, timestamp=timestamp)
        self._live_key = None
        self._live_obs = None

    def _emit_recorded(self, entry: Mapping[str, Any], ts: float) -> None:
        """A whole step at once, from a trajectory entry or a StepOutput no earlier hook call announced."""
        output = entry.get("response")
        if output is None:
            output = entry.get("output")
        key = self._start_step(entry.get("thought"), output, entry.get("n_query"), ts, ts)
        self._note_state(entry.get("open_file"))
        action = _text(entry.get("action"))
        observation = entry.get("observation")
        observation = observation if isinstance(observation, str) else None
        self._open_call = self._start_action(key, action, entry.get("tool_calls"), ts)
        if self._open_call is not None:
            self._finish_call(observation, timestamp=ts)
        elif observation:
            self.ev.observation(self.run_id, key, observation, raw_ref=f"trajectory[{self._accounted}]", timestamp=ts)
            self._reader.prev_observation = observation
        self.ev.step_finished(self.run_id, key, timestamp=ts)
        self._accounted += 1

    def _catch_up(self, end: int, ts: float) -> None:
        """Steps the agent recorded without any hook call for them (answers that failed to parse and were re-queried),
        from the trajectory entries the hook kept: what the ``.traj`` file will hold."""
        while self._accounted < end:
            entry = self._entries.pop(self._accounted, None)
            if entry is None:  # pragma: no cover - every entry that can be caught up is kept by the hook
                return
            self._emit_recorded(dict(zip(STEP_FIELDS, entry, strict=True)), ts)

    def _note_state(self, open_file: Any) -> None:
        if isinstance(open_file, str) and open_file:
            self._reader.last_open = open_file

"""Extractors for OpenHands run artifacts.

* **SDK conversations** (openhands-sdk): a folder with ``base_state.json`` and ``events/event-NNNNN-<id>.json``; each
  event has a ``kind``. ``ActionEvent``s sharing an ``llm_response_id`` came from one model response: they form one
  step whose tool calls are parallel siblings. Observations (``ObservationEvent``, ``UserRejectObservation``,
  ``AgentErrorEvent``) answer a call by ``tool_call_id`` / ``action_id``.
* **legacy v0 event streams**: ``sessions/<sid>/events/<N>.json`` (sorted by N), the exported ``trajectory.json``
  (a list of the same events) and SWE-bench style ``output.jsonl`` rows whose ``history`` holds them (newer rows) or
  ``[action, observation]`` pairs (older rows). Actions sharing ``tool_call_metadata.model_response.id`` form one
  step; observations answer an action through ``cause`` (the action's id) or the tool call id.

Outcome: ``solved``/``failed`` only from an evaluation verdict (``report``/``test_result``); otherwise the final
agent state decides between ``failed`` (error, stuck, rejected) and ``unknown`` (finished: the agent's own claim).
A conversation still marked running is left incomplete.

The readers live in :mod:`~codetracer.adapters.openhands.sdk` and :mod:`~codetracer.adapters.openhands.v0` (what
they share in :mod:`~codetracer.adapters.openhands.common`); this module lists them for the registry (``EXTRACTORS``)
and names what callers import from it.
"""

from __future__ import annotations

from codetracer.adapters.openhands.common import FRAMEWORK
from codetracer.adapters.openhands.sdk import MAPPED_KINDS, OpenHandsSdkExtractor, status_of_update
from codetracer.adapters.openhands.v0 import (
    OpenHandsOutputExtractor,
    OpenHandsTrajectoryExtractor,
    OpenHandsV0EventsExtractor,
)

__all__ = [
    "EXTRACTORS",
    "FRAMEWORK",
    "MAPPED_KINDS",
    "OpenHandsOutputExtractor",
    "OpenHandsSdkExtractor",
    "OpenHandsTrajectoryExtractor",
    "OpenHandsV0EventsExtractor",
    "status_of_update",
]

EXTRACTORS = [
    OpenHandsSdkExtractor(),
    OpenHandsV0EventsExtractor(),
    OpenHandsTrajectoryExtractor(),
    OpenHandsOutputExtractor(),
]

"""Zero-code tracing of agent command lines: ``codetracer run -- mini ...``, ``codetracer run -- sweagent run ...``,
``codetracer run -- python my_agent.py`` (an OpenHands SDK or LangChain/LangGraph program).

Like ``opentelemetry-instrument``, the command runs as a child process that is told to trace itself: the parent
(:mod:`codetracer.cli.run`) puts a private folder holding only ``sitecustomize.py`` (:mod:`._site`, copied there)
first on the child's ``PYTHONPATH``. Python imports that file at start-up in every interpreter it launches; it
restores the environment the command was given (so the agent's own shell commands and interpreters run exactly as
without codetracer), then hands over to :mod:`.child`, which watches imports and registers tracing, through the
frameworks' own one-line registrations, when an agent framework is imported: nothing of the agent's code changes.

What the parent and the child share is a session folder (``CODETRACER_AUTOTRACE``): the child appends the id of every
run it starts to ``runs.jsonl``, so the parent can print the runs and diagnose the failed ones once the command ends,
even when the child was killed (its runs are then recovered from the journal).

A codetracer that cannot be imported or set up in the child never stops the command: it runs untraced, and the first
process of the session that noticed says so, once, on stderr.
"""

from __future__ import annotations

SESSION_ENV = "CODETRACER_AUTOTRACE"
"""The session folder; its presence in a process's environment turns the bootstrap on."""

PYTHONPATH_ENV = "CODETRACER_AUTOTRACE_PYTHONPATH"
"""The ``PYTHONPATH`` the command was given (absent when it had none), put back by the bootstrap."""

VERIFY_ENV = "CODETRACER_AUTOTRACE_VERIFY"
"""An optional shell command that judges each run when the agent stops (exit code 0: solved)."""

RUNS_FILE = "runs.jsonl"
"""In the session folder: one ``{"run_id": ..., "pid": ...}`` line per run a child started."""

SAID_FILE = "said"
"""In the session folder: created by the first process that reported tracing off (the others stay silent)."""

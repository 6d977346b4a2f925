"""A pytest plugin that writes each test's outcome by node id to ``$CT_OUTCOMES`` (``-p record_outcomes``).

``test_mini_suite.py`` loads it into runs of mini-swe-agent's suite: node ids (not JUnit class names) are what a
later ``pytest NODEID`` can run again, which is how a difference between the traced and the untraced run is checked
for being reproducible before it counts.
"""

from __future__ import annotations

import json
import os

import pytest

_outcomes: dict[str, str] = {}


@pytest.hookimpl(trylast=True)
def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """A failure in any phase fails the test; a skip counts only when nothing failed."""
    previous = _outcomes.get(report.nodeid)
    if report.failed:
        _outcomes[report.nodeid] = "failed"
    elif report.skipped and previous != "failed":
        _outcomes[report.nodeid] = "skipped"
    elif report.when == "call" and previous is None:
        _outcomes[report.nodeid] = "passed"


def pytest_sessionfinish(session: pytest.Session) -> None:
    path = os.environ.get("CT_OUTCOMES")
    if path:
        with open(path, "w", encoding="utf-8") as out:
            json.dump(_outcomes, out, indent=0, sort_keys=True)

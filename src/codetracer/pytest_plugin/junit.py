"""The codetracer section in ``--junitxml`` output, as the test case's ``<system-out>``.

pytest's JUnit XML writes no custom report section: with its default ``junit_logging = no`` it writes no captured
output at all, and otherwise only the captured stdout/stderr/log. CI viewers (GitLab, Jenkins, GitHub test
reporters) show a failed test case's ``<system-out>``, so the section goes there: appended to the ``<system-out>``
pytest wrote for the test case, or as a new one. pytest has no public API for this; the test case element is
reached through ``_pytest.junitxml.xml_key`` (the ``LogXML`` plugin in the config's stash), and when that changes the
plugin logs once and the section is still in the terminal and in ``reports/`` (see docs/pytest-plugin.md).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest


def add_system_out(config: pytest.Config, report: pytest.TestReport, text: str) -> None:
    """Append ``text`` to the ``<system-out>`` of ``report``'s test case when ``--junitxml`` is on (else nothing)."""
    from _pytest.junitxml import bin_xml_escape, xml_key

    xml = config.stash.get(xml_key, None)
    if xml is None:
        return
    reporter = xml.node_reporter(report)
    for node in reporter.nodes:
        if node.tag == "system-out":
            node.text = (node.text or "") + "\n" + bin_xml_escape(text)
            return
    element = ET.Element("system-out")
    element.text = bin_xml_escape(text)
    reporter.nodes.append(element)

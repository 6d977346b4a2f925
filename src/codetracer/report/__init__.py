"""Self-contained HTML reports of a run: one file, no network, openable from a mail attachment or a CI artifact.

``write_report(run, path)`` is what ``codetracer report`` calls; :mod:`codetracer.report.html` holds the renderer.
"""

from __future__ import annotations

from codetracer.report.html import render_html, report_data, write_report

__all__ = ["render_html", "report_data", "write_report"]

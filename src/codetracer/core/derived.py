"""The parts of a tree computed from its events once they are all in: stages and edit provenance.

Live tracing and offline extraction both end here, so a run traced live and the same run read from its artifacts
get the same stages and the same blame of their final patch.
"""

from __future__ import annotations

from codetracer.core.model import Run
from codetracer.core.provenance import attach
from codetracer.core.stages import ensure_stages


def derive(run: Run) -> Run:
    """Give ``run`` its edit provenance and its stages (declared ones kept); returns ``run``. Provenance comes
    first: a step that ran a script which changed a file is patching, whatever its command looks like."""
    return ensure_stages(attach(run))

"""Where codetracer keeps its data, from the environment: ``CODETRACER_HOME`` and ``CODETRACER_PROJECT``."""

from __future__ import annotations

import os
from pathlib import Path

DB_NAME = "codetracer.db"


def home() -> Path:
    """The data folder: ``$CODETRACER_HOME``, else the user data dir (``~/.local/share/codetracer`` on Linux)."""
    configured = os.environ.get("CODETRACER_HOME")
    if configured:
        return Path(configured).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("codetracer", appauthor=False))


def project() -> str:
    """The project runs and failure memory belong to; memory never crosses projects unless asked."""
    return os.environ.get("CODETRACER_PROJECT") or "default"


def store_path(base: Path | None = None) -> Path:
    return (base or home()) / DB_NAME


def journal_dir(base: Path | None = None) -> Path:
    return (base or home()) / "journal"


def blob_dir(base: Path | None = None) -> Path:
    return (base or home()) / "blobs"

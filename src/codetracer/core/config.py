"""Where codetracer keeps its data, from the environment: ``CODETRACER_HOME``, ``CODETRACER_PROJECT`` and
``CODETRACER_STORE``."""

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


def store_setting() -> str | None:
    """``$CODETRACER_STORE``: a ``postgresql://`` URL or the path of a SQLite file (``None``: the file in the home;
    :func:`codetracer.core.store_open.store_location` reads it)."""
    return os.environ.get("CODETRACER_STORE") or None


def store_path(base: Path | None = None) -> Path:
    return (base or home()) / DB_NAME


def journal_dir(base: Path | None = None) -> Path:
    return (base or home()) / "journal"


def blob_dir(base: Path | None = None) -> Path:
    return (base or home()) / "blobs"

"""Install SWE-agent 1.1.0 into the running interpreter from the archive in ``../shared/vendor`` (it is not on PyPI).

``tox -e integration-sweagent`` runs this before the tests: ``python install_sweagent.py <folder>``. SWE-agent only
works installed editable from an unpacked copy (it finds ``config/``, ``tools/`` and ``trajectories/`` beside its
package), so the archive is unpacked into ``<folder>`` (the tox env's own directory: never into the repository) and
installed with ``pip install -e``. Both steps are skipped when already done, so a cached tox env starts at once.

Without ``../shared`` the script says so and installs nothing (the tests then skip), except under ``CI=true``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from pathlib import Path

ARCHIVE = "swe-agent-1.1.0-3ea751c0.tar.gz"
VERSION = "1.1.0"


def shared_dir() -> Path:
    here = Path(__file__).resolve().parents[2]
    return Path(os.environ.get("CODETRACER_SHARED", here.parent / "shared"))


def installed_from(source: Path) -> bool:
    """Whether ``sweagent`` is importable here, at this version, from ``source``."""
    probe = (
        "import sweagent, pathlib, sys; "
        f"ok = sweagent.__version__ == {VERSION!r} and "
        f"pathlib.Path(sweagent.__file__).resolve().is_relative_to(pathlib.Path({str(source)!r}).resolve()); "
        "sys.exit(0 if ok else 1)"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True,
                          env={**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"})
    return done.returncode == 0


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: install_sweagent.py FOLDER (where to unpack SWE-agent)", file=sys.stderr)
        return 2
    archive = shared_dir() / "vendor" / ARCHIVE
    if not archive.is_file():
        if os.environ.get("CI", "").lower() == "true":
            print(f"install_sweagent: {archive} is missing; CI must have ../shared", file=sys.stderr)
            return 1
        print(f"install_sweagent: {archive} is missing; SWE-agent is not installed and its tests will skip")
        return 0
    folder = Path(argv[1]).resolve() / "swe-agent-src"
    source = folder / "swe-agent"
    marker = folder / f".unpacked-{ARCHIVE}"
    if not marker.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        with tarfile.open(archive) as tar:
            tar.extractall(folder, filter="data")
        marker.write_text("")
    if installed_from(source):
        return 0
    print(f"install_sweagent: pip install -e {source}")
    return subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-e", str(source)]).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv))

"""Install mini-swe-agent from the vendored source for ``tox -e integration-miniswe-suite`` (its ``commands_pre``).

mini-swe-agent's test suite is not in its wheel, so the env runs the suite of the source archive in
``../shared/vendor`` (``CODETRACER_SHARED`` overrides the folder): unpacked once into the env's folder and installed
editable, so ``minisweagent`` and the ``tests/`` beside it are the same commit. Without the archive the env's tests
skip, except under ``CI=true``, where it is an error.

Usage: ``python install_mini.py ENV_DIR``
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from pathlib import Path

ARCHIVE = "mini-swe-agent-2.4.6-a83fcae8.tar.gz"
FOLDER = "mini-swe-agent-2.4.6"


def archive() -> Path:
    repo = Path(__file__).resolve().parents[2]
    shared = Path(os.environ.get("CODETRACER_SHARED", repo.parent / "shared"))
    return shared / "vendor" / ARCHIVE


def main(env_dir: Path) -> int:
    source = archive()
    if not source.is_file():
        if os.environ.get("CI", "").lower() == "true":
            print(f"install_mini: {source} is missing; CI must have ../shared/vendor", file=sys.stderr)
            return 1
        print(f"install_mini: {source} is missing; the mini-swe-agent suite tests will skip", file=sys.stderr)
        return 0
    target = env_dir / FOLDER
    checkout = target / "mini-swe-agent"
    if not (checkout / "pyproject.toml").is_file():
        target.mkdir(parents=True, exist_ok=True)
        with tarfile.open(source) as tar:
            tar.extractall(target, filter="data")
    try:
        import minisweagent

        if Path(minisweagent.__file__).resolve().is_relative_to(checkout.resolve()):
            return 0  # installed from this checkout already (a cached env)
    except ImportError:
        pass
    return subprocess.call([sys.executable, "-m", "pip", "install", "-q", "-e", str(checkout)])


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: install_mini.py ENV_DIR", file=sys.stderr)
        sys.exit(2)
    sys.exit(main(Path(sys.argv[1])))

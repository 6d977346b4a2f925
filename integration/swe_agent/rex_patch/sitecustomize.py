"""Loaded by every Python process the SWE-agent tests start (``conftest.py`` puts this folder on ``PYTHONPATH``):
gives the ``sweagent run`` subprocesses the same SWE-ReX waits as the test process (see ``swerex_waits``).

The patch is applied when ``swerex.runtime.local`` is first imported, not here: importing SWE-ReX takes more than a
second, and most processes these tests start (pytest in the agent's shell, git, the verify command) never need it."""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from types import ModuleType
from typing import Any

_TARGET = "swerex.runtime.local"


class _PatchAfterImport(importlib.abc.MetaPathFinder):
    """Finds ``swerex.runtime.local`` with the other finders and installs the waits once it has executed."""

    def find_spec(self, fullname: str, path: Any, target: ModuleType | None = None) -> Any:
        if fullname != _TARGET:
            return None
        sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return spec
        loader = spec.loader
        run_module = loader.exec_module

        def exec_module(module: ModuleType) -> None:
            run_module(module)
            import swerex_waits

            swerex_waits.install()

        loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


sys.meta_path.insert(0, _PatchAfterImport())

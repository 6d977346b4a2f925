"""codetracer's start-up hook for ``codetracer run``, copied as ``sitecustomize.py`` into a private folder that only
the command's environment puts on ``PYTHONPATH`` (see :mod:`codetracer.autotrace`).

It must never stop the program: it imports only the standard library itself, catches everything, and says at most
once per session that tracing is off. It also runs the ``sitecustomize`` it shadows, if the interpreter has one.
"""

from __future__ import annotations

import os
import sys


def _say_once(session: str, text: str) -> None:
    """Print ``text`` on stderr unless another process of this session already said tracing is off."""
    try:
        fd = os.open(os.path.join(session, "said"), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return
    except OSError:
        pass  # the session folder is gone or unwritable: say it anyway
    else:
        os.close(fd)
    try:
        sys.stderr.write(text + "\n")
        sys.stderr.flush()
    except Exception:  # noqa: BLE001 - no stderr: nothing to say it on
        pass


def _restore_environment(here: str, session: str | None) -> None:
    """Give the program, and every process it starts, the environment and ``sys.path`` it was launched with."""
    if session:
        original = os.environ.pop("CODETRACER_AUTOTRACE_PYTHONPATH", None)
        if original is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = original
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]


def _chain(here: str) -> None:
    """Run the ``sitecustomize`` this file shadows (a distribution's or a virtualenv's own), as Python would have."""
    try:
        import importlib.machinery
        import importlib.util

        spec = importlib.machinery.PathFinder.find_spec("sitecustomize", [p for p in sys.path if p])
        if spec is None or spec.loader is None or os.path.dirname(os.path.abspath(spec.origin or "")) == here:
            return
        module = importlib.util.module_from_spec(spec)
        sys.modules["sitecustomize"] = module
        spec.loader.exec_module(module)
    except Exception as exc:  # noqa: BLE001 - as Python reports a broken sitecustomize: one line, then go on
        sys.stderr.write(f"Error in sitecustomize; set PYTHONVERBOSE for traceback:\n{type(exc).__name__}: {exc}\n")


def _bootstrap() -> None:
    session = os.environ.pop("CODETRACER_AUTOTRACE", None)
    here = os.path.dirname(os.path.abspath(__file__))
    _restore_environment(here, session)
    verify = os.environ.pop("CODETRACER_AUTOTRACE_VERIFY", None)
    if session:
        try:
            from codetracer.autotrace.child import start

            start(session, verify=verify)
        except Exception as exc:  # noqa: BLE001 - a broken codetracer must never stop the program
            _say_once(session, f"codetracer: tracing is off, the command runs untraced ({type(exc).__name__}: {exc})")
    _chain(here)


_bootstrap()

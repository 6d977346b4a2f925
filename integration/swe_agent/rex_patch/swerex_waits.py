"""Longer SWE-ReX waits for the shell's reply after a command, for these tests on a loaded machine.

Why: SWE-ReX 1.4.0's ``BashSession`` (``swerex/runtime/local.py``, the shell of SWE-agent's ``local`` deployment)
waits fixed times that no config reaches: 1 s for the ``echo EXITCODESTART$?EXITCODEEND`` it sends after each
command, 0.1 s for the prompt after it, 1 s for the prompt after an interactive quit. On a loaded machine the shell
answers later; the command then comes back with ``exit_code=None`` (or a ``check="raise"`` set-up command aborts the
run) and the next command reads the late reply, so the session drifts. SWE-agent's settings (``startup_timeout``,
``post_startup_command_timeout``, a command's ``timeout``) cover only the command itself.

What: every wait of a session on a single string (the exit-code suffix, the prompt) shorter than
:data:`MIN_REPLY_WAIT` is lengthened to it. A healthy shell answers in milliseconds, so a run that is not late waits
no longer; the command's own wait (a list of strings, its own ``timeout``) and ``interrupt`` (lists, short waits
retried) are left as they are. Only the test processes load this (``conftest.py`` imports it, ``sitecustomize.py``
next to it loads it into the ``sweagent run`` subprocesses); codetracer's own code never patches SWE-ReX.
"""

from __future__ import annotations

from typing import Any

MIN_REPLY_WAIT = 60.0
"""Seconds a session waits at least for the shell's reply to the exit-code echo or for its prompt."""


class _PatientShell:
    """The session's ``pexpect.spawn`` with single-string waits of at least :data:`MIN_REPLY_WAIT`."""

    def __init__(self, shell: Any) -> None:
        self._shell = shell

    def expect(self, pattern: Any, timeout: float | None = -1, *args: Any, **kwargs: Any) -> Any:
        if isinstance(pattern, str) and timeout is not None and 0 <= timeout < MIN_REPLY_WAIT:
            timeout = MIN_REPLY_WAIT
        return self._shell.expect(pattern, timeout, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._shell, name)


def install() -> bool:
    """Wraps ``BashSession.shell`` once; False when SWE-ReX is not installed (the unit suite's env)."""
    try:
        from swerex.runtime import local
    except ImportError:
        return False
    session = local.BashSession
    if getattr(session, "_codetracer_patient", False):
        return True
    plain = session.shell

    def shell(self: Any) -> _PatientShell:
        return _PatientShell(plain.fget(self))

    session.shell = property(shell)  # type: ignore[method-assign,assignment]
    session._codetracer_patient = True  # type: ignore[attr-defined]
    return True

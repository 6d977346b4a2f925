"""A live verifier's run, kept: its verdict and the command, exit code and output behind it.

Why: what judged a run (a failing test id, a traceback through a changed file) is the strongest evidence of where it
went wrong, and a live verifier is run by codetracer itself (mini's and LangChain's ``verify=``, SWE-agent's verify
callback, ``auto_retry(verify=...)``, ``codetracer run --verify``). Throwing its output away and keeping only the
bool leaves the localizer to guess. So every live verifier goes through :func:`call` and its :class:`Check` is sent
with :meth:`Check.emit` (the ``codetracer_verification`` hook), which makes it the run's verification node after the
last step, stored and shown like the verdicts offline parsers read from ``report.json``.

And why a verifier error is its own answer: a verifier that cannot run (command not found, pytest not installed, a
callable that raises, a timeout) proves nothing about the agent. Its :class:`Check` has ``passed=None`` and
``error`` saying what broke, the run's outcome stays what the agent's own exit says, and the agent never sees the
exception.

What a ``verify`` callable may return: ``True``/``False``; ``None`` (no verdict); a :class:`Check`; or a
``subprocess.CompletedProcess`` (``subprocess.run(..., capture_output=True, text=True)``), whose command, exit code
and output are kept. A shell command string given as ``verify=`` becomes a :class:`CommandCheck`.
"""

from __future__ import annotations

import inspect
import logging
import re
import shlex
import subprocess
import time
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codetracer.core.errors import CodetracerError
from codetracer.core.model import Outcome
from codetracer.core.verifier import read_output

if TYPE_CHECKING:  # pragma: no cover
    from codetracer.core.events import Events

log = logging.getLogger("codetracer.checks")

_NOT_RUNNABLE = {126: "is not executable", 127: "was not found"}
"""Exit codes of a POSIX shell that mean the command itself never ran."""
_MISSING_MODULE = re.compile(r"No module named ['\"]?([\w.]+)")
_MODULE_FLAG = re.compile(r"(?:^|\s)-m\s+([\w.]+)")


@dataclass(frozen=True)
class Check:
    """What one verifier run said.

    :param verifier: what judged, in words (its command, or ``verify=<name>`` for a callable); empty when no
        verifier ran and only a verdict is passed along (then :meth:`emit` sends nothing).
    :param passed: the verdict; ``None`` when there is none (no answer, or the verifier itself broke).
    :param error: what broke when the verifier could not judge (``passed`` is then ``None``).
    """

    verifier: str
    passed: bool | None
    command: str | None = None
    exit_code: int | None = None
    output: str | None = None
    error: str | None = None

    @property
    def ran(self) -> bool:
        return bool(self.verifier)

    def classified(self) -> Check:
        """This check, a verifier error when its failure is the verifier's own (see :func:`_classify`)."""
        return _classify(self)

    def emit(self, events: Events, run_id: str, timestamp: float | None = None) -> None:
        """Send this check as the run's verification (before its ``run_finished``); a no-op when none ran."""
        if not self.ran:
            return
        output = self.output
        if self.error is not None:  # what broke comes first, so it is what `show` and the report lead with
            output = f"verifier error: {self.error}" + (f"\n{output}" if output else "")
        failed = read_output(self.output or "").failed_tests if self.passed is False else []
        events.verification(run_id, self.verifier, passed=self.passed, command=self.command,
                            exit_code=self.exit_code, output=output, failed_tests=failed, timestamp=timestamp)


def judged(check: Check | None) -> bool | None:
    """The verdict of a check, for callers that only want the bool."""
    return None if check is None else check.passed


def of_process(done: subprocess.CompletedProcess[Any], verifier: str | None = None) -> Check:
    """The check a finished process gives: exit code 0 passes; a command that never ran is a verifier error."""
    command = done.args if isinstance(done.args, str) else shlex.join(str(a) for a in done.args)
    output = "".join(_text(part) for part in (done.stdout, done.stderr) if part)
    code = done.returncode
    return Check(verifier or command, code == 0, command, code, output or None).classified()


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _classify(check: Check) -> Check:
    """A failing command whose failure is the verifier's own (not runnable, its module missing) is an error."""
    if check.passed is not False or check.exit_code is None:
        return check
    output = check.output or ""
    last = output.strip().splitlines()[-1] if output.strip() else ""
    if check.exit_code in _NOT_RUNNABLE:
        why = f"the command {_NOT_RUNNABLE[check.exit_code]} (exit {check.exit_code})"
        return replace(check, passed=None, error=f"{why}: {last}" if last else why)
    module = _MODULE_FLAG.search(check.command or "")
    missing = _MISSING_MODULE.search(output[-2000:])
    if module and missing and module.group(1).split(".")[0] == missing.group(1).split(".")[0]:
        return replace(check, passed=None, error=f"{module.group(1)} is not installed where the verifier runs: {last}")
    return check


@dataclass(frozen=True)
class CommandCheck:
    """A shell command run as the verifier, in ``cwd``: exit code 0 passes (e.g. ``"python -m pytest -q"``)."""

    command: str
    cwd: Path | None = None
    timeout: float = 600.0

    def __call__(self, result: Any = None) -> Check:
        try:
            done = subprocess.run(self.command, shell=True, cwd=self.cwd, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True, errors="replace", timeout=self.timeout,
                                  check=False)
        except subprocess.TimeoutExpired as exc:
            partial = _text(exc.output) if exc.output else None
            return Check(self.command, None, self.command, None, partial,
                         f"the command did not finish within {self.timeout:g} s")
        except OSError as exc:  # the working folder is gone, no shell: the verifier never ran
            return Check(self.command, None, self.command, None, None, f"the command could not start: {exc}")
        return of_process(done, self.command)


def describe(verify: Any) -> str:
    """The verifier in words: its command, or ``verify=<function name>``."""
    if isinstance(verify, str):
        return verify
    command = getattr(verify, "command", None)
    if isinstance(command, str):
        return command
    name = getattr(verify, "__qualname__", None) or getattr(verify, "__name__", None) or type(verify).__name__
    return f"verify={name}"


def interpret(answer: Any, verifier: str, *, truthy: bool = False) -> Check | None:
    """A ``verify`` callable's answer as a check; ``None`` for no verdict (``None``, or an answer of no known kind
    unless ``truthy`` says to judge it by its truth value, as ``auto_retry`` does)."""
    if isinstance(answer, Check):
        return answer
    if isinstance(answer, bool):
        return Check(verifier, answer)
    if isinstance(answer, subprocess.CompletedProcess):
        return of_process(answer)
    if truthy and answer is not None:
        return Check(verifier, bool(answer))
    return None


def call(verify: Callable[..., Any], *args: Any, name: str | None = None, truthy: bool = False) -> Check | None:
    """Run ``verify(*args)`` and keep what it said. Never raises: a verifier that raises is a verifier error.

    :param name: the verifier in words when ``verify`` wraps the user's one (default: :func:`describe`).
    """
    verifier = name or describe(verify)
    try:
        answer = verify(*args)
    except Exception as exc:  # noqa: BLE001 - a broken verifier is reported, never a crash of the observed agent
        log.warning("codetracer: the verifier %s raised %s: %s", verifier, type(exc).__name__, exc)
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__, limit=-3))
        return Check(verifier, None, output=text, error=f"the verifier raised {type(exc).__name__}: {exc}")
    return interpret(answer, verifier, truthy=truthy)


def of_result(verify: Callable[..., Any]) -> Callable[[Any], Any]:
    """``verify`` as a function of the run's result: every ``verify=`` may be ``verify(result)`` or ``verify()``, and
    one that needs no positional argument is called without it. The wrapper keeps the user's function's name, so the
    verification node names it (:func:`describe`)."""
    try:
        params = inspect.signature(verify).parameters.values()
    except (TypeError, ValueError):  # builtins without a signature: give them the result
        return verify
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    if any((p.kind in positional and p.default is inspect.Parameter.empty) or p.kind is inspect.Parameter.VAR_POSITIONAL
           for p in params):
        return verify

    def without_result(_result: Any) -> Any:
        return verify()

    without_result.__name__ = without_result.__qualname__ = describe(verify).removeprefix("verify=")
    return without_result


def decide(verify: Callable[..., Any] | None, outputs: Any, outcome: str | bool | None = None,
           events: Events | None = None, run_id: str | None = None) -> str:
    """The outcome of a run that returned ``outputs``: what ``verify(outputs)`` says, else the fixed ``outcome``,
    else ``unknown``. ``verify`` may answer ``True``/``False``, ``"solved"``/``"failed"``, ``None``, a
    ``CompletedProcess`` or a :class:`Check`; the check (its command, exit code and output) is sent to ``events`` as
    the run's verification. A verifier that raises is a verifier error, reported there: the outcome is then
    ``unknown``, never the agent's failure."""
    if verify is None:
        return (Outcome.UNKNOWN if outcome is None else Outcome.parse(outcome)).value
    answers: list[Any] = []

    def answer(out: Any) -> Any:
        answers.append(verify(out))
        return answers[-1]

    check = call(answer, outputs, name=describe(verify))
    if check is not None:
        if events is not None and run_id is not None:
            check.emit(events, run_id, time.time())
        return {True: Outcome.SOLVED, False: Outcome.FAILED, None: Outcome.UNKNOWN}[check.passed].value
    said = answers[0] if answers else None  # "solved" / "failed" / None
    return (Outcome.UNKNOWN if said is None else Outcome.parse(said)).value


def verify_keyword(public: str, verify: Any, verifier: Any, *, stacklevel: int = 2) -> Any:
    """The verifier given to ``public`` (a function in the words users call it): ``verify=``, the keyword of every
    framework, or the former ``verifier=`` with a :class:`DeprecationWarning` pointing at the caller (``stacklevel``
    frames above the function that called this one); both at once is an error naming ``public``."""
    if verifier is None:
        return verify
    if verify is not None:
        raise CodetracerError(f"{public} takes verify=, not both verify= and verifier=")
    warnings.warn(f"{public}: verifier= is deprecated; use verify=", DeprecationWarning, stacklevel=stacklevel + 1)
    return verifier

"""Reading a verifier's output: which tests failed, which files and lines the failures name, what was missing.

A verifier (pytest, Django's runner, a benchmark's test script, a SWE-bench report) says more than pass/fail: its
failing test ids name test files, its tracebacks name source files and lines, and its errors say when a file the
task asked for was never produced or a module was never installed. :func:`read_output` pulls those facts out of
plain text with patterns common to the usual runners; :func:`file_of_test` turns a test id into the file it lives in.
The localizer maps them onto the steps that changed (or failed to produce) those files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_FAILED_ID = re.compile(
    r"^(?:FAILED|ERROR)\s+(\S+::\S+)|^(?:FAIL|ERROR): (\w+) \(([\w.]+)\)|^--- FAIL: (\S+)|"
    r"^\s*(\S+\.\w+::\S+) (?:FAILED|ERROR)",
    re.M,
)
_FILE_LINE = re.compile(r"""(?:File "([^"]+)", line (\d+)|^([\w./-]+\.\w{1,5}):(\d+):)""", re.M)
_MISSING_FILE = re.compile(
    r"""(?:No such file or directory|FileNotFoundError|[Mm]issing (?:expected )?file|does not exist|not found)"""
    r"""[:\s]*['"]?((?:/|\./)[\w./-]+)|['"]?((?:/|\./)[\w./-]+)['"]?:? (?:No such file|does not exist|not found)"""
)
_MISSING_MODULE = re.compile(r"No module named ['\"]?([\w.]+)")
_ERROR_LINE = re.compile(r"^E\s+(\w+(?:Error|Exception)\b.*)$|^(\w+(?:Error|Exception)): (.+)$", re.M)


@dataclass
class Findings:
    """What a verifier's output says beyond pass/fail."""

    failed_tests: list[str] = field(default_factory=list)
    files: dict[str, list[int]] = field(default_factory=dict)
    """Files its tracebacks and error lines name, with the line numbers given."""
    missing_files: list[str] = field(default_factory=list)
    missing_modules: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    """The first error lines (``AssertionError: ...``), for the story."""


def read_output(text: str, *, limit: int = 200_000) -> Findings:
    """The facts in a verifier's output ``text`` (its last ``limit`` characters: summaries come at the end)."""
    found = Findings()
    if not text:
        return found
    text = text[-limit:]
    for m in _FAILED_ID.finditer(text):
        test = m.group(1) or m.group(5) or m.group(4) or (f"{m.group(3)}.{m.group(2)}" if m.group(2) else None)
        if test and test not in found.failed_tests:
            found.failed_tests.append(test)
    for m in _FILE_LINE.finditer(text):
        where = m.group(1) or m.group(3)
        number = int(m.group(2) or m.group(4))
        if "site-packages" in where or where.startswith("<") or "/lib/python" in where:
            continue
        lines = found.files.setdefault(where, [])
        if number not in lines:
            lines.append(number)
    for m in _MISSING_FILE.finditer(text):
        missing = (m.group(1) or m.group(2) or "").rstrip(".,:;'\"")
        if missing and missing not in found.missing_files and "site-packages" not in missing:
            found.missing_files.append(missing)
    for m in _MISSING_MODULE.finditer(text):
        if m.group(1) not in found.missing_modules:
            found.missing_modules.append(m.group(1))
    for m in _ERROR_LINE.finditer(text):
        line = (m.group(1) or f"{m.group(2)}: {m.group(3)}").strip()
        if line not in found.errors:
            found.errors.append(line[:200])
        if len(found.errors) >= 5:
            break
    return found


def file_of_test(test_id: str) -> str | None:
    """The file a test id lives in: ``tests/a/test_b.py::C::d`` -> ``tests/a/test_b.py``; Django's
    ``test_x (app.tests.Class)`` or ``app.tests.Class.test_x`` -> ``app/tests.py``-like module paths."""
    if "::" in test_id:
        return test_id.split("::", 1)[0].removeprefix("../")
    m = re.match(r"\w+ \(([\w.]+)\)", test_id)
    dotted = m.group(1) if m else test_id
    parts = [p for p in dotted.split(".") if p]
    while parts and (parts[-1][:1].isupper() or parts[-1].startswith("test_")):
        parts.pop()
    if len(parts) >= 2:
        return "/".join(parts) + ".py"
    return None

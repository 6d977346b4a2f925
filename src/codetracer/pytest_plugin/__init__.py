"""pytest plugin: a failing agent test shows *where the agent went wrong*.

Registered through the ``pytest11`` entry point, so installing codetracer is the whole setup; it is **off** unless
``--codetracer`` is given (or ``codetracer = true`` in the ini file). Off, it adds its options and the ``codetracer``
fixture and nothing else: this package imports only pytest and the standard library, no hook of it runs per test,
and no agent framework is imported. pytest loads it in every session of every project where codetracer is installed, so
anything heavier is imported inside functions.

On, every agent run inside a test is traced through codetracer's live adapters, installed automatically for each
framework the tests import (a reversible class-level patch, applied when the framework module is imported and undone
at session end):

* mini-swe-agent: ``DefaultAgent.run`` traces each agent (and subclass) the first time it runs;
* LangChain / LangGraph: the process-wide registration (``register_global``; LangGraph graphs through their own
  ``updates`` stream, everything else through callbacks);
* OpenHands: each ``LocalConversation`` / ``RemoteConversation`` gets a codetracer callback at construction, and a
  local conversation's run ends when ``run()`` returns;
* SWE-agent: each ``DefaultAgent`` gets the codetracer hook at construction.

The patches are in :mod:`codetracer.pytest_plugin.frameworks`; this module holds the options, the fixture and the
per-test session. When a test fails, its report gets a section with each run's tree (stages not holding the onset
folded), the localized onset and chain (default localizer), and where the full trace is (a JSON file and the store
under ``--codetracer-dir``). Tracing never changes a test's outcome: every hook body here is guarded, and the
adapters never let an exception reach the agent.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from codetracer.pytest_plugin import frameworks, junit
from codetracer.pytest_plugin.frameworks import FrameworkPatches

if TYPE_CHECKING:  # pragma: no cover
    from codetracer.core.model import Run
    from codetracer.core.tracer import Tracer

log = logging.getLogger("codetracer.pytest")

SECTION = "codetracer: where the agent went wrong"
"""Title of the report section a failing test gets (pytest prints it under the failure)."""

RUNS_PROPERTY = "codetracer_runs"
"""``user_properties`` key listing the ids of a test's runs (travels through xdist and into JUnit XML)."""

DEFAULT_DIR = "codetracer"
"""The folder inside pytest's temporary folder of the session (its basetemp) where traces and reports go when no
``--codetracer-dir`` is given: out of the tested project's checkout, kept as pytest keeps its last basetemps."""

_SESSION = "codetracer-session"


# ----------------------------------------------------------------------------------------------------------------------
# options
# ----------------------------------------------------------------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("codetracer", "codetracer: trace agent runs and localize failures")
    group.addoption(
        "--codetracer",
        action="store_true",
        dest="codetracer",
        default=None,
        help="trace every agent run inside a test (mini-swe-agent, LangChain/LangGraph, OpenHands, SWE-agent); a "
        "failing test's report shows the run's tree, the localized onset and chain, and the full trace's path",
    )
    group.addoption(
        "--no-codetracer", action="store_false", dest="codetracer", help="turn codetracer off (overrides the ini)"
    )
    group.addoption(
        "--codetracer-dir",
        dest="codetracer_dir",
        default=None,
        metavar="DIR",
        help=f"where traces (SQLite store, JSON trees) and failure reports go (default: {DEFAULT_DIR}/ in pytest's "
        "temporary folder of the session, out of the project's checkout); several xdist workers share it",
    )
    group.addoption(
        "--codetracer-keep",
        dest="codetracer_keep",
        choices=("all", "failed"),
        default=None,
        help="keep the runs of every test (all, the default) or only of failing tests (failed)",
    )
    parser.addini("codetracer", type="bool", default=False, help="turn codetracer on, like --codetracer")
    parser.addini("codetracer_dir", default="", help="like --codetracer-dir (relative to the rootdir)")
    parser.addini("codetracer_keep", default="all", help="like --codetracer-keep: all or failed")


def _default_folder(config: pytest.Config) -> Path:
    """``<basetemp>/codetracer``; an xdist worker's basetemp is a folder of its controller's, so workers share one.
    Without pytest's tmpdir plugin (``-p no:tmpdir``): ``<rootdir>/.codetracer``."""
    factory = getattr(config, "_tmp_path_factory", None)
    if factory is None:
        return config.rootpath / f".{DEFAULT_DIR}"
    base = Path(factory.getbasetemp())
    if hasattr(config, "workerinput"):  # pytest-xdist worker: basetemp is <controller's basetemp>/<worker id>
        base = base.parent
    return base / DEFAULT_DIR


def _enabled(config: pytest.Config) -> bool:
    flag = config.getoption("codetracer", None)
    return bool(config.getini("codetracer")) if flag is None else bool(flag)


@pytest.hookimpl(trylast=True)  # after pytest's tmpdir plugin made the session's temporary folder
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "codetracer_off: do not trace the agent runs of this test (--codetracer)")
    if not _enabled(config):
        return
    folder = config.getoption("codetracer_dir") or config.getini("codetracer_dir")
    if folder:
        path = Path(os.path.expandvars(str(folder))).expanduser()
        if not path.is_absolute():
            path = (config.rootpath / path) if not config.getoption("codetracer_dir") else Path.cwd() / path
    else:
        path = _default_folder(config)
    keep = config.getoption("codetracer_keep") or config.getini("codetracer_keep") or "all"
    if keep not in ("all", "failed"):
        raise pytest.UsageError(f"codetracer_keep must be 'all' or 'failed', not {keep!r}")
    session = CodetracerSession(config, path.resolve(), keep)
    config.pluginmanager.register(session, _SESSION)
    session.install()


# ----------------------------------------------------------------------------------------------------------------------
# the fixture
# ----------------------------------------------------------------------------------------------------------------------


class TestTrace:
    """What the ``codetracer`` fixture gives a test: a tracer bound to the test and the runs it finished.

    With ``--codetracer`` the tracer is the session's (agents are traced automatically, runs are stored under
    ``--codetracer-dir``); without it, a tracer of this test alone that keeps trees in memory (trace agents yourself
    with :meth:`trace`).
    """

    __test__ = False  # not a test class, whatever its name

    def __init__(self, tracer: Tracer, *, start: int, owned: bool) -> None:
        self.tracer = tracer
        self._start = start
        self._owned = owned

    @property
    def events(self) -> Any:
        """The tracer's :class:`~codetracer.core.events.Events` (emit trace events by hand)."""
        return self.tracer.events

    def trace(self, target: Any, **options: Any) -> Any:
        """``codetracer.trace(target)`` into this test's tracer; returns what the adapter returns."""
        from codetracer.live import trace

        return trace(target, tracer=self.tracer, **options)

    @property
    def runs(self) -> list[Run]:
        """The runs finished since the test started (waits for the tracer's writer first)."""
        self.tracer.flush(timeout=10)
        return list(self.tracer.runs[self._start :])

    @property
    def run(self) -> Run:
        """The last run finished in this test; an ``AssertionError`` when there is none."""
        __tracebackhide__ = True
        runs = self.runs
        if not runs:
            open_ids = self.tracer.builder.open_run_ids()
            raise AssertionError(
                "no agent run finished in this test"
                + (f" ({len(open_ids)} still open: {', '.join(open_ids[:3])})" if open_ids else "")
            )
        return runs[-1]

    def diagnose(self, run: Run | None = None) -> Any:
        """Localize ``run`` (default: :attr:`run`) with the default localizer; sets and returns its diagnosis."""
        target = run if run is not None else self.run
        target.diagnosis = _localize(target)
        return target.diagnosis

    def render(self, run: Run | None = None) -> str:
        """The text tree of ``run`` (default: :attr:`run`), as ``codetracer show`` prints it."""
        from codetracer.core.render import render_text

        return render_text(run if run is not None else self.run)

    def _close(self) -> None:
        if self._owned:
            self.tracer.close()


@pytest.fixture
def codetracer(request: pytest.FixtureRequest) -> Iterator[TestTrace]:
    """A tracer bound to this test, with the runs it finished (``codetracer.runs``, ``codetracer.run``)."""
    session: CodetracerSession | None = request.config.pluginmanager.get_plugin(_SESSION)
    if session is not None:
        item_trace = request.node.stash.get(_ITEM, None)
        start = item_trace.start if item_trace is not None else len(session.tracer.runs)
        fixture = TestTrace(session.tracer, start=start, owned=False)
    else:
        from codetracer.core.tracer import Tracer

        fixture = TestTrace(Tracer(persist=False, load_plugins=False), start=0, owned=True)
    yield fixture
    fixture._close()


# ----------------------------------------------------------------------------------------------------------------------
# the session (only when --codetracer is on)
# ----------------------------------------------------------------------------------------------------------------------


@dataclass
class _ItemTrace:
    """The runs of one test: those finished after ``start`` in the tracer's list, and the open ones it began."""

    start: int
    open_before: set[str]
    runs: list[Run] = field(default_factory=list)
    open_runs: list[Run] = field(default_factory=list)
    failed: bool = False
    reported: bool = False


_ITEM = pytest.StashKey[_ItemTrace]()


class CodetracerSession:
    """The ``--codetracer`` machinery of one pytest process (a plugin object; xdist workers each have one)."""

    def __init__(self, config: pytest.Config, folder: Path, keep: str) -> None:
        self.config = config
        self.folder = folder
        self.keep = keep
        self._tracer: Tracer | None = None
        self._lock = threading.Lock()
        self.patches = FrameworkPatches(self)
        self._warned: set[str] = set()
        self.traced_tests = 0
        self.off = False
        """True while a ``codetracer_off`` test runs: the patches leave its agents alone."""
        self.runs_seen: list[tuple[str, str]] = []  # (nodeid, run id), from reports: works on the xdist controller too
        self.failed_runs: list[tuple[str, str]] = []

    # -- the tracer ---------------------------------------------------------------------------------------------------

    @property
    def tracer(self) -> Tracer:
        """The session's tracer, made on first use (an xdist controller, which runs no test, never makes one)."""
        if self._tracer is None:
            with self._lock:
                if self._tracer is None:
                    from codetracer.core import config as ct_config
                    from codetracer.core.tracer import Tracer

                    self.folder.mkdir(parents=True, exist_ok=True)
                    ignore = self.folder / ".gitignore"
                    if not ignore.exists():
                        ignore.write_text("# written by codetracer's pytest plugin\n*\n")
                    tracer = Tracer(home=self.folder, project=ct_config.project())
                    tracer.builder.run_context = frameworks.current_test_metadata  # every framework's runs
                    self._tracer = tracer
        return self._tracer

    def _guard(self, where: str, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn``; a failure is logged once per place and never reaches the test or the agent."""
        try:
            return fn(*args)
        except Exception:  # tracing must never change a test's outcome
            if where not in self._warned:
                self._warned.add(where)
                log.warning("codetracer's pytest plugin failed in %s; tests go on untraced there", where,
                            exc_info=True)
            return None

    # -- auto-instrumentation -----------------------------------------------------------------------------------------

    def install(self) -> None:
        """Patch the frameworks already imported; the others when (if ever) they are imported."""
        self.patches.install()

    def uninstall(self) -> None:
        """Undo every patch, newest first, and stop watching imports."""
        self.patches.uninstall()

    @property
    def instrumented(self) -> list[str]:
        """Modules patched so far (for tests and the summary)."""
        return self.patches.instrumented

    # -- per test -----------------------------------------------------------------------------------------------------

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
        self.off = item.get_closest_marker("codetracer_off") is not None
        if self.off:
            self._guard("pausing LangChain tracing", self.patches.pause_langchain, True)
        else:
            self._guard("starting a test", self._begin, item)
        try:
            return (yield)
        finally:
            if self.off:
                self.off = False
                self._guard("resuming LangChain tracing", self.patches.pause_langchain, False)
            item_trace = item.stash.get(_ITEM, None)
            if item_trace is not None:
                self._guard("ending a test", self._end, item, item_trace)

    def _begin(self, item: pytest.Item) -> None:
        tracer = self.tracer
        tracer.settle(timeout=10)  # the earlier tests' runs are in tracer.runs: this test's start after them
        item.stash[_ITEM] = _ItemTrace(start=len(tracer.runs), open_before=set(tracer.builder.open_run_ids()))
        frameworks.CURRENT.nodeid = item.nodeid

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[Any]:
        report = yield
        item_trace = item.stash.get(_ITEM, None)
        if item_trace is not None:
            self._guard("reporting a test", self._report, item, item_trace, report)
        return report

    def _collect(self, item_trace: _ItemTrace) -> None:
        """The test's runs so far: finished ones from the tracer's list, open ones it started as snapshots.

        For a passing test it waits only for the runs' trees, not for the store: the writer then stores the runs of
        many tests in one transaction (waiting for each test's own made the plugin cost about 3x more per test,
        ``benchmarks/pytest_plugin_cost.py``). A failing test's runs are stored first: their diagnosis is saved
        onto them, as ``--codetracer-keep=failed`` deletes the others."""
        tracer = self.tracer
        if item_trace.failed or self.keep == "failed":
            tracer.flush(timeout=10)
        else:
            tracer.settle(timeout=10)
        item_trace.runs = list(tracer.runs[item_trace.start :])
        new_open = [rid for rid in tracer.builder.open_run_ids() if rid not in item_trace.open_before]
        item_trace.open_runs = [run for rid in new_open
                                if (run := tracer.builder.snapshot(rid)) is not None and not run.holds_nothing()]

    def _report(self, item: pytest.Item, item_trace: _ItemTrace, report: pytest.TestReport) -> None:
        if report.failed:
            item_trace.failed = True
        if report.when == "teardown" or (report.failed and not item_trace.reported):
            self._collect(item_trace)
        if report.failed and not item_trace.reported and (item_trace.runs or item_trace.open_runs):
            item_trace.reported = True
            report.sections.append((SECTION, self._section(item, item_trace)))
        if report.when == "teardown":
            ids = [run.id for run in item_trace.runs + item_trace.open_runs]
            if ids:  # one string (JUnit XML writes a property's str()), ids separated by spaces
                report.user_properties.append((RUNS_PROPERTY, " ".join(ids)))

    def _section(self, item: pytest.Item, item_trace: _ItemTrace) -> str:
        """The report section: per run, the folded tree with the onset and chain, and where the whole trace is."""
        from codetracer.core.render import render_text

        store = self.tracer.store()
        parts: list[str] = []
        runs = item_trace.runs + item_trace.open_runs
        for n, run in enumerate(runs, 1):
            try:
                run.diagnosis = _localize(run)
            except Exception as exc:  # noqa: BLE001 - a localizer bug must not hide the tree
                parts.append(f"(localization failed: {type(exc).__name__}: {exc})")
            finished = any(run is r for r in item_trace.runs)
            title = f"agent run {n} of {len(runs)}" + ("" if finished else " (still open)")
            lines = [f"{title}: {run.id}"]
            lines += _headline(run)
            lines.append("")
            lines.append(render_text(run, stages_folded=True))
            # the test's failure is evidence about the run, kept beside it; not its outcome, since the test's own
            # expectation may be what was wrong
            run.metadata["pytest_result"] = "failed"
            if finished:  # the store holds finished runs; keep the diagnosis and the test's result with it
                self._guard("storing a diagnosis", store.save_run, run)
            trace_path = self._guard("writing a trace", self._write_trace, run)
            lines.append("")
            if trace_path is not None:
                lines.append(f"full trace: {trace_path}")
            lines.append(f"in the store: CODETRACER_HOME={self.folder} codetracer show {run.id}")
            parts.append("\n".join(lines))
        text = "\n\n".join(parts)
        report_path = self._guard("writing a report", self._write_report, item.nodeid, text)
        if report_path is not None:
            text += f"\n\nthis report: {report_path}"
        return text

    def _write_trace(self, run: Run) -> Path:
        folder = self.folder / "traces"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{_safe_name(run.id)}.json"
        path.write_text(run.to_json(indent=1), encoding="utf-8")
        return path

    def _write_report(self, nodeid: str, text: str) -> Path:
        folder = self.folder / "reports"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{_safe_name(nodeid)}.txt"
        path.write_text(f"{nodeid}\n\n{text}\n", encoding="utf-8")
        return path

    def _end(self, item: pytest.Item, item_trace: _ItemTrace) -> None:
        """After teardown: keep (in the store) or drop (``--codetracer-keep=failed``) the test's finished runs.

        Only failing tests get a JSON trace file: one file per passing run cost more than the rest of the plugin's
        per-test work (``codetracer show --full RUN`` writes the same JSON from the store)."""
        frameworks.CURRENT.nodeid = None
        self.traced_tests += 1
        if item_trace.failed:
            return
        if self.keep == "failed":
            store = self.tracer.store()
            for run in item_trace.runs:
                self._guard("dropping a run", store.delete_run, run.id)
        # the runs are stored; forget them here so a long session does not hold every tree in memory
        tracer = self.tracer
        end = item_trace.start + len(item_trace.runs)
        current = tracer.runs[item_trace.start : end]
        if len(current) == len(item_trace.runs) and all(a is b for a, b in zip(current, item_trace.runs, strict=True)):
            del tracer.runs[item_trace.start : end]

    # -- session summary (also on the xdist controller, from the workers' reports) -------------------------------------

    @pytest.hookimpl(trylast=True)  # after pytest's junitxml has opened the test's testcase element
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        for key, value in report.user_properties:
            if key == RUNS_PROPERTY and isinstance(value, str):
                self.runs_seen.extend((report.nodeid, v) for v in value.split())
        sections = [text for title, text in report.sections if title == SECTION]
        if report.failed and sections:
            self.failed_runs.append((report.nodeid, ""))
            self._guard("writing the section into JUnit XML", junit.add_system_out, self.config, report,
                        f"{SECTION}\n{sections[0]}")

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        failed_tests = sorted({nodeid for nodeid, _ in self.failed_runs})
        terminalreporter.write_sep("-", "codetracer")
        terminalreporter.write_line(
            f"{len(self.runs_seen)} agent run(s) traced; {len(failed_tests)} failing test(s) with a diagnosis; "
            f"traces and reports in {self.folder}"
        )
        for nodeid in failed_tests:
            terminalreporter.write_line(f"  report: {self.folder / 'reports' / (_safe_name(nodeid) + '.txt')}")

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        self.uninstall()
        if self._tracer is not None:
            self._guard("closing the tracer", self._tracer.close)


# ----------------------------------------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------------------------------------


def _headline(run: Run) -> list[str]:
    """The lines above the tree: the onset and chain when the diagnosis is confident (``CONFIDENT``), else that no
    confident onset was found, with the weak suspect and its confidence (a test may fail on a wrong expectation
    while its agent did nothing wrong)."""
    from codetracer.core.render import action_summary
    from codetracer.localize.signal_localizer import CONFIDENT

    d = run.diagnosis
    if d is None:
        return []
    if d.onset_step is None or not 1 <= d.onset_step <= len(run.steps):
        return ["no onset localized: " + _one_line(d.reasoning, 200)]
    step = run.step(d.onset_step)
    did = "; ".join(action_summary(a) for a in step.actions) or (step.thought.text if step.thought else "")
    where = f"step {d.onset_step} of {len(run.steps)}: {_one_line(did, 160)}"
    if d.confidence < CONFIDENT:
        return [f"no confident onset found (confidence {d.confidence:.2f} < {CONFIDENT}): the agent may have done "
                f"nothing wrong; weakest suspect: {where}"]
    return [f"went wrong at {where}", f"chain: {', '.join(map(str, d.chain)) or '-'}"]


def _localize(run: Run) -> Any:
    from codetracer.localize.registry import LocalizerRegistry

    localizer = LocalizerRegistry.from_plugins().get()
    return None if localizer is None else localizer.localize(run)


def _one_line(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def _safe_name(text: str) -> str:
    """A file name for a node id or run id (no separators; long ones keep both ends)."""
    name = re.sub(r"[^A-Za-z0-9._=-]+", "_", text).strip("_") or "run"
    return name if len(name) <= 150 else name[:100] + "_" + name[-49:]



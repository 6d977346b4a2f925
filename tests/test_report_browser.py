"""The HTML report in a real headless Chromium: loads clean, marks the onset, searches, navigates by keyboard, and
never runs the script a trajectory carries.

Needs Debian's ``chromium`` (``apt-get install -y chromium``) and the ``playwright`` package, which drives it through
the driver its wheel ships (``playwright install`` is never needed: we pass ``executable_path``). Without them the
tests skip, except under ``CI=true`` where a missing browser is a failure: CI must test the page for real.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from codetracer.core.extract import extract_all
from codetracer.core.model import Run
from codetracer.localize.registry import LocalizerRegistry
from codetracer.report import write_report
from report_runs import NEEDLE, PWNED, hostile_run, long_run

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("CODETRACER_CHROMIUM", "/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DOCS_SHOT = REPO / "docs" / "img" / "report.png"


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason}; CI must run the browser tests (apt-get install -y chromium; pip install playwright)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).is_file():
        _unavailable(f"no Chromium at {CHROMIUM}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed")
    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        try:
            yield instance
        finally:
            instance.close()


class Page:
    """A page plus everything it reported: console messages, uncaught errors and every request it made."""

    def __init__(self, browser: Any, path: Path) -> None:
        self.page = browser.new_page(viewport={"width": 1280, "height": 900})
        self.console: list[tuple[str, str]] = []
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page.on("console", lambda m: self.console.append((m.type, m.text)))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", lambda r: self.requests.append(r.url))
        started = time.perf_counter()
        self.page.goto(path.as_uri())
        self.page.wait_for_selector("html[data-ready='1']", timeout=20_000)
        self.load_seconds = time.perf_counter() - started
        self.url = path.as_uri()

    def assert_clean(self) -> None:
        """No console errors or warnings, no uncaught exception, nothing fetched but the file itself."""
        bad = [(t, m) for t, m in self.console if t in ("error", "warning")]
        assert not bad, bad
        assert not self.errors, self.errors
        assert self.requests == [self.url], self.requests

    def current(self) -> str:
        return str(self.page.evaluate("document.querySelector('.row.current')?.closest('[id]')?.id ?? ''"))

    def in_viewport(self, selector: str) -> bool:
        box = self.page.locator(selector).bounding_box()
        return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= 900


def _write(run: Run, folder: Path, name: str) -> Path:
    return write_report(run, folder / name)


@pytest.fixture(scope="module")
def long_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Run, Path]:
    run = long_run(1000)
    return run, _write(run, tmp_path_factory.mktemp("long"), "long.html")


def test_thousand_step_report_loads_clean_and_fast_and_the_onset_is_clickable(
    browser: Any, long_report: tuple[Run, Path]
) -> None:
    run, path = long_report
    assert run.diagnosis is not None and run.diagnosis.onset_step is not None
    onset = run.diagnosis.onset_step
    page = Page(browser, path)
    print(f"1,000-step report: {path.stat().st_size / 1e6:.1f} MB, loaded and rendered in {page.load_seconds:.2f}s")
    assert page.load_seconds < 10
    page.assert_clean()
    row = f"#step-{onset} > .row"
    assert page.page.locator(row).is_visible()
    # Lazy: only the stage holding the onset has its steps in the DOM, and no step body is built yet.
    assert page.page.locator(".step").count() < 50
    assert page.page.locator(".step-body").count() == 0
    page.page.click("#onset-link")
    body = f"#step-{onset} > .step-body"
    assert page.page.locator(body).is_visible()
    assert page.in_viewport(row)
    assert page.current() == f"step-{onset}"
    page.page.click(row)  # clicking the row folds the step again
    assert not page.page.locator(body).is_visible()
    page.assert_clean()


def test_search_finds_a_step_in_a_folded_stage(browser: Any, long_report: tuple[Run, Path]) -> None:
    _, path = long_report
    page = Page(browser, path)
    target = "#step-500"
    assert page.page.locator(target).count() == 0  # its stage is folded and not even rendered
    page.page.fill("#search", NEEDLE)
    page.page.press("#search", "Enter")
    assert page.page.locator(f"{target} > .step-body").is_visible()
    assert page.current() == "step-500"
    assert page.page.locator(f"{target} > .step-body mark").first.inner_text() == NEEDLE
    assert "1 of 1" in page.page.inner_text("#hits")
    page.page.fill("#search", "no-such-text-anywhere")
    page.page.press("#search", "Enter")
    assert page.page.inner_text("#hits") == "no match"
    page.assert_clean()


def test_keyboard_moves_opens_and_jumps_to_the_onset(browser: Any, long_report: tuple[Run, Path]) -> None:
    run, path = long_report
    assert run.diagnosis is not None
    onset = run.diagnosis.onset_step
    page = Page(browser, path)
    kb = page.page.keyboard
    kb.press("g")
    assert page.current() == "stage-1"
    kb.press("j")
    first = page.current()
    assert first != "stage-1"
    kb.press("j")
    assert page.current() != first
    kb.press("k")
    assert page.current() == first
    kb.press("o")
    assert page.current() == f"step-{onset}"
    assert page.page.locator(f"#step-{onset} > .step-body").is_visible()
    kb.press("ArrowLeft")  # close the step
    assert not page.page.locator(f"#step-{onset} > .step-body").is_visible()
    kb.press("ArrowDown")
    nxt = page.current()
    assert nxt != f"step-{onset}"
    kb.press("Enter")
    assert page.page.locator(f"#{nxt} .row[aria-expanded='true']").count() == 1
    kb.press("/")
    assert page.page.evaluate("document.activeElement.id") == "search"
    page.assert_clean()


def test_script_and_markup_in_a_run_render_as_text(browser: Any, tmp_path: Path) -> None:
    path = _write(hostile_run(), tmp_path, "hostile.html")
    page = Page(browser, path)
    page.page.click("#unfold-all")
    for step in range(1, 6):
        page.page.click(f"#step-{step} > .row")
    page.page.fill("#search", "<script>")
    page.page.press("#search", "Enter")
    assert page.page.evaluate("typeof window.__pwned") == "undefined"
    assert page.page.locator("#tree img, #tree style, #tree a, #tree script, #tree b").count() == 0
    assert page.page.evaluate("document.querySelectorAll('img').length") == 0
    assert page.page.evaluate("document.scripts.length") == 2  # the data block and our own script
    body = page.page.inner_text("#step-1 > .step-body")
    assert PWNED in body and "<img src=x onerror=" in body and "</script><script>window.__pwned=3" in body
    assert page.page.inner_text("#run-title") == "report:hostile:<b>1</b>"
    page.assert_clean()


def test_screenshot_of_the_example_run(browser: Any, tmp_path: Path) -> None:
    (run,) = [r for r in extract_all(REPO / "examples" / "runs" / "failing.traj.json") if isinstance(r, Run)]
    localizer = LocalizerRegistry.from_plugins().get()
    assert localizer is not None
    run.diagnosis = localizer.localize(run)
    page = Page(browser, _write(run, tmp_path, "example.html"))
    page.page.click("#onset-link")
    page.assert_clean()
    shot = tmp_path / "report.png"
    page.page.screenshot(path=str(shot), full_page=True)
    data = shot.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 10_000
    # The docs keep one copy; refreshed only on request, so test runs do not churn the checkout.
    if not DOCS_SHOT.exists() or os.environ.get("CODETRACER_UPDATE_SCREENSHOT") == "1":
        DOCS_SHOT.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, DOCS_SHOT)

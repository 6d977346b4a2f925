"""The HTML report without a browser: hostile text is escaped, nothing external is referenced, the CSP pins our own
script and style, the embedded data loads back, and a 1,000-step report is generated quickly."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import subprocess
import sys
import time
from pathlib import Path

from codetracer.report import render_html, report_data, write_report
from codetracer.report.html import embed_json
from report_runs import HOSTILE, IMG, PWNED, hostile_run, long_run

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "runs" / "failing.traj.json"


def _data_block(page: str) -> str:
    match = re.search(r'<script type="application/json" id="ct-data">(.*?)</script>', page, re.S)
    assert match is not None
    return match.group(1)


def _inline(page: str, tag: str) -> list[str]:
    return re.findall(rf"<{tag}>(.*?)</{tag}>", page, re.S)


def test_hostile_text_never_appears_as_markup() -> None:
    run = hostile_run()
    page = render_html(run)
    # Exactly our two script elements (the data block and the page script); no planted tag survives literally.
    assert len(re.findall(r"<script", page, re.I)) == 2
    for planted in (PWNED, IMG, "<img", "</script><script>", "<style>body", "<!--", '<a href="javascript'):
        assert planted not in page  # the words are there, as JSON text with \u003c for "<", never as markup
    block = _data_block(page)
    assert not set("<>&") & set(block)
    assert json.loads(block) == json.loads(json.dumps(report_data(run) | {"generated": json.loads(block)["generated"]}))
    assert HOSTILE in json.loads(block)["steps"][0]["body"]["calls"][0]["obs"]["text"]["t"]
    assert "<title>codetracer report: report:hostile:&lt;b&gt;1&lt;/b&gt;</title>" in page


def test_embed_json_escapes_what_could_end_the_block() -> None:
    text = embed_json({"a": "</script><!-- & \u2028\u2029", "lone": "\udc80"})
    assert not re.search(r"[<>&\u2028\u2029]", text)
    assert json.loads(text) == {"a": "</script><!-- & \u2028\u2029", "lone": "\udc80"}
    text.encode("utf-8")  # lone surrogates are escaped, so the file is valid UTF-8


def test_page_references_nothing_external_and_the_csp_pins_our_code() -> None:
    page = render_html(hostile_run())
    outside_data = page.replace(_data_block(page), "")
    assert not re.search(r"https?:|//[a-z0-9]|@import|url\(|\bsrc=", outside_data, re.I)
    assert re.findall(r'href="([^"]*)"', outside_data) == ["data:,"]
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page)
    assert csp is not None
    policy = csp.group(1).replace("&#x27;", "'")
    assert "default-src 'none'" in policy and "img-src data:" in policy and "unsafe" not in policy
    (script,) = [s for s in re.findall(r"<script>(.*?)</script>", page, re.S)]
    (style,) = _inline(page, "style")
    for source, directive in ((script, "script-src"), (style, "style-src")):
        digest = base64.b64encode(hashlib.sha256(source.encode()).digest()).decode()
        assert f"{directive} 'sha256-{digest}'" in policy
    assert "innerHTML" not in script and "insertAdjacentHTML" not in script and "eval(" not in script


def test_long_texts_are_capped_keeping_head_and_tail() -> None:
    run = long_run(10, hostile_step=None, output_chars=50_000)
    data = report_data(run, text_limit=1000)
    text = data["steps"][0]["body"]["calls"][0]["obs"]["text"]
    assert text["cut"] is True and text["n"] >= 50_000 and len(text["t"]) < 1100
    assert text["t"].startswith("line 0:") and "characters not in this report" in text["t"]


def test_a_thousand_step_report_is_generated_quickly(tmp_path: Path) -> None:
    run = long_run(1000)
    started = time.perf_counter()
    out = write_report(run, tmp_path / "long.html")
    seconds = time.perf_counter() - started
    size = out.stat().st_size
    print(f"1,000-step report: {size / 1e6:.1f} MB in {seconds:.2f}s")
    assert seconds < 3.0
    assert 1_000_000 < size < 20_000_000
    data = json.loads(_data_block(out.read_text(encoding="utf-8")))
    assert len(data["steps"]) == 1000 and data["diagnosis"]["onset"] is not None


def test_report_command_on_an_artifact_and_on_a_stored_run(home: Path, tmp_path: Path) -> None:
    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "codetracer", *args], capture_output=True, text=True)

    out = tmp_path / "r.html"
    done = cli("report", str(EXAMPLE), "-o", str(out))
    assert done.returncode == 0, done.stderr
    data = json.loads(_data_block(out.read_text(encoding="utf-8")))
    assert data["diagnosis"]["onset"] == 4 and len(data["steps"]) == 13
    assert cli("analyze", str(EXAMPLE), "-q").returncode == 0
    stored = tmp_path / "stored.html"
    done = cli("report", "mini-swe-agent:failing", "-o", str(stored))
    assert done.returncode == 0, done.stderr
    assert json.loads(_data_block(stored.read_text(encoding="utf-8")))["run"]["id"].startswith("mini-swe-agent:failing")
    many = cli("report", str(EXAMPLE.parent), "-o", str(tmp_path / "x.html"))
    assert many.returncode == 2 and "holds 2 runs" in many.stderr
    missing = cli("report", "no-such-run")
    assert missing.returncode == 2 and "no stored run" in missing.stderr

"""`umeval report`: one self-contained HTML page, checked in headless Chromium (no console errors, charts drawn,
thumbnails decoded, sorting works) and as a screenshot."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import sys

import pytest
from _fake_results import fake_run

from umeval.commands.export import load_results
from umeval.commands.report import build
from umeval.results.task_result import TaskResult

# Runs before the page's own scripts: records errors, then measures what the page drew once it has loaded.
PROBE = """<script>
window.__errors = [];
window.addEventListener('error', function (e) { window.__errors.push(String(e.message)); }, true);
(function () { var ce = console.error; console.error = function () {
  window.__errors.push(Array.prototype.join.call(arguments, ' ')); ce.apply(console, arguments); }; })();
window.addEventListener('load', function () {
  var svgs = Array.prototype.map.call(document.querySelectorAll('svg'), function (s) {
    var r = s.getBoundingClientRect(), b = s.getBBox();
    return [r.width, r.height, b.width, b.height, s.querySelectorAll('path, rect, use').length]; });
  var imgs = Array.prototype.map.call(document.querySelectorAll('img.thumb'), function (i) { return i.naturalWidth; });
  var head = Array.prototype.map.call(document.querySelectorAll('#tasks th'), function (t) { return t.textContent; });
  var col = head.indexOf('tiny-b disc');
  sortBy('tasks', col); sortBy('tasks', col);  // twice: descending
  var sorted = Array.prototype.map.call(document.getElementById('tasks').tBodies[0].rows,
    function (r) { return r.cells[col].getAttribute('data-v'); });
  var pre = document.createElement('pre'); pre.id = '__probe';
  pre.textContent = JSON.stringify({errors: window.__errors, svgs: svgs, imgs: imgs, sorted: sorted,
    failed: document.querySelectorAll('#tasks tr.fail').length,
    warn: document.querySelectorAll('#tasks td.warn').length,
    warnRollups: document.querySelectorAll('#rollups td.warn').length});
  document.body.appendChild(pre);
});
</script>"""


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return name
    if os.environ.get("CI"):
        pytest.fail("Chromium is not installed: .ci/run installs it (apt-get install chromium)")
    pytest.skip("Chromium is not installed here (CI installs it)")


def headless(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                           *args], capture_output=True, text=True, timeout=180)


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """A finished mode=both, 3-sample run, and a second model made from it with one failed task and ties."""
    tmp = tmp_path_factory.mktemp("report")
    fake_run(tmp / "a", tmp / "cache")
    shutil.copytree(tmp / "a/tiny-qwen2vl", tmp / "b/tiny-b")
    for f in (tmp / "b/tiny-b").rglob("scores.json"):
        s = TaskResult.read(f).replace(model="tiny-b")
        if s.task == "Mini-T2V":
            s = s.replace(n_tied=2)
        if s.task == "Mini-ImageCLS" and s.mode == "disc":
            s = s.replace(status="failed", error="boom", metrics={})
        s.write(f)
    return tmp


def test_page_renders_in_chromium(results, tmp_path):
    """Catches a page that needs the network, a script error, an empty chart, an undecodable thumbnail, a sort
    that does not sort, and failures or ties that are not highlighted."""
    page = build(load_results([results / "a", results / "b"]))
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page), "the page must load nothing from the network"
    assert "<script src" not in page and "<link" not in page
    probed = tmp_path / "probed.html"
    probed.write_text(page.replace("<head>", "<head>" + PROBE, 1), encoding="utf-8")
    r = headless("--dump-dom", probed.as_uri())
    m = re.search(r'<pre id="__probe">(.*?)</pre>', r.stdout, re.S)
    assert m, [line for line in r.stderr.splitlines() if "CONSOLE" in line]
    probe = json.loads(html.unescape(m.group(1)))
    assert probe["errors"] == []
    assert len(probe["svgs"]) == 5  # two bar charts, the deltas, pass@k of each model
    for w, h, bw, bh, shapes in probe["svgs"]:
        assert w > 100 and h > 100 and bw > 50 and bh > 50 and shapes > 5
    assert probe["imgs"] and all(w > 0 for w in probe["imgs"])
    assert probe["sorted"][-1] == ""  # the failed task has no value: last in both directions
    values = [float(v) for v in probe["sorted"][:-1]]
    assert values == sorted(values, reverse=True) and len(values) == 2
    assert probe["failed"] == 1 and probe["warn"] == 1 and probe["warnRollups"] == 3  # V-RET, video, All
    assert "tiny-b minus tiny-qwen2vl (gen), points" in page


def test_screenshot(results, tmp_path):
    """The page as a reader sees it: not blank, and the bar colours of disc, gen and oracle are on it."""
    from PIL import Image

    report = tmp_path / "report.html"
    r = subprocess.run([sys.executable, "-m", "umeval.cli", "report", str(results / "a"), "-o", str(report)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    shot = tmp_path / "shot.png"
    headless(f"--screenshot={shot}", "--window-size=1280,1600", report.as_uri())
    im = Image.open(shot).convert("RGB")
    assert im.size == (1280, 1600)
    colours = {c for _, c in im.getcolors(maxcolors=1 << 20)}
    for hexc in ("#4c78a8", "#f58518", "#54a24b"):
        rgb = tuple(int(hexc[i:i + 2], 16) for i in (1, 3, 5))
        assert rgb in colours, hexc
    white = im.getcolors(maxcolors=1 << 20)
    share_white = max(n for n, c in white if c == (255, 255, 255)) / (1280 * 1600)
    assert share_white < 0.9


def test_report_without_gen_runs(results, tmp_path):
    """A disc-only result has no deltas, pass@k or trace sections, and still renders."""
    only_disc = tmp_path / "d"
    for f in (results / "a/tiny-qwen2vl/tasks").glob("*/disc"):
        shutil.copytree(f, only_disc / "tiny-qwen2vl/tasks" / f.parent.name / "disc")
    page = build(load_results([only_disc]))
    assert page.count("<svg") == 2 and "Generative traces" not in page and "pass@k</h2>" not in page


def test_thumbnails_are_bounded(results):
    """A full-benchmark report must not embed every image it names: the budget caps the page's size."""
    rs = load_results([results / "a"])
    assert 'class="thumb"' in build(rs)
    capped = build(rs, max_thumbnails=2)
    assert len(set(re.findall(r'class="thumb" src="([^"]+)"', capped))) == 2
    assert 'class="thumb"' not in build(rs, max_thumbnails=0)

"""Open the report in headless Chromium and check, as a browser sees it, that every picture loads
and every table is there. CI installs Chromium (benchmark/report/install-chromium.sh) and this test
fails there without it; elsewhere it is skipped, with the reason, when Chromium is absent."""

import json
import os
import shutil
import subprocess
from html.parser import HTMLParser

import pytest

from benchmark.report.__main__ import write_report

pytestmark = pytest.mark.slow

# Writes, once the page and its pictures have loaded, what the browser made of each <img> and <table>.
PROBE = """<script>
window.addEventListener("load", () => {
  const out = document.createElement("pre");
  out.id = "browser-check";
  out.textContent = JSON.stringify({
    images: Array.from(document.images).map(i => [i.getAttribute("src"), i.complete, i.naturalWidth]),
    tables: Array.from(document.querySelectorAll("table")).map(t => [t.id, t.tBodies[0].rows.length]),
  });
  document.body.appendChild(out);
});
</script>"""
# Without the networking switches Chromium's background connections fail on a closed network.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--virtual-time-budget=15000"]


def find_chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    reason = "chromium is not installed: run benchmark/report/install-chromium.sh"
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


class CheckBlock(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.inside, self.text = False, ""

    def handle_starttag(self, tag, attrs):
        self.inside = self.inside or (tag == "pre" and ("id", "browser-check") in attrs)

    def handle_endtag(self, tag):
        if tag == "pre":
            self.inside = False

    def handle_data(self, data):
        if self.inside:
            self.text += data


def test_every_picture_loads_and_every_table_is_filled_in_chromium(synthetic_run, tmp_path):
    chromium = find_chromium()
    folder, artifacts = synthetic_run
    page = write_report(folder, artifacts).read_text()
    probe = folder / "browser-check.html"  # next to index.html, so the pictures' relative paths hold
    probe.write_text(page.replace("</body>", PROBE + "</body>"))
    try:
        done = subprocess.run([chromium, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom",
                               probe.as_uri()], capture_output=True, text=True, timeout=180, check=False)
    finally:
        probe.unlink()
    parser = CheckBlock()
    parser.feed(done.stdout)
    assert parser.text, f"chromium printed no check block (exit {done.returncode}): {done.stderr[-1500:]}"
    seen = json.loads(parser.text)
    assert len(seen["images"]) >= 5 + 8  # five plots, curves and UMAP of four models
    broken = [src for src, complete, width in seen["images"] if not complete or width == 0]
    assert broken == [], f"pictures that did not load: {broken}"
    tables = dict(seen["tables"])
    for key in ("summary", "study-corrupted", "study-train-test", "per-corruption", "per-severity", "latency"):
        assert tables.get(key, 0) > 0, f"table {key} missing or empty"

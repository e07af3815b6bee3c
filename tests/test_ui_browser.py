"""The served app in a real browser (Debian's Chromium driven by Playwright).

Serves ``app.py`` exactly as ``make demo`` does, then works the page like a user:
the default IG result, ISM with its heatmap, a click on a motif match, a bad region.
Screenshots go to ``test-artifacts/``.
"""

import re
import time
from pathlib import Path

import pytest

from conftest import served_app

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]

PLOTS_JS = """() => {
  const out = [];
  for (const doc of Bokeh.documents) {
    for (const m of doc.all_models) {
      const name = m.constructor.__name__;
      if ((name === 'Figure' || name === 'Plot') && m.title) {
        out.push({title: m.title.text || '', start: m.x_range.start, end: m.x_range.end,
                  glyphs: m.renderers.map(r => r.glyph ? r.glyph.constructor.__name__ : '')});
      }
    }
  }
  return out;
}"""


ZOOM_JS = """(prefix) => {
  let found = null;  // the newest figure with that title (old ones can stay in the document)
  for (const doc of Bokeh.documents) {
    for (const m of doc.all_models) {
      const name = m.constructor.__name__;
      if ((name === 'Figure' || name === 'Plot') && m.title && (m.title.text || '').startsWith(prefix)) {
        const scroll = m.toolbar.active_scroll;
        const quads = m.renderers.filter(r => r.glyph && r.glyph.constructor.__name__ === 'Quad');
        const alpha = quads.length ? quads[0].nonselection_glyph.fill_alpha : null;
        found = {bounds: m.x_range.bounds, min_interval: m.x_range.min_interval,
                 scroll: scroll ? scroll.constructor.__name__ + ':' + scroll.dimensions : null,
                 unselected_alpha: (alpha && alpha.value !== undefined) ? alpha.value : alpha};
      }
    }
  }
  return found;
}"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with served_app(tmp_path_factory.mktemp("server")) as (url, _proc, _log):
        yield url


@pytest.fixture(autouse=True)
def _screenshot_on_failure(request, page, artifacts_dir):
    yield
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        page.screenshot(path=str(artifacts_dir / f"FAILED_{request.node.name}.png"), full_page=True)


def _wait_text(page, text, seconds):
    """Wait for ``text`` anywhere in the page (locators pierce Panel's shadow DOM)."""
    page.get_by_text(text, exact=False).first.wait_for(timeout=seconds * 1000)


def _plots(page):
    return page.evaluate(PLOTS_JS)


def _track(page, prefix):
    """Figures whose title starts with ``prefix``, newest last (old ones can stay in the document)."""
    return [p for p in _plots(page) if p["title"].startswith(prefix)]


def test_default_view_ig_then_ism_then_motif_click(server, page, artifacts_dir):
    page.set_viewport_size({"width": 1500, "height": 1900})
    page.goto(server, timeout=120_000)
    # the default window's IG result and its motif table arrive on their own
    _wait_text(page, "Done: Integrated gradients", 240)
    page.locator(".tabulator-cell", has_text="CTCF").first.wait_for(timeout=60_000)
    tracks = _track(page, "Integrated gradients for CTCF")
    assert tracks, _plots(page)
    assert "MultiPolygons" in tracks[-1]["glyphs"] or "Patches" in tracks[-1]["glyphs"], tracks
    page.screenshot(path=str(artifacts_dir / "browser_ig.png"), full_page=True)

    # ISM: choose it in the method select, the heatmap appears under the logo
    page.locator("select").nth(1).select_option(label="ISM (in-silico mutagenesis)")
    _wait_text(page, "Done: ISM", 240)
    page.wait_for_timeout(1500)
    heat = _track(page, "ISM: change in the target")
    assert heat and "Quad" in heat[-1]["glyphs"], _plots(page)
    # genome-browser zoom: the wheel zooms x only, inside the window, down to 20 bp
    zoom = page.evaluate(ZOOM_JS, "ISM (in-silico mutagenesis) for CTCF")
    assert zoom["scroll"] == "WheelZoomTool:width", zoom
    assert zoom["bounds"] == [29210.5, 31210.5] and zoom["min_interval"] == 20, zoom
    # a clicked cell leaves the other cells as they were (readable), not faded
    assert page.evaluate(ZOOM_JS, "ISM: change in the target")["unselected_alpha"] == 1, zoom
    page.screenshot(path=str(artifacts_dir / "browser_ism.png"), full_page=True)

    # a click on a match row zooms the tracks to its seqlet (1-based inclusive in the table)
    page.locator(".tabulator-row").first.wait_for(timeout=60_000)
    title = "ISM (in-silico mutagenesis) for CTCF"
    rows = page.locator(".tabulator-row")
    texts = [rows.nth(i).inner_text() for i in range(rows.count())]
    spans = [tuple(int(v.replace(",", "")) for v in m.groups())
             for m in (re.search(r"(\d[\d,]*)-(\d[\d,]*)", t) for t in texts) if m]
    assert spans, texts
    before = _track(page, title)[-1]
    # a row whose seqlet lies outside the current view, if the map has several seqlets
    outside = [i for i, (s, e) in enumerate(spans) if s < before["start"] or e > before["end"]]
    row = outside[0] if outside else len(spans) - 1
    first, last = spans[row]
    rows.nth(row).click()
    deadline = time.time() + 30
    while True:
        after = _track(page, title)[-1]
        zoomed = (after["start"] <= first - 0.5 and after["end"] >= last + 0.5
                  and after["end"] - after["start"] < 80)
        if zoomed or time.time() > deadline:
            break
        page.wait_for_timeout(250)
    assert zoomed, (before, after, spans[row])
    page.screenshot(path=str(artifacts_dir / "browser_motif_click.png"), full_page=True)


def _leaves_the_machine(url: str) -> bool:
    return not url.startswith(("http://127.0.0.1", "ws://127.0.0.1", "blob:http://127.0.0.1", "data:", "about:"))


def test_bad_region_shows_a_message_and_keeps_the_view(server, page, artifacts_dir):
    outside: list[str] = []  # the page works offline: every font, script and style comes from the app
    page.on("request", lambda request: outside.append(request.url) if _leaves_the_machine(request.url) else None)
    page.set_viewport_size({"width": 1500, "height": 1200})
    page.goto(server, timeout=120_000)
    _wait_text(page, "Done:", 240)
    box = page.locator("input[type=text]").first
    box.fill("HUMHBB:50,000-40,000")
    box.press("Enter")
    _wait_text(page, "Could not use the window", 30)
    assert page.get_by_text("empty or reversed", exact=False).count() >= 1
    assert _track(page, "Integrated gradients for CTCF")
    # one truth on screen: the box and the URL go back to the window still shown
    deadline = time.time() + 20
    while box.input_value() != "HUMHBB:29,211-31,210" and time.time() < deadline:
        page.wait_for_timeout(250)
    assert box.input_value() == "HUMHBB:29,211-31,210" and "40%2C000" not in page.url and "40,000" not in page.url
    page.screenshot(path=str(artifacts_dir / "browser_bad_region.png"), full_page=True)
    assert not outside, f"requests left the machine: {outside}"


def test_open_a_variant_shows_ref_alt_and_difference(server, page, artifacts_dir):
    import explorer as ex

    locus = ex.load_sample_locus()
    pos = 30_210  # inside the default window's CTCF site (1-based)
    ref = locus.sequence[locus.to_index(pos)]
    alt = "A" if ref != "A" else "G"
    page.set_viewport_size({"width": 1500, "height": 2600})
    page.goto(server, timeout=120_000)
    _wait_text(page, "Done:", 240)
    box = page.get_by_placeholder("e.g. HUMHBB:30,211:C>T")
    box.fill(f"HUMHBB:{pos}:{ref}>{alt}")
    box.press("Enter")
    page.get_by_role("button", name="Open variant").click()
    _wait_text(page, f"{ref}>{alt} at {pos:,}", 120)
    for _ in range(60):
        titles = [p["title"] for p in _plots(page)]
        if any(t.startswith("Difference") for t in titles):
            break
        page.wait_for_timeout(500)
    for kind in ("Reference", "Alternative", "Difference (alt - ref)"):
        assert any(t.startswith(f"{kind}: {ref}>{alt} at {pos:,}") for t in titles), titles
    page.get_by_text("Variants: reference vs alternative").scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts_dir / "browser_variant.png"), full_page=True)


def test_the_url_holds_region_task_and_method(server, page):
    page.set_viewport_size({"width": 1500, "height": 1200})
    page.goto(server + "?region=HUMHBB%3A61%2C137-63%2C136&task=SPI1&method=ism", timeout=120_000)
    _wait_text(page, "Done: ISM (in-silico mutagenesis) for SPI1", 240)
    assert page.locator("input[type=text]").first.input_value() == "HUMHBB:61,137-63,136"
    box = page.locator("input[type=text]").first
    box.fill("HUMHBB:38,414-40,413")
    box.press("Enter")
    page.wait_for_function("() => window.location.search.includes('38%2C414') || "
                           "decodeURIComponent(window.location.search).includes('38,414')", timeout=30_000)


def test_upload_a_cardless_model_and_a_fasta_then_ism_shows_the_logo(server, page, artifacts_dir, tmp_path):
    """Bring your own model: a cardless TorchScript CNN and a FASTA, dropped on the page."""
    import numpy as np
    import torch

    class ConvMax(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = torch.nn.Conv1d(4, 8, 9, padding=4)
            self.conv2 = torch.nn.Conv1d(8, 2, 5, padding=2)

        def forward(self, x):
            return self.conv2(torch.relu(self.conv1(x))).amax(-1)

    torch.manual_seed(0)
    model_path = tmp_path / "my_cnn.pt"
    torch.jit.save(torch.jit.script(ConvMax().eval()), str(model_path))
    rng = np.random.default_rng(0)
    seq = "".join(rng.choice(list("ACGT"), 600))
    fasta = tmp_path / "my_element.fa"
    fasta.write_text(">my_element\n" + "\n".join(seq[i:i + 60] for i in range(0, 600, 60)) + "\n")

    page.set_viewport_size({"width": 1500, "height": 1900})
    page.goto(server, timeout=120_000)
    _wait_text(page, "Done:", 240)
    files = page.locator("input[type=file]")
    files.nth(0).set_input_files(str(model_path))
    _wait_text(page, "Loaded model", 60)
    _wait_text(page, "Model: what was found (my_cnn)", 30)
    files.nth(1).set_input_files(str(fasta))
    _wait_text(page, "Loaded my_element.fa", 60)
    assert page.locator("input[type=text]").first.input_value() == "my_element:1-600"
    method = page.locator("select", has=page.locator("option", has_text="ISM (in-silico mutagenesis)"))
    method.first.select_option(label="ISM (in-silico mutagenesis)")
    _wait_text(page, "Done: ISM (in-silico mutagenesis) for task 0", 240)
    page.wait_for_timeout(1500)
    tracks = _track(page, "ISM (in-silico mutagenesis) for task 0")
    assert tracks, _plots(page)
    assert "MultiPolygons" in tracks[-1]["glyphs"] or "Patches" in tracks[-1]["glyphs"], tracks
    assert page.get_by_text("CTCF site (default)").count() == 0  # the sample's bookmarks are gone
    page.screenshot(path=str(artifacts_dir / "browser_upload_model_fasta.png"), full_page=True)

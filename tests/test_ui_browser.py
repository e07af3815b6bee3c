"""The served app in a real browser (Debian's Chromium driven by Playwright).

Serves ``app.py`` exactly as ``make demo`` does, then works the page like a user:
the default IG result, ISM with its heatmap, a click on a motif match, a bad region.
Every page records its requests and fails if one leaves the machine (the app works offline).
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


#: the newest figure whose title starts with a prefix: its ranges and the screen centre of its frame
FRAME_JS = """(prefix) => {
  let found = null;
  for (const doc of Bokeh.documents) {
    for (const m of doc.all_models) {
      const name = m.constructor.__name__;
      if ((name === 'Figure' || name === 'Plot') && m.title && (m.title.text || '').startsWith(prefix)) found = m;
    }
  }
  if (found === null) return null;
  const view = Bokeh.index.find_one(found);
  const out = {x_range: [found.x_range.start, found.x_range.end], y_range: [found.y_range.start, found.y_range.end],
               glyphs: found.renderers.map(r => r.glyph ? r.glyph.constructor.__name__ : '')};
  if (view) {
    const rect = view.canvas_view.el.getBoundingClientRect(), box = view.frame.bbox;
    out.centre = [rect.left + box.x + box.width / 2, rect.top + box.y + box.height / 2];
  }
  const quads = found.renderers.filter(r => r.glyph && r.glyph.constructor.__name__ === 'Quad');
  if (quads.length) out.selected = quads[0].data_source.selected.indices.length;
  return out;
}"""

REGION_BOX = "chrom:start-end, e.g. HUMHBB:29,211-31,210"  # the region box's placeholder


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with served_app(tmp_path_factory.mktemp("server"), seconds=300) as (url, _proc, _log):
        yield url


def _leaves_the_machine(url: str) -> bool:
    return not url.startswith(("http://127.0.0.1", "ws://127.0.0.1", "blob:http://127.0.0.1", "data:", "about:"))


@pytest.fixture(autouse=True)
def _screenshot_on_failure_and_offline(request, page, artifacts_dir):
    """Screenshot a failed test; fail any test whose page asked a host other than the server
    (a font service, a CDN): the app is used offline."""
    outside: list[str] = []
    page.on("request", lambda r: outside.append(r.url) if _leaves_the_machine(r.url) else None)
    yield
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        page.screenshot(path=str(artifacts_dir / f"FAILED_{request.node.name}.png"), full_page=True)
    assert not outside, f"requests left the machine: {outside}"


def _wait_text(page, text, seconds):
    """Wait for ``text`` anywhere in the page (locators pierce Panel's shadow DOM)."""
    page.get_by_text(text, exact=False).first.wait_for(timeout=seconds * 1000)


def _plots(page):
    return page.evaluate(PLOTS_JS)


def _track(page, prefix):
    """Figures whose title starts with ``prefix``, newest last (old ones can stay in the document)."""
    return [p for p in _plots(page) if p["title"].startswith(prefix)]


def _frame(page, prefix):
    return page.evaluate(FRAME_JS, prefix)


def _region_box(page):
    return page.get_by_placeholder(REGION_BOX)


def _until(page, check, seconds=30):
    """Poll ``check()`` until it is truthy (or time is up); return its last value."""
    deadline = time.time() + seconds
    while True:
        value = check()
        if value or time.time() > deadline:
            return value
        page.wait_for_timeout(250)


def test_default_view_ig_then_ism_then_motif_click(server, page, artifacts_dir):
    page.set_viewport_size({"width": 1500, "height": 1900})
    page.goto(server, timeout=600_000)  # a cold server: slow on a loaded machine
    # the default window's IG result and its motif table arrive on their own (a cold server: slow
    # on a loaded machine)
    _wait_text(page, "Done: Integrated gradients", 600)
    page.locator(".tabulator-cell", has_text="CTCF").first.wait_for(timeout=60_000)
    tracks = _track(page, "Integrated gradients for CTCF")
    assert tracks, _plots(page)
    # the 2 kb window opens whole, as per-base bars (letters come when zoomed in)
    assert tracks[-1]["start"] == 29210.5 and tracks[-1]["end"] == 31210.5, tracks
    assert "Segment" in tracks[-1]["glyphs"], tracks
    _wait_text(page, "Showing HUMHBB:29,211-31,210", 10)
    page.screenshot(path=str(artifacts_dir / "browser_ig.png"), full_page=True)

    # the wheel zooms x only, inside the window
    title = "Integrated gradients for CTCF"
    before = _frame(page, title)
    page.mouse.move(*before["centre"])
    page.mouse.wheel(0, -200)
    after = _until(page, lambda: (f := _frame(page, title)) and f["x_range"] != before["x_range"] and f)
    assert after, before
    assert after["y_range"] == pytest.approx(before["y_range"]), (before, after)
    assert 29210.5 <= after["x_range"][0] < after["x_range"][1] <= 31210.5, after
    for _ in range(6):  # far out: stops at the window's edges
        page.mouse.wheel(0, 2000)
        page.wait_for_timeout(150)
    out = _until(page, lambda: (f := _frame(page, title)) and f["x_range"] == pytest.approx([29210.5, 31210.5]) and f,
                 10)
    assert out, _frame(page, title)
    # the + button zooms in around the centre; the position box goes to a base
    page.get_by_role("button", name="+", exact=True).click()
    _wait_text(page, "1,000 bp of the 2,000 bp window", 10)
    page.get_by_placeholder("Go to a position").fill("30,100-30,150")
    page.get_by_placeholder("Go to a position").press("Enter")
    _wait_text(page, "Showing HUMHBB:30,100-30,150", 10)
    letters = _until(page, lambda: (f := _frame(page, title)) and "MultiPolygons" in f["glyphs"] and f)
    assert letters and letters["x_range"] == pytest.approx([30099.5, 30150.5]), _frame(page, title)
    page.get_by_role("button", name="Whole window").click()
    _wait_text(page, "2,000 bp, the whole window", 10)

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
    page.screenshot(path=str(artifacts_dir / "browser_ism.png"), full_page=True)

    # a click on a heatmap cell opens it; the other cells keep their colour (the map stays readable)
    cell = _frame(page, "ISM: change in the target")
    x, y = cell["centre"]  # the frame's centre lies on cell borders (between two rows, two positions):
    page.mouse.click(x + 0.3, y + 8)  # inside one cell (~0.85 px per base here, ~30 px per row)
    picked = _until(page, lambda: (f := _frame(page, "ISM: change in the target")) and f.get("selected") and f)
    assert picked and picked["selected"] == 1, _frame(page, "ISM: change in the target")
    assert page.evaluate(ZOOM_JS, "ISM: change in the target")["unselected_alpha"] == 1
    page.screenshot(path=str(artifacts_dir / "browser_ism_cell.png"), full_page=True)

    # a click on a match row zooms the tracks to its seqlet (1-based inclusive in the table)
    page.locator(".tabulator-row").first.wait_for(timeout=60_000)
    title = "ISM (in-silico mutagenesis) for CTCF"
    rows = page.locator(".tabulator-row")
    texts = [rows.nth(i).inner_text() for i in range(rows.count())]
    spans = [tuple(int(v.replace(",", "")) for v in m.groups())
             for m in (re.search(r"(\d[\d,]*)-(\d[\d,]*)", t) for t in texts) if m]
    assert spans, texts
    row = len(spans) - 1
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


def test_bad_region_shows_a_message_and_keeps_the_view(server, page, artifacts_dir):
    page.set_viewport_size({"width": 1500, "height": 1200})
    page.goto(server, timeout=120_000)
    _wait_text(page, "Done:", 240)
    box = _region_box(page)
    box.fill("HUMHBB:50,000-40,000")
    box.press("Enter")
    _wait_text(page, "Could not use the window", 30)
    assert page.get_by_text("empty or reversed", exact=False).count() >= 1
    assert _track(page, "Integrated gradients for CTCF")
    # one truth on screen: the box and the URL go back to the window still shown
    _until(page, lambda: box.input_value() == "HUMHBB:29,211-31,210", 20)
    assert box.input_value() == "HUMHBB:29,211-31,210" and "40%2C000" not in page.url and "40,000" not in page.url
    page.screenshot(path=str(artifacts_dir / "browser_bad_region.png"), full_page=True)


@pytest.mark.parametrize("region, words", [("banana", "cannot read region 'banana'"),
                                           ("HUMHBB%3A90%2C001-92%2C000", "outside the loaded locus")])
def test_a_bad_region_in_a_link_is_reported_and_the_default_shown(server, page, region, words):
    page.set_viewport_size({"width": 1500, "height": 1200})
    page.goto(f"{server}?region={region}", timeout=120_000)
    _wait_text(page, "Done:", 240)
    _wait_text(page, words, 30)  # still there after the job's "Done"
    assert page.get_by_text("Still showing HUMHBB:29,211-31,210", exact=False).count() >= 1
    assert _region_box(page).input_value() == "HUMHBB:29,211-31,210"
    assert _until(page, lambda: "banana" not in page.url and "90%2C001" not in page.url, 20), page.url


def test_cancel_keeps_the_previous_result(server, page, artifacts_dir):
    page.set_viewport_size({"width": 1500, "height": 1400})
    page.goto(server + "?task=SPI1&method=ig", timeout=120_000)
    _wait_text(page, "Done: Integrated gradients for SPI1", 240)
    diagnostics = page.get_by_text("Integrated gradients · target SPI1", exact=False)
    assert diagnostics.count() >= 1
    # plain ISM (tens of seconds): the job is surely still running when Cancel is pressed
    page.get_by_text("Method options").first.click()
    page.locator("select", has=page.locator("option", has_text="plain")).first.select_option("plain")
    page.wait_for_timeout(1000)
    page.locator("select").nth(1).select_option(label="ISM (in-silico mutagenesis)")
    cancel = page.get_by_role("button", name="Cancel")
    _until(page, lambda: cancel.is_enabled(), 30)
    page.wait_for_timeout(1500)  # a few ISM chunks have arrived
    cancel.click()
    _wait_text(page, "Cancelled; the Integrated gradients result for SPI1", 120)
    # the result, the method box and the diagnostics line agree again
    assert _track(page, "Integrated gradients for SPI1"), _plots(page)
    shown = lambda: page.locator("select").nth(1).evaluate("s => s.options[s.selectedIndex].text")  # noqa: E731
    assert _until(page, lambda: shown() == "Integrated gradients", 10), shown()
    assert page.get_by_text("Integrated gradients · target SPI1", exact=False).count() >= 1
    assert page.get_by_text("ISM (in-silico mutagenesis) · target", exact=False).count() == 0
    page.screenshot(path=str(artifacts_dir / "browser_cancel.png"), full_page=True)


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


def test_the_url_holds_region_task_and_method(server, page, artifacts_dir):
    page.set_viewport_size({"width": 1500, "height": 2600})
    page.goto(server + "?region=HUMHBB%3A61%2C137-63%2C136&task=SPI1&method=ism", timeout=120_000)
    _wait_text(page, "Done: ISM (in-silico mutagenesis) for SPI1", 240)
    assert _region_box(page).input_value() == "HUMHBB:61,137-63,136"
    # the measured MPRA of the HBB promoter beside the model's ISM: both tracks titled, with axes
    page.locator("select", has=page.locator("option", has_text="kircher2019_HBB")).first.select_option(
        label="variants/kircher2019_HBB.tsv.gz")
    page.get_by_role("button", name="Load measured effects").click()
    measured = _until(page, lambda: _track(page, "Measured effect per base"), 120)
    assert measured and _track(page, "Model: mean ISM effect per base (SPI1)"), _plots(page)
    page.get_by_text("Measured variant effects vs the model's ISM").scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts_dir / "browser_measured.png"), full_page=True)
    box = _region_box(page)
    box.fill("HUMHBB:38,414-40,413")
    box.press("Enter")
    page.wait_for_function("() => window.location.search.includes('38%2C414') || "
                           "decodeURIComponent(window.location.search).includes('38,414')", timeout=120_000)


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
    # the "Loaded model" line may already be replaced by the job the new model starts: wait for its panel
    _wait_text(page, "Model: what was found (my_cnn)", 90)
    files.nth(1).set_input_files(str(fasta))
    # the locus' "Loaded" line may already be replaced by the job it starts: wait for the window
    assert _until(page, lambda: _region_box(page).input_value() == "my_element:1-600", 60), \
        _region_box(page).input_value()
    method = page.locator("select", has=page.locator("option", has_text="ISM (in-silico mutagenesis)"))
    method.first.select_option(label="ISM (in-silico mutagenesis)")
    _wait_text(page, "Done: ISM (in-silico mutagenesis) for task 0", 240)
    page.wait_for_timeout(1500)
    tracks = _track(page, "ISM (in-silico mutagenesis) for task 0")
    assert tracks, _plots(page)
    assert "MultiPolygons" in tracks[-1]["glyphs"] or "Patches" in tracks[-1]["glyphs"], tracks
    assert page.get_by_text("CTCF site (default)").count() == 0  # the sample's bookmarks are gone
    page.screenshot(path=str(artifacts_dir / "browser_upload_model_fasta.png"), full_page=True)

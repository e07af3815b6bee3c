"""An Enformer folder in the served app, in a real browser (marker ``browser``).

A tiny random-init Enformer is saved (``save_pretrained``, with its targets table) into a
folder the server may read (``$EXPLORER_DATA_DIRS``); the test types its path in the Model
box, loads it, sees the predicted tracks in the overview (one band per chosen track, bins
in the title), searches a target, types a contrast (which goes into the URL), and takes a
screenshot into ``test-artifacts/``.
"""

import os
import urllib.parse

import pytest

from conftest import served_app
from longcontext_folders import tiny_enformer_folder
from test_ui_browser import _leaves_the_machine, _track, _until, _wait_text

pytestmark = pytest.mark.browser
enformer_pytorch = pytest.importorskip("enformer_pytorch", reason="enformer-pytorch is not installed (extra 'enformer')")

MODEL_BOX = "a model file, or an Enformer/Borzoi folder"
SEARCH_BOX = "type part of a target, e.g. CAGE:HepG2, or a contrast A - B"
TRACKS = [("ENCFF001", "CAGE:HepG2"), ("ENCFF002", "CAGE:K562"), ("ENCFF003", "DNASE:K562"),
          ("ENCFF004", "CHIP:CTCF:HepG2")]


@pytest.fixture(scope="module")
def data_folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    tiny_enformer_folder(root / "tiny-enformer", TRACKS)
    return root


@pytest.fixture(scope="module")
def server(tmp_path_factory, data_folder):
    before = os.environ.get("EXPLORER_DATA_DIRS")
    os.environ["EXPLORER_DATA_DIRS"] = str(data_folder)
    try:
        with served_app(tmp_path_factory.mktemp("server"), seconds=300) as (url, _proc, _log):
            yield url
    finally:
        if before is None:
            os.environ.pop("EXPLORER_DATA_DIRS", None)
        else:
            os.environ["EXPLORER_DATA_DIRS"] = before


def test_an_enformer_folder_shows_its_predicted_tracks_and_takes_a_typed_contrast(server, page, data_folder,
                                                                                  artifacts_dir):
    outside = []
    page.on("request", lambda r: outside.append(r.url) if _leaves_the_machine(r.url) else None)
    page.set_viewport_size({"width": 1500, "height": 1600})
    page.goto(server, timeout=120_000)
    _wait_text(page, "Done:", 240)
    box = page.get_by_placeholder(MODEL_BOX)
    box.fill(str(data_folder / "tiny-enformer"))
    box.press("Enter")
    page.get_by_role("button", name="Load model").click()
    _wait_text(page, "Loaded model", 120)
    _wait_text(page, "Model: what was found (tiny-enformer)", 30)
    bands = _until(page, lambda: _track(page, "Predicted tracks: 3 tracks in bins of 8 bp"), 120)
    assert bands, "no predicted-tracks overview"
    assert bands[-1]["glyphs"].count("Quad") >= 3, bands[-1]  # one band (of bars) per track
    assert "the window: 248 bins (bases 29,219-31,202)" in bands[-1]["title"]
    search = page.get_by_placeholder(SEARCH_BOX)
    search.fill("CAGE:HepG2 - ENCFF002")
    search.press("Enter")
    assert _until(page, lambda: "task=" in page.url and "CAGE%3AK562" in page.url.replace("%3a", "%3A"), 60), \
        page.url
    task = urllib.parse.parse_qs(urllib.parse.urlparse(page.url).query)["task"][0]
    assert task == "CAGE:HepG2 - CAGE:K562"
    search.fill("no such cell")
    search.press("Enter")
    _wait_text(page, "No target matches 'no such cell'", 30)
    assert urllib.parse.parse_qs(urllib.parse.urlparse(page.url).query)["task"][0] == task
    page.wait_for_timeout(1500)
    page.screenshot(path=str(artifacts_dir / "browser_enformer_tracks.png"), full_page=True)
    assert not outside, outside

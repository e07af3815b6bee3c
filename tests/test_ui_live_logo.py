"""The tracks' letters follow the zoom through their data source (no figure rebuilt)."""

import holoviews as hv
import numpy as np
import pytest
import torch

import explorer as ex
from explorer.plots.figures import attribution_tracks, track_ymax
from explorer.plots.tracks import MAX_LOGO_POSITIONS, logo_columns
from explorer.plots.transforms import logo_stack
from explorer.ui.live_logo import LiveLogo

hv.extension("bokeh", logo=False)


@pytest.fixture(scope="module")
def att():
    rng = np.random.default_rng(3)
    seq = "".join(rng.choice(list("ACGT"), 1000))
    one_hot = ex.one_hot_encode(seq)
    values = torch.tensor(rng.normal(size=(4, 1000)), dtype=torch.float32) * one_hot
    return ex.Attribution(values=values, one_hot=one_hot, method="saliency", target="t", chrom="c",
                          genome_start=5_000)


def _drawn(att, view):
    live = LiveLogo(att)
    element = attribution_tracks(att, None, [], view, title="t").opts(hv.opts.Overlay(hooks=[live.hook]))
    plot = hv.renderer("bokeh").get_plot(element)
    return live, plot.state


def test_a_wide_view_shows_bars_and_no_letters(att):
    live, fig = _drawn(att, (5_000.5, 6_000.5))
    assert live.figure is fig and live.renderer in fig.renderers
    assert not live.renderer.visible and all(bar.visible for bar in live.bars) and live.bars
    assert live.drawn is None


def test_a_narrow_view_draws_the_letters_of_its_bases_and_hides_the_bars(att):
    live, fig = _drawn(att, (5_000.5, 6_000.5))
    y_before = (fig.y_range.start, fig.y_range.end)
    live.show((5_100.5, 5_200.5))  # 100 bp: letters, with half a view more on each side
    assert live.renderer.visible and not any(bar.visible for bar in live.bars)
    a, b = live.drawn
    assert a <= 100 - 1 and b >= 200 + 1 and b - a <= MAX_LOGO_POSITIONS
    expected = logo_columns(att.contribution.numpy()[:, a:b], 5_001 + a)
    assert live.source.data["pos"] == expected["pos"] and live.source.data["base"] == expected["base"]
    assert len(live.source.data["pos"]) == len(logo_stack(att.contribution.numpy()[:, a:b]))
    assert (fig.y_range.start, fig.y_range.end) == y_before  # one y scale for every zoom
    # a small pan inside the drawn letters leaves the source alone; zooming out brings the bars back
    source_data = live.source.data
    live.show((5_110.5, 5_210.5))
    assert live.source.data is source_data
    live.show((5_000.5, 6_000.5))
    assert not live.renderer.visible and all(bar.visible for bar in live.bars)


def test_letters_sit_on_their_positions_and_the_y_scale_holds_them(att):
    cols = logo_columns(att.contribution.numpy()[:, :10], 5_001)
    for xs, ys, pos in zip(cols["xs"], cols["ys"], cols["pos"]):
        outer_x, outer_y = xs[0][0], ys[0][0]
        assert pos - 0.5 < outer_x.min() and outer_x.max() < pos + 0.5
        assert np.abs(outer_y).max() <= track_ymax(att) + 1e-9


def test_letters_once_sent_stay_and_only_new_bases_are_sent(att, monkeypatch):
    from explorer.ui import live_logo

    live, fig = _drawn(att, (5_000.5, 6_000.5))
    streamed = []
    stream = type(live.source).stream
    monkeypatch.setattr(type(live.source), "stream",
                        lambda self, data, *a, **k: streamed.append(data) or stream(self, data, *a, **k))
    live.show((5_100.5, 5_200.5))
    first = live.sent
    assert len(streamed) == 1 and first == [live.drawn]
    live.show((5_400.5, 5_500.5))  # far away: only its bases are sent, the first letters stay
    assert len(streamed) == 2 and len(live.sent) == 2 and live.sent[0] == first[0]
    n = len(live.source.data["pos"])
    live.show((5_100.5, 5_200.5))  # back to the first view: nothing sent
    assert len(streamed) == 2 and len(live.source.data["pos"]) == n
    # every base drawn once, each letter at its own position
    a, b = live.sent[0]
    c, d = live.sent[1]
    expected = logo_columns(att.contribution.numpy()[:, a:b], 5_001 + a)["pos"] + \
        logo_columns(att.contribution.numpy()[:, c:d], 5_001 + c)["pos"]
    assert sorted(live.source.data["pos"]) == sorted(expected)
    # past the limit the source starts again from the view
    monkeypatch.setattr(live_logo, "MAX_SENT_COLUMNS", 300)
    live.show((5_700.5, 5_800.5))
    assert live.sent == [live.drawn]
    a, b = live.drawn
    assert live.source.data["pos"] == logo_columns(att.contribution.numpy()[:, a:b], 5_001 + a)["pos"]


def test_missing_and_merged_spans():
    from explorer.ui.live_logo import _merged, _missing

    assert _missing((0, 10), []) == [(0, 10)]
    assert _missing((0, 10), [(2, 4), (6, 8)]) == [(0, 2), (4, 6), (8, 10)]
    assert _missing((3, 7), [(0, 10)]) == []
    assert _merged([(5, 8), (0, 2), (2, 4), (7, 9)]) == [(0, 4), (5, 9)]

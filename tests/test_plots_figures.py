"""Figure builders of explorer.plots: heatmap cells match the transforms, logos match the stack."""

import numpy as np
import pytest

hv = pytest.importorskip("holoviews")
hv.extension("bokeh", logo=False)

from explorer.plots.figures import measured_tracks, refalt_logos  # noqa: E402
from explorer.plots.tracks import ism_rectangles, logo_polygons  # noqa: E402
from explorer.plots.transforms import ism_cell, logo_stack  # noqa: E402


def test_ism_rectangles_rows_follow_ism_cell():
    rng = np.random.default_rng(1)
    values = rng.normal(size=(4, 6))
    rects = ism_rectangles(values, "ACGTAC", 1001)
    df = rects.dframe()
    for index in (0, 5, 13, 23):
        row, col = ism_cell(index)
        assert df["pos"].iloc[index] == 1001 + col
        assert df["alt"].iloc[index] == "ACGT"[row]
        assert df["effect"].iloc[index] == pytest.approx(values[row, col])


def test_logo_polygons_draw_the_stacked_letters():
    m = np.array([[0.5, 0.0, 1.0], [2.0, 0.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    polys = logo_polygons(m, 200)
    letters = logo_stack(m)
    assert len(polys.data) == len(letters) == 4
    for poly, letter in zip(polys.data, letters):
        assert poly["pos"] == 200 + letter.col and poly["base"] == "ACGT"[letter.base]
        assert np.min(poly["y"]) == pytest.approx(letter.y0, abs=1e-6)
        assert np.max(poly["y"]) == pytest.approx(letter.y0 + letter.height, abs=1e-6)


def test_refalt_logos_and_measured_tracks_build():
    m = np.zeros((4, 100))
    m[1, 50] = 1.0
    layout = refalt_logos("C>T at 1,050", 1001, 50, [("Reference", m), ("Alternative", -m), ("Difference", m)])
    assert len(layout) == 3
    positions = np.arange(1001, 1011)
    mean = np.full(10, np.nan)
    mean[3:6] = [0.1, -0.2, 0.3]
    per_base = np.linspace(-1, 1, 10)
    tracks = measured_tracks(positions, mean, positions, per_base, "CTCF")
    measured, predicted = tracks
    assert np.allclose(measured.data["measured"].to_numpy(), np.nan_to_num(mean))
    assert np.allclose(predicted.data["ISM"].to_numpy(), per_base)

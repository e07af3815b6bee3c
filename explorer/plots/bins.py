"""The overview of a binned model (Enformer, Borzoi): its predicted tracks along the locus.

A pure builder: it takes the table of :func:`explorer.predict_tracks` (one row per output
bin; ``genome_start``/``genome_end`` 0-based half-open) and returns HoloViews objects whose x
axis is the 1-based genome position, like every other overview plot. Each track is one band
(its bars scaled to the track's largest absolute value, so tracks of different magnitudes
share the plot); hovering a bar gives the track, the bin (its index and its bases, 1-based
inclusive) and the model's value. The attribution window is shaded over all bands.
"""

from __future__ import annotations

from typing import NamedTuple

import holoviews as hv
import numpy as np
import pandas as pd

from explorer.plots.tracks import X_DIM, position_ticks

__all__ = ["TrackOverview", "track_bands", "bin_words", "TRACK_COLORS"]

TRACK_COLORS = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#666666"]
#: the fraction of a band its tallest bar fills
BAND_FILL = 0.85


class TrackOverview(NamedTuple):
    """The bands (an Overlay) and the invisible points carrying the tap tool (or None)."""

    bands: hv.Overlay
    picker: hv.Points | None


def bin_words(genome_start: int, genome_end: int, chrom: str | None = None) -> str:
    """A bin's bases as people read them: 0-based half-open ``[s, e)`` -> ``"s+1-e"`` (1-based)."""
    where = f"{int(genome_start) + 1:,}-{int(genome_end):,}"
    return f"{chrom}:{where}" if chrom else where


def track_bands(frame: pd.DataFrame | None, tracks: list[str], *, chrom: str | None = None,
                window: tuple[int, int] | None = None, xlim: tuple[int, int] | None = None,
                height: int | None = None) -> TrackOverview:
    """One band per predicted track along the locus, the attribution window shaded.

    Parameters
    ----------
    frame : pandas.DataFrame or None
        :func:`explorer.predict_tracks` output: ``bin``, ``genome_start``, ``genome_end``
        (0-based half-open) and one column per track.
    tracks : list of str
        The columns to draw, top to bottom (those missing from ``frame`` are skipped).
    chrom : str, optional
        Shown in the hover and the title.
    window : (int, int), optional
        The attribution window, 0-based half-open genome coordinates.
    xlim : (int, int), optional
        The locus, 0-based half-open (default: the bins' span).
    height : int, optional
        Pixels (default: 60 per band, at least 160).

    Returns
    -------
    TrackOverview
    """
    shown = [t for t in tracks if frame is not None and t in frame.columns]
    if frame is None or not len(frame) or not shown:
        empty = hv.Curve([], X_DIM, "track").opts(height=120, responsive=True,
                                                  title="Predicted tracks: choose tracks to show")
        return TrackOverview(hv.Overlay([empty]), None)
    gs, ge = frame["genome_start"].to_numpy(), frame["genome_end"].to_numpy()
    x0, x1 = gs + 0.5, ge + 0.5  # bases s+1..e (1-based) span [s+0.5, e+0.5] on the axis
    bases = [bin_words(s, e) for s, e in zip(gs, ge)]
    layers, ticks = [], []
    n = len(shown)
    for i, track in enumerate(shown):
        values = frame[track].to_numpy(dtype=float)
        scale = float(np.abs(values).max()) or 1.0
        base = float(n - 1 - i)
        data = pd.DataFrame({"position": x0, "band": base, "x1": x1, "y1": base + BAND_FILL * values / scale,
                             "track": track, "bin": frame["bin"].to_numpy(), "bases": bases, "value": values})
        color = TRACK_COLORS[i % len(TRACK_COLORS)]
        layers.append(hv.Rectangles(data, [X_DIM, hv.Dimension("band", label="Track"), "x1", "y1"],
                                    ["track", "bin", "bases", "value"], label=track).opts(
            color=color, line_color=color, line_width=0.5, tools=["hover"],
            hover_tooltips=[("track", "@track"), ("bin", "@bin"), ("bases (1-based)", "@bases"),
                            ("value", "@value{0.000}")]))
        ticks.append((base + BAND_FILL / 2, track))
    overlay = hv.Overlay(layers)
    centres = (x0 + x1) / 2
    picker = hv.Points((centres, np.zeros_like(centres)), [X_DIM, "band"]).opts(
        alpha=0, nonselection_alpha=0, selection_alpha=0, size=1, tools=["tap"])
    overlay = overlay * picker
    size = int(ge[0] - gs[0])
    title = f"Predicted tracks: {n} track{'s' if n != 1 else ''} in bins of {size:,} bp"
    if window is not None:
        overlay = overlay * hv.VSpan(window[0] + 0.5, window[1] + 0.5).opts(color="#7b3294", alpha=0.12)
        inside = np.flatnonzero((ge > window[0]) & (gs < window[1]))
        if len(inside):
            title += f"; the window: {len(inside):,} bins (bases {bin_words(gs[inside[0]], ge[inside[-1]])})"
    lo, hi = xlim if xlim is not None else (int(gs.min()), int(ge.max()))
    overlay = overlay.opts(hv.opts.Overlay(
        height=height or max(160, 60 * n + 60), responsive=True, xlim=(lo + 0.5, hi + 0.5), show_legend=False,
        title=title + "; click to move it", yticks=ticks,
        ylim=(-0.1, n), show_grid=True, xformatter=position_ticks(), toolbar="right", ylabel=""))
    return TrackOverview(overlay, picker)

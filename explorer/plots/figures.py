"""The explorer's composed figures: locus overview, attribution tracks, ISM heatmap, variant
logos and the measured-vs-predicted comparison (HoloViews; no state, no model).

Every builder takes results or plain arrays and returns HoloViews objects whose x axis is the
1-based genome position. Linking (streams, DynamicMaps) is the views' business, in
:mod:`explorer.ui`.
"""

from __future__ import annotations

from typing import NamedTuple

import holoviews as hv
import numpy as np
import pandas as pd

from explorer.plots.tracks import (X_DIM, annotation_boxes, base_spikes,
                                   ism_rectangles, logo_polygons, position_ticks, seqlet_boxes)

TASK_COLORS = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02"]


class Overview(NamedTuple):
    """The two overview plots; ``picker`` (or None) carries the box-select and tap tools."""

    scores: hv.Overlay
    genes: hv.Overlay
    picker: hv.Points | None


def overview(locus, predictions: pd.DataFrame | None, window, tasks: list[str]) -> Overview:
    """Model scores along the locus (one curve per task) over the gene annotation.

    The current window is shaded. x: 1-based positions on ``locus.chrom``.
    """
    start, end = locus.start, locus.end
    layers = []
    if predictions is not None and len(predictions):
        centre = (predictions["genome_start"] + (predictions["end"] - predictions["start"]) / 2).to_numpy() + 0.5
        for i, task in enumerate(tasks):
            if task in predictions:
                layers.append(hv.Curve((centre, predictions[task].to_numpy()), X_DIM, hv.Dimension("score", label="Model score"),
                                       label=task).opts(color=TASK_COLORS[i % len(TASK_COLORS)], line_width=1.5,
                                                        tools=["hover"],
                                                        hover_tooltips=[("task", task), ("window centre", "@position{0,0}"),
                                                                        ("score", "@score{0.000}")]))
    curves = hv.Overlay(layers) if layers else hv.Curve([], X_DIM, "score")
    picker = None
    if predictions is not None and len(predictions):
        # invisible points under the curves: they carry the box-select and tap tools
        first = next(iter(tasks))
        picker = hv.Points((centre, predictions[first].to_numpy()), [X_DIM, "score"]).opts(
            alpha=0, nonselection_alpha=0, selection_alpha=0, size=1,
            tools=["xbox_select", "tap"], active_tools=["xbox_select"])
        curves = curves * picker
    if window is not None:
        curves = curves * hv.VSpan(window.start + 0.5, window.end + 0.5).opts(color="#7b3294", alpha=0.15)
    genes = annotation_boxes(locus.annotations, start, end)
    top = curves.opts(hv.opts.Overlay(
        height=190, responsive=True, xlim=(start + 0.5, end + 0.5), legend_position="right",
        title=f"Locus {locus.chrom}:{start + 1:,}-{end:,}: model score in sliding windows "
              f"(click or drag to choose the window)", show_grid=True,
        xformatter=position_ticks(), toolbar="right"))
    bottom = genes.opts(hv.opts.Overlay(height=130, responsive=True, xlim=(start + 0.5, end + 0.5),
                                        xformatter=position_ticks(), ylabel="",
                                        title="Genes (grey), exons (purple) and repeats (light grey)", toolbar=None))
    return Overview(top, bottom, picker)


def track_ymax(att) -> float:
    """Half the height of the tracks' y axis for ``att``: the tallest letter stack or bar of the
    whole window (one scale for every zoom, so a wheel never moves the y axis)."""
    contribution = att.contribution.numpy()
    stacks = float(np.abs(contribution).sum(axis=0).max()) if contribution.size else 0.0
    bars = float(np.abs(att.per_base).max()) if len(att) else 0.0
    return max(stacks, bars) or 1.0


def attribution_tracks(att, seqlets: pd.DataFrame | None, labels: list[str], x_range: tuple[float, float],
                       title: str = "") -> hv.Overlay:
    """The per-base bars of the whole of ``att`` under its labelled seqlet boxes, showing ``x_range``.

    The letters of a narrow view are drawn over these bars by the view (their data change with
    the zoom; see :func:`explorer.plots.tracks.logo_columns`), and the bars are hidden then.

    Parameters
    ----------
    att : explorer.Attribution
    seqlets : DataFrame or None
        With ``genome_start``/``genome_end`` (0-based), drawn as labelled boxes.
    labels : list of str
        One label per seqlet (its best motif match).
    x_range : (float, float)
        Visible 1-based positions (``xlim``).
    title : str
        Plot title.
    """
    first = att.genome_start + 1
    spikes = base_spikes(att.per_base, att.sequence, first, label="attribution")
    ymax = track_ymax(att)
    boxes = seqlet_boxes(seqlets, labels, ymax * 1.08, ymax * 0.12)
    return (spikes * boxes).opts(
        hv.opts.Overlay(ylim=(-ymax * 1.1, ymax * 1.45), responsive=True, height=260, show_grid=False,
                        ylabel="Contribution", xlabel="Position (1-based)", tools=["xwheel_zoom", "xpan"],
                        xformatter=position_ticks(),
                        default_tools=["save", "reset"], active_tools=["xwheel_zoom", "xpan"],
                        toolbar="right", xlim=tuple(x_range), title=title)
    )


#: the narrowest view the wheel zooms to, in bases (a genome browser's closest zoom)
MIN_VIEW_BP = 20


def x_bounds_hook(att, min_interval: int = MIN_VIEW_BP):
    """A Bokeh hook keeping the x axis inside ``att``'s window and at least ``min_interval``
    bases wide, as a genome browser does (the wheel zooms x only, see ``attribution_tracks``)."""
    lo, hi = att.genome_start + 0.5, att.genome_start + len(att) + 0.5

    def hook(plot, element):
        from bokeh.models import PanTool, WheelZoomTool

        plot.state.x_range.bounds = (lo, hi)
        plot.state.x_range.min_interval = min(min_interval, hi - lo)
        for tool in plot.state.tools:  # the overlay's elements bring their own 'both' tools
            if isinstance(tool, (WheelZoomTool, PanTool)):
                tool.dimensions = "width"
    return hook


def ism_heatmap(ism) -> hv.Rectangles:
    """ISM heatmap of an ISM Attribution (rows A, C, G, T; x: 1-based positions)."""
    return ism_rectangles(ism.values.numpy(), ism.sequence, ism.genome_start + 1).opts(
        responsive=True, height=210, xlabel="Position (1-based)", ylabel="Substituted base", xformatter=position_ticks(),
        title="ISM: change in the target when each base is substituted (click a cell)", toolbar="right")


def stacked(panels: list) -> hv.Layout:
    """Plots one above the other sharing the x axis (e.g. a logo over its ISM heatmap)."""
    return hv.Layout(list(panels)).cols(1).opts(shared_axes=True)


def refalt_logos(label: str, first_position: int, variant_offset: int, matrices: list[tuple[str, np.ndarray]],
                 flank: int = 40) -> hv.Layout:
    """Reference, alternative and difference logos of one variant, stacked on one x axis.

    Parameters
    ----------
    label : str
        The variant in words (e.g. ``"C>T at 30,211"``), in every title.
    first_position : int
        1-based genome position of column 0 of every matrix.
    variant_offset : int
        Column of the variant (0-based); it is shaded, and ``flank`` columns each side are shown.
    matrices : list of (title, (4, L) array)
    """
    centre = first_position + variant_offset
    panels = []
    for title, matrix in matrices:
        matrix = np.asarray(matrix, dtype=float)
        lo = max(0, variant_offset - flank)
        hi = min(matrix.shape[1], variant_offset + flank + 1)
        m = matrix[:, lo:hi]
        ymax = float(np.abs(m).sum(axis=0).max()) if m.size else 0.0
        ymax = ymax or 1.0
        marker = hv.VSpan(centre - 0.5, centre + 0.5).opts(color="#7b3294", alpha=0.12)
        panels.append((logo_polygons(m, first_position + lo) * marker).opts(
            hv.opts.Overlay(title=f"{title}: {label}", height=170, responsive=True,
                            ylim=(-ymax * 1.1, ymax * 1.1), ylabel="Contribution", xlabel="Position (1-based)",
                            xformatter=position_ticks())))
    return stacked(panels)


def measured_tracks(positions: np.ndarray, measured_mean: np.ndarray, ism_positions: np.ndarray,
                    ism_per_base: np.ndarray, task: str) -> hv.Layout:
    """Measured effect per base over the model's per-base ISM importance, on one x axis.

    Parameters
    ----------
    positions, measured_mean : numpy.ndarray, shape ``(L,)``
        1-based positions and the mean measured substitution effect (NaN: none measured;
        drawn as 0). The x range spans the measured positions, 5 bp beyond each side.
    ism_positions, ism_per_base : numpy.ndarray, shape ``(M,)``
        1-based positions and ``Attribution.per_base`` of the ISM map (how much each
        reference base matters: minus the mean substitution effect).
    task : str
    """
    measured_mean = np.asarray(measured_mean, dtype=float)
    has = np.isfinite(measured_mean)
    shown = np.asarray(positions)[has] if has.any() else np.asarray(positions)
    xlim = (shown.min() - 5, shown.max() + 5)
    common = dict(line_width=2, responsive=True, height=170, xlim=xlim, xaxis="bottom", yaxis="left",
                  xlabel="Position (1-based)", xformatter=position_ticks(), show_grid=True, tools=["hover"])
    track = hv.Spikes(pd.DataFrame({"position": np.asarray(positions), "measured": np.nan_to_num(measured_mean)}),
                      X_DIM, hv.Dimension("measured", label="Measured (log2)")).opts(
        color="#444", title="Measured effect per base (mean of its substitutions, log2)",
        ylabel="Measured (log2)", hover_tooltips=[("position", "@position{0,0}"), ("measured", "@measured{0.000}")],
        **common)
    predicted = hv.Spikes(pd.DataFrame({"position": np.asarray(ism_positions), "ISM": np.asarray(ism_per_base, float)}),
                          X_DIM, hv.Dimension("ISM", label="Model ISM")).opts(
        color="#7b3294", title=f"Model: mean ISM effect per base ({task})", ylabel="Model ISM",
        hover_tooltips=[("position", "@position{0,0}"), ("ISM", "@ISM{0.000}")], **common)
    return stacked([track, predicted])


def measured_scatter(points: pd.DataFrame, value: str, task: str, n: int) -> hv.Scatter:
    """Predicted (``x``) vs measured (``y``) effect, one point per variant (from ``scatter_data``)."""
    return hv.Scatter(points, "x", ["y", "label", "kind"]).opts(
        tools=["hover"], size=5, alpha=0.6, color="#7b3294", height=320, width=380,
        xlabel=f"Predicted effect ({value}, {task})", ylabel="Measured effect (log2)", title=f"n = {n}")

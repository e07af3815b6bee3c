"""Builders that turn the state's results into HoloViews objects (no science, no state)."""

from __future__ import annotations

import holoviews as hv
import numpy as np
import pandas as pd

from explorer.plots.tracks import (MAX_LOGO_POSITIONS, X_DIM, annotation_boxes, base_spikes,
                                   ism_rectangles, logo_polygons, seqlet_boxes)

TASK_COLORS = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02"]


def overview(locus, predictions: pd.DataFrame | None, window, tasks: list[str]) -> hv.Overlay:
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
                                                        tools=["hover"]))
    curves = hv.Overlay(layers) if layers else hv.Curve([], X_DIM, "score")
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
        height=190, responsive=True, xlim=(start + 0.5, end + 0.5), legend_position="top_left",
        title=f"Locus {locus.chrom}:{start + 1:,}-{end:,}: model score in sliding windows "
              f"(click or drag to choose the window)", show_grid=True,
        xformatter="%d", toolbar="right"))
    bottom = genes.opts(hv.opts.Overlay(height=110, responsive=True, xlim=(start + 0.5, end + 0.5), ylim=(-1.8, 1.3),
                                        title="Genes, exons (dark) and repeats (grey)", toolbar=None))
    return top, bottom


def attribution_tracks(att, seqlets: pd.DataFrame | None, labels: list[str], x_range: tuple[float, float]):
    """The logo (narrow view) or per-base bars (wide view) of ``att`` for ``x_range``.

    Parameters
    ----------
    att : explorer.Attribution
    seqlets : DataFrame or None
        With ``genome_start``/``genome_end`` (0-based), drawn as labelled boxes.
    labels : list of str
        One label per seqlet (its best motif match).
    x_range : (float, float)
        Visible 1-based positions; decides between letters and bars.
    """
    first = att.genome_start + 1
    L = len(att)
    contribution = att.contribution.numpy()
    lo = int(max(0, np.floor(x_range[0] - first)))
    hi = int(min(L, np.ceil(x_range[1] - first) + 1))
    label = "attribution"
    if hi - lo <= MAX_LOGO_POSITIONS:
        matrix = contribution[:, lo:hi]
        track = logo_polygons(matrix, first + lo, label=label)
        spikes = base_spikes(np.zeros(0), "", first, label=label)
        ymax = float(np.abs(matrix).sum(axis=0).max()) if matrix.size else 1.0
    else:
        track = logo_polygons(np.zeros((4, 0)), first, label=label)
        per_base = att.per_base
        spikes = base_spikes(per_base, att.sequence, first, label=label)
        ymax = float(np.abs(per_base).max()) if L else 1.0
    ymax = ymax or 1.0
    boxes = seqlet_boxes(seqlets, labels, ymax * 1.08, ymax * 0.12)
    return (spikes * track * boxes).opts(
        hv.opts.Overlay(ylim=(-ymax * 1.1, ymax * 1.45), responsive=True, height=260, show_grid=False,
                        ylabel="Contribution", xlabel="Position (1-based)", active_tools=["wheel_zoom"],
                        toolbar="right")
    )


def ism_heatmap(ism) -> hv.Rectangles:
    """ISM heatmap of an ISM Attribution (rows A, C, G, T; x: 1-based positions)."""
    return ism_rectangles(ism.values.numpy(), ism.sequence, ism.genome_start + 1).opts(
        responsive=True, height=210, xlabel="Position (1-based)", ylabel="Substituted base",
        title="ISM: change in the target when each base is substituted (click a cell)", toolbar="right")

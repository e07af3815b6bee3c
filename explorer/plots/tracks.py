"""HoloViews builders for the attribution tracks, the ISM heatmap and the locus overview.

Every builder takes plain arrays/DataFrames and returns an ``hv.Element`` (or Overlay)
whose x axis is the 1-based genome position. Widths and tools are set by the caller.
"""

from __future__ import annotations

import holoviews as hv
import numpy as np
import pandas as pd

from explorer.plots import BASE_COLORS
from explorer.plots.glyphs import glyph
from explorer.plots.transforms import BASES, label_rows, logo_stack

X_DIM = hv.Dimension("position", label="Position (1-based)")
#: annotation types drawn in the genes track, with their colours (legible on light and dark themes)
FEATURE_COLORS = {"gene": "#8c8c8c", "exon": "#9e6ac8", "repeat_region": "#c8c8c8"}


def position_ticks():
    """A new tick formatter writing positions with thousands separators (30,210), one per plot
    (a Bokeh model belongs to one document)."""
    from bokeh.models import NumeralTickFormatter

    return NumeralTickFormatter(format="0,0")


def drawn_features(annotations: pd.DataFrame | None) -> pd.DataFrame:
    """The rows of an annotation table the genes track draws (genes, exons, repeats)."""
    if annotations is None or not len(annotations):
        return pd.DataFrame(columns=["type", "start", "end", "name"])
    return annotations[annotations["type"].isin(list(FEATURE_COLORS))]
#: above this many positions in view, letters give way to a per-base bar track
MAX_LOGO_POSITIONS = 400


def logo_columns(matrix: np.ndarray, first_position: int, *, label: str = "attribution",
                 min_fraction: float = 0.01) -> dict[str, list]:
    """The letters of a vector sequence logo as columns of a Bokeh ``MultiPolygons`` source.

    Parameters
    ----------
    matrix : numpy.ndarray, shape ``(4, L)``
        Heights per base (ACGT rows), stacked by :func:`explorer.plots.transforms.logo_stack`.
    first_position : int
        1-based genome coordinate of column 0 (letters are centred on integers).
    label : str
        Name of the value column (shown in the hover).
    min_fraction : float
        Letters smaller than this fraction of the largest column are skipped.

    Returns
    -------
    dict
        ``xs``, ``ys`` (per letter: ``[[outer, hole, ...]]``, one part of rings), ``pos``
        (1-based), ``base``, ``label`` (the signed value) and ``color``; one entry per letter.
    """
    cols: dict[str, list] = {"xs": [], "ys": [], "pos": [], "base": [], label: [], "color": []}
    for letter in logo_stack(matrix, min_fraction):
        outer, holes = glyph(BASES[letter.base])
        x0 = first_position + letter.col - 0.45
        y0, h = letter.y0, letter.height
        rings = (outer, *holes)
        cols["xs"].append([[x0 + r[:, 0] * 0.9 for r in rings]])
        cols["ys"].append([[y0 + r[:, 1] * h for r in rings]])
        cols["pos"].append(int(first_position + letter.col))
        cols["base"].append(BASES[letter.base])
        cols[label].append(letter.value)
        cols["color"].append(BASE_COLORS[BASES[letter.base]])
    return cols


def logo_tooltips(label: str = "attribution") -> list[tuple[str, str]]:
    """Hover lines of a logo letter (no internal columns such as its colour)."""
    return [("position", "@pos{0,0}"), ("base", "@base"), (label, f"@{{{label}}}{{0.0000}}")]


def logo_polygons(matrix: np.ndarray, first_position: int, *, label: str = "attribution",
                  min_fraction: float = 0.01) -> hv.Polygons:
    """Vector sequence logo: one polygon per (position, base) with a non-negligible value.

    Parameters are those of :func:`logo_columns`.

    Returns
    -------
    hv.Polygons
        With value dimensions ``pos``, ``base``, ``label`` and ``color``.
    """
    cols = logo_columns(matrix, first_position, label=label, min_fraction=min_fraction)
    polys = [{"position": xs[0][0], "y": ys[0][0],
              "holes": [[np.column_stack([hx, hy]) for hx, hy in zip(xs[0][1:], ys[0][1:])]],
              "pos": pos, "base": base, label: value, "color": color}
             for xs, ys, pos, base, value, color in zip(cols["xs"], cols["ys"], cols["pos"], cols["base"],
                                                        cols[label], cols["color"])]
    return hv.Polygons(polys, kdims=[X_DIM, "y"], vdims=["pos", "base", label, "color"]).opts(
        color="color", line_width=0, tools=["hover"], hover_tooltips=logo_tooltips(label)
    )


def base_spikes(per_base: np.ndarray, sequence: str, first_position: int, *, label: str = "attribution") -> hv.Spikes:
    """Per-base bar track (for wide views): one spike per position coloured by its base.

    Parameters
    ----------
    per_base : numpy.ndarray, shape ``(L,)``
        One value per position.
    sequence : str
        The bases (length ``L``), for colour and hover.
    first_position : int
        1-based genome coordinate of position 0.
    """
    per_base = np.asarray(per_base, dtype=float)
    bases = list(sequence.upper())
    df = pd.DataFrame({
        "position": np.arange(first_position, first_position + len(per_base)),
        label: per_base,
        "base": bases,
        "color": [BASE_COLORS.get(b, "#888888") for b in bases],
    })
    return hv.Spikes(df, kdims=[X_DIM], vdims=[label, "base", "color"]).opts(
        color="color", line_width=2, tools=["hover"],
        hover_tooltips=[("position", "@position{0,0}"), ("base", "@base"), (label, f"@{{{label}}}{{0.0000}}")],
    )


def ism_rectangles(values: np.ndarray, sequence: str, first_position: int) -> hv.Rectangles:
    """ISM heatmap as rectangles (4 rows x L columns), hover and tap give position and base.

    Parameters
    ----------
    values : numpy.ndarray, shape ``(4, L)``
        ``f(mutant) - f(reference)``; the reference base is drawn with a grey outline.
    sequence : str
        Reference bases.
    first_position : int
        1-based genome coordinate of column 0.
    """
    values = np.asarray(values, dtype=float)
    L = values.shape[1]
    pos = np.repeat(np.arange(first_position, first_position + L), 4)
    row = np.tile(np.arange(4), L)
    seq = sequence.upper()
    df = pd.DataFrame({
        "x0": pos - 0.5, "row0": 3 - row, "x1": pos + 0.5, "row1": 4 - row,
        "pos": pos, "alt": [BASES[r] for r in row],
        "ref": [seq[i] for i in np.repeat(np.arange(L), 4)],
        "effect": values.T.reshape(-1),
    })
    lim = float(np.nanmax(np.abs(values))) if values.size else 1.0
    df = df.rename(columns={"x0": "position"})
    return hv.Rectangles(df, kdims=[X_DIM, "row0", "x1", "row1"], vdims=["pos", "ref", "alt", "effect"]).opts(
        color="effect", cmap="RdBu_r", clim=(-lim or -1, lim or 1), line_width=0, colorbar=True,
        tools=["hover", "tap", "xwheel_zoom", "xpan"], default_tools=["save", "reset"],
        active_tools=["xwheel_zoom", "xpan"], yticks=[(3.5, "A"), (2.5, "C"), (1.5, "G"), (0.5, "T")],
        # a clicked cell is outlined; the others keep their colour, so the map stays readable
        nonselection_fill_alpha=1.0, selection_line_color="black", selection_line_width=2,
        hover_tooltips=[("position", "@pos{0,0}"), ("substitution", "@ref>@alt"), ("effect", "@effect{0.0000}")],
    )


def seqlet_boxes(seqlets: pd.DataFrame, labels: list[str], y_top: float, height: float) -> hv.Overlay:
    """Labelled boxes above the logo marking seqlets (``genome_start``/``genome_end``, 0-based)."""
    if seqlets is None or len(seqlets) == 0:
        return hv.Rectangles([], kdims=[X_DIM, "y0", "x1", "y1"]) * hv.Labels([], kdims=[X_DIM, "y"])
    x0 = seqlets["genome_start"].to_numpy() + 0.5
    x1 = seqlets["genome_end"].to_numpy() + 0.5
    rects = hv.Rectangles(
        pd.DataFrame({"position": x0, "y0": y_top, "x1": x1, "y1": y_top + height, "label": labels}),
        kdims=[X_DIM, "y0", "x1", "y1"], vdims=["label"],
    ).opts(fill_alpha=0.15, fill_color="#7b3294", line_color="#7b3294", tools=["hover"],
           hover_tooltips=[("seqlet", "@label")])
    text = hv.Labels(pd.DataFrame({"position": (x0 + x1) / 2, "y": y_top + height * 1.6, "label": labels}),
                     kdims=[X_DIM, "y"], vdims=["label"]).opts(text_font_size="9pt", text_color="#54278f")
    return rects * text


def annotation_boxes(annotations: pd.DataFrame, start: int, end: int, width_px: int = 1000) -> hv.Overlay:
    """Gene/feature boxes for the overview (coordinates 0-based half-open, drawn 1-based).

    Gene names go on as many rows as keep them from overlapping at a plot ``width_px`` wide
    (see :func:`explorer.plots.transforms.label_rows`).
    """
    ann = drawn_features(annotations)
    if ann.empty:
        return hv.Rectangles([], kdims=[X_DIM, "y0", "x1", "y1"]) * hv.Labels([], kdims=[X_DIM, "y"])
    level = {"gene": 0.0, "exon": 0.0, "repeat_region": -1.2}
    height = {"gene": 0.3, "exon": 0.8, "repeat_region": 0.5}
    df = pd.DataFrame({
        "position": ann["start"].clip(lower=start) + 0.5, "x1": ann["end"].clip(upper=end) + 0.5,
        "y0": [level[t] - height[t] / 2 for t in ann["type"]],
        "y1": [level[t] + height[t] / 2 for t in ann["type"]],
        "name": ann["name"].astype(str), "type": ann["type"].astype(str),
        "color": ann["type"].map(FEATURE_COLORS),
    })
    rects = hv.Rectangles(df, kdims=[X_DIM, "y0", "x1", "y1"], vdims=["name", "type", "color"]).opts(
        color="color", line_width=0, tools=["hover"], yaxis=None,
        hover_tooltips=[("name", "@name"), ("feature", "@type"), ("from", "@position{0,0}"), ("to", "@x1{0,0}")])
    genes = df[df["type"] == "gene"]
    centres = ((genes["position"] + genes["x1"]) / 2).to_numpy()
    bp_per_char = 7.0 * (end - start) / width_px  # about 7 px per character at 9 pt
    rows = label_rows(centres, genes["name"].str.len().to_numpy() * bp_per_char + 2 * bp_per_char)
    labels = hv.Labels(pd.DataFrame({"position": centres, "y": 0.8 + 0.9 * rows, "name": genes["name"]}),
                       kdims=[X_DIM, "y"], vdims=["name"]).opts(text_font_size="9pt", text_color="#6a51a3")
    top = 1.2 + 0.9 * (int(rows.max()) + 1 if len(rows) else 1)
    return (rects * labels).opts(hv.opts.Overlay(ylim=(-1.8, top)))

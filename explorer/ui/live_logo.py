"""The letters of the attribution track, drawn into the Bokeh figure once and updated as the
view zooms: only their data source changes (no figure is rebuilt), and the per-base bars
are hidden while letters are shown. Letters once sent stay in the browser: a view over bases
already drawn sends nothing, and a new one sends only the letters of the bases it adds
(``ColumnDataSource.stream``), up to :data:`MAX_SENT_COLUMNS` bases, after which the source
starts again from the view.

Coordinates: views are 1-based screen spans (see :mod:`explorer.ui.navigation`).
"""

from __future__ import annotations

import numpy as np

from explorer.plots.tracks import MAX_LOGO_POSITIONS, logo_columns, logo_tooltips
from explorer.plots.transforms import visible_indices

#: most window columns whose letters a figure's source holds (about 0.4 kB per base)
MAX_SENT_COLUMNS = 2_000


class LiveLogo:
    """Letters of one attribution map in one tracks figure.

    Parameters
    ----------
    att : explorer.Attribution
        The map drawn (its ``contribution``, shape ``(4, L)``, at ``genome_start``).
    label : str
        Name of the value in the hover.
    """

    def __init__(self, att, label: str = "attribution"):
        self.att, self.label = att, label
        self.contribution = att.contribution.numpy()
        self.first = att.genome_start + 1
        self.figure = self.source = self.renderer = None
        self.bars: list = []
        #: the window columns (0-based half-open) whose letters the last view asked for
        self.drawn: tuple[int, int] | None = None
        #: the column spans (0-based half-open, sorted, disjoint) whose letters are in the source
        self.sent: list[tuple[int, int]] = []

    def hook(self, plot, element) -> None:
        """HoloViews hook: add the letters' renderer to the figure (once per figure) and draw
        the letters of its current range."""
        from bokeh.models import ColumnDataSource, HoverTool, Segment

        fig = plot.state
        if fig is not self.figure:
            self.figure, self.drawn, self.sent = fig, None, []
            self.source = ColumnDataSource(logo_columns(np.zeros((4, 0)), self.first, label=self.label))
            self.renderer = fig.multi_polygons(xs="xs", ys="ys", source=self.source, fill_color="color",
                                               line_width=0, visible=False)
            fig.add_tools(HoverTool(renderers=[self.renderer], tooltips=logo_tooltips(self.label)))
            self.bars = [r for r in fig.renderers if isinstance(getattr(r, "glyph", None), Segment)]
        self.show((fig.x_range.start, fig.x_range.end))

    def show(self, view) -> None:
        """Letters when at most :data:`MAX_LOGO_POSITIONS` bases are in ``view``, else the bars.

        The letters of half a view more on each side are drawn, so small pans need no update;
        letters already in the source are not sent again.
        """
        if self.source is None:
            return
        shown = visible_indices(view, self.first, self.contribution.shape[1], margin=1)
        if shown is None:
            return
        lo, hi = shown
        letters = hi - lo <= MAX_LOGO_POSITIONS
        if letters and (self.drawn is None or not (self.drawn[0] <= lo and hi <= self.drawn[1])):
            pad = (hi - lo) // 2
            a, b = max(0, lo - pad), min(self.contribution.shape[1], hi + pad)
            self._send(a, b)
            self.drawn = (a, b)
        if self.renderer.visible != letters:
            self.renderer.visible = letters
            for bar in self.bars:
                bar.visible = not letters

    def _send(self, a: int, b: int) -> None:
        """Put the letters of columns ``[a, b)`` in the source, sending only those missing."""
        missing = _missing((a, b), self.sent)
        if not missing:
            return
        if sum(hi - lo for lo, hi in self.sent) + sum(hi - lo for lo, hi in missing) > MAX_SENT_COLUMNS:
            self.sent, missing = [], [(a, b)]  # too much kept: start again from this view
            self.source.data = self._columns(a, b)
        else:
            new = [self._columns(lo, hi) for lo, hi in missing]
            self.source.stream({k: [v for part in new for v in part[k]] for k in new[0]})
        self.sent = _merged(self.sent + missing)

    def _columns(self, a: int, b: int) -> dict:
        return logo_columns(self.contribution[:, a:b], self.first + a, label=self.label)


def _missing(span: tuple[int, int], have: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The parts of ``span`` (half-open) outside the sorted, disjoint spans ``have``."""
    lo, hi = span
    out = []
    for a, b in have:
        if b <= lo or a >= hi:
            continue
        if a > lo:
            out.append((lo, a))
        lo = max(lo, b)
    if lo < hi:
        out.append((lo, hi))
    return out


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted, disjoint union of half-open spans (touching ones joined)."""
    out: list[list[int]] = []
    for a, b in sorted(spans):
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [(a, b) for a, b in out]

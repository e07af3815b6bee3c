"""The letters of the attribution track, drawn into the Bokeh figure once and updated as the
view zooms: only their data source changes (no figure is rebuilt), and the per-base bars
are hidden while letters are shown.

Coordinates: views are 1-based screen spans (see :mod:`explorer.ui.navigation`).
"""

from __future__ import annotations

import numpy as np

from explorer.plots.tracks import MAX_LOGO_POSITIONS, logo_columns, logo_tooltips
from explorer.plots.transforms import visible_indices


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
        #: the window columns (0-based half-open) whose letters are in the source
        self.drawn: tuple[int, int] | None = None

    def hook(self, plot, element) -> None:
        """HoloViews hook: add the letters' renderer to the figure (once per figure) and draw
        the letters of its current range."""
        from bokeh.models import ColumnDataSource, HoverTool, Segment

        fig = plot.state
        if fig is not self.figure:
            self.figure, self.drawn = fig, None
            self.source = ColumnDataSource(logo_columns(np.zeros((4, 0)), self.first, label=self.label))
            self.renderer = fig.multi_polygons(xs="xs", ys="ys", source=self.source, fill_color="color",
                                               line_width=0, visible=False)
            fig.add_tools(HoverTool(renderers=[self.renderer], tooltips=logo_tooltips(self.label)))
            self.bars = [r for r in fig.renderers if isinstance(getattr(r, "glyph", None), Segment)]
        self.show((fig.x_range.start, fig.x_range.end))

    def show(self, view) -> None:
        """Letters when at most :data:`MAX_LOGO_POSITIONS` bases are in ``view``, else the bars.

        The letters of half a view more on each side are drawn, so small pans need no update.
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
            self.source.data = logo_columns(self.contribution[:, a:b], self.first + a, label=self.label)
            self.drawn = (a, b)
        if self.renderer.visible != letters:
            self.renderer.visible = letters
            for bar in self.bars:
                bar.visible = not letters

"""Serve the explorer: ``panel serve app.py`` (or ``make demo``)."""

import panel as pn

pn.extension()

pn.Column(
    "# Attribution and motif explorer",
    "The explorer's views are being built; the Python API is ready (`import explorer as ex`).",
).servable(title="Attribution and motif explorer")

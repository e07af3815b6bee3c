"""The app's parts for long-context models (Enformer, Borzoi): the target search box, the
choice of predicted tracks and the overview of those tracks.

State lives in :class:`explorer.ui.state.ExplorerState` (``task_search``, ``task_problem``,
``shown_tracks``, ``track_predictions``, ``targets_path``); these are its widgets and its
overview figure, built with the pure builder :func:`explorer.plots.bins.track_bands`.
No science here.
"""

from __future__ import annotations

import holoviews as hv
import panel as pn

from explorer.plots.bins import track_bands
from explorer.plots.figures import Overview, overview
from explorer.ui.state import binned

#: the search box's placeholder (browser tests find the box by it)
SEARCH_PLACEHOLDER = "type part of a target, e.g. CAGE:HepG2, or a contrast A - B"


def target_search(state) -> pn.Column:
    """The target search box (shown for binned models and models with many targets) and the
    message for a typed or linked target that could not be used."""
    p = state.param
    box = pn.widgets.TextInput.from_param(p.task_search, placeholder=SEARCH_PLACEHOLDER, sizing_mode="stretch_width",
                                          visible=pn.bind(lambda m, many: many or binned(m), p.model,
                                                          p.many_targets))
    problem = pn.pane.Alert(p.task_problem, alert_type="warning", visible=pn.bind(bool, p.task_problem),
                            sizing_mode="stretch_width")
    return pn.Column(box, problem, sizing_mode="stretch_width", margin=0)


def track_choice(state) -> pn.widgets.MultiChoice:
    """The predicted tracks the overview shows, by name (a binned model only)."""
    p = state.param
    return pn.widgets.MultiChoice.from_param(p.shown_tracks, sizing_mode="stretch_width", search_option_limit=50,
                                             visible=pn.bind(binned, p.model))


def targets_box(state) -> pn.widgets.TextInput:
    """The targets table of a model folder (blank: the targets.txt in or beside it)."""
    return pn.widgets.TextInput.from_param(state.param.targets_path, placeholder="targets.txt",
                                           sizing_mode="stretch_width")


def binned_overview(locus, frame, tracks, window) -> Overview:
    """The overview of a binned model: its predicted tracks, one band each, over the genes."""
    bands = track_bands(frame, list(tracks), chrom=locus.chrom,
                        window=(window.start, window.end) if window is not None else None)
    genes = overview(locus, None, window, []).genes
    return Overview(bands.bands if isinstance(bands.bands, hv.Overlay) else hv.Overlay([bands.bands]), genes,
                    bands.picker)

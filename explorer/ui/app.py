"""The explorer page: a sidebar of inputs and linked views of the state.

``Explorer()`` with no arguments opens the sample model on the sample locus. In Jupyter,
display the object; in a server, ``Explorer().servable()`` (see ``app.py``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import io
import time

import holoviews as hv
import numpy as np
import pandas as pd
import panel as pn

import explorer as ex
from explorer.io.export import attribution_csv, attribution_npz, seqlet_labels, seqlets_bed
from explorer.plots.figures import attribution_tracks, ism_heatmap, overview, stacked, x_bounds_hook
from explorer.plots.static import aligned_motif_figure, figure_bytes, logo_figure
from explorer.plots.tracks import drawn_features
from explorer.plots.transforms import ism_cell
from explorer.ui.files import size_words
from explorer.ui.help import first_run, heading
from explorer.ui.live_logo import LiveLogo
from explorer.ui.jobs import Debouncer, attribution_key, motif_key, release_memory_soon, shared_executor
from explorer.ui.navigation import parse_position, ruler_words, window_span, zoom_view
from explorer.ui.progress import Throughput
from explorer.ui.session import in_session, last_result
from explorer.ui.state import METHOD_LABELS, ExplorerState
from explorer.ui.tracks_view import binned_overview, target_search, targets_box, track_choice
from explorer.ui.variants_view import VariantsView

#: seconds after the app moved the tracks during which a browser report of the view it
#: replaced is taken as stale (queued before the move) and ignored
STALE_REPORT_SECONDS = 3.0
#: the region box's placeholder (browser tests find the box by it)
REGION_PLACEHOLDER = "chrom:start-end, e.g. HUMHBB:29,211-31,210"

#: the model box's placeholder (browser tests find the box by it)
MODEL_PLACEHOLDER = "a model file, or an Enformer/Borzoi folder"

#: how long a finished map waits for its motifs before it is drawn alone, in seconds (the
#: motif step takes a fraction of a second for a 2 kb window: one redraw instead of two)
MOTIFS_WAIT_SECONDS = 1.0
#: the page's fonts: the viewer's own, so nothing is fetched from a font service
SYSTEM_FONTS = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"


def _no_web_fonts() -> None:
    """Drop the Open Sans web font that Panel's Fast design loads from fonts.googleapis.com.

    The app is used offline (demo rooms, notebooks on a plane): a page must not wait for, or
    log errors about, a font service. Panel offers no switch for it, so the design's font
    resource is removed (every other resource is served by the app itself).
    """
    from panel.theme.fast import Fast

    if "font" in Fast._resources:
        Fast._resources = {k: v for k, v in Fast._resources.items() if k != "font"}


def canvas_rendering() -> None:
    """Draw the plots on a 2D canvas, not WebGL (HoloViews' default).

    The views are a few thousand glyphs at most, which a 2D canvas draws quickly; WebGL in a
    browser without GPU acceleration (a virtual machine, a remote desktop, headless Chromium)
    is emulated in software, and copying its buffer onto the page after every repaint cost
    about 7 s of browser CPU for one ISM page (measured in Chromium, tests/test_load.py).
    The setting is HoloViews' own, for the whole process: in a notebook, the user's other
    HoloViews plots then draw on a canvas too (``hv.renderer("bokeh").webgl = True`` undoes it).
    """
    from holoviews.plotting.bokeh import BokehRenderer

    BokehRenderer.webgl = False
    hv.renderer("bokeh").webgl = False


def _card(*objects, title: str, collapsed: bool, **params) -> pn.Card:
    """A sidebar card whose title shows whether it is open (the design draws no arrow)."""
    card = pn.Card(*objects, title=title, collapsed=collapsed, **params)

    def arrow(event=None):
        card.title = f"{'▸' if card.collapsed else '▾'} {title}"

    arrow()
    card.param.watch(arrow, "collapsed")
    return card


class Explorer(pn.viewable.Viewer):
    """Interactive attribution and motif explorer (a Panel viewer).

    Parameters
    ----------
    model : ExplorerModel, str or None
        A loaded model or a model file; None: the sample model.
    locus : Locus or None
        None: the sample locus (human beta-globin, GenBank U01317) at its default window.
    roots : list of paths, optional
        Folders the app may read files from (default: ``sample_data/`` plus
        ``$EXPLORER_DATA_DIRS``). Uploaded files go to a folder of the session in the
        cache, readable by that session only.
    upload_limits : dict, optional
        Largest upload per kind (``"model"``, ``"locus"``, ``"meme"``, ``"measured"``), in
        bytes (default :data:`explorer.ui.files.UPLOAD_LIMITS`).
    autorun : bool
        Compute the default method on the default window at start.
    allow_pickles : bool, optional
        Offer 'I trust this file' for full pickles. Default: what the server's operator set
        in ``$EXPLORER_ALLOW_PICKLES`` (off). In a notebook, ``allow_pickles=True`` is the
        user's own choice, as ``load_model(trusted=True)`` is.
    results : str or Path, optional
        Output folder of a batch run (``python -m explorer attribute --out DIR``): its
        regions are listed, ranked, in the sidebar, and a click opens one
        (:class:`explorer.ui.batch_list.BatchRegions`). The run's files must lie in ``roots``.
    """

    def __init__(self, model=None, locus=None, roots=None, autorun: bool = True, upload_limits=None,
                 allow_pickles: bool | None = None, results=None, **params):
        super().__init__(**params)
        pn.extension("tabulator", notifications=False)
        hv.extension("bokeh", logo=False)
        canvas_rendering()
        self.state = ExplorerState(model=model, locus=locus, roots=roots, upload_limits=upload_limits,
                                   allow_pickles=allow_pickles)
        # Bokeh's live x range of the tracks and the stream that reports the browser's zooms: the
        # only view objects kept here, because a zoom must move the plot in the browser
        # (state.x_range holds the range itself)
        self._bokeh_range = None
        self._range_stream = None
        self._replaced = None  # (the view _show replaced, when): stale reports of it are ignored
        self._letters = None  # the letters of the tracks shown (explorer.ui.live_logo.LiveLogo)
        self._drawn_window = None  # the screen span of the window last drawn in the tracks
        self._reverting = False  # the inputs are being put back after a Cancel: start no job
        self._build_widgets()
        self._autorun = autorun
        if autorun:  # the result is kept on this server: the page opens drawn, with no job
            self.show_kept()
        if results is not None:
            from explorer.ui.batch_list import BatchRegions

            self.batch_regions = BatchRegions(self.state, results)
            self.sidebar.insert(1, pn.Card(self.batch_regions, title="Batch run: regions", collapsed=False,
                                           sizing_mode="stretch_width"))
        self._build_views()
        self.state.param.watch(self._on_inputs_changed, ["window", "task", "method", "ig_baseline",
                                                         "ig_steps", "n_shuffles", "dls_shuffles", "ism_fast"])
        self.state.param.watch(self._on_seqlet_options, ["seqlet_threshold", "seqlet_null"])
        # computations go to the process's shared pool; input changes start one after a pause
        self._debounce = Debouncer(self._start)  # (which computes only what is not shown yet)
        self._tickets: set = set()
        if pn.state.curdoc is not None and pn.state.curdoc.session_context is not None:
            pn.state.on_session_destroyed(self._on_session_destroyed)
        if autorun:
            pn.state.onload(self._start)

    # -- layout -----------------------------------------------------------------------
    def _build_widgets(self):
        s = self.state
        p = s.param
        self.w_task = pn.widgets.Select.from_param(p.task)
        self.w_method = pn.widgets.Select.from_param(p.method)
        self.w_bookmark = pn.widgets.Select.from_param(p.bookmark)
        self.w_region = pn.widgets.TextInput.from_param(p.region, placeholder=REGION_PLACEHOLDER)
        self.run_button = pn.widgets.Button(name="Compute", button_type="primary")
        self.cancel_button = pn.widgets.Button(name="Cancel", button_type="warning",
                                               disabled=pn.bind(lambda busy: not busy, p.busy))
        self.run_button.on_click(self._on_run_click)
        self.cancel_button.on_click(self._on_cancel)
        self.w_model_path = pn.widgets.TextInput.from_param(p.model_path, placeholder=MODEL_PLACEHOLDER)
        self.w_targets_path = targets_box(s)  # Enformer/Borzoi folders (explorer.ui.tracks_view)
        self.w_task_search, self.w_tracks = target_search(s), track_choice(s)
        # shown only where full pickles may be opened at all (the operator's setting)
        self.w_trust = pn.widgets.Checkbox.from_param(p.trust_model, visible=self.state.allow_pickles)
        self.load_model_button = pn.widgets.Button(name="Load model")
        self.load_model_button.on_click(lambda e: self._open_model_panel(self.state.load_model()))
        # uploads: one file input per kind (drop a file on it, or click to choose)
        self.uploads = {}
        for kind, label in (("model", "Model"), ("locus", "Locus (FASTA or GenBank, .gz ok)"),
                            ("meme", "Motifs (MEME file)"), ("measured", "Measured effects (TSV/CSV)")):
            limit = size_words(self.state.upload_limits[kind])
            widget = pn.widgets.FileInput(name=f"{label}, up to {limit}", sizing_mode="stretch_width")
            widget.param.watch(functools.partial(self._on_upload, kind), "value")
            self.uploads[kind] = widget
        self.w_locus_path = pn.widgets.TextInput.from_param(p.locus_path)
        self.w_paste = pn.widgets.TextAreaInput.from_param(p.pasted_sequence, height=80)
        self.load_locus_button = pn.widgets.Button(name="Load locus")
        self.load_locus_button.on_click(lambda e: self.state.load_locus())
        method_options = pn.Column(
            pn.widgets.Select.from_param(p.ig_baseline), pn.widgets.IntInput.from_param(p.ig_steps),
            pn.widgets.IntInput.from_param(p.n_shuffles), pn.widgets.IntInput.from_param(p.dls_shuffles),
            pn.widgets.Select.from_param(p.ism_fast),
        )
        motif_options = pn.Column(
            pn.widgets.Select.from_param(p.jaspar_release), pn.widgets.Select.from_param(p.jaspar_collection),
            pn.widgets.Select.from_param(p.jaspar_tax_group), pn.widgets.TextInput.from_param(p.meme_path),
            pn.widgets.Select.from_param(p.seqlet_null),
            pn.widgets.FloatInput.from_param(p.seqlet_threshold, step=0.005, format="0.[0000]"),
        )
        # what one loads first comes first, open: the model, then the locus
        card = functools.partial(_card, sizing_mode="stretch_width", margin=(4, 0))
        self.sidebar = pn.Column(
            card(pn.Column(self.uploads["model"], self.w_model_path, self.w_targets_path, self.w_trust,
                           self.load_model_button),
                 title="Model", collapsed=False),
            card(pn.Column(self.uploads["locus"], self.w_locus_path, self.w_paste, self.load_locus_button),
                 title="Locus", collapsed=False),
            pn.pane.Markdown("### What to explain"),
            self.w_task_search, self.w_task, self.w_method, self.w_bookmark, self.w_region,
            pn.Row(self.run_button, self.cancel_button),
            card(method_options, title="Method options", collapsed=True),
            card(pn.Column(self.uploads["meme"], motif_options), title="Motif database", collapsed=True),
            card(pn.Column(self.uploads["measured"]), title="Measured variant effects", collapsed=True),
            width=320,
        )

    def _build_views(self):
        s = self.state
        p = s.param
        self.message = pn.pane.Alert(p.message, alert_type=p.message_kind, visible=pn.bind(bool, p.message),
                                     sizing_mode="stretch_width")
        # a typed or linked region that could not be used: shown until a valid one is
        self.region_problem = pn.pane.Alert(p.region_problem, alert_type="warning",
                                            visible=pn.bind(bool, p.region_problem), sizing_mode="stretch_width")
        # the progress bar follows the job from the UI loop (see _await): the worker thread
        # only writes state.job.fraction, which nothing watches
        self.progress = pn.indicators.Progress(value=0, max=100, visible=p.busy, sizing_mode="stretch_width",
                                               bar_color="primary")
        self.progress_text = pn.pane.Markdown("", visible=p.busy)
        self.diagnostics = pn.pane.Markdown(p.diagnostics, styles={"color": "#555", "font-size": "0.9em"})
        figures = pn.bind(last_result(self._overview), p.locus, p.predictions, p.window, p.model,
                          p.track_predictions)
        self.overview_top = pn.pane.HoloViews(pn.bind(lambda f: f and f.scores, figures),
                                              sizing_mode="stretch_width", linked_axes=False)
        self.overview_genes = pn.pane.HoloViews(pn.bind(lambda f: f and f.genes, figures),
                                                sizing_mode="stretch_width", linked_axes=False,
                                                visible=pn.bind(lambda locus: locus is not None and
                                                                len(drawn_features(locus.annotations)) > 0, p.locus))
        self.tracks = pn.pane.HoloViews(pn.bind(self._tracks, p.attribution, p.ism, p.motifs),
                                        sizing_mode="stretch_width", linked_axes=False)
        self.navigation = self._navigation()
        self.substitution = pn.pane.Markdown(pn.bind(self._substitution, p.substitution, p.attribution, p.ism),
                                             sizing_mode="stretch_width")
        self.agreement = pn.pane.Markdown(pn.bind(self._agreement, p.attribution, p.motifs),
                                          sizing_mode="stretch_width")
        self.matches = pn.widgets.Tabulator(pn.bind(self._match_table, p.attribution, p.motifs), disabled=True,
                                            selectable=1, height=260, sizing_mode="stretch_width",
                                            show_index=False, pagination=None)
        self.matches.on_click(self._on_match_click)
        self.alignment = pn.pane.Matplotlib(None, dpi=100, tight=True, sizing_mode="stretch_width",
                                            format="svg", visible=False)
        self.exports = pn.Row(*self._export_buttons())
        self.model_panel = self._model_panel()
        self.variants = VariantsView(self.state)
        self.main = pn.Column(
            first_run(),
            self.region_problem, self.message, pn.Row(self.progress, self.progress_text), self.diagnostics,
            self.model_panel,
            heading("Locus overview", "overview"),
            self.w_tracks, self.overview_top, self.overview_genes,
            heading("Attribution of the window", "attribution"),
            self.navigation, self.tracks, self.substitution,
            heading("Motifs: seqlets and their best matches", "motifs"),
            self.agreement, self.matches, self.alignment,
            self.variants.panel,
            heading("Export", "export"), self.exports,
            sizing_mode="stretch_width",
        )

    def _navigation(self) -> pn.Row:
        """Genome-browser controls over the tracks: a position box, zoom buttons and the ruler line."""
        p = self.state.param
        self.w_position = pn.widgets.TextInput(name="", placeholder="Go to a position, e.g. 30,210 or 30,100-30,300",
                                               width=330)
        self.w_position.param.watch(self._on_position_typed, "value")
        buttons = []
        for name, factor, words in (("−", 2.0, "Zoom out (twice as wide)"), ("+", 0.5, "Zoom in (half as wide)"),
                                    ("Whole window", None, "Show the whole window")):
            button = pn.widgets.Button(name=name, description=words, width=44 if factor else 120)
            button.on_click(functools.partial(lambda f, e: self.zoom(f), factor))
            buttons.append(button)
        ruler = pn.pane.Markdown(pn.bind(self._ruler, p.x_range, p.attribution), margin=(12, 10, 0, 10))
        return pn.Row(self.w_position, *buttons, ruler, sizing_mode="stretch_width",
                      visible=pn.bind(lambda att: att is not None, p.attribution))

    def _window_bounds(self) -> tuple[float, float] | None:
        att = self.state.attribution
        return window_span(att.genome_start, att.genome_start + len(att)) if att is not None else None

    def _ruler(self, x_range, att) -> str:
        if att is None:
            return ""
        return ruler_words(x_range, att.chrom, self._window_bounds())

    def zoom(self, factor: float | None) -> None:
        """Zoom the tracks around their centre (``factor`` < 1 zooms in; None: the whole window)."""
        bounds = self._window_bounds()
        if bounds is None:
            return
        view = bounds if factor is None else zoom_view(self.state.x_range or bounds, factor, bounds)
        self._show(view)

    def _on_position_typed(self, event) -> None:
        # Panel applies a typed value inside the browser's own edit; a range change made there
        # does not reach the browser, so the move runs on the next tick (as a button's click does)
        doc = pn.state.curdoc if in_session() else None
        if doc is None:
            self.go_to(event.new)
        else:
            doc.add_next_tick_callback(lambda: self.go_to(event.new))

    def go_to(self, text: str) -> None:
        """Show the position or range typed in the position box (1-based), or say what is wrong."""
        bounds, att = self._window_bounds(), self.state.attribution
        if bounds is None or not text.strip():
            return
        lo, hi = self.state.x_range or bounds
        try:
            view = parse_position(text, att.chrom, bounds, hi - lo)
        except ValueError as exc:
            self.state.say(f"**Could not go to that position.** {exc}", "warning")
            return
        self._show(view)

    def _model_panel(self) -> pn.Card:
        """What the loader found about the model, with fields to correct it and a button that
        saves the corrections as the model's card."""
        s, p = self.state, self.state.param
        reload_button = pn.widgets.Button(name="Reload with these", button_type="primary")
        reload_button.on_click(lambda e: s.load_model(corrections=True))
        save_button = pn.widgets.Button(name="Save card")
        save_button.on_click(lambda e: s.save_card())
        fields = pn.Column(
            pn.widgets.TextInput.from_param(p.fix_tasks, sizing_mode="stretch_width"),
            pn.widgets.TextInput.from_param(p.fix_heads, sizing_mode="stretch_width"),
            pn.widgets.IntInput.from_param(p.fix_input_length, width=200),
            pn.Row(reload_button, save_button),
            pn.pane.Markdown("*Corrections reload the model with your names and length; "
                             "Save card keeps them beside the model file for the next load.*",
                             styles={"color": "#555"}),
            width=420,
        )
        title = pn.bind(lambda m: f"Model: what was found ({m.name})" if m is not None else "Model", p.model)
        return pn.Card(pn.Row(pn.pane.Markdown(p.model_summary, sizing_mode="stretch_width"), fields,
                              sizing_mode="stretch_width"),
                       title=title, collapsed=True, sizing_mode="stretch_width")

    def _open_model_panel(self, loaded: bool) -> None:
        if loaded:
            self.model_panel.collapsed = False

    def _on_upload(self, kind, event):
        """A file arrived in one of the upload inputs: hand it to the state."""
        widget = self.uploads[kind]
        if not event.new:
            return
        ok = self.state.upload(kind, widget.filename, event.new)
        if kind == "model":
            self._open_model_panel(ok)

    def __panel__(self):
        return pn.Row(self.sidebar, self.main, sizing_mode="stretch_width")

    def servable(self, title: str = "Attribution and motif explorer", **kwargs):
        """Serve in a template with the inputs in the sidebar and the URL kept in sync."""
        if pn.state.location is not None:
            pn.state.location.sync(self.state, {"region": "region", "task": "task", "method": "method"})
        _no_web_fonts()
        template = pn.template.FastListTemplate(
            title=title, sidebar=[self.sidebar], main=[self.main], sidebar_width=340,
            header_background="#3b1f5e", accent_base_color="#7b3294", font=SYSTEM_FONTS,
        )
        return template.servable(title=title, **kwargs)

    # -- rendering: functions of the state ------------------------------------------------
    def _overview(self, locus, predictions, window, model, track_predictions=None):
        """The overview's figures, with the box-select and tap streams of their picker.

        The streams are made with the figure they listen to (HoloViews links a stream to one
        element); their callbacks only set ``state.region``.
        """
        if locus is None or model is None:
            return None
        if track_predictions is not None:  # a binned model: its own tracks (explorer.ui.tracks_view)
            figures = binned_overview(locus, track_predictions, self.state.shown_tracks, window)
        else:  # the overview's curves: the score columns of ex.predict (the default head's channels)
            scores = [c for c in predictions.columns if c not in ("start", "end", "genome_start")] \
                if predictions is not None else []
            figures = overview(locus, predictions, window, scores)
        if figures.picker is not None and track_predictions is None:
            hv.streams.BoundsX(source=figures.picker).add_subscriber(self._on_bounds)
        if figures.picker is not None:
            hv.streams.Tap(source=figures.picker).add_subscriber(self._on_overview_tap)
        return figures

    def _on_bounds(self, boundsx=None, **kwargs):
        if not boundsx or self.state.locus is None:
            return
        lo, hi = sorted(boundsx)
        start = max(self.state.locus.start, int(round(lo - 0.5)))
        end = min(self.state.locus.end, int(round(hi - 0.5)))
        if end - start >= max(self.state.model.min_length, 10):
            self.state.region = str(self.state.locus.subregion(start, end).region)

    def _on_overview_tap(self, x=None, y=None):
        """Centre the window on the clicked position, keeping its width."""
        s = self.state
        if x is None or s.locus is None or s.window is None:
            return
        width = len(s.window)
        start = int(round(x - 0.5)) - width // 2
        start = min(max(s.locus.start, start), s.locus.end - width)
        s.region = str(s.locus.subregion(start, start + width).region)

    def _tracks(self, att, ism, report):
        """The attribution track (its letters follow the zoom, see LiveLogo) over the ISM
        heatmap of the same window, when there is one."""
        if att is None:
            self._range_stream = self._letters = None
            return None
        seqlets = report.seqlets if report is not None else None
        labels = seqlet_labels(seqlets, report.matches if report is not None else None)
        # a new window opens whole (bars when wide, letters when narrow), as a genome browser
        # does; the same window redrawn (ISM chunks arriving, a new task) keeps its view
        full = window_span(att.genome_start, att.genome_start + len(att))
        kept = self.state.x_range
        same = self._drawn_window == full and kept is not None and full[0] <= kept[0] < kept[1] <= full[1]
        view = tuple(kept) if same else full
        self._drawn_window = full
        title = f"{METHOD_LABELS.get(att.method, att.method)} for {att.target}"
        # built once: a zoom only moves the range and updates the letters' data (LiveLogo)
        self._letters = LiveLogo(att)
        track = attribution_tracks(att, seqlets, labels, view, title=title).opts(
            hv.opts.Overlay(hooks=[x_bounds_hook(att), self._grab_range, self._letters.hook]))
        stream = hv.streams.RangeX(source=track)
        stream.add_subscriber(self._on_zoom)
        self._range_stream = stream
        panels = [track]
        if ism is not None and ism.genome_start == att.genome_start and len(ism) == len(att):
            heat = ism_heatmap(ism).opts(xlim=view, hooks=[x_bounds_hook(ism)])
            hv.streams.Selection1D(source=heat).add_subscriber(lambda index: self._on_ism_tap(index))
            panels.append(heat)
        return stacked(panels)

    def _substitution(self, words, att, ism):
        if ism is None or att is None or ism.genome_start != att.genome_start or len(ism) != len(att):
            return "*The ISM heatmap appears here once ISM has run on this window.*"
        return words or "*Click a cell of the heatmap to see that substitution and open it as a variant.*"

    @staticmethod
    def _agreement(att, report) -> str:
        if att is None:
            return "*Nothing computed for this window, task and method yet: press Compute.*"
        if report is None:
            return ""
        summary = getattr(report.agreement, "summary", str(report.agreement))
        return f"{report.seqlet_words} **Agreement with {report.database_name}.** {summary}"

    @staticmethod
    def _match_table(att, report) -> pd.DataFrame:
        if att is None or report is None:
            return pd.DataFrame()
        m = report.matches
        if m is None or not len(m):
            return pd.DataFrame({"message": ["No seqlet matched a known motif."]})
        sq = report.seqlets
        table = pd.DataFrame({
            "seqlet": m["seqlet"].astype(int),
            "rank": m["rank"].astype(int),
            "TF": m["tf_name"],
            "matrix ID": m["matrix_id"],
            "p": m["p_value"].map(lambda v: f"{v:.2g}"),
            "q": m["q_value"].map(lambda v: f"{v:.2g}"),
            "position (1-based)": [f"{sq.loc[i, 'genome_start'] + 1:,}-{sq.loc[i, 'genome_end']:,}" for i in m["seqlet"]],
            "strand": m["orientation"],
            "seqlet score": [round(float(sq.loc[i, "score"]), 3) for i in m["seqlet"]],
        })
        return table.reset_index(drop=True)

    # -- the visible range: the plot in the browser -> state.x_range ---------------------------
    def _grab_range(self, plot, element):
        """Bokeh hook: keep the tracks' live x range, and put what it shows in the state."""
        self._bokeh_range = plot.state.x_range
        if self._bokeh_range.start is not None and self._bokeh_range.end is not None:
            self.state.x_range = (float(self._bokeh_range.start), float(self._bokeh_range.end))

    def _on_zoom(self, x_range=None):
        """The browser's view moved (wheel, pan): letters or bars for it, and the ruler."""
        if x_range is not None and None not in tuple(x_range):
            view = tuple(float(v) for v in x_range)
            if self._replaced is not None:
                old, since = self._replaced
                if time.monotonic() - since < STALE_REPORT_SECONDS and np.allclose(view, old):
                    # the browser's report of the range it had before _show moved it (still in
                    # the stream's queue): the plot already shows the new range, keep it
                    return
                self._replaced = None
            self.state.x_range = view
            if self._letters is not None:
                self._letters.show(self.state.x_range)

    def _on_ism_tap(self, index):
        if not index or self.state.ism is None:
            return
        row, col = ism_cell(index[0])
        self.variants.open_cell(self.state.ism, row, col)

    def _on_match_click(self, event):
        report = self.state.motifs
        if report is None or report.matches is None or not len(report.matches):
            return
        row = report.matches.iloc[event.row]
        seqlet = report.seqlets.loc[int(row["seqlet"])]
        self.zoom_to(seqlet["genome_start"] - 10, seqlet["genome_end"] + 10)
        # the tracks move first; the alignment (a Matplotlib figure, tenths of a second) is drawn
        # after the range has gone to the browser
        self._after_the_move(functools.partial(self._draw_alignment, report, row, seqlet))

    def _after_the_move(self, action) -> None:
        """Run ``action`` after the tracks' range has been sent (see :meth:`_show`): two ticks
        later in a session, at once elsewhere."""
        doc = pn.state.curdoc if in_session() else None
        if doc is None:
            action()
        else:
            doc.add_next_tick_callback(lambda: doc.add_next_tick_callback(action))

    def _draw_alignment(self, report, row, seqlet) -> None:
        """The clicked match's seqlet over its known motif, aligned (below the motif table)."""
        if self.state.motifs is not report:  # another result came meanwhile
            return
        try:
            db = self.state.database()
            pwm = db.pwms[row["matrix_id"]] if hasattr(db, "pwms") else db[row["matrix_id"]]
            fig = aligned_motif_figure(
                np.asarray(seqlet["matrix"]), np.asarray(pwm), int(row["offset"]), str(row["orientation"]),
                int(seqlet["genome_start"]) + 1,
                seqlet_title=f"Seqlet {int(row['seqlet'])}: contribution",
                motif_title=f"{row['tf_name']} {row['matrix_id']} (q={row['q_value']:.1g})")
            self.alignment.object = fig
            self.alignment.visible = True
        except Exception as exc:  # noqa: BLE001
            self.state.report_error("draw the motif alignment", exc)

    def zoom_to(self, start0: int, end0: int) -> None:
        """Show 0-based half-open genome coordinates ``[start0, end0)`` in the tracks.

        The plot in the browser is moved here, imperatively: Bokeh owns the live range, and the
        browser reports every zoom back through the RangeX stream (which sets ``state.x_range``).
        """
        self._show(window_span(start0, end0))

    def _show(self, view: tuple[float, float]) -> None:
        """Move the tracks in the browser to the 1-based screen span ``view``."""
        lo, hi = view
        if self.state.x_range is not None:
            self._replaced = (tuple(self.state.x_range), time.monotonic())
        self.state.x_range = (lo, hi)
        if self._letters is not None:
            self._letters.show((lo, hi))
        if self._bokeh_range is None:
            return
        doc = pn.state.curdoc if in_session() else None
        if doc is None:
            self._bokeh_range.update(start=lo, end=hi)
        else:
            # the range goes in a message of its own, after the letters' new data: sent in one
            # message with them, BokehJS may redraw the figure on its previous range
            rng = self._bokeh_range
            doc.add_next_tick_callback(lambda: rng.update(start=lo, end=hi))

    # -- computing ---------------------------------------------------------------------
    def _start(self):
        if self.state.attribution is None and self.state.window is not None:
            self.run()

    def _on_inputs_changed(self, *events):
        if (self._autorun and not self._reverting and self.state.attribution is None
                and self.state.window is not None):
            if self.show_kept():
                return  # computed before on this server: shown at once
            if in_session():
                self._debounce.request()  # one job once the changes stop, not one per change
            else:
                self.run()

    def _on_session_destroyed(self, session_context):  # Bokeh checks the argument's name
        self.release()

    def release(self) -> None:
        """The page closed: leave the shared jobs and drop this session's results, so the
        server's memory returns to where it was (called on session destroy)."""
        self._debounce.cancel()
        self.state.job.cancel()
        for ticket in list(self._tickets):
            ticket.detach()
        self._tickets.clear()
        self.state.release()
        self._bokeh_range = self._range_stream = None
        release_memory_soon()

    def _on_seqlet_options(self, *events):
        """A new seqlet threshold or background: call the seqlets of the shown map again."""
        s = self.state
        att = s.attribution
        if att is None or s.busy or (att.diagnostics or {}).get("partial"):
            return
        job = s.shown_job()
        if not in_session():
            try:
                s.apply(s.run_motifs(job))
            except Exception as exc:  # noqa: BLE001
                s.report_error(s.motif_action(), exc)
            return
        pn.state.execute(functools.partial(self._motifs_async, job))

    def _shared_keys(self, method: str | None = None) -> tuple[tuple, tuple]:
        """The shared pool's keys of the attribution and of the motif job for the inputs now."""
        s = self.state
        method = method or s.method
        att_key = attribution_key(s.model, s.window, method, s.task, s.options(method))
        return att_key, self._motif_key(att_key)

    def _motif_key(self, attribution_job_key: tuple) -> tuple:
        s = self.state
        return motif_key(attribution_job_key, (s.jaspar_release, s.jaspar_collection, s.jaspar_tax_group,
                                               s.meme_path.strip()), s.seqlet_null, s.seqlet_threshold)

    def _submit_motifs(self, job, attribution_job_key, priority: float | None = None):
        """The motif job of ``job`` in the shared pool (shared with sessions asking the same);
        ``priority``: its place in the queue (default: now; see :class:`SharedExecutor
        <explorer.ui.jobs.SharedExecutor>`)."""
        s = self.state
        return shared_executor().submit(self._motif_key(attribution_job_key),
                                        lambda progress, on_chunk: s.run_motifs(job), priority=priority)

    def show_kept(self) -> bool:
        """Show the result of the inputs now if this server keeps it (the map and its motifs,
        computed by an earlier session or the warm start, :meth:`SharedExecutor.kept
        <explorer.ui.jobs.SharedExecutor.kept>`): no job, no progress bar. False when it is not kept."""
        s = self.state
        if s.model is None or s.window is None:
            return False
        try:
            s.check_ready()
            att_key, mot_key = self._shared_keys()
        except Exception:  # noqa: BLE001 - the normal run reports what is wrong
            return False
        pool = shared_executor()
        att, mot = pool.kept(att_key), pool.kept(mot_key)
        if att is None or mot is None:
            return False
        if s.busy:  # a job for earlier inputs: superseded
            s.job.cancel()
            self._set_busy(False)
        own_key = s._key(s.method)
        s.apply(dataclasses.replace(att, key=own_key))
        s.apply(dataclasses.replace(mot, key=own_key))
        s.say(f"Done: {METHOD_LABELS[s.method]} for {s.task} (computed earlier on this server).", "success")
        return True

    async def _motifs_async(self, job):
        s = self.state
        generation = s.job.generation
        self._set_busy(True, "Calling seqlets and matching them with the motif database...")
        try:
            result = await self._await(self._submit_motifs(
                job, attribution_key(s.model, s.window, job.method, s.task, s.options(job.method))), generation)
            if result is not None:
                s.apply(dataclasses.replace(result, key=job.key))
                s.say(f"Seqlets called again: {result.motifs.seqlet_words}", "success")
        except Exception as exc:  # noqa: BLE001
            s.report_error(s.motif_action(), exc)
        finally:
            if s.job.current(generation):
                self._set_busy(False)

    def _on_run_click(self, event):
        self._debounce.cancel()
        self.run()

    def _on_cancel(self, event):
        self.cancel()

    def cancel(self) -> None:
        """Stop the running job and show the last complete result again, with its inputs."""
        s = self.state
        s.job.cancel()
        self._set_busy(False)
        self._reverting = True
        try:
            s.back_to_shown()
        finally:
            self._reverting = False
        kept = (f"the {METHOD_LABELS.get(s.attribution.method, s.attribution.method)} result for "
                f"{s.attribution.target} on {s.window.region} is shown again" if s.attribution is not None
                else "nothing was computed before it")
        s.say(f"Cancelled; {kept}.", "warning")

    def run(self, method: str | None = None):
        """Compute off the UI thread (with progress and cancel)."""
        if not in_session():
            return self._run_blocking(method)
        return pn.state.execute(functools.partial(self._run_async, method))

    def _run_blocking(self, method=None):
        """Compute here and now (scripts, tests, and the app run of a ``panel serve --warm``
        start); the results are offered to the shared pool, so pages asking the same open drawn."""
        s = self.state
        method = method or s.method
        try:
            att_key, mot_key = self._shared_keys(method) if s.model is not None and s.window is not None \
                else (None, None)
            job = s.run_job(method)
            s.apply(job)
            result = s.run_motifs(job)
            s.apply(result)
            shared_executor().keep(att_key, job)
            shared_executor().keep(mot_key, result)
            s.say(f"Done: {METHOD_LABELS[method]} for {s.task}.", "success")
        except Exception as exc:  # noqa: BLE001
            s.report_error("compute the attribution", exc)

    async def _run_async(self, method=None):
        s, job = self.state, self.state.job
        generation = job.start()
        method = method or s.method
        try:
            s.check_ready(method)
        except Exception as exc:  # noqa: BLE001
            s.report_error("compute the attribution", exc)
            return

        def progress(fraction):  # called in the worker thread: a plain write, nothing watches it
            job.fraction = min(max(float(fraction), 0.0), 1.0)
            return job.current(generation)

        s.say("")  # the last job's words (an old error) do not stand beside a new progress bar
        self._set_busy(True, f"Computing {METHOD_LABELS[method]} for {s.task}...")
        t0 = time.perf_counter()
        # both jobs of this request queue by the time it was made: a page's motifs come before
        # the maps that later pages asked for (see explorer.ui.jobs)
        asked = time.monotonic()
        chunks = job.chunks  # appended to by the worker thread (list.append is atomic), read on the loop
        view = s.view_indices()
        # this session's key of the result, and the key shared with every session asking the same
        own_key, shared_key = s._key(method), attribution_key(s.model, s.window, method, s.task, s.options(method))
        try:
            ticket = shared_executor().submit(
                shared_key, lambda shared_progress, on_chunk: s.run_job(method, shared_progress, on_chunk=on_chunk,
                                                                        view=view),
                progress=progress, on_chunk=lambda a, b, v: chunks.append((a, b, v)), priority=asked)
            result = await self._await(ticket, generation, t0)
            job.partial = None
            if result is None:
                return
            result = dataclasses.replace(result, key=own_key)
            self.progress_text.object = "Calling seqlets and matching them with the motif database..."
            self.progress.value = 100
            motif_ticket = self._submit_motifs(result, shared_key, priority=asked)
            # the map waits a moment for its motifs, so that the page redraws once, with both
            if not await self._finished_within(motif_ticket, MOTIFS_WAIT_SECONDS) and job.current(generation):
                s.apply(result)
            try:
                motifs = await self._await(motif_ticket, generation)
            except Exception as exc:  # noqa: BLE001 - the map is shown; the motif step says what failed
                if job.current(generation):
                    s.apply(result)
                    s.report_error(s.motif_action(), exc)
                return
            if motifs is None:
                return
            s.apply(dataclasses.replace(motifs, key=own_key))
            s.say(f"Done: {METHOD_LABELS[method]} for {s.task} in {time.perf_counter() - t0:.1f} s.", "success")
        except ex.Cancelled:
            pass  # cancel() has put the previous result back and said so
        except Exception as exc:  # noqa: BLE001
            s.report_error("compute the attribution", exc)
        finally:
            if job.current(generation):
                self._set_busy(False)

    async def _finished_within(self, ticket, seconds: float) -> bool:
        """Whether the job of ``ticket`` finishes (or has finished) within ``seconds``."""
        if not ticket.future.done():
            await asyncio.wait([self._follow(ticket)], timeout=seconds)
        return ticket.future.done()

    async def _await(self, ticket, generation, t0=None):
        """Wait for the shared job of ``ticket`` while showing progress and ISM chunks; None
        if superseded (the ticket is then detached: the job stops unless another session
        waits for it).

        Imperative on purpose: the worker thread must not touch the page, so this loop on the
        UI thread polls ``state.job`` every 0.25 s and pushes what it finds.
        """
        job = self.state.job
        if ticket.future.done():  # a result the pool keeps: no waiting, no progress to show
            return ticket.future.result() if job.current(generation) else None
        future = self._follow(ticket)
        rate = Throughput()
        while not future.done():
            await asyncio.sleep(0.25)
            if not job.current(generation):
                ticket.detach()
                return None
            self.state.show_chunks()
            if t0 is not None:
                now = time.perf_counter()
                rate.add(now, job.fraction)
                self.progress.value = int(100 * job.fraction)
                self.progress_text.object = rate.words(now - t0)
        if not job.current(generation):  # superseded or the page closed (the ticket was detached)
            return None
        result = await future
        return result if job.current(generation) else None

    def _follow(self, ticket) -> asyncio.Future:
        """``ticket``'s result as an asyncio future; the ticket is held (to detach it when the
        session closes) until it resolves."""
        self._tickets.add(ticket)
        ticket.future.add_done_callback(lambda f: self._tickets.discard(ticket))
        return asyncio.wrap_future(ticket.future)

    def _set_busy(self, busy: bool, text: str = ""):
        """Show or hide the progress bar (bound to ``state.busy``) and enable Cancel while a job runs."""
        self.progress.value = 0
        self.progress_text.object = text
        self.state.busy = busy

    # -- exports (the files are written by explorer.io.export and explorer.plots.static) ------
    def _export_buttons(self):
        def make(filename, callback, label):
            return pn.widgets.FileDownload(callback=callback, filename=filename, label=label,
                                           button_type="light", embed=False)
        return [
            make("logo.png", lambda: self._logo_bytes("png"), "Logo (PNG)"),
            make("logo.svg", lambda: self._logo_bytes("svg"), "Logo (SVG)"),
            make("attribution.npz", self._npz, "Attribution (NPZ)"),
            make("attribution.csv", self._csv, "Attribution (CSV)"),
            make("seqlets.bed", self._bed, "Seqlets and hits (BED)"),
        ]

    def _require(self):
        if self.state.attribution is None:
            raise ValueError("nothing to export yet: compute an attribution first")
        return self.state.attribution

    def _logo_bytes(self, fmt):
        att = self._require()
        shown = self.state.visible_indices(att.genome_start, len(att))
        lo, hi = shown if shown is not None and shown[1] - shown[0] >= 5 else (0, len(att))
        fig = logo_figure(att.contribution.numpy()[:, lo:hi], att.genome_start + 1 + lo,
                          title=f"{att.chrom}:{att.genome_start + lo + 1:,}-{att.genome_start + hi:,} · "
                                f"{METHOD_LABELS.get(att.method, att.method)} · {att.target}")
        return io.BytesIO(figure_bytes(fig, fmt))

    def _npz(self):
        return io.BytesIO(attribution_npz(self._require()))

    def _csv(self):
        return io.StringIO(attribution_csv(self._require()))

    def _bed(self):
        self._require()
        report = self.state.motifs
        if report is None:
            return io.StringIO("\n")
        labels = seqlet_labels(report.seqlets, report.matches)
        return io.StringIO(seqlets_bed(self.state.window.chrom, report.seqlets, labels, report.hits))


_WARMED = False


def warm_in_background() -> None:
    """Once per process: draw a motif alignment (tangermeme's plotting, Matplotlib's fonts), load
    the default JASPAR release and numba's cached TOMTOM/FIMO code in a background thread, so
    the first click does not wait for them.

    ``make demo`` also serves with ``panel serve --warm``: the app runs once before the server
    answers (imports, the sample model, the default window's map and motifs, its figures), and
    its result is kept by the shared pool (:meth:`Explorer.show_kept`)."""
    global _WARMED
    if _WARMED:
        return
    _WARMED = True

    def work():
        try:
            import explorer as ex
            from explorer.warmup import warm, warm_figures

            warm_figures()
            ex.jaspar()
            warm(verbose=False)
        except Exception:  # noqa: BLE001 - warming is an optimisation only
            pass

    import threading

    threading.Thread(target=work, name="explorer-warmup", daemon=True).start()

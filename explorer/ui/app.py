"""The explorer page: a sidebar of inputs and linked views of the state.

``Explorer()`` with no arguments opens the sample model on the sample locus. In Jupyter,
display the object; in a server, ``Explorer().servable()`` (see ``app.py``).
"""

from __future__ import annotations

import asyncio
import functools
import io
import json
import time

import holoviews as hv
import torch
import numpy as np
import pandas as pd
import panel as pn

from explorer.attribution.progress import Cancelled
from explorer.attribution.result import Attribution
from explorer.plots.static import aligned_motif_figure, figure_bytes, logo_figure
from explorer.ui import views
from explorer.ui.session import in_session
from explorer.ui.state import METHOD_LABELS, ExplorerState
from explorer.ui.variants_view import VariantsView

#: a seqlet is labelled with its best match only when TOMTOM's q-value is at most this
MATCH_Q = 0.05

HELP = """
**What this shows.** How much each base of the window matters to the model's output for the
chosen task. *Integrated gradients*, *DeepLIFT/SHAP* and *saliency* credit each base with a
share of the prediction; *ISM* mutates every base to each other base and records the change.
Tall letters matter; letters below the axis push the output down. Boxes mark **seqlets**
(stretches of high attribution), labelled with their best **JASPAR** match (TOMTOM).

Zoom with the mouse wheel: letters appear below about 400 bp, bars above. Positions are
1-based, like a genome browser. Click the locus overview to move the window there,
or drag across it with the box-select tool to choose a new window.
"""


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
        ``$EXPLORER_DATA_DIRS``).
    autorun : bool
        Compute the default method on the default window at start.
    """

    def __init__(self, model=None, locus=None, roots=None, autorun: bool = True, **params):
        super().__init__(**params)
        pn.extension("tabulator", notifications=False)
        hv.extension("bokeh", logo=False)
        self.state = ExplorerState(model=model, locus=locus, roots=roots)
        self._generation = 0
        self._fraction = 0.0
        self._x_range = None
        self._range_stream = None
        self._chunks, self._chunks_seen, self._partial = [], 0, None
        self._build_widgets()
        self._build_views()
        self.state.param.watch(self._on_result, ["attribution", "ism", "motifs"])
        self.state.param.watch(self._on_overview, ["predictions", "window", "locus"])
        self.state.param.watch(self._on_message, ["message", "message_kind"])
        self.state.param.watch(self._on_diagnostics, ["diagnostics"])
        self.state.param.watch(self._on_inputs_changed, ["window", "task", "method", "ig_baseline",
                                                         "ig_steps", "n_shuffles", "dls_shuffles", "ism_fast"])
        self._on_overview()
        self._on_result()
        self._on_message()
        self._autorun = autorun
        if autorun:
            pn.state.onload(self._start)

    # -- layout -----------------------------------------------------------------------
    def _build_widgets(self):
        s = self.state
        p = s.param
        self.w_task = pn.widgets.Select.from_param(p.task)
        self.w_method = pn.widgets.Select.from_param(p.method)
        self.w_bookmark = pn.widgets.Select.from_param(p.bookmark)
        self.w_region = pn.widgets.TextInput.from_param(p.region)
        self.run_button = pn.widgets.Button(name="Compute", button_type="primary")
        self.cancel_button = pn.widgets.Button(name="Cancel", button_type="warning", disabled=True)
        self.run_button.on_click(self._on_run_click)
        self.cancel_button.on_click(self._on_cancel)
        self.w_model_path = pn.widgets.TextInput.from_param(p.model_path)
        self.w_trust = pn.widgets.Checkbox.from_param(p.trust_model)
        self.load_model_button = pn.widgets.Button(name="Load model")
        self.load_model_button.on_click(lambda e: self.state.load_model())
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
        )
        self.sidebar = pn.Column(
            pn.pane.Markdown("### What to explain"),
            self.w_task, self.w_method, self.w_bookmark, self.w_region,
            pn.Row(self.run_button, self.cancel_button),
            pn.Card(method_options, title="Method options", collapsed=True, sizing_mode="stretch_width"),
            pn.Card(motif_options, title="Motif database", collapsed=True, sizing_mode="stretch_width"),
            pn.Card(pn.Column(self.w_model_path, self.w_trust, self.load_model_button),
                    title="Model", collapsed=True, sizing_mode="stretch_width"),
            pn.Card(pn.Column(self.w_locus_path, self.w_paste, self.load_locus_button),
                    title="Locus", collapsed=True, sizing_mode="stretch_width"),
            width=320,
        )

    def _build_views(self):
        self.message = pn.pane.Alert("", alert_type="info", visible=False, sizing_mode="stretch_width")
        self.progress = pn.indicators.Progress(value=0, max=100, visible=False, sizing_mode="stretch_width",
                                               bar_color="primary")
        self.progress_text = pn.pane.Markdown("", visible=False)
        self.diagnostics = pn.pane.Markdown("", styles={"color": "#555", "font-size": "0.9em"})
        self.overview_top = pn.pane.HoloViews(None, sizing_mode="stretch_width", linked_axes=False)
        self.overview_genes = pn.pane.HoloViews(None, sizing_mode="stretch_width", linked_axes=False)
        self.tracks = pn.pane.HoloViews(None, sizing_mode="stretch_width", linked_axes=False)
        self.substitution = pn.pane.Markdown("", sizing_mode="stretch_width")
        self.agreement = pn.pane.Markdown("", sizing_mode="stretch_width")
        self.matches = pn.widgets.Tabulator(pd.DataFrame(), disabled=True, selectable=1, height=260,
                                            sizing_mode="stretch_width", show_index=False, pagination=None)
        self.matches.on_click(self._on_match_click)
        self.alignment = pn.pane.Matplotlib(None, dpi=100, tight=True, sizing_mode="stretch_width",
                                            format="svg", visible=False)
        self.exports = pn.Row(*self._export_buttons())
        self.variants = VariantsView(self)
        self.main = pn.Column(
            pn.pane.Markdown(HELP, sizing_mode="stretch_width"),
            self.message, pn.Row(self.progress, self.progress_text), self.diagnostics,
            self.overview_top, self.overview_genes,
            pn.pane.Markdown("### Attribution of the window"),
            self.tracks, self.substitution,
            pn.pane.Markdown("### Motifs: seqlets and their best matches"),
            self.agreement, self.matches, self.alignment,
            self.variants.panel,
            pn.pane.Markdown("### Export"), self.exports,
            sizing_mode="stretch_width",
        )

    def __panel__(self):
        return pn.Row(self.sidebar, self.main, sizing_mode="stretch_width")

    def servable(self, title: str = "Attribution and motif explorer", **kwargs):
        """Serve in a template with the inputs in the sidebar and the URL kept in sync."""
        if pn.state.location is not None:
            pn.state.location.sync(self.state, {"region": "region", "task": "task", "method": "method"})
        template = pn.template.FastListTemplate(
            title=title, sidebar=[self.sidebar], main=[self.main], sidebar_width=340,
            header_background="#3b1f5e", accent_base_color="#7b3294",
        )
        return template.servable(title=title, **kwargs)

    # -- rendering ---------------------------------------------------------------------
    def _on_message(self, *events):
        s = self.state
        self.message.object = s.message
        self.message.alert_type = s.message_kind
        self.message.visible = bool(s.message)

    def _on_diagnostics(self, *events):
        self.diagnostics.object = self.state.diagnostics

    def _on_overview(self, *events):
        s = self.state
        if s.locus is None or s.model is None:
            return
        top, genes = views.overview(s.locus, s.predictions, s.window, s.model.tasks)
        picker = [el for el in top.values() if isinstance(el, hv.Points)] if isinstance(top, hv.Overlay) else []
        if picker:
            self._bounds = hv.streams.BoundsX(source=picker[0])
            self._bounds.add_subscriber(self._on_bounds)
            self._tap = hv.streams.Tap(source=picker[0])
            self._tap.add_subscriber(self._on_overview_tap)
        self.overview_top.object = top
        self.overview_genes.object = genes

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

    def _labels(self, report) -> list[str]:
        if report is None or report.seqlets is None or not len(report.seqlets):
            return []
        best = {}
        if report.matches is not None and len(report.matches):
            top = report.matches[report.matches["rank"] == 1]
            best = {int(r.seqlet): f"{r.tf_name} (q={r.q_value:.1g})" for r in top.itertuples()
                    if r.q_value <= MATCH_Q}
        return [best.get(int(i), "no match") for i in report.seqlets.index]

    def _on_result(self, *events):
        s = self.state
        att, report = s.attribution, s.motifs
        if att is None:
            self.tracks.object = None
            self.agreement.object = "*Nothing computed for this window, task and method yet: press Compute.*"
            self.matches.value = pd.DataFrame()
            return
        seqlets = report.seqlets if report is not None else None
        labels = self._labels(report)
        first = att.genome_start + 1
        full = (first - 0.5, first + len(att) - 0.5)
        view = full
        if seqlets is not None and len(seqlets):
            s0 = seqlets.iloc[0]
            centre = (s0["genome_start"] + s0["genome_end"]) / 2 + 0.5
            view = (max(full[0], centre - 60), min(full[1], centre + 60))
        self._range_stream = hv.streams.RangeX(x_range=view)

        def track(x_range):
            shown = tuple(x_range) if x_range else view
            return views.attribution_tracks(att, seqlets, labels, shown).opts(
                hv.opts.Overlay(hooks=[self._grab_range], xlim=shown, framewise=True,
                                title=f"{METHOD_LABELS.get(att.method, att.method)} for {att.target}"))

        dmap = hv.DynamicMap(track, streams=[self._range_stream])
        panels = [dmap]
        if s.ism is not None and s.ism.genome_start == att.genome_start and len(s.ism) == len(att):
            heat = views.ism_heatmap(s.ism).opts(xlim=view)
            tap = hv.streams.Selection1D(source=heat)
            tap.add_subscriber(lambda index: self._on_ism_tap(index))
            panels.append(heat)
            self.substitution.object = "*Click a cell of the heatmap to see that substitution and open it as a variant.*"
        else:
            self.substitution.object = "*The ISM heatmap appears here once ISM has run on this window.*"
        self.tracks.object = hv.Layout(panels).cols(1).opts(shared_axes=True)
        self._show_motifs(report)

    def _grab_range(self, plot, element):
        self._x_range = plot.state.x_range

    def _on_ism_tap(self, index):
        ism = self.state.ism
        if not index or ism is None:
            return
        i = int(index[0])
        col, row = divmod(i, 4)
        ref = ism.sequence[col]
        alt = "ACGT"[row]
        pos = ism.genome_start + col + 1
        value = float(ism.values[row, col])
        if ref == alt:
            self.substitution.object = f"**{ism.chrom}:{pos:,}** is {ref} in the reference (no change)."
        else:
            verb = "raises" if value > 0 else "lowers"
            self.substitution.object = (f"**{ref}>{alt} at {ism.chrom}:{pos:,}** {verb} the {ism.target} "
                                        f"output by {abs(value):.4f} (ISM: f(mutant) - f(reference)). "
                                        f"Its reference and alternative maps are shown under *Variants* below.")
            self.variants.open_cell(ism, row, col)

    def _show_motifs(self, report):
        if report is None:
            self.agreement.object = ""
            self.matches.value = pd.DataFrame()
            return
        summary = getattr(report.agreement, "summary", str(report.agreement))
        self.agreement.object = f"**Agreement with {report.database_name}.** {summary}"
        self.matches.value = self._match_table(report)

    @staticmethod
    def _match_table(report) -> pd.DataFrame:
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

    def _on_match_click(self, event):
        report = self.state.motifs
        if report is None or report.matches is None or not len(report.matches):
            return
        row = report.matches.iloc[event.row]
        seqlet = report.seqlets.loc[int(row["seqlet"])]
        self.zoom_to(seqlet["genome_start"] - 10, seqlet["genome_end"] + 10)
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
        """Show 0-based half-open genome coordinates ``[start0, end0)`` in the tracks."""
        lo, hi = start0 + 0.5, end0 + 0.5
        if self._x_range is not None:
            self._x_range.update(start=lo, end=hi)
        if self._range_stream is not None:
            self._range_stream.event(x_range=(lo, hi))

    # -- computing ---------------------------------------------------------------------
    def _start(self):
        if self.state.attribution is None and self.state.window is not None:
            self.run()

    def _on_inputs_changed(self, *events):
        if self._autorun and self.state.attribution is None and self.state.window is not None:
            self.run()

    def _on_run_click(self, event):
        self.run()

    def _on_cancel(self, event):
        self._generation += 1
        self._set_busy(False)
        self.state.say("Cancelled; the previous result is kept.", "warning")

    def run(self, method: str | None = None):
        """Compute off the UI thread (with progress and cancel)."""
        if not in_session():
            return self._run_blocking(method)
        return pn.state.execute(functools.partial(self._run_async, method))

    def _run_blocking(self, method=None):
        try:
            self.state.compute(method)
            self.state.say(f"Done: {METHOD_LABELS[method or self.state.method]} for {self.state.task}.", "success")
        except Exception as exc:  # noqa: BLE001
            self.state.report_error("compute the attribution", exc)

    async def _run_async(self, method=None):
        self._generation += 1
        generation = self._generation
        self._fraction = 0.0
        method = method or self.state.method
        try:
            self.state.check_ready(method)
        except Exception as exc:  # noqa: BLE001
            self.state.report_error("compute the attribution", exc)
            return

        def progress(fraction):
            self._fraction = fraction
            return generation == self._generation

        self._set_busy(True, f"Computing {METHOD_LABELS[method]} for {self.state.task}...")
        t0 = time.perf_counter()
        loop = asyncio.get_running_loop()
        chunks: list = []  # filled by the worker thread (list.append is atomic), read here
        self._chunks, self._chunks_seen, self._partial = chunks, 0, None
        view = self._view_indices()
        try:
            job = await self._await(
                loop.run_in_executor(None, lambda: self.state.run_job(
                    method, progress, on_chunk=lambda a, b, v: chunks.append((a, b, v)), view=view)),
                generation, t0)
            self._partial = None
            if job is None:
                return
            self.state.apply(job)
            self.progress_text.object = "Calling seqlets and matching them with the motif database..."
            self.progress.value = 100
            job = await self._await(loop.run_in_executor(None, lambda: self.state.run_motifs(job)), generation)
            if job is None:
                return
            self.state.apply(job)
            self.state.say(f"Done: {METHOD_LABELS[method]} for {self.state.task} in "
                           f"{time.perf_counter() - t0:.1f} s.", "success")
        except Cancelled:
            self.state.say("Cancelled; the previous result is kept.", "warning")
        except Exception as exc:  # noqa: BLE001
            self.state.report_error("compute the attribution", exc)
        finally:
            if generation == self._generation:
                self._set_busy(False)

    async def _await(self, future, generation, t0=None):
        """Wait for ``future`` while updating the progress bar; None if superseded."""
        while not future.done():
            await asyncio.sleep(0.25)
            if generation != self._generation:
                return None
            self._show_chunks()
            if t0 is not None:
                f = self._fraction
                elapsed = time.perf_counter() - t0
                self.progress.value = int(100 * f)
                eta = f" · about {elapsed * (1 - f) / f:.0f} s left" if f > 0.05 else ""
                self.progress_text.object = f"{100 * f:.0f} % · {elapsed:.1f} s{eta}"
        result = await future
        return result if generation == self._generation else None

    def _visible_indices(self, genome_start: int, length: int) -> tuple[int, int] | None:
        """The part of a map (0-based indices) shown in the tracks, or None before the first draw.

        ``genome_start``: 0-based genome coordinate of the map's first base; ``length``: its size.
        """
        if self._x_range is None or self._x_range.start is None:
            return None
        first = genome_start + 1
        lo = int(max(0, np.floor(self._x_range.start - first + 0.5)))
        hi = int(min(length, np.ceil(self._x_range.end - first + 0.5)))
        return lo, hi

    def _view_indices(self) -> tuple[int, int] | None:
        """The visible part of the window (0-based indices), for progressive ISM."""
        w = self.state.window
        if w is None:
            return None
        shown = self._visible_indices(w.start, len(w))
        if shown is not None and 10 <= shown[1] - shown[0] < len(w):
            return shown
        centre = len(w) // 2
        return max(0, centre - 200), min(len(w), centre + 200)

    def _show_chunks(self):
        """Show the ISM chunks that arrived so far (the rest of the map stays 0)."""
        chunks = getattr(self, "_chunks", [])
        new = chunks[self._chunks_seen:len(chunks)]
        w = self.state.window
        if not new or w is None:
            return
        self._chunks_seen += len(new)
        base = self._partial if self._partial is not None and len(self._partial) == len(w) else None
        values = base.values.clone() if base is not None else torch.zeros(4, len(w))
        for a, b, v in new:
            values[:, a:b] = v
        self._partial = Attribution(values=values, one_hot=w.one_hot, method="ism", target=self.state.task,
                                    chrom=w.chrom, genome_start=w.start,
                                    diagnostics={"partial": True, "warnings": []})
        self.state.show_partial(self._partial)

    def _set_busy(self, busy: bool, text: str = ""):
        """Show or hide the progress bar and enable Cancel while a job runs."""
        self.state.busy = busy
        self.progress.visible = busy
        self.progress_text.visible = busy
        self.progress.value = 0
        self.progress_text.object = text
        self.cancel_button.disabled = not busy

    # -- exports -----------------------------------------------------------------------
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

    def _visible_slice(self, att):
        shown = self._visible_indices(att.genome_start, len(att))
        if shown is not None and shown[1] - shown[0] >= 5:
            return shown
        return 0, len(att)

    def _logo_bytes(self, fmt):
        att = self._require()
        lo, hi = self._visible_slice(att)
        fig = logo_figure(att.contribution.numpy()[:, lo:hi], att.genome_start + 1 + lo,
                          title=f"{att.chrom}:{att.genome_start + lo + 1:,}-{att.genome_start + hi:,} · "
                                f"{METHOD_LABELS.get(att.method, att.method)} · {att.target}")
        return io.BytesIO(figure_bytes(fig, fmt))

    def _npz(self):
        att = self._require()
        buf = io.BytesIO()
        np.savez(buf, ohe=att.one_hot.numpy()[None], attr=att.values.numpy()[None],
                 contribution=att.contribution.numpy()[None],
                 meta=np.array(json.dumps({"chrom": att.chrom, "genome_start_0based": att.genome_start,
                                           "method": att.method, "target": att.target})))
        buf.seek(0)
        return buf

    def _csv(self):
        att = self._require()
        v = att.values.numpy()
        df = pd.DataFrame({"chrom": att.chrom, "position_1based": att.genome_positions(),
                           "ref": list(att.sequence), "A": v[0], "C": v[1], "G": v[2], "T": v[3],
                           "per_base": att.per_base})
        return io.StringIO(df.to_csv(index=False))

    def _bed(self):
        self._require()
        report = self.state.motifs
        lines = []
        if report is not None and report.seqlets is not None:
            labels = self._labels(report)
            for (i, row), label in zip(report.seqlets.iterrows(), labels):
                lines.append(f"{self.state.window.chrom}\t{int(row['genome_start'])}\t{int(row['genome_end'])}\t"
                             f"seqlet{i}:{label.split(' ')[0]}\t0\t.")
            if report.hits is not None and len(report.hits):
                for row in report.hits.itertuples():
                    lines.append(f"{self.state.window.chrom}\t{int(row.genome_start)}\t{int(row.genome_end)}\t"
                                 f"{row.tf_name}:{row.matrix_id}\t0\t{row.strand}")
        return io.StringIO("\n".join(lines) + "\n")


_WARMED = False


def warm_in_background() -> None:
    """Once per process: load the default JASPAR release and numba's cached TOMTOM/FIMO code
    in a background thread, so the first click does not wait for them."""
    global _WARMED
    if _WARMED:
        return
    _WARMED = True

    def work():
        try:
            import explorer as ex
            from explorer.warmup import warm

            ex.jaspar()
            warm(verbose=False)
        except Exception:  # noqa: BLE001 - warming is an optimisation only
            pass

    import threading

    threading.Thread(target=work, name="explorer-warmup", daemon=True).start()

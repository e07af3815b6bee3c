"""The variant part of the page: ref/alt/difference logos of one variant, and measured
effects (e.g. Kircher et al. 2019 MPRA) compared with the model's ISM.

Science lives in :mod:`explorer.variants`; this module holds widgets and layout only.
"""

from __future__ import annotations

import asyncio
import functools
import io
from pathlib import Path

import holoviews as hv
import numpy as np
import pandas as pd
import panel as pn

import explorer as ex
from explorer.io.samples import SAMPLE_DATA
from explorer.plots.tracks import X_DIM, logo_polygons
from explorer.ui.files import checked_path
from explorer.ui.session import in_session
from explorer.variants import scatter_data, variant_at, variant_table_tsv

#: what the app says about the sample model next to a correlation
SAMPLE_MODEL_NOTE = ("The sample model predicts CTCF/PU.1 binding, not promoter activity in an MPRA, so a "
                     "weak correlation here is the expected, true result.")
MEASURED_FILES = sorted(str(p.relative_to(SAMPLE_DATA)) for p in (SAMPLE_DATA / "variants").glob("*.tsv*"))


class VariantsView:
    """Ref/alt attribution of a chosen variant, and measured-vs-predicted effects."""

    def __init__(self, explorer):
        self.explorer = explorer
        self.state = explorer.state
        self.measured = None
        self.variant_input = pn.widgets.TextInput(name="Variant (chrom:pos:ref>alt, 1-based)",
                                                  placeholder="e.g. HUMHBB:30,211:C>T", width=300)
        self.open_button = pn.widgets.Button(name="Open variant", button_type="primary")
        self.open_button.on_click(lambda e: self.open_text(self.variant_input.value))
        self.words = pn.pane.Markdown("*Click a cell of the ISM heatmap, or type a variant, to compare the "
                                      "reference and alternative maps.*", sizing_mode="stretch_width")
        self.refalt_plot = pn.pane.HoloViews(None, sizing_mode="stretch_width", linked_axes=False)
        self.measured_select = pn.widgets.Select(name="Measured effects", options=[""] + MEASURED_FILES + ["other file..."],
                                                 value="", width=300)
        self.measured_path = pn.widgets.TextInput(name="...or a table of measured effects (TSV)", width=300)
        self.load_measured_button = pn.widgets.Button(name="Load measured effects")
        self.load_measured_button.on_click(lambda e: self.load_measured())
        self.measured_report = pn.pane.Markdown("", sizing_mode="stretch_width")
        self.compare_tracks = pn.pane.HoloViews(None, sizing_mode="stretch_width", linked_axes=False)
        self.compare_scatter = pn.pane.HoloViews(None, linked_axes=False)
        self.caption = pn.pane.Markdown("", sizing_mode="stretch_width")
        self.download = pn.widgets.FileDownload(callback=self._tsv, filename="variants.tsv",
                                                label="Variant table (TSV)", button_type="light", embed=False)
        self.state.param.watch(lambda *e: self.refresh_comparison(), ["ism", "window"])
        self.panel = pn.Column(
            pn.pane.Markdown("### Variants: reference vs alternative"),
            pn.Row(self.variant_input, self.open_button), self.words, self.refalt_plot,
            pn.pane.Markdown("### Measured variant effects vs the model's ISM"),
            pn.Row(self.measured_select, self.measured_path, self.load_measured_button),
            self.measured_report, pn.Row(self.compare_tracks, self.compare_scatter, sizing_mode="stretch_width"),
            self.caption, self.download,
            sizing_mode="stretch_width",
        )

    # -- one variant ---------------------------------------------------------------------
    def open_cell(self, attribution, row: int, col: int) -> None:
        """Open the substitution of an ISM cell (``row``: alt base 0-3, ``col``: window index)."""
        try:
            variant = variant_at(attribution, int(row), int(col))
        except ValueError as exc:
            self.state.report_error("open that cell as a variant", exc)
            return
        self.variant_input.value = f"{variant['chrom']}:{variant['pos']:,}:{variant['ref']}>{variant['alt']}"
        self.open(variant)

    def open_text(self, text: str) -> None:
        try:
            table = ex.parse_variants([text.replace(",", "")], locus=self.state.window)
        except Exception as exc:  # noqa: BLE001
            self.state.report_error("read the variant", exc)
            return
        self.open(table.iloc[0].to_dict())

    def open(self, variant: dict) -> None:
        """Compute and show the ref/alt maps of ``variant`` (in a worker thread when served)."""
        if not in_session():
            return self._show(*self._compute(variant))
        pn.state.execute(functools.partial(self._open_async, variant))

    async def _open_async(self, variant):
        self.words.object = f"*Computing the reference and alternative maps of {variant['ref']}>{variant['alt']} ...*"
        loop = asyncio.get_running_loop()
        try:
            result = await loop.run_in_executor(None, lambda: self._compute(variant))
        except Exception as exc:  # noqa: BLE001
            self.state.report_error("compute the variant's maps", exc)
            return
        self._show(*result)

    def _compute(self, variant):
        s = self.state
        method = s.method
        ra = ex.ref_alt_attributions(s.model, s.window, variant, method, s.task, **s.options(method))
        try:
            _, words = ex.variant_motif_report(ra, database=s.database())
        except Exception as exc:  # noqa: BLE001 - the maps still show
            words = f"(motif comparison unavailable: {exc})"
        effect = ex.variant_effect(s.model, s.window, [variant], target=s.task)
        return ra, words, effect

    def _show(self, ra, words, effect):
        row = effect.iloc[0]
        self.words.object = (f"**{ra.label}** ({self.state.task}): score {row['ref_score']:.3f} -> "
                             f"{row['alt_score']:.3f} (alt - ref = {row['diff']:+.3f}). {words}")
        first = ra.ref.genome_start + 1
        centre = first + ra.variant_offset
        lo = max(0, ra.variant_offset - 40)
        hi = min(len(ra.ref), ra.variant_offset + 41)
        panels = []
        for title, matrix in [("Reference", ra.ref.contribution), ("Alternative", ra.alt_contribution_aligned),
                              ("Difference (alt - ref)", ra.diff_contribution)]:
            m = matrix.numpy()[:, lo:hi]
            ymax = float(np.abs(m).sum(axis=0).max()) or 1.0
            marker = hv.VSpan(centre - 0.5, centre + 0.5).opts(color="#7b3294", alpha=0.12)
            panels.append((logo_polygons(m, first + lo) * marker).opts(
                hv.opts.Overlay(title=f"{title}: {ra.label}", height=170, responsive=True,
                                ylim=(-ymax * 1.1, ymax * 1.1), ylabel="contribution", xlabel="Position (1-based)")))
        self.refalt_plot.object = hv.Layout(panels).cols(1).opts(shared_axes=True)

    # -- measured effects ------------------------------------------------------------------
    def load_measured(self) -> bool:
        s = self.state
        choice = self.measured_path.value.strip() or self.measured_select.value
        if not choice or choice == "other file...":
            s.say("Choose a measured-effects table (or type its path) first.", "warning")
            return False
        try:
            path = checked_path(choice, s.roots, "measured-effects table")
            measured = ex.load_measured_effects(path, locus=s.locus)
        except Exception as exc:  # noqa: BLE001
            s.report_error("load the measured effects", exc)
            return False
        self.measured = measured
        report = measured.attrs.get("report", "")
        self.measured_report.object = f"**{Path(str(choice)).name}**: {report}"
        self.refresh_comparison()
        return True

    def refresh_comparison(self) -> None:
        """Redraw the measured-vs-ISM comparison for the current ISM map."""
        s = self.state
        if self.measured is None:
            return
        if s.ism is None:
            self.caption.object = "*Run ISM on a window holding the measured element to compare.*"
            self.compare_tracks.object = self.compare_scatter.object = None
            return
        mm = ex.measured_matrix(self.measured, s.window, 0, len(s.window))
        comparison = ex.compare_ism_measured(s.ism, self.measured)
        note = SAMPLE_MODEL_NOTE if s.model is not None and s.model.name == "sample_cnn" else None
        points, caption = scatter_data(comparison, model_note=note)
        self.caption.object = caption
        if mm.n == 0:
            self.compare_tracks.object = self.compare_scatter.object = None
            self.caption.object = ("*No measured variant lies in this window. The table's elements were placed "
                                   "as reported above: move the window there (e.g. the HBB promoter bookmark).*")
            return
        track = hv.Spikes(pd.DataFrame({"position": mm.positions, "measured": np.nan_to_num(mm.mean)}),
                          X_DIM, "measured").opts(color="#444", line_width=2, responsive=True, height=150,
                                                  title="Measured effect (mean of substitutions, log2)",
                                                  tools=["hover"])
        predicted = hv.Spikes(pd.DataFrame({"position": s.ism.genome_positions(),
                                            "ISM": -s.ism.values.numpy().sum(axis=0) / 3}),
                              X_DIM, "ISM").opts(color="#7b3294", line_width=2, responsive=True, height=150,
                                                 title=f"Model: mean ISM effect ({s.task})", tools=["hover"])
        has = np.isfinite(mm.mean)
        xlim = (mm.positions[has].min() - 5, mm.positions[has].max() + 5)
        scatter = hv.Scatter(points, "x", ["y", "label", "kind"]).opts(
            tools=["hover"], size=5, alpha=0.6, color="#7b3294", height=320, width=380,
            xlabel=f"Predicted effect ({comparison.value}, {s.task})", ylabel="Measured effect (log2)",
            title=f"n = {comparison.n}")
        self.compare_tracks.object = hv.Layout([track.opts(xlim=xlim), predicted.opts(xlim=xlim)]).cols(1).opts(
            shared_axes=True)
        self.compare_scatter.object = scatter

    def _tsv(self):
        s = self.state
        if s.ism is None:
            raise ValueError("run ISM first: the variant table lists every substitution of the ISM window")
        predicted = ex.effects_from_ism(s.ism)
        return io.StringIO(variant_table_tsv(predicted, self.measured))

"""The variant part of the page: ref/alt/difference logos of one variant, and measured
effects (e.g. Kircher et al. 2019 MPRA) compared with the model's ISM.

Science lives in :mod:`explorer.variants`, figures in :mod:`explorer.plots.figures`; this
module holds widgets and layout only, rendered from the :class:`ExplorerState`.
"""

from __future__ import annotations

import asyncio
import functools
import io

import panel as pn
import param

import explorer as ex
from explorer.io.samples import SAMPLE_DATA
from explorer.plots.figures import measured_scatter, measured_tracks, refalt_logos
from explorer.ui.jobs import shared_executor
from explorer.ui.help import heading
from explorer.ui.session import in_session, last_result
from explorer.ui.state import ExplorerState
from explorer.variants import judge_comparison, output_kind, scatter_data, variant_table_tsv

MEASURED_FILES = sorted(str(p.relative_to(SAMPLE_DATA)) for p in (SAMPLE_DATA / "variants").glob("*.tsv*"))
PROMPT = ("*Click a cell of the ISM heatmap, or type a variant, to compare the reference and "
          "alternative maps.*")


class VariantsView(param.Parameterized):
    """Ref/alt attribution of a chosen variant, and measured-vs-predicted effects.

    Parameters
    ----------
    state : ExplorerState
        Everything shown here is read from it (``variant``, ``refalt``, ``measured``, ``ism``).
    """

    busy_words = param.String(default="", doc="what is being computed for the variant panel")

    def __init__(self, state: ExplorerState, **params):
        super().__init__(**params)
        self.state = s = state
        self.variant_input = pn.widgets.TextInput(name="Variant (chrom:pos:ref>alt, 1-based)",
                                                  placeholder="e.g. HUMHBB:30,211:C>T", width=300)
        self.open_button = pn.widgets.Button(name="Open variant", button_type="primary")
        self.open_button.on_click(lambda e: self.open_text(self.variant_input.value))
        self.words = pn.pane.Markdown(pn.bind(self._words, s.param.refalt, self.param.busy_words),
                                      sizing_mode="stretch_width")
        self.refalt_plot = pn.pane.HoloViews(pn.bind(self._refalt_figure, s.param.refalt),
                                             sizing_mode="stretch_width", linked_axes=False)
        self.measured_select = pn.widgets.Select(name="Measured effects", options=[""] + MEASURED_FILES + ["other file..."],
                                                 value="", width=300)
        self.measured_path = pn.widgets.TextInput(name="...or a table of measured effects (TSV)", width=300)
        self.load_measured_button = pn.widgets.Button(name="Load measured effects")
        self.load_measured_button.on_click(lambda e: self.load_measured())
        self.measured_report = pn.pane.Markdown(pn.bind(self._report, s.param.measured, s.param.measured_name),
                                                sizing_mode="stretch_width")
        # the three comparison panes share one computation per (measured, ism, window, model)
        comparison = pn.bind(last_result(self._comparison), s.param.measured, s.param.ism, s.param.window,
                             s.param.model)
        self.compare_tracks = pn.pane.HoloViews(pn.bind(lambda c: c[0], comparison),
                                                sizing_mode="stretch_width", linked_axes=False)
        self.compare_scatter = pn.pane.HoloViews(pn.bind(lambda c: c[1], comparison), linked_axes=False)
        self.caption = pn.pane.Markdown(pn.bind(lambda c: c[2], comparison), sizing_mode="stretch_width")
        self.download = pn.widgets.FileDownload(callback=self._tsv, filename="variants.tsv",
                                                label="Variant table (TSV)", button_type="light", embed=False)
        self.panel = pn.Column(
            heading("Variants: reference vs alternative", "variants"),
            pn.Row(self.variant_input, self.open_button), self.words, self.refalt_plot,
            heading("Measured variant effects vs the model's ISM", "measured"),
            pn.Row(self.measured_select, self.measured_path, self.load_measured_button),
            self.measured_report, pn.Row(self.compare_tracks, self.compare_scatter, sizing_mode="stretch_width"),
            self.caption, self.download,
            sizing_mode="stretch_width",
        )

    # -- rendering (pure functions of the state) ---------------------------------------------
    def _words(self, view, busy: str) -> str:
        if busy:
            return busy
        if view is None:
            return PROMPT
        row = view.effect.iloc[0]
        return (f"**{view.refalt.label}** ({self.state.task}): score {row['ref_score']:.3f} -> "
                f"{row['alt_score']:.3f} (alt - ref = {row['diff']:+.3f}). {view.words}")

    @staticmethod
    def _refalt_figure(view):
        if view is None:
            return None
        ra = view.refalt
        return refalt_logos(ra.label, ra.ref.genome_start + 1, ra.variant_offset,
                            [("Reference", ra.ref.contribution.numpy()),
                             ("Alternative", ra.alt_contribution_aligned.numpy()),
                             ("Difference (alt - ref)", ra.diff_contribution.numpy())])

    @staticmethod
    def _report(measured, name: str) -> str:
        if measured is None:
            return ""
        return f"**{name}**: {measured.attrs.get('report', '')}"

    def _comparison(self, measured, ism, window, model):
        """(tracks, scatter, caption) of the measured-vs-ISM comparison."""
        s = self.state
        if measured is None:
            return None, None, ""
        if ism is None or window is None:
            return None, None, "*Run ISM on a window holding the measured element to compare.*"
        mm = ex.measured_matrix(measured, window, 0, len(window))
        if mm.n == 0:
            return None, None, ("*No measured variant lies in this window. The table's elements were placed "
                                "as reported above: move the window there (e.g. the HBB promoter bookmark).*")
        comparison = ex.compare_ism_measured(ism, measured)
        card = getattr(model, "card", None) or {}
        judgement = judge_comparison(comparison, output_kind=output_kind(card),
                                     assay=measured.attrs.get("assay", "activity"),
                                     description=card.get("description"))
        points, caption = scatter_data(comparison, model_note=judgement)
        tracks = measured_tracks(mm.positions, mm.mean, ism.genome_positions(), ism.per_base, s.task)
        return tracks, measured_scatter(points, comparison.value, s.task, comparison.n), caption

    # -- actions -----------------------------------------------------------------------------
    def open_cell(self, attribution, row: int, col: int) -> None:
        """Open the substitution of an ISM cell (``row``: alt base 0-3, ``col``: window index)."""
        variant = self.state.describe_cell(int(row), int(col))
        if variant is None:
            return
        self.variant_input.value = f"{variant['chrom']}:{variant['pos']:,}:{variant['ref']}>{variant['alt']}"
        self.open(variant)

    def open_text(self, text: str) -> None:
        variant = self.state.parse_variant(text)
        if variant is not None:
            self.open(variant)

    def open(self, variant: dict) -> None:
        """Compute and show the ref/alt maps of ``variant`` (in a worker thread when served)."""
        if not in_session():
            view = self.state.compute_variant(variant)
            self.state.param.update(variant=variant, refalt=view)
            return
        pn.state.execute(functools.partial(self._open_async, variant))

    async def _open_async(self, variant):
        self.busy_words = (f"*Computing the reference and alternative maps of "
                                     f"{variant['ref']}>{variant['alt']} ...*")
        loop = asyncio.get_running_loop()
        try:
            view = await loop.run_in_executor(shared_executor().pool, lambda: self.state.compute_variant(variant))
        except Exception as exc:  # noqa: BLE001
            self.state.report_error("compute the variant's maps", exc)
            return
        finally:
            self.busy_words = ""
        self.state.param.update(variant=variant, refalt=view)

    def load_measured(self) -> bool:
        return self.state.load_measured(self.measured_path.value.strip() or self.measured_select.value)

    def _tsv(self):
        s = self.state
        if s.ism is None:
            raise ValueError("run ISM first: the variant table lists every substitution of the ISM window")
        return io.StringIO(variant_table_tsv(ex.effects_from_ism(s.ism), s.measured))

"""Words that explain the page: the guided first run and the help beside each view's heading."""

from __future__ import annotations

import panel as pn

#: the guided first run, shown at the top until the visitor dismisses it
FIRST_RUN = """
#### What am I looking at?

1. **Model and locus** (sidebar, top): the sample is a small CNN trained on human CTCF and PU.1
   (SPI1) ChIP-seq peaks, explaining the human beta-globin locus (GenBank U01317). Drop your own
   model, FASTA/GenBank, MEME motifs or measured variant effects on the file boxes.
2. **Locus overview**: the model's score along the whole locus. The shaded band is the
   *window* being explained; click the overview to move it, or drag across it to choose one.
3. **Attribution of the window**: how much each base matters to the model's output for the chosen
   task. Tall letters matter; letters below the axis push the output down. The window opens whole
   (bars); zoom in with the mouse wheel, the + button or a position to see letters.
4. **Motifs**: purple boxes mark *seqlets* (stretches of high attribution), named after their best
   JASPAR match. Click a row of the table to zoom to it and see the motif aligned under it.
5. **ISM heatmap and variants**: choose ISM as the method to see every substitution's effect;
   click a cell to compare the reference and the alternative.

Positions are 1-based, like a genome browser. Each view has a **?** beside its title.
"""

#: help beside each view's heading
VIEW_HELP = {
    "overview": "The model's score in sliding windows along the whole locus, one curve per task, over its "
                "genes, exons and repeats. The shaded band is the window explained below: click to move it "
                "there, drag across the plot to choose a new window.",
    "attribution": "How much each base contributes to the model's output for the chosen task. Letters when "
                   "fewer than about 400 bases are shown, one bar per base when more. The mouse wheel zooms "
                   "along the sequence (never past the window); type a position or range, or use - and + to "
                   "zoom. Purple boxes are seqlets. The ISM heatmap (method ISM) shows the change in the "
                   "output for every substitution: red raises it, blue lowers it; click a cell to open it as "
                   "a variant.",
    "motifs": "Seqlets are stretches of high attribution, called against a background (the map itself or "
              "shuffled sequences). Each is compared with the motif database by TOMTOM: p is the chance of "
              "so good a match by luck, q the false discovery rate over all comparisons. Click a row to zoom "
              "to the seqlet and see the motif aligned under it.",
    "variants": "The attribution of the reference and of the alternative sequence around one substitution, and "
                "their difference: which seqlets and motif matches the variant weakens, strengthens, moves, "
                "destroys or creates, and how the model's prediction changes.",
    "measured": "Measured effects of substitutions (e.g. a saturation mutagenesis MPRA, Kircher et al. 2019) "
                "placed on the locus by sequence, compared base by base with the model's ISM.",
    "export": "The logo of the bases shown (PNG, SVG), the attribution values (NPZ, CSV, 1-based positions) "
              "and the seqlets with their motif hits (BED, 0-based like every BED file).",
}


def heading(title: str, view: str) -> pn.Row:
    """A view's heading with a **?** that explains it (hover or tap)."""
    return pn.Row(pn.pane.Markdown(f"### {title}", margin=(0, 0, 0, 10)),
                  pn.widgets.TooltipIcon(value=VIEW_HELP[view], margin=(22, 0, 0, 0)),
                  sizing_mode="stretch_width")


def first_run() -> pn.Column:
    """The guided first run with a button that hides it."""
    hide = pn.widgets.Button(name="Got it, hide this", button_type="light", width=160)
    box = pn.Column(pn.pane.Markdown(FIRST_RUN, sizing_mode="stretch_width"), hide, sizing_mode="stretch_width",
                    styles={"border": "1px solid #7b3294", "border-radius": "6px", "padding": "0 12px 10px"},
                    margin=(0, 10, 10, 10))
    hide.on_click(lambda e: setattr(box, "visible", False))
    return box

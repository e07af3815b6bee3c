"""Gene targets for binned models: a track summed over the output bins of a gene's exons.

Borzoi's RNA-seq tracks are read out per gene as the coverage summed over the bins that
overlap the gene's exons. :func:`gene_target` builds that target from a locus's annotation
table (rows of ``type == "exon"`` whose ``name`` is the gene, as a GTF's ``gene_name``) and
the model card's ``output_bins`` (:mod:`explorer.io.bins`), as a
:class:`~explorer.attribution.targets.TargetSum` with one ``sum`` term per run of adjacent
bins (a bin shared by two exons counts once).

Coordinates: annotation rows are 0-based, half-open on the locus's chrom; the model's input
starts at the 0-based index ``input_start`` of the locus (0: the locus is the input).
"""

from __future__ import annotations

import numpy as np
from torch import nn

from explorer.attribution.targets import TargetSum, probe_output, resolve_target
from explorer.io.bins import OutputBins, output_bins

__all__ = ["exon_bins", "gene_target"]


def _bins_of(model: nn.Module) -> OutputBins:
    bins = output_bins(getattr(model, "card", None))
    if bins is None:
        raise ValueError("a gene target needs a model whose outputs are bins along the input (an Enformer or Borzoi, "
                         "whose card has output_bins); this model's card has none")
    return bins


def exon_bins(model: nn.Module, locus, gene: str, input_start: int = 0) -> np.ndarray:
    """The output bins overlapping the exons of ``gene``, sorted, each once.

    Parameters
    ----------
    model : nn.Module
        An ExplorerModel whose card has ``output_bins``.
    locus : Locus
        Holds the annotation table; its sequence from ``input_start`` is the model's input.
    gene : str
        The annotation's ``name`` of the exons (case-insensitive).
    input_start : int
        0-based index in the locus of the model input's first base.

    Returns
    -------
    numpy.ndarray of int
        Bin indices (0-based) into the model's output.

    Raises
    ------
    ValueError
        No exon of that gene in the annotation (the genes that have exons are named), or
        none of its exons inside the bins (the bins' span in genome coordinates named).
    """
    bins = _bins_of(model)
    table = locus.annotations
    exons = table[(table["type"].astype(str).str.lower() == "exon")
                  & (table["name"].astype(str).str.lower() == str(gene).strip().lower())]
    if exons.empty:
        named = table[table["name"].astype(str).str.lower() == str(gene).strip().lower()]
        genes = sorted(set(table.loc[table["type"].astype(str).str.lower() == "exon", "name"].astype(str)))
        if not named.empty:
            raise ValueError(f"the annotation has {', '.join(sorted(set(named['type'].astype(str))))} rows for {gene!r} "
                             f"but no exon rows; load an annotation with exons (a GTF: annotations=...)")
        raise ValueError(f"no exons of gene {gene!r} in this locus's annotation; genes with exons here: "
                         f"{genes[:20] or 'none'}")
    origin = int(locus.start) + int(input_start)
    lo, hi = bins.span
    chosen: set[int] = set()
    for start, end in zip(exons["start"].astype(int), exons["end"].astype(int)):
        s, e = start - origin, end - origin
        if e > lo and s < hi:
            first, last = bins.overlapping(max(s, lo), min(e, hi))
            chosen.update(range(first, last))
    if not chosen:
        raise ValueError(f"no exon of {gene!r} lies inside the model's output bins, which cover "
                         f"{locus.chrom}:{origin + lo + 1:,}-{origin + hi:,} (1-based); centre the model's input on the "
                         f"gene")
    return np.array(sorted(chosen), dtype=np.int64)


def gene_target(model: nn.Module, locus, gene: str, track: str | int, *, input_start: int = 0) -> TargetSum:
    """``track`` summed over the bins of ``gene``'s exons (see :func:`exon_bins`).

    Parameters
    ----------
    model, locus, gene, input_start
        As :func:`exon_bins`.
    track : str or int
        The track (a name, alias or index, as :func:`~explorer.attribution.targets.resolve_target`).

    Returns
    -------
    TargetSum
        Named ``"<track> over <gene> exons (<n> bins)"``; pass it as ``target`` to
        :func:`explorer.attribute`.
    """
    chosen = exon_bins(model, locus, gene, input_start)
    y = probe_output(model)
    runs = np.split(chosen, np.flatnonzero(np.diff(chosen) > 1) + 1)
    terms = tuple((1.0, resolve_target(model, track, window=(int(r[0]), int(r[-1]) + 1), reduce="sum",
                                       example_output=y)) for r in runs)
    label = terms[0][1].name.rsplit(" ", 1)[0]
    return TargetSum(name=f"{label} over {gene} exons ({len(chosen)} bins)", terms=terms)

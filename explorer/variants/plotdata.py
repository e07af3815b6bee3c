"""Plain arrays and tables the app draws for variants (no plotting library here).

* :func:`measured_matrix`: measured effects laid out like an ISM map, ``(4, L)`` over a
  window of the locus, for a track under the ISM track;
* :func:`compare_ism_measured`: an ISM map against measured effects (scatter + statistics);
* :func:`scatter_data`: the columns of a predicted-vs-measured scatter, with a caption that
  states the correlation honestly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from explorer.io.variants import allele_bases
from explorer.variants.effects import effects_from_ism
from explorer.variants.measured import Comparison, _measured_keys, compare_measured


@dataclass
class MeasuredMatrix:
    """Measured effects over a window of the locus, in ISM layout.

    Attributes
    ----------
    values : numpy.ndarray
        ``float64`` ``(4, L)``, ACGT rows: the measured effect of substituting each base at
        each position; NaN where not measured; 0 is never filled in for the reference base
        (it is NaN, as nothing was measured there).
    deletion : numpy.ndarray
        ``(L,)``: the measured effect of deleting the base (NaN where not measured).
    mean : numpy.ndarray
        ``(L,)``: mean of the measured substitution effects per position (NaN where none):
        a per-base track comparable to ``-Attribution.per_base`` of an ISM map.
    positions : numpy.ndarray
        ``(L,)``: 1-based positions on ``chrom``.
    chrom : str
    start, end : int
        0-based half-open window within the locus.
    n : int
        Measured variants in the window.
    """

    values: np.ndarray
    deletion: np.ndarray
    mean: np.ndarray
    positions: np.ndarray
    chrom: str
    start: int
    end: int
    n: int


def measured_matrix(measured: pd.DataFrame, locus, start: int | None = None, end: int | None = None
                    ) -> MeasuredMatrix:
    """Lay measured effects out on ``[start, end)`` of the locus (0-based half-open indices).

    ``measured`` is a table from :func:`explorer.load_measured_effects` placed on ``locus``
    (or one already in the locus's coordinates). Only variants whose reference allele equals
    the locus are used; alleles are on the locus's strand.
    """
    start = 0 if start is None else int(start)
    end = len(locus) if end is None else int(end)
    if not 0 <= start < end <= len(locus):
        raise ValueError(f"start and end must satisfy 0 <= start < end <= {len(locus)} (0-based half-open "
                         f"within the locus); got start={start}, end={end}")
    length = end - start
    values = np.full((4, length), np.nan)
    deletion = np.full(length, np.nan)
    keys = _measured_keys(measured)
    keys = keys[keys["chrom"].astype(str) == str(locus.chrom)]
    j = keys["pos"].to_numpy(np.int64) - 1 - locus.start - start
    inside = (j >= 0) & (j < length)
    n = 0
    for jj, ref, alt, eff in zip(j[inside], keys["ref"][inside], keys["alt"][inside], keys["measured"][inside]):
        r, a = allele_bases(ref), allele_bases(alt)
        if len(r) == 1 and len(a) == 1 and a in "ACGT":
            values["ACGT".index(a), jj] = eff
            n += 1
        elif len(r) == 1 and a == "":
            deletion[jj] = eff
            n += 1
    counts = np.isfinite(values).sum(axis=0)
    mean = np.where(counts > 0, np.nansum(values, axis=0) / np.maximum(counts, 1), np.nan)
    positions = np.arange(locus.start + start + 1, locus.start + end + 1)
    return MeasuredMatrix(values, deletion, mean, positions, locus.chrom, start, end, n)


def compare_ism_measured(attribution, measured: pd.DataFrame, *, kinds=("snv",)) -> Comparison:
    """Correlate an ISM map's substitution effects with measured ones over the map's window.

    Parameters
    ----------
    attribution : Attribution
        ``method="ism"`` on a locus (its ``chrom`` and ``genome_start`` place it).
    measured : DataFrame
        From :func:`explorer.load_measured_effects` placed on the same locus.
    kinds : tuple of str
        Variant kinds compared (ISM holds substitutions only).

    Returns
    -------
    Comparison
        As :func:`explorer.variants.compare_measured`, task = the attribution's target.
    """
    predicted = effects_from_ism(attribution)
    return compare_measured(predicted, measured, task=predicted["task"].iloc[0] if len(predicted) else None,
                            kinds=kinds)


def scatter_data(comparison: Comparison, *, model_note: str | None = None) -> tuple[pd.DataFrame, str]:
    """Columns for a predicted-vs-measured scatter and a caption stating the result.

    Parameters
    ----------
    comparison : Comparison
    model_note : str, optional
        A sentence on what the model is, added to the caption (e.g. "The sample model predicts
        CTCF/PU.1 binding, not promoter activity, so a low correlation is expected.").

    Returns
    -------
    (DataFrame, str)
        ``x`` (predicted), ``y`` (measured), ``label`` (``"C>T at 62,150"``), ``kind``,
        ``pvalue`` and ``element``; and the caption with Pearson r, Spearman rho and n.
    """
    p = comparison.pairs
    data = pd.DataFrame({"x": p["predicted"].to_numpy(float), "y": p["measured"].to_numpy(float),
                         "label": [f"{r}>{a} at {int(q):,}" for r, a, q in zip(p["ref"], p["alt"], p["pos"])],
                         "kind": p["kind"].to_numpy(), "pvalue": p["pvalue"].to_numpy(float),
                         "element": p["element"].to_numpy()})
    if comparison.n < 3 or not np.isfinite(comparison.pearson):
        caption = f"{comparison.task}: too few variants with both a prediction and a measurement (n = {comparison.n})."
    else:
        strength = _strength(comparison.spearman)
        caption = (f"{comparison.task}: predicted ({comparison.value}) vs measured effect, Pearson r = "
                   f"{comparison.pearson:.2f} (p = {comparison.pearson_p:.2g}), Spearman rho = "
                   f"{comparison.spearman:.2f} (p = {comparison.spearman_p:.2g}), n = {comparison.n}: "
                   f"{strength} agreement.")
    if model_note:
        caption += " " + model_note
    return data, caption


def _strength(rho: float) -> str:
    a = abs(rho)
    word = "no meaningful" if a < 0.1 else "weak" if a < 0.3 else "moderate" if a < 0.6 else "strong"
    if word != "no meaningful" and rho < 0:
        word += " negative"
    return word

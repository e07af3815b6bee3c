"""Variant tables for people: predictions with the measured effect beside them, as TSV."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from explorer.variants.measured import _measured_keys

#: columns added by :func:`merge_measured`
MEASURED_BESIDE = ["measured_effect", "measured_pvalue", "measured_element"]


def merge_measured(predicted: pd.DataFrame, measured: pd.DataFrame | None) -> pd.DataFrame:
    """Every prediction row with the measured effect of the same variant beside it.

    Joined like :func:`explorer.variants.compare_measured`: on ``chrom, pos`` (1-based),
    ``ref, alt``, using the locus coordinates of a placed table. Predictions nobody measured
    get NaN; measurements nobody predicted are not added.

    Returns
    -------
    pandas.DataFrame
        ``predicted``'s columns (same row order) plus :data:`MEASURED_BESIDE`.
    """
    out = predicted.copy()
    if measured is None or len(measured) == 0:
        for c in MEASURED_BESIDE:
            out[c] = np.nan if c != "measured_element" else ""
        return out
    meas = _measured_keys(measured).drop_duplicates(["chrom", "pos", "ref", "alt"]).rename(columns={
        "measured": "measured_effect", "pvalue": "measured_pvalue", "element": "measured_element"})
    keys = pd.DataFrame({"chrom": out["chrom"].astype(str), "pos": out["pos"].astype(np.int64),
                         "ref": out["ref"], "alt": out["alt"]})
    joined = keys.merge(meas, on=["chrom", "pos", "ref", "alt"], how="left")
    for c in MEASURED_BESIDE:
        out[c] = joined[c].to_numpy()
    out["measured_element"] = out["measured_element"].fillna("")
    return out


def variant_table_tsv(predicted: pd.DataFrame, measured: pd.DataFrame | None = None,
                      path: str | Path | None = None, *, float_format: str = "%.6g") -> str:
    """The variant table as TSV text (and a file, given ``path``), measured effect beside prediction.

    Parameters
    ----------
    predicted : DataFrame
        From :func:`explorer.variant_effect` (any columns are kept; ``pos`` is 1-based).
    measured : DataFrame, optional
        From :func:`explorer.load_measured_effects`; adds :data:`MEASURED_BESIDE`.
    path : str or Path, optional
        Also write the text there (UTF-8).
    float_format : str
        printf-style format of floats.

    Returns
    -------
    str
        Tab-separated, one header line, one line per row; empty cells for missing values.
    """
    table = merge_measured(predicted, measured) if measured is not None else predicted
    text = table.to_csv(sep="\t", index=False, float_format=float_format, lineterminator="\n")
    if path is not None:
        Path(path).write_text(text, encoding="utf-8")
    return text

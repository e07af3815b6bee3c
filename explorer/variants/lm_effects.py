"""Variant scores of a masked DNA language model (card ``"kind": "masked_lm"``).

* **SNVs**: the masked log-likelihood ratio, the same number as the masked ISM map
  (:mod:`explorer.attribution.masked_lm`): ``ref_score = log p(ref | x with the position
  masked)``, ``alt_score = log p(alt | ...)`` (natural log), ``diff = alt_score - ref_score``.
* **Indels and multi-base substitutions** change more than one position, so no single
  masked position scores them. They get the difference of pseudo-log-likelihoods (PLL, the
  sum over positions of ``log p(observed base | x with that position masked)``) of the
  alternative and the reference sequence over the variant's window: the locus from ``2h``
  bases before the variant to ``2h`` after it (``h`` half the receptive field; 50 bp
  each side for a model that declares none). For a model that sees only ``h`` bases, every
  position whose masked prediction can change lies in the window with its whole context,
  and positions that cannot change cancel, so this equals the PLL difference of the whole
  locus. It is not an LLR: it also counts the inserted (or lost) bases' own likelihood, so
  an insertion of likely bases can score above 0.

``log_ratio`` is ``diff / ln 2`` (log2). ``task`` is ``"masked LLR"`` for SNVs and
``"PLL difference"`` for the others.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from explorer.attribution.masked_lm import masked_log_probs, pseudo_log_likelihood, receptive_field_of
from explorer.io.sequences import one_hot_encode
from explorer.io.variants import allele_bases, check_variants

__all__ = ["lm_variant_effect", "INDEL_FLANK"]

#: flank (bp each side) of the PLL window for a model that declares no receptive field
INDEL_FLANK = 50


def lm_variant_effect(model, locus, variants, *, batch_size: int | None = None) -> pd.DataFrame:
    """Score variants with a masked LM (module docstring).

    Parameters
    ----------
    model : nn.Module
        A masked LM (card ``kind`` ``"masked_lm"``).
    locus : Locus
        Variant positions are 1-based on ``locus.chrom``.
    variants : DataFrame
        A variant table as :func:`explorer.parse_variants` returns it
        (:func:`explorer.variant_effect` parses anything else first).
    batch_size : int, optional
        Masked copies per model call.

    Returns
    -------
    pandas.DataFrame
        The columns of :data:`explorer.variants.effects.EFFECT_COLUMNS`, one row per variant;
        ``window_start``/``window_end`` (1-based inclusive) is the PLL window for indels and
        the position itself for SNVs.
    """
    table = variants
    indices = check_variants(locus, table)
    x = locus.one_hot
    rf = receptive_field_of(model)
    flank = 2 * (rf // 2) if rf else INDEL_FLANK
    refs = [allele_bases(r) for r in table["ref"]]
    alts = [allele_bases(a) for a in table["alt"]]
    snv = np.array([len(r) == 1 and len(a) == 1 for r, a in zip(refs, alts)], dtype=bool)
    rows = []
    snv_at = sorted({int(i) for i, s in zip(indices, snv) if s})
    lp = {}
    if snv_at:
        a, b = snv_at[0], snv_at[-1] + 1
        res = masked_log_probs(model, x, a, b, batch_size=batch_size)
        lp = {i: res.log_probs[:, i - a] for i in snv_at}
    for k, (i, ref, alt) in enumerate(zip(indices, refs, alts)):
        i = int(i)
        if snv[k]:
            r_score = float(lp[i]["ACGT".index(ref)])
            a_score = float(lp[i]["ACGT".index(alt)]) if alt in "ACGT" else math.nan
            rows.append((r_score, a_score, "masked LLR", locus.start + i + 1, locus.start + i + 1))
            continue
        lo, hi = max(0, i - flank), min(len(locus), i + len(ref) + flank)
        seq = locus.sequence
        ref_seq = seq[lo:hi]
        alt_seq = seq[lo:i] + alt + seq[i + len(ref):hi]
        r_score = pseudo_log_likelihood(model, one_hot_encode(ref_seq), batch_size=batch_size) if ref_seq else 0.0
        a_score = pseudo_log_likelihood(model, one_hot_encode(alt_seq), batch_size=batch_size) if alt_seq else 0.0
        rows.append((r_score, a_score, "PLL difference", locus.start + lo + 1, locus.start + hi))
    df = table[["chrom", "pos", "ref", "alt", "id", "kind"]].copy().reset_index(drop=True)
    df["task"] = [r[2] for r in rows]
    df["ref_score"] = [r[0] for r in rows]
    df["alt_score"] = [r[1] for r in rows]
    df["diff"] = df["alt_score"] - df["ref_score"]
    df["log_ratio"] = df["diff"] / math.log(2)
    df["window_start"] = pd.array([r[3] for r in rows], dtype="Int64")
    df["window_end"] = pd.array([r[4] for r in rows], dtype="Int64")
    df["n_padded"] = 0
    df.attrs.update(window="masked position (SNV) / PLL window (indels)",
                    model=str(getattr(model, "name", type(model).__name__)), output="log_probability",
                    locus=str(locus), notes=[])
    return df

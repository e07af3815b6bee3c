"""Attribution of the reference and the alternative sequence of a variant, aligned.

The model sees the whole locus for both alleles (as in :func:`explorer.attribute`); the
alternative sequence is built by the rule of :mod:`explorer.variants.effects` for a
whole-locus window: same length as the locus, bases left of the variant unchanged, the right
flank shifted by ``len(alt) - len(ref)`` (``N`` fills the end after a deletion; bases
pushed past the end by an insertion are lost).

Alignment of the two maps (all indices 0-based within the locus; ``i`` the variant's first
base, ``r``/``a`` the lengths of the ref/alt alleles, ``k = min(r, a)``):

* reference positions ``p < i + k`` pair with alternative position ``p`` (left flank, and
  the allele bases the two share position by position, e.g. the anchor base of a VCF indel
  or the base of an SNV);
* reference positions ``p >= i + r`` pair with ``p + a - r`` (right flank);
* reference positions ``i + k <= p < i + r`` (deleted bases) pair with nothing
  (``aligned`` is False there, the aligned alt values and the difference are 0);
* inserted alternative positions ``i + k <= q < i + a`` have no reference position; they
  are kept in ``alt`` (its own window) but not in the aligned arrays.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from explorer.io.variants import allele_bases, check_variants, parse_variants
from explorer.variants.effects import variant_window

#: bases on each side of the variant explained when no window is given
DEFAULT_FLANK = 50


@dataclass
class VariantAlignment:
    """Index mapping between the reference and the alternative sequence of one variant.

    Attributes
    ----------
    index : int
        0-based index of the variant's first base within the locus.
    ref_length, alt_length : int
        Bases in the ref and alt alleles (``"-"`` counts 0).
    length : int
        Length of both sequences (the locus).
    """

    index: int
    ref_length: int
    alt_length: int
    length: int

    @property
    def shared(self) -> int:
        return min(self.ref_length, self.alt_length)

    @property
    def delta(self) -> int:
        return self.alt_length - self.ref_length

    def to_alt(self, p) -> np.ndarray:
        """Alternative index of reference index/indices ``p`` (-1: none, deleted or pushed out)."""
        p = np.asarray(p, dtype=np.int64)
        q = np.where(p < self.index + self.shared, p,
                     np.where(p >= self.index + self.ref_length, p + self.delta, -1))
        return np.where((q >= 0) & (q < self.length), q, -1)

    def to_ref(self, q) -> np.ndarray:
        """Reference index of alternative index/indices ``q`` (-1: inserted base, or padding)."""
        q = np.asarray(q, dtype=np.int64)
        p = np.where(q < self.index + self.shared, q,
                     np.where(q >= self.index + self.alt_length, q - self.delta, -1))
        return np.where((p >= 0) & (p < self.length), p, -1)


@dataclass
class RefAltAttribution:
    """Reference and alternative attribution maps of one variant, and their difference.

    Attributes
    ----------
    variant : dict
        ``chrom, pos`` (1-based), ``ref, alt, id, kind``.
    ref : Attribution
        The map over ``[start, end)`` of the reference locus.
    alt : Attribution
        The map of the alternative sequence over its own window (the reference window mapped
        through the alignment: for an insertion it includes the inserted bases).
    alt_aligned : torch.Tensor
        ``(4, end - start)``: ``alt.values`` placed on the reference window's positions
        (0 where ``aligned`` is False).
    alt_one_hot_aligned : torch.Tensor
        ``(4, end - start)``: the alternative bases on the reference positions (the alt base
        at an SNV; zero columns where ``aligned`` is False).
    aligned : numpy.ndarray of bool
        ``(end - start,)``: whether each reference position has an alternative counterpart.
    diff : torch.Tensor
        ``(4, end - start)``: ``alt_aligned - ref.values`` (0 where not aligned).
    alignment : VariantAlignment
    variant_offset : int
        0-based offset of the variant's first base in the reference window (may lie outside
        ``[0, end - start)`` if the window does not hold the variant).
    """

    variant: dict
    ref: object
    alt: object
    alt_aligned: torch.Tensor
    alt_one_hot_aligned: torch.Tensor
    aligned: np.ndarray
    diff: torch.Tensor
    alignment: VariantAlignment
    variant_offset: int
    notes: list[str] = field(default_factory=list)

    @property
    def per_base_diff(self) -> np.ndarray:
        """``(end - start,)``: alt minus ref per-base importance (0 where not aligned)."""
        ref = np.asarray(self.ref.per_base, dtype=np.float64)
        alt = np.zeros_like(ref)
        q = self.alignment.to_alt(np.arange(self.ref.start, self.ref.end)) - self.alt.start
        ok = self.aligned
        alt[ok] = np.asarray(self.alt.per_base, dtype=np.float64)[q[ok]]
        out = alt - ref
        out[~ok] = 0.0
        return out

    @property
    def alt_contribution_aligned(self) -> torch.Tensor:
        """``(4, end - start)``: the alt map's logo input (``alt.contribution``) on the reference
        positions (zero columns where not aligned)."""
        out = torch.zeros_like(self.ref.one_hot)
        q = self.alignment.to_alt(np.arange(self.ref.start, self.ref.end)) - self.alt.start
        cols = np.flatnonzero(self.aligned)
        out[:, torch.as_tensor(cols)] = self.alt.contribution[:, torch.as_tensor(q[cols])].to(out.dtype)
        return out

    @property
    def diff_contribution(self) -> torch.Tensor:
        """``(4, end - start)``: alt minus ref logo input, for a difference logo. At the variant
        the ref letter goes negative and the alt letter positive by their importance."""
        out = self.alt_contribution_aligned - self.ref.contribution
        out[:, torch.as_tensor(np.flatnonzero(~self.aligned), dtype=torch.long)] = 0.0
        return out

    @property
    def label(self) -> str:
        """``"C>T at 62,150"`` (1-based position)."""
        return variant_words(self.variant)


def variant_words(variant) -> str:
    """``"C>T at 62,150"`` for a variant row or dict (1-based ``pos``)."""
    return f"{variant['ref']}>{variant['alt']} at {int(variant['pos']):,}"


def variant_at(attribution, base: int | str, index: int) -> dict:
    """The substitution behind one cell of an attribution map (e.g. a clicked ISM cell).

    Parameters
    ----------
    attribution : Attribution
        Map over a window of a locus (``chrom``, ``genome_start`` place it).
    base : int or str
        Row of the map (0-3 for A, C, G, T) or the base letter: the alternative allele.
    index : int
        0-based column within the map's window.

    Returns
    -------
    dict
        ``chrom, pos`` (1-based), ``ref, alt, id``: ready for :func:`ref_alt_attributions`
        and :func:`explorer.variant_effect`.

    Raises
    ------
    ValueError
        A column outside the map, an unknown (N) reference base, or the reference base itself.
    """
    alt = "ACGT"[int(base)] if not isinstance(base, str) else base.upper()
    if alt not in ("A", "C", "G", "T"):
        raise ValueError(f"base must be 0-3 or one of A, C, G, T; got {base!r}")
    if not 0 <= int(index) < len(attribution):
        raise ValueError(f"index {index} is outside the map's {len(attribution)} columns (0-based)")
    ref = attribution.sequence[int(index)]
    pos = int(attribution.genome_start) + int(index) + 1
    chrom = attribution.chrom or "seq"
    if ref == "N":
        raise ValueError(f"position {pos:,} is N (unknown base); there is no reference allele to change")
    if ref == alt:
        raise ValueError(f"{alt} is the reference base at {chrom}:{pos:,}; pick another base")
    return {"chrom": chrom, "pos": pos, "ref": ref, "alt": alt, "id": f"{chrom}:{pos}:{ref}>{alt}"}


def _one_variant(locus, variant) -> dict:
    if isinstance(variant, pd.Series):
        variant = variant.to_dict()
    if isinstance(variant, dict) and {"chrom", "pos", "ref", "alt"} <= set(variant):
        table = parse_variants(pd.DataFrame([{k: variant[k] for k in ("chrom", "pos", "ref", "alt")}]))
        if variant.get("id"):
            table["id"] = str(variant["id"])
    else:
        table = parse_variants(variant, locus=locus)
    if len(table) != 1:
        raise ValueError(f"give one variant; got {len(table)}")
    check_variants(locus, table)
    return table.iloc[0].to_dict()


def alternative_locus(locus, variant):
    """The locus with ``variant`` applied (same coordinates and length; rule: module docstring).

    Returns
    -------
    (Locus, VariantAlignment)
    """
    from explorer.io.loci import Locus

    row = _one_variant(locus, variant)
    i = int(row["pos"]) - 1 - locus.start
    w = variant_window(locus.sequence, i, row["ref"], row["alt"], None)
    alt_locus = Locus(locus.chrom, locus.start, locus.end, w.alt_sequence, locus.annotations,
                      f"{locus.source} + {row['id']}", locus.chrom_length)
    return alt_locus, VariantAlignment(i, len(allele_bases(row["ref"])), len(allele_bases(row["alt"])),
                                       len(locus))


def ref_alt_attributions(model, locus, variant, method: str = "ism", target=None,
                         start: int | None = None, end: int | None = None, *,
                         flank: int = DEFAULT_FLANK, **options) -> RefAltAttribution:
    """Attribute the reference and the alternative sequence of one variant, aligned.

    Parameters
    ----------
    model : ExplorerModel or torch.nn.Module
    locus : Locus
    variant : str, dict or pandas.Series
        One variant: ``"HUMHBB:62150:C>T"`` or a row with ``chrom, pos`` (1-based), ``ref,
        alt``. Checked against the locus.
    method : str
        Any method of :func:`explorer.attribute` (``"ism"``, ``"ig"``, ``"deeplift_shap"``,
        ``"saliency"``).
    target : str, int or Target
        As for :func:`explorer.attribute`.
    start, end : int, optional
        0-based half-open window within the locus to explain; default ``flank`` bases either
        side of the reference allele, clipped to the locus.
    flank : int
        See ``start``/``end``.
    **options
        Passed to :func:`explorer.attribute` (``cache``, ``progress``, ``batch_size`` ...).

    Returns
    -------
    RefAltAttribution
    """
    from explorer.attribution.api import attribute

    row = _one_variant(locus, variant)
    alt_locus, al = alternative_locus(locus, row)
    if start is None and end is None:
        start = max(0, al.index - flank)
        end = min(len(locus), al.index + al.ref_length + flank)
    start = 0 if start is None else int(start)
    end = len(locus) if end is None else int(end)
    if not 0 <= start < end <= len(locus):
        raise ValueError(f"start and end must satisfy 0 <= start < end <= {len(locus)} (0-based half-open "
                         f"within the locus); got start={start}, end={end}")
    positions = np.arange(start, end)
    q = al.to_alt(positions)
    aligned = q >= 0
    notes = []
    if not aligned.any():
        raise ValueError(f"the window [{start}, {end}) lies wholly in bases the variant deletes; widen it")
    alt_start, alt_end = int(q[aligned].min()), int(q[aligned].max()) + 1
    ref_res = attribute(model, locus, method, target, start, end, **options)
    alt_res = attribute(model, alt_locus, method, target, alt_start, alt_end, **options)

    values = torch.zeros_like(ref_res.values)
    onehot = torch.zeros_like(ref_res.one_hot)
    cols = torch.as_tensor(np.flatnonzero(aligned))
    src = torch.as_tensor(q[aligned] - alt_start)
    values[:, cols] = alt_res.values[:, src].to(values.dtype)
    onehot[:, cols] = alt_res.one_hot[:, src].to(onehot.dtype)
    diff = values - ref_res.values
    diff[:, torch.as_tensor(np.flatnonzero(~aligned), dtype=torch.long)] = 0.0
    if al.ref_length > al.shared:
        notes.append(f"{al.ref_length - al.shared} deleted base(s) have no alternative counterpart")
    if al.alt_length > al.shared:
        notes.append(f"{al.alt_length - al.shared} inserted base(s) appear only in the alternative map")
    pushed = int(((positions >= al.index + al.ref_length) & ~aligned).sum())
    if pushed:
        notes.append(f"{pushed} base(s) at the end of the locus were pushed out by the insertion")
    cut = al.index + al.alt_length - al.length
    if cut > 0:
        notes.append(f"the inserted allele runs {cut} base(s) past the end of the locus, so the alternative map "
                     f"holds only its first {al.alt_length - cut} base(s): load a longer locus to see all of it")
    return RefAltAttribution(variant=row, ref=ref_res, alt=alt_res, alt_aligned=values,
                             alt_one_hot_aligned=onehot, aligned=aligned, diff=diff, alignment=al,
                             variant_offset=al.index - start, notes=notes)

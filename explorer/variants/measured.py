"""Measured variant effects placed on a locus, and their comparison with predictions.

Placing: a locus may use its own coordinates (a GenBank record's numbering, e.g. HUMHBB)
while the measurements use genome coordinates (GRCh37/38). Each element's reference
sequence is rebuilt from the table (the ``ref`` base at each measured position) and looked
up in the locus on both strands (mismatches counted by FFT correlation; ``N`` matches
anything). The best placement with at most ``max_mismatches`` mismatches wins; ties are
broken by an annotation of the locus named like the element (e.g. gene ``HBG1`` for the
element ``HBG1``, whose promoter is nearly identical to that of ``HBG2``), and an unresolved
tie is reported (``ambiguous``). A placement is exact base-for-base (no gaps), so an element
whose sequence differs from the locus by an indel does not place.

On the minus strand alleles are reverse-complemented, and a variant covering genome
positions ``pos .. pos + len(ref) - 1`` covers the mirrored locus positions. Positions in the
output are 1-based on the locus's ``chrom``.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import signal, stats

from explorer.io.sequences import reverse_complement
from explorer.io.variants import _same_chrom, allele_bases, measured_from_frame, read_measured_table

#: columns added by placing on a locus
PLACED_COLUMNS = ["locus_chrom", "locus_pos", "locus_ref", "locus_alt", "strand", "placed",
                  "ref_matches_locus"]
#: default number of mismatches tolerated between an element and the locus
MAX_MISMATCHES = 5


@dataclass
class ElementPlacement:
    """Where one measured element lies on a locus.

    Attributes
    ----------
    element : str
        The element's name (``Element`` column).
    chrom, start, end : str, int, int
        The element's span in the table's coordinates, 1-based inclusive.
    length : int
        ``end - start + 1``.
    mapped : bool
        Whether it was placed.
    locus_chrom : str
        The locus's sequence name.
    locus_start, locus_end : int or None
        The span on the locus, 1-based inclusive on ``locus_chrom``.
    strand : str or None
        ``"+"`` if the element reads the same way as the locus, ``"-"`` if reversed.
    mismatches : int or None
        Bases of the element that differ from the locus at the placement.
    method : str
        ``"coordinates"`` (same sequence name and numbering as the locus) or ``"sequence"``.
    ambiguous : bool
        Another placement was as good and could not be ruled out.
    alternatives : list of str
        Other placements with as few mismatches (``"HUMHBB:34,257-34,530 (-), 1 mismatch"``).
    n_variants, n_placed, n_ref_mismatch : int
        Variants of the element; those inside the locus; those whose reference allele differs
        from the locus (where the haplotypes differ).
    reason : str
        Why it was not placed, or a note.
    """

    element: str
    chrom: str
    start: int
    end: int
    length: int
    mapped: bool = False
    locus_chrom: str = ""
    locus_start: int | None = None
    locus_end: int | None = None
    strand: str | None = None
    mismatches: int | None = None
    method: str = "sequence"
    ambiguous: bool = False
    alternatives: list[str] = field(default_factory=list)
    n_variants: int = 0
    n_placed: int = 0
    n_ref_mismatch: int = 0
    reason: str = ""

    def __str__(self) -> str:
        where = f"{self.chrom}:{self.start:,}-{self.end:,}"
        if not self.mapped:
            return f"{self.element} ({where}, {self.length} bp) was not placed on {self.locus_chrom}: {self.reason}"
        text = (f"{self.element} ({where}, {self.length} bp) maps to {self.locus_chrom}:{self.locus_start:,}-"
                f"{self.locus_end:,} on the {'plus' if self.strand == '+' else 'minus'} strand "
                f"({self.method}, {self.mismatches} mismatch{'es' if self.mismatches != 1 else ''}); "
                f"{self.n_placed} of {self.n_variants} variants placed")
        if self.n_ref_mismatch:
            text += f", {self.n_ref_mismatch} with a reference allele that differs from the locus"
        if self.ambiguous:
            text += f". Ambiguous: as good a match at {', '.join(self.alternatives)}"
        elif self.alternatives:
            text += f" (also {', '.join(self.alternatives)}; chosen by the locus annotation)"
        return text

    def to_dict(self) -> dict:
        return asdict(self)


def element_reference(table: pd.DataFrame) -> tuple[int, str]:
    """Rebuild an element's reference sequence from its variants.

    Parameters
    ----------
    table : DataFrame
        One element's rows: ``pos`` (1-based) and ``ref``.

    Returns
    -------
    (start, sequence)
        ``start`` 1-based position of the first base; unmeasured positions inside the span
        are ``N``.

    Raises
    ------
    ValueError
        Two rows disagree about the reference base at a position.
    """
    start = int(table["pos"].min())
    end = int(max(p + max(len(allele_bases(r)), 1) - 1 for p, r in zip(table["pos"], table["ref"])))
    seq = np.full(end - start + 1, "N", dtype="<U1")
    seen: dict[int, str] = {}
    for p, r in zip(table["pos"], table["ref"]):
        for k, base in enumerate(allele_bases(r)):
            q = int(p) + k
            if q in seen and seen[q] != base:
                raise ValueError(
                    f"the table disagrees about the reference base at {table['chrom'].iloc[0]}:{q:,} "
                    f"({seen[q]} and {base}); one element's rows must share one reference"
                )
            seen[q] = base
            seq[q - start] = base
    return start, "".join(seq)


#: locus bases correlated per FFT chunk (keeps memory flat for chromosome-sized loci)
_CHUNK = 1 << 20


def _onehot_float(s: str) -> np.ndarray:
    codes = np.frombuffer(s.encode("ascii"), dtype=np.uint8)
    return np.stack([codes == ord(b) for b in "ACGT"]).astype(np.float64)


def _mismatch_profile(locus_seq: str, query: str) -> np.ndarray:
    """Mismatches of ``query`` at every offset of ``locus_seq`` (N matches anything).

    Counted by FFT correlation of the one-hot encodings, in chunks of :data:`_CHUNK` bases.
    Returns an int array of length ``len(locus_seq) - len(query) + 1``.
    """
    w = len(query)
    Q = _onehot_float(query)[:, ::-1]
    q_known = Q.sum(0)
    out = []
    for a in range(0, len(locus_seq) - w + 1, _CHUNK):
        L = _onehot_float(locus_seq[a:a + _CHUNK + w - 1])
        matches = sum(signal.fftconvolve(L[b], Q[b], mode="valid") for b in range(4))
        known = signal.fftconvolve(L.sum(0), q_known, mode="valid")
        out.append(np.rint(known - matches).astype(np.int64))
    return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)


def find_element(locus, sequence: str, *, max_mismatches: int = MAX_MISMATCHES,
                 name: str | None = None) -> dict | None:
    """Best exact-length placement of ``sequence`` in ``locus`` on either strand.

    Parameters
    ----------
    locus : Locus
    sequence : str
        The element (``N`` for unknown bases), in its own orientation.
    max_mismatches : int
        Most mismatches accepted.
    name : str, optional
        Element name, used to break ties by the locus annotation (a feature whose name equals
        ``name`` overlapping or nearest to the candidate wins).

    Returns
    -------
    dict or None
        ``index`` (0-based start within the locus), ``strand``, ``mismatches``,
        ``ambiguous``, ``alternatives`` (list of (index, strand, mismatches)), ``best_seen``
        (fewest mismatches found, also when nothing was accepted). None if the element is
        longer than the locus.
    """
    if len(sequence) > len(locus):
        return None
    candidates = []
    best_seen = None
    for strand, query in (("+", sequence), ("-", reverse_complement(sequence))):
        mm = _mismatch_profile(locus.sequence, query)
        low = int(mm.min())
        best_seen = low if best_seen is None else min(best_seen, low)
        for idx in np.flatnonzero(mm <= max_mismatches):
            candidates.append((int(idx), strand, int(mm[idx])))
    result = {"best_seen": best_seen, "index": None}
    if not candidates:
        return result
    fewest = min(c[2] for c in candidates)
    best = [c for c in candidates if c[2] == fewest]
    chosen, ambiguous = best[0], len(best) > 1
    if ambiguous and name:
        scored = [(_annotation_distance(locus, name, c[0], c[0] + len(sequence)), c) for c in best]
        scored.sort(key=lambda t: t[0])
        if scored[0][0] < np.inf and (len(scored) == 1 or scored[0][0] < scored[1][0]):
            chosen, ambiguous = scored[0][1], False
    others = [c for c in best if c != chosen]
    result.update(index=chosen[0], strand=chosen[1], mismatches=chosen[2], ambiguous=ambiguous,
                  alternatives=others)
    return result


def _annotation_distance(locus, name: str, start: int, end: int) -> float:
    """Distance in bp from ``[start, end)`` (0-based in the locus) to a feature named ``name``."""
    ann = getattr(locus, "annotations", None)
    if ann is None or len(ann) == 0:
        return np.inf
    key = str(name).split(".")[0].split("-")[0].upper()
    hits = ann[ann["name"].astype(str).str.upper() == key]
    if hits.empty:
        return np.inf
    a, b = locus.start + start, locus.start + end
    gaps = np.maximum(0, np.maximum(hits["start"].to_numpy() - b, a - hits["end"].to_numpy()))
    return float(gaps.min())


def place_measured(measured: pd.DataFrame, locus, *, max_mismatches: int = MAX_MISMATCHES
                   ) -> tuple[pd.DataFrame, list[ElementPlacement]]:
    """Place a measured-effect table (from :func:`read_measured_table`) on a locus.

    Each element is placed by coordinates when the table uses the locus's sequence name and
    the locus bases agree, else by its sequence (see the module docstring).

    Returns
    -------
    (DataFrame, list of ElementPlacement)
        The table with :data:`PLACED_COLUMNS` added (``locus_pos`` 1-based on ``locus_chrom``;
        ``locus_ref``/``locus_alt`` on the locus's strand; ``placed`` False and ``locus_*``
        empty for elements that did not place), and one placement report per element.
    """
    out = measured.copy()
    out["locus_chrom"] = locus.chrom
    out["locus_pos"] = pd.array([pd.NA] * len(out), dtype="Int64")
    out["locus_ref"] = ""
    out["locus_alt"] = ""
    out["strand"] = ""
    out["placed"] = False
    out["ref_matches_locus"] = False
    reports = []
    for element, part in out.groupby("element", sort=False):
        start, seq = element_reference(part)
        chrom = str(part["chrom"].iloc[0])
        rep = ElementPlacement(element=str(element), chrom=chrom, start=start, end=start + len(seq) - 1,
                               length=len(seq), locus_chrom=locus.chrom, n_variants=len(part))
        index, strand = None, None
        if _same_chrom(chrom, locus.chrom):
            i = start - 1 - locus.start
            if 0 <= i and i + len(seq) <= len(locus):
                mm = _mismatch_profile(locus.sequence[i:i + len(seq)], seq)[0]
                if mm <= max_mismatches:
                    index, strand, rep.mismatches, rep.method = i, "+", int(mm), "coordinates"
        if index is None:
            found = find_element(locus, seq, max_mismatches=max_mismatches, name=str(element))
            if found is None:
                rep.reason = f"the element ({len(seq)} bp) is longer than the locus ({len(locus):,} bp)"
            elif found["index"] is None:
                rep.reason = (f"no placement on either strand with at most {max_mismatches} mismatches "
                              f"(the best has {found['best_seen']} of {len(seq)} bases); is it inside "
                              f"this locus?")
            else:
                index, strand = found["index"], found["strand"]
                rep.mismatches, rep.ambiguous = found["mismatches"], found["ambiguous"]
                rep.alternatives = [
                    f"{locus.chrom}:{locus.start + a + 1:,}-{locus.start + a + len(seq):,} ({s}), "
                    f"{m} mismatch{'es' if m != 1 else ''}" for a, s, m in found["alternatives"]]
        if index is None:
            reports.append(rep)
            continue
        rep.mapped, rep.strand = True, strand
        rep.locus_start = locus.start + index + 1
        rep.locus_end = locus.start + index + len(seq)
        for row in part.index:
            pos, ref, alt = int(out.at[row, "pos"]), out.at[row, "ref"], out.at[row, "alt"]
            span = max(len(allele_bases(ref)), 1)
            if strand == "+":
                j = index + (pos - start)
                lref, lalt = ref, alt
            else:
                j = index + (start + len(seq) - 1) - (pos + span - 1)
                lref = "-" if ref == "-" else reverse_complement(ref)
                lalt = "-" if alt == "-" else reverse_complement(alt)
            out.at[row, "locus_pos"] = locus.start + j + 1
            out.at[row, "locus_ref"] = lref
            out.at[row, "locus_alt"] = lalt
            out.at[row, "strand"] = strand
            out.at[row, "placed"] = True
            out.at[row, "ref_matches_locus"] = locus.sequence[j:j + len(allele_bases(lref))] == allele_bases(lref)
        placed = out.loc[part.index]
        rep.n_placed = int(placed["placed"].sum())
        rep.n_ref_mismatch = int((placed["placed"] & ~placed["ref_matches_locus"]).sum())
        if rep.ambiguous:
            warnings.warn(str(rep), stacklevel=3)
        reports.append(rep)
    return out, reports


def load_measured_effects(path, locus=None, element=None, *, release: str | None = "auto",
                          max_mismatches: int = MAX_MISMATCHES) -> pd.DataFrame:
    """Read measured variant effects and, given a locus, place them on it.

    Parameters
    ----------
    path : str, Path or DataFrame
        The Kircher et al. 2019 format (``Chrom Pos Ref Alt Barcodes DNA RNA Coefficient pValue
        Element Release``; ``Coefficient`` -> ``effect``, the measured log2 effect on
        expression) or a plain table with ``chrom, pos, ref, alt, effect``; ``pos`` 1-based.
    locus : Locus, optional
        Place the variants on it (by sequence when its coordinates differ; module docstring).
    element : str or list of str, optional
        Keep only these elements.
    release : str or None
        Genome release to keep when the table has several (Kircher: GRCh37 and GRCh38 rows);
        ``"auto"``: GRCh38 when present. Placement by sequence does not depend on it.
    max_mismatches : int
        Most element bases allowed to differ from the locus at a placement.

    Returns
    -------
    pandas.DataFrame
        Columns ``chrom, pos, ref, alt`` (the table's own coordinates, 1-based), ``effect``,
        ``pvalue``, ``element``, ``release``, ``kind``, ``is_deletion`` (deletions are kept,
        flagged), the file's other columns, and with a locus :data:`PLACED_COLUMNS`.
        ``df.attrs["placements"]`` holds a list of :class:`ElementPlacement` (one per element;
        ``str()`` of one says where it mapped), ``df.attrs["report"]`` the same in words.
    """
    if isinstance(path, pd.DataFrame):
        measured = measured_from_frame(path, element=element, release=release)
    else:
        measured = read_measured_table(Path(path), element=element, release=release)
    if locus is None:
        return measured
    placed, reports = place_measured(measured, locus, max_mismatches=max_mismatches)
    placed.attrs.update(measured.attrs)
    placed.attrs["placements"] = reports
    placed.attrs["report"] = "\n".join(str(r) for r in reports)
    return placed


# ---------------------------------------------------------------------------------------
# predicted vs measured
# ---------------------------------------------------------------------------------------

@dataclass
class Comparison:
    """Predicted vs measured variant effects for one task.

    Attributes
    ----------
    pairs : pandas.DataFrame
        One row per variant measured and predicted: ``chrom, pos`` (1-based, the locus's),
        ``ref, alt`` (locus strand), ``kind``, ``predicted``, ``measured``, ``pvalue``,
        ``element``, ``id``.
    task : str
    value : str
        The predicted column compared (``"diff"`` or ``"log_ratio"``).
    n : int
        Number of pairs with both values finite.
    pearson, pearson_p, spearman, spearman_p : float
        Correlations and their two-sided p-values (NaN for fewer than 3 pairs or a constant
        column).
    n_unmatched_measured, n_unmatched_predicted : int
        Measured (placed) variants with no prediction, and predictions with no measurement.
    """

    pairs: pd.DataFrame
    task: str
    value: str
    n: int
    pearson: float
    pearson_p: float
    spearman: float
    spearman_p: float
    n_unmatched_measured: int = 0
    n_unmatched_predicted: int = 0

    def __str__(self) -> str:
        return (f"{self.task}: Pearson r = {self.pearson:.3f} (p = {self.pearson_p:.2g}), Spearman rho = "
                f"{self.spearman:.3f} (p = {self.spearman_p:.2g}), n = {self.n}")

    def summary(self) -> dict:
        return {k: getattr(self, k) for k in ("task", "value", "n", "pearson", "pearson_p", "spearman",
                                               "spearman_p", "n_unmatched_measured", "n_unmatched_predicted")}


def _measured_keys(measured: pd.DataFrame) -> pd.DataFrame:
    """Measured rows keyed by the locus's coordinates (placed ones) or their own."""
    if "locus_pos" in measured:
        m = measured[measured["placed"].astype(bool) & measured["ref_matches_locus"].astype(bool)]
        return pd.DataFrame({"chrom": m["locus_chrom"].astype(str), "pos": m["locus_pos"].astype(np.int64),
                             "ref": m["locus_ref"], "alt": m["locus_alt"], "measured": m["effect"],
                             "pvalue": m["pvalue"], "element": m["element"]})
    return pd.DataFrame({"chrom": measured["chrom"].astype(str), "pos": measured["pos"].astype(np.int64),
                         "ref": measured["ref"], "alt": measured["alt"], "measured": measured["effect"],
                         "pvalue": measured.get("pvalue", np.nan), "element": measured.get("element", "")})


def _correlations(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float, float]:
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return (np.nan,) * 4
    p = stats.pearsonr(x, y)
    s = stats.spearmanr(x, y)
    return float(p.statistic), float(p.pvalue), float(s.statistic), float(s.pvalue)


def compare_measured(predicted: pd.DataFrame, measured: pd.DataFrame, task: str | None = None, *,
                     value: str = "diff", kinds=None, zero_tol: float = 1e-6) -> Comparison:
    """Join predicted and measured effects on (chrom, position, ref, alt) and correlate them.

    Parameters
    ----------
    predicted : DataFrame
        From :func:`explorer.variant_effect` or :func:`effects_from_ism` (``chrom``, ``pos``
        1-based, ``ref``, ``alt``, ``task``, and ``value``).
    measured : DataFrame
        From :func:`load_measured_effects`. Placed tables are joined on ``locus_chrom``,
        ``locus_pos``, ``locus_ref``, ``locus_alt`` (rows not placed, or whose reference
        differs from the locus, are left out); unplaced tables on their own ``chrom, pos,
        ref, alt``.
    task : str, optional
        Which task's predictions; needed when ``predicted`` holds several.
    value : str
        Predicted column to compare: ``"diff"`` (default) or ``"log_ratio"``.
    kinds : iterable of str, optional
        Keep only these variant kinds (e.g. ``("snv",)``); default all that join.
    zero_tol : float
        Predicted values with ``|value| <= zero_tol`` count as exactly 0 (default 1e-6), so
        float noise (e.g. fast ISM vs a full forward pass) does not rank the variants a model
        treats as neutral (a max-pooled model ignores most bases far from its strongest site).

    Returns
    -------
    Comparison
        Pairs and Pearson/Spearman correlations (scipy) over pairs where both values are finite.
    """
    tasks = list(pd.unique(predicted["task"])) if "task" in predicted else [task]
    if task is None:
        if len(tasks) != 1:
            raise ValueError(f"the predictions hold several tasks {tasks}; choose one with task=...")
        task = tasks[0]
    elif "task" in predicted and task not in tasks:
        raise ValueError(f"task {task!r} is not among the predictions' tasks {tasks}")
    if value not in predicted:
        raise ValueError(f"the predictions have no column {value!r}; use 'diff' or 'log_ratio'")
    pred = predicted[predicted["task"] == task] if "task" in predicted else predicted
    pred = pd.DataFrame({"chrom": pred["chrom"].astype(str), "pos": pred["pos"].astype(np.int64),
                         "ref": pred["ref"], "alt": pred["alt"], "predicted": pred[value].astype(float),
                         "kind": pred.get("kind", ""), "id": pred.get("id", "")})
    pred = pred.drop_duplicates(["chrom", "pos", "ref", "alt"])
    meas = _measured_keys(measured).drop_duplicates(["chrom", "pos", "ref", "alt"])
    keys = ["chrom", "pos", "ref", "alt"]
    joined = pred.merge(meas, on=keys, how="inner")
    pairs = joined[joined["kind"].isin(list(kinds))] if kinds is not None else joined
    pairs = pairs[["chrom", "pos", "ref", "alt", "kind", "predicted", "measured", "pvalue", "element",
                   "id"]].sort_values(["pos", "alt"]).reset_index(drop=True)
    x_all = pairs["predicted"].to_numpy(float)
    ok = np.isfinite(x_all) & np.isfinite(pairs["measured"].to_numpy(float))
    x, y = x_all[ok], pairs["measured"].to_numpy(float)[ok]
    x = np.where(np.abs(x) <= zero_tol, 0.0, x)
    r, rp, rho, rhop = _correlations(x, y)
    return Comparison(pairs=pairs, task=str(task), value=value, n=int(ok.sum()), pearson=r, pearson_p=rp,
                      spearman=rho, spearman_p=rhop,
                      n_unmatched_measured=int(len(meas) - len(joined)),
                      n_unmatched_predicted=int(len(pred) - len(joined)))


# ---------------------------------------------------------------------------------------
# what a comparison means
# ---------------------------------------------------------------------------------------

#: what a model's output can be declared to measure (optional model-card field ``output_kind``)
OUTPUT_KINDS = {
    "binding": "binding of a factor (e.g. ChIP-seq peaks)",
    "accessibility": "chromatin accessibility (e.g. ATAC/DNase)",
    "activity": "regulatory activity (e.g. MPRA or STARR-seq expression)",
    "expression": "gene expression (e.g. RNA-seq or CAGE)",
}
#: what a measured-effects table measures unless its ``attrs["assay"]`` says otherwise
#: (Kircher et al. 2019 saturation mutagenesis: log2 expression of an MPRA reporter)
DEFAULT_ASSAY = "activity"


def output_kind(card) -> str | None:
    """A model card's declared ``output_kind`` (a key of :data:`OUTPUT_KINDS`), or None.

    The field is optional; a card without it, or with a value not in :data:`OUTPUT_KINDS`,
    gives None (nothing is guessed from the model's name or description).
    """
    value = (card or {}).get("output_kind") if hasattr(card or {}, "get") else None
    value = str(value).strip().lower() if value is not None else None
    return value if value in OUTPUT_KINDS else None


def judge_comparison(comparison: Comparison, *, output_kind: str | None = None, assay: str = DEFAULT_ASSAY,
                     description: str | None = None, alpha: float = 0.05) -> str:
    """Say in words what a predicted-vs-measured comparison shows, from its n, r and p.

    Parameters
    ----------
    comparison : Comparison
        Judged on its Pearson r, its p-value and n (Spearman's rho is reported beside).
    output_kind : str, optional
        What the model's output measures (:func:`output_kind` of its card); None: undeclared.
    assay : str
        What the measured table measures (a key of :data:`OUTPUT_KINDS`).
    description : str, optional
        The model card's description, quoted when ``output_kind`` is undeclared.
    alpha : float
        Significance level of the two-sided Pearson test.

    Returns
    -------
    str
        One or two sentences: whether the data show agreement (and how strong), then what
        the model's declared output kind lets one expect of this assay.
    """
    n, r, p = comparison.n, comparison.pearson, comparison.pearson_p
    if n < 3 or not np.isfinite(r) or not np.isfinite(p):
        return (f"With n = {n} usable variants, the comparison cannot say whether the model agrees with the "
                f"measurement.")
    stats_text = f"r = {r:.2f}, p = {p:.2g}, n = {n}"
    significant = p <= alpha
    a = abs(r)
    strength = "weak" if a < 0.3 else "moderate" if a < 0.6 else "strong"
    if significant and r > 0:
        verdict = f"The model's effects agree with the measured ones ({strength}ly; {stats_text})."
    elif significant:
        verdict = f"The model's effects run against the measured ones ({strength} negative correlation; {stats_text})."
    else:
        verdict = (f"The data show no significant agreement between the model and the measurement "
                   f"({stats_text}; p > {alpha:g})")
        verdict += ": with so few variants only a strong correlation could show." if n < 30 else "."
    agrees = significant and r > 0 and a >= 0.3
    measured_words = OUTPUT_KINDS.get(assay, assay)
    if output_kind is None:
        context = (f"The model card does not declare what the model's output measures (no `output_kind`), so "
                   f"whether it should track {measured_words} is not known from the card")
        context += f"; it describes the model as: \u201c{description.strip().rstrip('.')}\u201d" if description else ""
        return f"{verdict} {context}."
    model_words = OUTPUT_KINDS.get(output_kind, output_kind)
    if output_kind == assay:
        context = (f"The model predicts {model_words}, the same kind of quantity as measured here, so "
                   + ("this supports the model." if agrees else "this is evidence against the model at this element."))
    else:
        context = (f"The model predicts {model_words}, while the table measures {measured_words}; "
                   + ("the two agree here although they measure different things." if agrees else
                      "the two need not move together, so this does not by itself show the model is wrong."))
    return f"{verdict} {context}"

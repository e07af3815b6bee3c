"""How well the model's view (attribution, seqlets) agrees with the motif databases (FIMO hits)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

#: columns of :attr:`Agreement.per_seqlet`
PER_SEQLET_COLUMNS = ["seqlet", "start", "end", "score", "matched", "matrix_id", "tf_name", "q_value",
                      "hit_overlap", "hit_start", "hit_end", "hit_strand", "hit_p_value"]


@dataclass
class Agreement:
    """Agreement between an attribution map and known motifs at one locus.

    Attributes
    ----------
    summary : str
        One paragraph a biologist can read, e.g. ``"4 positive seqlets; 3 match known
        motifs: CTCF (MA0139.2, q=3e-06), ...; 71% of the positive attribution lies in FIMO
        hits of the matched motifs."``
    n_seqlets, n_matched : int
        Seqlets, and those whose best match has ``q_value <= q_threshold``.
    mass_in_hits : float
        Fraction of the positive attribution (sum of ``max(per_base, 0)`` over the window)
        inside FIMO hits of the matched motifs (NaN when the map has no positive mass).
    per_seqlet : pandas.DataFrame
        One row per seqlet, columns :data:`PER_SEQLET_COLUMNS`: ``seqlet`` (index),
        ``start``/``end`` (0-based half-open, locus coordinates), ``score``, ``matched``
        (bool), the best match's ``matrix_id``, ``tf_name`` and ``q_value`` (empty/NaN when
        unmatched), ``hit_overlap`` (bool: a FIMO hit of that motif overlaps the seqlet)
        and that hit's ``hit_start``/``hit_end``/``hit_strand``/``hit_p_value`` (the best
        overlapping hit by p-value).
    matched_motifs : list of str
        Matrix IDs of the matched motifs, strongest seqlet first, without repeats.
    q_threshold : float
        The TOMTOM q-value at or below which a seqlet counts as matched.
    """

    summary: str
    n_seqlets: int
    n_matched: int
    mass_in_hits: float
    per_seqlet: pd.DataFrame
    matched_motifs: list[str] = field(default_factory=list)
    q_threshold: float = 0.05

    def __str__(self) -> str:
        return self.summary


def agreement(attribution, seqlets: pd.DataFrame, matches: pd.DataFrame, hits: pd.DataFrame,
              q_threshold: float = 0.05) -> Agreement:
    """Summarise whether the attribution's seqlets are known motifs found by FIMO.

    Parameters
    ----------
    attribution : explorer.attribution.result.Attribution
        The map the seqlets were called on.
    seqlets : pandas.DataFrame
        From :func:`~explorer.motifs.seqlets.call_seqlets`.
    matches : pandas.DataFrame
        From :func:`~explorer.motifs.matching.match_motifs` on these seqlets (only rank 1
        is used).
    hits : pandas.DataFrame
        From :func:`~explorer.motifs.scanning.scan_motifs` on the same locus (or the
        attribution): ``start``/``end`` in the same coordinates as the seqlets.
    q_threshold : float
        A seqlet is *matched* when its best TOMTOM match has ``q_value <= q_threshold``
        (default 0.05).

    Returns
    -------
    Agreement
    """
    if not 0 < q_threshold <= 1:
        raise ValueError(f"q_threshold must satisfy 0 < q_threshold <= 1; got {q_threshold}")
    best = matches[matches["rank"] == 1].set_index("seqlet") if len(matches) else pd.DataFrame()
    rows = []
    for idx, s in seqlets.iterrows():
        row = {"seqlet": idx, "start": int(s["start"]), "end": int(s["end"]), "score": float(s["score"]),
               "matched": False, "matrix_id": "", "tf_name": "", "q_value": np.nan, "hit_overlap": False,
               "hit_start": np.nan, "hit_end": np.nan, "hit_strand": "", "hit_p_value": np.nan}
        if idx in best.index:
            m = best.loc[idx]
            row.update(matrix_id=m["matrix_id"], tf_name=m["tf_name"], q_value=float(m["q_value"]),
                       matched=bool(m["q_value"] <= q_threshold))
            if row["matched"] and len(hits):
                h = hits[(hits["matrix_id"] == m["matrix_id"]) & (hits["start"] < row["end"])
                         & (hits["end"] > row["start"])]
                if len(h):
                    h = h.sort_values("p_value", kind="stable").iloc[0]
                    row.update(hit_overlap=True, hit_start=int(h["start"]), hit_end=int(h["end"]),
                               hit_strand=h["strand"], hit_p_value=float(h["p_value"]))
        rows.append(row)
    per_seqlet = pd.DataFrame(rows, columns=PER_SEQLET_COLUMNS).astype(
        {"matched": bool, "hit_overlap": bool, "q_value": float, "hit_p_value": float})
    matched = per_seqlet.loc[per_seqlet["matched"].to_numpy(dtype=bool)]
    matched_ids = list(dict.fromkeys(matched["matrix_id"]))

    # positive attribution mass inside FIMO hits of the matched motifs
    x = np.clip(np.asarray(attribution.per_base, dtype=np.float64), 0, None)
    total = float(x.sum())
    inside = np.zeros(x.shape[0], dtype=bool)
    off = int(attribution.start)
    if len(hits) and matched_ids:
        for a, b in hits.loc[hits["matrix_id"].isin(matched_ids), ["start", "end"]].itertuples(index=False):
            inside[max(0, int(a) - off):max(0, int(b) - off)] = True
    mass = float(x[inside].sum() / total) if total > 0 else float("nan")

    summary = _summary(attribution, per_seqlet, seqlets, matched, mass, hits, matched_ids, q_threshold)
    return Agreement(summary=summary, n_seqlets=len(per_seqlet), n_matched=len(matched), mass_in_hits=mass,
                     per_seqlet=per_seqlet, matched_motifs=matched_ids, q_threshold=q_threshold)


def _summary(attribution, per_seqlet, seqlets, matched, mass, hits, matched_ids, q_threshold) -> str:
    n = len(per_seqlet)
    signs = set(seqlets["sign"]) if "sign" in seqlets and n else {"+"}
    kind = "positive " if signs == {"+"} else "negative " if signs == {"-"} else ""
    where = f" ({attribution.method}, {attribution.target})" if getattr(attribution, "target", "") else ""
    if n == 0:
        return f"No {kind}seqlets{where}: no stretch of the map stands out from the rest."
    text = f"{n} {kind}seqlet{'s' if n != 1 else ''}{where}; "
    if len(matched) == 0:
        text += f"none matches a known motif at q <= {q_threshold:g}."
    else:
        names = []
        for tf, grp in matched.groupby("tf_name", sort=False):
            ids = ", ".join(dict.fromkeys(grp["matrix_id"]))
            count = f" x{len(grp)}" if len(grp) > 1 else ""
            names.append(f"{tf}{count} ({ids}, q={grp['q_value'].min():.1g})")
        verb = "matches a known motif" if len(matched) == 1 else "match known motifs"
        text += f"{len(matched)} {verb}: " + "; ".join(names) + "."
        n_hit = int(matched["hit_overlap"].sum())
        text += (f" {n_hit} of {len(matched)} matched seqlet{'s' if len(matched) != 1 else ''} "
                 f"overlap{'s' if len(matched) == 1 else ''} a FIMO hit of {'its' if len(matched) == 1 else 'their'} motif.")
    if not np.isnan(mass) and matched_ids:
        text += f" {mass:.0%} of the positive attribution lies in FIMO hits of the matched motifs."
    unmatched = per_seqlet.loc[~per_seqlet["matched"].to_numpy(dtype=bool)]
    if len(unmatched) and len(matched):
        text += f" Unmatched: {len(unmatched)} seqlet{'s' if len(unmatched) != 1 else ''} (possible novel or weak motifs)."
    return text

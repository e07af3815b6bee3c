"""Match seqlets to known motifs with TOMTOM (memelite's pure-Python implementation).

Each seqlet becomes a TOMTOM query ``(4, w)`` and is compared with every PWM of a
:class:`~explorer.motifs.databases.MotifDatabase`, both orientations of the known motif.

What the query is (``query=``):

``"contribution"`` (default)
    The seqlet's contribution-weighted matrix (``per_base`` on the observed base), negative
    values clipped to 0 (for a negative seqlet: the negated matrix), divided by its largest
    value and raised to the power :data:`CONTRIBUTION_POWER` (0.5): the most important base
    counts as a full one-hot column, a base with a quarter of its importance as a half
    column, a base that does not help as an empty column. Scale-free (the same for every
    attribution method and model).
``"sequence"``
    The seqlet's bases, one-hot, every base weighing the same; this is what tangermeme's
    ``annotate_seqlets`` does.

How the default was chosen (``scripts/eval_motif_recovery.py`` on the sample model, the
strongest seqlet of the top CTCF / PU.1 peaks, rank-1 TF right, 4 methods): on the
validation chromosome chr7 (20 peaks per task, so 160 calls) the power 1 got 150 right,
0.75 got 157, 0.5 and 0.4 all 160, 0.25 got 159; ``"sequence"`` (power 0, weak and
unhelpful bases weigh as much as the motif) misses CTCF at several peaks. A planted CTCF
site gave TOMTOM p-values about 1e-11 with ``"contribution"``, 1e-5 with ``"sequence"``.

Orientation and offset (how to draw the known motif under the seqlet): with ``orientation
"+"`` the motif's PWM matches as it is; with ``"-"`` its reverse complement matches
(``pwm.flip(0, 1)`` for ACGT rows). ``offset`` is where the first column of the motif, in
that orientation, sits relative to the seqlet's first base, on the forward strand of the
locus: the motif covers locus positions ``[seqlet start + offset, seqlet start + offset +
motif width)`` (0-based, half-open; columns ``motif_start``/``motif_end``). ``offset`` is
negative, or ``motif_end`` past the seqlet end, when the motif overhangs the seqlet (TOMTOM
scores overhanging columns against the background).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from explorer.motifs.databases import MotifDatabase

#: columns of the table :func:`match_motifs` returns
MATCH_COLUMNS = ["seqlet", "rank", "matrix_id", "tf_name", "p_value", "q_value", "e_value", "orientation",
                 "offset", "overlap", "motif_width", "motif_start", "motif_end", "seqlet_start", "seqlet_end",
                 "genome_start", "genome_end", "motif_name"]

QUERIES = ("contribution", "sequence")
#: power applied to the max-scaled, clipped contribution matrix for ``query="contribution"``
CONTRIBUTION_POWER = 0.5


def seqlet_queries(attribution, seqlets: pd.DataFrame, query: str = "contribution") -> list[np.ndarray]:
    """The TOMTOM query ``(4, w)`` ``float64`` array of every seqlet (see module docstring)."""
    if query not in QUERIES:
        raise ValueError(f"query must be one of {QUERIES}; got {query!r}")
    one_hot = attribution.one_hot.detach().cpu().numpy().astype(np.float64)
    off = int(attribution.start)
    out = []
    for idx, row in seqlets.iterrows():
        s, e = int(row["start"]) - off, int(row["end"]) - off
        if not 0 <= s < e <= one_hot.shape[1]:
            raise ValueError(f"seqlet {idx} [{row['start']}, {row['end']}) lies outside the attribution window "
                             f"[{off}, {off + one_hot.shape[1]}) (0-based, half-open, locus coordinates); "
                             f"were these seqlets called on another attribution?")
        if query == "sequence":
            q = one_hot[:, s:e].copy()
        else:
            m = np.asarray(row["matrix"], dtype=np.float64) if "matrix" in row else None
            if m is None or m.shape != (4, e - s):
                m = attribution.contribution.detach().cpu().numpy()[:, s:e].astype(np.float64)
            if float(np.sign(row.get("score", 1.0) or 1.0)) < 0:
                m = -m
            m = np.clip(m, 0, None)
            top = m.max()
            q = (m / top) ** CONTRIBUTION_POWER if top > 0 else one_hot[:, s:e].copy()
        if not q.any():
            raise ValueError(f"seqlet {idx} [{row['start']}, {row['end']}) holds only N bases; "
                             f"TOMTOM cannot compare an empty query")
        out.append(np.ascontiguousarray(q))
    return out


def match_motifs(
    attribution,
    seqlets: pd.DataFrame,
    database: MotifDatabase,
    top_k: int = 3,
    query: str = "contribution",
    n_jobs: int = -1,
) -> pd.DataFrame:
    """Compare every seqlet with every motif of a database (TOMTOM, both orientations).

    Parameters
    ----------
    attribution : explorer.attribution.result.Attribution
        The map the seqlets were called on (their coordinates index its window).
    seqlets : pandas.DataFrame
        From :func:`~explorer.motifs.seqlets.call_seqlets`: needs ``start``/``end``
        (0-based, half-open, locus coordinates), and ``matrix`` for ``query="contribution"``.
    database : MotifDatabase
        The known motifs, e.g. :func:`~explorer.motifs.databases.jaspar`. TOMTOM's
        p-values use the database's columns as background: with fewer than 25 motifs they
        are unreliable (memelite warns).
    top_k : int
        Matches kept per seqlet (best first). Default 3.
    query : ``"sequence"`` or ``"contribution"``
        What a seqlet is compared as (see the module docstring). Default ``"contribution"``.
    n_jobs : int
        numba threads (-1: all).

    Returns
    -------
    pandas.DataFrame
        ``top_k`` rows per seqlet (fewer if the database is smaller), columns:
        ``seqlet`` (index into ``seqlets``), ``rank`` (1 = best), ``matrix_id``,
        ``tf_name``, ``p_value`` (TOMTOM, best orientation), ``q_value``
        (Benjamini-Hochberg over all motifs of the database, per seqlet), ``e_value``
        (``p_value`` x database size), ``orientation`` (``"+"``/``"-"``), ``offset``,
        ``overlap`` (aligned columns), ``motif_width``, ``motif_start``/``motif_end``
        (where the aligned motif lies, 0-based half-open locus coordinates),
        ``seqlet_start``/``seqlet_end`` (same coordinates), ``genome_start``/``genome_end``
        (of the seqlet, 0-based half-open on the chromosome) and ``motif_name`` (the key
        in ``database``). Sorted by seqlet, then rank.

    Raises
    ------
    ValueError
        An empty database, ``top_k < 1``, a seqlet outside the attribution's window or
        made only of N.
    """
    from memelite.tomtom import tomtom

    if len(database) == 0:
        raise ValueError("the motif database is empty")
    if top_k < 1:
        raise ValueError(f"top_k must be >= 1; got {top_k}")
    if len(seqlets) == 0:
        return pd.DataFrame(columns=MATCH_COLUMNS)
    queries = seqlet_queries(attribution, seqlets, query)
    targets = database.arrays()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*numba.*")
        p, _scores, offsets, overlaps, strands = tomtom(queries, targets, n_jobs=n_jobs)
    n_db = len(targets)
    q = _bh(p)
    k = min(top_k, n_db)
    names = database.names
    meta = database.metadata
    widths = np.array([t.shape[1] for t in targets])
    rows = []
    for i, (idx, seq) in enumerate(seqlets.iterrows()):
        order = np.lexsort((np.arange(n_db), p[i]))[:k]
        for rank, j in enumerate(order, 1):
            # memelite's offset: the motif column aligned to the seqlet's first base
            offset = -int(offsets[i, j])
            start = int(seq["start"])
            rows.append({
                "seqlet": idx,
                "rank": rank,
                "matrix_id": meta["matrix_id"].iat[j],
                "tf_name": meta["tf_name"].iat[j],
                "p_value": float(p[i, j]),
                "q_value": float(q[i, j]),
                "e_value": float(p[i, j] * n_db),
                "orientation": "-" if strands[i, j] else "+",
                "offset": offset,
                "overlap": int(overlaps[i, j]),
                "motif_width": int(widths[j]),
                "motif_start": start + offset,
                "motif_end": start + offset + int(widths[j]),
                "seqlet_start": start,
                "seqlet_end": int(seq["end"]),
                "genome_start": int(seq["genome_start"]) if "genome_start" in seq else np.nan,
                "genome_end": int(seq["genome_end"]) if "genome_end" in seq else np.nan,
                "motif_name": names[j],
            })
    return pd.DataFrame(rows, columns=MATCH_COLUMNS)


def _bh(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg q-values along the last axis."""
    p = np.asarray(p, dtype=np.float64)
    n = p.shape[-1]
    order = np.argsort(p, axis=-1, kind="stable")
    ranked = np.take_along_axis(p, order, axis=-1) * n / np.arange(1, n + 1)
    ranked = np.minimum.accumulate(ranked[..., ::-1], axis=-1)[..., ::-1]
    q = np.empty_like(p)
    np.put_along_axis(q, order, np.minimum(ranked, 1.0), axis=-1)
    return q

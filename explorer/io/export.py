"""Attribution maps and seqlets as files: NPZ, CSV and BED (no UI library here).

The variant table's TSV lives in :mod:`explorer.variants.export`; figures (logo PNG/SVG)
in :mod:`explorer.plots.static`.

Coordinates: BED lines are 0-based half-open (the BED convention); the CSV's
``position_1based`` column is 1-based, like a genome browser.
"""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd

#: a seqlet is labelled with its best match only when TOMTOM's q-value is at most this
MATCH_Q = 0.05
#: columns of :func:`attribution_csv`
CSV_COLUMNS = ["chrom", "position_1based", "ref", "A", "C", "G", "T", "per_base"]


def attribution_npz(att) -> bytes:
    """An attribution as NPZ bytes, in tangermeme/modisco's layout.

    Arrays: ``ohe`` and ``attr`` (``values``), ``contribution`` (``per_base`` on the observed
    base), each ``(1, 4, L)`` float32; ``meta``: JSON text with ``chrom``,
    ``genome_start_0based``, ``method`` and ``target``.
    """
    buf = io.BytesIO()
    np.savez(buf, ohe=att.one_hot.numpy()[None], attr=att.values.numpy()[None],
             contribution=att.contribution.numpy()[None],
             meta=np.array(json.dumps({"chrom": att.chrom, "genome_start_0based": att.genome_start,
                                       "method": att.method, "target": att.target})))
    return buf.getvalue()


def attribution_csv(att) -> str:
    """An attribution as CSV text: one line per position, columns :data:`CSV_COLUMNS`.

    ``A, C, G, T`` are the map's rows (``values``); ``per_base`` is
    :attr:`explorer.Attribution.per_base`.
    """
    v = att.values.numpy()
    df = pd.DataFrame({"chrom": att.chrom, "position_1based": att.genome_positions(),
                       "ref": list(att.sequence), "A": v[0], "C": v[1], "G": v[2], "T": v[3],
                       "per_base": att.per_base})
    return df[CSV_COLUMNS].to_csv(index=False)


def seqlet_labels(seqlets: pd.DataFrame | None, matches: pd.DataFrame | None, max_q: float = MATCH_Q) -> list[str]:
    """One label per seqlet (in ``seqlets``' row order): its best match, or ``"no match"``.

    A seqlet's label is ``"TF (q=...)"`` of its rank-1 match in ``matches`` (from
    :func:`explorer.match_motifs`) when that match's q-value is at most ``max_q``.
    """
    if seqlets is None or not len(seqlets):
        return []
    best = {}
    if matches is not None and len(matches):
        top = matches[matches["rank"] == 1]
        best = {int(r.seqlet): f"{r.tf_name} (q={r.q_value:.1g})" for r in top.itertuples() if r.q_value <= max_q}
    return [best.get(int(i), "no match") for i in seqlets.index]


def seqlets_bed(chrom: str, seqlets: pd.DataFrame | None, labels: list[str] | None = None,
                hits: pd.DataFrame | None = None) -> str:
    """Seqlets and motif hits as BED6 text (0-based half-open ``genome_start``/``genome_end``).

    Seqlets are named ``seqlet<i>:<TF>`` (the first word of their label, ``no`` for no match)
    with strand ``.``; hits (from :func:`explorer.scan_motifs`) ``<TF>:<matrix ID>`` with
    their strand. Score column 0. Ends with a newline.
    """
    lines = []
    if seqlets is not None and len(seqlets):
        labels = labels if labels is not None else ["no match"] * len(seqlets)
        for (i, row), label in zip(seqlets.iterrows(), labels):
            lines.append(f"{chrom}\t{int(row['genome_start'])}\t{int(row['genome_end'])}\t"
                         f"seqlet{i}:{label.split(' ')[0]}\t0\t.")
    if hits is not None and len(hits):
        for row in hits.itertuples():
            lines.append(f"{chrom}\t{int(row.genome_start)}\t{int(row.genome_end)}\t"
                         f"{row.tf_name}:{row.matrix_id}\t0\t{row.strand}")
    return "\n".join(lines) + "\n"

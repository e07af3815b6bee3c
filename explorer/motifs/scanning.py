"""Scan a sequence for motif instances with FIMO (memelite's pure-Python implementation)."""

from __future__ import annotations

from typing import Iterable

import numpy as np
import pandas as pd
import torch

from explorer.io.sequences import one_hot_encode, reverse_complement
from explorer.motifs.databases import MotifDatabase

#: columns of the table :func:`scan_motifs` returns
HIT_COLUMNS = ["matrix_id", "tf_name", "start", "end", "genome_start", "genome_end", "strand", "score",
               "p_value", "q_value", "sequence", "motif_name"]


def _as_sequence(target) -> tuple[str, torch.Tensor, int, int]:
    """(bases, one-hot (4, L), locus offset of base 0, genome offset of base 0)."""
    from explorer.io.loci import Locus

    if isinstance(target, Locus):
        return target.sequence, target.one_hot, 0, int(target.start)
    if hasattr(target, "one_hot") and hasattr(target, "per_base"):  # an Attribution
        return target.sequence, target.one_hot.detach().cpu(), int(target.start), int(target.genome_start)
    if isinstance(target, str):
        x = one_hot_encode(target)
        return target.upper(), x, 0, 0
    if isinstance(target, (torch.Tensor, np.ndarray)):
        x = torch.as_tensor(target, dtype=torch.float32)
        if x.ndim != 2 or x.shape[0] != 4:
            raise ValueError(f"a one-hot sequence must have shape (4, L); got {tuple(x.shape)}")
        from explorer.io.sequences import one_hot_decode

        return one_hot_decode(x), x, 0, 0
    raise TypeError(f"scan_motifs takes a Locus, an Attribution, a DNA string or a one-hot (4, L) tensor; "
                    f"got {type(target).__name__}")


def scan_motifs(
    locus_or_sequence,
    database: MotifDatabase,
    threshold: float = 1e-4,
    motifs: Iterable[str] | None = None,
) -> pd.DataFrame:
    """Find motif instances on both strands (FIMO).

    Parameters
    ----------
    locus_or_sequence : Locus, Attribution, str or torch.Tensor
        What to scan: a :class:`~explorer.io.loci.Locus`, an Attribution (its window), a DNA
        string or a one-hot ``(4, L)`` tensor. N bases never match.
    database : MotifDatabase
        The motifs.
    threshold : float
        FIMO p-value threshold (default ``1e-4``, FIMO's own default).
    motifs : iterable of str, optional
        Scan only these (matrix IDs or TF names, see :meth:`MotifDatabase.subset`).

    Returns
    -------
    pandas.DataFrame
        One row per hit, sorted by ``p_value``: ``matrix_id``, ``tf_name``, ``start``,
        ``end`` (0-based, half-open, in the locus sequence; for an Attribution, in the
        sequence given to the model, like its seqlets), ``genome_start``, ``genome_end``
        (0-based half-open on the chromosome), ``strand`` (``"+"``: the PWM as it is
        matches the forward strand; ``"-"``: its reverse complement does), ``score``
        (log-odds, bits), ``p_value``, ``q_value`` (Benjamini-Hochberg over every tested
        window, motif and strand; an upper bound, since windows above ``threshold`` are not
        reported), ``sequence`` (the matched bases, read on the hit's strand) and
        ``motif_name`` (the key in ``database``).

    Raises
    ------
    ValueError
        Threshold outside (0, 1], an empty database, an unknown motif name.
    """
    from memelite.fimo import fimo

    if not 0 < threshold <= 1:
        raise ValueError(f"threshold is a p-value and must satisfy 0 < threshold <= 1; got {threshold}")
    if motifs is not None:
        database = database.subset(motifs)
    if len(database) == 0:
        raise ValueError("the motif database is empty")
    seq, one_hot, offset, g0 = _as_sequence(locus_or_sequence)
    length = one_hot.shape[1]
    names = database.names
    pwms = dict(zip((str(i) for i in range(len(names))), database.arrays()))
    usable = {k: v for k, v in pwms.items() if v.shape[1] <= length}
    if not usable:
        return pd.DataFrame(columns=HIT_COLUMNS)
    x = np.ascontiguousarray(one_hot.numpy()[None], dtype=np.float64)
    tables = fimo(usable, x, threshold=threshold, reverse_complement=True)
    hits = pd.concat([t for t in tables if len(t)], ignore_index=True) if any(len(t) for t in tables) else None
    if hits is None:
        return pd.DataFrame(columns=HIT_COLUMNS)
    j = hits["motif_name"].astype(int).to_numpy()
    meta = database.metadata
    start = hits["start"].to_numpy(dtype=np.int64)
    end = hits["end"].to_numpy(dtype=np.int64)
    strand = hits["strand"].to_numpy()
    matched = [seq[s:e] if st == "+" else reverse_complement(seq[s:e]) for s, e, st in zip(start, end, strand)]
    p = hits["p-value"].to_numpy(dtype=np.float64)
    n_tests = sum(2 * (length - v.shape[1] + 1) for v in usable.values())
    out = pd.DataFrame({
        "matrix_id": meta["matrix_id"].to_numpy()[j],
        "tf_name": meta["tf_name"].to_numpy()[j],
        "start": start + offset,
        "end": end + offset,
        "genome_start": start + g0,
        "genome_end": end + g0,
        "strand": strand,
        "score": hits["score"].to_numpy(dtype=np.float64),
        "p_value": p,
        "q_value": _bh_partial(p, n_tests),
        "sequence": matched,
        "motif_name": np.asarray(names, dtype=object)[j],
    }, columns=HIT_COLUMNS)
    return out.sort_values(["p_value", "start", "matrix_id"], kind="stable").reset_index(drop=True)


def _bh_partial(p: np.ndarray, n_tests: int) -> np.ndarray:
    """BH q-values of the smallest p-values out of ``n_tests`` (the others unseen, all larger)."""
    if len(p) == 0:
        return p.copy()
    order = np.argsort(p, kind="stable")
    ranked = p[order] * n_tests / np.arange(1, len(p) + 1)
    ranked = np.minimum.accumulate(ranked[::-1])[::-1]
    q = np.empty_like(p)
    q[order] = np.minimum(ranked, 1.0)
    return q

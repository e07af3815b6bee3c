"""Seqlets: short stretches of high attribution, cut out of an attribution map.

The caller is tangermeme's *recursive seqlet* algorithm
(:func:`tangermeme.seqlet.recursive_seqlets`), re-implemented here in numpy for one
sequence (:func:`recursive_seqlets`; a test checks it calls the same seqlets as
tangermeme). Why not call tangermeme directly: its seqlet kernels are numba functions that
cannot be cached on disk, so every new process (every app start) pays a 15-40 s compile
before its first seqlet; this version takes milliseconds from the first call. Why this
algorithm and not ``tfmodisco_seqlets``: it works on one sequence of any length
(TF-MoDISco's FDR step needs many windows), its seqlets are tight (a span is a seqlet only
if every sub-span is significant) and it is deterministic.

The algorithm, on the per-base importance ``x`` (:attr:`Attribution.per_base`: gradient
methods, the attribution of the observed base; ISM, minus the mean effect of the three
substitutions at the reference base):

1. bin ``x`` into ``n_bins`` equal bins between its minimum and maximum; the histogram is
   the null distribution of one position;
2. convolve it with itself to get the null of a sum of ``k`` positions, for every length
   ``k <= max_length``, and the p-value ``P(S_k >= s)`` of every span's binned sum;
3. a span is a candidate if every sub-span of length ``>= min_length`` inside it has a
   p-value below ``threshold``;
4. from the longest length down, candidates sorted by p-value are called unless they
   overlap a seqlet already called.

By default the null is built from the map itself, so the p-values rank spans; they are not
error rates, and on a short element where most bases carry signal only the strongest site
stands out. ``null=`` takes a background instead: per-base importances of the same model on
dinucleotide-shuffled copies (:func:`explorer.motifs.null.shuffled_null`), so each site is
judged against what the model says where nothing binds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: columns of the table :func:`call_seqlets` returns
SEQLET_COLUMNS = ["start", "end", "genome_start", "genome_end", "score", "p_value", "sign",
                  "sequence", "matrix"]


def call_seqlets(
    attribution,
    threshold: float = 0.01,
    min_length: int = 6,
    max_length: int = 25,
    flank: int = 2,
    sign: str = "positive",
    min_score: float = 0.0,
    max_seqlets: int | None = None,
    null=None,
) -> pd.DataFrame:
    """Cut an attribution map into seqlets.

    The defaults were checked on the sample model (``scripts/eval_motif_recovery.py``): on
    its 10 strongest test-chromosome CTCF peaks the strongest seqlet is one 14-24 bp stretch
    over the CTCF site for every method (ISM: 21-24 bp), and TOMTOM names it CTCF. On a map
    with no real signal the caller still returns the map's relative peaks (its null is the
    map itself); :func:`~explorer.motifs.matching.match_motifs` q-values and ``min_score``
    tell those apart.

    Parameters
    ----------
    attribution : explorer.attribution.result.Attribution
        Any method (ISM included: its per-base importance is used, see
        :attr:`~explorer.attribution.result.Attribution.per_base`).
    threshold : float
        p-value threshold of the recursive caller (every sub-span of a seqlet, from
        ``min_length`` to ``max_length`` bases, must reach it). Default 0.01. Lower calls
        fewer, stronger seqlets.
    min_length, max_length : int
        Shortest and longest span the caller considers (defaults 6 and 25: a TF binding
        site is 6-20 bp; CTCF's core is about 19 bp).
    flank : int
        Bases added on each side after calling (default 2: the caller's spans stop at the
        first weak base, and TOMTOM aligns better with a little context). Clipped to the
        window, so seqlets near the edge are shorter. Does not affect which spans are called.
    sign : ``"positive"``, ``"negative"`` or ``"both"``
        ``"positive"`` (default): bases that support the output. ``"negative"``: bases that
        oppose it (called on the negated map). ``"both"``: both, negative seqlets that
        overlap a positive one dropped.
    min_score : float
        Drop seqlets whose summed per-base importance has magnitude below this (default 0).
    max_seqlets : int, optional
        Keep at most this many (the strongest).
    null : numpy.ndarray, optional
        The background the p-values are computed against: per-base importances where
        nothing binds, any shape (flattened), e.g. ``(n_shuffles, L)`` from
        :func:`~explorer.motifs.null.shuffled_null`. Default (None or ``"map"``): the map
        itself, tangermeme's rule. With a background the p-values say how unusual a span is
        for this model, which calls every site of a short element, not only the strongest.

    Returns
    -------
    pandas.DataFrame
        One row per seqlet, index ``0..n-1`` ordered by ``|score|``, strongest first:

        ``start``, ``end``
            0-based, half-open, in the coordinates of the sequence given to the model (the
            locus): ``attribution.start`` is added, so they index ``locus.sequence``.
        ``genome_start``, ``genome_end``
            0-based, half-open on ``attribution.chrom`` (shown to people as
            ``genome_start + 1``-``genome_end``).
        ``score``
            Sum of ``per_base`` over the seqlet (negative for negative seqlets).
        ``p_value``
            The recursive caller's p-value of the core span (a ranking, not an error rate).
        ``sign``
            ``"+"`` or ``"-"``.
        ``sequence``
            The bases (``N`` at ambiguous positions).
        ``matrix``
            ``numpy.ndarray`` ``(4, w)``: the seqlet's contribution-weighted matrix
            (``attribution.contribution[:, s:e]``: ``per_base`` on the observed base, 0
            elsewhere).

    Raises
    ------
    ValueError
        Bad parameters (named, with the rule).
    """
    if sign not in ("positive", "negative", "both"):
        raise ValueError(f"sign must be 'positive', 'negative' or 'both'; got {sign!r}")
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold is a p-value and must satisfy 0 < threshold <= 1; got {threshold}")
    if not 1 <= min_length <= max_length:
        raise ValueError(f"lengths must satisfy 1 <= min_length <= max_length; got min_length={min_length}, "
                         f"max_length={max_length}")
    if flank < 0:
        raise ValueError(f"flank must be >= 0; got {flank}")
    if isinstance(null, str):
        if null != "map":
            raise ValueError(f"null must be 'map' or an array of background importances; got {null!r}")
        null = None
    if null is not None:
        null = np.asarray(null, dtype=np.float64).ravel()
        if null.size == 0 or not np.all(np.isfinite(null)):
            raise ValueError("null must be a non-empty array of finite background importances")

    per_base = np.asarray(attribution.per_base, dtype=np.float64)
    length = per_base.shape[0]
    if not np.all(np.isfinite(per_base)):
        first = int(np.flatnonzero(~np.isfinite(per_base))[0])
        raise ValueError(f"the attribution map holds NaN or Inf ({int((~np.isfinite(per_base)).sum())} positions, the "
                         f"first at {int(attribution.start) + first}, 0-based): seqlets cannot be called on it")
    contribution = attribution.contribution.detach().cpu().numpy()
    sequence = attribution.sequence
    max_len = min(max_length, length)
    min_len = min(min_length, max_len)

    spans: list[tuple[int, int, float, float, str]] = []
    positive_cores: list[tuple[int, int]] = []
    for sgn in (("+",) if sign == "positive" else ("-",) if sign == "negative" else ("+", "-")):
        x = per_base if sgn == "+" else -per_base
        if length < min_len or not np.any(x > 0):
            continue
        background = None if null is None else (null if sgn == "+" else -null)
        # with a background, a span's edges are trimmed to bases above what the background
        # reaches (its 99th percentile), else a tight null lets spans absorb flat neighbours
        edge = None if background is None else float(np.quantile(background, 0.99))
        for s, e, p in recursive_seqlets(x, threshold, min_len, max_len, null=background):
            while edge is not None and e - s > min_len and x[s] <= edge:
                s += 1
            while edge is not None and e - s > min_len and x[e - 1] <= edge:
                e -= 1
            if sgn == "-" and any(a < e and s < b for a, b in positive_cores):
                continue
            if sgn == "+":
                positive_cores.append((s, e))
            s, e = max(0, s - flank), min(length, e + flank)
            score = float(per_base[s:e].sum())
            if (sgn == "+" and score <= 0) or (sgn == "-" and score >= 0) or abs(score) < min_score:
                continue
            spans.append((s, e, score, float(p), sgn))

    spans.sort(key=lambda r: (-abs(r[2]), r[0]))
    if max_seqlets is not None:
        spans = spans[:max_seqlets]
    offset = int(attribution.start)
    g0 = int(attribution.genome_start)
    rows = [{
        "start": offset + s,
        "end": offset + e,
        "genome_start": g0 + s,
        "genome_end": g0 + e,
        "score": score,
        "p_value": p,
        "sign": sgn,
        "sequence": sequence[s:e],
        "matrix": contribution[:, s:e].astype(np.float64),
    } for s, e, score, p, sgn in spans]
    out = pd.DataFrame(rows, columns=SEQLET_COLUMNS)
    out = out.astype({"start": "int64", "end": "int64", "genome_start": "int64", "genome_end": "int64",
                      "score": "float64", "p_value": "float64"})
    return out.reset_index(drop=True)


def recursive_seqlets(x: np.ndarray, threshold: float = 0.01, min_length: int = 4, max_length: int = 25,
                      n_bins: int = 1000, null: np.ndarray | None = None) -> list[tuple[int, int, float]]:
    """tangermeme's recursive seqlet caller for one sequence, in numpy (see module docstring).

    Parameters
    ----------
    x : numpy.ndarray, shape ``(L,)``
        Per-base importance (positive seqlets are called).
    threshold, min_length, max_length, n_bins
        As :func:`tangermeme.seqlet.recursive_seqlets` (``threshold``, ``min_seqlet_len``,
        ``max_seqlet_len``, ``n_bins``); ``max_length`` is capped at ``L``.
    null : numpy.ndarray, optional
        Background values of one position (any shape, flattened). Default: ``x`` itself
        (tangermeme's rule). The bins then span both ``x`` and the background.

    Returns
    -------
    list of (start, end, p_value)
        0-based half-open spans in ``x``, in the order they were called (longest first,
        then by p-value), and each span's own p-value.
    """
    x = np.asarray(x, dtype=np.float64).ravel()
    length = x.shape[0]
    max_length = min(max_length, length)
    if length == 0 or min_length > max_length or not np.all(np.isfinite(x)):
        return []
    background = x if null is None else np.asarray(null, dtype=np.float64).ravel()
    xmin, xmax = min(x.min(), background.min()), max(x.max(), background.max())
    if xmax == xmin:
        return []
    width = (xmax - xmin) / (n_bins - 1)
    bins = np.clip(np.floor((x - xmin) / width), 0, n_bins - 1).astype(np.int64)
    null_bins = bins if null is None else np.clip(np.floor((background - xmin) / width), 0,
                                                    n_bins - 1).astype(np.int64)

    # null: rcdf[k][s] = P(sum of k binned positions >= s), summed from the top so that
    # small tail probabilities are not lost to rounding
    f = np.bincount(null_bins, minlength=n_bins).astype(np.float64) / null_bins.size
    rcdf = [None]
    pdf = f
    for k in range(1, max_length + 1):
        if k > 1:
            pdf = np.convolve(pdf, f)
        rcdf.append(np.concatenate([np.cumsum(pdf[::-1])[::-1], [0.0]]))

    csum = np.concatenate([[0], np.cumsum(bins)])
    n_lens = max_length - min_length + 1
    # own[j, k]: p-value of the span of length min_length + j starting at k (inf: past the end)
    own = np.full((n_lens, length), np.inf)
    for j in range(n_lens):
        k = min_length + j
        sums = csum[k:] - csum[:-k]
        own[j, : sums.shape[0]] = np.maximum(rcdf[k][sums], 0.0)
    # prefix[j, k]: max over the spans starting at k of lengths min_length..min_length + j
    prefix = np.maximum.accumulate(own, axis=0)
    # tri[j, k]: max over every sub-span (length >= min_length) of span (j, k)
    tri = prefix.copy()
    for j in range(1, n_lens):
        tri[j, :-1] = np.maximum(prefix[j, :-1], tri[j - 1, 1:])
        tri[j, -1] = np.inf

    called = np.zeros(length, dtype=bool)
    out: list[tuple[int, int, float]] = []
    for j in range(n_lens - 1, -1, -1):
        k = min_length + j
        starts = np.flatnonzero(tri[j] < threshold)
        if starts.size == 0:
            continue
        starts = starts[np.argsort(prefix[j, starts], kind="stable")]
        for s in starts:
            s = int(s)
            if called[s:s + k].any():
                continue
            called[s:s + k] = True
            out.append((s, s + k, float(own[j, s])))
    return out

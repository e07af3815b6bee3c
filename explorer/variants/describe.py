"""What a variant does to seqlets and motif matches, as a table and in words.

Inputs are the tables of :mod:`explorer.motifs` computed on the reference and on the
alternative attribution of one variant (see :func:`explorer.variants.refalt.ref_alt_attributions`):
seqlets (:func:`explorer.call_seqlets`: ``start``, ``end`` 0-based half-open in the locus,
``score``, ``sign``), optional TOMTOM matches (:func:`explorer.match_motifs`: ``seqlet``,
``rank``, ``matrix_id``, ``tf_name``) and optional FIMO hits (:func:`explorer.scan_motifs`:
``matrix_id``, ``tf_name``, ``start``, ``end``, ``strand``, ``score``). Alternative
coordinates are mapped to reference ones through the variant's
:class:`~explorer.variants.refalt.VariantAlignment` (identity for substitutions).

A reference seqlet and an alternative seqlet of the same sign are the same seqlet when
their spans overlap (the largest overlap wins). Its change is ``"weakened"`` when
``|alt score| < (1 - min_change) |ref score|``, ``"strengthened"`` when ``|alt score| > (1 +
min_change) |ref score|``, else ``"unchanged"``; a seqlet in one map only is ``"lost"`` or
``"gained"``. FIMO hits pair by motif, strand and overlap; their change compares PWM scores
(bits), with ``min_bits`` as the threshold.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from explorer.variants.refalt import variant_words

#: columns of :func:`motif_changes`
CHANGE_COLUMNS = ["what", "label", "tf_name", "matrix_id", "start", "end", "ref_score", "alt_score",
                  "change", "distance", "overlaps_variant"]
#: seqlets and hits farther than this from the variant are left out by default (bp)
DEFAULT_NEAR = 25

_VERBS = {"weakened": "weakens", "strengthened": "strengthens", "lost": "destroys", "gained": "creates",
          "unchanged": "leaves unchanged", "moved": "moves"}


def _to_ref(alignment, start: int, end: int) -> tuple[int, int]:
    if alignment is None:
        return int(start), int(end)
    a = int(alignment.to_ref(int(start)))
    b = int(alignment.to_ref(int(end) - 1))
    if a < 0:
        a = alignment.index + alignment.shared
    if b < 0:
        b = alignment.index + alignment.ref_length - 1
    return a, max(a, b) + 1


def _best_match(matches: pd.DataFrame | None, seqlet_index, max_q: float | None) -> tuple[str, str] | None:
    if matches is None or len(matches) == 0:
        return None
    rows = matches[matches["seqlet"] == seqlet_index]
    if max_q is not None and "q_value" in rows:
        rows = rows[rows["q_value"] <= max_q]
    if rows.empty:
        return None
    best = rows.sort_values("rank").iloc[0]
    return str(best["tf_name"]), str(best["matrix_id"])


def _classify(ref: float, alt: float, threshold: float) -> str:
    if abs(alt) < (1.0 - threshold) * abs(ref):
        return "weakened"
    if abs(alt) > (1.0 + threshold) * abs(ref):
        return "strengthened"
    return "unchanged"


def _distance(span_start: int, span_end: int, v_start: int, v_end: int) -> int:
    return int(max(0, span_start - v_end + 1, v_start - span_end + 1))


def motif_changes(variant, ref_seqlets: pd.DataFrame, alt_seqlets: pd.DataFrame,
                  ref_matches: pd.DataFrame | None = None, alt_matches: pd.DataFrame | None = None, *,
                  locus_start: int = 0, alignment=None, ref_hits: pd.DataFrame | None = None,
                  alt_hits: pd.DataFrame | None = None, near: int | None = DEFAULT_NEAR,
                  min_change: float = 0.2, min_bits: float = 1.0, max_q: float | None = 0.1) -> pd.DataFrame:
    """Seqlets and motif hits a variant weakens, strengthens, destroys or creates.

    Parameters
    ----------
    variant : dict or Series
        ``pos`` (1-based on the locus chrom), ``ref``, ``alt``.
    ref_seqlets, alt_seqlets : DataFrame
        :func:`explorer.call_seqlets` tables of the reference and alternative maps.
    ref_matches, alt_matches : DataFrame, optional
        :func:`explorer.match_motifs` tables for those seqlets (labels seqlets by their best match).
    locus_start : int
        0-based start of the locus on its chrom (``locus.start``): seqlet ``start``/``end`` are
        locus indices, ``pos`` is on the chrom.
    alignment : VariantAlignment, optional
        For indels; default identity.
    ref_hits, alt_hits : DataFrame, optional
        :func:`explorer.scan_motifs` hits on the two sequences.
    near : int or None
        Keep only seqlets/hits within this many bp of the variant (None: all).
    min_change : float
        Relative seqlet-score change called a weakening/strengthening (default 0.2 = 20 %).
    min_bits : float
        PWM-score change (bits) called a weakening/strengthening of a FIMO hit.
    max_q : float or None
        A seqlet is named after its best TOMTOM match only if that match's ``q_value`` is at
        most this (default 0.1); None: always the best match.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`CHANGE_COLUMNS`; ``start``/``end`` 0-based half-open locus indices in
        reference coordinates; ``ref_score``/``alt_score`` NaN where the seqlet/hit is absent;
        those overlapping the variant first, then by ``|alt - ref|`` (absent counts as 0),
        largest first.
    """
    v_start = int(variant["pos"]) - 1 - int(locus_start)
    v_end = v_start + max(len(str(variant["ref"]).replace("-", "")), 1) - 1
    rows = []
    ref_s = ref_seqlets if ref_seqlets is not None else pd.DataFrame(columns=["start", "end", "score", "sign"])
    alt_s = alt_seqlets if alt_seqlets is not None else pd.DataFrame(columns=["start", "end", "score", "sign"])
    alt_spans = [(k, *_to_ref(alignment, s, e), float(sc), sg)
                 for k, s, e, sc, sg in zip(alt_s.index, alt_s["start"], alt_s["end"], alt_s["score"],
                                            alt_s["sign"])]
    used: set = set()
    for k, s, e, sc, sg in zip(ref_s.index, ref_s["start"], ref_s["end"], ref_s["score"], ref_s["sign"]):
        s, e = int(s), int(e)
        best, best_overlap = None, 0
        for ak, a, b, asc, asg in alt_spans:
            overlap = min(e, b) - max(s, a)
            if asg == sg and overlap > best_overlap and ak not in used:
                best, best_overlap = (ak, a, b, asc), overlap
        match = _best_match(ref_matches, k, max_q)
        if best is not None:
            used.add(best[0])
            match = match or _best_match(alt_matches, best[0], max_q)
            rows.append(_seqlet_row(match, s, e, float(sc), best[3], _classify(float(sc), best[3], min_change),
                                    v_start, v_end))
        else:
            rows.append(_seqlet_row(match, s, e, float(sc), np.nan, "lost", v_start, v_end))
    for ak, a, b, asc, asg in alt_spans:
        if ak not in used:
            rows.append(_seqlet_row(_best_match(alt_matches, ak, max_q), a, b, np.nan, asc, "gained", v_start, v_end))
    rows += _hit_rows(ref_hits, alt_hits, alignment, v_start, v_end, min_bits)
    out = pd.DataFrame(rows, columns=CHANGE_COLUMNS)
    if near is not None:
        out = out[out["distance"] <= near]
    size = (out["alt_score"].fillna(0.0) - out["ref_score"].fillna(0.0)).abs()
    return out.assign(_size=size).sort_values(["overlaps_variant", "_size"], ascending=False, kind="stable") \
        .drop(columns="_size").reset_index(drop=True)


def _seqlet_row(match, s, e, ref_score, alt_score, change, v_start, v_end) -> dict:
    tf, mid = match if match else ("", "")
    label = f"the {tf} match {mid}" if match else ""
    dist = _distance(s, e - 1, v_start, v_end)
    return {"what": "seqlet", "label": label, "tf_name": tf, "matrix_id": mid, "start": s, "end": e,
            "ref_score": ref_score, "alt_score": alt_score, "change": change, "distance": dist,
            "overlaps_variant": dist == 0}


def _hit_rows(ref_hits, alt_hits, alignment, v_start, v_end, min_bits) -> list[dict]:
    if ref_hits is None and alt_hits is None:
        return []
    empty = pd.DataFrame(columns=["matrix_id", "tf_name", "start", "end", "strand", "score"])
    ref_h = ref_hits if ref_hits is not None else empty
    alt_h = alt_hits if alt_hits is not None else empty
    alt_list = [(k, m, t, *_to_ref(alignment, s, e), st, float(sc)) for k, m, t, s, e, st, sc in
                zip(alt_h.index, alt_h["matrix_id"], alt_h["tf_name"], alt_h["start"], alt_h["end"],
                    alt_h["strand"], alt_h["score"])]
    used, rows = set(), []

    def row(mid, tf, s, e, st, r, a, change):
        dist = _distance(s, e - 1, v_start, v_end)
        return {"what": "hit", "label": f"the {tf} motif {mid} ({st} strand)", "tf_name": tf, "matrix_id": mid,
                "start": s, "end": e, "ref_score": r, "alt_score": a, "change": change, "distance": dist,
                "overlaps_variant": dist == 0}

    for m, t, s, e, st, sc in zip(ref_h["matrix_id"], ref_h["tf_name"], ref_h["start"], ref_h["end"],
                                  ref_h["strand"], ref_h["score"]):
        s, e, sc = int(s), int(e), float(sc)
        pair = next((x for x in alt_list if x[0] not in used and x[1] == m and x[5] == st
                     and min(e, x[4]) > max(s, x[3])), None)
        if pair is None:
            rows.append(row(m, t, s, e, st, sc, np.nan, "lost"))
            continue
        used.add(pair[0])
        d = pair[6] - sc
        change = "weakened" if d <= -min_bits else "strengthened" if d >= min_bits else "unchanged"
        rows.append(row(m, t, s, e, st, sc, pair[6], change))
    for k, m, t, s, e, st, sc in alt_list:
        if k not in used:
            rows.append(row(m, t, s, e, st, np.nan, sc, "gained"))
    return rows


def _merge_moves(changes: pd.DataFrame) -> pd.DataFrame:
    """One ``"moved"`` row for a match lost at one span and gained at another (same label and
    kind), so the words never say a variant both destroys and creates the same match; its
    ``alt_score`` is the gained one and ``moved_to`` its ``(start, end)``."""
    out = changes.assign(moved_to=None).reset_index(drop=True)
    gained = out.index[out["change"] == "gained"].tolist()
    drop = []
    for i in out.index[out["change"] == "lost"]:
        label, what = out.at[i, "label"], out.at[i, "what"]
        j = next((g for g in gained if label and out.at[g, "label"] == label and out.at[g, "what"] == what), None)
        if j is None:
            continue
        gained.remove(j)
        drop.append(j)
        out.at[i, "change"] = "moved"
        out.at[i, "alt_score"] = out.at[j, "alt_score"]
        out.at[i, "moved_to"] = (int(out.at[j, "start"]), int(out.at[j, "end"]))
    return out.drop(index=drop)


def _fmt(x: float) -> str:
    return "none" if x is None or not np.isfinite(x) else f"{x:.3g}"


def describe_variant_effect(variant, ref_seqlets: pd.DataFrame | None = None,
                            alt_seqlets: pd.DataFrame | None = None, ref_matches=None, alt_matches=None, *,
                            changes: pd.DataFrame | None = None, locus_start: int = 0, alignment=None,
                            ref_hits=None, alt_hits=None, effect=None, near: int | None = DEFAULT_NEAR,
                            max_items: int = 3, min_change: float = 0.2) -> str:
    """Say in words what a variant does to seqlets, motif matches and the prediction.

    E.g. ``"C>T at 62,150 weakens the CTCF match MA0139.2 (seqlet score 1.2 -> 0.4)."``
    Scores are shown to 3 significant digits; ``none`` where the seqlet/hit is absent.

    Parameters
    ----------
    variant : dict or Series
        ``pos`` (1-based), ``ref``, ``alt``.
    ref_seqlets, alt_seqlets, ref_matches, alt_matches, locus_start, alignment, ref_hits, alt_hits, near, min_change
        As for :func:`motif_changes` (ignored when ``changes`` is given).
    changes : DataFrame, optional
        A :func:`motif_changes` table already computed.
    effect : dict or Series, optional
        A :func:`explorer.variant_effect` row (``task``, ``ref_score``, ``alt_score``, ``diff``):
        adds a sentence on the prediction.
    max_items : int
        Most changes named (the largest).

    Returns
    -------
    str
    """
    if changes is None:
        changes = motif_changes(variant, ref_seqlets, alt_seqlets, ref_matches, alt_matches,
                                locus_start=locus_start, alignment=alignment, ref_hits=ref_hits,
                                alt_hits=alt_hits, near=near, min_change=min_change)
    head = variant_words(variant)
    real = _merge_moves(changes[changes["change"] != "unchanged"]).head(max_items)
    parts = []
    for r in real.itertuples(index=False):
        score = r.ref_score if np.isfinite(r.ref_score) else r.alt_score
        span = f"{locus_start + r.start + 1:,}-{locus_start + r.end:,}"  # 1-based inclusive
        what = r.label or f"the {'positive' if score >= 0 else 'negative'} seqlet at {span}"
        if r.change == "gained":
            what = what.replace("the ", "a new ", 1)
        if r.change == "moved":
            a, b = r.moved_to
            what += f" from {span} to {locus_start + a + 1:,}-{locus_start + b:,}"
        unit = "PWM score" if r.what == "hit" else "seqlet score"
        bits = " bits" if r.what == "hit" else ""
        parts.append(f"{_VERBS[r.change]} {what} ({unit} {_fmt(r.ref_score)} -> {_fmt(r.alt_score)}{bits})")
    if parts:
        text = f"{head} " + (", ".join(parts[:-1]) + " and " + parts[-1] if len(parts) > 1 else parts[0]) + "."
    else:
        scope = f"within {near} bp" if near is not None else "anywhere in the window"
        text = f"{head} changes no seqlet or motif match {scope}."
    if effect is not None:
        ref, alt, diff = float(effect["ref_score"]), float(effect["alt_score"]), float(effect["diff"])
        verb = "rises" if diff > 0 else "falls" if diff < 0 else "stays"
        text += (f" The predicted {effect['task']} score {verb} from {ref:.3g} to {alt:.3g} "
                 f"(alt - ref = {diff:+.3g}).")
    return text


def variant_motif_report(refalt, database=None, *, seqlet_options: dict | None = None,
                         match_options: dict | None = None, effect=None, near: int | None = DEFAULT_NEAR,
                         ) -> tuple[pd.DataFrame, str]:
    """Seqlets (and, with a database, TOMTOM matches) of both maps of a variant, compared.

    Parameters
    ----------
    refalt : RefAltAttribution
        From :func:`explorer.variants.refalt.ref_alt_attributions`.
    database : MotifDatabase, optional
        Motifs to label seqlets with (:func:`explorer.match_motifs`); None: seqlets only.
    seqlet_options, match_options : dict, optional
        Keyword arguments for :func:`explorer.call_seqlets` / :func:`explorer.match_motifs`.
    effect : dict or Series, optional
        A :func:`explorer.variant_effect` row for the prediction sentence.

    Returns
    -------
    (DataFrame, str)
        :func:`motif_changes` table and :func:`describe_variant_effect` text.
    """
    from explorer.motifs.seqlets import call_seqlets

    seqlet_options = dict(seqlet_options or {})
    seqlet_options.setdefault("sign", "both")
    ref_s = call_seqlets(refalt.ref, **seqlet_options)
    alt_s = call_seqlets(refalt.alt, **seqlet_options)
    ref_m = alt_m = None
    if database is not None:
        from explorer.motifs.matching import match_motifs

        # only positive seqlets are named after motifs (a negative seqlet's query is empty)
        pos_ref, pos_alt = ref_s[ref_s["sign"] == "+"], alt_s[alt_s["sign"] == "+"]
        ref_m = match_motifs(refalt.ref, pos_ref, database, **(match_options or {})) if len(pos_ref) else None
        alt_m = match_motifs(refalt.alt, pos_alt, database, **(match_options or {})) if len(pos_alt) else None
    locus_start = int(refalt.ref.genome_start) - int(refalt.ref.start)
    changes = motif_changes(refalt.variant, ref_s, alt_s, ref_m, alt_m, locus_start=locus_start,
                            alignment=refalt.alignment, near=near)
    text = describe_variant_effect(refalt.variant, changes=changes, locus_start=locus_start, effect=effect,
                                   near=near)
    return changes, text

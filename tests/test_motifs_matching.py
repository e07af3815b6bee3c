"""TOMTOM matching: a JASPAR motif planted under a fixed-weight model is recovered at rank 1."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from explorer.attribution.result import Attribution
from explorer.io.sequences import one_hot_encode, reverse_complement
from explorer.motifs.databases import jaspar, read_meme
from explorer.motifs.matching import MATCH_COLUMNS, _bh, match_motifs
from explorer.motifs.seqlets import call_seqlets

LENGTH, POS = 400, 170


@pytest.fixture(scope="module")
def core():
    return jaspar()


def consensus(pwm: torch.Tensor) -> str:
    return "".join("ACGT"[i] for i in pwm.argmax(0).tolist())


def planted_attribution(pwm: torch.Tensor, strand: str, seed: int = 0, start: int = 0) -> Attribution:
    """Random sequence with the motif's consensus at POS, explained by a fixed-weight model.

    The model is one convolution whose filters are the motif's log-odds on both strands,
    pooled by log-sum-exp over positions and strands; the map is its gradient x input.
    """
    rng = np.random.default_rng(seed)
    site = consensus(pwm)
    seq = list("".join(rng.choice(list("ACGT"), LENGTH)))
    seq[POS:POS + len(site)] = site if strand == "+" else reverse_complement(site)
    x = one_hot_encode("".join(seq))
    log_odds = torch.log2(pwm + 0.01) + 2.0
    filters = torch.stack([log_odds, log_odds.flip(0, 1)])
    xx = x[None].clone().requires_grad_(True)
    out = torch.logsumexp(torch.nn.functional.conv1d(xx, filters).flatten(), 0)
    out.backward()
    values = (xx.grad * xx)[0].detach()
    return Attribution(values=values, one_hot=x, method="saliency", target="fixed-weight CTCF", start=start,
                       chrom="chrT", genome_start=1_000 + start)


@pytest.mark.parametrize("strand", ["+", "-"])
def test_planted_ctcf_recovered_at_rank_1(core, strand):
    pwm = core["MA0139.2"]
    att = planted_attribution(pwm, strand, start=50)
    seqlets = call_seqlets(att)
    assert len(seqlets) >= 1
    top = seqlets.iloc[0]
    assert top["start"] <= 50 + POS and top["end"] >= 50 + POS + 15
    matches = match_motifs(att, seqlets, core, top_k=5)
    assert list(matches.columns) == MATCH_COLUMNS
    best = matches[(matches["seqlet"] == 0) & (matches["rank"] == 1)].iloc[0]
    assert best["tf_name"] == "CTCF"
    assert best["q_value"] < 1e-4
    # orientation-aware alignment: MA0139.2 drawn at the planted place, on the planted strand
    row = matches[(matches["seqlet"] == 0) & (matches["matrix_id"] == "MA0139.2")].iloc[0]
    assert row["orientation"] == strand
    assert row["motif_start"] == 50 + POS and row["motif_end"] == 50 + POS + 15
    assert row["offset"] == row["motif_start"] - top["start"]
    assert row["seqlet_start"] == top["start"] and row["genome_start"] == top["genome_start"]


def test_offset_and_orientation_let_the_app_redraw_the_motif(core):
    """Drawing the (reverse-complemented if '-') PWM at offset reproduces the planted bases."""
    pwm = core["MA0139.2"]
    for strand in "+-":
        att = planted_attribution(pwm, strand, seed=5)
        seqlets = call_seqlets(att)
        row = match_motifs(att, seqlets, core, top_k=1).iloc[0]
        drawn = core[row["motif_name"]]
        if row["orientation"] == "-":
            drawn = drawn.flip(0, 1)
        a = row["seqlet_start"] + row["offset"]
        aligned = consensus(drawn)
        window = att.sequence[a:a + len(aligned)]
        agree = sum(c == w for c, w in zip(aligned, window)) / len(aligned)
        assert agree > 0.8, (strand, row["matrix_id"], aligned, window)


def test_seqlet_shorter_than_motif_overhangs(core):
    pwm = core["MA0139.2"]
    att = planted_attribution(pwm, "+")
    short = pd.DataFrame({"start": [POS + 4], "end": [POS + 12], "genome_start": [1_000 + POS + 4],
                          "genome_end": [1_000 + POS + 12], "score": [1.0],
                          "matrix": [att.contribution[:, POS + 4:POS + 12].numpy()]})
    matches = match_motifs(att, short, core, top_k=5)
    assert len(matches) == 5 and (matches["overlap"] <= 8).all()
    assert matches["tf_name"].iat[0] in ("CTCF", "CTCFL")
    row = matches[matches["matrix_id"] == "MA0139.2"].iloc[0]
    # the 15-bp motif sticks out on both sides of the 8-bp seqlet
    assert row["offset"] == -4 and row["motif_start"] == POS and row["motif_end"] == POS + 15
    assert row["overlap"] == 8


def test_sequence_query_also_recovers(core):
    att = planted_attribution(core["MA0139.2"], "-")
    seqlets = call_seqlets(att, max_seqlets=1)
    matches = match_motifs(att, seqlets, core, top_k=3, query="sequence")
    assert matches["tf_name"].iat[0] == "CTCF"


def test_tables_shape_and_ranks(core):
    att = planted_attribution(core["MA0080.7"], "+", seed=2)
    seqlets = call_seqlets(att)
    matches = match_motifs(att, seqlets, core, top_k=3)
    assert len(matches) == 3 * len(seqlets)
    for _, grp in matches.groupby("seqlet"):
        assert list(grp["rank"]) == [1, 2, 3]
        assert grp["p_value"].is_monotonic_increasing
    assert (matches["q_value"] >= matches["p_value"]).all()
    assert set(matches["orientation"]) <= {"+", "-"}
    assert matches["e_value"].iat[0] == pytest.approx(matches["p_value"].iat[0] * len(core))


def test_empty_and_bad_inputs(core):
    att = planted_attribution(core["MA0139.2"], "+")
    empty = match_motifs(att, call_seqlets(att).iloc[:0], core)
    assert len(empty) == 0 and list(empty.columns) == MATCH_COLUMNS
    outside = pd.DataFrame({"start": [LENGTH + 5], "end": [LENGTH + 20]})
    with pytest.raises(ValueError, match="outside the attribution window"):
        match_motifs(att, outside, core)
    with pytest.raises(ValueError, match="top_k"):
        match_motifs(att, call_seqlets(att), core, top_k=0)
    with pytest.raises(ValueError, match="query must be"):
        match_motifs(att, call_seqlets(att), core, query="logo")


def test_small_database_warns_but_works():
    small = read_meme("tests/data/jaspar2026_five.meme")
    att = planted_attribution(small["MA0139.2"], "+")
    with pytest.warns(UserWarning, match="target motifs"):
        matches = match_motifs(att, call_seqlets(att, max_seqlets=1), small, top_k=10)
    assert len(matches) == 5  # top_k capped at the database size
    assert matches["tf_name"].iat[0] == "CTCF"


def test_benjamini_hochberg_matches_scipy():
    from scipy.stats import false_discovery_control

    p = np.random.default_rng(0).random((3, 50)) ** 3
    np.testing.assert_allclose(_bh(p), np.stack([false_discovery_control(r) for r in p]), rtol=1e-12)

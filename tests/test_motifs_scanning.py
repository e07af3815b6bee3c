"""FIMO scanning on both strands, with locus, attribution and genome coordinates."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from explorer.attribution.result import Attribution
from explorer.io.loci import Locus
from explorer.io.sequences import one_hot_encode, reverse_complement
from explorer.motifs.databases import read_meme
from explorer.motifs.scanning import HIT_COLUMNS, _bh_partial, scan_motifs

FIVE = Path(__file__).parent / "data" / "jaspar2026_five.meme"


@pytest.fixture(scope="module")
def five():
    return read_meme(FIVE)


def consensus(pwm) -> str:
    return "".join("ACGT"[i] for i in pwm.argmax(0).tolist())


def planted(five, seed=1, length=300):
    site = consensus(five["MA0139.2"])
    rng = np.random.default_rng(seed)
    seq = list("".join(rng.choice(list("ACGT"), length)))
    seq[80:95] = site
    seq[200:215] = reverse_complement(site)
    return "".join(seq), site


def test_both_strands_with_exact_coordinates(five):
    seq, site = planted(five)
    hits = scan_motifs(seq, five)
    assert list(hits.columns) == HIT_COLUMNS
    ctcf = hits[hits["matrix_id"] == "MA0139.2"].sort_values("start")
    assert list(ctcf["start"]) == [80, 200] and list(ctcf["end"]) == [95, 215]
    assert list(ctcf["strand"]) == ["+", "-"]
    assert list(ctcf["sequence"]) == [site, site]  # read on the hit's strand
    assert (ctcf["tf_name"] == "CTCF").all()
    assert (ctcf["p_value"] < 1e-8).all()
    assert hits["p_value"].is_monotonic_increasing
    assert (hits["q_value"] >= hits["p_value"]).all() and (hits["q_value"] <= 1).all()


def test_locus_gives_genome_coordinates(five):
    seq, _ = planted(five)
    locus = Locus("chr11", 5_000_000, 5_000_300, seq)
    hits = scan_motifs(locus, five, motifs=["MA0139.2"])
    assert set(hits["matrix_id"]) == {"MA0139.2"}
    assert sorted(hits["start"]) == [80, 200]
    assert sorted(hits["genome_start"]) == [5_000_080, 5_000_200]
    assert (hits["genome_end"] - hits["genome_start"] == 15).all()


def test_attribution_window_uses_the_seqlet_coordinates(five):
    seq, _ = planted(five)
    x = one_hot_encode(seq)
    att = Attribution(values=x.clone(), one_hot=x, method="saliency", target="t", start=1000, chrom="chrT",
                      genome_start=7000)
    hits = scan_motifs(att, five, motifs=["CTCF"])  # by TF name: both CTCF matrices
    ctcf = hits[hits["matrix_id"] == "MA0139.2"]
    assert sorted(ctcf["start"]) == [1080, 1200]
    assert sorted(ctcf["genome_start"]) == [7080, 7200]
    assert set(hits["tf_name"]) == {"CTCF"}


def test_one_hot_input_and_n_bases(five):
    seq, site = planted(five)
    masked = seq[:80] + "N" * 15 + seq[95:]
    hits = scan_motifs(one_hot_encode(masked), five, motifs=["MA0139.2"])
    assert list(hits["start"]) == [200]  # N never matches


def test_nothing_found_and_motifs_longer_than_sequence(five):
    assert len(scan_motifs("ACGTAC", five)) == 0
    hits = scan_motifs("A" * 40, five, threshold=1e-6)
    assert len(hits) == 0 and list(hits.columns) == HIT_COLUMNS


def test_bad_inputs(five):
    with pytest.raises(ValueError, match="threshold"):
        scan_motifs("ACGT" * 10, five, threshold=0)
    with pytest.raises(KeyError, match="neither a matrix ID"):
        scan_motifs("ACGT" * 10, five, motifs=["NOPE"])
    with pytest.raises(TypeError, match="Locus"):
        scan_motifs(42, five)
    with pytest.raises(ValueError, match=r"\(4, L\)"):
        scan_motifs(np.zeros((5, 10)), five)


def test_partial_bh_is_bh_when_all_tests_are_seen():
    from scipy.stats import false_discovery_control

    p = np.random.default_rng(0).random(40) ** 4
    np.testing.assert_allclose(_bh_partial(p, 40), false_discovery_control(p), rtol=1e-12)
    # unseen tests only raise q-values
    assert (_bh_partial(p, 400) >= _bh_partial(p, 40)).all()

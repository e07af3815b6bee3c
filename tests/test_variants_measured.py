"""Measured effects (Kircher et al. 2019) placed on a locus, and predicted-vs-measured comparison."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import explorer as ex
from explorer.io.samples import SAMPLE_DATA
from explorer.variants import compare_measured, load_measured_effects

HBB = SAMPLE_DATA / "variants" / "kircher2019_HBB.tsv.gz"
HBG1 = SAMPLE_DATA / "variants" / "kircher2019_HBG1.tsv.gz"


@pytest.fixture(scope="module")
def humhbb():
    return ex.load_locus(ex.SAMPLE_LOCUS)


def _assert_alleles_match_locus(placed, locus):
    ok = placed[placed["ref_matches_locus"]]
    for pos, ref in zip(ok["locus_pos"], ok["locus_ref"]):
        i = int(pos) - 1 - locus.start
        assert locus.sequence[i:i + len(ref)] == ref


@pytest.mark.parametrize("release", ["GRCh37", "GRCh38"])
def test_hbb_element_maps_to_minus_strand_of_humhbb(humhbb, release):
    m = load_measured_effects(HBB, locus=humhbb, release=release)
    (rep,) = m.attrs["placements"]
    assert rep.mapped and rep.strand == "-" and rep.mismatches == 0 and not rep.ambiguous
    assert rep.n_placed == rep.n_variants == len(m) and rep.n_ref_mismatch == 0
    # checked against the sequence: the locus span, reverse-complemented, is the element
    span = humhbb.sequence[rep.locus_start - 1:rep.locus_end]
    by_pos = m.groupby("pos")["ref"].first()
    element = "".join(by_pos[p] for p in range(rep.start, rep.end + 1))
    assert ex.reverse_complement(span) == element
    # every variant's reference allele is the locus base at its mapped position
    assert m["placed"].all() and m["ref_matches_locus"].all() and (m["strand"] == "-").all()
    _assert_alleles_match_locus(m, humhbb)
    # alleles are complemented on the minus strand; deletions stay deletions, flagged
    snv = m[m["kind"] == "snv"].iloc[0]
    assert snv["locus_alt"] == ex.reverse_complement(snv["alt"])
    assert (m.loc[m["is_deletion"], "locus_alt"] == "-").all() and m["is_deletion"].sum() == 62
    # the genome's highest position is the locus's lowest (mirror image)
    assert m.loc[m["pos"].idxmax(), "locus_pos"] == rep.locus_start
    # the promoter lies just upstream of the annotated HBB gene start
    gene = humhbb.annotations.query("type == 'gene' and name == 'HBB'").iloc[0]
    assert rep.locus_start < gene["start"] + 1 < rep.locus_end
    assert "minus strand" in str(rep) and "623 of 623" in str(rep)


def test_same_placement_on_a_sub_locus(humhbb):
    sub = ex.load_locus(ex.SAMPLE_LOCUS, region="HUMHBB:61,001-63,000")
    full = load_measured_effects(HBB, locus=humhbb)
    part = load_measured_effects(HBB, locus=sub)
    assert part["locus_pos"].tolist() == full["locus_pos"].tolist()
    _assert_alleles_match_locus(part, sub)


def test_hbg1_tie_with_hbg2_broken_by_annotation(humhbb):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a resolved tie is not worth a warning
        m = load_measured_effects(HBG1, locus=humhbb)
    (rep,) = m.attrs["placements"]
    gene = humhbb.annotations.query("type == 'gene' and name == 'HBG1'").iloc[0]
    other = humhbb.annotations.query("type == 'gene' and name == 'HBG2'").iloc[0]
    assert rep.mapped and not rep.ambiguous and rep.strand == "-"
    assert rep.locus_start < gene["start"] + 1 < rep.locus_end  # the HBG1 copy, not HBG2
    assert len(rep.alternatives) == 1 and rep.alternatives[0].startswith("HUMHBB:34,")
    assert other["start"] - 300 < int(rep.alternatives[0].split(":")[1].split("-")[0].replace(",", ""))
    # one base differs between the locus haplotype and the reference genome: flagged, not hidden
    assert rep.mismatches == 1 and rep.n_ref_mismatch == 3
    assert (~m["ref_matches_locus"]).sum() == 3 and m.loc[~m["ref_matches_locus"], "locus_pos"].nunique() == 1
    _assert_alleles_match_locus(m, humhbb)


def _toy():
    rng = np.random.default_rng(3)
    return ex.locus_from_sequence("".join(rng.choice(list("ACGT"), 400)), name="chr5", start=1000)


def _table(chrom, start, seq, effects=None):
    rows = []
    for k, base in enumerate(seq):
        for alt in "ACGT":
            if alt != base:
                rows.append((chrom, start + k, base, alt))
        rows.append((chrom, start + k, base, "-"))
    df = pd.DataFrame(rows, columns=["chrom", "pos", "ref", "alt"])
    df["effect"] = effects if effects is not None else np.arange(len(df), dtype=float)
    return df


def test_plus_strand_by_coordinates_and_by_sequence():
    locus = _toy()
    i = 120
    seq = locus.sequence[i:i + 30]
    # same coordinates as the locus
    m = load_measured_effects(_table("chr5", locus.start + i + 1, seq), locus=locus)
    (rep,) = m.attrs["placements"]
    assert rep.method == "coordinates" and rep.strand == "+" and rep.locus_start == locus.start + i + 1
    assert (m["locus_pos"] == m["pos"]).all() and (m["locus_alt"] == m["alt"]).all()
    # other coordinates: found by sequence at the same place
    m2 = load_measured_effects(_table("chr9", 5_000_000, seq), locus=locus)
    (rep2,) = m2.attrs["placements"]
    assert rep2.method == "sequence" and rep2.locus_start == rep.locus_start and rep2.strand == "+"
    assert m2["locus_pos"].tolist() == m["locus_pos"].tolist()


def test_minus_strand_alleles_and_positions():
    locus = _toy()
    i = 200
    seq = ex.reverse_complement(locus.sequence[i:i + 25])
    m = load_measured_effects(_table("chr9", 700, seq), locus=locus)
    (rep,) = m.attrs["placements"]
    assert rep.strand == "-" and rep.locus_start == locus.start + i + 1
    first = m[(m["pos"] == 700) & (m["alt"] != "-")]
    # genome position 700 (the element's first base) is the locus's last element base
    assert (first["locus_pos"] == locus.start + i + 25).all()
    assert first["locus_alt"].tolist() == [ex.reverse_complement(a) for a in first["alt"]]
    _assert_alleles_match_locus(m, locus)


def test_unplaced_element_is_reported():
    locus = _toy()
    m = load_measured_effects(_table("chr9", 10, "ACGT" * 10), locus=locus)
    (rep,) = m.attrs["placements"]
    assert not rep.mapped and not m["placed"].any() and "no placement" in rep.reason
    assert "was not placed" in m.attrs["report"]


def test_compare_joins_on_position_and_alt():
    locus = _toy()
    i = 50
    seq = ex.reverse_complement(locus.sequence[i:i + 20])
    measured = load_measured_effects(_table("chr9", 300, seq, effects=None), locus=locus)
    rng = np.random.default_rng(0)
    measured["effect"] = rng.normal(size=len(measured))
    # predictions in locus coordinates: the right pairs are exactly linear in the measurement
    snv = measured[measured["kind"] == "snv"].sample(frac=0.5, random_state=1)
    predicted = pd.DataFrame({"chrom": "chr5", "pos": snv["locus_pos"].astype(int), "ref": snv["locus_ref"],
                              "alt": snv["locus_alt"], "task": "CTCF", "kind": "snv",
                              "diff": 3.0 * snv["effect"] - 1.0})
    # distractors: the same positions with another task, and predictions nobody measured
    decoys = predicted.assign(task="SPI1", diff=rng.normal(size=len(predicted)))
    unmeasured = pd.DataFrame({"chrom": "chr5", "pos": [locus.start + 1], "ref": [locus.sequence[0]],
                               "alt": ["-"], "task": "CTCF", "kind": "deletion", "diff": [99.0]})
    cmp = compare_measured(pd.concat([predicted, decoys, unmeasured]), measured, task="CTCF")
    assert cmp.n == len(predicted)
    assert cmp.pearson == pytest.approx(1.0) and cmp.spearman == pytest.approx(1.0)
    assert cmp.n_unmatched_predicted == 1
    assert cmp.n_unmatched_measured == measured["placed"].sum() - len(predicted)
    np.testing.assert_allclose(cmp.pairs["predicted"], 3.0 * cmp.pairs["measured"] - 1.0)
    assert set(zip(cmp.pairs["pos"], cmp.pairs["alt"])) == set(zip(predicted["pos"], predicted["alt"]))
    # had the alleles been left on the genome strand, the pairs would be wrong: no correlation
    wrong = compare_measured(predicted.assign(alt=snv["alt"].to_numpy()), measured)
    assert abs(wrong.pearson) < 0.5
    with pytest.raises(ValueError, match="several tasks"):
        compare_measured(pd.concat([predicted, decoys]), measured)
    assert "Pearson" in str(cmp)


def test_compare_with_too_few_pairs_gives_nan():
    measured = pd.DataFrame({"chrom": ["x"] * 2, "pos": [1, 2], "ref": ["A", "C"], "alt": ["G", "T"],
                             "effect": [1.0, 2.0]})
    predicted = measured.rename(columns={"effect": "diff"}).assign(task="t")
    cmp = compare_measured(predicted, load_measured_effects(measured))
    assert cmp.n == 2 and np.isnan(cmp.pearson) and np.isnan(cmp.spearman)


def test_measured_matrix_lays_effects_out_like_ism():
    from explorer.variants import measured_matrix

    sub = ex.load_locus(ex.SAMPLE_LOCUS, region="HUMHBB:61,901-62,300")
    m = load_measured_effects(HBB, locus=sub)
    mat = measured_matrix(m, sub, 50, 350)
    assert mat.values.shape == (4, 300) and mat.positions[0] == 61_951
    assert mat.n == len(m)  # the whole element (62,000-62,186) lies in the window
    snv = m[m["kind"] == "snv"].iloc[5]
    j = int(snv["locus_pos"]) - mat.positions[0]
    assert mat.values["ACGT".index(snv["locus_alt"]), j] == snv["effect"]
    ref_rows = ["ACGT".index(sub.sequence[50 + k]) for k in range(300)]
    assert np.isnan(mat.values[ref_rows, np.arange(300)]).all()
    assert np.isnan(mat.mean[:40]).all() and np.isfinite(mat.mean[60:200]).sum() > 100
    d = m[m["is_deletion"]].iloc[0]
    assert mat.deletion[int(d["locus_pos"]) - mat.positions[0]] == d["effect"]


def test_compare_ism_with_measured_and_caption():
    import torch

    from explorer.nets import SampleCNN
    from explorer.io.models import ExplorerModel
    from explorer.variants import compare_ism_measured, effects_from_ism, scatter_data

    torch.manual_seed(0)
    model = ExplorerModel(SampleCNN(channels=8, kernel_sizes=(9, 5, 5), dilations=(1, 2, 2)),
                          {"tasks": ["CTCF", "SPI1"], "min_length": 100})
    locus = _toy()
    res = ex.attribute(model, locus, method="ism", target="CTCF", start=0, end=40, cache=False)
    table = effects_from_ism(res)
    # a "measurement" in genome coordinates on the minus strand, exactly -2 x the ISM entry
    measured = pd.DataFrame({"chrom": "chr9", "pos": 2000 + 39 - (table["pos"] - locus.start - 1),
                             "ref": [ex.reverse_complement(b) for b in table["ref"]],
                             "alt": [ex.reverse_complement(b) for b in table["alt"]],
                             "effect": -2.0 * table["diff"]})
    placed = load_measured_effects(measured, locus=locus)
    assert placed.attrs["placements"][0].strand == "-"
    cmp = compare_ism_measured(res, placed)
    assert cmp.n == 120 and cmp.pearson == pytest.approx(-1.0, abs=1e-6)
    data, caption = scatter_data(cmp, model_note="A toy model.")
    assert len(data) == 120 and caption.endswith("n = 120: strong negative agreement. A toy model.")


def test_mismatch_profile_equals_brute_force_across_chunks(monkeypatch):
    import explorer.variants.measured as measured

    rng = np.random.default_rng(0)
    s = "".join(rng.choice(list("ACGTN"), 3000))
    q = s[2000:2040]
    brute = np.array([sum(a != b and "N" not in (a, b) for a, b in zip(s[i:i + 40], q))
                      for i in range(len(s) - 39)])
    monkeypatch.setattr(measured, "_CHUNK", 777)
    np.testing.assert_array_equal(measured._mismatch_profile(s, q), brute)


def test_compare_ignores_float_noise_around_zero():
    measured = pd.DataFrame({"chrom": "x", "pos": np.arange(1, 9), "ref": "A", "alt": "C",
                             "effect": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]})
    exact = measured.rename(columns={"effect": "diff"}).assign(task="t", diff=[0, 0, 0, 0, 0, 1.0, 2.0, 3.0])
    noisy = exact.assign(diff=exact["diff"] + [3e-8, -2e-8, 1e-8, -4e-8, 0, 0, 0, 0])
    a, b = compare_measured(exact, measured), compare_measured(noisy, measured)
    assert a.spearman == pytest.approx(b.spearman) and a.pearson == pytest.approx(b.pearson)
    assert compare_measured(noisy, measured, zero_tol=0).spearman != pytest.approx(a.spearman)

"""Ref/alt attribution maps of a variant, their alignment, the words, and the TSV export."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
import torch

import explorer as ex
from explorer.io.models import ExplorerModel
from explorer.nets import SampleCNN
from explorer.variants import (
    VariantAlignment,
    describe_variant_effect,
    load_measured_effects,
    merge_measured,
    motif_changes,
    ref_alt_attributions,
    variant_at,
    variant_motif_report,
    variant_table_tsv,
)

RNG = np.random.default_rng(11)
SEQ = "".join(RNG.choice(list("ACGT"), 140))


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(1)
    net = SampleCNN(channels=8, kernel_sizes=(9, 5, 5), dilations=(1, 2, 2), dropout=0.0)
    return ExplorerModel(net, {"tasks": ["CTCF", "SPI1"], "min_length": 100, "output": "logits"})


@pytest.fixture(scope="module")
def locus():
    return ex.locus_from_sequence(SEQ, name="toy", start=500)


def _variant(locus, i, ref_len=1, alt=None):
    ref = locus.sequence[i:i + ref_len]
    if alt is None:
        alt = next(b for b in "ACGT" if b != ref)
    return {"chrom": "toy", "pos": locus.start + i + 1, "ref": ref, "alt": alt}


def test_snv_maps_ism_consistency(model, locus):
    i = 60
    v = _variant(locus, i)
    res = ref_alt_attributions(model, locus, v, "ism", "CTCF", 40, 80, cache=False)
    direct = ex.attribute(model, locus, method="ism", target="CTCF", start=40, end=80, cache=False)
    torch.testing.assert_close(res.ref.values, direct.values)
    assert res.aligned.all() and res.variant_offset == 20
    torch.testing.assert_close(res.diff, res.alt_aligned - res.ref.values)
    a, r = "ACGT".index(v["alt"]), "ACGT".index(v["ref"])
    # mutating the alt back to the ref undoes the variant: alt map entry = - ref map entry
    assert res.alt.values[r, 20].item() == pytest.approx(-res.ref.values[a, 20].item(), abs=2e-5)
    # the alt map's sequence carries the alt base at the variant, the reference elsewhere
    seq = ex.one_hot_decode(res.alt_one_hot_aligned)
    assert seq[20] == v["alt"] and seq[:20] + seq[21:] == locus.sequence[40:60] + locus.sequence[61:80]
    # logo inputs: the alt letter at the variant, the rest as the ref map with the alt's weights
    logo = res.alt_contribution_aligned
    assert logo[a, 20] == res.alt.contribution[a, 20] and logo[r, 20] == 0
    torch.testing.assert_close(res.diff_contribution, logo - res.ref.contribution)
    # a clicked ISM cell names the same variant
    assert variant_at(direct, a, 20) == {**v, "id": f"toy:{v['pos']}:{v['ref']}>{v['alt']}"}
    with pytest.raises(ValueError, match="is the reference base"):
        variant_at(direct, r, 20)
    # and the variant effect equals the ISM entry
    eff = ex.variant_effect(model, locus, pd.DataFrame([v]), target="CTCF")
    assert eff["diff"].item() == pytest.approx(res.ref.values[a, 20].item(), abs=2e-5)
    assert res.label == f"{v['ref']}>{v['alt']} at {v['pos']:,}"


def test_deletion_and_insertion_alignment(model, locus):
    i = 70
    dele = _variant(locus, i, 3, alt=locus.sequence[i])  # XYZ>X: deletes two bases
    res = ref_alt_attributions(model, locus, dele, "saliency", "SPI1", 50, 100, cache=False)
    off = i - 50
    assert res.aligned.tolist() == [True] * (off + 1) + [False] * 2 + [True] * (50 - off - 3)
    ref_oh, alt_oh = res.ref.one_hot, res.alt_one_hot_aligned
    torch.testing.assert_close(alt_oh[:, res.aligned], ref_oh[:, res.aligned])  # flanks identical
    assert (res.diff[:, ~res.aligned] == 0).all() and (res.diff_contribution[:, ~res.aligned] == 0).all()
    torch.testing.assert_close(res.alt_contribution_aligned[:, :off], res.alt.contribution[:, :off])
    torch.testing.assert_close(res.alt_contribution_aligned[:, off + 3:], res.alt.contribution[:, off + 1:])
    assert len(res.alt) == 48 and any("deleted" in n for n in res.notes)

    ins = _variant(locus, i, 1, alt=locus.sequence[i] + "GGG")
    res = ref_alt_attributions(model, locus, ins, "saliency", "SPI1", 50, 100, cache=False)
    assert res.aligned.all() and len(res.alt) == 53
    assert res.alt.sequence[off + 1:off + 4] == "GGG"
    torch.testing.assert_close(res.alt_one_hot_aligned, res.ref.one_hot)


def test_alignment_maps_are_inverse():
    al = VariantAlignment(index=10, ref_length=3, alt_length=1, length=30)  # deletion of 2
    p = np.arange(30)
    q = al.to_alt(p)
    assert q[:11].tolist() == list(range(11)) and q[11:13].tolist() == [-1, -1] and q[13] == 11
    ok = q >= 0
    assert (al.to_ref(q[ok]) == p[ok]).all()
    ins = VariantAlignment(index=10, ref_length=1, alt_length=4, length=30)
    assert ins.to_ref(np.arange(11, 14)).tolist() == [-1, -1, -1] and ins.to_ref(14) == 11
    assert ins.to_alt(29) == -1  # pushed out of the fixed-length sequence


def _seqlets(rows):
    return pd.DataFrame(rows, columns=["start", "end", "score", "sign"])


def test_words_for_weakened_lost_gained():
    variant = {"pos": 62150, "ref": "C", "alt": "T"}
    locus_start = 61000  # variant at locus index 1149
    ref = _seqlets([(1140, 1159, 1.2, "+"), (1100, 1110, 0.5, "+"), (1160, 1168, 0.9, "+")])
    alt = _seqlets([(1141, 1158, 0.4, "+"), (1100, 1110, 0.5, "+"), (1120, 1130, 0.6, "+")])
    ref_m = pd.DataFrame({"seqlet": [0, 0], "rank": [2, 1], "matrix_id": ["MA0000.1", "MA0139.2"],
                          "tf_name": ["X", "CTCF"]})
    changes = motif_changes(variant, ref, alt, ref_m, None, locus_start=locus_start, near=None)
    assert changes["change"].tolist() == ["weakened", "lost", "gained", "unchanged"]
    assert changes["overlaps_variant"].tolist() == [True, False, False, False]
    text = describe_variant_effect(variant, ref, alt, ref_m, locus_start=locus_start, near=25, max_items=2)
    assert text == ("C>T at 62,150 weakens the CTCF match MA0139.2 (seqlet score 1.2 -> 0.4) and "
                    "destroys the positive seqlet at 62,161-62,168 (seqlet score 0.9 -> none).")
    eff = {"task": "CTCF", "ref_score": 2.0, "alt_score": 1.5, "diff": -0.5}
    quiet = describe_variant_effect(variant, ref.iloc[[1]], alt.iloc[[1]], locus_start=locus_start, effect=eff)
    assert quiet.startswith("C>T at 62,150 changes no seqlet or motif match within 25 bp.")
    assert "falls from 2 to 1.5" in quiet


def test_words_for_fimo_hits():
    variant = {"pos": 101, "ref": "G", "alt": "A"}
    hits = lambda score: pd.DataFrame({"matrix_id": ["MA0139.2"], "tf_name": ["CTCF"], "start": [95],  # noqa: E731
                                       "end": [114], "strand": ["+"], "score": [score]})
    text = describe_variant_effect(variant, None, None, ref_hits=hits(14.1), alt_hits=hits(9.3))
    assert text == "G>A at 101 weakens the CTCF motif MA0139.2 (+ strand) (PWM score 14.1 -> 9.3 bits)."
    text = describe_variant_effect(variant, None, None, ref_hits=hits(14.1), alt_hits=hits(14.1).iloc[:0])
    assert "destroys the CTCF motif" in text


def test_a_match_lost_at_one_span_and_gained_at_another_is_said_to_move():
    """Never 'destroys the CTCF match ... and creates a new CTCF match ...' for one match."""
    variant = {"pos": 101, "ref": "G", "alt": "A"}
    match = lambda seqlet: pd.DataFrame({"seqlet": [seqlet], "rank": [1], "tf_name": ["CTCF"],  # noqa: E731
                                         "matrix_id": ["MA0139.2"], "q_value": [1e-4]})
    ref = pd.DataFrame({"start": [90], "end": [99], "score": [2.0], "sign": ["+"]}, index=[0])
    alt = pd.DataFrame({"start": [103], "end": [112], "score": [1.5], "sign": ["+"]}, index=[0])
    changes = motif_changes(variant, ref, alt, match(0), match(0))
    assert sorted(changes["change"]) == ["gained", "lost"]  # the table keeps both spans
    text = describe_variant_effect(variant, changes=changes)
    assert text == ("G>A at 101 moves the CTCF match MA0139.2 from 91-99 to 104-112 "
                    "(seqlet score 2 -> 1.5).")
    assert "destroys" not in text and "creates" not in text


def test_report_on_real_maps(model, locus):
    i = 60
    res = ref_alt_attributions(model, locus, _variant(locus, i), "ism", "CTCF", 20, 120, cache=False)
    changes, text = variant_motif_report(res, seqlet_options={"threshold": 0.05})
    assert text.startswith(res.label)
    assert set(changes["change"]) <= {"weakened", "strengthened", "lost", "gained", "unchanged"}


def test_tsv_has_measured_effect_beside_prediction(model, locus, tmp_path):
    i, n = 30, 12
    seq = locus.sequence[i:i + n]
    effects = [0.5, -1.0, 2.0, 0.25] + [0.0] * (n - 4)
    measured = pd.DataFrame({"chrom": "chr9", "pos": np.arange(1000, 1000 + n), "ref": list(seq),
                             "alt": ["-"] + [next(b for b in "ACGT" if b != s) for s in seq[1:]],
                             "effect": effects})
    placed = load_measured_effects(measured, locus=locus)
    assert placed["placed"].all()
    variants = pd.DataFrame({"chrom": "toy", "pos": placed["locus_pos"].astype(int), "ref": placed["locus_ref"],
                             "alt": placed["locus_alt"]})
    extra = {"chrom": "toy", "pos": locus.start + 81, "ref": locus.sequence[80], "alt": "-"}
    predicted = ex.variant_effect(model, locus, pd.concat([variants, pd.DataFrame([extra])]), target="CTCF")
    merged = merge_measured(predicted, placed)
    assert merged["measured_effect"].tolist()[:n] == effects
    assert np.isnan(merged["measured_effect"].iloc[n])
    path = tmp_path / "variants.tsv"
    text = variant_table_tsv(predicted, placed, path)
    assert path.read_text() == text
    back = pd.read_csv(io.StringIO(text), sep="\t")
    assert list(back.columns[-3:]) == ["measured_effect", "measured_pvalue", "measured_element"]
    assert back["measured_effect"].iloc[:4].tolist() == [0.5, -1.0, 2.0, 0.25]
    np.testing.assert_allclose(back["diff"], predicted["diff"], rtol=1e-5, atol=1e-7)
    assert text.splitlines()[0].split("\t")[:4] == ["chrom", "pos", "ref", "alt"]

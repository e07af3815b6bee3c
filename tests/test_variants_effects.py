"""Predicted variant effects: windows, indels, reference checks, and agreement with ISM."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import explorer as ex
from explorer.io.models import ExplorerModel
from explorer.nets import SampleCNN
from explorer.variants.effects import effects_from_ism, log_ratio, variant_window

RNG = np.random.default_rng(7)
SEQ = "".join(RNG.choice(list("ACGT"), 160))


def _model(input_length=None, seed=0):
    torch.manual_seed(seed)
    net = SampleCNN(channels=8, kernel_sizes=(9, 5, 5), dilations=(1, 2, 2), dropout=0.0)
    card = {"tasks": ["CTCF", "SPI1"], "min_length": 100, "output": "logits"}
    if input_length:
        card["input_length"] = input_length
    return ExplorerModel(net, card)


@pytest.fixture(scope="module")
def model():
    return _model()


@pytest.fixture(scope="module")
def locus():
    # chrom "toy", positions 1001-1160 (1-based) so locus.start matters
    return ex.locus_from_sequence(SEQ, name="toy", start=1000)


def _score(model, seqs, task):
    with torch.no_grad():
        return model(ex.one_hot_encode(seqs))[:, model.tasks.index(task)].double().numpy()


def _snv(locus, index):
    ref = locus.sequence[index]
    alt = next(b for b in "ACGT" if b != ref)
    return ref, alt


def _responsive_index(model, locus, task="CTCF"):
    """A 0-based index where a substitution changes the toy model's score (max-pooled head)."""
    s = locus.sequence
    base = _score(model, [s], task)[0]
    for i in range(20, 140):
        ref, alt = _snv(locus, i)
        if abs(_score(model, [s[:i] + alt + s[i + 1:]], task)[0] - base) > 1e-4:
            return i
    raise AssertionError("the toy model responds to no substitution")


def test_snv_indels_equal_brute_force_on_the_whole_locus(model, locus):
    i = _responsive_index(model, locus)  # 0-based within the locus
    pos = locus.start + i + 1
    ref, alt = _snv(locus, i)
    two = locus.sequence[i:i + 2]
    variants = [f"toy:{pos}:{ref}>{alt}", f"toy:{pos}:{two}>{two[0]}", f"toy:{pos}:{ref}>-",
                f"toy:{pos}:{ref}>{ref}GG"]
    df = ex.variant_effect(model, locus, variants)
    assert list(df.columns[:11]) == ["chrom", "pos", "ref", "alt", "id", "kind", "task", "ref_score",
                                     "alt_score", "diff", "log_ratio"]
    assert len(df) == 8 and df["task"].tolist() == ["CTCF", "SPI1"] * 4
    s = locus.sequence
    expected_alts = [s[:i] + alt + s[i + 1:],
                     s[:i + 1] + s[i + 2:] + "N",       # anchored deletion of s[i+1]; N past the end
                     s[:i] + s[i + 1:] + "N",           # unanchored deletion of s[i]
                     (s[:i + 1] + "GG" + s[i + 1:])[:len(s)]]  # insertion; the last 2 bases drop out
    for task in ("CTCF", "SPI1"):
        part = df[df["task"] == task]
        ref_score = _score(model, [s], task)[0]
        np.testing.assert_allclose(part["ref_score"], ref_score, rtol=1e-6)
        np.testing.assert_allclose(part["alt_score"], _score(model, expected_alts, task), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(part["diff"], part["alt_score"] - part["ref_score"])
    assert df["n_padded"].tolist() == [0, 0, 1, 1, 1, 1, 0, 0]
    assert df.attrs["window"] == "locus"
    assert (df["window_start"] == 1001).all() and (df["window_end"] == 1160).all()
    assert (df["diff"].abs() > 0).any()  # the toy model does respond


def test_snv_effect_equals_ism_entry(model, locus):
    """For substitutions inside an ISM window the variant effect is the ISM map's entry."""
    from explorer.attribution.ism import ism
    from explorer.attribution.targets import resolve_target

    start, end = 40, 90  # 0-based half-open window within the locus
    target = resolve_target(model, "CTCF", length=len(locus))
    res = ism(model, locus.one_hot, target, start, end)
    variants = []
    for j in range(start, end):
        for b in "ACGT":
            if b != locus.sequence[j]:
                variants.append(f"toy:{locus.start + j + 1}:{locus.sequence[j]}>{b}")
    df = ex.variant_effect(model, locus, variants, target="CTCF", batch_size=37)
    rows = ["ACGT".index(a) for a in df["alt"]]
    cols = (df["pos"] - 1 - locus.start - start).to_numpy()
    ism_values = res.values.double().numpy()[rows, cols]
    np.testing.assert_allclose(df["diff"].to_numpy(), ism_values, atol=2e-5)
    np.testing.assert_allclose(df["ref_score"], res.reference_score, rtol=1e-5)
    assert np.abs(ism_values).max() > 1e-4


def test_snv_effect_equals_attribute_ism(model, locus):
    """The same through the public ``explorer.attribute`` (when the attribution API exists)."""
    try:
        attribute = ex.attribute
    except (ImportError, AttributeError, ModuleNotFoundError):
        pytest.skip("explorer.attribute is not available yet")
    start, end = 50, 80
    res = attribute(model, locus, method="ism", target="SPI1", start=start, end=end)
    table = effects_from_ism(res)
    df = ex.variant_effect(model, locus, table[["chrom", "pos", "ref", "alt"]], target="SPI1")
    np.testing.assert_allclose(df["diff"].to_numpy(), table["diff"].to_numpy(), atol=2e-5)
    assert len(df) == 3 * (end - start)


def test_reference_mismatch_names_variant_and_base(model, locus):
    i = 20
    found = locus.sequence[i]
    wrong = next(b for b in "ACGT" if b != found)
    alt = next(b for b in "ACGT" if b not in (found, wrong))
    pos = locus.start + i + 1
    with pytest.raises(ValueError, match=rf"toy:{pos}:{wrong}>{alt}.*has {found} at toy:{pos:,}"):
        ex.variant_effect(model, locus, f"toy:{pos}:{wrong}>{alt}")


def test_outside_locus_and_other_chrom(model, locus):
    with pytest.raises(ValueError, match="outside the locus"):
        ex.variant_effect(model, locus, "toy:1000:A>C")
    last = locus.end  # 1-based position of the last base
    with pytest.raises(ValueError, match="outside the locus"):
        ex.variant_effect(model, locus, f"toy:{last}:{locus.sequence[-1]}A>A")  # ref runs past the end
    with pytest.raises(ValueError, match="is on 'chr11'"):
        ex.variant_effect(model, locus, "chr11:1050:A>C")
    with pytest.raises(ValueError, match="unknown target"):
        ex.variant_effect(model, locus, f"toy:1050:{locus.sequence[49]}>-", target="GATA1")


def test_variant_window_rule():
    seq = "AACCGGTTAC"
    w = variant_window(seq, 4, "G", "T", 6)  # window [1, 7), variant at offset 3
    assert (w.start, w.offset, w.ref_sequence, w.alt_sequence, w.n_padded) == (1, 3, "ACCGGT", "ACCTGT", 0)
    w = variant_window(seq, 4, "GG", "G", 6)  # deletion: right flank reads on past the window
    assert w.alt_sequence == "ACCGTT"
    w = variant_window(seq, 4, "G", "GAAA", 6)  # insertion: the window's last bases drop out
    assert w.alt_sequence == "ACCGAA"
    w = variant_window(seq, 1, "A", "C", 6)  # runs past the left end: N padding
    assert (w.start, w.ref_sequence, w.alt_sequence, w.n_padded) == (-2, "NNAACC", "NNACCC", 2)
    w = variant_window(seq, 9, "C", "-", 4)  # deletion at the right end
    assert (w.ref_sequence, w.alt_sequence, w.n_padded) == ("TACN", "TANN", 2)


def test_fixed_length_model_uses_centred_window(locus):
    m = _model(input_length=120, seed=3)
    i = 80
    ref, alt = _snv(locus, i)
    df = ex.variant_effect(m, locus, f"toy:{locus.start + i + 1}:{ref}>{alt}", target="CTCF")
    ws = i - 60
    seq = locus.sequence[ws:ws + 120]
    mut = seq[:60] + alt + seq[61:]
    assert df.attrs["window"] == 120
    assert df["window_start"].item() == locus.start + ws + 1 and df["window_end"].item() == locus.start + ws + 120
    np.testing.assert_allclose(df["ref_score"], _score(m, [seq], "CTCF"), rtol=1e-6)
    np.testing.assert_allclose(df["alt_score"], _score(m, [mut], "CTCF"), rtol=1e-6)
    with pytest.raises(ValueError, match="exactly 120 bp"):
        ex.variant_effect(m, locus, f"toy:{locus.start + i + 1}:{ref}>{alt}", window=200)


def test_window_option_for_any_length_models(model, locus):
    i = 75
    ref, alt = _snv(locus, i)
    df = ex.variant_effect(model, locus, f"toy:{locus.start + i + 1}:{ref}>{alt}", window=100, target=0)
    assert df.attrs["window"] == 100 and df["task"].item() == "CTCF"
    seq = locus.sequence[i - 50:i + 50]
    np.testing.assert_allclose(df["ref_score"], _score(model, [seq], "CTCF"), rtol=1e-6)
    with pytest.raises(ValueError, match="shorter than the model's minimum"):
        ex.variant_effect(model, locus, f"toy:{locus.start + i + 1}:{ref}>{alt}", window=50)


def test_log_ratio_definitions():
    ref, alt = np.array([0.0, 2.0]), np.array([1.0, -1.0])
    sig = lambda x: 1 / (1 + np.exp(-x))  # noqa: E731
    np.testing.assert_allclose(log_ratio(ref, alt, "logits"), np.log2(sig(alt) / sig(ref)))
    np.testing.assert_allclose(log_ratio(ref, alt, "logits (N, 2)"), log_ratio(ref, alt, "logits"))
    assert np.isfinite(log_ratio(np.array([-800.0]), np.array([-790.0]), "logits")).all()
    np.testing.assert_allclose(log_ratio(np.array([2.0, 1.0]), np.array([8.0, 0.0]), "counts"), [2.0, np.nan])
    assert np.isnan(log_ratio(ref, alt, None)).all()


def test_model_mode_restored_and_table_input(model, locus):
    model.train()
    try:
        i = 30
        ref, alt = _snv(locus, i)
        table = ex.parse_variants([f"toy:{locus.start + i + 1}:{ref}>{alt}"])
        df = ex.variant_effect(model, locus, table)
        assert model.training
        assert df["id"].tolist() == [table["id"][0]] * 2
        assert np.isfinite(df["log_ratio"]).all()  # the card says "logits"
    finally:
        model.eval()

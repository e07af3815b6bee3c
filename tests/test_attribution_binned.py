"""Predicted tracks of binned models (``ex.predict_tracks``) and typed targets
(``ex.target_spelling``, ``ex.search_targets``).

Tiny random-init Enformer and Borzoi folders are built here (as tests/test_io_longcontext.py
does). Checks: the values equal the model's own output on the same input, computed directly;
each bin sits at the bases the card's ``output_bins`` say (0-based half-open, on the genome);
consecutive inputs join their bins end to end; spellings, aliases, contrasts and bad text.
"""

import numpy as np
import pytest
import torch

enformer_pytorch = pytest.importorskip("enformer_pytorch", reason="enformer-pytorch is not installed (extra 'enformer')")
borzoi_pytorch = pytest.importorskip("borzoi_pytorch", reason="borzoi-pytorch is not installed (extra 'borzoi')")

import explorer as ex  # noqa: E402
from explorer.attribution.binned import track_inputs  # noqa: E402
from longcontext_folders import tiny_enformer_folder, write_targets  # noqa: E402

TRACKS = [("ENCFF001", "CAGE:HepG2"), ("ENCFF002", "CAGE:K562"), ("ENCFF003", "DNASE:K562")]


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def enformer(tmp_path_factory):
    return ex.load_model(tiny_enformer_folder(tmp_path_factory.mktemp("enf") / "tiny-enformer", TRACKS), device="cpu")


def random_sequence(n, seed=0):
    rng = np.random.default_rng(seed)
    return "".join(rng.choice(list("ACGT"), n))


def test_predicted_tracks_equal_the_model_output_at_the_right_bases(enformer):
    seq = random_sequence(64, 1)
    locus = ex.locus_from_sequence(seq, name="chrT")
    frame = ex.predict_tracks(enformer, locus, tracks=["CAGE:K562", "ENCFF001"])
    assert list(frame.columns) == ["input_start", "bin", "start", "end", "genome_start", "genome_end",
                                   "CAGE:K562", "CAGE:HepG2"]
    with torch.no_grad():
        direct = enformer(ex.one_hot_encode(seq)[None])[0]  # (tracks, bins)
    np.testing.assert_allclose(frame["CAGE:K562"], direct[1].numpy(), rtol=1e-6, atol=1e-6 * float(direct.abs().max()))
    np.testing.assert_allclose(frame["CAGE:HepG2"], direct[0].numpy(), rtol=1e-6,
                               atol=1e-6 * float(direct.abs().max()))
    # card: 4 bins of 8 bp from input base 16 -> bases [16, 24), [24, 32), [32, 40), [40, 48)
    assert enformer.card["output_bins"] == {"size": 8, "offset": 16, "count": 4}
    assert frame["start"].tolist() == [16, 24, 32, 40] and frame["end"].tolist() == [24, 32, 40, 48]
    assert (frame["genome_start"] - frame["start"]).eq(locus.start).all()


def test_the_bins_follow_the_genome_and_consecutive_inputs_join(enformer):
    seq = random_sequence(200, 2)
    whole = ex.locus_from_sequence(seq, name="chrT")
    locus = whole.subregion(10, 190)  # 180 bp starting at 0-based 10 on chrT
    frame = ex.predict_tracks(enformer, locus)
    # 32 bp of bins per input: 1 + (180 - 64) // 32 = 4 inputs, centred: first at (180 - 160) // 2 = 10
    assert track_inputs(ex.OutputBins(8, 16, 4), 64, 180) == [10, 42, 74, 106]
    assert sorted(set(frame["input_start"])) == [10, 42, 74, 106] and len(frame) == 16
    assert (frame["start"].to_numpy()[1:] == frame["end"].to_numpy()[:-1]).all()  # bins join end to end
    assert frame["genome_start"].iloc[0] == 10 + 10 + 16
    for s in (10, 74):  # each input's bins are the model's output on that input, directly
        with torch.no_grad():
            direct = enformer(ex.one_hot_encode(seq[10 + s:10 + s + 64])[None])[0, 2].numpy()
        got = frame.loc[frame["input_start"] == s, "DNASE:K562"].to_numpy()
        np.testing.assert_allclose(got, direct, rtol=1e-6, atol=1e-6 * float(np.abs(direct).max()))
    one = ex.predict_tracks(enformer, locus, tracks=[2], start=0)
    assert one["genome_start"].tolist() == [26, 34, 42, 50]


def test_bad_tracks_and_short_sequences_are_named(enformer, small_model=None):
    with pytest.raises(ValueError, match=r"no track is called 'CAGE:HepG3'; did you mean 'CAGE:HepG2'"):
        ex.predict_tracks(enformer, random_sequence(64), tracks=["CAGE:HepG3"])
    with pytest.raises(ValueError, match=r"inputs of 64 bp; this sequence is 40 bp"):
        ex.predict_tracks(enformer, random_sequence(40))
    with pytest.raises(ValueError, match=r"0 <= start <= 36"):
        ex.predict_tracks(enformer, random_sequence(100), start=50)
    plain = ex.ExplorerModel(torch.nn.Sequential(torch.nn.Conv1d(4, 2, 3), torch.nn.Flatten(), torch.nn.LazyLinear(2)),
                             {"tasks": ["a", "b"], "input_length": 20})
    with pytest.raises(ValueError, match="card has output_bins"):
        ex.predict_tracks(plain, random_sequence(20))


def test_typed_targets_are_spelled_checked_and_searched(enformer):
    assert ex.target_spelling(enformer, "  cage:hepg2 ") == "CAGE:HepG2"
    assert ex.target_spelling(enformer, "ENCFF002") == "CAGE:K562"
    assert ex.target_spelling(enformer, "CAGE:HepG2 -   ENCFF002") == "CAGE:HepG2 - CAGE:K562"
    with pytest.raises(ValueError, match=r"no target is called 'CAGE:Hep'; did you mean 'CAGE:HepG2'"):
        ex.target_spelling(enformer, "CAGE:Hep")
    with pytest.raises(ValueError, match="two different targets"):
        ex.target_spelling(enformer, "CAGE:HepG2 - ENCFF001")
    with pytest.raises(ValueError, match="type a target"):
        ex.target_spelling(enformer, " ")
    assert ex.search_targets(enformer, "k562") == ["CAGE:K562", "DNASE:K562"]
    assert ex.search_targets(enformer, "CAGE:HepG2 - k5") == ["CAGE:HepG2 - CAGE:K562", "CAGE:HepG2 - DNASE:K562"]
    assert ex.search_targets(enformer, "ENCFF003") == ["DNASE:K562"]
    # each spelling resolves to the same target as the track itself
    assert ex.resolve_target(enformer, ex.target_spelling(enformer, "encff001")) == \
        ex.resolve_target(enformer, "CAGE:HepG2")


def test_thousands_of_borzoi_tracks_are_searched_fifty_at_most(tmp_path):
    torch.manual_seed(0)
    net = borzoi_pytorch.Borzoi.from_hparams(dim=32, depth=1, heads=1, attn_dim_key=8, attn_dim_value=32,
                                             bins_to_return=16).eval()
    rows = [(f"ENCFF{i:05d}", f"RNA:sample {i}") for i in range(7611)]
    rows[0] = ("ENCFF90000", "RNA:liver")
    net.save_pretrained(tmp_path / "tiny-borzoi")
    write_targets(tmp_path / "tiny-borzoi" / "targets.txt", rows)
    borzoi = ex.load_model(tmp_path / "tiny-borzoi", device="cpu")
    choices = ex.target_choices(borzoi)
    assert len(choices) == 7611
    found = ex.search_targets(borzoi, "sample 12", choices)
    assert len(found) == 50 and found[0] == "RNA:sample 12" and all("sample" in f and "12" in f for f in found)
    assert ex.search_targets(borzoi, "liver", choices) == ["RNA:liver"]
    seq = random_sequence(int(borzoi.input_length), 3)
    frame = ex.predict_tracks(borzoi, seq, tracks=["RNA:liver", "ENCFF00007"])
    with torch.no_grad():
        direct = borzoi(ex.one_hot_encode(seq)[None])[0]
    bins = borzoi.card["output_bins"]
    assert len(frame) == bins["count"] == 16
    assert frame["start"].tolist() == [bins["offset"] + 32 * i for i in range(16)]
    np.testing.assert_allclose(frame["RNA:sample 7"], direct[7].numpy(), rtol=1e-5,
                               atol=1e-6 * float(direct.abs().max()))


def test_inputs_can_be_anchored_at_the_window():
    bins = ex.OutputBins(8, 16, 4)
    assert track_inputs(bins, 64, 180, anchor=74) == [10, 42, 74, 106]
    assert track_inputs(bins, 64, 180, anchor=5) == [5, 37, 69, 101]
    assert track_inputs(bins, 64, 180, anchor=500) == [20, 52, 84, 116]  # clipped to the last input

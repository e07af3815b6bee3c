"""Seqlet calling on hand-built Attribution objects (no attribution engine needed)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from explorer.attribution.result import Attribution
from explorer.io.sequences import one_hot_encode
from explorer.motifs.seqlets import SEQLET_COLUMNS, call_seqlets, recursive_seqlets


def make_attribution(per_base: np.ndarray, seed: int = 0, method: str = "saliency", start: int = 0,
                     genome_start: int = 0) -> Attribution:
    rng = np.random.default_rng(seed)
    seq = "".join(rng.choice(list("ACGT"), per_base.shape[0]))
    x = one_hot_encode(seq)
    values = x * torch.as_tensor(per_base, dtype=torch.float32)
    return Attribution(values=values, one_hot=x, method=method, target="test", start=start, chrom="chrT",
                       genome_start=genome_start)


def noisy_map(length=300, seed=0, scale=0.05):
    return np.random.default_rng(seed + 100).normal(0, scale, length)


def test_one_bump_gives_one_seqlet_with_locus_and_genome_coordinates():
    x = noisy_map()
    x[120:138] += 1.0
    att = make_attribution(x, start=500, genome_start=10_000)
    seqlets = call_seqlets(att)
    assert list(seqlets.columns) == SEQLET_COLUMNS
    assert len(seqlets) == 1
    s = seqlets.iloc[0]
    # covers the bump; the recursive caller may take a few noise bases along (its spans grow
    # while every sub-span stays significant) and flank adds 2
    assert 500 + 120 - 8 <= s["start"] <= 500 + 120 and 500 + 138 <= s["end"] <= 500 + 138 + 8
    assert s["genome_start"] == s["start"] - 500 + 10_000 and s["genome_end"] == s["end"] - 500 + 10_000
    i, j = s["start"] - 500, s["end"] - 500
    assert s["sequence"] == att.sequence[i:j]
    np.testing.assert_allclose(s["matrix"], att.contribution[:, i:j].numpy(), rtol=1e-6)
    assert s["matrix"].shape == (4, j - i)
    assert s["score"] == pytest.approx(att.per_base[i:j].sum())
    assert s["sign"] == "+" and 0 < s["p_value"] < 0.01


def test_seqlets_are_ordered_strongest_first_with_a_clean_index():
    x = noisy_map(600)
    x[100:115] += 0.6
    x[300:320] += 1.5
    x[450:460] += 1.0
    seqlets = call_seqlets(make_attribution(x))
    assert list(seqlets.index) == list(range(len(seqlets)))
    assert seqlets["score"].is_monotonic_decreasing
    assert 295 <= seqlets["start"].iat[0] <= 300
    assert call_seqlets(make_attribution(x), max_seqlets=1).shape[0] == 1


def test_negative_seqlets_by_option():
    x = noisy_map()
    x[50:65] += 1.0
    x[200:215] -= 2.0
    att = make_attribution(x)
    pos = call_seqlets(att)
    assert len(pos) == 1 and pos["start"].iat[0] <= 50
    neg = call_seqlets(att, sign="negative")
    assert len(neg) == 1 and neg["sign"].iat[0] == "-" and neg["score"].iat[0] < 0
    assert 200 - 8 <= neg["start"].iat[0] <= 200 and 215 <= neg["end"].iat[0] <= 215 + 8
    both = call_seqlets(att, sign="both")
    assert list(both["sign"]) == ["-", "+"]  # ordered by |score|


def test_ism_attribution_uses_reference_importance():
    rng = np.random.default_rng(3)
    seq = "".join(rng.choice(list("ACGT"), 200))
    x = one_hot_encode(seq)
    effects = torch.from_numpy(rng.normal(0, 0.02, (4, 200)).astype(np.float32))
    effects[:, 80:96] -= 1.0  # mutating these reference bases lowers the output
    values = effects * (1 - x)  # ISM: 0 at the reference base
    att = Attribution(values=values, one_hot=x, method="ism", target="test")
    seqlets = call_seqlets(att)
    assert len(seqlets) == 1
    assert 80 - 8 <= seqlets["start"].iat[0] <= 80 and 96 <= seqlets["end"].iat[0] <= 96 + 8


def test_flat_or_all_negative_maps_give_no_seqlets():
    empty = call_seqlets(make_attribution(np.zeros(100)))
    assert len(empty) == 0 and list(empty.columns) == SEQLET_COLUMNS
    assert len(call_seqlets(make_attribution(-np.ones(100)))) == 0


def test_short_window_and_edges():
    x = noisy_map(40)
    x[:8] += 1.0  # a bump at the very start: the flank is clipped to the window
    seqlets = call_seqlets(make_attribution(x))
    assert len(seqlets) == 1 and seqlets["start"].iat[0] == 0 and 8 <= seqlets["end"].iat[0] <= 16
    # a window shorter than min_length gives no seqlets
    assert len(call_seqlets(make_attribution(np.ones(4)), min_length=6)) == 0


@pytest.mark.parametrize("kwargs, message", [
    ({"sign": "up"}, "sign must be"),
    ({"threshold": 0}, "threshold"),
    ({"threshold": 2}, "threshold"),
    ({"min_length": 10, "max_length": 5}, "min_length <= max_length"),
    ({"flank": -1}, "flank"),
])
def test_bad_parameters(kwargs, message):
    with pytest.raises(ValueError, match=message):
        call_seqlets(make_attribution(noisy_map(50)), **kwargs)


@pytest.mark.slow
def test_numpy_caller_matches_tangermeme():
    """Our numpy port calls the same seqlets as tangermeme.seqlet.recursive_seqlets.

    Slow only because tangermeme's numba kernels compile in every process (15-40 s), which is
    why the explorer uses the port.
    """
    from tangermeme.seqlet import recursive_seqlets as tangermeme_seqlets

    rng = np.random.default_rng(0)
    for trial in range(12):
        length = int(rng.integers(50, 1500))
        x = rng.laplace(size=length) * 0.2
        for _ in range(int(rng.integers(0, 5))):
            p = int(rng.integers(0, length - 20))
            x[p:p + int(rng.integers(5, 20))] += rng.random() * 2
        x = x.astype(np.float32)
        for threshold, lo, hi in [(0.01, 4, 25), (0.001, 6, 25), (0.05, 3, 10)]:
            ref = tangermeme_seqlets(x[None], threshold=threshold, min_seqlet_len=lo, max_seqlet_len=hi)
            ours = recursive_seqlets(x, threshold, lo, hi)
            assert sorted((int(s), int(e)) for s, e in ref[["start", "end"]].values) == \
                sorted((s, e) for s, e, _ in ours), (trial, threshold)
            ref_p = {(int(s), int(e)): p for s, e, p in ref[["start", "end", "p-value"]].values}
            for s, e, p in ours:
                assert p == pytest.approx(ref_p[(s, e)], rel=1e-6, abs=1e-300)

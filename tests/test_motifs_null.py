"""The model's own background for seqlets: every site of a short element is called."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import explorer as ex
from explorer.motifs.null import shuffled_null
from explorer.motifs.seqlets import recursive_seqlets

#: CTCF, REST and TP53 (JASPAR 2026 CORE): 53 of 80 bases are inside a site
PLANTED = {"MA0139.2": 2, "MA0138.3": 24, "MA0106.3": 58}


class PWMScanner(nn.Module):
    """Known answer: sum over positions of softplus(PWM log-odds - 60% of its best score), one
    term per motif, plus a weak random convolution so that every base carries some signal (as
    in a trained model)."""

    def __init__(self, pwms: list[torch.Tensor], noise: float = 0.3):
        super().__init__()
        self.convs = nn.ModuleList()
        for pwm in pwms:
            log_odds = torch.log((pwm + 0.01) / (0.25 * 1.04))
            conv = nn.Conv1d(4, 1, pwm.shape[1])
            with torch.no_grad():
                conv.weight.copy_(log_odds[None])
                conv.bias.fill_(-0.6 * float(log_odds.max(0).values.sum()))
            self.convs.append(conv)
        generator = torch.Generator().manual_seed(0)
        self.noise = nn.Conv1d(4, 8, 5, padding=2)
        with torch.no_grad():
            self.noise.weight.copy_(torch.randn(self.noise.weight.shape, generator=generator))
            self.noise.bias.zero_()
        self.scale = noise

    def forward(self, x):
        sites = sum(nn.functional.softplus(conv(x), beta=2).sum(-1) for conv in self.convs)
        return sites + self.scale * torch.tanh(self.noise(x)).sum((1, 2))[:, None]


@pytest.fixture(scope="module")
def database():
    return ex.jaspar()


@pytest.fixture(scope="module")
def element(database):
    """An 80-bp element with the consensus of each planted motif, and the scanner's ISM."""
    pwms = [database[m] for m in PLANTED]
    model = PWMScanner(pwms).eval()
    bases = list(np.random.default_rng(3).choice(list("ACGT"), 80))
    for pwm, at in zip(pwms, PLANTED.values()):
        consensus = "".join("ACGT"[int(k)] for k in pwm.argmax(0))
        bases[at:at + len(consensus)] = consensus
    sequence = "".join(bases)
    return model, sequence, ex.attribute(model, sequence, "ism", cache=False)


def test_background_null_calls_and_matches_all_three_sites(element, database):
    model, _sequence, res = element
    # the map's own null: on this dense element nothing stands out against the rest
    assert len(ex.call_seqlets(res)) < len(PLANTED)
    null = shuffled_null(model, res, n_shuffles=8)
    assert null.shape == (8, 80) and np.isfinite(null).all()
    seqlets = ex.call_seqlets(res, null=null)
    assert len(seqlets) == len(PLANTED)
    matches = ex.match_motifs(res, seqlets, database)
    for matrix_id, at in PLANTED.items():
        width = database[matrix_id].shape[1]
        hit = seqlets[(seqlets["start"] < at + width) & (seqlets["end"] > at)]
        assert len(hit) == 1, (matrix_id, seqlets[["start", "end"]])
        # the seqlet covers most of its site and not much more
        s, e = int(hit["start"].iloc[0]), int(hit["end"].iloc[0])
        assert min(e, at + width) - max(s, at) >= 0.8 * width and e - s <= width + 8
        top = matches[(matches["seqlet"] == hit.index[0]) & (matches["rank"] == 1)].iloc[0]
        assert top["matrix_id"] == matrix_id and top["q_value"] < 0.05, top


def test_null_keeps_flanks_and_checks_the_window(element):
    model, sequence, _res = element
    res = ex.attribute(model, sequence, "ism", start=20, end=50, cache=False)
    null = shuffled_null(model, res, sequence=sequence, n_shuffles=3, random_state=1)
    assert null.shape == (3, 30)
    assert not np.allclose(null, shuffled_null(model, res, sequence=sequence, n_shuffles=3, random_state=2))
    with pytest.raises(ValueError, match=r"does not hold the attribution's window \[20, 50\)"):
        shuffled_null(model, res, sequence=sequence[::-1])
    with pytest.raises(ValueError, match="n_shuffles must be >= 1"):
        shuffled_null(model, res, sequence=sequence, n_shuffles=0)


def test_recursive_seqlets_against_a_background():
    rng = np.random.default_rng(0)
    x = rng.normal(0, 0.05, 60)
    x[10:18] += 1.0
    x[30:38] += 0.8
    x[45:53] += 0.9
    # the map's null sees three bumps as a third of the map; a flat background sees each
    background = rng.normal(0, 0.05, 2000)
    spans = recursive_seqlets(x, 0.01, 6, 25, null=background)
    covered = sorted((s, e) for s, e, _p in spans)
    assert len(covered) == 3
    for (s, e), site in zip(covered, (10, 30, 45)):
        assert s <= site + 1 and e >= site + 7


def test_bad_null_is_named():
    res = ex.Attribution(values=torch.zeros(4, 10), one_hot=ex.one_hot_encode("ACGTACGTAC"),
                         method="saliency", target="t")
    with pytest.raises(ValueError, match="null must be 'map' or an array"):
        ex.call_seqlets(res, null="shuffled")
    with pytest.raises(ValueError, match="finite background"):
        ex.call_seqlets(res, null=np.array([0.0, np.nan]))

"""Masked-LM attribution: ISM = masked log-likelihood ratio, checked against brute force and
against a model whose answer is known in closed form."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import explorer as ex
from explorer.attribution.masked_lm import information_bits, masked_log_probs
from explorer.io.models import build_model
from explorer.nets.conv_lm import ConvMaskedLM


class NeighbourLM(nn.Module):
    """Known answer: logits at i = W_left @ x[i-1] + W_right @ x[i+1] + W_self @ x[i].

    With position i masked, ``log p(. | x\\i) = log_softmax(W_left x[i-1] + W_right x[i+1])``
    (zero columns beyond the ends), computable by hand.
    """

    receptive_field = 3

    def __init__(self, seed: int = 0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.left = nn.Parameter(torch.randn(4, 4, generator=g))
        self.right = nn.Parameter(torch.randn(4, 4, generator=g))
        self.self_ = nn.Parameter(torch.randn(4, 4, generator=g) * 5)

    def forward(self, x):
        pad = nn.functional.pad(x, (1, 1))
        return (torch.einsum("ab,nbl->nal", self.left, pad[:, :, :-2])
                + torch.einsum("ab,nbl->nal", self.right, pad[:, :, 2:])
                + torch.einsum("ab,nbl->nal", self.self_, x))


def _lm(net, **card):
    return build_model(net, {"kind": "masked_lm", **card})


def _random_one_hot(length, seed=0, n_positions=()):
    g = torch.Generator().manual_seed(seed)
    x = nn.functional.one_hot(torch.randint(0, 4, (length,), generator=g), 4).T.float()
    for i in n_positions:
        x[:, i] = 0
    return x


def brute_force_llr(net, x):
    """One full-length masked copy per position, run one at a time: the naive definition."""
    out = torch.zeros(4, x.shape[1], dtype=torch.float64)
    with torch.no_grad():
        for i in range(x.shape[1]):
            m = x.clone()
            m[:, i] = 0
            lp = torch.log_softmax(net(m[None])[0, :, i].double(), 0)
            if x[:, i].sum() == 1:
                out[:, i] = lp - lp[int(x[:, i].argmax())]
    return out


def test_ism_equals_the_closed_form_answer():
    net = NeighbourLM()
    x = _random_one_hot(40, n_positions=(7,))
    res = ex.attribute(_lm(net), x, method="ism", cache=False)
    pad = nn.functional.pad(x, (1, 1)).double()
    logits = net.left.double() @ pad[:, :-2] + net.right.double() @ pad[:, 2:]
    lp = torch.log_softmax(logits, 0)
    ref = x.argmax(0)
    expected = (lp - lp[ref, torch.arange(40)]) * (x.sum(0) == 1)
    torch.testing.assert_close(res.values.double(), expected, atol=1e-5, rtol=0)
    assert res.values.shape == (4, 40)
    assert float(res.values[:, 7].abs().max()) == 0.0  # N: no reference, no map
    assert res.diagnostics["ism_path"] == "local" and res.diagnostics["receptive_field"] == 3
    # the reference base scores 0 everywhere
    assert float(res.values[ref, torch.arange(40)].abs().max()) == 0.0


@pytest.mark.parametrize("fast", ["auto", False])
def test_conv_lm_ism_equals_brute_force(fast):
    torch.manual_seed(0)
    net = ConvMaskedLM(channels=8, dilations=(1, 2)).eval()
    x = _random_one_hot(150, seed=1)
    res = ex.attribute(_lm(net, receptive_field=net.receptive_field), x, method="ism", fast=fast, cache=False,
                       batch_size=17)
    expected = brute_force_llr(net, x)
    scale = float(expected.abs().max())
    torch.testing.assert_close(res.values.double(), expected, atol=1e-5 * max(1.0, scale), rtol=0)
    assert res.diagnostics["ism_path"] == ("local" if fast == "auto" else "full")


def test_window_and_both_strands():
    torch.manual_seed(1)
    net = ConvMaskedLM(channels=8, dilations=(1, 2)).eval()
    x = _random_one_hot(120, seed=2)
    model = _lm(net)
    full = brute_force_llr(net, x)
    part = ex.attribute(model, x, method="ism", start=30, end=70, cache=False)
    torch.testing.assert_close(part.values.double(), full[:, 30:70], atol=1e-4, rtol=0)
    rc = x.flip(0).flip(1)
    rc_map = brute_force_llr(net, rc).flip(0).flip(1)  # back on the forward strand
    both = ex.attribute(model, x, method="ism", both_strands=True, cache=False)
    torch.testing.assert_close(both.values.double(), (full + rc_map) / 2, atol=1e-4, rtol=0)
    assert both.diagnostics["n_mutants"] == 240


def test_a_wrong_receptive_field_is_caught_and_recomputed():
    torch.manual_seed(2)
    net = ConvMaskedLM(channels=8, dilations=(1, 2, 4)).eval()  # sees 33 bp
    x = _random_one_hot(100, seed=3)
    res = ex.attribute(_lm(net, receptive_field=5), x, method="ism", cache=False)
    assert res.diagnostics["ism_path"] == "full"
    assert any("receptive field" in w for w in res.diagnostics["warnings"])
    torch.testing.assert_close(res.values.double(), brute_force_llr(net, x), atol=1e-4, rtol=0)


def test_masked_distribution_logo_and_reference_track():
    net = NeighbourLM(seed=3)
    x = _random_one_hot(30, seed=4)
    model = _lm(net)
    res = ex.attribute(model, x, method="masked_distribution", cache=False)
    lp = masked_log_probs(model, x).log_probs
    p = lp.exp()
    info = 2 + (p * torch.log2(p)).sum(0)
    torch.testing.assert_close(res.values.double(), p * info, atol=1e-5, rtol=0)
    torch.testing.assert_close(res.values.sum(0).double(), info, atol=1e-5, rtol=0)  # column height = bits
    ref_lp = torch.tensor(res.diagnostics["reference_log_prob"], dtype=torch.float64)
    torch.testing.assert_close(ref_lp, lp[x.argmax(0), torch.arange(30)], atol=1e-6, rtol=0)
    # the LLR map and the reference track are two views of the same distribution
    llr = ex.attribute(model, x, method="ism", cache=False).values.double()
    torch.testing.assert_close(llr + ref_lp[None], lp, atol=1e-5, rtol=0)


def test_information_bits_bounds():
    assert float(information_bits(torch.full((4, 1), 0.25))) == pytest.approx(0.0, abs=1e-12)
    assert float(information_bits(torch.tensor([[1.0], [0], [0], [0]]))) == pytest.approx(2.0, abs=1e-9)


def test_methods_follow_the_model_kind():
    lm = _lm(NeighbourLM())
    assert ex.methods_for(lm) == ["ism", "masked_distribution"]
    predictor = ex.load_sample_model(device="cpu")
    assert "ig" in ex.methods_for(predictor) and "masked_distribution" not in ex.methods_for(predictor)
    with pytest.raises(ValueError, match="masked language model"):
        ex.attribute(lm, _random_one_hot(20), method="ig", cache=False)
    with pytest.raises(ValueError, match="unknown option"):
        ex.attribute(lm, _random_one_hot(20), method="ism", ism_centered=True, cache=False)


def test_cache_serves_the_same_map():
    lm = _lm(NeighbourLM())
    x = _random_one_hot(25)
    first = ex.attribute(lm, x, method="ism")
    again = ex.attribute(lm, x, method="ism")
    assert again.diagnostics["cache_hit"] is True
    torch.testing.assert_close(first.values, again.values)


def test_load_model_with_card_kind(tmp_path):
    torch.manual_seed(3)
    net = ConvMaskedLM(channels=8, dilations=(1,))
    path = ex.export_torchscript(net, tmp_path / "lm.pt", card={"tasks": list("ACGT")}, example_length=50)
    model = ex.load_model(path, card={"kind": "masked_lm"}, device="cpu")
    assert model.card["kind"] == "masked_lm" and model.tasks == list("ACGT")
    x = _random_one_hot(60, seed=5)
    res = ex.attribute(model, x, method="ism", cache=False)
    torch.testing.assert_close(res.values.double(), brute_force_llr(net.eval(), x), atol=1e-4, rtol=0)


def test_a_predictor_declared_masked_lm_is_refused_in_words(tmp_path):
    path = ex.SAMPLE_TORCHSCRIPT
    with pytest.raises(ex.ModelLoadError, match=r"must return logits of shape \(N, 4, L\)"):
        ex.load_model(path, card={"kind": "masked_lm"}, device="cpu")


def test_nan_logits_are_refused():
    class Bad(nn.Module):
        def forward(self, x):
            return x * math.nan

    with pytest.raises(ex.ModelLoadError, match="NaN"):
        _lm(Bad())

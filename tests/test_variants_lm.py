"""Masked-LM variant scores: SNVs = the masked ISM map's LLR; indels = whole-locus PLL difference."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import explorer as ex
from explorer.io.models import build_model
from explorer.nets.conv_lm import ConvMaskedLM


@pytest.fixture(scope="module")
def lm_and_locus():
    torch.manual_seed(0)
    net = ConvMaskedLM(channels=8, dilations=(1, 2)).eval()
    model = build_model(net, {"kind": "masked_lm", "receptive_field": net.receptive_field})
    g = np.random.default_rng(0)
    seq = "".join(g.choice(list("ACGT"), 160))
    return net, model, ex.locus_from_sequence(seq, name="toy", start=1000)


def _pll_whole(net, seq: str) -> float:
    """Brute force: every position masked in turn, the whole sequence each time."""
    x = ex.one_hot_encode(seq)
    n = len(seq)
    at = torch.arange(n)
    masked = x.repeat(n, 1, 1)
    masked[at, :, at] = 0  # copy i has position i masked
    with torch.no_grad():
        lp = torch.log_softmax(net(masked)[at, :, at].double(), 1)  # (n, 4)
    return float(lp[at, x.argmax(0)].sum())


def test_snv_scores_are_the_ism_llr(lm_and_locus):
    _net, model, locus = lm_and_locus
    seq = locus.sequence
    alts = {i: next(b for b in "ACGT" if b != seq[i]) for i in (5, 80, 150)}
    variants = [f"toy:{locus.start + i + 1}:{seq[i]}>{a}" for i, a in alts.items()]
    eff = ex.variant_effect(model, locus, variants)
    ism = ex.attribute(model, locus, method="ism", cache=False)
    for (i, a), diff in zip(alts.items(), eff["diff"]):
        assert diff == pytest.approx(float(ism.values["ACGT".index(a), i]), abs=1e-5)
    assert (eff["task"] == "masked LLR").all()
    np.testing.assert_allclose(eff["log_ratio"], eff["diff"] / math.log(2), rtol=1e-12)


def test_indels_score_the_whole_locus_pll_difference(lm_and_locus):
    net, model, locus = lm_and_locus
    seq = locus.sequence
    i = 70
    deletion = f"toy:{locus.start + i + 1}:{seq[i:i + 3]}>{seq[i]}"
    insertion = f"toy:{locus.start + i + 1}:{seq[i]}>{seq[i]}GATTA"
    eff = ex.variant_effect(model, locus, [deletion, insertion])
    ref_pll = _pll_whole(net, seq)
    want_del = _pll_whole(net, seq[:i + 1] + seq[i + 3:]) - ref_pll
    want_ins = _pll_whole(net, seq[:i + 1] + "GATTA" + seq[i + 1:]) - ref_pll
    np.testing.assert_allclose(eff["diff"], [want_del, want_ins], atol=1e-5 * abs(ref_pll))  # float32 sums of ~160 terms
    assert (eff["task"] == "PLL difference").all()

"""The trained sample model on the shipped Kircher et al. 2019 HBB element (skipped without it)."""

from __future__ import annotations

import numpy as np
import pytest

import explorer as ex
from explorer.io.samples import SAMPLE_DATA
from explorer.variants import compare_ism_measured, compare_measured, load_measured_effects, scatter_data

HBB = SAMPLE_DATA / "variants" / "kircher2019_HBB.tsv.gz"
pytestmark = pytest.mark.skipif(not ex.SAMPLE_MODEL.exists(), reason="the sample model is not trained yet")


def test_hbb_ism_vs_measured_on_the_sample_model():
    model = ex.load_model(ex.SAMPLE_MODEL, device="cpu")
    locus = ex.load_locus(ex.SAMPLE_LOCUS, region="HUMHBB:61,001-63,000")  # the HBB promoter bookmark
    measured = load_measured_effects(HBB, locus=locus)
    (rep,) = measured.attrs["placements"]
    start, end = rep.locus_start - 1 - locus.start, rep.locus_end - locus.start
    ism = ex.attribute(model, locus, method="ism", target="CTCF", start=start, end=end, cache=False)
    cmp = compare_ism_measured(ism, measured)
    assert cmp.n == 561  # every measured SNV of the element, paired on the minus strand
    # the same pairs scored by variant_effect (a sample of them): equal to the ISM entries
    some = cmp.pairs.iloc[::20]
    pred = ex.variant_effect(model, locus, some[["chrom", "pos", "ref", "alt"]], target="CTCF")
    np.testing.assert_allclose(pred["diff"].to_numpy(), some["predicted"].to_numpy(), atol=1e-4)
    again = compare_measured(pred, measured, "CTCF")
    np.testing.assert_allclose(again.pairs["measured"].to_numpy(), some["measured"].to_numpy())
    # the caption states the numbers (weak for this CTCF/PU.1 binding model: see the report)
    _, caption = scatter_data(cmp)
    assert f"n = {cmp.n}" in caption and np.isfinite(cmp.spearman)
    assert f"Spearman rho = {cmp.spearman:.2f}" in caption

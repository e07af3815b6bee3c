"""Output bins of binned models: bins <-> input bases, and the central default window."""

import numpy as np
import pytest

from explorer.io.bins import OutputBins, central_bins, output_bins


def test_enformer_bins_map_to_bases():
    bins = OutputBins(size=128, offset=40_960, count=896)
    assert bins.span == (40_960, 40_960 + 896 * 128)
    assert bins.edges()[0].tolist() == [40_960, 41_088] and bins.edges()[-1].tolist() == [155_520, 155_648]
    assert bins.overlapping(40_960, 41_088) == (0, 1)  # exactly the first bin
    assert bins.overlapping(41_087, 41_089) == (0, 2)  # one base on each side of an edge
    assert bins.overlapping(0, 40_961) == (0, 1)  # clipped to the bins
    with pytest.raises(ValueError, match=r"lie outside the model's output bins, which cover \[40,960, 155,648\)"):
        bins.overlapping(0, 40_960)


def test_central_bins_are_centred_and_cover_about_a_kilobase():
    assert central_bins(896, 128) == (444, 452)  # 8 bins of 128 bp
    assert central_bins(6144, 32) == (3056, 3088)  # 32 bins of 32 bp
    assert central_bins(4, 8) == (0, 4)  # fewer bins than a kilobase: all
    start, end = central_bins(7, 100)  # 10 wanted, 7 there
    assert (start, end) == (0, 7)
    start, end = central_bins(9, 512)  # 2 wanted, parity of 9: 3 (or 1)
    assert (end - start) % 2 == 1 and start == 9 - end


def test_card_without_bins_and_bad_bins():
    assert output_bins({}) is None and output_bins(None) is None
    assert output_bins({"output_bins": {"size": 32, "offset": 0, "count": 3}}).edges().shape == (3, 2)
    assert np.array_equal(OutputBins(2, 0, 2).edges(), [[0, 2], [2, 4]])
    with pytest.raises(ValueError, match=r"size >= 1, offset >= 0 and count >= 1; got size=0"):
        OutputBins(0, 0, 1)

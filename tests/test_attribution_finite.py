"""No NaN passes quietly: maps, predictions and inputs are checked at the engine's edge."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import explorer as ex


class NaNWhere(nn.Module):
    """Sum of a conv; NaN whenever position ``at`` holds a G (so some mutants give NaN)."""

    def __init__(self, at=30):
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv1d(4, 1, 5, padding=2)
        self.at = at

    def forward(self, x):
        y = self.conv(x).sum((1, 2))[:, None]
        return torch.where(x[:, 2:3, self.at] > 0.5, torch.full_like(y, float("nan")), y)


SEQ = "ACAT" * 25  # no G: the reference is finite, G substitutions at 30 are not


@pytest.mark.parametrize("method,extra", [("ism", {}), ("ism", {"fast": False})])
def test_a_map_with_nan_is_refused_and_names_the_position(method, extra):
    with pytest.raises(ValueError, match=r"map holds NaN or Inf at 1 of 100 positions \(the first at 0-based "
                                         r"position 30\)"):
        ex.attribute(NaNWhere(30), SEQ, method, cache=False, **extra)


def test_nan_for_the_sequence_itself_is_refused():
    with pytest.raises(ValueError, match="output for this sequence is nan"):
        ex.attribute(NaNWhere(30), "G" * 100, "saliency", cache=False)


def test_predict_names_windows_with_nan():
    seq = SEQ[:30] + "G" + SEQ[31:]  # the window starting at 30 begins with the G
    with pytest.raises(ValueError, match=r"NaN or Inf for 1 of 7 windows \(the first at 0-based 30-70\)"):
        ex.predict(NaNWhere(0), seq, window=40, step=10)


@pytest.mark.parametrize("value", [0.5, 2.0, -1.0])
def test_one_hot_must_be_binary(value):
    x = ex.one_hot_encode("ACGT" * 10)
    x[1, 7] = value
    with pytest.raises(ValueError, match=rf"only 0 and 1; column 7 \(0-based\) holds"):
        ex.attribute(NaNWhere(), x, "saliency", cache=False)


def test_one_hot_with_two_bases_in_a_column():
    x = ex.one_hot_encode("ACGT" * 10)
    x[:, 3] = torch.tensor([1.0, 0, 0, 1])
    with pytest.raises(ValueError, match=r"at most one 1 per column; column 3 \(0-based\) has 2"):
        ex.attribute(NaNWhere(), x, "saliency", cache=False)


def test_n_columns_stay_allowed():
    res = ex.attribute(NaNWhere(0), ex.one_hot_encode("ACNT" * 10), "saliency", cache=False)
    assert np.isfinite(res.per_base).all() and res.per_base[2] == 0


def test_seqlets_refuse_a_map_with_nan():
    x = ex.one_hot_encode("ACGT" * 10)
    values = x * torch.linspace(0, 1, 40)
    values[:, 12] = float("nan")
    res = ex.Attribution(values=values, one_hot=x, method="saliency", target="t")
    with pytest.raises(ValueError, match=r"holds NaN or Inf \(1 positions, the first at 12"):
        ex.call_seqlets(res)

"""Fixed-length models on longer windows: slid across, each base from its most central input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import explorer as ex
from explorer.attribution.tiling import tiles
from explorer.io.models import ExplorerModel


class Exactly(nn.Module):
    """Takes exactly ``w`` bases: valid conv, flatten, linear (one score)."""

    def __init__(self, w=60):
        super().__init__()
        torch.manual_seed(1)
        self.w = w
        self.conv = nn.Conv1d(4, 3, 5)
        self.linear = nn.Linear(3 * (w - 4), 1)

    def forward(self, x):
        return self.linear(torch.flatten(torch.tanh(self.conv(x)), 1))


def test_tiles_cover_the_window_once_each_base_most_central():
    plan = tiles(250, 60, 7, 243)
    covered = [p for t in plan for p in range(t.start, t.end)]
    assert covered == list(range(7, 243))
    offsets = sorted({t.offset for t in plan})
    for t in plan:
        assert 0 <= t.offset and t.offset + 60 <= 250 and t.offset <= t.start < t.end <= t.offset + 60
        for p in range(t.start, t.end):  # no other input has its centre nearer to p
            best = min(abs(p + 0.5 - (o + 30)) for o in offsets)
            assert abs(p + 0.5 - (t.offset + 30)) <= best + 0.5
    assert tiles(60, 60, 0, 60) == [(0, 0, 60)]
    with pytest.raises(ValueError, match="takes exactly 60 bp"):
        tiles(50, 60, 0, 50)


def test_sliding_ism_equals_brute_force_in_each_bases_input():
    model = ExplorerModel(Exactly(60), {"tasks": ["score"], "input_length": 60})
    seq = "".join(np.random.default_rng(0).choice(list("ACGT"), 200))
    x = ex.one_hot_encode(seq)
    res = ex.attribute(model, seq, "ism", "score", 10, 190, cache=False)
    assert res.values.shape == (4, 180) and res.diagnostics.reference_score is None
    assert "slid over the sequence" in res.diagnostics.extra["sliding"]
    plan = tiles(200, 60, 10, 190)
    assert len(res.diagnostics.extra["sliding_inputs"]) == len(plan)
    with torch.no_grad():
        for t in plan:
            for p in (t.start, (t.start + t.end) // 2, t.end - 1):
                window = x[:, t.offset:t.offset + 60]
                ref = float(model(window[None]))
                for b in range(4):
                    mutant = window.clone()
                    mutant[:, p - t.offset] = 0
                    mutant[b, p - t.offset] = 1
                    want = float(model(mutant[None])) - ref
                    assert abs(float(res.values[b, p - 10]) - want) < 1e-5 * max(1.0, abs(ref))
    grad = ex.attribute(model, seq, "saliency", "score", cache=False)
    assert grad.values.shape == (4, 200) and np.isfinite(grad.per_base).all()
    with pytest.raises(ValueError, match="exactly 60 bp; got 40 bp: choose a window of at least 60 bp"):
        ex.attribute(model, seq[:40], "ism", "score", cache=False)

"""Fast (receptive-field-local) ISM equals plain exact ISM; its checks and fallbacks work.

Small seeded models and short sequences: the whole file runs in seconds on 2 cores.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from explorer.attribution.fast_ism import (
    Cancelled,
    FastISM,
    _chunks_outward,
    fast_ism,
    plain_ism_positions,
    progressive_ism,
)
from explorer.attribution.ism import ism
from explorer.attribution.structure import resolve_structure
from explorer.attribution.targets import resolve_target
from explorer.io.models import ExplorerModel, export_torchscript, load_model
from explorer.nets import BPNet, SampleCNN
from explorer.nets.random_weights import random_bpnet

TOL = 1e-5


def seeded(cls, seed=0, **kwargs):
    torch.manual_seed(seed)
    net = cls(**kwargs).eval()
    # larger random weights than the default init, so effects are far from zero
    with torch.no_grad():
        for p in net.parameters():
            p.mul_(2.0)
    return net


def one_hot(length, seed=0, n_at=()):
    gen = torch.Generator().manual_seed(seed)
    x = nn.functional.one_hot(torch.randint(0, 4, (length,), generator=gen), 4).T.float()
    for p in n_at:
        x[:, p] = 0.0
    return x


def plain(model, x, target, start=0, end=None):
    return ism(model, x, target, start, end).values


class ScaleBy(nn.Module):
    def __init__(self, factor):
        super().__init__()
        self.factor = factor

    def forward(self, x):
        return x * self.factor


class SumPoolCNN(nn.Module):
    """Trunk of 'same' convs; head: sum (or mean) over [trim, L - trim), scale, linear."""

    def __init__(self, pool="sum", trim=0):
        super().__init__()
        self.trunk = nn.Sequential(nn.Conv1d(4, 6, 5, padding=2), nn.GELU(),
                                   nn.Conv1d(6, 6, 3, padding=3, dilation=3), nn.ReLU())
        self.scale = ScaleBy(0.1 if pool == "sum" else 1.0)
        self.linear = nn.Linear(6, 2)
        self.pool, self.trim = pool, trim

    def forward(self, x):
        h = self.trunk(x)[:, :, self.trim:x.shape[-1] - self.trim]
        return self.linear(self.scale(h.sum(-1) if self.pool == "sum" else h.mean(-1)))


class CropProfile(nn.Module):
    """Trunk + profile conv, centre-cropped: (N, T, L - 2 trim)."""

    def __init__(self, trim=12):
        super().__init__()
        self.trunk = nn.Sequential(nn.Conv1d(4, 5, 7, padding=3), nn.ReLU(),
                                   nn.Conv1d(5, 5, 3, padding=2, dilation=2), nn.ReLU())
        self.head = nn.Conv1d(5, 3, 5, padding=2)
        self.trim = trim

    def forward(self, x):
        return self.head(self.trunk(x))[:, :, self.trim:x.shape[-1] - self.trim]


class OpaqueTrunk(nn.Module):
    """A trunk the stage splitter does not know (a black box): two convs in a custom class."""

    def __init__(self):
        super().__init__()
        self.a = nn.Conv1d(4, 6, 9, padding=4)
        self.b = nn.Conv1d(6, 6, 5, padding=4, dilation=2)

    def forward(self, x):
        return torch.tanh(self.b(torch.relu(self.a(x))))


class OpaqueModel(nn.Module):
    def __init__(self, pool="sum"):
        super().__init__()
        self.trunk = OpaqueTrunk()  # radius 4 + 4 = 8: receptive field 17
        self.linear = nn.Linear(6, 1)
        self.pool = pool

    def forward(self, x):
        h = self.trunk(x)
        return self.linear(h.amax(-1) if self.pool == "max" else h.sum(-1))


def wrap(net, structure, tasks=None):
    out = net(torch.zeros(1, 4, 64))
    first = out[0] if isinstance(out, tuple) else out
    tasks = tasks or [f"t{i}" for i in range(first.shape[1])]
    return ExplorerModel(net, {"tasks": tasks, "structure": structure})


@pytest.fixture(scope="module")
def sample():
    net = seeded(SampleCNN, n_tasks=2, channels=8, kernel_sizes=(5, 3, 3), dilations=(1, 2, 4))
    return wrap(net, {"trunk": "trunk", "pool": "max", "final": "linear", "receptive_field": 17})


def check_equal(model, x, target, start=0, end=None, nontrivial=True, **kw):
    fast, ref, diag = fast_ism(model, x, target, start, end, **kw)
    exact = plain(model, x, target, start, end)
    assert fast.shape == exact.shape and fast.dtype == torch.float32
    assert (fast - exact).abs().max() <= TOL, (fast - exact).abs().max()
    if nontrivial:  # the comparison is not trivially 0 == 0
        assert exact.abs().max() > 1e-3
    assert diag["fast_ism"] and not diag["fast_ism_fallback"], diag
    return fast, ref, diag


# -- exactness on several architectures ------------------------------------------------
def test_max_pooled_sample_cnn_with_n_bases_and_edges(sample):
    x = one_hot(150, n_at=(0, 1, 75, 149))
    target = resolve_target(sample, 1, length=150)
    fast, ref, diag = check_equal(sample, x, target)
    assert diag["fast_ism_path"] == "stages" and diag["receptive_field"] == 17
    # clean columns: 0 at the reference base (N columns: all four bases are substitutions);
    # exact, since the identity edit is never computed, only left at its initial 0
    known = x.sum(0) > 0
    assert (fast * x)[:, known].abs().max() == 0
    with torch.no_grad():
        assert ref == pytest.approx(float(target(sample(x[None]))[0]), abs=1e-6)


@pytest.mark.parametrize("start,end", [(0, 9), (141, 150), (60, 61)])
def test_windows_at_the_sequence_edges(sample, start, end):
    x = one_hot(150, seed=3, n_at=(2, 147))
    check_equal(sample, x, resolve_target(sample, 0, length=150), start, end, nontrivial=end - start > 1)


def test_short_sequence_shorter_than_the_receptive_field_window(sample):
    x = one_hot(12, seed=4, n_at=(5,))
    check_equal(sample, x, lambda y: y[:, 0] - y[:, 1])


@pytest.mark.parametrize("pool,trim", [("sum", 0), ("mean", 0), ("mean", 7), ("sum", 3)])
def test_sum_and_mean_pooled(pool, trim):
    model = wrap(seeded(SumPoolCNN, pool=pool, trim=trim),
                 {"trunk": "trunk", "pool": pool, "trim": trim, "final": ["scale", "linear"]})
    x = one_hot(90, seed=5, n_at=(0, 44, 89))
    check_equal(model, x, lambda y: y[:, 1])


def test_centre_cropped_profile_head():
    net = seeded(CropProfile, trim=12)
    model = wrap(net, {"trunk": "trunk", "pool": "crop", "conv": "head", "trim": 12})
    x = one_hot(80, seed=6, n_at=(0, 40, 79))
    check_equal(model, x, lambda y: y[:, 2, 10:30].sum(-1))
    check_equal(model, x, lambda y: torch.logsumexp(y[:, 0], -1), 0, 20)


@pytest.mark.parametrize("output", [0, 1])
def test_dilated_residual_bpnet_both_heads(output):
    bp = random_bpnet(seed=2, n_filters=8, n_layers=4, first_kernel=5, profile_kernel=7)
    L = 120
    x = one_hot(L, seed=7, n_at=(0, 60, L - 1))
    # the engine's Target (fast ISM rebuilds only the head it reads) and a plain lambda
    target = resolve_target(bp, 1, output=output, length=L)
    check_equal(bp, x, target)
    lam = (lambda y: y[0][:, 1, 5:40].sum(-1)) if output == 0 else (lambda y: y[1][:, 0] + y[0][:, 1, 3])
    check_equal(bp, x, lam, 0, 30)


def test_bpnet_structure_matches_its_layers():
    bp = random_bpnet(seed=0)  # full size: 64 filters, 8 layers
    s = resolve_structure(bp)
    assert s.receptive_field == 531 == bp.card["receptive_field"]
    assert len(s.stages) == 9 and sum(st.residual for st in s.stages) == 8
    profile, counts = bp(torch.zeros(1, 4, bp.min_length))
    assert profile.shape == (1, 2, 1) and counts.shape == (1, 2)


def test_adapter_for_a_plain_module_and_torchscript(sample, tmp_path):
    # a plain module with no card: the class adapter declares the structure
    check_equal(sample.net, one_hot(60, seed=8), lambda y: y[:, 0])
    path = export_torchscript(sample.net, tmp_path / "m.pt", dict(sample.card), example_length=60)
    scripted = load_model(path, device="cpu")
    assert scripted.kind == "torchscript"
    fast, _, diag = check_equal(scripted, one_hot(60, seed=8), lambda y: y[:, 0])
    assert diag["fast_ism_path"] == "stages"


# -- black-box trunk, verification and fallbacks ---------------------------------------
def test_black_box_trunk_with_true_receptive_field_is_exact():
    model = wrap(seeded(OpaqueModel), {"trunk": "trunk", "pool": "sum", "final": "linear", "receptive_field": 17})
    x = one_hot(70, seed=9, n_at=(0, 69, 30))
    fast, _, diag = check_equal(model, x, lambda y: y[:, 0])
    assert diag["fast_ism_path"] == "window"


def test_fallback_when_the_card_lies_about_the_receptive_field():
    model = wrap(seeded(OpaqueModel), {"trunk": "trunk", "pool": "sum", "final": "linear", "receptive_field": 5})
    x = one_hot(70, seed=10)
    # the fast path alone is wrong ...
    engine = FastISM(model, x, lambda y: y[:, 0])
    wrong = engine.values(0, 70)
    exact = plain(model, x, lambda y: y[:, 0])
    assert (wrong - exact).abs().max() > 1e-3
    # ... so the verified call notices, falls back and says so
    values, _, diag = fast_ism(model, x, lambda y: y[:, 0])
    assert diag["fast_ism_fallback"] is True and diag["fast_ism"] is False
    assert diag["fast_ism_max_abs_diff"] > 1e-4
    assert any("plain ISM" in w for w in diag["warnings"])
    assert (values - exact).abs().max() <= TOL


def test_card_smaller_than_the_layers_warns_and_uses_the_layers(sample):
    model = ExplorerModel(sample.net, {"tasks": sample.tasks, "structure": {
        "trunk": "trunk", "pool": "max", "final": "linear", "receptive_field": 5}})
    _, _, diag = check_equal(model, one_hot(50, seed=11), lambda y: y[:, 0])
    assert any("smaller than its layers" in w for w in diag["warnings"])


def test_wrong_pool_kind_is_caught_before_any_mutant(sample):
    model = ExplorerModel(sample.net, {"tasks": sample.tasks, "structure": {
        "trunk": "trunk", "pool": "mean", "final": "linear"}})
    x = one_hot(50, seed=12)
    values, _, diag = fast_ism(model, x, lambda y: y[:, 0])
    assert diag["fast_ism_fallback"] and "does not describe the model" in diag["warnings"][0]
    assert (values - plain(model, x, lambda y: y[:, 0])).abs().max() <= TOL


class Gated(nn.Module):
    """Not local: every position is scaled by the mean over the whole sequence."""

    def __init__(self, outputs=1):
        super().__init__()
        torch.manual_seed(0)
        self.c = nn.Conv1d(4, outputs, 3, padding=1)

    def forward(self, x):
        h = self.c(x)
        return (h * h.mean(-1, keepdim=True)).mean(-1)


def test_no_structure_raises_not_implemented():
    """Nothing declared and a graph that is not local: fast ISM says why (callers use plain ISM)."""
    with pytest.raises(NotImplementedError, match="cannot read this model's structure from its graph"):
        fast_ism(ExplorerModel(Gated(2), {"tasks": ["a", "b"]}), one_hot(20), lambda y: y[:, 0])


def test_declared_only_refuses_a_model_without_a_declaration():
    with pytest.raises(NotImplementedError, match="declares no structure"):
        fast_ism(ExplorerModel(Gated(2), {"tasks": ["a", "b"]}), one_hot(20), lambda y: y[:, 0],
                 structure="declared")


def test_verification_positions_are_seeded_and_include_the_ends(sample):
    x = one_hot(100, seed=13)
    _, _, d1 = fast_ism(sample, x, lambda y: y[:, 0], 10, 90, verify=5, seed=1)
    _, _, d2 = fast_ism(sample, x, lambda y: y[:, 0], 10, 90, verify=5, seed=1)
    assert d1["fast_ism_verified_positions"] == d2["fast_ism_verified_positions"]
    assert {10, 89} <= set(d1["fast_ism_verified_positions"]) and len(d1["fast_ism_verified_positions"]) == 5
    assert d1["fast_ism_max_abs_diff"] <= TOL


def test_plain_positions_helper_matches_the_engine(sample):
    x = one_hot(40, seed=14, n_at=(3,))
    v, ref = plain_ism_positions(sample, x, lambda y: y[:, 1], [0, 3, 39])
    full = plain(sample, x, lambda y: y[:, 1])
    assert torch.allclose(v, full[:, [0, 3, 39]], atol=1e-6)


# -- caller's model, cancel, bad input --------------------------------------------------
def test_model_mode_is_restored(sample):
    sample.train()
    try:
        fast_ism(sample, one_hot(40), lambda y: y[:, 0])
        assert sample.training and sample.net.dropout.training
    finally:
        sample.eval()


def test_cancel_from_progress(sample):
    seen = []

    def progress(f):
        seen.append(f)
        return False if f > 0 else None

    with pytest.raises(Cancelled):
        fast_ism(sample, one_hot(200), lambda y: y[:, 0], progress=progress, batch_size=30)
    assert seen and seen[0] == 0.0


def test_bad_window_names_the_rule(sample):
    with pytest.raises(ValueError, match="0 <= start < end <= length"):
        fast_ism(sample, one_hot(40), lambda y: y[:, 0], 30, 50)


# -- progressive ISM ------------------------------------------------------------------
def test_chunks_cover_the_window_once_view_first():
    chunks = list(_chunks_outward(40, 60, 0, 100, 15))
    assert chunks[0] == (40, 60)
    covered = sorted(p for a, b in chunks for p in range(a, b))
    assert covered == list(range(100))


def test_progressive_equals_fast_and_is_cancellable(sample):
    x = one_hot(160, seed=15, n_at=(0, 100))
    target = lambda y: y[:, 0]  # noqa: E731
    full, _, _ = fast_ism(sample, x, target)
    diag: dict = {}
    got = torch.full((4, 160), float("nan"))
    order = []
    for a, b, v in progressive_ism(sample, x, target, 70, 90, chunk=25, diagnostics=diag):
        order.append((a, b))
        got[:, a:b] = v
    assert order[0] == (70, 90) and not torch.isnan(got).any()
    assert (got - full).abs().max() <= TOL
    assert diag["fast_ism"] and diag["fast_ism_max_abs_diff"] <= TOL

    gen = progressive_ism(sample, x, target, 70, 90, chunk=25, progress=lambda f: f < 0.3)
    with pytest.raises(Cancelled):
        for _ in gen:
            pass


def test_progressive_without_structure_uses_plain_ism():
    model = ExplorerModel(Gated(1), {"tasks": ["a"]})
    x = one_hot(30, seed=16)
    diag: dict = {}
    parts = {(a, b): v for a, b, v in progressive_ism(model, x, lambda y: y[:, 0], 0, 10, chunk=10,
                                                      diagnostics=diag)}
    assert diag["fast_ism_path"] == "plain"
    exact = plain(model, x, lambda y: y[:, 0])
    for (a, b), v in parts.items():
        assert (v - exact[:, a:b]).abs().max() <= TOL

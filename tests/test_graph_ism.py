"""Fast ISM from the captured graph (explorer.attribution.graph_ism): models with no card.

Every model here is built in the test, declares nothing, and is compared with brute-force
ISM (one mutant at a time, tests/brute_force.py) over the whole sequence, edges included.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from brute_force import brute_force_ism
from explorer.attribution.fast_ism import fast_engine, fast_ism, progressive_ism
from explorer.attribution.graph import capture
from explorer.attribution.graph_ism import GraphISM
from explorer.attribution.targets import resolve_target
from explorer.io.models import ExplorerModel
from explorer.io.torchutil import ChannelsLast


def one_hot(length, seed=0, n_at=()):
    gen = torch.Generator().manual_seed(seed)
    x = F.one_hot(torch.randint(0, 4, (length,), generator=gen), 4).T.float()
    for p in n_at:
        x[:, p] = 0.0
    return x


def seeded(net, seed=0):
    """Random weights, larger than the default init, and random batch-norm statistics."""
    torch.manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn_like(p) * (0.4 if p.dim() > 1 else 0.2))
        for m in net.modules():
            if isinstance(m, nn.BatchNorm1d):
                m.running_mean.normal_()
                m.running_var.uniform_(0.5, 2.0)
    return net.eval()


class ResidualDilated(nn.Module):
    """Dilated residual trunk with batch norm; a mean + max head (the issue's user model)."""

    def __init__(self, channels=16, dilations=(1, 2, 4, 8)):
        super().__init__()
        self.stem = nn.Conv1d(4, channels, 9, padding=4)
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.Conv1d(channels, channels, 3, dilation=d, padding=d), nn.BatchNorm1d(channels),
                          nn.GELU()) for d in dilations)
        self.head = nn.Linear(2 * channels, 3)

    def forward(self, x):
        h = torch.relu(self.stem(x))
        for block in self.blocks:
            h = h + block(h)
        return self.head(torch.cat([h.mean(-1), h.amax(-1)], dim=1))


class MaxPooledTrunk(nn.Module):
    """Convolutions with max pooling between them (the length halves twice); a global max."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv1d(4, 12, 7, padding=3)
        self.c2 = nn.Conv1d(12, 12, 5, padding=2)
        self.c3 = nn.Conv1d(12, 12, 3, padding=1)
        self.pool = nn.MaxPool1d(2)
        self.out = nn.Linear(12, 2)

    def forward(self, x):
        h = self.pool(F.relu(self.c1(x)))
        h = self.pool(F.relu(self.c2(h)))
        h = F.relu(self.c3(h))
        return self.out(h.amax(-1))


class CroppedProfile(nn.Module):
    """BPNet-like: a residual trunk, a cropped profile head and a counts head (a tuple)."""

    def __init__(self, trim=10):
        super().__init__()
        self.trim = trim
        self.iconv = nn.Conv1d(4, 16, 11, padding=5)
        self.rconvs = nn.ModuleList(nn.Conv1d(16, 16, 3, dilation=d, padding=d) for d in (2, 4))
        self.fconv = nn.Conv1d(16, 2, 9, padding=4)
        self.linear = nn.Linear(16, 1)

    def forward(self, x):
        h = F.relu(self.iconv(x))
        for conv in self.rconvs:
            h = h + F.relu(conv(h))
        t = self.trim
        profile = self.fconv(h)[:, :, t:-t]
        counts = self.linear(h[:, :, t - 2:h.shape[-1] - t + 2].mean(dim=2))
        return profile, counts


class OddLayers(nn.Module):
    """Strided and 'valid' convolutions, average pooling, a constant pad, a channel softmax."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv1d(4, 8, 6, stride=2)            # even kernel, stride 2, no padding
        self.c2 = nn.Conv1d(8, 8, 3, padding="same", dilation=2)
        self.avg = nn.AvgPool1d(3, stride=1, padding=1)
        self.c3 = nn.Conv1d(8, 6, 5, padding="valid")
        self.out = nn.Linear(6, 2)

    def forward(self, x):
        h = torch.sigmoid(self.c1(x)) * 2.0 - 0.5
        h = self.avg(F.relu(self.c2(h)))
        h = F.pad(h, (3, 1))
        h = torch.softmax(self.c3(h), dim=1)
        return self.out(h.sum(-1))


class ChannelsLastNet(nn.Module):
    """Takes ``(N, L, 4)`` (a Keras port): transposes, convolves, then a per-position dense layer."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(4, 8, 5, padding=2)
        self.norm = nn.LayerNorm(8)
        self.dense = nn.Linear(8, 3)

    def forward(self, x):
        h = F.relu(self.conv(x.transpose(1, 2))).transpose(1, 2)  # (N, L, 8)
        return self.dense(self.norm(h)).max(dim=1).values          # (N, 3)


def check(model, x, target, *, nontrivial=True, structure="auto"):
    """fast_ism on the graph path equals brute force (both ends whole, every 5th base between)."""
    res = fast_ism(model, x, target, structure=structure)
    d = res.diagnostics
    assert d.fast_ism and d.fast_ism_path == "graph" and not d.fast_ism_fallback, (d.warnings, d.fast_ism_reason)

    def score(seq):
        return float(target(model(seq[None])).reshape(-1)[0])

    L = x.shape[1]
    positions = sorted(set(range(12)) | set(range(L - 12, L)) | set(range(12, L - 12, 5)))
    want, ref = brute_force_ism(score, x, positions)
    scale = max(1.0, abs(ref), float((want + ref).abs().max()))  # float32 rounding follows the outputs
    assert abs(res.reference_score - ref) <= 1e-5 * scale
    assert float((res.values[:, positions].double() - want).abs().max()) <= 1e-5 * scale
    if nontrivial:
        assert float(want.abs().max()) > 1e-3 * scale  # the map is not all zeros
    return res


@pytest.mark.parametrize("form", ["module", "traced", "scripted"])
def test_residual_dilated_mean_max_head(form):
    net = seeded(ResidualDilated())
    x = one_hot(80, seed=1, n_at=(0, 40))
    if form != "module":
        net = torch.jit.trace(net, x[None]) if form == "traced" else torch.jit.script(net)
    res = check(ExplorerModel(net, {"tasks": ["a", "b", "c"]}), x, lambda y: y[:, 1])
    assert res.diagnostics.receptive_field == 9 + 2 * (1 + 2 + 4 + 8)


def test_max_pooled_trunk():
    check(seeded(MaxPooledTrunk(), seed=2), one_hot(101, seed=2), lambda y: y[:, 0])


@pytest.mark.parametrize("output", [0, 1])
def test_cropped_profile_and_counts_heads(output):
    model = ExplorerModel(seeded(CroppedProfile(), seed=3), {"heads": ["profile", "counts"], "tasks": ["plus", "minus"]})
    x = one_hot(90, seed=3)
    target = resolve_target(model, "profile:plus" if output == 0 else "counts", length=90)
    check(model, x, target)


def test_strided_valid_padded_and_average_pooled_layers():
    check(seeded(OddLayers(), seed=4), one_hot(77, seed=4), lambda y: y[:, 1])


def test_channels_last_model_with_layer_norm():
    model = ChannelsLast(seeded(ChannelsLastNet(), seed=5))
    check(model, one_hot(64, seed=5), lambda y: y[:, 2])


def test_shipped_bpnet_through_its_graph():
    from explorer.nets.random_weights import random_bpnet

    model = random_bpnet(seed=6, n_layers=3, n_filters=8, first_kernel=5, profile_kernel=7)
    x = one_hot(model.min_length + 40, seed=6)
    engine = fast_engine(model, x, lambda y: y[1][:, 0], structure="graph")
    assert isinstance(engine, GraphISM)
    res = fast_ism(model, x, lambda y: y[1][:, 0], structure="graph")
    assert res.diagnostics.fast_ism_path == "graph" and not res.diagnostics.fast_ism_fallback
    declared = fast_ism(model, x, lambda y: y[1][:, 0], structure="declared")
    assert float((res.values - declared.values).abs().max()) <= 1e-5 * max(1.0, abs(res.reference_score))


def test_capture_is_kept_per_length():
    net = seeded(MaxPooledTrunk())
    a = capture(net, 50, torch.device("cpu"))
    assert capture(net, 50, torch.device("cpu")) is a
    assert capture(net, 60, torch.device("cpu")) is not a


def test_weights_are_read_at_each_use_not_from_the_capture():
    net = seeded(MaxPooledTrunk(), seed=7)
    x = one_hot(60, seed=7)
    check(net, x, lambda y: y[:, 0])
    with torch.no_grad():
        net.c2.weight.mul_(-1.5)  # the user fine-tunes in place: same object, new weights
    check(net, x, lambda y: y[:, 0])


class Attention(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv1d(4, 16, 5, padding=2)
        self.attn = nn.MultiheadAttention(16, 2, batch_first=True)
        self.out = nn.Linear(16, 1)

    def forward(self, x):
        h = self.stem(x).transpose(1, 2)
        h, _ = self.attn(h, h, h)
        return self.out(h.mean(1))


class Gated(nn.Module):
    """Squeeze-and-excitation: every position is scaled by a summary of the whole sequence."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(4, 8, 5, padding=2)
        self.out = nn.Linear(8, 1)

    def forward(self, x):
        h = F.relu(self.conv(x))
        h = h * torch.sigmoid(h.mean(-1, keepdim=True))
        return self.out(h.amax(-1))


class Positional(nn.Module):
    def __init__(self, length=40):
        super().__init__()
        self.conv = nn.Conv1d(4, 8, 3, padding=1)
        self.position = nn.Parameter(torch.randn(1, 8, length))
        self.out = nn.Linear(8, 1)

    def forward(self, x):
        return self.out(F.relu(self.conv(x) + self.position).amax(-1))


class Flattened(nn.Module):
    def __init__(self, length=40):
        super().__init__()
        self.conv = nn.Conv1d(4, 4, 3, padding=1)
        self.out = nn.Linear(4 * length, 1)

    def forward(self, x):
        return self.out(F.relu(self.conv(x)).flatten(1))


class FlattenedThenPooled(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(4, 4, 3, padding=1)

    def forward(self, x):
        return F.relu(self.conv(x)).flatten(1).amax(1, keepdim=True)


def test_flatten_then_dense_head():
    """A Basset-style head: the whole (C, L) map flattened into a dense layer (linear in it)."""
    check(seeded(Flattened(), seed=11), one_hot(40, seed=11), lambda y: y[:, 0])


def test_channels_last_flatten_then_dense_head():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv1d(4, 3, 5, padding=2)
            self.out = nn.Linear(3 * 30, 2)

        def forward(self, x):  # (N, L, 4)
            h = torch.tanh(self.conv(x.transpose(1, 2))).transpose(1, 2)  # (N, L, 3)
            return torch.sigmoid(self.out(h.reshape(h.shape[0], -1)))

    check(ChannelsLast(seeded(Net(), seed=12)), one_hot(30, seed=12), lambda y: y[:, 1])


class Recurrent(nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(4, 8, batch_first=True)
        self.out = nn.Linear(8, 1)

    def forward(self, x):
        h, _ = self.gru(x.transpose(1, 2))
        return self.out(h[:, -1])


@pytest.mark.parametrize("net, words", [
    (Attention(), "fast ISM cannot read this model's structure"),
    (Gated(), "summary of the whole sequence"),
    (Positional(), "positional encoding"),
    (FlattenedThenPooled(), "flattened over the whole length"),
    (Recurrent(), "fast ISM cannot read this model's structure"),
])
def test_non_local_models_fall_back_to_plain_ism_with_the_reason(net, words):
    import explorer

    model = ExplorerModel(seeded(net, seed=8), {"tasks": ["y"]})
    x = one_hot(40, seed=8)
    with pytest.raises(NotImplementedError, match=words):
        fast_ism(model, x, lambda y: y[:, 0])
    res = explorer.attribute(model, x, "ism", target="y", cache=False)
    d = res.diagnostics
    assert d.ism_path == "plain" and words in d.fast_ism_reason and d.warnings == []

    def score(seq):
        return float(model(seq[None])[0, 0])

    want, ref = brute_force_ism(score, x, range(40))
    assert float((res.values.double() - want).abs().max()) <= 1e-5 * max(1.0, abs(ref))


def test_a_graph_read_wrongly_is_caught_by_the_self_check(monkeypatch):
    """Break the engine's arithmetic on purpose: the self-check must replace the map."""
    from explorer.attribution import graph_ism

    net = seeded(MaxPooledTrunk(), seed=9)
    x = one_hot(80, seed=9)
    real = graph_ism.Batch._pooled

    def off_by_a_bit(self, node):
        return real(self, node) + 0.5

    monkeypatch.setattr(graph_ism.Batch, "_pooled", off_by_a_bit)
    res = fast_ism(net, x, lambda y: y[:, 0])
    assert res.diagnostics.fast_ism_fallback and "differed from plain ISM" in res.diagnostics.warnings[0]

    def score(seq):
        return float(net(seq[None])[0, 0])

    want, ref = brute_force_ism(score, x, range(80))
    assert float((res.values.double() - want).abs().max()) <= 1e-5 * max(1.0, abs(ref))


def test_progressive_ism_takes_the_graph_path():
    net = seeded(ResidualDilated(), seed=10)
    x = one_hot(150, seed=10)
    diag: dict = {}
    target = lambda y: y[:, 0]  # noqa: E731
    parts = dict(((a, b), v) for a, b, v in progressive_ism(net, x, target, 50, 90, chunk=30, diagnostics=diag))
    assert diag["fast_ism_path"] == "graph" and not diag["fast_ism_fallback"]
    whole = fast_ism(net, x, target).values
    for (a, b), v in parts.items():
        assert float((v - whole[:, a:b]).abs().max()) <= 1e-5


# -- bpnet-lite's BPNet: the demand pass, windows per batch, few-output convolutions, probed targets --

def bpnetlite_bpnet(seed=0, n_layers=4, n_outputs=2, trimming=30, n_filters=8):
    bpnetlite = pytest.importorskip("bpnetlite", reason="bpnet-lite is not installed (optional extra 'bpnet')")
    torch.manual_seed(seed)
    net = bpnetlite.BPNet(n_filters=n_filters, n_layers=n_layers, n_outputs=n_outputs, n_control_tracks=0,
                          trimming=trimming, verbose=False)
    return seeded(net, seed)


@pytest.mark.parametrize("head", ["counts", "profile"])
def test_bpnetlite_bpnet_through_its_graph_equals_brute_force(head):
    """A plain-function target of a tuple output: only the head it reads is rebuilt, and the
    trunk is recomputed only where the read head can see it (the counts pool the crop)."""
    net = bpnetlite_bpnet(seed=7, trimming=45)
    x = one_hot(160, seed=7)
    target = (lambda y: y[1][:, 0]) if head == "counts" else (lambda y: y[0][:, 1, 40:60].sum(-1))
    res = check(net, x, target, structure="graph")
    assert res.diagnostics.fast_ism_path == "graph"
    engine = fast_engine(net, x, target, structure="graph")
    assert engine.read == ([1] if head == "counts" else [0])
    last = [n for n in engine.graph.order if n.kind == "local" and n.name in engine.needed][-1]
    if head == "counts":  # the crop [t - 37, L - t + 37) of the trunk: nothing outside it is needed
        assert last.rule == "slice" and engine.graph.demand[last.name] == (0, last.n - 1)
        trunk_out = last.inputs[0]
        assert engine.graph.demand[trunk_out.name] == (45 - 37, 160 - 45 + 37 - 1)
        changed = trunk_out.lo <= trunk_out.hi
        assert int(trunk_out.lo[changed].min()) == 8 and int(trunk_out.hi[changed].max()) == 151  # clipped
        assert int(trunk_out.lo[0]) == 8 and int(trunk_out.hi[0]) == 40  # a mutation at 0 changes [0, 40]


def test_bpnetlite_demand_and_batch_windows_change_nothing(monkeypatch):
    """The same map with the demand pass, per-batch windows and few-output convolutions turned off."""
    from explorer.attribution import graph_ism

    net = bpnetlite_bpnet(seed=8, n_layers=3, trimming=45)
    x = one_hot(150, seed=8)
    target = lambda y: y[1][:, 0] + y[0][:, 0, 10:20].sum(-1)  # noqa: E731 - reads both heads
    fast = GraphISM(net, x, target)
    assert fast.read == [0, 1]
    widths = {n.name: n.width for n in fast.graph.order if n.kind == "local"}
    fast_map = fast.values(0, 150, batch_size=9)
    monkeypatch.setattr(graph_ism.LocalGraph, "restrict", lambda self, outputs, needed: None)
    monkeypatch.setattr(graph_ism, "_FEW_OUTPUTS", 0)
    real = graph_ism.Batch._size

    def whole_run(self, node):  # the window of the whole run, as before
        real(self, node)
        if node.rule != "input":
            self.width[node.name] = node.width
            self.start[node.name] = node.start[self.uniq]

    monkeypatch.setattr(graph_ism.Batch, "_size", whole_run)
    slow = GraphISM(net, x, target)
    assert any(slow_n.width > widths[slow_n.name] for slow_n in slow.graph.order if slow_n.kind == "local")
    slow_map = slow.values(0, 150, batch_size=9)
    scale = max(1.0, float(slow_map.abs().max()))
    assert float((fast_map - slow_map).abs().max()) <= 1e-5 * scale


@pytest.mark.parametrize("outputs,dilation", [(1, 1), (2, 3), (4, 1)])
def test_few_output_convolution_equals_conv1d(outputs, dilation):
    from explorer.attribution.graph_ism import _few_output_conv

    gen = torch.Generator().manual_seed(outputs)
    x = torch.randn(5, 6, 90, generator=gen)
    w = torch.randn(outputs, 6, 11, generator=gen)
    b = torch.randn(outputs, generator=gen)
    want = F.conv1d(x, w, b, dilation=dilation)
    got = _few_output_conv(x, w, b, dilation)
    assert got.shape == want.shape
    assert float((got - want).abs().max()) <= 1e-5 * float(want.abs().max())
    assert float((_few_output_conv(x, w, None, dilation) - F.conv1d(x, w, None, dilation=dilation)).abs().max()) \
        <= 1e-5 * float(want.abs().max())


class WideProfileHead(nn.Module):
    """A trunk, a 1-output profile conv with a wide dilated kernel and a 1x1 conv head (a tuple)."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv1d(4, 8, 5, padding=2)
        self.c2 = nn.Conv1d(8, 8, 3, padding=2, dilation=2)
        self.profile = nn.Conv1d(8, 1, 15, padding=14, dilation=2)
        self.point = nn.Conv1d(8, 2, 1)

    def forward(self, x):
        h = F.relu(self.c1(x))
        h = h + F.relu(self.c2(h))
        return self.profile(h)[:, :, 5:-5], self.point(h).mean(-1)


@pytest.mark.parametrize("which", ["profile", "pooled", "both"])
def test_few_output_convolutions_and_tuple_targets(which):
    net = seeded(WideProfileHead(), seed=9)
    x = one_hot(70, seed=9)
    target = {"profile": lambda y: y[0][:, 0, 3:9].sum(-1), "pooled": lambda y: y[1][:, 1],
              "both": lambda y: y[0][:, 0].amax(-1) - y[1][:, 0]}[which]
    check(net, x, target)
    engine = fast_engine(net, x, target)
    assert engine.read == {"profile": [0], "pooled": [1], "both": [0, 1]}[which]

"""A biologist's own models, saved with no card, load with ``load_model(path)`` alone.

Each model is built and saved in the test; the loader finds its lengths and heads, and ISM
of the chosen target equals brute force on sampled positions.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

import explorer as ex
from explorer.io.cards import card_beside, cached_card_path
from explorer.io.models import ModelLoadError, build_model
from explorer.io.probing import model_error_text
from brute_force import brute_force_ism


class DilatedResidual(nn.Module):
    """A dilated residual trunk with a mean + max head (any length)."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv1d(4, 8, 7, padding=3)
        self.blocks = nn.ModuleList(nn.Conv1d(8, 8, 3, padding=d, dilation=d) for d in (2, 4))
        self.linear = nn.Linear(16, 3)

    def forward(self, x):
        h = torch.relu(self.stem(x))
        for block in self.blocks:
            h = h + torch.relu(block(h))
        return self.linear(torch.cat([h.mean(-1), h.amax(-1)], 1))


class FixedLength(nn.Module):
    """Valid convolution, pooling, flatten, linear: only 249 bp fit."""

    def __init__(self, length: int = 249):
        super().__init__()
        self.conv = nn.Conv1d(4, 6, 10)
        self.pool = nn.MaxPool1d(4)
        self.linear = nn.Linear(6 * ((length - 9) // 4), 2)

    def forward(self, x):
        return self.linear(torch.flatten(self.pool(torch.relu(self.conv(x))), 1))


class CroppedProfile(nn.Module):
    """A profile of 2 strands, cropped 20 bases each side, at least 64 bp in."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(4, 2, 9, padding=4)

    def forward(self, x):
        torch._assert(x.shape[-1] >= 64, "input must be at least 64 bp")
        return torch.nn.functional.softplus(self.conv(x))[:, :, 20:-20]


class ProfileAndCounts(nn.Module):
    """BPNet-like tuple: (profile (N, 2, L), counts (N, 1))."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(4, 2, 11, padding=5)
        self.counts = nn.Linear(2, 1)

    def forward(self, x):
        profile = self.conv(x)
        return profile, self.counts(torch.logsumexp(profile, -1))


def _seeded(cls, *args):
    torch.manual_seed(0)
    return cls(*args).eval()


def _brute_force(model, x, target, positions):
    """``f(mutant) - f(reference)`` at ``positions`` of a ``(4, L)`` one-hot, one by one."""
    return brute_force_ism(lambda s: target(model(s[None]))[0], x, positions)[0].float()


def _check_ism(model, length, target=None, seed=0, **target_options):
    x = ex.one_hot_encode("".join(np.random.default_rng(seed).choice(list("ACGT"), length)))
    res = ex.attribute(model, x, "ism", target, cache=False, **target_options)
    t = ex.resolve_target(model, target, length=length, **target_options)
    positions = sorted({0, length - 1, *np.random.default_rng(seed + 1).choice(length, 8, replace=False).tolist()})
    want = _brute_force(model, x, t, positions)
    scale = max(1.0, float(want.abs().max()))
    torch.testing.assert_close(res.values[:, positions], want, rtol=0, atol=1e-5 * scale)
    return res


def test_scripted_free_length_residual_model(tmp_path):
    net = _seeded(DilatedResidual)
    torch.jit.save(torch.jit.script(net), str(tmp_path / "resid.pt"))
    model = ex.load_model(tmp_path / "resid.pt")
    assert model.input_length is None and model.min_length == 1
    assert model.tasks == ["task 0", "task 1", "task 2"] and model.kind == "torchscript"
    assert model.facts.output_type == "tensor" and model.facts.heads[0]["shape"] == [1, 3]
    _check_ism(model, 120, "task 2")


def test_traced_model_and_its_length(tmp_path):
    net = _seeded(DilatedResidual)
    torch.jit.save(torch.jit.trace(net, torch.zeros(1, 4, 300)), str(tmp_path / "traced.pt"))
    model = ex.load_model(tmp_path / "traced.pt")
    assert model.input_length is None and model.tasks == ["task 0", "task 1", "task 2"]
    _check_ism(model, 90, 1)


@pytest.mark.parametrize("length", [249, 2114, 310])
def test_fixed_length_model_is_found_from_its_own_error(tmp_path, length):
    # max-pooling by 4 before the flatten: 249 is the shortest of 249-252, which all fit;
    # 2114 and 2113-2116 likewise (2114, a common length, is the one kept); 310 is solved
    net = _seeded(FixedLength, length)
    torch.jit.save(torch.jit.script(net), str(tmp_path / "fixed.pt"))
    model = ex.load_model(tmp_path / "fixed.pt")
    want = {249: 249, 2114: 2114, 310: 309}[length]  # (309 - 9) // 4 == (310 - 9) // 4
    assert model.input_length == want and model.min_length == want
    assert f"takes inputs of exactly {want:,} bp" in model.report
    assert len(model.facts.probes) <= 24  # found by solving the linear layer's shape, not by scanning
    if length == 249:
        _check_ism(model, 249, "task 0")
        with pytest.raises(ValueError, match="exactly 249 bp; got 200 bp: choose a window of at least 249 bp"):
            ex.attribute(model, "A" * 200, "ism", 0, cache=False)


def test_cropped_profile_model(tmp_path):
    net = _seeded(CroppedProfile)
    torch.jit.save(torch.jit.script(net), str(tmp_path / "crop.pt"))
    model = ex.load_model(tmp_path / "crop.pt")
    assert model.input_length is None and model.min_length == 64
    assert model.facts.heads[0]["per_position"] and model.facts.heads[0]["shape"][1] == 2
    _check_ism(model, 100, 1, reduce="sum", window=(10, 40))


def test_tuple_output_model_defaults_to_its_counts_head(tmp_path):
    net = _seeded(ProfileAndCounts)
    torch.jit.save(torch.jit.script(net), str(tmp_path / "tuple.pt"))
    model = ex.load_model(tmp_path / "tuple.pt")
    assert model.facts.output_type == "tuple"
    assert [h["name"] for h in model.facts.heads] == ["output 0", "output 1"]
    assert ("returns a tuple of 2 heads (output 0: a profile of 1,000 positions for each of 2 channels; "
            "output 1: 1 score)") in model.report
    assert ex.resolve_target(model, None, length=80).output == 1
    _check_ism(model, 80)  # the counts head
    _check_ism(model, 80, "output 0:1", reduce="sum", window=(30, 50))
    named = ex.load_model(tmp_path / "tuple.pt", heads=["profile", "counts"])
    assert ex.resolve_target(named, "counts", length=80).output == 1


def test_side_car_card_is_saved_and_read_back(tmp_path, monkeypatch):
    monkeypatch.setenv("EXPLORER_CACHE_DIR", str(tmp_path / "cache"))
    net = _seeded(ProfileAndCounts)
    path = tmp_path / "models" / "tuple.pt"
    path.parent.mkdir()
    torch.jit.save(torch.jit.script(net), str(path))
    model = ex.load_model(path, heads=["profile", "counts"], tasks=["profile", "counts"])
    where = model.save_card()
    assert where == card_beside(path) and json.loads(where.read_text())["heads"] == ["profile", "counts"]
    again = ex.load_model(path)  # the side-car card names the heads now
    assert again.heads == ["profile", "counts"] and again.card["min_length"] == model.card["min_length"]
    where.unlink()
    path.parent.chmod(0o555)  # a read-only folder: the card goes to the cache
    try:
        if (path.parent / "probe").exists() or _writable(path.parent):
            pytest.skip("running as a user who can write read-only folders")
        where = model.save_card()
        assert where == cached_card_path(path)
        assert ex.load_model(path).heads == ["profile", "counts"]
    finally:
        path.parent.chmod(0o755)


def _writable(folder) -> bool:
    try:
        (folder / "probe").write_text("x")
    except OSError:
        return False
    (folder / "probe").unlink()
    return True


def test_bad_outputs_and_cards_are_named(tmp_path):
    class DictWithText(nn.Module):
        def forward(self, x):
            return {"score": x.sum((1, 2))[:, None], "note": "text"}

    with pytest.raises(ModelLoadError, match="its head 'note' is a str, not a tensor"):
        build_model(DictWithText(), {}, source="dict.pt")
    net = _seeded(DilatedResidual)
    torch.jit.save(torch.jit.script(net), str(tmp_path / "resid.pt"))
    with pytest.raises(ModelLoadError, match=r"returns 3 output channels .* names 2 tasks"):
        ex.load_model(tmp_path / "resid.pt", tasks=["a", "b"])
    torch.jit.save(torch.jit.script(_seeded(FixedLength, 249)), str(tmp_path / "fixed.pt"))
    with pytest.raises(ModelLoadError, match="fails on the given input length of 300 bp: RuntimeError: mat1"):
        ex.load_model(tmp_path / "fixed.pt", input_length=300)
    (tmp_path / "folder").mkdir()
    with pytest.raises(ModelLoadError, match="is a folder, not a model file"):
        ex.load_model(tmp_path / "folder")
    (tmp_path / "bad.card.json").write_text("[1, 2]")
    torch.jit.save(torch.jit.script(net), str(tmp_path / "bad.pt"))
    with pytest.raises(ModelLoadError, match="bad.card.json holds a list, not a JSON object"):
        ex.load_model(tmp_path / "bad.pt")


def test_model_error_text_keeps_the_models_own_message():
    class Picky(nn.Module):
        def forward(self, x):
            if x.shape[-1] != 75:
                raise ValueError(f"expected 75 bp, got {x.shape[-1]}")
            return x.sum(-1)

    scripted = torch.jit.script(Picky())
    with pytest.raises(Exception) as info:
        scripted(torch.zeros(1, 4, 10))
    assert "The following operation failed" in str(info.value)
    text = model_error_text(info.value)
    assert text.endswith("expected 75 bp, got 10") and "TorchScript" not in text, text
    model = build_model(scripted, {}, source="picky.pt")  # the length named in its error is tried
    assert model.input_length == 75


class ChannelsLastCNN(nn.Module):
    """Takes one-hot as (N, L, 4), as Keras ports do; optionally exactly ``fixed`` bases."""

    def __init__(self, fixed: int | None = None):
        super().__init__()
        self.conv = nn.Conv1d(4, 6, 7)
        self.fixed = int(fixed or 0)
        self.linear = nn.Linear(6 * (fixed - 6) if fixed else 6, 2)

    def forward(self, x):
        h = torch.relu(self.conv(x.transpose(1, 2)))
        return self.linear(torch.flatten(h, 1) if self.fixed > 0 else h.amax(-1))


@pytest.mark.parametrize("fixed", [None, 200])
def test_channels_last_models_are_found_and_adapted(tmp_path, fixed):
    net = _seeded(ChannelsLastCNN, fixed)
    torch.jit.save(torch.jit.script(net), str(tmp_path / "nlc.pt"))
    model = ex.load_model(tmp_path / "nlc.pt")
    assert model.card["input_layout"] == "NLC" and "channels last" in model.report
    assert model.input_length == fixed and model.min_length == (fixed or 7)
    x = ex.one_hot_encode("".join(np.random.default_rng(2).choice(list("ACGT"), fixed or 90)))
    with torch.no_grad():
        torch.testing.assert_close(model(x[None]), net(x.T[None]), rtol=0, atol=1e-6)
    _check_ism(model, fixed or 90, "task 1")
    again = ex.load_model(tmp_path / "nlc.pt", card={"input_layout": "NLC"})  # given, not searched
    assert again.card["input_layout"] == "NLC"

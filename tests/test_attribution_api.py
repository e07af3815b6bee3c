"""explorer.attribute / explorer.predict: inputs, bad inputs, model state, cache, progress."""

import json

import pytest
import torch

import explorer as ex
from explorer.attribution import cache as cache_module
from explorer.attribution.ism import ism
from explorer.attribution.targets import resolve_target
from explorer.attribution.toy_models import MotifDetector, ProfileModel, plant
from explorer.io.loci import locus_from_sequence
from explorer.io.models import ExplorerModel
from explorer.io.sequences import one_hot_decode
from explorer.nets import SampleCNN


@pytest.fixture()
def model():
    torch.manual_seed(0)
    net = SampleCNN(n_tasks=2, channels=8, kernel_sizes=(7, 3, 3))
    return ExplorerModel(net, {"tasks": ["CTCF", "SPI1"], "min_length": 100})


@pytest.fixture(scope="module")
def seq():
    return one_hot_decode(plant("GATAAGGC", 150, 60, seed=2))


def test_inputs_locus_tensor_and_string_agree(model, seq):
    locus = locus_from_sequence(seq, name="chrT", start=1000)
    a = ex.attribute(model, locus, "ism", "CTCF", 50, 80, cache=False)
    b = ex.attribute(model, ex.one_hot_encode(seq), "ism", "CTCF", 50, 80, cache=False)
    c = ex.attribute(model, seq.lower(), "ism", 0, 50, 80, cache=False)
    # the same computation from three input forms: float32 ISM deltas of logits ~1 agree to
    # rounding (1e-6 absolute), not bit for bit (kernels may sum in another order)
    torch.testing.assert_close(a.values, b.values, rtol=0, atol=1e-6)
    torch.testing.assert_close(a.values, c.values, rtol=0, atol=1e-6)
    assert a.values.shape == (4, 30) and a.sequence == seq[50:80]
    assert (a.chrom, a.genome_start, a.start, a.end) == ("chrT", 1050, 50, 80)
    assert a.genome_positions()[0] == 1051  # 1-based for people
    assert (b.chrom, b.genome_start) == (None, 50)
    assert a.method == "ism" and a.target == "CTCF" and a.device == "cpu" and a.seconds > 0
    assert a.diagnostics["reference_score"] == pytest.approx(
        float(model(ex.one_hot_encode(seq)[None])[0, 0].detach()), abs=1e-5)
    # the model saw the whole sequence: same numbers as ISM of the window in context
    target = resolve_target(model, "CTCF", length=150)
    assert torch.allclose(a.values, ism(model, ex.one_hot_encode(seq), target, 50, 80).values, atol=1e-6)


@pytest.mark.parametrize("method", ["ism", "ig", "deeplift_shap", "saliency"])
def test_every_method_returns_a_window(model, seq, method):
    opts = {"n_shuffles": 2} if method in ("ig", "deeplift_shap") else {}
    if method == "ig":
        opts["max_steps"] = 64
    res = ex.attribute(model, seq, method, "SPI1", 20, 70, cache=False, **opts)
    assert res.values.shape == (4, 50) and res.one_hot.shape == (4, 50)
    assert res.values.dtype == torch.float32 and res.per_base.shape == (50,)
    assert isinstance(res.diagnostics["warnings"], list) and res.diagnostics["cache_hit"] is False


def test_bad_inputs_and_their_messages(model, seq):
    x = ex.one_hot_encode(seq)
    cases = [
        (dict(locus_or_onehot=x.T), r"shape \(4, L\).*got \(150, 4\).*transposed"),
        (dict(locus_or_onehot=torch.zeros(2, 4, 150)), r"shape \(4, L\).*got \(2, 4, 150\)"),
        (dict(locus_or_onehot=seq[:60]), r"at least 100 bp; got 60 bp"),
        (dict(locus_or_onehot=seq, start=100, end=200), r"0 <= start < end <= length; got start=100, end=200 for a 150 bp"),
        (dict(locus_or_onehot=seq, start=-1, end=10), r"0 <= start < end <= length; got start=-1"),
        (dict(locus_or_onehot=seq, start=40, end=40), r"window \[start=40, end=40\) is empty"),
        (dict(locus_or_onehot=seq, target="GATA1"), r"unknown target 'GATA1'.*\['CTCF', 'SPI1'\].*\(1, 2\)"),
        (dict(locus_or_onehot=seq, target=None), r"choose a target.*CTCF"),
        (dict(locus_or_onehot=seq, method="shap"), r"method must be one of.*'ism'"),
        (dict(locus_or_onehot=seq, n_step=10, method="ig"), r"unknown option\(s\) \['n_step'\] for method 'ig'"),
        (dict(locus_or_onehot=seq, fast="yes"), r"fast must be True, False or 'auto'"),
        (dict(locus_or_onehot=seq, window=(0, 5)), r"per-position"),
        (dict(locus_or_onehot="ACGTXACGT" * 20), r"invalid character 'X' at position 5"),
        (dict(locus_or_onehot=[1, 2, 3]), r"expected a Locus, a \(4, L\) one-hot tensor or a DNA string"),
    ]
    for kwargs, message in cases:
        kwargs.setdefault("target", "CTCF")
        error = TypeError if isinstance(kwargs["locus_or_onehot"], list) else ValueError
        with pytest.raises(error, match=message):
            ex.attribute(model, cache=False, **kwargs)


def test_profile_model_window_errors():
    model = ProfileModel(n_tasks=1)
    seq = "ACGT" * 25
    with pytest.raises(ValueError, match=r"window \[90, 120\) is out of range: the output has 100"):
        ex.attribute(model, seq, "saliency", window=(90, 120), cache=False)
    with pytest.raises(ValueError, match=r"empty"):
        ex.attribute(model, seq, "saliency", window=(10, 10), cache=False)
    res = ex.attribute(model, seq, "ism", window=(40, 60), reduce="max", start=0, end=100, cache=False)
    assert res.target == "task 0 max[40:60]" and res.options["window"] == (40, 60)
    # outside the receptive field of the window no path reaches the output: what remains is
    # float32 rounding of f(mutant) - f(reference), about 1e-7 * |f(reference)|, far under the
    # signal inside the field
    rounding = 1e-6 * max(1.0, abs(res.diagnostics["reference_score"]))
    assert res.values[:, 30:].abs().max() > 1e3 * rounding
    assert res.values[:, :30].abs().max() < rounding


def test_model_state_is_restored(model, seq):
    model.train()
    model.net.dropout.eval()  # a mixed state must come back exactly
    before = {name: m.training for name, m in model.named_modules()}
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    for method in ("ism", "ig", "deeplift_shap", "saliency"):
        opts = {"n_shuffles": 2} if method in ("ig", "deeplift_shap") else {}
        if method == "ig":
            opts.update(n_steps=16, max_steps=16)
        ex.attribute(model, seq, method, "CTCF", 0, 20, cache=False, **opts)
        assert {name: m.training for name, m in model.named_modules()} == before, method
    with pytest.raises(ex.Cancelled):
        ex.attribute(model, seq, "ism", "CTCF", cache=False, batch_size=8, progress=lambda f: f < 0.3)
    assert {name: m.training for name, m in model.named_modules()} == before
    assert all(torch.equal(v, weights[k]) for k, v in model.state_dict().items())
    assert all(p.device.type == "cpu" and p.grad is None for p in model.parameters())
    assert not any(hasattr(m, "_NON_LINEAR_OPS") or m._forward_hooks or m._backward_hooks
                   for m in model.modules())  # DeepLIFT hooks removed


def test_train_mode_does_not_leak_into_results(model, seq):
    model.eval()
    a = ex.attribute(model, seq, "ism", "CTCF", 0, 20, cache=False)
    model.train()  # dropout on: attribute must still run in eval mode
    b = ex.attribute(model, seq, "ism", "CTCF", 0, 20, cache=False)
    torch.testing.assert_close(a.values, b.values, rtol=0, atol=1e-6)  # float32 deltas ~1
    assert model.training


def test_cache_hit_miss_and_corruption(model, seq, tmp_path, monkeypatch):
    monkeypatch.setenv("EXPLORER_CACHE_DIR", str(tmp_path))
    first = ex.attribute(model, seq, "ig", "CTCF", 10, 90, baseline="zeros")
    assert first.diagnostics["cache_hit"] is False
    files = sorted(p.suffix for p in (tmp_path / "attributions").iterdir())
    assert files == [".json", ".npz"]
    second = ex.attribute(model, seq, "ig", "CTCF", 10, 90, baseline="zeros")
    assert second.diagnostics["cache_hit"] is True
    # a cache hit returns the stored float32 array itself: bit for bit, on any CPU
    assert torch.equal(first.values, second.values) and torch.equal(first.one_hot, second.one_hot)
    assert second.diagnostics["completeness_error"] == first.diagnostics["completeness_error"]
    assert (second.target, second.start, second.end, second.seconds) == (
        first.target, first.start, first.end, first.seconds)
    # a different option, target, window or cache=False misses
    assert ex.attribute(model, seq, "ig", "CTCF", 10, 90, baseline="uniform").diagnostics["cache_hit"] is False
    assert ex.attribute(model, seq, "ig", "SPI1", 10, 90, baseline="zeros").diagnostics["cache_hit"] is False
    assert ex.attribute(model, seq, "ig", "CTCF", 10, 91, baseline="zeros").diagnostics["cache_hit"] is False
    assert ex.attribute(model, seq, "ig", "CTCF", 10, 90, baseline="zeros",
                        cache=False).diagnostics["cache_hit"] is False
    # changed weights miss (content hash)
    with torch.no_grad():
        model.net.linear.bias.add_(1.0)
    model._hash = None
    assert ex.attribute(model, seq, "ig", "CTCF", 10, 90, baseline="zeros").diagnostics["cache_hit"] is False
    # corrupt files are a miss, not an error, and get rewritten
    for path in (tmp_path / "attributions").glob("*.npz"):
        path.write_bytes(b"not an npz")
    for path in (tmp_path / "attributions").glob("*.json"):
        path.write_text("{broken")
    again = ex.attribute(model, seq, "ig", "CTCF", 10, 90, baseline="zeros")
    assert again.diagnostics["cache_hit"] is False
    assert ex.attribute(model, seq, "ig", "CTCF", 10, 90, baseline="zeros").diagnostics["cache_hit"] is True


def test_cache_key_of_plain_module_follows_its_weights(seq):
    net = MotifDetector()
    x = ex.one_hot_encode(seq)
    key = cache_module.cache_key(net, x, 0, 10, "ism", {"name": "motif"}, {})
    assert key == cache_module.cache_key(MotifDetector(), x, 0, 10, "ism", {"name": "motif"}, {})
    with torch.no_grad():
        net.conv.bias.add_(0.5)
    assert key != cache_module.cache_key(net, x, 0, 10, "ism", {"name": "motif"}, {})
    assert key != cache_module.cache_key(MotifDetector(), x, 0, 11, "ism", {"name": "motif"}, {})


def test_cache_hit_keeps_locus_coordinates(model, seq, tmp_path, monkeypatch):
    monkeypatch.setenv("EXPLORER_CACHE_DIR", str(tmp_path))
    ex.attribute(model, seq, "saliency", "CTCF", 5, 25)
    hit = ex.attribute(model, locus_from_sequence(seq, name="chrZ", start=500), "saliency", "CTCF", 5, 25)
    assert hit.diagnostics["cache_hit"] and (hit.chrom, hit.genome_start) == ("chrZ", 505)
    meta = json.loads(next((tmp_path / "attributions").glob("*.json")).read_text())
    assert meta["method"] == "saliency"


@pytest.mark.parametrize("method", ["ism", "ig", "deeplift_shap"])
def test_progress_and_cancel(model, seq, method, tmp_path, monkeypatch):
    monkeypatch.setenv("EXPLORER_CACHE_DIR", str(tmp_path))
    opts = {"ism": {"batch_size": 16, "fast": False}, "ig": {"n_shuffles": 3, "n_steps": 16, "max_steps": 16},
            "deeplift_shap": {"n_shuffles": 3, "batch_size": 1}}[method]
    seen = []
    ex.attribute(model, seq, method, "CTCF", 0, 40, progress=seen.append, **opts)
    assert seen[-1] == 1.0 and seen == sorted(seen) and len(seen) >= 3
    assert all(0.0 <= f <= 1.0 for f in seen)

    def stop_midway(fraction):
        return fraction < 0.5

    with pytest.raises(ex.Cancelled):
        ex.attribute(model, seq, method, "CTCF", 0, 41, progress=stop_midway, **opts)

    def raise_cancel(fraction):
        if fraction > 0.2:
            raise ex.Cancelled("user pressed stop")

    with pytest.raises(ex.Cancelled, match="user pressed stop"):
        ex.attribute(model, seq, method, "CTCF", 0, 41, progress=raise_cancel, **opts)
    # nothing cached for the cancelled request
    assert ex.attribute(model, seq, method, "CTCF", 0, 41, **opts).diagnostics["cache_hit"] is False


def test_ism_centered_view(model, seq):
    raw = ex.attribute(model, seq, "ism", "CTCF", 30, 60, cache=False)
    centred = ex.attribute(model, seq, "ism", "CTCF", 30, 60, cache=False, ism_centered=True)
    assert torch.allclose(centred.values, ex.center_ism(raw.values))
    assert torch.allclose(torch.as_tensor(centred.per_base), torch.as_tensor(raw.per_base) * 0.75, atol=1e-6)


def test_explicit_device_and_bad_device(model, seq):
    res = ex.attribute(model, seq, "saliency", "CTCF", device="cpu", cache=False)
    assert res.device == "cpu"
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA device is available"):
            ex.attribute(model, seq, "saliency", "CTCF", device="cuda", cache=False)


def test_predict_windows(model, seq):
    locus = locus_from_sequence(seq * 2, name="chrP", start=10_000)
    df = ex.predict(model, locus, window=100, step=30)
    assert list(df.columns) == ["start", "end", "genome_start", "CTCF", "SPI1"]
    assert df["start"].tolist() == [0, 30, 60, 90, 120, 150, 180, 200]  # last aligned to the end
    assert (df["end"] - df["start"] == 100).all() and df["genome_start"].iloc[1] == 10_030
    x = ex.one_hot_encode(seq * 2)
    with torch.no_grad():
        want = model(torch.stack([x[:, s:s + 100] for s in df["start"]]))
    assert torch.allclose(torch.tensor(df[["CTCF", "SPI1"]].values), want, atol=1e-5)
    default = ex.predict(model, seq * 2)
    assert default["end"].iloc[0] == 200 and default["start"].iloc[1] == 100
    with pytest.raises(ValueError, match="at least 100 bp; got window=50"):
        ex.predict(model, seq, window=50)
    with pytest.raises(ValueError, match="between 1 and the sequence length 150"):
        ex.predict(model, seq, window=400)


def test_predict_profile_and_tuple_models():
    seq = "ACGTTGCA" * 40
    df = ex.predict(ProfileModel(n_tasks=2, counts_head=True), seq, window=100, step=100, output=1)
    assert list(df.columns) == ["start", "end", "genome_start", "task 0", "task 1"] and len(df) == 4
    prof = ex.predict(ProfileModel(n_tasks=2), seq, window=100, step=100, reduce="mean")
    assert prof.shape == (4, 5)


def test_attribution_layer_imports_no_ui_library():
    """Every method keeps panel/holoviews/bokeh/matplotlib out (IG runs its own loop, without
    captum, whose ``captum.attr`` imports matplotlib)."""
    import subprocess
    import sys

    code = (
        "import sys, explorer as ex\n"
        "from explorer.attribution import api, cache, deeplift, device, gradients, ism, targets\n"
        "from explorer.attribution.toy_models import MotifDetector, plant\n"
        "m, x = MotifDetector(), plant('GATAAGGC', 100, 20)\n"
        "for method in ('ism', 'ig', 'deeplift_shap', 'saliency'):\n"
        "    ex.attribute(m, x, method, cache=False, **({'n_shuffles': 2} if method in ('ig', 'deeplift_shap') else {}))\n"
        "ex.predict(m, x, window=50)\n"
        "bad = [k for k in ('panel', 'holoviews', 'bokeh', 'matplotlib') if k in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)

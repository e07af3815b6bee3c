"""Exact ISM: equal to a brute-force loop of single mutants; batching, OOM retry, fast path."""

import pytest
import torch

import explorer.attribution.api as api
from explorer.attribution.ism import center_ism, ism
from explorer.attribution.targets import resolve_target
from explorer.attribution.toy_models import ProfileModel
from explorer.nets import SampleCNN
from brute_force import brute_force_ism


@pytest.fixture(scope="module")
def small_cnn():
    torch.manual_seed(0)
    return SampleCNN(n_tasks=2, channels=8, kernel_sizes=(7, 3, 3), dilations=(1, 2, 4)).eval()


def random_one_hot(length, seed=0, n_at=()):
    g = torch.Generator().manual_seed(seed)
    x = torch.nn.functional.one_hot(torch.randint(0, 4, (length,), generator=g), 4).T.float().contiguous()
    for p in n_at:
        x[:, p] = 0.0
    return x


def brute_force(model, x, target, start, end):
    """A plain Python loop over every position and base of ``[start, end)``."""
    out, ref = brute_force_ism(lambda s: target(model(s[None]))[0], x, range(start, end))
    return out.float(), ref


@pytest.mark.parametrize("start,end,batch_size", [(0, 25, None), (37, 61, 7), (108, 120, 1)])
def test_ism_equals_brute_force(small_cnn, start, end, batch_size):
    x = random_one_hot(120, seed=1, n_at=(40, 41))  # two N columns inside a window
    target = resolve_target(small_cnn, "task 1", length=120)
    got = ism(small_cnn, x, target, start, end, batch_size=batch_size)
    want, ref = brute_force(small_cnn, x, target, start, end)
    assert got.values.shape == (4, end - start) and got.values.dtype == torch.float32
    assert got.values.device.type == "cpu"
    assert got.reference_score == pytest.approx(ref, abs=1e-6)
    assert torch.allclose(got.values, want, atol=1e-5)
    # 0 at reference bases (exact: the identity edit is never computed); N columns: all four
    # bases are substitutions
    known = x[:, start:end].sum(0) == 1
    assert torch.all(got.values[:, known][x[:, start:end][:, known] == 1] == 0)
    assert got.n_mutants == 3 * int(known.sum()) + 4 * int((~known).sum())


def test_ism_profile_target_window(small_cnn):
    model = ProfileModel(n_tasks=2).eval()
    x = random_one_hot(60, seed=2)
    target = resolve_target(model, 1, reduce="logsumexp", window=(20, 40), length=60)
    got = ism(model, x, target, 10, 50)
    want, _ = brute_force(model, x, target, 10, 50)
    assert torch.allclose(got.values, want, atol=1e-5)
    # positions further than the kernel radius (4) from the window do not matter
    assert got.values[:, :5].abs().max() < 1e-5 and got.values[:, -5:].abs().max() < 1e-5


class OomAbove(torch.nn.Module):
    """Raises a (fake) CUDA out-of-memory error for batches larger than ``limit``."""

    def __init__(self, net, limit):
        super().__init__()
        self.net, self.limit, self.sizes = net, limit, []

    def forward(self, x):
        self.sizes.append(x.shape[0])
        if x.shape[0] > self.limit:
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return self.net(x)


def test_out_of_memory_halves_batch_and_retries(small_cnn):
    x = random_one_hot(100, seed=3)
    target = resolve_target(small_cnn, 0, length=100)
    flaky = OomAbove(small_cnn, limit=10)
    got = ism(flaky, x, target, 0, 30, batch_size=64)
    assert got.batch_size <= 10 and 64 in flaky.sizes and 8 in flaky.sizes
    assert torch.allclose(got.values, ism(small_cnn, x, target, 0, 30).values, atol=1e-6)


def test_other_errors_are_not_swallowed(small_cnn):
    class Broken(torch.nn.Module):
        def forward(self, x):
            raise RuntimeError("shape mismatch in layer 3")

    target = resolve_target(small_cnn, 0, length=100)
    with pytest.raises(RuntimeError, match="shape mismatch"):
        ism(Broken(), random_one_hot(100), target, 0, 10)


def test_center_ism():
    v = torch.tensor([[0.0, 1.0], [-1.0, 0.0], [-2.0, 2.0], [-3.0, 1.0]])
    c = center_ism(v)
    assert torch.allclose(c.sum(0), torch.zeros(2))
    assert torch.allclose(c[:, 0], torch.tensor([1.5, 0.5, -0.5, -1.5]))


def test_fast_path_is_used_and_falls_back(monkeypatch, small_cnn):
    x = random_one_hot(100, seed=4)
    calls = []

    def fake_fast(model, one_hot, target, start, end, progress=None):
        calls.append((start, end))
        return torch.full((4, end - start), 7.0), 1.5, {"max_abs_difference": 0.0}

    monkeypatch.setattr(api, "fast_ism", fake_fast)
    res = api.attribute(small_cnn, x, "ism", target=0, start=5, end=25, cache=False)
    assert calls == [(5, 25)] and torch.all(res.values == 7.0)
    assert res.diagnostics["ism_path"] == "fast" and res.diagnostics["reference_score"] == 1.5

    def no_structure(*args, **kwargs):
        raise NotImplementedError("the model declares no structure")

    monkeypatch.setattr(api, "fast_ism", no_structure)
    res = api.attribute(small_cnn, x, "ism", target=0, start=5, end=25, cache=False)
    target = resolve_target(small_cnn, 0, length=100)
    assert res.diagnostics["ism_path"] == "plain"
    assert torch.allclose(res.values, ism(small_cnn, x, target, 5, 25).values)
    res = api.attribute(small_cnn, x, "ism", target=0, start=5, end=25, cache=False, fast=True)
    assert any("declares no structure" in w for w in res.diagnostics["warnings"])
    # fast=False never calls it
    monkeypatch.setattr(api, "fast_ism", fake_fast)
    calls.clear()
    api.attribute(small_cnn, x, "ism", target=0, start=5, end=25, cache=False, fast=False)
    assert calls == []


def test_fast_path_failure_falls_back_only_in_auto(monkeypatch, small_cnn):
    x = random_one_hot(100, seed=5)

    def broken(*args, **kwargs):
        raise RuntimeError("captured graph mismatch")

    monkeypatch.setattr(api, "fast_ism", broken)
    res = api.attribute(small_cnn, x, "ism", target=0, start=0, end=10, cache=False)
    assert res.diagnostics["ism_path"] == "plain"
    assert any("captured graph mismatch" in w for w in res.diagnostics["warnings"])
    with pytest.raises(RuntimeError, match="captured graph mismatch"):
        api.attribute(small_cnn, x, "ism", target=0, start=0, end=10, cache=False, fast=True)

    def cancelled(*args, **kwargs):
        raise api.Cancelled("stop")

    monkeypatch.setattr(api, "fast_ism", cancelled)
    with pytest.raises(api.Cancelled):
        api.attribute(small_cnn, x, "ism", target=0, start=0, end=10, cache=False)

"""Exact ISM: equal to a brute-force loop of single mutants; batching, OOM retry, fast path."""

import pytest
import torch

import explorer.attribution.api as api
from explorer.attribution.device import BatchSearch, run_in_batches
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


# -- models plain ISM is for: attention and recurrent layers read the whole sequence ------
class TinyAttention(torch.nn.Module):
    """Conv stem, one transformer encoder layer over positions; a profile and pooled scores.

    ``(N, 4, L)`` -> ``(profile (N, 2, L), scores (N, 2))`` (a tuple, like BPNet's heads).
    """

    def __init__(self, d_model=16):
        super().__init__()
        self.stem = torch.nn.Conv1d(4, d_model, 5, padding=2)
        layer = torch.nn.TransformerEncoderLayer(d_model, 2, dim_feedforward=32, dropout=0.0, batch_first=True)
        self.encoder = torch.nn.TransformerEncoder(layer, 1, enable_nested_tensor=False)
        self.profile, self.scores = torch.nn.Linear(d_model, 2), torch.nn.Linear(d_model, 2)

    def forward(self, x):
        h = self.encoder(torch.relu(self.stem(x)).transpose(1, 2))
        return self.profile(h).transpose(1, 2), self.scores(h.mean(1))


class TinyGRU(torch.nn.Module):
    """Conv stem, bidirectional GRU, mean of the states, linear: ``(N, 4, L)`` -> ``(N, 2)``."""

    def __init__(self, hidden=8):
        super().__init__()
        self.stem = torch.nn.Conv1d(4, 8, 5, padding=2)
        self.gru = torch.nn.GRU(8, hidden, batch_first=True, bidirectional=True)
        self.linear = torch.nn.Linear(2 * hidden, 2)

    def forward(self, x):
        states, _ = self.gru(torch.relu(self.stem(x)).transpose(1, 2))
        return self.linear(states.mean(1))


class InPlaceInput(torch.nn.Module):
    """Zeroes the first column of its input in place before the network reads it."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        x[:, :, 0] = 0.0
        return self.net(x)


def seeded(cls):
    torch.manual_seed(3)
    return cls().eval()


def close(got, want):
    """Equal up to float32 rounding, relative to the magnitudes compared."""
    scale = max(1.0, float(want.abs().max()))
    return torch.allclose(got.double(), want.double(), rtol=0.0, atol=2e-5 * scale)


@pytest.mark.parametrize("kind,target_args", [
    ("gru", {"target": 1}),
    ("attention", {"target": 0, "output": 1}),
    ("attention", {"target": 1, "output": 0, "reduce": "sum", "window": (10, 30)}),
])
@pytest.mark.parametrize("start,end,batch_size", [(0, 48, None), (5, 29, 7), (40, 48, 1)])
def test_ism_exact_for_attention_and_recurrent_models(kind, target_args, start, end, batch_size):
    model = seeded({"gru": TinyGRU, "attention": TinyAttention}[kind])
    x = random_one_hot(48, seed=7, n_at=(6, 7))  # two N columns (inside the windows that reach them)
    args = dict(target_args)
    target = resolve_target(model, args.pop("target"), length=48, **args)
    got = ism(model, x, target, start, end, batch_size=batch_size)
    want, ref = brute_force(model, x, target, start, end)
    assert got.reference_score == pytest.approx(ref, abs=1e-5 * max(1.0, abs(ref)))
    assert close(got.values, want)
    known = x[:, start:end].sum(0) == 1
    assert torch.all(got.values[:, known][x[:, start:end][:, known] == 1] == 0)
    assert got.n_mutants == 3 * int(known.sum()) + 4 * int((~known).sum())


@pytest.mark.parametrize("kind", ["gru", "attention"])
def test_batch_size_and_attention_path_do_not_change_results(kind):
    from explorer.attribution.ism import mha_fastpath

    model = seeded({"gru": TinyGRU, "attention": TinyAttention}[kind])
    x = random_one_hot(64, seed=8, n_at=(30,))
    target = resolve_target(model, 0, length=64, **({"output": 1} if kind == "attention" else {}))
    searched = ism(model, x, target)
    assert searched.diagnostics.extra["batch_search"]  # the default searches
    # attention: both fast-path settings timed on the first batches, the faster kept
    assert ("mha_fastpath" in searched.diagnostics.extra) == (kind == "attention")
    assert torch.backends.mha.get_fastpath_enabled()  # restored
    for batch_size in (3, 64, 500):
        fixed = ism(model, x, target, batch_size=batch_size)
        assert ("batch_search" in fixed.diagnostics.extra) == (kind == "attention")
        assert close(fixed.values, searched.values)
    for enabled in (True, False):
        with mha_fastpath(enabled):
            want, _ = brute_force(model, x, target, 0, 64)
        assert close(searched.values, want)


def test_model_that_writes_its_input_does_not_leak_between_batches():
    model = InPlaceInput(seeded(TinyGRU))
    x = random_one_hot(40, seed=9)
    target = resolve_target(model, 0, length=40)
    want, _ = brute_force(model, x, target, 0, 40)  # brute force hands it a fresh copy each time
    for batch_size in (None, 4):
        assert close(ism(model, x, target, batch_size=batch_size).values, want)


def test_out_of_memory_in_the_search_halves_and_settles(small_cnn):
    x = random_one_hot(100, seed=3)
    target = resolve_target(small_cnn, 0, length=100)
    flaky = OomAbove(small_cnn, limit=20)
    got = ism(flaky, x, target)
    assert got.batch_size <= 20 and max(flaky.sizes) > 20
    assert close(got.values, ism(small_cnn, x, target, batch_size=7).values)


def test_mutant_buffer_equals_mutant_batch():
    from explorer.attribution.runtime import MutantBuffer, mutant_batch

    x = random_one_hot(30, seed=10, n_at=(3,))
    buffer = MutantBuffer(x)
    for m in (5, 2, 9):  # shrinking, then growing past the buffer
        positions, bases = torch.randint(0, 30, (m,)), torch.randint(0, 4, (m,))
        batch = buffer.batch(positions, bases)
        assert torch.equal(batch, mutant_batch(x, positions, bases))
        batch.mul_(0.0)  # what a careless model could do; the next batch starts clean


# -- the batch size search ---------------------------------------------------------------
def drive(search, cost, n_batches=40):
    """Feed ``search`` batches timed by ``cost(size, variant) -> seconds per item``; the sizes run."""
    sizes = []
    for _ in range(n_batches):
        sizes.append(search.size)
        search.record(search.size, cost(search.size, search.variant) * search.size)
    return sizes


def tried(search):
    return list(dict.fromkeys(timing[0] for timing in search.timings))


def test_search_doubles_while_it_pays_then_settles():
    search = BatchSearch(first=16, high=4096)
    sizes = drive(search, lambda s, v: 1.0 / s + s / 65536.0)  # least at 256
    # a warm-up, then best and trial interleaved
    assert sizes[:9] == [16, 16, 32, 16, 32, 32, 64, 32, 64]
    assert search.settled and search.best == 256 and sizes[-1] == 256
    assert tried(search) == [16, 32, 64, 128, 256, 512]


def test_search_halves_when_doubling_does_not_pay():
    search = BatchSearch(first=64, high=4096)
    drive(search, lambda s, v: 1.0 / s + s / 256.0)  # least at 16
    assert tried(search) == [64, 128, 32, 16, 8] and search.settled and search.best == 16
    flat = BatchSearch(first=64, high=4096)
    drive(flat, lambda s, v: 1.0)
    assert flat.best == 64 and tried(flat) == [64, 128, 32]


def test_search_takes_the_faster_of_two_times():
    burst = {3}  # the 4th batch (the best size's second time) runs under a burst of load

    count = [0]

    def cost(s, v):
        count[0] += 1
        return (50.0 if count[0] - 1 in burst else 1.0) / s ** 0.01

    search = BatchSearch(first=64, high=4096)
    sizes = drive(search, cost, n_batches=6)
    # 128 was not 10 % faster than 64's faster time: the search goes on downwards
    assert sizes == [64, 64, 128, 64, 128, 64] and search.best == 64 and search.size == 32


def test_search_chooses_the_faster_variant_first():
    search = BatchSearch(first=32, high=4096, variants=2, variant_size=8)
    variants = []

    def cost(size, variant):
        variants.append(variant)
        return (3.0 if variant == 0 else 1.0) * (1.0 / size + size / 16384.0)  # variant 1 faster; least at 128

    sizes = drive(search, cost)
    assert variants[:5] == [0, 0, 1, 0, 1] and sizes[:5] == [32, 8, 8, 8, 8]  # warm-up, then interleaved
    assert search.best_variant == 1 and set(variants[5:]) == {1}
    assert search.best == 128 and search.settled
    fixed = BatchSearch(first=16, high=16, variants=2, sizes=False)
    sizes = drive(fixed, lambda size, variant: 1.0 + variant)
    assert set(sizes) == {16} and fixed.best_variant == 0 and fixed.settled


def test_search_bounds_partial_batches_and_memory():
    search = BatchSearch(first=8, high=32)
    sizes = drive(search, lambda s, v: 1.0 / s)
    assert max(sizes) == 32 and search.best == 32 and search.settled
    search = BatchSearch(first=8, high=4096)
    search.record(3, 100.0)  # a partial batch: ignored
    search.record(8, 1.0)  # warm-up: not timed
    assert search.timings == [] and search.size == 8
    search.limit(4)
    assert search.size == 4 and search.settled
    search = BatchSearch(first=64, high=4096)
    drive(search, lambda s, v: 1.0 / s, n_batches=2)  # warm-up and 64 timed; 128 next
    assert search.size == 128
    search.out_of_memory(128)
    assert search.settled and search.size == 64 and search.high == 64
    search.out_of_memory(64)
    assert search.size == 32


def test_run_in_batches_follows_the_search(monkeypatch):
    import explorer.attribution.device as device_mod

    clock = [0.0]
    monkeypatch.setattr(device_mod.time, "perf_counter", lambda: clock[0])
    seen = []

    def fn(i, j):
        seen.append(j - i)
        clock[0] += (j - i) * (1.0 / (j - i) + (j - i) / 4096.0)  # least per item at 64
        return torch.arange(i, j)

    search = BatchSearch(first=8, high=4096)
    out, used = run_in_batches(fn, 2000, 8, torch.device("cpu"), search=search)
    assert torch.equal(torch.cat(out), torch.arange(2000))
    assert seen[:5] == [8, 8, 16, 8, 16] and search.best == 64 and used == 64
    assert set(seen[20:-1]) == {64}


def test_attention_paths_are_compared_only_where_they_can_differ():
    from explorer.attribution.ism import attention_paths, mha_fastpath

    cpu = torch.device("cpu")
    attention, gru = seeded(TinyAttention), seeded(TinyGRU)
    assert attention_paths(attention, cpu) == [False, True]
    assert attention_paths(gru, cpu) == [None]
    assert attention_paths(attention, torch.device("cuda")) == [None]  # measured on CPUs only
    with mha_fastpath(False):  # a person turned it off: left off
        assert attention_paths(attention, cpu) == [None]
        with mha_fastpath(None):
            assert not torch.backends.mha.get_fastpath_enabled()
    assert torch.backends.mha.get_fastpath_enabled()

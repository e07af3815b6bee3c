"""Only the context a method needs is given to the model (explorer.attribution.context)."""

import pytest
import torch
from torch import nn

import explorer as ex
from explorer.attribution.context import WHOLE_SEQUENCE_MAX, local_radius, model_input_span

KERNEL = 9  # receptive field of the recording model (radius 4)


class Recording(nn.Module):
    """A local model (one conv, receptive field 9) whose target sums its per-position output;
    it records the length of every input it is given."""

    def __init__(self, receptive_field: int | None = KERNEL, min_length: int = 1, profile: bool = False):
        super().__init__()
        self.profile = profile
        torch.manual_seed(0)
        self.conv = nn.Conv1d(4, 2, KERNEL, padding=KERNEL // 2)
        if receptive_field is not None:
            self.receptive_field = receptive_field
        self.min_length = min_length
        self.lengths: list[int] = []

    def forward(self, x):
        self.lengths.append(int(x.shape[-1]))
        y = torch.tanh(self.conv(x))  # (N, 2, L)
        return y if self.profile else y.sum(-1)  # (N, 2): a sum over positions


def random_one_hot(length: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = torch.zeros(4, length)
    x[torch.randint(4, (length,), generator=g), torch.arange(length)] = 1.0
    return x


@pytest.mark.parametrize("method", ["ism", "saliency", "ig"])
def test_a_window_of_a_big_sequence_gives_the_model_only_its_context(method):
    model = Recording()
    length, start, end = 5_000_000, 2_500_000, 2_500_020
    x = random_one_hot(length)
    options = {"fast": False} if method == "ism" else {"n_steps": 8, "n_shuffles": 1} if method == "ig" else {}
    res = ex.attribute(model, x, method, 0, start, end, cache=False, **options)
    flank = 2 * (KERNEL // 2)
    assert model.lengths and max(model.lengths) == end - start + 2 * flank, model.lengths[:5]
    assert res.values.shape == (4, 20) and (res.start, res.end, res.genome_start) == (start, end, start)
    assert res.diagnostics["model_input"] == [start - flank, end + flank]
    assert torch.equal(res.one_hot, x[:, start:end])


def test_sum_pooled_maps_equal_those_of_the_whole_sequence():
    """The independent check: the same call given the whole sequence (context=None)."""
    model = Recording()
    x = random_one_hot(600, seed=1)
    for method, options in (("ism", {"fast": False}), ("saliency", {})):
        local = ex.attribute(model, x, method, 1, 300, 320, cache=False, context=2 * (KERNEL // 2), **options)
        whole = ex.attribute(model, x, method, 1, 300, 320, cache=False, **options)  # 600 bp: given whole
        assert local.diagnostics["model_input"] == [292, 328] and "model_input" not in whole.diagnostics
        f = whole.diagnostics.get("reference_score") or 1.0
        # float32 rounding of f(mutant) - f(reference) grows with |f| (a sum over 600 positions)
        tol = 1e-5 * max(1.0, abs(f))
        assert torch.allclose(local.values, whole.values, atol=tol, rtol=0), (method, (local.values - whole.values).abs().max())
        assert local.values.abs().max() > 100 * tol  # the maps are not trivially zero


def test_span_is_clamped_widened_to_min_length_and_can_be_chosen():
    model = Recording(min_length=100)
    big = WHOLE_SEQUENCE_MAX + 1
    assert model_input_span(model, big, 0, 10, "auto") == (0, 100)  # clamped at the start, widened
    assert model_input_span(model, big, big - 5, big, "auto") == (big - 100, big)
    lo, hi = model_input_span(model, big, 500, 510, "auto")
    assert hi - lo == 100 and lo <= 492 and hi >= 518
    assert model_input_span(Recording(), big, 500, 510, "auto") == (492, 518)
    # up to WHOLE_SEQUENCE_MAX the model sees the whole sequence, as the app's loci always did
    assert model_input_span(Recording(), WHOLE_SEQUENCE_MAX, 500, 510, "auto") == (0, WHOLE_SEQUENCE_MAX)
    assert model_input_span(Recording(), 1000, 500, 510, 50) == (450, 560)
    assert model_input_span(Recording(), 1000, 500, 510, None) == (0, 1000)
    with pytest.raises(ValueError, match="context must be 'auto', a number of bases or None; got 'wide'"):
        model_input_span(Recording(), 1000, 500, 510, "wide")
    with pytest.raises(ValueError, match="at least 0 bases; got -3"):
        model_input_span(Recording(), 1000, 500, 510, -3)


class Cardless(nn.Module):
    """A user's local model with no card and no receptive_field attribute: conv k=9, then a
    dilated conv k=3, dilation 4 (receptive field 17), summed over positions; with
    ``crop``, the first conv is unpadded (the output lacks 4 positions at each end)."""

    def __init__(self, crop: bool = False, profile: bool = False):
        super().__init__()
        torch.manual_seed(3)
        self.profile = profile
        self.conv1 = nn.Conv1d(4, 8, KERNEL, padding=0 if crop else KERNEL // 2)
        self.conv2 = nn.Conv1d(8, 2, 3, padding=4, dilation=4)

    def forward(self, x):
        y = torch.tanh(self.conv2(torch.relu(self.conv1(x))))
        return y if self.profile else y.sum(-1)


class PooledGate(nn.Module):
    """Not local: every position is scaled by a mean over the whole input."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(4)
        self.conv = nn.Conv1d(4, 2, 5, padding=2)
        self.lengths: list[int] = []

    def forward(self, x):
        self.lengths.append(int(x.shape[-1]))
        y = self.conv(x)
        return (y * y.mean(-1, keepdim=True)).sum(-1)


@pytest.mark.parametrize("crop", [False, True])
def test_a_cardless_model_is_cut_with_the_receptive_field_of_its_graph(crop):
    x = random_one_hot(WHOLE_SEQUENCE_MAX + 4_000, seed=2)
    model = torch.jit.trace(Cardless(crop).eval(), x[None, :, :1000])  # a TorchScript file as users bring it
    radius, trim = local_radius(model)
    assert (radius, trim) == (8, 0)  # a pooled output: the crop is inside the flank
    profile = torch.jit.trace(Cardless(crop, profile=True).eval(), x[None, :, :1000])
    assert local_radius(profile) == (8, 4 if crop else 0)  # a profile 8 bp shorter than its input
    flank = 2 * radius + trim
    start, end = 60_000, 60_020
    for method, options in (("ism", {"fast": False}), ("saliency", {})):
        local = ex.attribute(model, x, method, 1, start, end, cache=False, **options)
        whole = ex.attribute(model, x, method, 1, start, end, cache=False, context=None, **options)
        assert local.diagnostics["model_input"] == [start - flank, end + flank]
        f = whole.diagnostics.get("reference_score") or 1.0
        tol = 2e-6 * max(1.0, abs(f))  # float32 rounding of f, a sum over 104 kb (seen: 1.9e-7 |f|)
        assert torch.allclose(local.values, whole.values, atol=tol, rtol=0), (method, (local.values - whole.values).abs().max())
        assert local.values.abs().max() > 50 * tol


def test_unknown_locality_or_an_output_window_gives_the_whole_sequence():
    blind = PooledGate()
    assert local_radius(blind) is None  # its graph is not local: a per-position value gated by a mean
    blind.lengths.clear()
    ex.attribute(blind, random_one_hot(WHOLE_SEQUENCE_MAX + 10), "saliency", 0, 1000, 1010, cache=False,
                 context="auto")
    assert set(blind.lengths) == {WHOLE_SEQUENCE_MAX + 10}
    profile = Recording(profile=True)  # output positions are those of the whole input
    ex.attribute(profile, random_one_hot(3000), "saliency", 0, 1000, 1010, cache=False, context=8,
                 window=(990, 1020))
    assert set(profile.lengths) == {3000}


def test_chunks_arrive_in_the_coordinates_of_the_whole_sequence():
    model = Recording()
    chunks = []
    res = ex.attribute(model, random_one_hot(20_000), "ism", 0, 10_000, 10_600, cache=False, context=8,
                       on_chunk=lambda a, b, v: chunks.append((a, b, v.clone())))
    assert chunks and min(a for a, _, _ in chunks) == 10_000 and max(b for _, b, _ in chunks) == 10_600
    for a, b, v in chunks:
        assert torch.allclose(res.values[:, a - 10_000:b - 10_000], v)
    assert max(model.lengths) <= 600 + 4 * (KERNEL // 2) + 2 * KERNEL  # fast ISM's own windows are smaller


def test_the_sample_model_is_local_with_its_cards_receptive_field():
    model = ex.load_sample_model()
    radius, trim = local_radius(model)
    assert 2 * radius + 1 == model.card["structure"]["receptive_field"] and trim == 0

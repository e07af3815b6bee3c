"""Targets: by name, index and window/reduction; every bad target with its message."""

import pytest

import explorer as ex
import torch
from torch import nn

from explorer.attribution.targets import Target, resolve_target
from explorer.attribution.toy_models import MotifDetector, ProfileModel
from explorer.io.models import ExplorerModel
from explorer.nets import SampleCNN


@pytest.fixture(scope="module")
def cnn():
    torch.manual_seed(0)
    return ExplorerModel(SampleCNN(n_tasks=2, channels=8), {"tasks": ["CTCF", "SPI1"], "min_length": 100})


def test_by_name_index_and_negative_index(cnn):
    x = torch.rand(3, 4, 200)
    y = cnn(x)
    by_name = resolve_target(cnn, "spi1")  # case-insensitive
    assert by_name.name == "SPI1" and by_name.task_index == 1 and by_name.reduce is None
    assert torch.equal(by_name(y), y[:, 1])
    assert resolve_target(cnn, 0).name == "CTCF"
    assert resolve_target(cnn, -1).task_index == 1
    assert resolve_target(cnn, by_name) == by_name


def test_plain_module_tasks_are_numbered():
    t = resolve_target(MotifDetector(), None)  # one output: no target needed
    assert t.task_index == 0 and t.name == "motif"
    net = torch.nn.Sequential(torch.nn.Conv1d(4, 3, 5), torch.nn.AdaptiveAvgPool1d(1), torch.nn.Flatten())
    assert resolve_target(net, 2).name == "task 2"


def test_bad_targets_name_the_tasks_and_shape(cnn):
    with pytest.raises(ValueError, match=r"choose a target.*CTCF.*SPI1.*\(1, 2\)"):
        resolve_target(cnn, None)
    with pytest.raises(ValueError, match=r"unknown target 'GATA1'.*CTCF.*output shape \(1, 2\)"):
        resolve_target(cnn, "GATA1")
    with pytest.raises(ValueError, match=r"index 2 is out of range for 2 outputs"):
        resolve_target(cnn, 2)
    with pytest.raises(ValueError, match=r"per-position"):
        resolve_target(cnn, "CTCF", window=(0, 10))
    with pytest.raises(ValueError, match=r"single tensor"):
        resolve_target(cnn, "CTCF", output=1)


def test_profile_windows_and_reductions():
    model = ProfileModel(n_tasks=2)
    x = torch.rand(2, 4, 100)
    prof = model(x)
    expected = {
        "sum": prof[:, 1, 10:30].sum(-1),
        "mean": prof[:, 1, 10:30].mean(-1),
        "max": prof[:, 1, 10:30].amax(-1),
        "logsumexp": torch.logsumexp(prof[:, 1, 10:30], -1),
        "log_counts": torch.log1p(prof[:, 1, 10:30].sum(-1)),
    }
    for reduce, want in expected.items():
        t = resolve_target(model, 1, reduce=reduce, window=(10, 30), length=100)
        assert t.name == f"task 1 {reduce}[10:30]"
        assert torch.allclose(t(prof), want)
    whole = resolve_target(model, 0, length=100)
    assert whole.window == (0, 100) and torch.allclose(whole(prof), prof[:, 0].sum(-1))


def test_profile_bad_windows():
    model = ProfileModel(n_tasks=2)
    with pytest.raises(ValueError, match=r"window \[90, 120\) is out of range: the output has 100 positions"):
        resolve_target(model, 0, window=(90, 120), length=100)
    with pytest.raises(ValueError, match=r"window \[30, 30\) is empty"):
        resolve_target(model, 0, window=(30, 30), length=100)
    with pytest.raises(ValueError, match=r"reduce must be one of"):
        resolve_target(model, 0, reduce="median", length=100)
    t = resolve_target(model, 0, window=(50, 100), length=100)
    with pytest.raises(ValueError, match=r"does not fit the output's 60 positions"):
        t(model(torch.rand(1, 4, 60)))  # checked again on every call


def test_tuple_output_heads():
    model = ProfileModel(n_tasks=2, counts_head=True)
    x = torch.rand(2, 4, 50)
    profile, counts = model(x)
    first = resolve_target(model, 0, reduce="sum", window=(5, 15), length=50)
    assert torch.allclose(first((profile, counts)), profile[:, 0, 5:15].sum(-1))
    counts_t = resolve_target(model, 1, output=1, length=50)
    assert counts_t.name == "output 1: task 1" and counts_t.reduce is None
    assert torch.equal(counts_t([profile, counts]), counts[:, 1])
    with pytest.raises(ValueError, match=r"output=2 is out of range: the model returns 2 outputs"):
        resolve_target(model, 0, output=2, length=50)


def test_target_is_frozen_and_hashable():
    t = Target(name="x", task_index=0)
    with pytest.raises(Exception):
        t.name = "y"
    assert hash(t) == hash(Target(name="x", task_index=0))


class _Heads(nn.Module):
    """BPNet-like (profile (N, 2, L), counts (N, 1)), optionally as a dict; declared names."""

    def __init__(self, tasks=None, heads=None, as_dict=False):
        super().__init__()
        self.conv = nn.Conv1d(4, 2, 5, padding=2)
        if tasks is not None:
            self.tasks = tasks
        if heads is not None:
            self.heads = heads
        self.as_dict = as_dict

    def forward(self, x):
        profile = self.conv(x)
        counts = torch.logsumexp(profile, -1).sum(1, keepdim=True)
        return {"profile": profile, "counts": counts} if self.as_dict else (profile, counts)


def test_heads_are_explicit_counts_by_default_and_profile_by_name():
    model = _Heads(heads=[{"name": "profile", "channels": ["plus", "minus"]}, "counts"])
    x = torch.rand(3, 4, 40)
    profile, counts = model(x)
    default = resolve_target(model, None, length=40)  # BPNet-style: the counts head
    assert default.name == "counts" and default.output == 1
    torch.testing.assert_close(default((profile, counts)), counts[:, 0])
    by_name = resolve_target(model, "counts", length=40)
    assert by_name == default
    minus = resolve_target(model, "profile:1", reduce="sum", window=(10, 30), length=40)
    assert minus.name == "profile:minus sum[10:30]" and (minus.output, minus.task_index) == (0, 1)
    torch.testing.assert_close(minus((profile, counts)), profile[:, 1, 10:30].sum(-1))
    assert resolve_target(model, "minus", length=40).task_index == 1  # a channel name alone
    assert resolve_target(model, "output 1", length=40) == default
    assert resolve_target(model, 0, window=(0, 5), length=40).output == 0  # a window implies a profile
    with pytest.raises(ValueError, match=r"head 'profile' has 2 channels; name one: \['profile:plus', 'profile:minus'\]"):
        resolve_target(model, "profile", length=40)
    with pytest.raises(ValueError, match=r"head 'profile' has no channel 'both'"):
        resolve_target(model, "profile:both", length=40)


def test_task_names_never_read_another_heads_channel():
    # the bug this guards against: tasks=["profile", "counts"] on a (profile (N, 2, L), counts)
    # model made target="counts" read channel 1 of the profile head
    model = _Heads(tasks=["profile", "counts"])
    x = torch.rand(2, 4, 30)
    profile, counts = model(x)
    with pytest.raises(ValueError, match=r"target 'counts' is ambiguous: it names counts and "
                                         r"profile:counts"):
        resolve_target(model, "counts", length=30)
    head = resolve_target(model, "output 1", length=30)
    torch.testing.assert_close(head((profile, counts)), counts[:, 0])


def test_dict_outputs_are_named_by_their_keys():
    model = _Heads(as_dict=True)
    x = torch.rand(2, 4, 30)
    y = model(x)
    counts = resolve_target(model, "counts", length=30)
    assert counts.output == 1 and counts.name == "counts"
    torch.testing.assert_close(counts(y), y["counts"][:, 0])
    profile = resolve_target(model, "profile:task 1", reduce="max", length=30)
    torch.testing.assert_close(profile(y), y["profile"][:, 1].amax(-1))
    assert resolve_target(model, 1, output="profile", length=30).task_index == 1


def test_bad_heads_are_named():
    class NotTensor(nn.Module):
        def forward(self, x):
            return {"profile": x.sum(1, keepdim=True), "note": "text"}

    with pytest.raises(ValueError, match=r"head 'note'\) has shape str"):
        resolve_target(NotTensor(), None, length=20)
    model = _Heads(heads=["profile", "counts", "extra"])
    with pytest.raises(ValueError, match="declares 3 heads .* but returns 2 outputs"):
        resolve_target(model, None, length=20)
    with pytest.raises(ValueError, match=r"output='shape' names no head"):
        resolve_target(_Heads(), 0, output="shape", length=20)


def test_target_choices_spell_every_target_default_first():
    cnn = ExplorerModel(SampleCNN(n_tasks=2, channels=8), {"tasks": ["CTCF", "SPI1"], "min_length": 100})
    assert ex.target_choices(cnn) == ["CTCF", "SPI1"]
    model = _Heads(heads=[{"name": "profile", "channels": ["plus", "minus"]}, "counts"])
    choices = ex.target_choices(model, length=40)
    assert choices == ["counts", "profile:plus", "profile:minus"]
    for choice in choices:  # each resolves to a distinct target
        resolve_target(model, choice, length=40)
    assert len({resolve_target(model, c, length=40).name for c in choices}) == 3


def test_contrast_of_two_tasks_is_their_difference(cnn):
    from explorer.attribution.targets import TargetSum, contrast_choices

    x = torch.rand(3, 4, 200)
    y = cnn(x)
    contrast = resolve_target(cnn, "CTCF - SPI1")
    assert isinstance(contrast, TargetSum) and contrast.name == "CTCF - SPI1"
    torch.testing.assert_close(contrast(y), y[:, 0] - y[:, 1])
    assert resolve_target(cnn, contrast) is contrast
    assert contrast_choices(cnn) == ["CTCF - SPI1", "SPI1 - CTCF"]
    with pytest.raises(ValueError, match=r"subtracts a target from itself"):
        resolve_target(cnn, "CTCF - ctcf")
    with pytest.raises(ValueError, match=r"unknown target 'NRF1'"):
        resolve_target(cnn, "CTCF - NRF1")
    with pytest.raises(ValueError, match=r"two targets with ' - ' between them"):
        resolve_target(cnn, "CTCF - SPI1 - CTCF")


def test_contrast_maps_are_differences_of_maps(cnn):
    gen = torch.Generator().manual_seed(1)
    x = torch.nn.functional.one_hot(torch.randint(0, 4, (200,), generator=gen), 4).T.float()
    for method in ("saliency", "ism"):
        both = ex.attribute(cnn, x, method=method, target="CTCF - SPI1", cache=False)
        a = ex.attribute(cnn, x, method=method, target="CTCF", cache=False)
        b = ex.attribute(cnn, x, method=method, target="SPI1", cache=False)
        scale = float((a.values - b.values).abs().max())
        assert scale > 0 and both.target == "CTCF - SPI1"
        torch.testing.assert_close(both.values, a.values - b.values, atol=1e-5 * scale, rtol=1e-4)


def test_a_targets_own_name_resolves_back_to_it():
    model = ExplorerModel(ProfileModel(), {"tasks": ["plus", "minus"], "min_length": 50})
    t = resolve_target(model, "minus", window=(3, 9), reduce="mean", length=100)
    assert t.name == "minus mean[3:9]"
    assert resolve_target(model, t.name, length=100) == t
    both = resolve_target(model, "plus sum[0:5] - minus sum[0:5]", length=100)
    assert [term.window for _w, term in both.terms] == [(0, 5), (0, 5)]

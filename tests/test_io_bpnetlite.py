"""bpnet-lite models (the optional extra ``bpnet``) load from the file alone and are explained right.

A small seeded bpnet-lite BPNet (and a ChromBPNet) is built in the test, saved as bpnet-lite
saves it (a full pickle) and as a weights-only checkpoint; each loads with ``load_model``,
names its heads ``profile`` and ``counts``, reads its lengths from ``trimming``, equals the
raw bpnet-lite output with zero control tracks, and its ISM equals brute force.
"""

import time

import pytest
import torch

bpnetlite = pytest.importorskip(
    "bpnetlite", reason="bpnet-lite is not installed (optional extra 'bpnet': make install adds it with "
                        "pip install --no-deps bpnet-lite==1.1.0 h5py)")

import explorer as ex  # noqa: E402
from explorer.io.bpnetlite import CONFIG_KEY, save_bpnetlite  # noqa: E402
from explorer.io.models import ModelLoadError  # noqa: E402
from brute_force import brute_force_ism

TRIM = 40  # a small model's trimming (the default for 3 layers is 47 + 14 = 61)
LENGTH = 2 * TRIM + 60  # 60 profile positions


def seeded_bpnet(seed=0, n_control_tracks=2, n_outputs=2, n_layers=3, trimming=TRIM):
    torch.manual_seed(seed)
    net = bpnetlite.BPNet(n_filters=8, n_layers=n_layers, n_outputs=n_outputs,
                          n_control_tracks=n_control_tracks, trimming=trimming, verbose=False).eval()
    with torch.no_grad():  # larger weights than the default init: effects far from zero
        for p in net.parameters():
            p.mul_(2.0)
    return net


def one_hot(length, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.nn.functional.one_hot(torch.randint(0, 4, (length,), generator=gen), 4).T.float()


def raw(net, x):
    """The bpnet-lite model's own output for one-hot ``x (4, L)``, controls all zero."""
    with torch.no_grad():
        if net.n_control_tracks:
            return net(x[None], torch.zeros(1, net.n_control_tracks, x.shape[-1]))
        return net(x[None])


def brute_force(net, x, score, positions):
    """``(4, len(positions))``: ``score(mutant) - score(x)`` for every substitution, one by one."""
    return brute_force_ism(lambda s: score(raw(net, s)), x, positions)[0]


def fast(res, n_ctl=2):
    """The fast path ran and kept its values (no fallback to plain ISM): from the captured graph
    for a BPNet without control tracks (its card prefers it), else on the declared staged trunk."""
    d = res.diagnostics
    path = "graph" if n_ctl == 0 else "stages"
    return d.ism_path == "fast" and d.fast_ism and d.fast_ism_path == path and not d.fast_ism_fallback


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """{(form, n_control_tracks): (path, bpnet-lite model)} for both forms and both control settings."""
    root = tmp_path_factory.mktemp("bpnetlite")
    files = {}
    for n_ctl in (2, 0):
        net = seeded_bpnet(seed=n_ctl, n_control_tracks=n_ctl)
        pickle_path = root / f"bpnet_ctl{n_ctl}.torch"
        torch.save(net, pickle_path)  # what bpnet-lite's fit() writes
        files[("pickle", n_ctl)] = (pickle_path, net)
        files[("checkpoint", n_ctl)] = (save_bpnetlite(net, root / f"bpnet_ctl{n_ctl}.pt"), net)
    return files


def load(path, form):
    return ex.load_model(path, trusted=(form == "pickle"), device="cpu")


@pytest.mark.parametrize("form", ["pickle", "checkpoint"])
@pytest.mark.parametrize("n_ctl", [2, 0])
def test_loads_with_heads_lengths_and_structure(saved, form, n_ctl):
    path, net = saved[(form, n_ctl)]
    tic = time.perf_counter()
    model = load(path, form)
    took = time.perf_counter() - tic
    assert took < 10, took
    assert model.kind == form
    assert [h["name"] for h in model.heads] == ["profile", "counts"]
    assert model.heads[0]["channels"] == ["strand 0", "strand 1"]
    assert model.tasks == ["strand 0", "strand 1"]
    assert model.min_length == 2 * TRIM + 1 and model.input_length is None
    assert model.card["trimming"] == TRIM and model.card["profile_offset"] == TRIM
    assert model.card["structure"]["heads"][0] == {"pool": "crop", "conv": "fconv", "trim": TRIM}
    assert model.card["structure"]["heads"][1]["trim"] == TRIM - 37
    notes = " ".join(model.card["notes"])
    assert ("control tracks filled with zeros" in notes) == bool(n_ctl)
    assert model.card.get("prefer") == (None if n_ctl else "graph")
    x = one_hot(LENGTH, seed=1)
    with torch.no_grad():
        profile, counts = model(x[None])
    want_profile, want_counts = raw(net, x)
    assert profile.shape == (1, 2, LENGTH - 2 * TRIM) and counts.shape == (1, 1)
    torch.testing.assert_close(profile, want_profile, rtol=0, atol=1e-5)
    torch.testing.assert_close(counts, want_counts, rtol=0, atol=1e-5)


def test_untrusted_pickle_is_refused(saved):
    path, _ = saved[("pickle", 2)]
    with pytest.raises(ModelLoadError, match="trusted=True"):
        ex.load_model(path, device="cpu")


POSITIONS = [0, 1, 37, 70, 71, 90, LENGTH - 2, LENGTH - 1]


@pytest.mark.parametrize("form", ["pickle", "checkpoint"])
@pytest.mark.parametrize("n_ctl", [2, 0])
def test_ism_of_counts_and_profile_equals_brute_force_on_the_fast_path(saved, form, n_ctl):
    path, net = saved[(form, n_ctl)]
    model = load(path, form)
    x = one_hot(LENGTH, seed=2)
    # default target: the counts head
    res = ex.attribute(model, x, "ism", cache=False)
    assert fast(res, n_ctl), res.diagnostics
    want = brute_force(net, x, lambda y: y[1][0, 0], POSITIONS)
    got = res.values[:, POSITIONS].double()
    assert float(want.abs().max()) > 1e-3  # the check is not vacuous
    assert float((got - want).abs().max()) < 1e-5
    # a profile channel reduced (summed) over a window of output positions
    a, b = 20, 30
    res = ex.attribute(model, x, "ism", target="profile:1", window=(a, b), cache=False)
    assert fast(res, n_ctl), res.diagnostics
    want = brute_force(net, x, lambda y: y[0][0, 1, a:b].sum(), POSITIONS)
    got = res.values[:, POSITIONS].double()
    assert float(want.abs().max()) > 1e-3
    assert float((got - want).abs().max()) < 1e-5 * max(1.0, float(want.abs().max()))


def test_trimming_below_the_profile_radius(tmp_path):
    """bpnet-lite pools counts over h[max(t - 37, 0):]: with t = 5 the counts read the whole trunk."""
    net = seeded_bpnet(seed=5, n_control_tracks=0, n_outputs=1, n_layers=2, trimming=5)
    model = ex.load_model(save_bpnetlite(net, tmp_path / "t5.pt"), device="cpu")
    assert model.min_length == 11 and model.tasks == ["task 0"]
    assert model.card["structure"]["heads"][1]["trim"] == 0
    x = one_hot(60, seed=3)
    res = ex.attribute(model, x, "ism", cache=False)
    assert fast(res, n_ctl=0), res.diagnostics
    positions = [0, 29, 59]
    want = brute_force(net, x, lambda y: y[1][0, 0], positions)
    assert float((res.values[:, positions].double() - want).abs().max()) < 1e-5


def test_chrombpnet_loads_and_sums_its_networks(tmp_path):
    torch.manual_seed(7)
    bias = bpnetlite.BPNet(n_filters=4, n_layers=2, n_outputs=1, n_control_tracks=0, trimming=TRIM,
                           verbose=False)
    acc = bpnetlite.BPNet(n_filters=8, n_layers=3, n_outputs=1, n_control_tracks=0, trimming=TRIM + 5,
                          verbose=False)
    chrom = bpnetlite.ChromBPNet(bias, acc, name="tiny").eval()
    for form, path in (("pickle", tmp_path / "chrom.torch"), ("checkpoint", tmp_path / "chrom.pt")):
        torch.save(chrom, path) if form == "pickle" else save_bpnetlite(chrom, path)
        model = load(path, form)
        assert [h["name"] for h in model.heads] == ["profile", "counts"]
        assert model.min_length == 2 * (TRIM + 5) + 1 and model.card["trimming"] == TRIM + 5
        assert "structure" not in model.card  # two networks summed: found from the graph
        x = one_hot(LENGTH, seed=4)
        with torch.no_grad():
            profile, counts = model(x[None])
            want_profile, want_counts = chrom(x[None])
        assert profile.shape == (1, 1, LENGTH - 2 * (TRIM + 5))
        torch.testing.assert_close(profile, want_profile, rtol=0, atol=1e-5)
        torch.testing.assert_close(counts, want_counts, rtol=0, atol=1e-5)
    res = ex.attribute(model, x, "ism", cache=False)
    d = res.diagnostics
    assert d.ism_path == "fast" and d.fast_ism_path == "graph" and not d.fast_ism_fallback, d.fast_ism_reason
    positions = [0, 50, LENGTH - 1]
    want = brute_force(chrom, x, lambda y: y[1][0, 0], positions)
    assert float((res.values[:, positions].double() - want).abs().max()) < 1e-5


def test_bare_state_dict_and_bad_config_say_what_to_do(tmp_path):
    net = seeded_bpnet(seed=0, n_control_tracks=2)
    bare = tmp_path / "bare.pt"
    torch.save(net.state_dict(), bare)
    with pytest.raises(ModelLoadError, match=r"bare bpnet-lite state dict.*'n_control_tracks': 2.*bpnet_lite_config"):
        ex.load_model(bare, device="cpu")
    wrong = tmp_path / "wrong.pt"
    torch.save({CONFIG_KEY: {"class": "BPNet", "n_filters": 16, "n_layers": 3, "n_outputs": 2,
                             "n_control_tracks": 2, "trimming": TRIM}, "state_dict": net.state_dict()}, wrong)
    with pytest.raises(ModelLoadError, match=r"do not fit.*'n_filters': 8"):
        ex.load_model(wrong, device="cpu")
    typo = tmp_path / "typo.pt"
    torch.save({CONFIG_KEY: {"class": "BPNet", "n_filter": 8}, "state_dict": net.state_dict()}, typo)
    with pytest.raises(ModelLoadError, match=r"unknown keys \['n_filter'\]"):
        ex.load_model(typo, device="cpu")

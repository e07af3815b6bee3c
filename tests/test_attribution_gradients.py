"""IG completeness, and IG / saliency / DeepLIFT-SHAP on a model with a known answer."""

import warnings

import numpy as np
import pytest
import torch
from torch import nn

import explorer as ex
from explorer.attribution.deeplift import deeplift_shap
from explorer.attribution.gradients import integrated_gradients, make_baselines, saliency
from explorer.attribution.progress import Cancelled
from explorer.attribution.quadrature import AdaptiveTrapezoid, fixed_points
from explorer.attribution.targets import resolve_target
from explorer.attribution.toy_models import MotifDetector, ProfileModel, plant
from explorer.io.models import ExplorerModel
from explorer.nets import SampleCNN

MOTIF = "GATAAGGC"
AT = 140  # 0-based position of the planted motif


@pytest.fixture(scope="module")
def detector():
    return MotifDetector(MOTIF).eval()


@pytest.fixture(scope="module")
def planted():
    return plant(MOTIF, 300, AT, seed=3)


def mass_on_motif(values):
    per_base = values.abs().sum(0)
    return float(per_base[AT:AT + len(MOTIF)].sum() / per_base.sum())


def test_baselines_are_seeded_and_shaped(planted):
    a = make_baselines(planted, "shuffle", n_shuffles=3, random_state=7)
    assert a.shape == (3, 4, 300) and torch.equal(a, make_baselines(planted, "shuffle", 3, 7))
    assert not torch.equal(a, make_baselines(planted, "shuffle", 3, 8))
    assert torch.equal(a.sum((0, 2)), planted.sum(1) * 3)  # same base composition
    assert torch.all(make_baselines(planted, "uniform") == 0.25)
    with pytest.raises(ValueError, match="baseline must be one of"):
        make_baselines(planted, "gaussian")


@pytest.mark.parametrize("method", ["saliency", "ig", "deeplift_shap"])
def test_known_answer_mass_falls_on_the_motif(detector, planted, method):
    opts = {"n_shuffles": 3} if method != "saliency" else {}
    res = ex.attribute(detector, planted, method=method, cache=False, **opts)
    assert res.values.shape == (4, 300)
    assert mass_on_motif(res.values) > 0.95
    # gradient maps sit on the observed base only
    assert torch.all(res.values[planted == 0] == 0)  # gradient x 0 is exactly 0 in IEEE arithmetic
    # and mutating the motif lowers the output: positive contributions there
    assert float(res.per_base[AT:AT + len(MOTIF)].sum()) > 0


def test_deeplift_is_exact_on_a_relu_model(detector, planted):
    target = resolve_target(detector, None, length=300)
    values, diag = deeplift_shap(detector, planted, target, n_shuffles=8)
    assert diag["convergence_delta_max"] < 1e-4 and diag["warnings"] == []
    assert diag["head_rule"] == "linear" and diag["unsupported_modules"] == []


def test_ig_completeness_all_baselines_small_model(detector, planted):
    target = resolve_target(detector, None, length=300)
    for baseline in ("zeros", "uniform", "shuffle"):
        values, diag = integrated_gradients(detector, planted, target, baseline=baseline, n_shuffles=3)
        assert diag["completeness_error"] < 0.01, (baseline, diag)
        fx, fb = diag["reference_score"], sum(diag["baseline_scores"]) / diag["n_baselines"]
        # the projected map still adds up (no N here): sum of per-base = f(x) - mean f(b)
        assert float(values.sum()) == pytest.approx(fx - fb, rel=0.02, abs=1e-3)


def test_ig_completeness_default_steps_on_sample_size_cnn():
    """The sample model's architecture (3 dilated convs, 64 channels, max-pool head), seeded."""
    torch.manual_seed(0)
    net = SampleCNN(n_tasks=2).eval()
    x = plant(MOTIF, 300, AT, seed=5)
    target = resolve_target(net, 0, length=300)
    for baseline in ("zeros", "uniform"):
        _, diag = integrated_gradients(net, x, target, baseline=baseline)
        assert diag["completeness_error"] < 0.01, (baseline, diag)


def test_ig_refines_steps_when_error_is_large(detector, planted):
    target = resolve_target(detector, None, length=300)
    _, coarse = integrated_gradients(detector, planted, target, baseline="zeros", n_steps=2,
                                     method="riemann_left", tolerance=1.0)
    assert coarse["completeness_error"] > 0.01 and coarse["n_steps"] == 2
    _, refined = integrated_gradients(detector, planted, target, baseline="zeros", n_steps=2,
                                      method="riemann_left", max_steps=256)
    assert refined["n_steps"] > 2 and refined["completeness_error"] < coarse["completeness_error"]
    _, capped = integrated_gradients(detector, planted, target, baseline="zeros", n_steps=2,
                                     method="riemann_left", max_steps=4)
    assert any("exceeds 1% for baseline 1 of 1" in w for w in capped["warnings"])


class LinearModel(nn.Module):
    """``f(z) = sum(w * z) + 0.5``, one output: its IG is ``(x - b) * w`` with any rule."""

    def __init__(self, length: int, seed: int = 0):
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        self.w = nn.Parameter(torch.randn(4, length, generator=generator))

    def forward(self, z):
        return ((z * self.w).sum((1, 2)) + 0.5)[:, None]


@pytest.mark.parametrize("method, n_steps", [("adaptive_trapezoid", 2), ("adaptive_trapezoid", 9),
                                             ("gausslegendre", 2), ("riemann_middle", 3)])
def test_ig_is_exact_on_a_linear_model(planted, method, n_steps):
    model = LinearModel(300).eval()
    target = resolve_target(model, None, length=300)
    values, diag = integrated_gradients(model, planted, target, n_shuffles=3, n_steps=n_steps, method=method)
    baselines = make_baselines(planted, "shuffle", 3)
    want = planted * ((planted - baselines) * model.w.detach()).sum(1).mean(0)
    scale = float(want.abs().max())
    torch.testing.assert_close(values, want, rtol=0, atol=1e-5 * scale)  # float32 sums of ~4 terms
    assert diag["completeness_error_max"] < 1e-5
    # a straight line needs no refinement, and the shared end point is evaluated once
    assert diag["n_steps_per_baseline"] == [n_steps] * 3 and diag["rounds"] == 1
    if method == "adaptive_trapezoid":
        assert diag["n_evaluations"] == 3 * (n_steps - 1) + 1


@pytest.fixture(scope="module")
def kinked():
    """A seeded 2-layer ReLU CNN with a global max-pool head (SampleCNN's shape, small),
    weights scaled so that f(x) - f(b) is O(1): many kinks along each path."""
    torch.manual_seed(0)
    net = SampleCNN(n_tasks=1, channels=8, kernel_sizes=(9, 5), dilations=(1, 2)).eval()
    with torch.no_grad():
        for module in net.trunk:
            if isinstance(module, nn.Conv1d):
                module.weight.mul_(3.0)
        net.linear.weight.mul_(4.0)
    x = plant(MOTIF, 200, 90, seed=5)
    return net, x, resolve_target(net, 0, length=200)


def captum_ig(net, x, target, baselines, n_steps):
    """captum, one baseline at a time: per-position maps ``(k, L)`` and |completeness deltas| ``(k,)``."""
    from captum.attr import IntegratedGradients

    ig = IntegratedGradients(lambda z: target(net(z)))
    maps, deltas = [], []
    for b in baselines:
        attr, delta = ig.attribute(x[None], b[None], n_steps=n_steps, method="gausslegendre",
                                   return_convergence_delta=True)
        maps.append(attr[0].double().sum(0))
        deltas.append(float(delta.abs().sum()))
    return torch.stack(maps), np.array(deltas)


def test_ig_same_rule_equals_captum(kinked):
    """Our batched engine with captum's rule gives captum's numbers (float32 rounding apart)."""
    net, x, target = kinked
    values, diag = integrated_gradients(net, x, target, n_shuffles=3, method="gausslegendre", n_steps=16,
                                        max_steps=16, tolerance=float("inf"))
    maps, deltas = captum_ig(net, x, target, make_baselines(x, "shuffle", 3), 16)
    want = maps.mean(0)
    assert diag["n_steps_per_baseline"] == [16, 16, 16]
    torch.testing.assert_close(values.double().sum(0), want, rtol=0, atol=1e-5 * float(want.abs().max()))
    assert diag["convergence_delta_abs_mean"] == pytest.approx(deltas.mean(), rel=1e-3, abs=1e-6)


def test_ig_defaults_agree_with_captum_at_many_steps(kinked):
    """Adaptive trapezoid at 1 % against captum at 256 Gauss-Legendre steps.

    A map position's error is at most its path's total error when a path's errors do not
    cancel across positions; so the mean maps may differ per position by the mean
    completeness delta of ours plus captum's.
    """
    net, x, target = kinked
    values, diag = integrated_gradients(net, x, target, n_shuffles=3)
    assert diag["completeness_error_max"] <= 0.01, diag
    maps, deltas = captum_ig(net, x, target, make_baselines(x, "shuffle", 3), 256)
    allowed = diag["convergence_delta_abs_mean"] + deltas.mean()
    diff = float((values.double().sum(0) - maps.mean(0)).abs().max())
    assert diff <= allowed, (diff, allowed)
    assert allowed < 0.1 * float(maps.mean(0).abs().max())  # and that bound is tight enough to mean something


def test_ig_stops_each_baseline_when_it_is_done(kinked):
    net, x, target = kinked
    _, diag = integrated_gradients(net, x, target, n_shuffles=4)
    used = diag["n_steps_per_baseline"]
    assert len(set(used)) > 1, used  # some paths need more points than others
    assert diag["completeness_error_max"] <= 0.01 and diag["warnings"] == []
    # nested: every point is evaluated once, the input (alpha = 1) once for all paths
    assert diag["n_evaluations"] == sum(n - 1 for n in used) + 1
    assert diag["rounds"] > 1 and diag["method"] == "adaptive_trapezoid"


def test_ig_progress_cancel_and_model_untouched(kinked):
    net, x, target = kinked
    net.linear.train()  # a mixed state the caller chose: left as it is
    modes = {name: m.training for name, m in net.named_modules()}
    weights = {k: v.clone() for k, v in net.state_dict().items()}
    seen = []
    integrated_gradients(net, x, target, n_shuffles=2, internal_batch_size=8, progress=seen.append)
    assert seen[0] == 0.0 and seen[-1] == 1.0 and seen == sorted(seen) and len(seen) > 3
    calls = []

    def stop_at_the_third(fraction):
        calls.append(fraction)
        return len(calls) < 3

    with pytest.raises(Cancelled):
        integrated_gradients(net, x, target, n_shuffles=2, internal_batch_size=8, progress=stop_at_the_third)
    assert len(calls) == 3  # nothing ran after the cancel
    assert {name: m.training for name, m in net.named_modules()} == modes
    assert all(torch.equal(v, weights[k]) for k, v in net.state_dict().items())
    assert all(p.grad is None for p in net.parameters())
    net.linear.eval()


def test_ig_rejects_bad_options(detector, planted):
    target = resolve_target(detector, None, length=300)
    with pytest.raises(ValueError, match="method must be one of"):
        integrated_gradients(detector, planted, target, method="simpson")
    with pytest.raises(ValueError, match="need 2 <= n_steps <= max_steps"):
        integrated_gradients(detector, planted, target, n_steps=300)


def test_fixed_rules_match_captum_points():
    from captum.attr._utils.approximation_methods import approximation_parameters

    for method in ("gausslegendre", "riemann_left", "riemann_right", "riemann_middle"):
        step_sizes, alphas = approximation_parameters(method)
        a, w = fixed_points(method, 7)
        np.testing.assert_allclose(a, alphas(7), rtol=0, atol=1e-6)  # captum's Riemann points are float32
        np.testing.assert_allclose(w, step_sizes(7), rtol=0, atol=1e-12)
    a, w = fixed_points("riemann_trapezoid", 5)
    np.testing.assert_allclose(a, [0, 0.25, 0.5, 0.75, 1]) and np.testing.assert_allclose(w.sum(), 1.0)


def test_adaptive_trapezoid_puts_points_at_a_jump():
    """A path gradient that jumps from 1 to 5 at alpha = 0.3 (two positions, one constant)."""

    def evaluate(alphas):
        g = np.where(alphas < 0.3, 1.0, 5.0)
        f = np.where(alphas < 0.3, alphas, 0.3 + 5.0 * (alphas - 0.3))
        return f, torch.tensor(np.stack([g - 0.5, np.full_like(g, 0.5)], 1), dtype=torch.float32)

    rule = AdaptiveTrapezoid(n_steps=5, max_steps=256)
    alphas = rule.start()
    while alphas.size:
        rule.add(alphas, *evaluate(alphas))
        alphas = rule.refine() if not rule.converged(1e-4) else np.empty(0)
    assert rule.relative_error() <= 1e-4 and rule.weights().sum() == pytest.approx(1.0, abs=1e-12)
    exact = torch.tensor([0.3 * 0.5 + 0.7 * 4.5, 0.5], dtype=torch.float64)
    torch.testing.assert_close(rule.integral(), exact, rtol=0, atol=1e-4 * 3.3)
    widths = np.diff(rule._alphas)
    narrowest = int(np.argmin(widths))
    assert rule._alphas[narrowest] <= 0.3 <= rule._alphas[narrowest + 1]
    # bisection homes in; a uniform mesh needs 4 h / 2 <= 3.3e-4 in the worst case: about 6,000 points
    assert rule.n_points < 40


def test_saliency_is_gradient_times_input(detector, planted):
    target = resolve_target(detector, None, length=300)
    values, diag = saliency(detector, planted, target)
    x = planted.clone().requires_grad_(True)
    detector(x[None]).sum().backward()
    assert torch.allclose(values, x.grad * planted)
    assert diag["reference_score"] == pytest.approx(float(detector(planted[None]).detach()))


def test_deeplift_surfaces_large_deltas_and_torchscript(planted):
    class FunctionalSigmoid(torch.nn.Module):  # torch.sigmoid is not a module: treated as linear
        def __init__(self):
            super().__init__()
            self.detector = MotifDetector(MOTIF)

        def forward(self, x):
            return torch.sigmoid(3 * (self.detector(x) - 1))

    model = FunctionalSigmoid().eval()
    target = resolve_target(model, None, length=300)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing leaks as a Python warning
        _, diag = deeplift_shap(model, plant(MOTIF, 300, AT, seed=3), target, n_shuffles=4)
    assert diag["convergence_delta_relative"] > 0.01
    assert any("convergence deltas are large" in w for w in diag["warnings"])
    scripted = torch.jit.script(MotifDetector(MOTIF).eval())
    _, diag = deeplift_shap(scripted, planted, target, n_shuffles=2)
    assert diag["torchscript"] and any("TorchScript" in w for w in diag["warnings"])


def test_deeplift_head_rule_on_trunk_head_network(planted):
    """SampleCNN's head uses amax (no module): the IG rule on its head keeps deltas small."""
    torch.manual_seed(0)
    net = SampleCNN(n_tasks=2, channels=16).eval()
    model = ExplorerModel(net, {"tasks": ["a", "b"], "min_length": 100})
    target = resolve_target(model, "a", length=300)
    _, with_rule = deeplift_shap(model, planted, target, n_shuffles=4)
    _, linear = deeplift_shap(model, planted, target, n_shuffles=4, head_rule="linear")
    assert with_rule["head_rule"] == "ig" and linear["head_rule"] == "linear"
    assert with_rule["convergence_delta_mean"] < linear["convergence_delta_mean"]


def test_deeplift_nonlinear_reduction_gets_a_rule():
    model = ProfileModel(n_tasks=1).eval()
    x = plant(MOTIF, 80, 30, seed=1)
    target = resolve_target(model, 0, reduce="logsumexp", window=(20, 50), length=80)
    values, diag = deeplift_shap(model, x, target, n_shuffles=4)
    assert values.shape == (4, 80) and diag["convergence_delta_relative"] < 0.01, diag


@pytest.mark.slow
@pytest.mark.skipif(not ex.SAMPLE_MODEL.is_file(), reason="the trained sample model has not landed")
def test_defaults_on_the_trained_sample_model():
    """IG defaults hold completeness < 1 %; DeepLIFT's head rule keeps the deltas small."""
    model = ex.load_sample_model(device="cpu")
    locus = ex.load_sample_locus()
    x = locus.one_hot[:, 850:1150]  # around the bookmark's CTCF site
    target = resolve_target(model, "CTCF", length=300)
    _, ig = integrated_gradients(model, x, target)
    assert ig["completeness_error"] < 0.01, ig
    _, dls = deeplift_shap(model, x, target, n_shuffles=4)
    _, linear = deeplift_shap(model, x, target, n_shuffles=4, head_rule="linear")
    assert dls["head_rule"] == "ig" and dls["convergence_delta_relative"] < 0.02, dls
    assert linear["convergence_delta_relative"] > 5 * dls["convergence_delta_relative"]

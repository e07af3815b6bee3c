"""IG completeness, and IG / saliency / DeepLIFT-SHAP on a model with a known answer."""

import warnings

import pytest
import torch

import explorer as ex
from explorer.attribution.deeplift import deeplift_shap
from explorer.attribution.gradients import integrated_gradients, make_baselines, saliency
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
    assert any("exceeds 1%" in w for w in capped["warnings"])


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

"""Gradient attributions: integrated gradients (captum) and saliency (gradient x input).

Both return maps projected onto the observed base: at each position the contributions of
the four rows (captum's ``(x - baseline) * mean gradient``) are summed and placed on the
base that is there, so ``values`` is non-zero only at observed bases and
``Attribution.per_base`` sums to ``f(x) - f(baseline)`` (up to the integration error).
N (all-zero) columns get 0.

Why captum: its :class:`captum.attr.IntegratedGradients` is the reference implementation
(Gauss-Legendre quadrature by default, batched internally, convergence deltas).
"""

from __future__ import annotations

import math
from typing import Callable

import torch
from torch import nn

from explorer.attribution.device import default_batch_size
from explorer.attribution.diagnostics import Diagnostics
from explorer.attribution.progress import ProgressCallback, report
from explorer.attribution.runtime import model_device
from explorer.attribution.targets import Target

#: IG baselines
BASELINES = ("shuffle", "zeros", "uniform")


def make_baselines(one_hot: torch.Tensor, baseline: str, n_shuffles: int = 5,
                   random_state: int = 0) -> torch.Tensor:
    """IG baselines for one ``(4, L)`` sequence: ``(k, 4, L)`` float32.

    ``"zeros"``: one all-zero input. ``"uniform"``: one input of 0.25 everywhere.
    ``"shuffle"``: ``n_shuffles`` dinucleotide shuffles of the sequence, seeded by
    ``random_state`` (same seed, same shuffles).
    """
    if baseline == "zeros":
        return torch.zeros(1, *one_hot.shape)
    if baseline == "uniform":
        return torch.full((1, *one_hot.shape), 0.25)
    if baseline == "shuffle":
        if int(n_shuffles) < 1:
            raise ValueError(f"n_shuffles must be >= 1; got {n_shuffles}")
        from explorer.io.sequences import dinucleotide_shuffle

        return dinucleotide_shuffle(one_hot.cpu(), n=int(n_shuffles), random_state=int(random_state))
    raise ValueError(f"baseline must be one of {BASELINES}; got {baseline!r}")


def _forward(model: nn.Module, target: Target) -> Callable[[torch.Tensor], torch.Tensor]:
    return lambda z: target(model(z))


def integrated_gradients(model: nn.Module, one_hot: torch.Tensor, target: Target, *,
                         baseline: str = "shuffle", n_shuffles: int = 5, n_steps: int = 64,
                         method: str = "gausslegendre", internal_batch_size: int | None = None,
                         random_state: int = 0, tolerance: float = 0.01, max_steps: int = 256,
                         progress: ProgressCallback = None) -> tuple[torch.Tensor, dict]:
    """Integrated gradients of ``target`` for one sequence, averaged over baselines.

    Parameters
    ----------
    model : nn.Module
        Takes ``(N, 4, L)``; runs where its weights are (in eval mode).
    one_hot : torch.Tensor, shape ``(4, L)``
        The whole sequence.
    target : Target
        What is explained.
    baseline : {"shuffle", "zeros", "uniform"}
        See :func:`make_baselines`.
    n_shuffles, random_state : int
        Number of dinucleotide-shuffled baselines and their seed (``baseline="shuffle"``).
    n_steps : int
        Integration points (captum ``n_steps``). For each baseline whose completeness
        error exceeds ``tolerance``, the integration is redone with twice the steps, up to
        ``max_steps`` (ReLU + max-pool models have kinks that few steps miss).
    method : str
        captum's quadrature, ``"gausslegendre"`` (default) or ``"riemann_trapezoid"`` etc.
    internal_batch_size : int, optional
        Inputs per forward/backward pass (default from the device and length).
    tolerance : float
        Target completeness error (relative); a warning is added if not reached.
    progress : callable, optional
        Called with the fraction done; False cancels.

    Returns
    -------
    (values, diagnostics)
        ``values``: ``(4, L)`` float32 CPU, projected onto the observed base (module
        docstring). ``diagnostics``, a
        :class:`~explorer.attribution.diagnostics.Diagnostics`: ``completeness_error``
        (mean over baselines of ``|sum attr - (f(x) - f(b))| / |f(x) - f(b)|``),
        ``completeness_error_max``,
        ``n_steps`` used, ``n_baselines``, ``reference_score`` (f(x)),
        ``baseline_scores`` (f(b) per baseline), ``warnings``.
    """
    from captum.attr import IntegratedGradients

    if n_steps < 2 or max_steps < n_steps:
        raise ValueError(f"need 2 <= n_steps <= max_steps; got n_steps={n_steps}, max_steps={max_steps}")
    device = model_device(model)
    x = one_hot.to(device, torch.float32)
    baselines = make_baselines(one_hot.cpu(), baseline, n_shuffles, random_state).to(device)
    k = baselines.shape[0]
    ibs = internal_batch_size or default_batch_size(device, x.shape[1], per_item=4)
    forward = _forward(model, target)
    ig = IntegratedGradients(forward)
    warnings: list[str] = []

    with torch.no_grad():
        fx = float(forward(x.unsqueeze(0))[0])
        fb = forward(baselines).double().cpu()
    ibs_total = max(1, math.ceil(int(n_steps) / ibs))
    calls = {"n": 0, "i": 0}

    def counted(z):
        # captum calls the forward once per internal batch: report progress from here
        report(progress, min(0.99, (calls["i"] + min(1.0, calls["n"] / ibs_total)) / k))
        calls["n"] += 1
        return forward(z)

    ig.forward_func = counted
    attrs, deltas, rel, used = [], [], [], []
    for i in range(k):  # one baseline at a time: bounded memory, progress per baseline
        steps = int(n_steps)
        gap = abs(fx - float(fb[i]))
        while True:
            calls["n"], calls["i"] = 0, i
            a, d = ig.attribute(x.unsqueeze(0), baselines[i:i + 1], n_steps=steps, method=method,
                                internal_batch_size=ibs, return_convergence_delta=True)
            delta = float(d.abs().sum())
            error_i = delta / max(gap, 1e-12)
            # more steps where the integral is off (kinks of ReLU/max-pool models)
            if error_i <= tolerance or steps * 2 > max_steps:
                break
            steps *= 2
        attrs.append(a[0].detach().double().cpu())
        deltas.append(delta)
        rel.append(error_i)
        used.append(steps)
    gap = (fx - fb).abs().numpy()
    error = float(sum(rel) / len(rel))
    steps = max(used)
    report(progress, 1.0)
    if error > tolerance:
        warnings.append(f"integrated gradients completeness error {error:.2%} exceeds {tolerance:.0%} "
                        f"even with n_steps={steps}; raise max_steps, or read the map with care")
    if float(gap.min()) < 1e-3 * max(1.0, abs(fx)):
        warnings.append("f(x) and f(baseline) are nearly equal for some baseline: the relative "
                        "completeness error is ill-conditioned there")
    mean_attr = torch.stack(attrs).mean(0)  # (4, L)
    values = (one_hot.cpu().double() * mean_attr.sum(0, keepdim=True)).float()
    diagnostics = Diagnostics(
        completeness_error=error, reference_score=fx, warnings=warnings,
        extra={"completeness_error_max": float(max(rel)),
               "convergence_delta_abs_mean": float(sum(deltas) / len(deltas)),
               "n_steps": steps, "n_steps_per_baseline": used, "method": method, "n_baselines": k,
               "baseline_scores": [float(v) for v in fb]})
    return values, diagnostics


def saliency(model: nn.Module, one_hot: torch.Tensor, target: Target) -> tuple[torch.Tensor, dict]:
    """Saliency as **gradient x input**: ``one_hot * d target / d one_hot``.

    Parameters
    ----------
    model : nn.Module
        Takes ``(N, 4, L)``; runs where its weights are (in eval mode).
    one_hot : torch.Tensor, shape ``(4, L)``
    target : Target

    Returns
    -------
    (values, diagnostics)
        ``values``: ``(4, L)`` float32 CPU, non-zero only at observed bases.
        ``diagnostics``, a :class:`~explorer.attribution.diagnostics.Diagnostics`:
        ``reference_score`` (f(x)), ``warnings`` (empty).
    """
    device = model_device(model)
    x = one_hot.to(device, torch.float32).unsqueeze(0).clone().requires_grad_(True)
    with torch.enable_grad():
        y = target(model(x))
        (grad,) = torch.autograd.grad(y.sum(), x)
    values = (grad[0] * x[0]).detach().float().cpu()
    return values, Diagnostics(reference_score=float(y.detach()[0]))

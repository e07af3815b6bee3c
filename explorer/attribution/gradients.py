"""Gradient attributions: integrated gradients and saliency (gradient x input).

Both return maps projected onto the observed base: at each position the contributions of
the four rows (``(x - baseline) * mean gradient``) are summed and placed on the base that
is there, so ``values`` is non-zero only at observed bases and ``Attribution.per_base``
sums to ``f(x) - f(baseline)`` (up to the integration error). N (all-zero) columns get 0.

Integrated gradients runs its own batched loop (torch autograd on the interpolated
inputs of all baselines at once) with the quadrature of
:mod:`explorer.attribution.quadrature`: by default a nested adaptive trapezoid that puts
points where the path crosses the model's kinks and stops each baseline as soon as its
completeness error is small enough. captum's :class:`captum.attr.IntegratedGradients`
stays the independent reference in the tests and the benchmark.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from torch import nn

from explorer.attribution.device import default_batch_size, run_in_batches
from explorer.attribution.diagnostics import Diagnostics
from explorer.attribution.progress import ProgressCallback, report
from explorer.attribution.quadrature import ADAPTIVE, DEFAULT_STEPS, QUADRATURES, make_rule
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


class _PathGradients:
    """Evaluates the path gradient of every baseline's path, in batches.

    At ``alpha`` on the path of baseline ``b`` the input is ``z = b + alpha (x - b)``;
    the result is ``f(z)`` and the per-position path gradient
    ``p = sum over rows of (x - b) * df/dz``, shape ``(L,)``. Every path ends at ``x``:
    the points at ``alpha = 1`` share one gradient at ``x``, computed in the batch of the
    first request that needs it.

    Parameters
    ----------
    forward : callable
        ``(N, 4, L) -> (N,)``: the target of the model.
    x : torch.Tensor, shape ``(4, L)``
        The sequence, on the model's device.
    baselines : torch.Tensor, shape ``(k, 4, L)``
        On the model's device.
    batch_size : int
        First number of inputs per pass (halved on out-of-memory).
    """

    def __init__(self, forward, x: torch.Tensor, baselines: torch.Tensor, batch_size: int):
        self.forward, self.x, self.baselines = forward, x, baselines
        self.batch_size = int(batch_size)
        self.n_evaluations = 0
        self._at_input: tuple[float, torch.Tensor] | None = None
        # path starts: the baselines, then x itself (its row gives the gradient at x)
        self._starts = torch.cat([baselines, x[None]])
        self._input_row = len(baselines)

    def _gradients(self, index: torch.Tensor, alphas: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(f (n,) float64 CPU, p (n, L) float32 CPU)`` for one batch of points; a row of
        ``index`` equal to the input's row keeps its gradient for :meth:`at_input`."""
        b = self._starts[index]
        d = self.x - b
        z = (b + alphas[:, None, None] * d).requires_grad_(True)
        with torch.enable_grad():
            y = self.forward(z)
            (grad,) = torch.autograd.grad(y.sum(), z)
        y = y.detach()
        rows = torch.nonzero(index == self._input_row).flatten()
        if rows.numel():
            self._at_input = (float(y[rows[0]]), grad[rows[0]])
        return y.double().cpu(), (grad * d).sum(1).float().cpu()

    def at_input(self) -> tuple[float, torch.Tensor]:
        """``f(x)`` and ``df/dz`` at ``x`` (``(4, L)``), computed once (here if no batch did)."""
        if self._at_input is None:
            z = self.x[None].clone().requires_grad_(True)
            with torch.enable_grad():
                y = self.forward(z)
                (grad,) = torch.autograd.grad(y.sum(), z)
            self._at_input = (float(y.detach()[0]), grad[0].detach())
            self.n_evaluations += 1
        return self._at_input

    def scores(self) -> tuple[float, torch.Tensor]:
        """``f(x)`` and ``f(b)`` per baseline (float64 CPU ``(k,)``), forward passes only."""
        with torch.no_grad():
            fx = float(self.forward(self.x[None])[0])
            fb = torch.cat([self.forward(self.baselines[i:i + self.batch_size]).double().cpu()
                            for i in range(0, len(self.baselines), self.batch_size)])
        return fx, fb

    def __call__(self, requests: dict[int, np.ndarray],
                 on_batch: Callable[[int], None] | None = None) -> dict[int, tuple[np.ndarray, torch.Tensor]]:
        """Evaluate points on the paths.

        Parameters
        ----------
        requests : dict
            ``{baseline index: alphas}``, alphas float64 ``(n,)`` in ``[0, 1]``.
        on_batch : callable, optional
            Called with the number of inner points (alpha < 1) done after each batch.

        Returns
        -------
        dict
            The same keys, ``(f float64 (n,), p float32 (n, L))`` in the order asked for.
        """
        keys = [(k, float(a)) for k, alphas in requests.items() for a in alphas]
        f = np.empty(len(keys))
        p = torch.empty(len(keys), self.x.shape[1])
        ends = [i for i, (_, a) in enumerate(keys) if a >= 1.0]
        inner = [i for i, (_, a) in enumerate(keys) if a < 1.0]
        batch = [keys[i] for i in inner]
        if ends and self._at_input is None:
            batch.append((self._input_row, 0.0))
        if batch:
            f_batch, p_batch = self._batched(batch, on_batch)
            f[inner], p[inner] = f_batch[:len(inner)], p_batch[:len(inner)]
        if ends:
            fx, grad = self.at_input()
            for i in ends:
                f[i], p[i] = fx, ((self.x - self.baselines[keys[i][0]]) * grad).sum(0).float().cpu()
        out, start = {}, 0
        for k, alphas in requests.items():
            out[k] = (f[start:start + len(alphas)], p[start:start + len(alphas)])
            start += len(alphas)
        return out

    def _batched(self, keys: list[tuple[int, float]], on_batch) -> tuple[np.ndarray, torch.Tensor]:
        """``(f (n,), p (n, L))`` at ``keys`` = ``[(baseline, alpha), ...]``, in batches."""
        index = torch.tensor([k for k, _ in keys], device=self.x.device)
        alphas = torch.tensor([a for _, a in keys], dtype=self.x.dtype, device=self.x.device)
        parts, self.batch_size = run_in_batches(lambda i, j: self._gradients(index[i:j], alphas[i:j]),
                                                len(keys), self.batch_size, self.x.device, on_batch)
        self.n_evaluations += len(keys)
        return torch.cat([part[0] for part in parts]).numpy(), torch.cat([part[1] for part in parts])


def _integrate(rules: list, path: _PathGradients, tolerance: float, progress: ProgressCallback) -> int:
    """Evaluate and refine every rule until its completeness error is within ``tolerance``.

    All the points one round asks for, over all baselines, go through the model together;
    a baseline whose error is small enough (or whose rule cannot refine) gets no more.

    Returns
    -------
    int
        The number of rounds.
    """
    requests = {i: rule.start() for i, rule in enumerate(rules)}
    done, rounds, shown = 0, 0, [0.0]

    def show(fraction: float) -> None:
        shown[0] = max(shown[0], min(0.99, fraction))
        report(progress, shown[0])

    show(0.0)
    while requests:
        size = sum(len(a) for a in requests.values())
        # the size of the next round is unknown: assume it is this one's
        results = path(requests, on_batch=lambda n: show((done + n) / (done + 2 * size)))
        for i, (f, p) in results.items():
            rules[i].add(requests[i], f, p)
        done += size
        rounds += 1
        requests = {}
        for i, rule in enumerate(rules):
            if not rule.converged(tolerance):
                more = rule.refine()
                if more.size:
                    requests[i] = more
        show(done / (done + sum(len(a) for a in requests.values())))
    return rounds


def _make_rules(method: str, path: _PathGradients, n_steps: int, max_steps: int) -> list:
    """One rule per baseline. Fixed rules need the scores first (forward passes only)."""
    k = len(path.baselines)
    if method == ADAPTIVE:
        return [make_rule(method, n_steps, max_steps) for _ in range(k)]
    fx, fb = path.scores()
    return [make_rule(method, n_steps, max_steps, float(fb[i]), fx) for i in range(k)]


def integrated_gradients(model: nn.Module, one_hot: torch.Tensor, target: Target, *,
                         baseline: str = "shuffle", n_shuffles: int = 5, n_steps: int = DEFAULT_STEPS,
                         method: str = ADAPTIVE, internal_batch_size: int | None = None,
                         random_state: int = 0, tolerance: float = 0.01, max_steps: int = 256,
                         progress: ProgressCallback = None) -> tuple[torch.Tensor, dict]:
    """Integrated gradients of ``target`` for one sequence, averaged over baselines.

    All baselines' paths go through the model together, in batches of
    ``internal_batch_size`` inputs; each baseline gets more points only while its
    completeness error ``|sum attr - (f(x) - f(b))| / |f(x) - f(b)|`` exceeds
    ``tolerance`` (see :mod:`explorer.attribution.quadrature` for the rules).

    Parameters
    ----------
    model : nn.Module
        Takes ``(N, 4, L)``; runs where its weights are, as it is (put it in eval mode
        first: :func:`explorer.attribute` does). Its state and weights are not changed.
    one_hot : torch.Tensor, shape ``(4, L)``
        The whole sequence.
    target : Target
        What is explained.
    baseline : {"shuffle", "zeros", "uniform"}
        See :func:`make_baselines`.
    n_shuffles : int
        Number of dinucleotide-shuffled baselines (``baseline="shuffle"``).
    n_steps : int
        Points of the first round per baseline (>= 2). ``"adaptive_trapezoid"``: evenly
        spaced from the baseline (alpha = 0) to the input (alpha = 1), both included; each
        further round bisects the quarter of the intervals whose trapezoid is most likely
        wrong, keeping every point. Fixed rules: the rule's points; each further round
        has twice as many (all new).
    method : str
        ``"adaptive_trapezoid"`` (default) or one of captum's fixed rules,
        ``"gausslegendre"``, ``"riemann_left"``, ``"riemann_right"``, ``"riemann_middle"``,
        ``"riemann_trapezoid"``.
    internal_batch_size : int, optional
        Inputs per forward/backward pass (default from the device and length; halved on
        out-of-memory).
    random_state : int
        Seed of the shuffled baselines (``baseline="shuffle"``).
    tolerance : float
        Target completeness error (relative) of each baseline; a warning names the
        baselines that do not reach it within ``max_steps`` points.
    max_steps : int
        The most points per baseline (ReLU + max-pool models have kinks that few points
        miss).
    progress : callable, optional
        Called with the fraction done; False cancels (:class:`Cancelled`).

    Returns
    -------
    (values, diagnostics)
        ``values``: ``(4, L)`` float32 CPU, projected onto the observed base (module
        docstring). ``diagnostics``, a
        :class:`~explorer.attribution.diagnostics.Diagnostics`: ``completeness_error``
        (mean over baselines of the relative completeness error),
        ``completeness_error_max``, ``convergence_delta_abs_mean`` (mean of
        ``|sum attr - (f(x) - f(b))|``), ``n_steps`` (the most points a baseline used),
        ``n_steps_per_baseline``, ``n_evaluations`` (gradient passes in all, the shared
        one at the input counted once), ``rounds``, ``method``, ``n_baselines``,
        ``reference_score`` (f(x)), ``baseline_scores`` (f(b) per baseline), ``warnings``.

    Raises
    ------
    ValueError
        Unknown method or baseline; ``n_steps`` and ``max_steps`` not ``2 <= n_steps <=
        max_steps``.
    Cancelled
        The progress callback returned False.
    """
    if method not in QUADRATURES:
        raise ValueError(f"method must be one of {QUADRATURES}; got {method!r}")
    if n_steps < 2 or max_steps < n_steps:
        raise ValueError(f"need 2 <= n_steps <= max_steps; got n_steps={n_steps}, max_steps={max_steps}")
    device = model_device(model)
    x = one_hot.to(device, torch.float32)
    baselines = make_baselines(one_hot.cpu(), baseline, n_shuffles, random_state).to(device)
    batch = internal_batch_size or default_batch_size(device, x.shape[1], per_item=4)
    path = _PathGradients(_forward(model, target), x, baselines, batch)
    rules = _make_rules(method, path, int(n_steps), int(max_steps))
    rounds = _integrate(rules, path, tolerance, progress)
    report(progress, 1.0)
    fx = rules[0].f_end

    mean_attr = torch.stack([rule.integral() for rule in rules]).mean(0)  # (L,)
    values = (one_hot.cpu().double() * mean_attr).float()
    rel = [rule.relative_error() for rule in rules]
    used = [rule.n_points for rule in rules]
    fb = [rule.f_start for rule in rules]
    diagnostics = Diagnostics(
        completeness_error=float(np.mean(rel)), reference_score=fx,
        warnings=_warnings(rel, used, [rule.gap for rule in rules], fx, tolerance),
        extra={"completeness_error_max": float(max(rel)),
               "convergence_delta_abs_mean": float(np.mean([abs(rule.error()) for rule in rules])),
               "n_steps": max(used), "n_steps_per_baseline": used, "n_evaluations": path.n_evaluations,
               "rounds": rounds, "method": method, "n_baselines": len(rules), "baseline_scores": fb})
    return values, diagnostics


def _warnings(rel: list[float], used: list[int], gaps: list[float], fx: float, tolerance: float) -> list[str]:
    out = []
    above = [i for i, e in enumerate(rel) if e > tolerance]
    if above:
        which = ", ".join(str(i + 1) for i in above)
        out.append(f"integrated gradients completeness error exceeds {100 * tolerance:g}% for baseline "
                   f"{which} of {len(rel)} (largest {max(rel):.2%}) even with n_steps="
                   f"{max(used[i] for i in above)}; raise max_steps, or read the map with care")
    if min(abs(g) for g in gaps) < 1e-3 * max(1.0, abs(fx)):
        out.append("f(x) and f(baseline) are nearly equal for some baseline: the relative "
                   "completeness error is ill-conditioned there")
    return out


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

"""Quadrature on the integrated-gradients path ``alpha in [0, 1]``, one baseline at a time.

Integrated gradients needs ``A = integral_0^1 p(alpha) d alpha`` where ``p(alpha)`` is the
per-position path gradient ``sum over rows of (x - b) * grad f(b + alpha (x - b))``
(shape ``(L,)``), and ``sum(A) = f(x) - f(b)`` (completeness). A *rule* asks for the
points ``alpha`` it wants evaluated, takes the results, reports its completeness error,
proposes more points while that error is too large, and finally gives ``A``:

* :class:`AdaptiveTrapezoid` (``"adaptive_trapezoid"``): a nested trapezoid rule. Every
  point stays in the mesh once evaluated (256 points cost 256 evaluations), and each
  refinement bisects the intervals where the integral is most likely wrong. ReLU and
  max-pool networks are piecewise linear along the path, so the path gradient jumps
  where a unit switches or the arg-max of a pool moves; the intervals across the large
  jumps get the points. The f values at the mesh points (free: they come out of the
  forward pass of the gradient) give each interval's own completeness error.
* :class:`FixedRule`: captum's rules (``"gausslegendre"``, ``"riemann_left"``,
  ``"riemann_right"``, ``"riemann_middle"``, ``"riemann_trapezoid"``), the number of
  points doubled (all points new) while the error is too large.

Everything here is plain arithmetic on the results; running the model is
:mod:`explorer.attribution.gradients`'s job.
"""

from __future__ import annotations

import numpy as np
import torch

ADAPTIVE = "adaptive_trapezoid"
FIXED_RULES = ("gausslegendre", "riemann_left", "riemann_right", "riemann_middle", "riemann_trapezoid")
#: every quadrature ``integrated_gradients`` accepts
QUADRATURES = (ADAPTIVE,) + FIXED_RULES
#: fraction of the mesh's intervals bisected per refinement of the adaptive rule
REFINE_FRACTION = 0.25
#: points of the first mesh of the adaptive rule (and of a fixed rule's first round)
DEFAULT_STEPS = 9


def fixed_points(method: str, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Points and weights of a fixed ``n``-point rule on ``[0, 1]``.

    Parameters
    ----------
    method : str
        One of :data:`FIXED_RULES`. The points are captum's. The weights are too, except
        ``"riemann_trapezoid"``: the textbook trapezoid, ``1 / (n - 1)`` inside and half
        that at the ends (weights that add up to 1; captum's add up to ``(n - 1) / n``).
    n : int
        Number of points (>= 2).

    Returns
    -------
    (alphas, weights)
        Both float64, shape ``(n,)``.
    """
    if method == "gausslegendre":
        nodes, weights = np.polynomial.legendre.leggauss(n)
        return 0.5 * (nodes + 1.0), 0.5 * weights
    if method == "riemann_trapezoid":
        weights = np.full(n, 1.0 / (n - 1))
        weights[[0, -1]] /= 2
        return np.linspace(0.0, 1.0, n), weights
    offsets = {"riemann_left": 0.0, "riemann_middle": 0.5, "riemann_right": 1.0}
    if method not in offsets:
        raise ValueError(f"method must be one of {QUADRATURES}; got {method!r}")
    return (np.arange(n) + offsets[method]) / n, np.full(n, 1.0 / n)


class _Rule:
    """What both kinds of rule share: the completeness error, relative, and the stop test.

    A rule defines ``f_start`` (``f(baseline)``), ``f_end`` (``f(x)``) and ``error()``.
    """

    f_start: float
    f_end: float

    @property
    def gap(self) -> float:
        """``f(x) - f(baseline)``."""
        return self.f_end - self.f_start

    def relative_error(self) -> float:
        """``|error| / |f(x) - f(b)|``."""
        return abs(self.error()) / max(abs(self.gap), 1e-12)

    def converged(self, tolerance: float) -> bool:
        """True when the relative completeness error is at most ``tolerance``."""
        return self.relative_error() <= tolerance


class FixedRule(_Rule):
    """A fixed rule whose number of points doubles (all points new) on each refinement.

    Parameters
    ----------
    method : str
        One of :data:`FIXED_RULES`.
    n_steps, max_steps : int
        Points of the first round, and the most points a round may have.
    f0, f1 : float
        ``f(baseline)`` and ``f(x)`` (the rule's own points need not include the ends).
    """

    def __init__(self, method: str, n_steps: int, max_steps: int, f0: float, f1: float):
        self.method, self.max_steps = method, int(max_steps)
        self.f_start, self.f_end = float(f0), float(f1)
        self.n_points = int(n_steps)
        self._weights: np.ndarray | None = None
        self._sum: torch.Tensor | None = None

    def start(self) -> np.ndarray:
        """The first round's points, float64 ``(n_steps,)``."""
        return self._round(self.n_points)

    def _round(self, n: int) -> np.ndarray:
        alphas, self._weights = fixed_points(self.method, n)
        self.n_points, self._sum = n, None
        return alphas

    def add(self, alphas: np.ndarray, f: np.ndarray, p: torch.Tensor) -> None:
        """Take the results at all the points of the round, in the order asked for.

        ``f`` (float64 ``(n,)``) is not needed by a fixed rule; ``p`` is ``(n, L)``.
        """
        self._sum = torch.from_numpy(self._weights) @ p.double()

    def error(self) -> float:
        """Signed completeness error ``sum(A) - (f(x) - f(b))`` of the round."""
        return float(self._sum.sum()) - self.gap

    def refine(self) -> np.ndarray:
        """Points of a round with twice the points, or none when that exceeds max_steps."""
        if 2 * self.n_points > self.max_steps:
            return np.empty(0)
        return self._round(2 * self.n_points)

    def integral(self) -> torch.Tensor:
        """``A``, float64 ``(L,)``."""
        return self._sum


class AdaptiveTrapezoid(_Rule):
    """A nested trapezoid rule that bisects the intervals most likely to be wrong.

    The mesh starts as ``n_steps`` evenly spaced points including both ends. Per
    interval ``[a, c]`` of width ``h`` the rule knows two error indicators:

    * the completeness error ``h (g(a) + g(c)) / 2 - (f(c) - f(a))``, where
      ``g = sum(p)``: the intervals' errors add up to the rule's completeness error;
    * the change of the per-position gradient, ``h / 2 * sum_l |p_l(c) - p_l(a)|``: an
      upper bound of the interval's trapezoid error on the map (in L1 over positions)
      when each position's gradient jumps at most once inside. It sees the arg-max of
      a pool moving from one position to another, which changes the map much and its
      sum little.

    Each refinement bisects :data:`REFINE_FRACTION` of the intervals (at least one),
    taken in turn from the top of each indicator's ranking. The trapezoid weights depend
    on the mesh only, never on f, so the completeness error stays an honest check.
    The rule keeps every point's ``p`` (float32, ``4 L`` bytes each; 5 baselines of 256
    points at 20 kb: 100 MB).

    Parameters
    ----------
    n_steps, max_steps : int
        Points of the first mesh (>= 2) and the most points the mesh may have.
    """

    def __init__(self, n_steps: int, max_steps: int):
        self.max_steps = int(max_steps)
        self._first = int(n_steps)
        self._alphas = np.empty(0)
        self._f = np.empty(0)
        self._p: torch.Tensor | None = None

    @property
    def n_points(self) -> int:
        """Points in the mesh."""
        return int(self._alphas.size)

    def start(self) -> np.ndarray:
        """The first mesh, float64 ``(n_steps,)`` from 0 to 1."""
        return np.linspace(0.0, 1.0, self._first)

    def add(self, alphas: np.ndarray, f: np.ndarray, p: torch.Tensor) -> None:
        """Insert evaluated points: ``alphas``, ``f`` float64 ``(n,)``, ``p`` ``(n, L)``."""
        alphas = np.concatenate([self._alphas, alphas])
        order = np.argsort(alphas, kind="stable")
        p = p.float() if self._p is None else torch.cat([self._p, p.float()])
        self._alphas, self._f = alphas[order], np.concatenate([self._f, f])[order]
        self._p = p[torch.from_numpy(order)]

    @property
    def f_start(self) -> float:
        """``f(baseline)``: f at the first point (alpha = 0)."""
        return float(self._f[0])

    @property
    def f_end(self) -> float:
        """``f(x)``: f at the last point (alpha = 1)."""
        return float(self._f[-1])

    def local_errors(self) -> np.ndarray:
        """Completeness error of each interval, float64 ``(n_points - 1,)``."""
        h = np.diff(self._alphas)
        g = self._p.double().sum(1).numpy()
        return h * (g[:-1] + g[1:]) / 2 - np.diff(self._f)

    def map_changes(self) -> np.ndarray:
        """``h / 2 * sum_l |p_l(c) - p_l(a)|`` of each interval, float64 ``(n_points - 1,)``."""
        change = (self._p[1:] - self._p[:-1]).double().abs().sum(1).numpy()
        return np.diff(self._alphas) / 2 * change

    def error(self) -> float:
        """Signed completeness error ``sum(A) - (f(x) - f(b))`` of the mesh."""
        return float(self.local_errors().sum())

    def refine(self) -> np.ndarray:
        """Midpoints of the intervals to bisect next, sorted (none when the mesh is full)."""
        room = self.max_steps - self.n_points
        if room <= 0:
            return np.empty(0)
        n = min(room, max(1, int(np.ceil(REFINE_FRACTION * (self.n_points - 1)))))
        rankings = [np.argsort(-np.abs(self.local_errors()), kind="stable"),
                    np.argsort(-self.map_changes(), kind="stable")]
        chosen = np.array(_take_in_turn(rankings, n))
        return np.sort((self._alphas[chosen] + self._alphas[chosen + 1]) / 2)

    def weights(self) -> np.ndarray:
        """Trapezoid weights of the mesh points, float64 ``(n_points,)`` (they add up to 1)."""
        h = np.diff(self._alphas)
        w = np.zeros(self.n_points)
        w[:-1] += h / 2
        w[1:] += h / 2
        return w

    def integral(self) -> torch.Tensor:
        """``A``, float64 ``(L,)``."""
        return torch.from_numpy(self.weights()) @ self._p.double()


def _take_in_turn(rankings: list[np.ndarray], n: int) -> list[int]:
    """The first ``n`` distinct indices, taken from the head of each ranking in turn."""
    chosen: list[int] = []
    seen: set[int] = set()
    for row in zip(*rankings):
        for i in row:
            if int(i) not in seen and len(chosen) < n:
                seen.add(int(i))
                chosen.append(int(i))
    return chosen


def make_rule(method: str, n_steps: int, max_steps: int, f0: float | None = None,
              f1: float | None = None) -> AdaptiveTrapezoid | FixedRule:
    """The rule ``method`` names (``f0``, ``f1``: f(b), f(x), needed by fixed rules)."""
    if method == ADAPTIVE:
        return AdaptiveTrapezoid(n_steps, max_steps)
    if method in FIXED_RULES:
        return FixedRule(method, n_steps, max_steps, f0, f1)
    raise ValueError(f"method must be one of {QUADRATURES}; got {method!r}")

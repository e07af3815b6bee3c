"""The independent reference every ISM test compares with: one mutant at a time, in a loop."""

from __future__ import annotations

from typing import Callable, Iterable

import torch


def brute_force_ism(score: Callable[[torch.Tensor], float], x: torch.Tensor,
                    positions: Iterable[int]) -> tuple[torch.Tensor, float]:
    """``score(mutant) - score(x)`` for every substitution at ``positions``, one by one.

    Parameters
    ----------
    score : callable
        ``(4, L)`` one-hot -> float (the model's target for that one sequence).
    x : torch.Tensor, shape ``(4, L)``
    positions : iterable of int
        0-based positions; column ``j`` of the result is ``positions[j]``.

    Returns
    -------
    (values, reference)
        ``values``: float64 ``(4, len(positions))``, 0 at the reference base; N columns get
        all four substitutions. ``reference``: ``score(x)``.
    """
    positions = list(positions)
    with torch.no_grad():
        reference = float(score(x))
        out = torch.zeros(4, len(positions), dtype=torch.float64)
        for j, p in enumerate(positions):
            for b in range(4):
                if x[b, p] == 1:
                    continue
                mutant = x.clone()
                mutant[:, p] = 0
                mutant[b, p] = 1
                out[b, j] = float(score(mutant)) - reference
    return out, reference

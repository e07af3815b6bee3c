"""What every fast-ISM engine shares: the map of a window from the engine's mutant scores.

An engine (:class:`explorer.attribution.fast_ism.FastISM` for declared structures,
:class:`explorer.attribution.graph_ism.GraphISM` for structures read from the graph) holds
the reference caches of one (model, sequence, target) and scores batches of mutants with
``scores(pos, bases)``; :class:`MutantEngine` turns that into the ``(4, end - start)`` map,
batch by batch, halving the batch on out-of-memory.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch.utils import _pytree as pytree

from explorer.attribution.device import run_in_batches
from explorer.attribution.progress import ProgressCallback, report
from explorer.attribution.runtime import TOLERANCE, check_window, mutations


def reproduction_error(rebuilt: Any, output: Any) -> tuple[float, float]:
    """How far an engine's rebuilt reference output is from the model's own, and the limit.

    Parameters
    ----------
    rebuilt, output : tensor, or tuple/list/dict of tensors
        The output the engine rebuilt for the reference, and the model's.

    Returns
    -------
    (difference, tolerance)
        The largest ``|rebuilt - output|`` over every tensor (``inf`` when the structures
        or shapes differ), and ``TOLERANCE * max(1, max |output|)``.
    """
    ours, theirs = pytree.tree_leaves(rebuilt), pytree.tree_leaves(output)
    pairs = [(a, b) for a, b in zip(ours, theirs) if isinstance(b, torch.Tensor)]
    same = len(ours) == len(theirs) and all(isinstance(a, torch.Tensor) and a.shape == b.shape for a, b in pairs)
    diff = max([float((a.double() - b.double()).abs().max()) for a, b in pairs if b.numel()] + [0.0]) \
        if same else math.inf
    scale = max([float(b.detach().abs().max()) for _, b in pairs if b.numel()] + [1.0])
    return diff, TOLERANCE * scale


class MutantEngine:
    """Base of the fast-ISM engines.

    Subclasses set ``x`` (``(4, L)`` one-hot on ``device``), ``length``, ``device``,
    ``default_batch_size``, ``path`` (``"stages"``, ``"window"`` or ``"graph"``),
    ``receptive_field``, ``reference_score``, ``warnings``, and define
    ``scores(pos, bases) -> (M,)`` float64 CPU ``f(mutant) - f(reference)``.
    """

    last_batch_size: int = 0

    def scores(self, pos: torch.Tensor, bases: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def values(self, start: int, end: int, *, batch_size: int | None = None,
               progress: ProgressCallback = None) -> torch.Tensor:
        """The ISM map of ``[start, end)`` (0-based, half-open): ``(4, end - start)`` float32 CPU."""
        start, end = check_window(self.length, start, end)
        pos, bases, _ = mutations(self.x, torch.arange(start, end))
        n = int(pos.numel())
        out = torch.zeros(4, end - start, dtype=torch.float32)
        report(progress, 0.0)

        def run(i: int, j: int) -> None:
            out[bases[i:j], pos[i:j] - start] = self.scores(pos[i:j], bases[i:j]).float()

        _, self.last_batch_size = run_in_batches(run, n, int(batch_size or self.default_batch_size), self.device,
                                                 on_batch=lambda done: report(progress, done / max(n, 1)))
        return out

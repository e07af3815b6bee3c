"""The result types: :class:`Attribution` (every method) and :class:`IsmResult` (both ISM paths)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import torch

from explorer.attribution.diagnostics import Diagnostics
from explorer.io.sequences import one_hot_decode


class IsmResult(NamedTuple):
    """What plain ISM (:func:`~explorer.attribution.ism.ism`) and fast ISM
    (:func:`~explorer.attribution.fast_ism.fast_ism`) return.

    Attributes
    ----------
    values : torch.Tensor
        ``float32``, shape ``(4, end - start)``, on the CPU: ``f(mutant) - f(reference)``
        for every substitution of the window, 0 at the reference base.
    reference_score : float
        ``f(reference)``: the target's value on the unmutated input.
    diagnostics : Diagnostics
        Which path ran, ``n_mutants``, ``batch_size``, the fast path's self-check, warnings.
    """

    values: torch.Tensor
    reference_score: float
    diagnostics: Diagnostics

    @property
    def batch_size(self) -> int:
        """The batch size that worked last (after any out-of-memory halving)."""
        return int(self.diagnostics.batch_size or 0)

    @property
    def n_mutants(self) -> int:
        """Number of mutants scored."""
        return int(self.diagnostics.n_mutants or 0)


@dataclass
class Attribution:
    """An attribution map of one window of one sequence, for one target.

    Attributes
    ----------
    values : torch.Tensor
        ``float32``, shape ``(4, L)`` with ``L = end - start``, ACGT rows, on the CPU.
        For ISM: ``f(mutant) - f(reference)`` for each substitution, 0 at the reference
        base. For gradient methods: the contribution of each base (non-zero only at the
        observed base, for ``x * gradient`` style maps).
    one_hot : torch.Tensor
        ``float32``, shape ``(4, L)``: the window's sequence.
    method : str
        ``"ism"``, ``"ig"``, ``"deeplift_shap"`` or ``"saliency"``.
    target : str
        What was explained, in words (e.g. ``"CTCF"`` or ``"profile 0 sum[400:600]"``).
    start, end : int
        0-based half-open window within the sequence that was given to the model.
    chrom : str or None
        Sequence name, when the input was a :class:`~explorer.io.loci.Locus`.
    genome_start : int
        0-based coordinate on ``chrom`` of the window's first base (``locus.start + start``).
    options : dict
        The method's options as used (baseline, n_steps, ...).
    diagnostics : Diagnostics
        Checks and facts as typed fields (``completeness_error`` for IG,
        ``convergence_delta_max`` for DeepLIFT/SHAP, ``reference_score`` (f(x)),
        ``cache_hit``, ``warnings``, the ISM path and its self-check); also readable as a
        mapping (``diagnostics["reference_score"]``). A dict given here is converted.
    device : str
        Where it ran (``"cpu"``, ``"cuda:0"``).
    seconds : float
        Wall time of the computation (of the original run for a cache hit).
    """

    values: torch.Tensor
    one_hot: torch.Tensor
    method: str
    target: str
    start: int = 0
    end: int | None = None
    chrom: str | None = None
    genome_start: int = 0
    options: dict[str, Any] = field(default_factory=dict)
    diagnostics: Diagnostics = field(default_factory=Diagnostics)
    device: str = "cpu"
    seconds: float = 0.0

    def __post_init__(self):
        self.diagnostics = Diagnostics.from_dict(self.diagnostics)
        if self.end is None:
            self.end = self.start + self.values.shape[-1]
        if tuple(self.values.shape) != tuple(self.one_hot.shape) or self.values.shape[0] != 4:
            raise ValueError(
                f"values {tuple(self.values.shape)} and one_hot {tuple(self.one_hot.shape)} must both be (4, L)"
            )

    def __len__(self) -> int:
        return int(self.values.shape[-1])

    @property
    def sequence(self) -> str:
        """The window's bases (``N`` where the one-hot column is empty)."""
        return one_hot_decode(self.one_hot)

    @property
    def per_base(self) -> np.ndarray:
        """One importance per position, shape ``(L,)``.

        Gradient methods: the attribution of the observed base (sum over the 4 rows of
        ``values * one_hot``). ISM: minus the mean effect of the three substitutions,
        i.e. how much the reference base matters (positive where mutating it lowers the
        output). Mean-centred ISM (``options["ism_centered"]``): the value at the observed
        base (``-mean`` of the four effects, i.e. 3/4 of the raw ISM per-base value).
        N positions get 0.
        """
        v = self.values.detach().cpu().double()
        x = self.one_hot.detach().cpu().double()
        if self.method == "ism" and not self.options.get("ism_centered"):
            known = x.sum(0) > 0
            out = -(v.sum(0) / 3.0)
            out[~known] = 0.0
            return out.numpy()
        return (v * x).sum(0).numpy()

    @property
    def contribution(self) -> torch.Tensor:
        """``(4, L)``: ``per_base`` placed on the observed base (the usual logo input)."""
        return self.one_hot * torch.as_tensor(self.per_base, dtype=torch.float32)

    def genome_positions(self) -> np.ndarray:
        """1-based coordinates on ``chrom`` of every position, shape ``(L,)``."""
        return np.arange(self.genome_start + 1, self.genome_start + 1 + len(self))

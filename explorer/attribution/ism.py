"""Exact in-silico saturation mutagenesis (ISM), batched, on the model's device.

For every position ``p`` in ``[start, end)`` and every base ``b``, the mutant is the whole
input with column ``p`` set to the one-hot of ``b``; the map holds
``f(mutant) - f(reference)`` where ``f`` is the :class:`~explorer.attribution.targets.Target`
applied to the model output. The reference base's entry is 0 (that "mutant" is the
reference itself and is not run).

``N`` (all-zero) columns: all four bases are substitutions there (the column is set to
A, C, G and T in turn), so the map holds four effects of *filling in* the unknown base and
no zero. ``Attribution.per_base`` reports 0 at such positions.

This is the plain, model-agnostic path; :mod:`explorer.attribution.fast_ism` (when
present) computes the same numbers faster for models that declare their structure.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from explorer.attribution.device import default_batch_size, model_device, run_in_batches
from explorer.attribution.progress import ProgressCallback, report
from explorer.attribution.targets import Target

#: most mutants per batch on a CPU (see :func:`ism`)
CPU_MAX_BATCH = 64


class IsmResult(NamedTuple):
    """Result of :func:`ism`.

    Attributes
    ----------
    values : torch.Tensor
        ``float32``, shape ``(4, end - start)``, on the CPU: ``f(mutant) - f(reference)``.
    reference_score : float
        ``f(reference)``: the target's value on the unmutated input.
    batch_size : int
        The batch size that worked (after any out-of-memory halving).
    n_mutants : int
        Number of mutants run.
    """

    values: torch.Tensor
    reference_score: float
    batch_size: int = 0
    n_mutants: int = 0


def check_window(length: int, start: int | None, end: int | None) -> tuple[int, int]:
    """Resolve ``start``/``end`` (None: the whole sequence) and check ``0 <= start < end <= length``."""
    start = 0 if start is None else int(start)
    end = length if end is None else int(end)
    if start >= end:
        raise ValueError(f"the window [start={start}, end={end}) is empty; need start < end "
                         f"(0-based, half-open indices into the {length} bp sequence)")
    if start < 0 or end > length:
        raise ValueError(f"start and end must satisfy 0 <= start < end <= length; got start={start}, "
                         f"end={end} for a {length} bp sequence (0-based, half-open)")
    return start, end


def check_one_hot(one_hot) -> torch.Tensor:
    """Return ``one_hot`` as a float32 ``(4, L)`` tensor, or raise a ValueError that says why."""
    x = torch.as_tensor(one_hot)
    if x.ndim == 3 and x.shape[0] == 1:
        x = x[0]
    if x.ndim != 2 or x.shape[0] != 4:
        hint = " (it looks transposed: use x.T)" if x.ndim == 2 and x.shape[1] == 4 else ""
        raise ValueError(f"one-hot input must have shape (4, L) with rows A, C, G, T; got "
                         f"{tuple(x.shape)}{hint}")
    if x.shape[1] == 0:
        raise ValueError("the sequence is empty (shape (4, 0))")
    if not x.is_floating_point():
        x = x.to(torch.float32)
    return x.to(torch.float32)


def mutations(one_hot: torch.Tensor, start: int, end: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The substitutions of ``[start, end)``: ``(bases, positions)``, both ``(n_mutants,)`` long.

    Every (base, position) pair except the reference base of a clean one-hot column, in
    base-major order; positions are 0-based indices into the whole sequence.
    """
    ref = one_hot[:, start:end]
    identity = (ref == 1) & (ref.sum(0, keepdim=True) == 1)
    bases, positions = torch.nonzero(~identity, as_tuple=True)
    return bases, positions + start


def ism(model: nn.Module, one_hot: torch.Tensor, target: Target, start: int = 0, end: int | None = None,
        *, batch_size: int | None = None, progress: ProgressCallback = None) -> IsmResult:
    """Exact ISM of ``one_hot[:, start:end]`` inside the whole sequence.

    Parameters
    ----------
    model : nn.Module
        Takes ``(N, 4, L)`` one-hot; runs where its weights are (the caller puts it there,
        in eval mode: :func:`explorer.attribute` does, and restores it after).
    one_hot : torch.Tensor, shape ``(4, L)``
        The whole sequence the model sees (float; N = all-zero column).
    target : Target
        What is explained (see :func:`~explorer.attribution.targets.resolve_target`).
    start, end : int
        0-based, half-open window of positions to mutate (default: all).
    batch_size : int, optional
        Mutants per forward pass; default from the device and length. Halved and retried
        on out-of-memory.
    progress : callable, optional
        ``progress(fraction)``; returning False raises
        :class:`~explorer.attribution.progress.Cancelled`.

    Returns
    -------
    IsmResult
        ``values`` ``(4, end - start)`` float32 on the CPU, 0 at reference bases (see the
        module docstring for N columns), and ``reference_score``.
    """
    x = check_one_hot(one_hot)
    start, end = check_window(x.shape[1], start, end)
    device = model_device(model)
    x = x.to(device)
    bases, positions = mutations(x.cpu(), start, end)
    n = int(bases.numel())
    batch_size = batch_size or default_batch_size(device, x.shape[1])
    if device.type == "cpu":
        # measured on 2 cores (sample model, 1-2 kb): 64 mutants per batch ran 1.8x faster
        # than 131-262, whose activations fall out of the caches
        batch_size = min(batch_size, CPU_MAX_BATCH)
    bases_d, positions_d = bases.to(device), positions.to(device)

    with torch.inference_mode():
        reference = float(target(model(x.unsqueeze(0)))[0])
        report(progress, 0.0)

        def run(i: int, j: int) -> torch.Tensor:
            batch = x.unsqueeze(0).repeat(j - i, 1, 1)
            rows = torch.arange(j - i, device=device)
            batch[rows, :, positions_d[i:j]] = 0.0
            batch[rows, bases_d[i:j], positions_d[i:j]] = 1.0
            return target(model(batch)).float().cpu()

        scores, used = run_in_batches(run, n, batch_size, device,
                                      on_batch=lambda done: report(progress, done / max(n, 1)))
    values = torch.zeros(4, end - start, dtype=torch.float32)
    if n:
        values[bases, positions - start] = torch.cat(scores) - reference
    return IsmResult(values=values, reference_score=reference, batch_size=used, n_mutants=n)


def center_ism(values: torch.Tensor) -> torch.Tensor:
    """Mean-centred ("hypothetical") ISM view: subtract each position's mean over the 4 bases.

    ``values`` ``(4, L)`` -> ``(4, L)``. The entry of the reference base becomes
    ``-mean(effects)``: positive where mutating the base lowers the output. This is
    tangermeme's ``saturation_mutagenesis(..., hypothetical=True)`` for one target.
    """
    return values - values.mean(0, keepdim=True)

"""Exact in-silico saturation mutagenesis (ISM), batched, on the model's device.

For every position ``p`` in ``[start, end)`` and every base ``b``, the mutant is the whole
input with column ``p`` set to the one-hot of ``b``; the map holds
``f(mutant) - f(reference)`` where ``f`` is the :class:`~explorer.attribution.targets.Target`
applied to the model output. The reference base's entry is 0 (that "mutant" is the
reference itself and is not run).

``N`` (all-zero) columns: all four bases are substitutions there (the column is set to
A, C, G and T in turn), so the map holds four effects of *filling in* the unknown base and
no zero. ``Attribution.per_base`` reports 0 at such positions.

This is the plain, model-agnostic path; :mod:`explorer.attribution.fast_ism` computes the
same numbers faster for models that declare their structure. Input checks and the model
device come from :mod:`explorer.attribution.runtime`.
"""

from __future__ import annotations

import torch
from torch import nn

from explorer.attribution.device import default_batch_size, run_in_batches
from explorer.attribution.diagnostics import Diagnostics
from explorer.attribution.progress import ProgressCallback, report
from explorer.attribution.result import IsmResult
from explorer.attribution.runtime import check_one_hot, check_window, model_device, mutant_batch, mutations
from explorer.attribution.targets import Target

#: most mutants per batch on a CPU (see :func:`ism`)
CPU_MAX_BATCH = 64


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
        module docstring for N columns), ``reference_score``, and ``diagnostics``
        (``ism_path="plain"``, ``n_mutants``, ``batch_size``).
    """
    x = check_one_hot(one_hot)
    start, end = check_window(x.shape[1], start, end)
    device = model_device(model)
    x = x.to(device)
    muts = mutations(x, torch.arange(start, end))
    n = int(muts.positions.numel())
    batch_size = batch_size or default_batch_size(device, x.shape[1])
    if device.type == "cpu":
        # measured on 2 cores (sample model, 1-2 kb): 64 mutants per batch ran 1.8x faster
        # than 131-262, whose activations fall out of the caches
        batch_size = min(batch_size, CPU_MAX_BATCH)
    positions_d, bases_d = muts.positions.to(device), muts.bases.to(device)

    with torch.inference_mode():
        reference = float(target(model(x.unsqueeze(0)))[0])
        report(progress, 0.0)

        def run(i: int, j: int) -> torch.Tensor:
            return target(model(mutant_batch(x, positions_d[i:j], bases_d[i:j]))).float().cpu()

        scores, used = run_in_batches(run, n, batch_size, device,
                                      on_batch=lambda done: report(progress, done / max(n, 1)))
    values = torch.zeros(4, end - start, dtype=torch.float32)
    if n:
        values[muts.bases, muts.columns] = torch.cat(scores) - reference
    diagnostics = Diagnostics(ism_path="plain", reference_score=reference, n_mutants=n, batch_size=used)
    return IsmResult(values, reference, diagnostics)


def center_ism(values: torch.Tensor) -> torch.Tensor:
    """Mean-centred ("hypothetical") ISM view: subtract each position's mean over the 4 bases.

    ``values`` ``(4, L)`` -> ``(4, L)``. The entry of the reference base becomes
    ``-mean(effects)``: positive where mutating the base lowers the output. This is
    tangermeme's ``saturation_mutagenesis(..., hypothetical=True)`` for one target.
    """
    return values - values.mean(0, keepdim=True)

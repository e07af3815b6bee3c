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

Speed, for the models only this path takes (attention, recurrent layers): the batch size
is searched on the job's own batches (:class:`~explorer.attribution.device.BatchSearch`),
mutants are written into one reused buffer
(:class:`~explorer.attribution.runtime.MutantBuffer`), and on a CPU a model with
``nn.MultiheadAttention`` runs its attention through whichever of torch's two paths
times faster (:func:`attention_paths`). ``benchmarks/bench_plain_ism.py`` compares it
with tangermeme.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

import torch
from torch import nn

from explorer.attribution.device import BatchSearch, default_batch_size, max_batch_size, run_in_batches
from explorer.attribution.diagnostics import Diagnostics
from explorer.attribution.progress import ProgressCallback, report
from explorer.attribution.result import IsmResult
from explorer.attribution.runtime import MutantBuffer, check_one_hot, check_window, model_device, mutations
from explorer.attribution.targets import Target

#: the first batch size on a CPU, where the batch size search starts (see :func:`ism`)
CPU_FIRST_BATCH = 32


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
        Mutants per forward pass, fixed. Default: searched on the job's own batches
        (:class:`~explorer.attribution.device.BatchSearch`), from
        :data:`CPU_FIRST_BATCH` on a CPU or
        :func:`~explorer.attribution.device.default_batch_size` on CUDA, up to
        :func:`~explorer.attribution.device.max_batch_size` (and, on CUDA, the measured
        memory). Either way, halved and retried on out-of-memory. A model with
        ``nn.MultiheadAttention`` on a CPU also has its attention path chosen by
        timing (see :func:`attention_paths`).
    progress : callable, optional
        ``progress(fraction)``; returning False raises
        :class:`~explorer.attribution.progress.Cancelled`.

    Returns
    -------
    IsmResult
        ``values`` ``(4, end - start)`` float32 on the CPU, 0 at reference bases (see the
        module docstring for N columns), ``reference_score``, and ``diagnostics``
        (``ism_path="plain"``, ``n_mutants``, ``batch_size``; with a search,
        ``extra["batch_search"]``: the ``[size, variant, seconds per mutant]`` timed, and
        where attention paths were compared, ``extra["mha_fastpath"]``: the one kept).
    """
    x = check_one_hot(one_hot)
    start, end = check_window(x.shape[1], start, end)
    device = model_device(model)
    x = x.to(device)
    muts = mutations(x, torch.arange(start, end))
    n = int(muts.positions.numel())
    paths = attention_paths(model, device)
    search = batch_search(device, x.shape[1], n, batch_size, len(paths))
    positions_d, bases_d = muts.positions.to(device), muts.bases.to(device)

    with torch.inference_mode():
        reference = float(target(model(x.unsqueeze(0)))[0])
        report(progress, 0.0)
        mutants = MutantBuffer(x)

        def run(i: int, j: int) -> torch.Tensor:
            with mha_fastpath(paths[search.variant] if search is not None else paths[0]):
                scores = target(model(mutants.batch(positions_d[i:j], bases_d[i:j])))
            return scores.to("cpu", torch.float32, copy=True)

        scores, used = run_in_batches(run, n, batch_size or search.size, device,
                                      on_batch=lambda done: report(progress, done / max(n, 1)), search=search)
    values = torch.zeros(4, end - start, dtype=torch.float32)
    if n:
        values[muts.bases, muts.columns] = torch.cat(scores) - reference
    diagnostics = Diagnostics(ism_path="plain", reference_score=reference, n_mutants=n, batch_size=used)
    if search is not None:
        diagnostics.extra["batch_search"] = [list(timing) for timing in search.timings]
        if len(paths) > 1:
            diagnostics.extra["mha_fastpath"] = paths[search.best_variant]
    return IsmResult(values, reference, diagnostics)


def batch_search(device: torch.device, length: int, n: int, batch_size: int | None = None,
                 variants: int = 1) -> BatchSearch | None:
    """The batch size search of plain ISM for ``n`` mutants of ``length`` bases on ``device``.

    On a CPU it starts at :data:`CPU_FIRST_BATCH` mutants (fewer for long inputs), the
    bottom measured on 2 cores (``benchmarks/bench_plain_ism.py``) for the attention model
    at 1 kb (16-32 with the fused attention kernel) and the sample CNN at 2 kb (32-64),
    from which the search climbs to where the GRU at 1 kb does best (128). A small job starts at ``n // 8`` (at least 8), so that the first comparisons
    fit in it. Variants are compared on batches a quarter of that size (one of them may be
    several times slower). A fixed ``batch_size`` is kept; then there is a search only to
    compare ``variants`` (None when there is only one).
    """
    if batch_size:
        return (BatchSearch(batch_size, batch_size, variants=variants, sizes=False, variant_size=batch_size // 4)
                if variants > 1 else None)
    first = min(default_batch_size(device, length), max(8, n // 8))
    if device.type == "cpu":
        first = min(first, CPU_FIRST_BATCH)
    return BatchSearch(first, max(first, max_batch_size(device, length)), variants=variants,
                       variant_size=first // 4)


def attention_paths(model: nn.Module, device: torch.device) -> list[bool | None]:
    """The settings of torch's multi-head attention fast path worth timing for ``model``.

    On a CPU, the inference fast path of ``nn.MultiheadAttention`` (and so of
    ``nn.TransformerEncoderLayer``) computes the whole ``L x L`` attention matrix with
    ``bmm`` and ``softmax``; with it off, attention goes through
    ``scaled_dot_product_attention``, whose fused CPU kernel never holds the matrix:
    2.3x faster at 1 kb, 2.5x at 2 kb, 1.7x at 300 tokens, 10 % slower at 100 (the
    attention model of ``benchmarks/cardless_models.py``; outputs equal to 6e-8). Both
    compute the same function, so ISM times both on its first batches and keeps the
    faster; the fast path off comes first (the warm-up batch, and a job too small to
    compare).

    Returns
    -------
    list
        ``[False, True]`` (fast path off, on) for a model with ``nn.MultiheadAttention``
        on a CPU while torch's fast path is on (its default), else ``[None]`` (leave the
        setting alone: a person who turned it off keeps it off).
    """
    mha = getattr(torch.backends, "mha", None)
    if device.type != "cpu" or mha is None or not mha.get_fastpath_enabled():
        return [None]
    if not any(isinstance(module, nn.MultiheadAttention) for module in model.modules()):
        return [None]
    return [False, True]


@contextlib.contextmanager
def mha_fastpath(enabled: bool | None) -> Iterator[None]:
    """Set torch's multi-head attention fast path for the block (None: leave it); restore it after."""
    if enabled is None:
        yield
        return
    previous = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(enabled)
    try:
        yield
    finally:
        torch.backends.mha.set_fastpath_enabled(previous)


def center_ism(values: torch.Tensor) -> torch.Tensor:
    """Mean-centred ("hypothetical") ISM view: subtract each position's mean over the 4 bases.

    ``values`` ``(4, L)`` -> ``(4, L)``. The entry of the reference base becomes
    ``-mean(effects)``: positive where mutating the base lowers the output. This is
    tangermeme's ``saturation_mutagenesis(..., hypothetical=True)`` for one target.
    """
    return values - values.mean(0, keepdim=True)

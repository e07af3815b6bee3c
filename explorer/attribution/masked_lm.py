"""What attribution means for a masked DNA language model (card ``"kind": "masked_lm"``).

A masked LM takes one-hot ``(N, 4, L)`` in which a masked base is an all-zero column and
returns logits ``(N, 4, L)`` over ``A, C, G, T`` at every position. Everything here rests on
one quantity, for every position ``i`` of a window::

    log p(b | x with position i masked),   b in A, C, G, T

(a log-softmax over the four bases of the logits at ``i``, with only ``i`` masked). From it:

* ``method="ism"`` (:func:`masked_llr`): ``log p(alt | x\\i) - log p(ref | x\\i)``, the
  masked log-likelihood ratio of every substitution; 0 at the reference base. It is also the
  LM's score of a single-nucleotide variant.
* ``method="masked_distribution"`` (:func:`masked_distribution`): the predicted
  distribution ``p(b | x\\i)`` scaled by its information content ``2 - H`` (bits), what a
  logo of "what the model expects here" draws, with ``log p(ref | x\\i)`` as a track.

One masked copy per position gives all four bases, so a window of ``W`` positions costs
``W`` model calls (batched), not ``3W``.

**Which inputs the masked copies are** (the ``fast`` option): a masked copy of ``x`` differs
from it in one column only. For a convolutional LM whose logits at ``i`` depend only on the
inputs within ``h = receptive_field // 2`` bases (the card's or the network's
``receptive_field``, zero-padded 'same' convolutions), position ``i`` needs only the crop of
``M = 2h + 1`` bases around it (shifted inwards at the sequence ends, so the crop's ends are
the sequence's: exact with zero padding); ``fast="auto"`` uses that and checks it against the
whole-sequence masked pass at the window's first, middle and last positions, falling back
(with a warning) when they differ. ``fast=False`` (or a model with no receptive field) runs
every masked copy at the full length. A model with a longest input (a Hugging Face LM's
``max_length``) sees the ``max_length`` bases around each position (most central window).

``both_strands=True`` also scores the reverse complement and averages the two log
probabilities (mapped back to the forward strand: position ``L - 1 - i``, complementary
base), which makes the scores strand-symmetric.

Indels are not single positions: :func:`explorer.variant_effect` scores them for an LM as
the difference of pseudo-log-likelihoods (the sum of masked ``log p(observed base)``) over
the alleles' window (:func:`pseudo_log_likelihood`).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import nn

from explorer.attribution.device import default_batch_size, run_in_batches
from explorer.attribution.diagnostics import Diagnostics
from explorer.attribution.progress import ProgressCallback, report
from explorer.attribution.runtime import TOLERANCE, check_fast, check_window

__all__ = ["LM_KIND", "LM_METHODS", "is_masked_lm", "MaskedLogProbs", "masked_log_probs", "masked_llr",
           "masked_distribution", "pseudo_log_likelihood", "receptive_field_of", "information_bits"]

#: the model-card kind of a masked language model
LM_KIND = "masked_lm"
#: method -> options and defaults for masked LMs (``explorer.attribute``)
LM_METHODS: dict[str, dict] = {
    "ism": {"batch_size": None, "fast": "auto", "both_strands": False},
    "masked_distribution": {"batch_size": None, "fast": "auto", "both_strands": False},
}


def is_masked_lm(model: nn.Module) -> bool:
    """True when the model's card declares ``"kind": "masked_lm"``."""
    card = getattr(model, "card", None) or {}
    return str(card.get("kind", "")).lower() == LM_KIND


def receptive_field_of(model: nn.Module) -> int | None:
    """The receptive field in bases the card (``receptive_field``) or the network declares, or None."""
    card = getattr(model, "card", None) or {}
    for value in (card.get("receptive_field"), (card.get("structure") or {}).get("receptive_field"),
                  getattr(getattr(model, "net", model), "receptive_field", None)):
        if value:
            return int(value)
    return None


def _max_length(model: nn.Module) -> int | None:
    card = getattr(model, "card", None) or {}
    value = card.get("input_length") or card.get("max_length")
    return int(value) if value else None


class MaskedLogProbs(NamedTuple):
    """``log p(b | x with i masked)`` for a window, and how it was computed.

    Attributes
    ----------
    log_probs : torch.Tensor
        ``float64``, shape ``(4, end - start)``, CPU: rows A, C, G, T.
    diagnostics : Diagnostics
        ``ism_path`` (``"local"`` or ``"full"``), ``receptive_field``, the self-check
        (``fast_ism_max_abs_diff`` ...), ``n_mutants`` (masked copies), ``batch_size``.
    """

    log_probs: torch.Tensor
    diagnostics: Diagnostics


def _crop_starts(positions: torch.Tensor, length: int, crop: int) -> torch.Tensor:
    """First base of the ``crop``-long input for each position: centred, shifted inside ``[0, length)``."""
    return (positions - crop // 2).clamp(0, length - crop)


def _run_masked(model: nn.Module, x: torch.Tensor, positions: torch.Tensor, crop: int, batch_size: int | None,
                progress: ProgressCallback, device: torch.device) -> tuple[torch.Tensor, int]:
    """``(log p (4, P) float64, batch size)`` with each position masked in its ``crop``-long input."""
    length = int(x.shape[1])
    crop = min(crop, length)
    starts = _crop_starts(positions, length, crop)
    offsets = torch.arange(crop)
    xd = x.to(device)
    out = torch.zeros(4, len(positions), dtype=torch.float64)
    n = len(positions)

    def run(i: int, j: int) -> None:
        idx = (starts[i:j, None] + offsets[None, :]).to(device)  # (b, crop)
        batch = xd[:, idx].permute(1, 0, 2).contiguous()  # (b, 4, crop)
        at = (positions[i:j] - starts[i:j]).to(device)
        rows = torch.arange(j - i, device=device)
        batch[rows, :, at] = 0
        logits = model(batch)
        if not isinstance(logits, torch.Tensor) or logits.ndim != 3 or logits.shape[1] != 4 \
                or logits.shape[2] != crop:
            shape = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
            raise ValueError(f"a masked language model must return logits of shape (N, 4, L) = ({j - i}, 4, {crop}); "
                             f"this one returned {shape}. Check that the model card's kind 'masked_lm' is right")
        picked = logits[rows, :, at].double()  # (b, 4)
        out[:, i:j] = torch.log_softmax(picked, dim=1).T.cpu()

    bs = batch_size or default_batch_size(device, crop)
    _, used = run_in_batches(run, n, bs, device, on_batch=lambda done: report(progress, done / max(n, 1)))
    return out, used


def _one_strand(model, x, start, end, fast, batch_size, progress, device) -> MaskedLogProbs:
    length = int(x.shape[1])
    positions = torch.arange(start, end)
    diagnostics = Diagnostics()
    longest = _max_length(model)
    full = min(length, longest) if longest else length
    rf = receptive_field_of(model)
    local = fast is not False and rf is not None and 2 * (rf // 2) + 1 < full
    if fast is True and rf is None:
        diagnostics.warnings.append("fast=True, but the model declares no receptive field (card 'receptive_field'): "
                                    "every masked copy was run at the full length")
    diagnostics.n_mutants = len(positions)
    if local:
        crop = 2 * (rf // 2) + 1
        values, used = _run_masked(model, x, positions, crop, batch_size, progress, device)
        check = sorted({start, (start + end - 1) // 2, end - 1})
        exact, _ = _run_masked(model, x, torch.tensor(check), full, None, None, device)
        got = values[:, [c - start for c in check]]
        diff = float((got - exact).abs().max())
        tol = TOLERANCE * max(1.0, float(exact.abs().max()))
        diagnostics.receptive_field = int(rf)
        diagnostics.fast_ism_max_abs_diff = diff
        diagnostics.fast_ism_verified_positions = check
        diagnostics.fast_ism_tolerance = tol
        if diff <= tol:
            diagnostics.ism_path = "local"
            diagnostics.fast_ism = True
            diagnostics.batch_size = used
            return MaskedLogProbs(values, diagnostics)
        diagnostics.warnings.append(
            f"the receptive-field-local masked pass ({crop} bp crops) differs from the whole-sequence pass by "
            f"{diff:.3g} (more than {tol:.3g}): the model sees further than its declared receptive field "
            f"{rf} bp; recomputed at the full length")
        diagnostics.fast_ism = False
    values, used = _run_masked(model, x, positions, full, batch_size, progress, device)
    diagnostics.ism_path = "full"
    diagnostics.batch_size = used
    if longest and longest < length:
        diagnostics.warnings.append(f"the model takes at most {longest:,} bp: each position was scored in the "
                                    f"{longest:,} bp around it")
    return MaskedLogProbs(values, diagnostics)


def masked_log_probs(model: nn.Module, one_hot: torch.Tensor, start: int = 0, end: int | None = None, *,
                     both_strands: bool = False, fast="auto", batch_size: int | None = None,
                     progress: ProgressCallback = None, device: torch.device | None = None) -> MaskedLogProbs:
    """``log p(b | x with i masked)`` for every position ``i`` of ``[start, end)``.

    Parameters
    ----------
    model : nn.Module
        A masked LM: one-hot ``(N, 4, L)`` (masked = zero column) -> logits ``(N, 4, L)``.
    one_hot : torch.Tensor, shape ``(4, L)``
    start, end : int
        0-based, half-open window (default: the whole sequence).
    both_strands : bool
        Average with the reverse-complement pass (module docstring).
    fast : True, False or "auto"
        Receptive-field-local crops (module docstring); False: full-length masked copies.
    batch_size : int, optional
        Masked copies per model call (default from the device and the input length).
    progress : callable, optional
        ``progress(fraction)``; returning False cancels.
    device : torch.device, optional
        Where the model is (default: where its weights are).

    Returns
    -------
    MaskedLogProbs
    """
    check_fast(fast)
    x = one_hot.detach().to(torch.float32).cpu()
    length = int(x.shape[1])
    start, end = check_window(length, start, end)
    if device is None:
        from explorer.io.torchutil import model_device

        device = model_device(model)
    with torch.inference_mode():
        if not both_strands:
            return _one_strand(model, x, start, end, fast, batch_size, progress, device)
        half = (lambda f: None if progress is None else progress(f / 2))
        fwd = _one_strand(model, x, start, end, fast, batch_size, half, device)
        rc = x.flip(0).flip(1)  # ACGT complement is the row reversal
        rev = _one_strand(model, rc, length - end, length - start, fast, batch_size,
                          (lambda f: None if progress is None else progress(0.5 + f / 2)), device)
        back = rev.log_probs.flip(0).flip(1)
        diagnostics = fwd.diagnostics
        diagnostics.warnings.extend(w for w in rev.diagnostics.warnings if w not in diagnostics.warnings)
        diagnostics.n_mutants = 2 * (end - start)
        diagnostics.extra["strand_max_abs_diff"] = float((fwd.log_probs - back).abs().max())
        return MaskedLogProbs((fwd.log_probs + back) / 2, diagnostics)


def _reference_index(one_hot: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(index of the base (L,), known (L,) bool)``: ``known`` False at N / ambiguous columns."""
    known = one_hot.sum(0) == 1
    return one_hot.argmax(0), known


def masked_llr(log_probs: torch.Tensor, one_hot: torch.Tensor) -> torch.Tensor:
    """The masked ISM map: ``log p(alt | x\\i) - log p(ref | x\\i)``.

    Parameters
    ----------
    log_probs : torch.Tensor, shape ``(4, W)``
        From :func:`masked_log_probs`.
    one_hot : torch.Tensor, shape ``(4, W)``
        The window's sequence.

    Returns
    -------
    torch.Tensor, shape ``(4, W)``, float32
        0 at the reference base, and all 0 where the reference is not one base (N).
    """
    ref, known = _reference_index(one_hot)
    ref_lp = log_probs.gather(0, ref[None]).squeeze(0)
    return ((log_probs - ref_lp[None]) * known[None]).float()


def information_bits(probs: torch.Tensor) -> torch.Tensor:
    """``2 - H(p)`` in bits per column of ``(4, W)`` probabilities (0 for uniform, 2 for certain)."""
    p = probs.double().clamp_min(1e-300)
    return 2.0 + (probs.double() * torch.log2(p)).sum(0)


def masked_distribution(log_probs: torch.Tensor, one_hot: torch.Tensor) -> tuple[torch.Tensor, dict]:
    """What the model expects at each position: ``p(b | x\\i) * (2 - H)`` and the reference track.

    Parameters
    ----------
    log_probs : torch.Tensor, shape ``(4, W)``
    one_hot : torch.Tensor, shape ``(4, W)``

    Returns
    -------
    (values, extra)
        ``values`` ``(4, W)`` float32: the predicted probabilities scaled by the information
        content in bits (a logo's letter heights; each column sums to its information).
        ``extra``: ``reference_log_prob`` (list of W floats, natural log; NaN where the
        reference is N), ``information_bits`` (list of W floats) and ``mean_reference_log_prob``.
    """
    probs = log_probs.exp()
    info = information_bits(probs)
    ref, known = _reference_index(one_hot)
    ref_lp = log_probs.gather(0, ref[None]).squeeze(0)
    ref_lp = torch.where(known, ref_lp, torch.full_like(ref_lp, math.nan))
    values = (probs * info[None]).float()
    mean = float(ref_lp[known].mean()) if bool(known.any()) else math.nan
    return values, {"reference_log_prob": [float(v) for v in ref_lp],
                    "information_bits": [float(v) for v in info], "mean_reference_log_prob": mean}


def pseudo_log_likelihood(model: nn.Module, one_hot: torch.Tensor, start: int = 0, end: int | None = None,
                          **options) -> float:
    """Sum over ``[start, end)`` of ``log p(observed base | x with that position masked)``.

    Positions whose base is not A, C, G or T count 0. ``options`` go to
    :func:`masked_log_probs` (``fast``, ``batch_size``, ``both_strands``, ``device``).
    """
    x = one_hot.detach().to(torch.float32).cpu()
    res = masked_log_probs(model, x, start, end, **options)
    start, end = check_window(int(x.shape[1]), start, end)
    ref, known = _reference_index(x[:, start:end])
    lp = res.log_probs.gather(0, ref[None]).squeeze(0)
    return float((lp * known).sum())

"""The model's own background for seqlet calling: attributions of shuffled copies.

The recursive seqlet caller (:mod:`explorer.motifs.seqlets`) needs the distribution of a
per-base importance where nothing binds. By default it takes that from the map itself,
which works on a long window where most bases are background, but not on a short
element (a 75-150 bp promoter, an MPRA construct) where most bases carry signal: there
the map's own distribution is mostly signal, and only the strongest site stands out.

:func:`shuffled_null` gives the caller a null that does not come from the map: the same
method, target and options run through the same model on dinucleotide-shuffled copies of
the window (flanks, when given, kept as they are), so the background is what this model
says about sequence of the same composition with the sites broken up.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["shuffled_null"]


def shuffled_null(model, attribution, sequence=None, n_shuffles: int = 8, random_state: int = 0,
                  **options) -> np.ndarray:
    """Per-base importances of dinucleotide-shuffled copies of an attribution's window.

    Parameters
    ----------
    model : nn.Module
        The model that made ``attribution``.
    attribution : explorer.attribution.result.Attribution
        The map to build a null for; its method, target and options are reused.
    sequence : Locus, torch.Tensor ``(4, L)`` or str, optional
        The whole sequence that was given to :func:`explorer.attribute` (the window is
        ``attribution.start:attribution.end`` of it, 0-based half-open). Only the window is
        shuffled; the flanks stay, so the model sees the same context. Default: the
        window's own sequence (right when the window was the whole input).
    n_shuffles : int
        Number of shuffled copies (default 8: ``8 * L`` background values).
    random_state : int
        Seed of the shuffles.
    **options
        Override the attribution's options for the background runs (e.g. fewer IG
        shuffles); by default the same options, so the null is on the same scale.

    Returns
    -------
    numpy.ndarray
        ``float64``, shape ``(n_shuffles, L)``: ``per_base`` of each shuffled copy's map,
        ``L = len(attribution)``.

    Raises
    ------
    ValueError
        ``sequence`` does not hold the attribution's window, or ``n_shuffles < 1``.
    """
    from explorer.attribution.api import attribute
    from explorer.io.sequences import dinucleotide_shuffle, one_hot_encode, validate_sequence

    if n_shuffles < 1:
        raise ValueError(f"n_shuffles must be >= 1; got {n_shuffles}")
    start, end = int(attribution.start), int(attribution.end)
    if sequence is None:
        x, start, end = attribution.one_hot, 0, len(attribution)
    elif isinstance(sequence, str):
        x = one_hot_encode(validate_sequence(sequence))
    elif hasattr(sequence, "one_hot"):
        x = sequence.one_hot
    else:
        x = torch.as_tensor(sequence, dtype=torch.float32)
    x = x.to(torch.float32).cpu()
    window = x[:, start:end] if x.ndim == 2 and x.shape[1] >= end else None
    if window is None or not torch.equal(window, attribution.one_hot.cpu()):
        raise ValueError(f"the sequence does not hold the attribution's window [{start}, {end}) "
                         f"(0-based); pass the sequence the map was computed on")
    target_spec = attribution.diagnostics.get("target") or {}
    target = target_spec.get("task_index", attribution.target)
    opts = {**attribution.options, **options}
    out = np.empty((n_shuffles, end - start), dtype=np.float64)
    shuffles = dinucleotide_shuffle(window, n=n_shuffles, random_state=random_state)
    for i in range(n_shuffles):
        copy = x.clone()
        copy[:, start:end] = shuffles[i]
        res = attribute(model, copy, attribution.method, target, start, end, cache=False, **opts)
        out[i] = res.per_base
    if not np.all(np.isfinite(out)):
        raise ValueError("the model's attributions of shuffled copies hold NaN or Inf; the background "
                         "cannot be built (check the model on this sequence)")
    return out

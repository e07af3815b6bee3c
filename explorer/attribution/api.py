"""``explorer.attribute`` and ``explorer.predict``: the attribution engine's public face."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from explorer.attribution import cache as _cache
from explorer.attribution.context import model_input_span
from explorer.attribution.device import default_batch_size, run_in_batches
from explorer.attribution.cost import check_ism_cost
from explorer.attribution.diagnostics import Diagnostics
from explorer.attribution.fast_ism import fast_ism, progressive_ism
from explorer.attribution.ism import center_ism, ism
from explorer.attribution.masked_lm import LM_METHODS, is_masked_lm, masked_distribution, masked_llr, masked_log_probs
from explorer.attribution.progress import Cancelled, ProgressCallback, monotone, report
from explorer.attribution.quadrature import ADAPTIVE, DEFAULT_STEPS
from explorer.attribution.result import Attribution
from explorer.attribution.runtime import (check_fast, check_one_hot, check_window, resolve_device,
                                          run_with_fallback, running_on)
from explorer.attribution.tiling import tiles
from explorer.attribution.targets import Target, describe_output, model_tasks, resolve_target
from explorer.io.probing import explained_model_errors

__all__ = ["attribute", "predict", "Cancelled", "METHODS", "LM_METHODS", "methods_for"]

#: method -> its options and their defaults (anything else is an error, to catch typos)
METHODS: dict[str, dict[str, Any]] = {
    "ism": {"batch_size": None, "fast": "auto", "ism_centered": False, "max_mutants": None},
    "ig": {"baseline": "shuffle", "n_shuffles": 5, "n_steps": DEFAULT_STEPS, "method": ADAPTIVE,
           "internal_batch_size": None, "random_state": 0, "tolerance": 0.01, "max_steps": 256},
    "deeplift_shap": {"n_shuffles": 20, "random_state": 0, "batch_size": None, "head_rule": "auto",
                      "head_steps": 32, "warning_threshold": 0.01},
    "saliency": {},
}


def methods_for(model: nn.Module) -> list[str]:
    """The methods :func:`attribute` offers for this model: its card's ``kind`` decides.

    A masked language model (``"kind": "masked_lm"``) gets ``"ism"`` (masked log-likelihood
    ratios) and ``"masked_distribution"`` (:mod:`explorer.attribution.masked_lm`); any other
    model (a predictor) gets :data:`METHODS`.
    """
    return list(LM_METHODS if is_masked_lm(model) else METHODS)


#: options that do not change the numbers (left out of the cache key)
_NOT_IN_KEY = {"batch_size", "internal_batch_size", "max_mutants"}
#: target options accepted by attribute (passed to resolve_target)
_TARGET_OPTIONS = ("reduce", "window", "output")


def _as_input(locus_or_onehot) -> tuple[torch.Tensor, str | None, int]:
    """``(one_hot (4, L) float32 CPU, chrom or None, 0-based genome offset)``."""
    if isinstance(locus_or_onehot, str):
        from explorer.io.sequences import one_hot_encode, validate_sequence

        return one_hot_encode(validate_sequence(locus_or_onehot)), None, 0
    if hasattr(locus_or_onehot, "one_hot") and hasattr(locus_or_onehot, "chrom"):
        locus = locus_or_onehot
        return locus.one_hot.to(torch.float32).cpu(), str(locus.chrom), int(locus.start)
    if isinstance(locus_or_onehot, (torch.Tensor, np.ndarray)):
        return check_one_hot(locus_or_onehot).cpu(), None, 0
    raise TypeError(f"expected a Locus, a (4, L) one-hot tensor or a DNA string; got "
                    f"{type(locus_or_onehot).__name__}")


def _check_length(model: nn.Module, length: int) -> None:
    if callable(getattr(model, "check_length", None)):
        model.check_length(length)
        return
    min_length = getattr(model, "min_length", None)
    if min_length and length < int(min_length):
        raise ValueError(f"the model needs inputs of at least {min_length} bp; got {length} bp")


def _options(method: str, options: dict, table: dict | None = None, kind: str = "") -> dict:
    table = METHODS if table is None else table
    if method not in table:
        raise ValueError(f"method must be one of {sorted(table)}{kind}; got {method!r}")
    allowed = table[method]
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ValueError(f"unknown option(s) {unknown} for method {method!r}; its options are "
                         f"{sorted(allowed) or 'none'} (and target options {list(_TARGET_OPTIONS)})")
    return {**allowed, **options}


def _fast_choice(model, fast):
    """``fast`` as asked, except ``"auto"`` is plain ISM for a model whose card says fast ISM
    cannot apply (``"fast_ism": false``: attention over the whole input, as in an Enformer)."""
    if fast == "auto" and (getattr(model, "card", None) or {}).get("fast_ism") is False:
        return False
    return fast


def _run_ism(model, x, target, start, end, opts, progress) -> tuple[torch.Tensor, Diagnostics]:
    """ISM of ``[start, end)``, fast or plain as ``opts["fast"]`` says (:func:`run_with_fallback`)."""
    res = run_with_fallback(
        _fast_choice(model, opts["fast"]),
        run_fast=lambda: fast_ism(model, x, target, start, end, progress=progress),
        run_plain=lambda: ism(model, x, target, start, end, batch_size=opts["batch_size"], progress=progress))
    return res.values, res.diagnostics


def _run_ism_progressive(model, x, target, start, end, opts, progress, on_chunk, view
                         ) -> tuple[torch.Tensor, Diagnostics]:
    """ISM chunk by chunk (the view first), reporting each chunk; same numbers as :func:`_run_ism`."""
    check_fast(opts["fast"])
    if _fast_choice(model, opts["fast"]) is False:
        return _run_ism(model, x, target, start, end, opts, progress)
    view = view if view is not None else (start, min(end, start + 400))
    chunk = max(200, (end - start) // 4)
    values = torch.zeros(4, end - start)
    diagnostics = Diagnostics()
    for a, b, chunk_values in progressive_ism(model, x, target, view[0], view[1], chunk=chunk, start=start,
                                              end=end, progress=progress, batch_size=opts["batch_size"],
                                              diagnostics=diagnostics):
        values[:, a - start:b - start] = chunk_values
        on_chunk(a, b, chunk_values)
    diagnostics.ism_path = f"progressive {diagnostics.fast_ism_path or 'fast'}"
    return values, diagnostics


def attribute(model: nn.Module, locus_or_onehot, method: str = "ism",
              target: str | int | Target | None = None, start: int | None = None,
              end: int | None = None, *, cache: bool = True, progress: ProgressCallback = None,
              device: str | torch.device | None = None, on_chunk=None, view: tuple[int, int] | None = None,
              context: int | str | None = "auto", **options) -> Attribution:
    """Attribute a model's output to the bases of a window of one sequence.

    ``start``/``end`` choose the window whose bases are mutated (ISM) or reported (gradient
    methods). The model sees the whole given sequence up to 100 kb; a longer one is cut to
    the window and the context the model needs (``context``: for a local model that takes
    any length, twice its receptive-field radius on each side). A model of one input length
    is slid over a longer sequence.

    Parameters
    ----------
    model : nn.Module
        An :class:`~explorer.io.models.ExplorerModel` (task names from its card) or a
        plain module taking one-hot ``(N, 4, L)`` (tasks ``"task 0"``, ...).
    locus_or_onehot : Locus, torch.Tensor or str
        A :class:`~explorer.io.loci.Locus` (its ``chrom`` and ``start`` give
        ``genome_start``), a one-hot ``(4, L)`` tensor, or a DNA string.
    method : {"ism", "ig", "deeplift_shap", "saliency"}
        ``"ism"``: exact in-silico mutagenesis, ``f(mutant) - f(reference)`` for every
        substitution, 0 at the reference base. ``"ig"``: integrated gradients
        (:func:`~explorer.attribution.gradients.integrated_gradients`).
        ``"deeplift_shap"``: DeepLIFT/SHAP (tangermeme) against dinucleotide shuffles.
        ``"saliency"``: gradient x input. Gradient maps are placed on the observed base.
        For a masked language model (card ``"kind": "masked_lm"``, see
        :func:`methods_for`): ``"ism"`` gives ``log p(alt | x with i masked) - log p(ref |
        x with i masked)``, 0 at the reference, and ``"masked_distribution"`` the predicted
        distribution at each masked position scaled by its information (bits), with
        ``diagnostics["reference_log_prob"]`` the reference's log probability per position
        (:mod:`explorer.attribution.masked_lm`); their options are ``batch_size``, ``fast``
        and ``both_strands`` (average with the reverse-complement pass). ``target`` is
        ignored for a masked LM.
    target : str, int, Target or None
        Task name or index (None for a one-task model); see
        :func:`~explorer.attribution.targets.resolve_target`. Target options ``reduce``,
        ``window`` (output positions) and ``output`` (tuple head) go in ``options``.
    start, end : int, optional
        0-based, half-open window within the sequence (default: all of it).
    cache : bool
        Serve and store results in the on-disk cache (:mod:`explorer.attribution.cache`).
    on_chunk : callable, optional
        ISM only (progressive display): ``on_chunk(chunk_start, chunk_end, values)`` is called
        as each chunk of the map is ready, ``values`` ``(4, chunk_end - chunk_start)``,
        coordinates 0-based in the given sequence. The chunk ``view`` comes first, then
        chunks outward (:func:`explorer.attribution.fast_ism.progressive_ism`). A cache hit
        calls it once with the whole window. The result is the same map.
    view : (int, int), optional
        With ``on_chunk``: the 0-based half-open part of the window to compute first
        (default: the first 400 bases of the window).
    context : "auto", int or None
        Bases on each side of the window given to the model. ``"auto"``: the whole sequence
        up to 100 kb; a longer one is cut to the window and twice the radius of a local
        model whose receptive field is known (card or structure; every output a window base
        can change is then computed as on the whole sequence, see
        :mod:`explorer.attribution.context`). None: the whole sequence. Ignored with a
        target ``window`` (output positions of the whole input).
        ``diagnostics["model_input"]`` holds ``[lo, hi)``, the part given, when it is not all.
    progress : callable, optional
        ``progress(fraction) -> bool | None``; returning False stops the run and raises
        :class:`Cancelled`.
    device : str or torch.device, optional
        Where to run (default: where the model's weights are). The model is moved back
        and its train/eval mode restored afterwards.
    **options
        Per method (defaults in :data:`METHODS`). ISM: ``batch_size``, ``fast``
        (``"auto"``: receptive-field-local ISM when the model declares its structure),
        ``ism_centered`` (return the mean-centred "hypothetical" map, see
        :func:`~explorer.attribution.ism.center_ism`), ``max_mutants`` (refuse a window
        needing more model runs: default the card's ``ism_max_mutants``, e.g. 300 for an
        Enformer, else no limit; :func:`~explorer.attribution.cost.ism_cost` says the cost
        before a run). IG: ``baseline`` ("shuffle",
        "zeros", "uniform"), ``n_shuffles``, ``n_steps``, ``method``
        ("adaptive_trapezoid" or one of captum's rules, e.g. "gausslegendre"),
        ``internal_batch_size``, ``random_state``, ``tolerance``, ``max_steps``.
        DeepLIFT/SHAP: ``n_shuffles``, ``random_state``, ``batch_size``, ``head_rule``,
        ``head_steps``, ``warning_threshold``.

    Returns
    -------
    Attribution
        ``values`` ``(4, end - start)`` float32 on the CPU; ``diagnostics`` (a
        :class:`~explorer.attribution.diagnostics.Diagnostics`) holds ``reference_score``
        (f(x)), ``cache_hit``, ``warnings``, the ISM path and its self-check, and the
        method's checks (``completeness_error`` for IG, ``convergence_delta_max`` for
        DeepLIFT/SHAP).

    Raises
    ------
    ValueError
        Wrong input shape, sequence shorter than the model accepts, empty or out-of-range
        window, unknown target/method/option, an ISM window past ``max_mutants``,
        DeepLIFT/SHAP for a model whose card says why it has no rules
        (``deeplift_unsupported``). The message names the rule and the value.
    Cancelled
        The progress callback returned False.
    ModelRunError
        A TorchScript model raised an error: the message holds the model's own error text
        (:func:`explorer.io.probing.explained_model_errors`).
    """
    x, chrom, offset = _as_input(locus_or_onehot)
    length = int(x.shape[1])
    fixed = getattr(model, "input_length", None)
    if fixed and length > int(fixed):
        return _attribute_sliding(model, x, chrom, offset, method, target, start, end, int(fixed), cache=cache,
                                  progress=progress, device=device, on_chunk=on_chunk, options=options)
    if context is not None and "window" not in options and not isinstance(target, Target):
        lo, hi = model_input_span(model, length, *check_window(length, start, end), context)
        if (lo, hi) != (0, length):
            return _attribute_in_context(model, x, chrom, offset, lo, hi, method, target, start, end, cache=cache,
                                         progress=progress, device=device, on_chunk=on_chunk, view=view,
                                         options=options)
    _check_length(model, length)
    start, end = check_window(length, start, end)
    if is_masked_lm(model):
        return _attribute_lm(model, x, chrom, offset, method, start, end, cache=cache, progress=progress,
                             device=device, on_chunk=on_chunk, options=options)
    target_options = {k: options.pop(k) for k in _TARGET_OPTIONS if k in options}
    opts = _options(method, options)
    dev = resolve_device(model, device)
    progress = monotone(progress)

    refused = (getattr(model, "card", None) or {}).get("deeplift_unsupported")
    if method == "deeplift_shap" and refused:
        raise ValueError(f"DeepLIFT/SHAP is not available for this model: {refused}")
    if method == "ism":
        check_ism_cost(model, start, end, length, opts["max_mutants"])

    with running_on(model, dev), explained_model_errors(f"computing the {method} map"):
        target_obj = resolve_target(model, target, length=length, **target_options)
        key, hit = _cache_lookup(cache, model, x, start, end, method, target_obj.to_dict(), opts, chrom, offset,
                                 on_chunk, progress)
        if hit is not None:
            return hit

        tic = time.perf_counter()
        if method == "ism":
            if on_chunk is not None:
                values, diagnostics = _run_ism_progressive(model, x, target_obj, start, end, opts, progress,
                                                           on_chunk, view)
            else:
                values, diagnostics = _run_ism(model, x, target_obj, start, end, opts, progress)
            if opts["ism_centered"]:
                values = center_ism(values)
        else:
            if method == "ig":
                from explorer.attribution.gradients import integrated_gradients

                full, extra = integrated_gradients(model, x, target_obj, progress=progress,
                                                   **{k: v for k, v in opts.items()})
            elif method == "deeplift_shap":
                from explorer.attribution.deeplift import deeplift_shap

                full, extra = deeplift_shap(model, x, target_obj, progress=progress, **opts)
            else:
                from explorer.attribution.gradients import saliency

                full, extra = saliency(model, x, target_obj)
            diagnostics = Diagnostics.from_dict(extra)
            values = full[:, start:end].contiguous()
        diagnostics.target = target_obj.to_dict()
        seconds = time.perf_counter() - tic
        report(progress, 1.0)

    return _finished(key, values, x, method, target_obj.name, start, end, chrom, offset,
                     dict(opts, **target_options), diagnostics, dev, seconds)


def _finished(key, values, x, method, target_name, start, end, chrom, offset, options, diagnostics, dev,
              seconds) -> Attribution:
    """The computed map of ``[start, end)`` checked for non-finite values, as an
    :class:`Attribution` on ``chrom``/``offset``, saved under ``key`` (None: not cached)."""
    check_finite_map(values, method, start, diagnostics.get("reference_score"))
    diagnostics.cache_hit = False
    result = Attribution(values=values, one_hot=x[:, start:end].clone(), method=method, target=target_name,
                         start=start, end=end, chrom=chrom, genome_start=offset + start, options=options,
                         diagnostics=diagnostics, device=str(dev), seconds=seconds)
    if key is not None:
        _cache.save(key, result)
    return result


def _cache_lookup(cache, model, x, start, end, method, target: dict, opts, chrom, offset, on_chunk, progress):
    """``(key, hit)``: the cache key of a request (None with ``cache=False``) and the cached
    result placed on ``chrom``/``offset`` (``on_chunk`` and progress told), or None."""
    key_options = {k: v for k, v in opts.items() if k not in _NOT_IN_KEY}
    key = _cache.cache_key(model, x, start, end, method, target, key_options) if cache else None
    hit = _cache.load(key) if key is not None else None
    if hit is not None:
        hit.chrom, hit.genome_start = chrom, offset + start
        if on_chunk is not None:
            on_chunk(start, end, hit.values)
        report(progress, 1.0)
    return key, hit


def _attribute_lm(model, x, chrom, offset, method, start, end, *, cache, progress, device, on_chunk,
                  options) -> Attribution:
    """:func:`attribute` for a masked language model (:mod:`explorer.attribution.masked_lm`)."""
    opts = _options(method, options, LM_METHODS, " for a masked language model (its card's kind is 'masked_lm')")
    dev = resolve_device(model, device)
    progress = monotone(progress)
    target = {"masked_lm": method}
    name = "masked log-likelihood ratio" if method == "ism" else "masked prediction (bits)"
    with running_on(model, dev), explained_model_errors(f"computing the masked-LM {method} map"):
        key, hit = _cache_lookup(cache, model, x, start, end, method, target, opts, chrom, offset, on_chunk, progress)
        if hit is not None:
            return hit
        tic = time.perf_counter()
        res = masked_log_probs(model, x, start, end, both_strands=bool(opts["both_strands"]), fast=opts["fast"],
                               batch_size=opts["batch_size"], progress=progress, device=dev)
        diagnostics = res.diagnostics
        window = x[:, start:end]
        if method == "ism":
            values = masked_llr(res.log_probs, window)
        else:
            values, extra = masked_distribution(res.log_probs, window)
            diagnostics.extra.update(extra)
        diagnostics.target = target
        seconds = time.perf_counter() - tic
        report(progress, 1.0)
    result = _finished(key, values, x, method, name, start, end, chrom, offset, dict(opts), diagnostics, dev,
                       seconds)
    if on_chunk is not None:
        on_chunk(start, end, values)
    return result


def check_finite_map(values: torch.Tensor, method: str, start: int, reference_score=None) -> None:
    """Refuse a map (or its f(x)) holding NaN or Inf, naming where: never pass one on quietly.

    Parameters
    ----------
    values : torch.Tensor, shape ``(4, L)``
    method : str
    start : int
        0-based position of the map's first column in the sequence (for the message).
    reference_score : float, optional
        ``f(x)``.

    Raises
    ------
    ValueError
        With the number of positions and the first one (0-based in the sequence).
    """
    if reference_score is not None and not np.isfinite(reference_score):
        raise ValueError(f"the model's output for this sequence is {reference_score}: no map can be computed; "
                         f"check the model on this input")
    bad = ~torch.isfinite(values).all(0)
    if bool(bad.any()):
        where = torch.nonzero(bad).flatten()
        raise ValueError(f"the {method} map holds NaN or Inf at {int(bad.sum())} of {values.shape[1]} positions (the "
                         f"first at 0-based position {start + int(where[0])}): the model's output is not finite "
                         f"for some inputs near there; check the model")


def _attribute_in_context(model, x, chrom, offset, lo, hi, method, target, start, end, *, on_chunk, view,
                          options, **keywords) -> Attribution:
    """:func:`attribute` given only ``x[:, lo:hi]``, the window and its context; the result in
    the coordinates of the whole sequence."""
    start, end = check_window(int(x.shape[1]), start, end)
    shifted = None if on_chunk is None else (lambda a, b, v: on_chunk(a + lo, b + lo, v))
    res = attribute(model, x[:, lo:hi].contiguous(), method, target, start - lo, end - lo, context=None,
                    on_chunk=shifted, view=None if view is None else (view[0] - lo, view[1] - lo),
                    **keywords, **dict(options))
    res.start, res.end, res.chrom, res.genome_start = start, end, chrom, offset + start
    res.diagnostics.extra["model_input"] = [lo, hi]
    return res


def _attribute_sliding(model, x, chrom, offset, method, target, start, end, input_length, *, cache, progress,
                       device, on_chunk, options) -> Attribution:
    """:func:`attribute` for a fixed-length model on a longer sequence (see :mod:`.tiling`)."""
    start, end = check_window(int(x.shape[1]), start, end)
    plan = tiles(int(x.shape[1]), input_length, start, end)
    progress = monotone(progress)
    results: list[Attribution] = []
    for k, tile in enumerate(plan):
        def part_progress(fraction, k=k):
            return None if progress is None else progress((k + fraction) / len(plan))

        res = attribute(model, x[:, tile.offset:tile.offset + input_length], method, target,
                        tile.start - tile.offset, tile.end - tile.offset, cache=cache, progress=part_progress,
                        device=device, **dict(options))
        results.append(res)
        if on_chunk is not None:
            on_chunk(tile.start, tile.end, res.values)
    first = results[0]
    diagnostics = Diagnostics.from_dict(first.diagnostics.to_dict())
    diagnostics.reference_score = None  # one f(x) per input: in extra["input_reference_scores"]
    diagnostics.warnings = list(dict.fromkeys(w for r in results for w in r.diagnostics.get("warnings", [])))
    diagnostics.extra.update(
        sliding_inputs=[[t.offset, t.offset + input_length] for t in plan],
        input_reference_scores=[r.diagnostics.get("reference_score") for r in results],
        sliding=(f"the model takes exactly {input_length:,} bp, so it was slid over the sequence: "
                 f"{len(plan)} inputs of {input_length:,} bp, each base's value taken from the input in "
                 f"which it sits most centrally"))
    report(progress, 1.0)
    return Attribution(values=torch.cat([r.values for r in results], 1), one_hot=x[:, start:end].clone(),
                       method=method, target=first.target, start=start, end=end, chrom=chrom,
                       genome_start=offset + start, options=first.options, diagnostics=diagnostics,
                       device=first.device, seconds=sum(r.seconds for r in results))


def predict(model: nn.Module, locus_or_onehot, window: int | None = None, step: int | None = None,
            batch_size: int | None = None, *, reduce: str = "sum", output: int | None = None,
            device: str | torch.device | None = None) -> pd.DataFrame:
    """Model scores along a sequence, in sliding windows (the app's locus overview).

    Parameters
    ----------
    model : nn.Module
        An ExplorerModel or a plain module taking one-hot ``(N, 4, L)``.
    locus_or_onehot : Locus, torch.Tensor or str
        The sequence (``(4, L)`` one-hot or DNA string, or a Locus).
    window : int, optional
        Window length in bp; default ``model.input_length``, else 200 (at least the
        model's ``min_length``), and at most the sequence length.
    step : int, optional
        Distance between window starts; default ``window // 2``. The last window is
        aligned to the sequence end so every base is covered.
    batch_size : int, optional
        Windows per forward pass (default from the device and window).
    reduce : str
        For per-position outputs, how each task's profile becomes one score ("sum",
        "mean", "max", "logsumexp", "log_counts").
    output : int, optional
        Which element of a tuple output (default 0).
    device : str or torch.device, optional
        Where to run (default: the model's device); the model is restored after.

    Returns
    -------
    pandas.DataFrame
        One row per window: ``start``, ``end`` (0-based, half-open in the sequence),
        ``genome_start`` (0-based on the chrom: locus start + start), then one column per
        task with the model's score.
    """
    from explorer.attribution.targets import reduce_window

    x, _chrom, offset = _as_input(locus_or_onehot)
    length = int(x.shape[1])
    input_length = getattr(model, "input_length", None)
    min_length = int(getattr(model, "min_length", 1) or 1)
    if window is None:
        window = int(input_length) if input_length else min(length, max(200, min_length))
    window = int(window)
    if window < 1 or window > length:
        raise ValueError(f"window must be between 1 and the sequence length {length}; got {window}")
    if input_length and window != int(input_length):
        raise ValueError(f"the model takes exactly {input_length} bp; got window={window}")
    if window < min_length:
        raise ValueError(f"the model needs at least {min_length} bp; got window={window}")
    step = int(step or max(1, window // 2))
    if step < 1:
        raise ValueError(f"step must be >= 1; got {step}")
    starts = list(range(0, length - window + 1, step))
    if starts[-1] != length - window:
        starts.append(length - window)
    starts_t = torch.tensor(starts)
    dev = resolve_device(model, device)
    batch_size = batch_size or default_batch_size(dev, window)

    with (running_on(model, dev), torch.inference_mode(),
          explained_model_errors("scoring windows along the sequence")):
        xd = x.to(dev)
        offsets = torch.arange(window, device=dev)

        def run(i, j):
            idx = starts_t[i:j].to(dev)[:, None] + offsets[None, :]  # (b, window)
            batch = xd[:, idx].permute(1, 0, 2).contiguous()  # (b, 4, window)
            y = model(batch)
            head = y[0 if output is None else output] if isinstance(y, (tuple, list)) else y
            if head.ndim == 3:
                head = torch.stack([reduce_window(head[:, t], reduce) for t in range(head.shape[1])], 1)
            if head.ndim != 2:
                raise ValueError(f"the model output has shape {describe_output(y)}; expected "
                                 f"(N, n_tasks) or (N, n_tasks, L_out)")
            return head.float().cpu()

        scores, _ = run_in_batches(run, len(starts), batch_size, dev)
    scores_t = torch.cat(scores).numpy()
    bad = ~np.isfinite(scores_t).all(axis=1)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise ValueError(f"the model returned NaN or Inf for {int(bad.sum())} of {len(starts)} windows (the first "
                         f"at 0-based {starts[first]}-{starts[first] + window}); check the model on this sequence")
    names = model_tasks(model)
    if names is None or len(names) != scores_t.shape[1]:
        names = [f"task {i}" for i in range(scores_t.shape[1])]
    frame = pd.DataFrame({"start": np.asarray(starts, dtype=np.int64),
                          "end": np.asarray(starts, dtype=np.int64) + window,
                          "genome_start": np.asarray(starts, dtype=np.int64) + offset})
    for i, name in enumerate(names):
        frame[name] = scores_t[:, i]
    return frame

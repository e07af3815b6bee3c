"""Predicted variant effects: score the reference and the alternative sequence of each variant.

Coordinates: variant tables carry ``pos`` **1-based** on the locus's ``chrom`` (VCF
convention); internally a variant starts at the 0-based index ``pos - 1 - locus.start``
within the locus.

Scoring window
--------------
Each variant is scored on a window of ``W`` bases of the locus:

* a model with a fixed ``input_length``: ``W = input_length``;
* a model that takes any length (``input_length`` is None):

  - ``window=None`` (default): the **whole locus** when it is at most
    :data:`WHOLE_LOCUS_MAX` bp long (so the numbers equal those of
    ``explorer.attribute(model, locus, method="ism")``, which feeds the whole locus), else
    :data:`DEFAULT_WINDOW` bp;
  - ``window="locus"``: the whole locus, whatever its length;
  - ``window=<int>``: that many bases.

A window of ``W`` bases (other than the whole locus) is centred on the variant: the first
reference base sits at offset ``W // 2`` of the window, i.e. the window is the 0-based
locus interval ``[i - W//2, i - W//2 + W)`` for a variant at index ``i``. Where the window
runs past an end of the locus the missing bases are ``N`` (all-zero one-hot columns); the
number is in the ``n_padded`` column.

Indels keep the window's length ``W`` and position: the alternative sequence is the
reference window's bases left of the variant, unchanged, then the ``alt`` allele at the same
offset, then the locus bases that follow the ``ref`` allele, read on until the sequence is
``W`` long. So after a deletion of ``k`` bases the right flank extends ``k`` bases past the
reference window (read from the locus; ``N`` beyond its end); after an insertion of ``k``
bases the last ``k`` bases of the reference window drop out. Bases left of the variant keep
their offsets in both sequences, bases right of it shift by ``len(alt) - len(ref)``. An
insertion longer than the window from the variant on is itself cut at the window's end: its
score is that of a truncated allele, and :func:`variant_effect` says so in a warning (and in
``df.attrs["notes"]``).

Scores and columns
------------------
``ref_score`` and ``alt_score`` are the target's value (an :class:`explorer.Target`) for
the reference and the alternative window; ``diff = alt_score - ref_score`` (the quantity an
ISM map holds). ``log_ratio`` is ``log2`` of a ratio of positive quantities, so it is defined
only when the model card says what the output is (card key ``"output"``, or the
``output=`` argument; its first word counts, so ``"logits (N, 2)"`` means logits):

* ``"logits"`` (sigmoid outputs, like the sample model): ``log2(sigmoid(alt) / sigmoid(ref))``,
  the log2 ratio of the predicted probabilities;
* ``"probability"``, ``"counts"``, ``"positive"``, ``"rate"``: ``log2(alt / ref)`` where both are
  positive (NaN elsewhere);
* anything else (unknown, ``"log_counts"`` ...): NaN, since a ratio of arbitrary real
  scores has no meaning. For ``"log_counts"`` the ``diff`` already is a log ratio (natural log).
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import pandas as pd
import torch

from explorer.io.probing import explained_model_errors
from explorer.io.sequences import one_hot_encode
from explorer.io.variants import allele_bases, check_variants, parse_variants, variant_label

#: loci up to this length are scored whole by any-length models when ``window=None``
WHOLE_LOCUS_MAX = 10_000
#: window scored by any-length models on longer loci (``window=None``)
DEFAULT_WINDOW = 2_000
#: the columns of :func:`variant_effect`'s table, in order
EFFECT_COLUMNS = ["chrom", "pos", "ref", "alt", "id", "kind", "task", "ref_score", "alt_score", "diff",
                  "log_ratio", "window_start", "window_end", "n_padded"]

_LOGIT_KINDS = {"logit", "logits"}
_POSITIVE_KINDS = {"probability", "probabilities", "prob", "counts", "count", "positive", "rate"}


@dataclass(frozen=True)
class VariantWindow:
    """The two sequences a variant is scored on.

    Attributes
    ----------
    start : int
        0-based index within the locus of the window's first base (negative, or reaching past
        the locus end, where the window is padded with ``N``).
    ref_sequence, alt_sequence : str
        The reference and alternative windows, both ``len(ref_sequence)`` long.
    offset : int
        0-based offset of the variant's first base within both windows.
    n_padded : int
        How many ``N`` bases were added beyond the locus ends (either sequence).
    n_cut : int
        How many bases of the ``alt`` allele itself did not fit in the window (an insertion
        longer than the window from the variant on): the alternative is then scored on a
        truncated allele, which :func:`variant_effect` says in a warning.
    """

    start: int
    ref_sequence: str
    alt_sequence: str
    offset: int
    n_padded: int
    n_cut: int = 0

    @property
    def length(self) -> int:
        return len(self.ref_sequence)


def _padded_slice(sequence: str, a: int, b: int) -> tuple[str, int]:
    """``sequence[a:b]`` with ``N`` for indices outside ``[0, len)``; returns (text, n_padded)."""
    if b <= a:
        return "", 0
    n = len(sequence)
    left = max(0, -a) if a < 0 else 0
    right = max(0, b - n)
    core = sequence[max(a, 0):min(b, n)] if min(b, n) > max(a, 0) else ""
    if a >= n or b <= 0:
        return "N" * (b - a), b - a
    return "N" * left + core + "N" * right, left + right


def variant_window(sequence: str, index: int, ref: str, alt: str, length: int | None = None) -> VariantWindow:
    """Build the reference and alternative windows of one variant (rule: module docstring).

    Parameters
    ----------
    sequence : str
        The locus sequence.
    index : int
        0-based index within ``sequence`` of the variant's first reference base.
    ref, alt : str
        Normalised alleles (``"-"`` for an empty allele); ``ref`` must match ``sequence``.
    length : int or None
        Window length ``W``; None for the whole ``sequence``.

    Returns
    -------
    VariantWindow
    """
    r, a = allele_bases(ref), allele_bases(alt)
    if length is None:
        start, length = 0, len(sequence)
    else:
        start = index - length // 2
    end = start + length
    ref_seq, pad_ref = _padded_slice(sequence, start, end)
    offset = index - start
    left = ref_seq[:offset]
    need_right = length - offset - len(a)
    right, pad_alt = _padded_slice(sequence, index + len(r), index + len(r) + max(need_right, 0))
    alt_seq = (left + a + right)[:length]
    pad_left = max(0, -start)
    n_cut = max(0, offset + len(a) - length)
    return VariantWindow(start, ref_seq, alt_seq, offset, max(pad_ref, pad_alt + pad_left), n_cut)


def scoring_window_length(model, locus, window=None) -> int | None:
    """The window length ``W`` used for ``model`` on ``locus``; None means the whole locus.

    See the module docstring for the rule.

    Raises
    ------
    ValueError
        A ``window`` a fixed-length model cannot take, or shorter than the model's
        ``min_length``, or a locus shorter than the model needs.
    """
    fixed = getattr(model, "input_length", None)
    min_length = int(getattr(model, "min_length", 1) or 1)
    if fixed is not None:
        fixed = int(fixed)
        if window not in (None, fixed):
            raise ValueError(
                f"the model takes inputs of exactly {fixed} bp, so the scoring window is {fixed} bp; "
                f"got window={window!r} (leave it out)"
            )
        return fixed
    if window == "locus" or (window is None and len(locus) <= WHOLE_LOCUS_MAX):
        if len(locus) < min_length:
            raise ValueError(
                f"the locus {locus} is {len(locus):,} bp but the model needs at least {min_length} bp; "
                f"load a longer locus or pass window=<int> >= {min_length}"
            )
        return None
    if window is None:
        return max(DEFAULT_WINDOW, min_length)
    if isinstance(window, str) or not float(window).is_integer() or int(window) < 1:
        raise ValueError(f"window must be None, 'locus' or a whole number of bases; got {window!r}")
    if int(window) < min_length:
        raise ValueError(f"window={window} is shorter than the model's minimum input length {min_length} bp")
    return int(window)


# ---------------------------------------------------------------------------------------
# targets and scoring
# ---------------------------------------------------------------------------------------

def _resolve_targets(model, target, length: int) -> list[tuple[str, Callable]]:
    """``[(name, Target)]``: each maps the model output to one score per sequence, ``(N,)``.

    ``target=None``: every output channel (task). A task name or index, an
    :class:`explorer.Target`, or a list of them are accepted, resolved by
    :func:`explorer.attribution.targets.resolve_target` (so a target means the same here as
    in ``explorer.attribute``); ``length`` is the input length the model will see.
    """
    from explorer.attribution.targets import probe_output, resolve_target

    example = probe_output(model, length)
    if target is None:
        head = example[0] if isinstance(example, (tuple, list)) else example
        items = list(range(int(head.shape[1])))
    elif isinstance(target, (list, tuple)):
        items = list(target)
    else:
        items = [target]
    out = []
    for item in items:
        t = resolve_target(model, item, length=length, example_output=example)
        out.append((str(t.name), t))
    return out


def score_sequences(model, sequences: Sequence[str], targets, *, batch_size: int = 64,
                    progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """Run ``model`` on DNA strings and apply each target.

    Parameters
    ----------
    model : torch.nn.Module
        Takes one-hot ``(N, 4, L)`` float32 input.
    sequences : list of str
        All of the same length ``L``.
    targets : list of (name, callable)
        ``(name, fn)`` pairs, ``fn`` mapping the model output to ``(N,)`` (e.g. from
        :func:`_resolve_targets`).
    batch_size : int
        Sequences per forward pass (halved and retried on out-of-memory).
    progress : callable, optional
        Called as ``progress(done, total)`` after each batch.

    Returns
    -------
    numpy.ndarray, float64, shape ``(len(sequences), len(targets))``

    The model is run in eval mode under ``torch.no_grad`` and left in the mode it was in.
    A TorchScript model's error is raised as :class:`explorer.io.probing.ModelRunError`,
    with the model's own message.
    """
    from explorer.attribution.device import run_in_batches
    from explorer.io.torchutil import model_device

    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1; got {batch_size}")
    n = len(sequences)
    scores = np.empty((n, len(targets)), dtype=np.float64)
    device = model_device(model)
    was_training = model.training

    def run(i: int, j: int) -> np.ndarray:
        x = one_hot_encode(list(sequences[i:j])).to(device)
        y = model(x)
        return np.stack([fn(y).detach().double().cpu().reshape(-1).numpy() for _, fn in targets], axis=1)

    try:
        model.eval()
        with torch.no_grad(), explained_model_errors("scoring variant sequences"):
            chunks, _ = run_in_batches(run, n, batch_size, device,
                                       on_batch=None if progress is None else (lambda done: progress(done, n)))
    finally:
        model.train(was_training)
    if n:
        scores[:] = np.concatenate(chunks, axis=0)
    return scores


def _output_kind(output) -> str:
    """The first word of a card's ``output`` entry, lower-cased: ``"logits (N, 2)"`` -> ``"logits"``."""
    words = re.findall(r"[a-z_]+", str(output or "").lower())
    return words[0] if words else ""


def log_ratio(ref_score, alt_score, output: str | None) -> np.ndarray:
    """``log2`` ratio of the positive quantities behind two scores (rule: module docstring)."""
    ref = np.asarray(ref_score, dtype=np.float64)
    alt = np.asarray(alt_score, dtype=np.float64)
    kind = _output_kind(output)
    if kind in _LOGIT_KINDS:
        # log2 sigmoid(x) = -softplus(-x) / ln 2, stable for large |x|
        return (np.logaddexp(0.0, -ref) - np.logaddexp(0.0, -alt)) / np.log(2.0)
    if kind in _POSITIVE_KINDS:
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.log2(alt / ref)
        out[(ref <= 0) | (alt <= 0)] = np.nan
        return out
    return np.full(np.broadcast(ref, alt).shape, np.nan)


def variant_effect(model, locus, variants, target=None, *, window=None, batch_size: int = 64,
                   output: str | None = None,
                   progress: Callable[[int, int], None] | None = None) -> pd.DataFrame:
    """Predicted effect of each variant: the model's score on the alternative minus the reference.

    Parameters
    ----------
    model : ExplorerModel or torch.nn.Module
        Takes one-hot ``(N, 4, L)``; its ``tasks``, ``input_length``, ``min_length`` and
        ``card["output"]`` are read when present.
    locus : Locus
        The sequence the variants lie on; variant positions are 1-based on ``locus.chrom``.
    variants : str, Path, DataFrame or list of str
        Anything :func:`explorer.parse_variants` reads (VCF, table, ``"HUMHBB:62150:C>T"``).
    target : str, int, list or Target, optional
        Which output(s) to score; default every task (one row per variant and task).
    window : None, "locus" or int
        Scoring window for any-length models; see the module docstring (default: the whole
        locus up to :data:`WHOLE_LOCUS_MAX` bp, else :data:`DEFAULT_WINDOW` bp centred on each
        variant). Fixed-length models always use their ``input_length``, centred.
    batch_size : int
        Sequences per forward pass.
    output : str, optional
        What the output is, for ``log_ratio`` (``"logits"``, ``"probability"``, ``"counts"``);
        default ``model.card["output"]``.
    progress : callable, optional
        ``progress(done, total)`` after each batch.

    For a masked language model (card ``"kind": "masked_lm"``) SNVs score the masked
    log-likelihood ratio and indels the pseudo-log-likelihood difference
    (:mod:`explorer.variants.lm_effects`); ``target``, ``window`` and ``output`` are unused.

    Returns
    -------
    pandas.DataFrame
        One row per variant and task, columns :data:`EFFECT_COLUMNS`: ``chrom``, ``pos``
        (1-based), ``ref``, ``alt``, ``id``, ``kind``, ``task``, ``ref_score``, ``alt_score``,
        ``diff`` (alt minus ref), ``log_ratio`` (log2; NaN where undefined), ``window_start``
        and ``window_end`` (1-based inclusive on ``chrom``; may reach past the locus where
        ``n_padded > 0``) and ``n_padded``. ``df.attrs`` holds ``window`` (bp or
        ``"locus"``), ``model``, ``output`` and ``notes``: one sentence per variant whose
        alternative allele is longer than the window from the variant on (an insertion
        scored on its first bases only), each also given as a ``UserWarning``.

    Raises
    ------
    ValueError
        A variant on another sequence, outside the locus, or whose reference allele differs
        from the locus (the message names it and the base found); an unknown task.
    """
    from explorer.attribution.masked_lm import is_masked_lm
    from explorer.variants.lm_effects import lm_variant_effect

    table = parse_variants(variants, locus=None) if not _is_variant_table(variants) else variants
    if is_masked_lm(model):  # masked LLR for SNVs, PLL difference for indels
        return lm_variant_effect(model, locus, table)[EFFECT_COLUMNS]
    indices = check_variants(locus, table)
    length = scoring_window_length(model, locus, window)
    with explained_model_errors("finding its outputs"):
        targets = _resolve_targets(model, target, len(locus) if length is None else length)
    output = output if output is not None else (getattr(model, "card", {}) or {}).get("output")

    windows = [variant_window(locus.sequence, int(i), r, a, length)
               for i, r, a in zip(indices, table["ref"], table["alt"])]
    notes = _cut_alleles(table, windows)
    for note in notes:
        warnings.warn(note, UserWarning, stacklevel=2)
    # reference windows are shared by every variant with the same window start
    ref_keys = sorted({w.start for w in windows})
    ref_index = {s: k for k, s in enumerate(ref_keys)}
    first = {}
    for w in windows:
        first.setdefault(w.start, w.ref_sequence)
    sequences = [first[s] for s in ref_keys] + [w.alt_sequence for w in windows]
    scores = score_sequences(model, sequences, targets, batch_size=batch_size, progress=progress)
    ref_scores = scores[[ref_index[w.start] for w in windows]]
    alt_scores = scores[len(ref_keys):]

    frames = []
    for j, (name, _) in enumerate(targets):
        part = table[["chrom", "pos", "ref", "alt", "id", "kind"]].copy()
        part["task"] = name
        part["ref_score"] = ref_scores[:, j]
        part["alt_score"] = alt_scores[:, j]
        part["diff"] = alt_scores[:, j] - ref_scores[:, j]
        part["log_ratio"] = log_ratio(ref_scores[:, j], alt_scores[:, j], output)
        part["window_start"] = [locus.start + w.start + 1 for w in windows]
        part["window_end"] = [locus.start + w.start + w.length for w in windows]
        part["n_padded"] = [w.n_padded for w in windows]
        part["_variant"] = np.arange(len(part))
        part["_target"] = j
        frames.append(part)
    df = pd.concat(frames, ignore_index=True)
    df = df.sort_values(["_variant", "_target"], kind="stable").reset_index(drop=True)[EFFECT_COLUMNS]
    df.attrs.update(window="locus" if length is None else int(length),
                    model=str(getattr(model, "name", type(model).__name__)), output=output,
                    locus=str(locus), notes=notes)
    return df


def _cut_alleles(table: pd.DataFrame, windows: list[VariantWindow]) -> list[str]:
    """Words on the variants whose alternative allele did not fit in its window (one note each)."""
    notes = []
    for vid, alt, w in zip(table["id"], table["alt"], windows):
        if w.n_cut:
            kept = len(allele_bases(alt)) - w.n_cut
            notes.append(
                f"variant {vid}: its alternative allele ({len(allele_bases(alt)):,} bp) is longer than the "
                f"{w.length - w.offset:,} bp of the {w.length:,} bp scoring window from the variant on, so it "
                f"was scored on its first {kept:,} bases only ({w.n_cut:,} inserted bases cut off). Use a "
                f"longer window (window=<int>, for a model that takes any length) to score the whole allele.")
    return notes


def _is_variant_table(obj) -> bool:
    return isinstance(obj, pd.DataFrame) and {"chrom", "pos", "ref", "alt", "id", "kind"} <= set(obj.columns)


def effects_from_ism(attribution, *, task: str | None = None, chrom: str | None = None,
                     output: str | None = None) -> pd.DataFrame:
    """Every single-base substitution of an ISM map as a variant-effect table.

    Parameters
    ----------
    attribution : Attribution
        An ``method="ism"`` result: ``values[b, j] = f(mutant) - f(reference)``.
    task : str, optional
        Task name for the ``task`` column; default ``attribution.target``.
    chrom : str, optional
        Default ``attribution.chrom``.
    output : str, optional
        For ``log_ratio`` (see :func:`log_ratio`); needs the reference score in
        ``attribution.diagnostics["reference_score"]``, else ``ref_score`` and ``alt_score``
        are NaN.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`EFFECT_COLUMNS`, three
        rows per position with a known reference base, ordered by position then alt (ACGT).
    """
    if attribution.method != "ism":
        raise ValueError(f"effects_from_ism needs an ISM attribution; got method={attribution.method!r}")
    values = attribution.values.detach().cpu().double().numpy()
    onehot = attribution.one_hot.detach().cpu().numpy()
    seq = attribution.sequence
    chrom = chrom or attribution.chrom or "seq"
    ref_score = attribution.diagnostics.get("reference_score", np.nan)
    try:
        ref_score = float(np.asarray(ref_score, dtype=np.float64).reshape(-1)[0])
    except (TypeError, ValueError, IndexError):
        ref_score = np.nan
    rows = []
    for j in range(values.shape[1]):
        if onehot[:, j].sum() != 1:
            continue
        pos = attribution.genome_start + j + 1
        for b, base in enumerate("ACGT"):
            if base == seq[j]:
                continue
            rows.append((chrom, pos, seq[j], base, values[b, j]))
    df = pd.DataFrame(rows, columns=["chrom", "pos", "ref", "alt", "diff"])
    df["id"] = [variant_label(c, p, r, a) for c, p, r, a in zip(df.chrom, df.pos, df.ref, df.alt)]
    df["kind"] = "snv"
    df["task"] = task or attribution.target
    df["ref_score"] = ref_score
    df["alt_score"] = ref_score + df["diff"]
    df["log_ratio"] = log_ratio(df["ref_score"].to_numpy(), df["alt_score"].to_numpy(), output)
    # the ISM map does not record the model's whole input window: leave it unknown
    df["window_start"] = pd.array([pd.NA] * len(df), dtype="Int64")
    df["window_end"] = pd.array([pd.NA] * len(df), dtype="Int64")
    df["n_padded"] = 0
    return df[EFFECT_COLUMNS]

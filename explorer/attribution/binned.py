"""Binned models' own predictions along a locus, and targets typed by people.

:func:`predict_tracks` runs an Enformer/Borzoi-like model (its card has ``output_bins``,
:mod:`explorer.io.bins`) on a locus and returns the chosen output tracks per output bin with
each bin's bases in genome coordinates: what the app's overview draws. A locus longer than
the model's input is covered by consecutive inputs whose bins join end to end.

:func:`target_spelling` and :func:`search_targets` read a target as a person types it into
a search box (a track name, an identifier alias, a contrast ``"A - B"``) for models with
thousands of tracks (Enformer has 5,313), without listing them all.

Coordinates: 0-based, half-open (like BED) in every column; the app shows them 1-based.
This module imports no UI library.
"""

from __future__ import annotations

import difflib

import numpy as np
import pandas as pd
import torch
from torch import nn

from explorer.attribution.runtime import resolve_device, running_on
from explorer.attribution.targets import CONTRAST, resolve_target, target_choices, track_alias
from explorer.io.bins import OutputBins, output_bins
from explorer.io.probing import explained_model_errors

__all__ = ["predict_tracks", "track_inputs", "target_spelling", "search_targets", "BIN_COLUMNS"]

#: the columns of :func:`predict_tracks` before the tracks
BIN_COLUMNS = ("input_start", "bin", "start", "end", "genome_start", "genome_end")
#: the most matches :func:`search_targets` returns by default
MAX_MATCHES = 50


def _bins_and_length(model: nn.Module) -> tuple[OutputBins, int]:
    card = getattr(model, "card", None) or {}
    bins = output_bins(card)
    length = int(getattr(model, "input_length", None) or card.get("input_length") or 0)
    if bins is None or not length:
        raise ValueError("predicted tracks need a model whose outputs are bins along a fixed-length input (an "
                         "Enformer or Borzoi, whose card has output_bins and input_length); this model's card has "
                         "none")
    return bins, length


def track_inputs(bins: OutputBins, input_length: int, length: int, start: int | None = None,
                 anchor: int | None = None) -> list[int]:
    """0-based starts of the model inputs :func:`predict_tracks` runs on a sequence of ``length``.

    ``start`` given: that one input. Otherwise consecutive inputs whose output bins join end
    to end (each starts ``bins.count * bins.size`` bases after the previous one), as many as
    fit: one of them starting at ``anchor`` (0-based) when given, else centred on the sequence.

    Raises
    ------
    ValueError
        The sequence is shorter than the input, or ``start`` puts the input outside it.
    """
    if length < input_length:
        raise ValueError(f"the model takes inputs of {input_length:,} bp; this sequence is {length:,} bp: load a "
                         f"longer locus")
    if start is not None:
        start = int(start)
        if not 0 <= start <= length - input_length:
            raise ValueError(f"an input of {input_length:,} bp starting at 0-based {start:,} does not fit a sequence "
                             f"of {length:,} bp; start must satisfy 0 <= start <= {length - input_length:,}")
        return [start]
    step = bins.count * bins.size
    if anchor is not None:
        anchor = min(max(0, int(anchor)), length - input_length)
        first = anchor - (anchor // step) * step
        return list(range(first, length - input_length + 1, step))
    n = 1 + (length - input_length) // step
    first = (length - (input_length + (n - 1) * step)) // 2
    return [first + k * step for k in range(n)]


def predict_tracks(model: nn.Module, locus_or_onehot, tracks: list[str | int] | None = None, *,
                   start: int | None = None, anchor: int | None = None,
                   device: str | torch.device | None = None, batch_size: int | None = None) -> pd.DataFrame:
    """The model's predicted output tracks along a locus, one row per output bin.

    Parameters
    ----------
    model : nn.Module
        An ExplorerModel whose card has ``output_bins`` and a fixed ``input_length`` (an
        Enformer or Borzoi folder loaded with :func:`explorer.load_model`); its output is
        ``(N, tracks, bins)``.
    locus_or_onehot : Locus, str or Tensor
        A Locus (genome coordinates from it), a DNA string or a one-hot ``(4, L)``.
    tracks : list of str or int, optional
        Track names (or identifier aliases, or indices); default all tracks.
    start : int, optional
        0-based start in the sequence of the one input to run; default: as many consecutive
        inputs as fit, their bins joined end to end (:func:`track_inputs`).
    anchor : int, optional
        0-based start in the sequence of one of those inputs (the app's attribution window),
        default: the inputs are centred on the sequence.
    device : optional
        Where to run (default: the model's device choice).
    batch_size : int, optional
        Inputs per forward pass (default: as many as make about 1 Mb, at least 1).

    Returns
    -------
    pandas.DataFrame
        Columns ``input_start`` (0-based start of the input in the sequence), ``bin`` (index in
        that input's output), ``start``, ``end`` (the bin's bases, 0-based half-open in the
        sequence), ``genome_start``, ``genome_end`` (the same on the locus's chromosome), then
        one float column per track, named by the track's name, holding the model's output.

    Raises
    ------
    ValueError
        Not a binned model, an unknown track (with close spellings), a sequence shorter than
        the model's input, or non-finite outputs.
    """
    from explorer.attribution.api import _as_input  # the one reading of a locus, string or tensor

    bins, input_length = _bins_and_length(model)
    x, _chrom, offset = _as_input(locus_or_onehot)
    starts = track_inputs(bins, input_length, int(x.shape[1]), start, anchor)
    names = list(getattr(model, "tasks", None) or [])
    chosen = list(range(len(names))) if tracks is None else [_track_index(model, t, names) for t in tracks]
    dev = resolve_device(model, device)
    rows = []
    with running_on(model, dev), torch.inference_mode(), explained_model_errors("predicting the tracks"):
        size = int(batch_size or max(1, 2**20 // input_length))
        for i in range(0, len(starts), size):
            batch = torch.stack([x[:, s:s + input_length] for s in starts[i:i + size]]).to(dev)
            y = model(batch)
            if isinstance(y, (tuple, list)):
                y = y[0]
            if y.ndim != 3 or y.shape[2] != bins.count:
                raise ValueError(f"the model returned shape {tuple(y.shape)}; its card says (N, tracks, "
                                 f"{bins.count}) bins")
            rows.extend(y[:, chosen].float().cpu().numpy())
    values = np.concatenate(rows, axis=1) if rows else np.zeros((len(chosen), 0), np.float32)
    if not np.isfinite(values).all():
        raise ValueError("the model returned NaN or Inf for some bins; check the model on this sequence")
    edges = bins.edges()
    seq_start = np.concatenate([s + edges[:, 0] for s in starts])
    frame = pd.DataFrame({"input_start": np.repeat(np.asarray(starts, np.int64), bins.count),
                          "bin": np.tile(np.arange(bins.count, dtype=np.int64), len(starts)),
                          "start": seq_start, "end": seq_start + bins.size,
                          "genome_start": seq_start + offset, "genome_end": seq_start + bins.size + offset})
    for row, i in enumerate(chosen):
        frame[names[i] if i < len(names) else f"track {i}"] = values[row]
    return frame


def _track_index(model: nn.Module, track, names: list[str]) -> int:
    if isinstance(track, (int, np.integer)) and not isinstance(track, bool):
        if not -len(names) <= int(track) < len(names):
            raise ValueError(f"track index {track} is out of range: the model has {len(names):,} tracks")
        return int(track) % len(names)
    key = track_alias(model, str(track)).strip().lower()
    lowered = [n.lower() for n in names]
    if key in lowered:
        return lowered.index(key)
    raise ValueError(_unknown(str(track), names, "track"))


def _unknown(text: str, names: list[str], what: str) -> str:
    close = difflib.get_close_matches(text, names, n=5, cutoff=0.5)
    part = [n for n in names if text.strip().lower() in n.lower()][:5] if text.strip() else []
    hints = list(dict.fromkeys(part + close))[:5]
    return (f"no {what} is called {text!r}" + (f"; did you mean {', '.join(map(repr, hints))}?" if hints else
                                                 f"; the model has {len(names):,} {what}s (type part of a name to "
                                                 f"search them)"))


def target_spelling(model: nn.Module, text: str, choices: list[str] | None = None) -> str:
    """The target ``text`` names, spelled as the app lists it; raises when it names none.

    Accepts a target of :func:`explorer.target_choices` in any case, an identifier alias of
    the card's ``track_aliases`` (``"ENCFF..."``), a target's own name
    (``"CAGE:HepG2 sum[447:449]"``), or a contrast of two of them ``"A - B"``.

    Parameters
    ----------
    model : nn.Module
    text : str
    choices : list of str, optional
        :func:`explorer.target_choices` of the model, when already at hand.

    Returns
    -------
    str
        The canonical spelling (a contrast as ``"A - B"`` of canonical parts).

    Raises
    ------
    ValueError
        Empty text, a part that names no target (with close spellings), or a contrast of a
        target with itself.
    """
    text = " ".join(str(text or "").split())
    if not text:
        raise ValueError("type a target: a track name (e.g. CAGE:HepG2), its identifier, or a contrast A - B")
    choices = list(choices) if choices is not None else target_choices(model)
    if CONTRAST in text:
        parts = [p.strip() for p in text.split(CONTRAST)]
        if len(parts) != 2 or not all(parts):
            raise ValueError(f"a contrast is two targets with ' - ' between them (e.g. CAGE:HepG2 - CAGE:K562); "
                             f"got {text!r}")
        a, b = (_single_spelling(model, p, choices) for p in parts)
        if a == b:
            raise ValueError(f"a contrast needs two different targets; got {a!r} twice")
        return f"{a}{CONTRAST}{b}"
    return _single_spelling(model, text, choices)


def _single_spelling(model: nn.Module, text: str, choices: list[str]) -> str:
    lowered = {c.lower(): c for c in choices}
    name = track_alias(model, text).strip()
    if name.lower() in lowered:
        return lowered[name.lower()]
    try:  # a target's own name, e.g. "CAGE:HepG2 sum[447:449]" or "profile:0"
        resolve_target(model, name)
    except ValueError:
        raise ValueError(_unknown(text, choices, "target")) from None
    return name


def search_targets(model: nn.Module, text: str, choices: list[str] | None = None, most: int = MAX_MATCHES
                   ) -> list[str]:
    """Targets matching ``text`` (case-insensitive parts of a name or identifier), at most ``most``.

    A whole spelling (:func:`target_spelling`, a contrast included) comes first; then the
    targets whose name holds every word of ``text`` (names starting with it first), then
    those whose identifier alias holds it. Empty text: the first ``most`` targets.

    Returns
    -------
    list of str
        Each resolves with :func:`explorer.resolve_target`.
    """
    choices = list(choices) if choices is not None else target_choices(model)
    text = " ".join(str(text or "").split())
    if not text:
        return choices[:most]
    out: list[str] = []
    try:
        out.append(target_spelling(model, text, choices))
    except ValueError:
        pass
    if CONTRAST in text:  # complete the second part of a contrast being typed
        first, _, second = text.rpartition(CONTRAST)
        try:
            a = _single_spelling(model, first, choices)
        except ValueError:
            return out
        return list(dict.fromkeys(out + [f"{a}{CONTRAST}{b}" for b in search_targets(model, second, choices, most)
                                         if b != a and CONTRAST not in b]))[:most]
    words = text.lower().split()
    starts = [c for c in choices if c.lower().startswith(text.lower())]
    holds = [c for c in choices if all(w in c.lower() for w in words)]
    aliases = (getattr(model, "card", None) or {}).get("track_aliases") or {}
    by_alias = [n for i, n in aliases.items() if text.lower() in str(i).lower()]
    return list(dict.fromkeys(out + starts + holds + by_alias))[:most]

"""How much of a sequence the model is given: the window plus the context its outputs need.

A model that takes any length and whose outputs at position ``i`` depend only on the input
within ``radius`` bases of ``i`` (a *local* model: stacked 'same'-padded convolutions, its
receptive field ``2 * radius + 1`` known from the model card or its structure declaration,
or, for a model that declares nothing, read from its captured graph) needs, to explain the
window ``[start, end)``, only the input ``[start - flank, end + flank)`` with ``flank = 2 * radius`` (plus any head trim): every
model output that a base of the window can change is then computed from exactly the input
it sees in the whole sequence. So ISM of 20 bases of a 50 Mb chromosome runs the model on
a few hundred bases, not on 50 Mb.

By default (``context="auto"``) a sequence of up to :data:`WHOLE_SEQUENCE_MAX` bases is
given whole, as it always was (the numbers of every locus the app shows, and of every
variant window, are unchanged); a longer one is cut to the window and its context.

What cutting means for the numbers: for targets that sum the model's per-position outputs
(sum pooling, a profile summed) ISM and gradient maps equal those over the whole sequence
(up to float rounding); a max- or mean-pooled target, ``f(x)``, or a random baseline (IG,
DeepLIFT/SHAP shuffles) is taken over the window with its context, not over the whole
chromosome. Where the radius is not known the whole sequence is given, and a caller can
always choose with ``context=`` (see :func:`explorer.attribute`).

Coordinates are 0-based, half-open, in the given sequence.
"""

from __future__ import annotations

from typing import Any

import torch

from explorer.attribution.structure import resolve_structure

__all__ = ["local_radius", "model_input_span", "WHOLE_SEQUENCE_MAX"]

#: with ``context="auto"``, sequences up to this many bases are given to the model whole
WHOLE_SEQUENCE_MAX = 100_000
#: input lengths at which a cardless model's graph is read for its receptive field (the
#: next is tried while the field found is more than half the length: it may be clipped)
GRAPH_PROBE_LENGTHS = (4_096, 16_384, 65_536)


def _declared_radius(model: Any) -> int | None:
    """The radius a model card or a network attribute declares (receptive field ``2 r + 1``)."""
    card = getattr(model, "card", None) or {}
    for holder in (card, card.get("structure") or {}):
        if holder.get("radius") is not None:
            return int(holder["radius"])
        if holder.get("receptive_field") is not None:
            return (int(holder["receptive_field"]) - 1) // 2
    for obj in (model, getattr(model, "net", None)):
        rf = getattr(obj, "receptive_field", None)
        if isinstance(rf, int) and rf >= 1:
            return (rf - 1) // 2
    return None


def _graph_radius(model: Any) -> tuple[int, int] | None:
    """``(radius, trim)`` read from the model's captured graph, or None (not local, or the
    graph cannot be captured).

    The graph's receptive field ``W`` (the widest stretch of input one local value reads,
    :class:`explorer.attribution.graph_ism.LocalGraph`) gives ``radius = W // 2``, so the
    flank ``2 * radius >= W - 1`` holds even for a field that is not centred. ``trim``:
    half of what a local output (a profile) lacks against the input, in input bases
    (crops; a strided output counts as trimmed too, which only gives more context).
    """
    from explorer.attribution.graph import GraphError, capture
    from explorer.attribution.graph_ism import LocalGraph, Node
    from explorer.attribution.runtime import model_device
    from explorer.io.probing import random_one_hot

    device = model_device(model)
    for probe in GRAPH_PROBE_LENGTHS:
        probe = max(probe, int(getattr(model, "min_length", 1) or 1))
        x = random_one_hot(1, probe)[0]
        try:
            with torch.no_grad():
                graph = LocalGraph(capture(model, probe, device), x.to(device))
        except (GraphError, NotImplementedError, RuntimeError, ValueError, TypeError):
            return None
        field = int(graph.receptive_field)
        if 2 * field <= probe:
            outputs = [o for o in graph.outputs if isinstance(o, Node) and o.kind == "local"]
            trim = max([(probe - o.n * o.jump + 1) // 2 for o in outputs] + [0])
            return field // 2, max(0, trim)
    return None


def local_radius(model: Any) -> tuple[int, int] | None:
    """``(radius, trim)`` of a local model, or None when its locality is unknown.

    ``radius``: a model output at position ``i`` depends on the input ``[i - radius,
    i + radius]`` (the trunk's radius plus its heads' convolutions). ``trim``: positions a
    head leaves out at each end. From the structure declaration (:mod:`.structure`), else the
    card's ``receptive_field``/``radius`` or the network's ``receptive_field`` attribute,
    else the model's captured graph (:func:`_graph_radius`; a model of fixed input length
    is never cut, so it is not read).
    """
    try:
        structure = resolve_structure(model)
    except Exception:  # noqa: BLE001 - no (usable) declaration: look for a declared receptive field
        radius = _declared_radius(model)
        if radius is not None:
            return radius, 0
        return None if getattr(model, "input_length", None) else _graph_radius(model)
    heads = structure.heads
    return (structure.radius + max((h.radius for h in heads), default=0),
            max((int(getattr(h, "trim", 0) or 0) for h in heads), default=0))


def model_input_span(model: Any, length: int, start: int, end: int, context: Any = "auto") -> tuple[int, int]:
    """The part ``[lo, hi)`` of a sequence of ``length`` bases given to the model to explain
    the window ``[start, end)``.

    Parameters
    ----------
    model : nn.Module
    length : int
        Bases in the given sequence.
    start, end : int
        The window, 0-based half-open (already checked).
    context : "auto", int or None
        ``"auto"``: the whole sequence up to :data:`WHOLE_SEQUENCE_MAX` bases; beyond,
        ``2 * radius + trim`` bases each side for a local model that takes any length
        (:func:`local_radius`), else the whole sequence. An int: that many bases each side.
        None: the whole sequence.

    Returns
    -------
    (int, int)
        Clamped to the sequence, and at least the model's ``min_length`` long where the
        sequence allows.
    """
    if context is None or getattr(model, "input_length", None):
        return 0, length
    if context == "auto":
        local = local_radius(model) if length > WHOLE_SEQUENCE_MAX else None
        if local is None:
            return 0, length
        flank = 2 * local[0] + local[1]
    else:
        try:
            flank = int(context)
        except (TypeError, ValueError):
            raise ValueError(f"context must be 'auto', a number of bases or None; got {context!r}") from None
        if flank < 0:
            raise ValueError(f"context must be at least 0 bases; got {flank}")
    lo, hi = max(0, start - flank), min(length, end + flank)
    short = int(getattr(model, "min_length", 1) or 1) - (hi - lo)
    if short > 0:  # widen to the shortest input the model takes, as evenly as the ends allow
        lo = max(0, lo - (short + 1) // 2)
        hi = min(length, max(hi, lo + int(getattr(model, "min_length", 1))))
        lo = max(0, min(lo, hi - int(getattr(model, "min_length", 1))))
    return lo, hi

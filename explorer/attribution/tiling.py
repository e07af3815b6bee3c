"""Fixed-length models on longer sequences: slide the model, each base from its most central input.

A model that takes exactly ``W`` bases (a published 249-bp or 2,114-bp model) cannot see a
longer sequence at once. :func:`tiles` plans inputs ``[o, o + W)`` at a step of ``W // 2``
(the last one aligned to the sequence end) and gives each base of the attribution window
to the input in which it sits most centrally (nearest input centre), so every base is
explained with as much context on both sides as the model allows. Each input is then
attributed on its own part only, and the parts are joined in order.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["Tile", "tiles"]


class Tile(NamedTuple):
    """One model input and the part of the window it explains.

    Attributes
    ----------
    offset : int
        0-based start of the input in the sequence (the input is ``[offset, offset + W)``).
    start, end : int
        0-based half-open part of the sequence whose values come from this input.
    """

    offset: int
    start: int
    end: int


def tiles(length: int, input_length: int, start: int, end: int) -> list[Tile]:
    """Plan the inputs of a fixed-length model over ``[start, end)`` of a longer sequence.

    Parameters
    ----------
    length : int
        Sequence length; must be >= ``input_length``.
    input_length : int
        The one length the model takes (``W``).
    start, end : int
        0-based half-open window to explain.

    Returns
    -------
    list of Tile
        In order, their ``[start, end)`` parts covering the window without overlap; only
        inputs that explain at least one base of it.

    Raises
    ------
    ValueError
        ``length < input_length`` or an empty window.
    """
    if length < input_length:
        raise ValueError(f"the sequence has {length} bp; the model takes exactly {input_length} bp")
    if not 0 <= start < end <= length:
        raise ValueError(f"start and end must satisfy 0 <= start < end <= {length}; got {start}, {end}")
    step = max(1, input_length // 2)
    offsets = list(range(0, length - input_length + 1, step))
    if offsets[-1] != length - input_length:
        offsets.append(length - input_length)
    # base p goes to the input whose centre o + W/2 is nearest; between neighbours o1 < o2 the
    # boundary is the midpoint of their centres
    bounds = [0] + [(a + b + input_length) // 2 for a, b in zip(offsets, offsets[1:])] + [length]
    out = []
    for k, offset in enumerate(offsets):
        s, e = max(start, bounds[k]), min(end, bounds[k + 1])
        if s < e:
            out.append(Tile(offset, s, e))
    return out

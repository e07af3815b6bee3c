"""Genome-browser navigation inside the explained window: the position box, the +/- zoom
buttons and the ruler line (pure functions; the views in :mod:`explorer.ui.app` call them).

Coordinates: a view is a pair of Bokeh x values in 1-based genome positions, letters centred
on integers, so the window ``[start0, end0)`` (0-based half-open) spans
``start0 + 0.5 .. end0 + 0.5`` on screen.
"""

from __future__ import annotations

import re

from explorer.plots.figures import MIN_VIEW_BP

_NUMBER = r"\d[\d,]*"
_POSITION_RE = re.compile(rf"^\s*(?:(?P<chrom>[^:\s]+):)?(?P<a>{_NUMBER})(?:\s*(?:-|\.\.)\s*(?P<b>{_NUMBER}))?\s*$")


def window_span(start0: int, end0: int) -> tuple[float, float]:
    """The screen x span of the 0-based half-open window ``[start0, end0)``."""
    return start0 + 0.5, end0 + 0.5


def clamp_view(lo: float, hi: float, bounds: tuple[float, float], min_width: float = MIN_VIEW_BP) -> tuple[float, float]:
    """``(lo, hi)`` moved and widened as little as needed to lie inside ``bounds`` and be at
    least ``min_width`` wide (or the whole of ``bounds`` when that is narrower)."""
    b0, b1 = bounds
    width = min(max(hi - lo, min_width), b1 - b0)
    centre = (lo + hi) / 2
    lo = min(max(b0, centre - width / 2), b1 - width)
    return lo, lo + width


def zoom_view(view: tuple[float, float], factor: float, bounds: tuple[float, float],
              min_width: float = MIN_VIEW_BP) -> tuple[float, float]:
    """The view around the same centre, ``factor`` times as wide (``factor < 1`` zooms in),
    kept inside ``bounds`` (see :func:`clamp_view`)."""
    lo, hi = view
    centre, half = (lo + hi) / 2, (hi - lo) * factor / 2
    return clamp_view(centre - half, centre + half, bounds, min_width)


def parse_position(text: str, chrom: str, bounds: tuple[float, float], width: float,
                   min_width: float = MIN_VIEW_BP) -> tuple[float, float]:
    """Read the position box: ``30,210`` (centre there, keeping the view's ``width``) or
    ``30,100-30,300`` (show those bases, 1-based inclusive), optionally ``chrom:`` first.

    Returns
    -------
    (float, float)
        The view, clamped to ``bounds`` (see :func:`clamp_view`).

    Raises
    ------
    ValueError
        In words for the box: what was typed, what is expected, and the window's extent.
    """
    first, last = int(bounds[0] + 0.5), int(bounds[1] - 0.5)
    extent = f"{chrom}:{first:,}-{last:,}"
    m = _POSITION_RE.match(text or "")
    if not m:
        raise ValueError(f"'{text}' is not a position: type one like {first + (last - first) // 2:,} "
                         f"or a range like {first:,}-{min(last, first + 99):,} (1-based, inside {extent})")
    if m["chrom"] and m["chrom"] != chrom:
        raise ValueError(f"the window is on {chrom}, not {m['chrom']}: type a position inside {extent}")
    a = int(m["a"].replace(",", ""))
    b = int(m["b"].replace(",", "")) if m["b"] else None
    if b is not None and b < a:
        raise ValueError(f"the range {a:,}-{b:,} is reversed: type the smaller position first")
    for p in (a, b) if b is not None else (a,):
        if not first <= p <= last:
            raise ValueError(f"{p:,} is outside the explained window {extent}: type a position inside it, "
                             f"or choose another window in the sidebar")
    if b is None:
        return clamp_view(a - width / 2, a + width / 2, bounds, min_width)
    return clamp_view(a - 0.5, b + 0.5, bounds, min_width)


def ruler_words(view: tuple[float, float] | None, chrom: str, bounds: tuple[float, float]) -> str:
    """The ruler line over the tracks: which bases are shown and how many, of the window."""
    b0, b1 = bounds
    total = int(round(b1 - b0))
    if view is None or None in tuple(view):
        lo, hi = b0, b1
    else:
        lo, hi = clamp_view(float(view[0]), float(view[1]), bounds, 1)
    first, last = int(round(lo + 0.5)), int(round(hi - 0.5))
    shown = last - first + 1
    scope = ", the whole window" if shown >= total else f" of the {total:,} bp window"
    return f"Showing **{chrom}:{first:,}-{last:,}** · {shown:,} bp{scope}"

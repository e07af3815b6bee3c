"""Outlines of the letters A, C, G, T as polygons in the unit square (for vector logos)."""

from __future__ import annotations

from functools import lru_cache

import numpy as np


@lru_cache(maxsize=None)
def glyph(letter: str) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
    """Return ``(outer, holes)`` of ``letter``: arrays of shape ``(n, 2)`` in ``[0, 1]^2``.

    The outline comes from matplotlib's DejaVu Sans Bold, scaled so the letter fills the
    unit square (a logo stretches each letter to its column width and its height).
    """
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextPath

    path = TextPath((0, 0), letter, size=1, prop=FontProperties(family="DejaVu Sans", weight="bold"))
    rings = [np.asarray(r, dtype=float) for r in path.to_polygons(closed_only=True) if len(r) >= 3]
    allpts = np.concatenate(rings)
    lo, hi = allpts.min(axis=0), allpts.max(axis=0)
    rings = [(r - lo) / (hi - lo) for r in rings]
    areas = [abs(_signed_area(r)) for r in rings]
    order = np.argsort(areas)[::-1]
    outer = rings[order[0]]
    holes = tuple(rings[i] for i in order[1:] if _inside(rings[i][0], outer))
    return outer, holes


def _signed_area(ring: np.ndarray) -> float:
    x, y = ring[:, 0], ring[:, 1]
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))


def _inside(point: np.ndarray, ring: np.ndarray) -> bool:
    """Even-odd rule point-in-polygon test."""
    x, y = point
    xs, ys = ring[:, 0], ring[:, 1]
    xs2, ys2 = np.roll(xs, -1), np.roll(ys, -1)
    crosses = ((ys > y) != (ys2 > y)) & (x < (xs2 - xs) * (y - ys) / np.where(ys2 == ys, 1e-12, ys2 - ys) + xs)
    return bool(crosses.sum() % 2)

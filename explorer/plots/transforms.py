"""Pure matrix and coordinate transforms behind the figures (no drawing, no plotting library).

Like logomaker's ``transform_matrix`` apart from ``Logo``: the builders in
:mod:`explorer.plots.tracks` and :mod:`explorer.plots.static` draw what these functions
compute, and the functions are tested on their own.

Coordinates: a map's column ``j`` is drawn at the 1-based genome position
``first_position + j`` (letters centred on integers, so column ``j`` spans
``first_position + j - 0.5 .. first_position + j + 0.5``).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

BASES = "ACGT"


def information_content(pwm: np.ndarray, background: float = 0.25) -> np.ndarray:
    """Letter heights (bits) of a ``(4, W)`` probability matrix: ``p * IC`` per column.

    Columns are renormalised to sum to 1 (probabilities are clipped to ``[1e-9, 1]`` first);
    a column's information content is ``log2(1 / background) + sum(p log2 p)``, floored at 0.
    """
    p = np.clip(np.asarray(pwm, dtype=float), 1e-9, 1.0)
    p = p / p.sum(axis=0, keepdims=True)
    ic = np.log2(1 / background) + (p * np.log2(p)).sum(axis=0)
    return p * np.maximum(ic, 0)


class Letter(NamedTuple):
    """One letter of a stacked logo: column ``col`` (0-based), ``base`` row (0-3, ACGT),
    bottom ``y0`` and ``height`` (> 0); ``value`` is the signed matrix entry."""

    col: int
    base: int
    y0: float
    height: float
    value: float


def logo_stack(matrix: np.ndarray, min_fraction: float = 0.01) -> list[Letter]:
    """Stack the letters of a ``(4, L)`` logo matrix.

    Positive values stack upwards from 0, negative ones downwards; within a column the
    largest magnitude sits furthest from the axis. Letters no taller than ``min_fraction``
    of the tallest column (sum of absolute values) are skipped.

    Returns
    -------
    list of Letter
        Ordered by column, then positive letters bottom-up, then negative letters top-down.
    """
    matrix = np.asarray(matrix, dtype=float)
    if matrix.ndim != 2 or matrix.shape[0] != 4:
        raise ValueError(f"a logo needs a (4, L) matrix; got shape {matrix.shape}")
    scale = np.abs(matrix).sum(axis=0).max() if matrix.size else 0.0
    cutoff = max(scale * min_fraction, 0.0)
    letters = []
    for j in np.flatnonzero(np.abs(matrix).max(axis=0) > cutoff) if matrix.size else []:
        col = matrix[:, j]
        for sign in (1, -1):
            y = 0.0
            for i in np.argsort(np.abs(col), kind="stable"):
                if np.sign(col[i]) != sign or abs(col[i]) <= cutoff:
                    continue
                h = float(abs(col[i]))
                letters.append(Letter(int(j), int(i), y if sign > 0 else -y - h, h, float(col[i])))
                y += h
    return letters


def visible_indices(x_range, first_position: int, length: int, margin: int = 0) -> tuple[int, int] | None:
    """The columns of a map that a view's x range shows, as 0-based half-open ``(lo, hi)``.

    Parameters
    ----------
    x_range : (float, float) or None
        Visible 1-based positions (a Bokeh range's start and end); None or a None end: unknown.
    first_position : int
        1-based genome position of column 0.
    length : int
        Number of columns in the map.
    margin : int
        Columns added on each side (e.g. so letters at the edges are drawn whole).

    Returns
    -------
    (int, int) or None
        Clipped to ``0 <= lo <= hi <= length``; None when ``x_range`` is unknown.
    """
    if x_range is None or x_range[0] is None or x_range[1] is None:
        return None
    lo = int(np.floor(x_range[0] - first_position + 0.5)) - margin
    hi = int(np.ceil(x_range[1] - first_position + 0.5)) + margin
    lo, hi = min(max(0, lo), int(length)), min(int(length), hi)
    return lo, max(lo, hi)


def label_rows(centres: np.ndarray, widths: np.ndarray) -> np.ndarray:
    """Rows (0, 1, ...) for labels centred at ``centres`` and ``widths`` wide (same units, e.g.
    bp) so that no two labels on one row overlap; each label takes the lowest free row,
    left to right, like a genome browser's expanded feature track.

    Returns
    -------
    numpy.ndarray of int, shape ``(n,)``
        In the order of ``centres``.
    """
    centres, widths = np.asarray(centres, dtype=float), np.asarray(widths, dtype=float)
    rows = np.zeros(len(centres), dtype=int)
    ends: list[float] = []  # right end of the last label on each row
    for i in np.argsort(centres, kind="stable"):
        left = centres[i] - widths[i] / 2
        row = next((r for r, end in enumerate(ends) if end <= left), len(ends))
        if row == len(ends):
            ends.append(0.0)
        ends[row] = centres[i] + widths[i] / 2
        rows[i] = row
    return rows


def ism_cell(index: int) -> tuple[int, int]:
    """``(row, col)`` of the ISM heatmap cell with flat ``index`` (as a tap on the heatmap gives it).

    The heatmap lists cells column by column, four rows (A, C, G, T) each; see
    :func:`ism_cell_index` for the inverse.
    """
    index = int(index)
    if index < 0:
        raise ValueError(f"an ISM cell index must be >= 0; got {index}")
    col, row = divmod(index, 4)
    return row, col


def ism_cell_index(row: int, col: int) -> int:
    """Flat index of the ISM heatmap cell ``(row, col)`` (the inverse of :func:`ism_cell`)."""
    if not 0 <= row < 4 or col < 0:
        raise ValueError(f"row must satisfy 0 <= row < 4 and col >= 0; got row={row}, col={col}")
    return int(col) * 4 + int(row)

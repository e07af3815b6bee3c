"""Static (matplotlib) figures: logos for export and the seqlet-vs-known-motif alignment.

Figures are drawn on explicit :class:`matplotlib.figure.Figure` objects (never pyplot's
global state, which leaks in a server). Letters are drawn by tangermeme's ``plot_logo``
(about 0.1 s for 1,000 positions, where logomaker takes seconds).
"""

from __future__ import annotations

import io

import numpy as np
from matplotlib.figure import Figure

from explorer.plots.transforms import information_content


def _plot_logo(matrix: np.ndarray, ax) -> None:
    from tangermeme.plot import plot_logo

    plot_logo(np.asarray(matrix, dtype=float), ax=ax)


def logo_figure(matrix: np.ndarray, first_position: int, *, title: str = "", ylabel: str = "attribution",
                width_per_base: float = 0.12, height: float = 2.2) -> Figure:
    """A sequence logo of a ``(4, L)`` matrix with 1-based genome positions on the x axis."""
    matrix = np.asarray(matrix, dtype=float)
    L = matrix.shape[1]
    fig = Figure(figsize=(min(max(4.0, L * width_per_base), 60.0), height), dpi=100)
    ax = fig.add_subplot(111)
    _plot_logo(matrix, ax)
    ticks = ax.get_xticks()
    ax.set_xticks([t for t in ticks if 0 <= t < L])
    ax.set_xticklabels([f"{int(first_position + t):,}" for t in ax.get_xticks()])
    ax.set_xlabel("Position (1-based)")
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, fontsize=10)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    fig.tight_layout()
    return fig


def aligned_motif_figure(seqlet_matrix: np.ndarray, pwm: np.ndarray, offset: int, orientation: str,
                         first_position: int, *, seqlet_title: str = "", motif_title: str = "") -> Figure:
    """The seqlet's contribution logo above the known motif's logo, aligned column by column.

    Parameters
    ----------
    seqlet_matrix : numpy.ndarray, shape ``(4, w)``
        Contribution of the seqlet (as on the genome's + strand).
    pwm : numpy.ndarray, shape ``(4, W)``
        The known motif's probabilities as stored in the database.
    offset : int
        Column of the seqlet where the (oriented) motif's first column falls; may be
        negative or run past the seqlet (overhang).
    orientation : str
        ``"+"``: the motif matches as stored; ``"-"``: its reverse complement matches.
    first_position : int
        1-based genome coordinate of the seqlet's first column.
    """
    pwm = np.asarray(pwm, dtype=float)
    if orientation == "-":
        pwm = pwm[::-1, ::-1]
    heights = information_content(pwm)
    w, W = seqlet_matrix.shape[1], pwm.shape[1]
    lo, hi = min(0, offset), max(w, offset + W)
    span = hi - lo
    top = np.zeros((4, span))
    top[:, -lo:-lo + w] = seqlet_matrix
    bottom = np.zeros((4, span))
    bottom[:, offset - lo:offset - lo + W] = heights
    fig = Figure(figsize=(max(4.0, span * 0.32), 3.6), dpi=100)
    ax1, ax2 = fig.subplots(2, 1, sharex=True)
    _plot_logo(top, ax1)
    _plot_logo(bottom, ax2)
    ax1.set_ylabel("contribution")
    ax2.set_ylabel("bits")
    ax1.set_title(seqlet_title, fontsize=10)
    ax2.set_title(motif_title + (" (reverse complement)" if orientation == "-" else ""), fontsize=10)
    ticks = np.arange(0, span, max(1, span // 8))
    ax2.set_xticks(ticks)
    ax2.set_xticklabels([f"{first_position + lo + t:,}" for t in ticks])
    ax2.set_xlabel("Position (1-based)")
    for ax in (ax1, ax2):
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    fig.tight_layout()
    return fig


def figure_bytes(fig: Figure, fmt: str = "png") -> bytes:
    """Render ``fig`` as PNG or SVG bytes."""
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=150 if fmt == "png" else None)
    return buf.getvalue()

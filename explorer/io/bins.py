"""Output bins of binned models (Enformer, Borzoi): which input bases each output bin covers.

A binned model returns a profile ``(N, T, n_bins)`` whose bin ``i`` summarises the input
bases ``[offset + i * size, offset + (i + 1) * size)`` (0-based, half-open, counted from the
first base of the model's input). A model card holds this as ``output_bins``:
``{"size": int, "offset": int, "count": int}``. Enformer: 896 bins of 128 bp, offset
40,960 bp of a 196,608 bp input; Borzoi: 6,144 bins of 32 bp, offset 163,840 bp of a
524,288 bp input.

This module is a leaf (plain Python and numpy): the attribution layer and the app use it to
turn bins into bases and back.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["OutputBins", "output_bins", "central_bins"]

#: the default window of a binned target: the central bins covering about this many bases
CENTRAL_BASES = 1024


@dataclass(frozen=True)
class OutputBins:
    """``count`` bins of ``size`` bases, the first starting at input base ``offset`` (0-based)."""

    size: int
    offset: int
    count: int

    def __post_init__(self):
        if self.size < 1 or self.offset < 0 or self.count < 1:
            raise ValueError(f"output bins need size >= 1, offset >= 0 and count >= 1; got size={self.size}, "
                             f"offset={self.offset}, count={self.count}")

    def to_dict(self) -> dict:
        return {"size": self.size, "offset": self.offset, "count": self.count}

    @property
    def span(self) -> tuple[int, int]:
        """``(start, end)``: the input bases all bins cover (0-based, half-open)."""
        return self.offset, self.offset + self.count * self.size

    def edges(self) -> np.ndarray:
        """``(count, 2)`` int64: each bin's ``[start, end)`` in input bases (0-based, half-open)."""
        starts = self.offset + self.size * np.arange(self.count, dtype=np.int64)
        return np.stack([starts, starts + self.size], 1)

    def overlapping(self, start: int, end: int) -> tuple[int, int]:
        """``(first, last + 1)``: the bins that overlap input bases ``[start, end)`` (0-based).

        Raises
        ------
        ValueError
            No bin overlaps: the interval lies outside the bins' span (named, in bases).
        """
        lo, hi = self.span
        if not (start < end and end > lo and start < hi):
            raise ValueError(f"input bases [{start:,}, {end:,}) (0-based) lie outside the model's output bins, "
                             f"which cover [{lo:,}, {hi:,}); choose a region inside them")
        first = max(0, (int(start) - self.offset) // self.size)
        last = min(self.count, -(-(int(end) - self.offset) // self.size))
        return first, last


def output_bins(card: dict | None) -> OutputBins | None:
    """The card's ``output_bins`` as :class:`OutputBins`, or None when the model is not binned."""
    spec = (card or {}).get("output_bins")
    if not spec:
        return None
    return OutputBins(int(spec["size"]), int(spec["offset"]), int(spec["count"]))


def central_bins(count: int, size: int, bases: int = CENTRAL_BASES) -> tuple[int, int]:
    """``(start, end)``: the central bins covering about ``bases`` bases (at least one bin).

    The number of bins has the parity of ``count``, so the window sits exactly in the middle.
    """
    n = max(1, min(count, round(bases / size)))
    if (count - n) % 2:
        n = n + 1 if n < count else n - 1
    start = (count - n) // 2
    return start, start + n

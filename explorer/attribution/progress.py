"""Progress reporting and cancellation for long attribution runs.

A *progress callback* is any callable ``progress(fraction: float) -> bool | None`` where
``fraction`` grows from 0 to 1. Returning ``False`` (or raising :class:`Cancelled`) stops
the computation; :func:`explorer.attribute` then raises :class:`Cancelled`. Returning
``None`` or ``True`` lets it go on.
"""

from __future__ import annotations

from typing import Callable, Optional

ProgressCallback = Optional[Callable[[float], Optional[bool]]]


class Cancelled(Exception):
    """The computation was stopped by its progress callback (nothing is cached)."""


def report(progress: ProgressCallback, fraction: float) -> None:
    """Call ``progress(fraction)`` (clipped to [0, 1]); raise :class:`Cancelled` on ``False``."""
    if progress is None:
        return
    answer = progress(min(1.0, max(0.0, float(fraction))))
    if answer is False:
        raise Cancelled(f"cancelled by the progress callback at {fraction:.0%}")


def scaled(progress: ProgressCallback, lo: float, hi: float) -> ProgressCallback:
    """A callback mapping ``[0, 1]`` onto ``[lo, hi]`` of ``progress`` (for sub-steps)."""
    if progress is None:
        return None

    def sub(fraction: float):
        return progress(lo + (hi - lo) * fraction)

    return sub


def monotone(progress: ProgressCallback) -> ProgressCallback:
    """A callback that passes on only fractions above the last one (never goes back)."""
    if progress is None:
        return None
    last = [-1.0]

    def forward(fraction: float):
        if fraction <= last[0]:
            return None
        last[0] = fraction
        return progress(fraction)

    return forward

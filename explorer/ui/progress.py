"""Progress words for a running job: the ETA comes from the throughput measured over the last
seconds, not from the average since the start (a job's first seconds, loading and checks,
are no guide to the rest).
"""

from __future__ import annotations

from collections import deque


def duration_words(seconds: float) -> str:
    """``42 s``, ``2 min 10 s``, ``1 h 05 min`` (rounded to whole seconds)."""
    s = max(0, int(round(seconds)))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {(s % 3600) // 60:02d} min"


class Throughput:
    """Measured progress rate of one job, and the time left at that rate.

    Parameters
    ----------
    window_s : float
        Only the samples of the last ``window_s`` seconds set the rate.
    min_span_s : float
        No estimate before progress has been seen to move over this many seconds.
    """

    def __init__(self, window_s: float = 15.0, min_span_s: float = 2.0):
        self.window_s, self.min_span_s = float(window_s), float(min_span_s)
        self.samples: deque[tuple[float, float]] = deque()

    def add(self, t: float, fraction: float) -> None:
        """Record ``fraction`` (0-1) done at time ``t`` (seconds, any monotonic clock)."""
        self.samples.append((float(t), float(fraction)))
        while len(self.samples) > 2 and self.samples[-1][0] - self.samples[1][0] >= self.window_s:
            self.samples.popleft()

    def seconds_left(self) -> float | None:
        """Seconds to finish at the recent rate; None while unknown (too early, or no progress)."""
        if len(self.samples) < 2:
            return None
        (t0, f0), (t1, f1) = self.samples[0], self.samples[-1]
        if t1 - t0 < self.min_span_s or f1 <= f0:
            return None
        return (1.0 - f1) * (t1 - t0) / (f1 - f0)

    def words(self, elapsed: float) -> str:
        """``"40 % · 12 s · about 18 s left"`` for the progress line."""
        f = self.samples[-1][1] if self.samples else 0.0
        left = self.seconds_left()
        eta = f" · about {duration_words(left)} left" if left is not None else " · estimating the time left..."
        return f"{100 * f:.0f} % · {duration_words(elapsed)}{eta}"

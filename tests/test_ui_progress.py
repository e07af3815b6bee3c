"""The progress line's ETA follows the measured recent throughput."""

import pytest

from explorer.ui.progress import Throughput, duration_words


def test_duration_words():
    assert duration_words(4.4) == "4 s"
    assert duration_words(130) == "2 min 10 s"
    assert duration_words(3_900) == "1 h 05 min"


def test_no_estimate_before_progress_moves_for_a_while():
    rate = Throughput(min_span_s=2)
    assert rate.seconds_left() is None
    rate.add(0.0, 0.0)
    rate.add(1.0, 0.1)
    assert rate.seconds_left() is None  # only 1 s seen
    assert "estimating" in rate.words(1.0)
    rate.add(2.0, 0.1)
    rate.add(3.0, 0.1)
    rate.add(3.5, 0.1)
    assert rate.seconds_left() is not None  # 0 -> 0.1 over 3.5 s


def test_eta_follows_the_recent_rate_not_the_average_since_the_start():
    """A job that did 30 % in its first 5 s (a fast start) and then 1 % per second: the average
    since the start would promise ~30 s; the recent rate tells the truth (~60 s)."""
    rate = Throughput(window_s=10, min_span_s=2)
    rate.add(0.0, 0.0)
    rate.add(5.0, 0.30)
    for t in range(6, 16):
        rate.add(float(t), 0.30 + 0.01 * (t - 5))
    f = 0.30 + 0.01 * 10
    assert rate.seconds_left() == pytest.approx((1 - f) / 0.01, rel=0.05)
    assert "about 1 min 00 s left" in rate.words(15.0)


def test_a_stalled_job_gives_no_estimate():
    rate = Throughput(window_s=5, min_span_s=1)
    for t in range(10):
        rate.add(float(t), 0.5)
    assert rate.seconds_left() is None

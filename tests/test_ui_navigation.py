"""The position box, zoom buttons and ruler line of the tracks (pure functions)."""

import pytest

from explorer.ui.navigation import clamp_view, parse_position, ruler_words, window_span, zoom_view

BOUNDS = window_span(29_210, 31_210)  # HUMHBB:29,211-31,210, 2,000 bp


def test_window_span_covers_the_letters_of_the_window():
    assert window_span(29_210, 31_210) == (29_210.5, 31_210.5)


def test_clamp_view_keeps_the_view_inside_the_window_and_at_least_20_bp():
    assert clamp_view(29_000.0, 29_300.0, BOUNDS) == pytest.approx((29_210.5, 29_510.5))
    assert clamp_view(31_000.0, 31_400.0, BOUNDS) == pytest.approx((30_810.5, 31_210.5))
    lo, hi = clamp_view(30_000.0, 30_001.0, BOUNDS)
    assert hi - lo == pytest.approx(20) and (lo + hi) / 2 == pytest.approx(30_000.5)
    assert clamp_view(0.0, 1e9, BOUNDS) == pytest.approx(BOUNDS)
    assert clamp_view(0.0, 5.0, (0.5, 10.5)) == pytest.approx((0.5, 10.5))  # a window under 20 bp


def test_zoom_view_halves_and_doubles_around_the_centre_within_bounds():
    assert zoom_view((30_000.5, 30_200.5), 0.5, BOUNDS) == pytest.approx((30_050.5, 30_150.5))
    assert zoom_view((30_000.5, 30_200.5), 2, BOUNDS) == pytest.approx((29_900.5, 30_300.5))
    assert zoom_view(BOUNDS, 2, BOUNDS) == pytest.approx(BOUNDS)
    lo, hi = zoom_view((30_000.5, 30_030.5), 0.5, BOUNDS)
    assert hi - lo == pytest.approx(20)


def test_parse_position_centres_or_spans():
    assert parse_position("30,210", "HUMHBB", BOUNDS, 100) == pytest.approx((30_160.0, 30_260.0))
    assert parse_position("HUMHBB:30,100-30,300", "HUMHBB", BOUNDS, 100) == pytest.approx((30_099.5, 30_300.5))
    assert parse_position(" 30100..30119 ", "HUMHBB", BOUNDS, 100) == pytest.approx((30_099.5, 30_119.5))
    assert parse_position("29,211", "HUMHBB", BOUNDS, 100) == pytest.approx((29_210.5, 29_310.5))


@pytest.mark.parametrize("text, words", [
    ("banana", "'banana' is not a position"),
    ("chr1:30,210", "the window is on HUMHBB, not chr1"),
    ("30,300-30,100", "reversed"),
    ("40,000", "40,000 is outside the explained window HUMHBB:29,211-31,210"),
])
def test_parse_position_says_what_is_wrong_in_words(text, words):
    with pytest.raises(ValueError, match=words):
        parse_position(text, "HUMHBB", BOUNDS, 100)


def test_ruler_words_say_what_is_shown():
    assert ruler_words(None, "HUMHBB", BOUNDS) == "Showing **HUMHBB:29,211-31,210** · 2,000 bp, the whole window"
    assert ruler_words((30_099.5, 30_300.5), "HUMHBB", BOUNDS) == \
        "Showing **HUMHBB:30,100-30,300** · 201 bp of the 2,000 bp window"

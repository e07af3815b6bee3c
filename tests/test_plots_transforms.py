"""The pure transforms behind the figures (explorer.plots.transforms): no drawing involved."""

import numpy as np
import pytest

from explorer.plots.transforms import (information_content, ism_cell, ism_cell_index, logo_stack,
                                       visible_indices)


def test_information_content_of_certain_and_uniform_columns():
    pwm = np.array([[1.0, 0.25], [0.0, 0.25], [0.0, 0.25], [0.0, 0.25]])
    heights = information_content(pwm)
    assert heights.shape == (4, 2)
    assert heights[0, 0] == pytest.approx(2.0, abs=1e-6)  # a certain base: 2 bits
    assert heights[1:, 0] == pytest.approx(0.0, abs=1e-6)
    assert heights[:, 1] == pytest.approx(0.0, abs=1e-9)  # uniform: no information


def test_information_content_renormalises_columns():
    pwm = np.array([[2.0], [2.0], [0.0], [0.0]])  # counts, not probabilities
    assert information_content(pwm)[:, 0] == pytest.approx([0.5, 0.5, 0.0, 0.0], abs=1e-6)


def test_logo_stack_puts_the_largest_letter_furthest_from_the_axis():
    m = np.array([[0.5, 0.0], [2.0, 0.0], [-1.0, 0.0], [-0.25, 0.0]])
    letters = logo_stack(m)
    assert {letter.col for letter in letters} == {0}  # the empty column draws nothing
    up = [lt for lt in letters if lt.value > 0]
    down = [lt for lt in letters if lt.value < 0]
    assert [lt.base for lt in up] == [0, 1]  # A (0.5) on the axis, C (2.0) above it
    assert up[0].y0 == pytest.approx(0.0) and up[1].y0 == pytest.approx(0.5)
    assert up[1].height == pytest.approx(2.0)
    assert [lt.base for lt in down] == [3, 2]  # T (-0.25) just below the axis, G (-1) under it
    assert down[0].y0 == pytest.approx(-0.25) and down[1].y0 == pytest.approx(-1.25)
    assert all(lt.height > 0 for lt in letters)


def test_logo_stack_skips_tiny_letters_and_checks_the_shape():
    m = np.array([[1.0], [0.001], [0.0], [0.0]])
    assert [lt.base for lt in logo_stack(m, min_fraction=0.01)] == [0]
    assert logo_stack(np.zeros((4, 0))) == []
    with pytest.raises(ValueError, match=r"\(4, L\) matrix; got shape \(3, 2\)"):
        logo_stack(np.zeros((3, 2)))


def test_visible_indices_maps_the_x_range_to_columns():
    # column j is drawn at 1-based position 101 + j, spanning +-0.5
    assert visible_indices((100.5, 110.5), 101, 50) == (0, 10)
    assert visible_indices((104.5, 106.5), 101, 50) == (4, 6)
    assert visible_indices((104.5, 106.5), 101, 50, margin=1) == (3, 7)
    assert visible_indices((0.0, 10_000.0), 101, 50) == (0, 50)  # clipped to the map
    assert visible_indices((500.0, 600.0), 101, 50) == (50, 50)  # off the map: empty
    assert visible_indices(None, 101, 50) is None
    assert visible_indices((None, None), 101, 50) is None


def test_ism_cell_round_trips_with_the_heatmap_order():
    # the heatmap lists cells column by column, rows A, C, G, T
    assert ism_cell(0) == (0, 0)
    assert ism_cell(7) == (3, 1)
    assert ism_cell(4 * 150 + 2) == (2, 150)
    for row in range(4):
        for col in (0, 1, 999):
            assert ism_cell(ism_cell_index(row, col)) == (row, col)
    with pytest.raises(ValueError):
        ism_cell(-1)
    with pytest.raises(ValueError):
        ism_cell_index(4, 0)

"""Small models shared by the test modules (seeded where the test needs it)."""

from __future__ import annotations

from torch import nn


class TinyCNN(nn.Module):
    """Two scores per sequence: a convolution (4 -> 2 channels, kernel 3), averaged over positions.

    Input ``(N, 4, L)`` with ``L >= 3``, output ``(N, 2)``.
    """

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(4, 2, 3)

    def forward(self, x):
        return self.conv(x).mean(-1)

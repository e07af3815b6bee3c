"""Small models with known answers, for tests, examples and benchmarks.

* :class:`MotifDetector`: a fixed-weight convolution that scores one motif; ReLU; sum
  over positions. Planting the motif in random sequence gives a known answer: the
  attribution mass falls on the planted copy.
* :class:`ProfileModel`: per-position outputs ``(N, T, L)`` (optionally a BPNet-like
  ``(profile, counts)`` tuple), for targets with windows and reductions.
"""

from __future__ import annotations

import torch
from torch import nn

from explorer.io.sequences import one_hot_encode


class MotifDetector(nn.Module):
    """``(N, 4, L) -> (N, 1)``: sum over positions of ReLU(match score - threshold).

    The convolution's weights are the motif's one-hot, so a window scores the number of
    matching bases; the bias subtracts ``len(motif) - 2``, so only near-perfect matches
    (>= len - 1 matching bases) give a positive activation. Non-linear (ReLU), every
    operation a module or linear, so DeepLIFT is exact on it.
    """

    def __init__(self, motif: str = "GATAAGGC"):
        super().__init__()
        self.motif = motif
        self.conv = nn.Conv1d(4, 1, len(motif))
        with torch.no_grad():
            self.conv.weight.copy_(one_hot_encode(motif).unsqueeze(0))
            self.conv.bias.fill_(-(len(motif) - 2.0))
        self.relu = nn.ReLU()
        self.tasks = ["motif"]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.conv(x)).sum(-1)


class ProfileModel(nn.Module):
    """``(N, 4, L)`` -> profile ``(N, T, L)`` ('same' padded conv, softplus), or with
    ``counts_head=True`` the tuple ``(profile, counts (N, T))``, counts = log of the summed
    profile. Random seeded weights.
    """

    def __init__(self, n_tasks: int = 2, kernel_size: int = 9, counts_head: bool = False, seed: int = 0):
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        self.conv = nn.Conv1d(4, n_tasks, kernel_size, padding=kernel_size // 2)
        with torch.no_grad():
            self.conv.weight.copy_(torch.randn(self.conv.weight.shape, generator=generator) * 0.5)
            self.conv.bias.zero_()
        self.act = nn.Softplus()
        self.counts_head = counts_head

    def forward(self, x: torch.Tensor):
        profile = self.act(self.conv(x))
        if self.counts_head:
            return profile, torch.log(profile.sum(-1))
        return profile


def plant(motif: str, length: int, position: int, seed: int = 0) -> torch.Tensor:
    """Random ``(4, length)`` one-hot (seeded) with ``motif`` at 0-based ``position``."""
    generator = torch.Generator().manual_seed(seed)
    codes = torch.randint(0, 4, (length,), generator=generator)
    x = torch.nn.functional.one_hot(codes, 4).T.to(torch.float32).contiguous()
    x[:, position:position + len(motif)] = one_hot_encode(motif)
    return x

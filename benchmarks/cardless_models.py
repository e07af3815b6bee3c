"""Models without a card or a declared structure: the kinds only plain ISM can take.

Receptive-field-local fast ISM (:mod:`explorer.attribution.fast_ism`) needs a model that is
convolutional up to a pooled head; attention and recurrent layers read the whole sequence
at every position, so these models go through the exact, model-agnostic plain ISM
(:func:`explorer.attribution.ism.ism`). Both take one-hot ``(N, 4, L)`` and return
``(N, 2)`` scores, have random seeded weights, and are in eval mode.

Usage::

    from benchmarks.cardless_models import build
    model = build("attention", seed=0)      # or "gru"
    model(torch.zeros(3, 4, 1000)).shape    # (3, 2)
"""

from __future__ import annotations

import torch
from torch import nn

#: the model kinds :func:`build` knows
KINDS = ("attention", "gru")


class ConvStem(nn.Module):
    """One-hot ``(N, 4, L)`` -> features ``(N, L, channels)``: a same-padded conv and a ReLU.

    Parameters
    ----------
    channels : int
        Output features per position.
    kernel_size : int
        Odd width of the convolution (the output keeps length ``L``).
    """

    def __init__(self, channels: int = 64, kernel_size: int = 15):
        super().__init__()
        self.conv = nn.Conv1d(4, channels, kernel_size, padding=kernel_size // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return torch.relu(self.conv(x)).transpose(1, 2)


class AttentionModel(nn.Module):
    """Conv stem, transformer encoder layers over positions, mean pool, linear.

    ``(N, 4, L)`` -> ``(N, n_outputs)``. Every output depends on every position (full
    self-attention, no mask).

    Parameters
    ----------
    d_model : int
        Features per position (stem channels and attention width).
    n_heads : int
        Attention heads per layer.
    n_layers : int
        ``nn.TransformerEncoderLayer`` blocks (batch first, post-norm, ReLU).
    dim_feedforward : int
        Width of each layer's feed-forward block.
    n_outputs : int
        Scores per sequence.
    """

    def __init__(self, d_model: int = 64, n_heads: int = 4, n_layers: int = 2, dim_feedforward: int = 128,
                 n_outputs: int = 2):
        super().__init__()
        self.stem = ConvStem(d_model)
        layer = nn.TransformerEncoderLayer(d_model, n_heads, dim_feedforward=dim_feedforward, dropout=0.0,
                                           batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, n_layers, enable_nested_tensor=False)
        self.linear = nn.Linear(d_model, n_outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return self.linear(self.encoder(self.stem(x)).mean(1))


class GRUModel(nn.Module):
    """Conv stem, a bidirectional GRU over positions, mean of its states, linear.

    ``(N, 4, L)`` -> ``(N, n_outputs)``. Every output depends on every position (the
    recurrence runs over the whole sequence both ways).

    Parameters
    ----------
    channels : int
        Stem features per position (the GRU's input size).
    hidden : int
        GRU hidden size per direction.
    n_outputs : int
        Scores per sequence.
    """

    def __init__(self, channels: int = 64, hidden: int = 32, n_outputs: int = 2):
        super().__init__()
        self.stem = ConvStem(channels)
        self.gru = nn.GRU(channels, hidden, batch_first=True, bidirectional=True)
        self.linear = nn.Linear(2 * hidden, n_outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        states, _ = self.gru(self.stem(x))
        return self.linear(states.mean(1))


def build(kind: str, seed: int = 0) -> nn.Module:
    """A seeded, eval-mode model of ``kind`` (one of :data:`KINDS`), on the CPU.

    The global RNG state is restored afterwards, so building a model does not change what
    the caller draws next.

    Raises
    ------
    ValueError
        ``kind`` is not one of :data:`KINDS`.
    """
    classes = {"attention": AttentionModel, "gru": GRUModel}
    if kind not in classes:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}; got {kind!r}")
    state = torch.random.get_rng_state()
    try:
        torch.manual_seed(seed)
        return classes[kind]().eval()
    finally:
        torch.random.set_rng_state(state)

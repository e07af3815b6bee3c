"""A small convolutional masked DNA language model, registered as ``"conv_masked_lm"``.

The yeast sample LM (``sample_data/models/yeast_lm.pt``, trained by
``scripts/train_yeast_lm.py``) is one of these. It follows the one-hot masking of
published fungal LMs: a masked base is an all-zero column of the one-hot input, and the
model returns per-position logits over ``A, C, G, T``.

Registered in :mod:`explorer.io.registry`, so a checkpoint naming it loads with
``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import torch
from torch import nn

from explorer.io.registry import register_architecture


@register_architecture("conv_masked_lm")
class ConvMaskedLM(nn.Module):
    """Dilated residual CNN: one-hot ``(N, 4, L)`` (masked = all-zero column) -> logits ``(N, 4, L)``.

    Every convolution is 'same'-padded with zeros, so the logits at position ``i`` depend
    only on the inputs within ``receptive_field // 2`` bases of ``i`` (and the sequence ends
    look like masked bases). That locality is what the receptive-field-local masked ISM of
    :mod:`explorer.attribution.masked_lm` uses.

    Parameters
    ----------
    channels : int
        Filters per convolution.
    first_kernel : int
        Kernel size of the first convolution (odd).
    kernel_size : int
        Kernel size of the residual blocks (odd).
    dilations : sequence of int
        One residual block (conv, ReLU, added to its input) per dilation.
    """

    def __init__(self, channels: int = 64, first_kernel: int = 9, kernel_size: int = 5,
                 dilations=(1, 2, 4, 8)):
        super().__init__()
        for k in (first_kernel, kernel_size):
            if k % 2 == 0:
                raise ValueError(f"kernel sizes must be odd; got {k}")
        self.config = dict(channels=channels, first_kernel=first_kernel, kernel_size=kernel_size,
                           dilations=list(dilations))
        self.first = nn.Conv1d(4, channels, first_kernel, padding=first_kernel // 2)
        self.blocks = nn.ModuleList(
            nn.Conv1d(channels, channels, kernel_size, dilation=d, padding=d * (kernel_size // 2))
            for d in dilations)
        self.out = nn.Conv1d(channels, 4, 1)
        self.receptive_field = first_kernel + sum(d * (kernel_size - 1) for d in dilations)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, 4, L)`` one-hot (masked = zero column) -> ``(N, 4, L)`` logits over A, C, G, T."""
        h = torch.relu(self.first(x))
        for conv in self.blocks:
            h = h + torch.relu(conv(h))
        return self.out(h)

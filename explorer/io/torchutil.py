"""Facts about a torch module that every layer needs (a leaf: imports only torch)."""

from __future__ import annotations

import torch
from torch import nn


def model_device(model: nn.Module) -> torch.device:
    """The device a model runs on: that of its first parameter, else of its first buffer.

    A module that holds no tensors (a pure function of its input) is on the CPU.

    Parameters
    ----------
    model : nn.Module
        Any module, TorchScript included.

    Returns
    -------
    torch.device
    """
    for tensor in model.parameters():
        return tensor.device
    for tensor in model.buffers():
        return tensor.device
    return torch.device("cpu")


class ChannelsLast(nn.Module):
    """Adapts a model that takes one-hot as ``(N, L, 4)`` (channels last, as Keras ports and
    Enformer do) to the explorer's ``(N, 4, L)``: ``forward(x) = net(x.transpose(1, 2))``."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor):  # noqa: D102
        return self.net(x.transpose(1, 2))

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

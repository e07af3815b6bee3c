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


class Checkpointed(nn.Module):
    """Runs ``inner`` under activation checkpointing when gradients are being taken.

    A forward pass that builds a graph (gradient x input, integrated gradients) then keeps
    only this block's input and recomputes its activations during the backward pass: the
    memory of a long-context model's gradient drops from all activations to about one
    block's, for about one extra forward pass. Without gradients (prediction, ISM) it is
    ``inner`` itself. The numbers are the same either way (eval mode, no dropout).
    """

    def __init__(self, inner: nn.Module):
        super().__init__()
        self.inner = inner

    def forward(self, x: torch.Tensor):  # noqa: D102
        if torch.is_grad_enabled() and x.requires_grad:
            from torch.utils.checkpoint import checkpoint

            return checkpoint(self.inner, x, use_reentrant=False)
        return self.inner(x)


def checkpoint_blocks(block: nn.Sequential) -> None:
    """Wrap every child of ``block`` in :class:`Checkpointed`, in place (so modules that hold
    ``block`` see the change)."""
    for key, sub in list(block.named_children()):
        if not isinstance(sub, Checkpointed):
            block._modules[key] = Checkpointed(sub)


def checkpoint_children(parent: nn.Module, names: list[str]) -> None:
    """Checkpoint the named children of ``parent``: each block of a named ``nn.Sequential``
    (:func:`checkpoint_blocks`), else the child as a whole. Missing names are skipped."""
    for name in names:
        child = getattr(parent, name, None)
        if isinstance(child, nn.Sequential):
            checkpoint_blocks(child)
        elif isinstance(child, nn.Module) and not isinstance(child, Checkpointed):
            setattr(parent, name, Checkpointed(child))

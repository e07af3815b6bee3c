"""The sample model's network: a small dilated CNN, registered as ``"sample_cnn"``.

Registered in :mod:`explorer.io.registry`, so a checkpoint naming it loads with
``torch.load(weights_only=True)``; it declares its own fast-ISM structure
(:meth:`SampleCNN.structure_of`), which the model card's ``structure`` is generated from.
"""

from __future__ import annotations

import torch
from torch import nn

from explorer.io.registry import register_architecture


@register_architecture("sample_cnn")
class SampleCNN(nn.Module):
    """A small dilated CNN scoring DNA of any length >= 100 bp, one logit per task.

    Structure (:meth:`structure_of`, copied into the model card for receptive-field-local ISM):

    * ``trunk``: three 'same'-padded convolutions with ReLU, kernel sizes
      ``kernel_sizes`` and dilations ``dilations``; maps ``(N, 4, L)`` to ``(N, C, L)``.
      Each output position depends only on the inputs within ``receptive_field // 2``
      bases of it (zero padding at the sequence ends).
    * ``head``: global max over positions, then a linear layer: ``(N, C, L) -> (N, T)``.

    Parameters
    ----------
    n_tasks : int
        Number of outputs (logits).
    channels : int
        Filters per convolution.
    kernel_sizes, dilations : sequence of int
        One per convolution (odd kernel sizes).
    dropout : float
        Dropout before the linear layer (training only).
    """

    def __init__(self, n_tasks: int = 2, channels: int = 64, kernel_sizes=(19, 9, 9),
                 dilations=(1, 2, 4), dropout: float = 0.1):
        super().__init__()
        self.config = dict(n_tasks=n_tasks, channels=channels, kernel_sizes=list(kernel_sizes),
                           dilations=list(dilations), dropout=dropout)
        layers: list[nn.Module] = []
        in_ch = 4
        for k, d in zip(kernel_sizes, dilations):
            if k % 2 == 0:
                raise ValueError(f"kernel sizes must be odd; got {k}")
            layers += [nn.Conv1d(in_ch, channels, k, dilation=d, padding=d * (k // 2)), nn.ReLU()]
            in_ch = channels
        self.trunk = nn.Sequential(*layers)
        self.dropout = nn.Dropout(dropout)
        self.linear = nn.Linear(channels, n_tasks)
        self.receptive_field = 1 + sum(d * (k - 1) for k, d in zip(kernel_sizes, dilations))

    @torch.jit.export
    def head(self, profile: torch.Tensor) -> torch.Tensor:
        """``(N, C, L)`` trunk output -> ``(N, T)`` logits (max over positions, then linear)."""
        return self.linear(self.dropout(profile.amax(dim=-1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, 4, L)`` one-hot -> ``(N, T)`` logits."""
        return self.head(self.trunk(x))

    @staticmethod
    def structure_of(net: nn.Module) -> dict:
        """The fast-ISM structure declaration of ``net`` (see :mod:`explorer.attribution.structure`).

        Parameters
        ----------
        net : nn.Module
            A SampleCNN or its TorchScript export (same attribute names).

        Returns
        -------
        dict
            JSON-safe: trunk ``"trunk"``, max pool over positions, final layer ``"linear"``
            and, when ``net`` records it, the trunk's ``receptive_field`` in bp.
        """
        structure = {"trunk": "trunk", "pool": "max", "final": "linear"}
        receptive_field = getattr(net, "receptive_field", None)
        if receptive_field is not None:
            structure["receptive_field"] = int(receptive_field)
        return structure

    def structure(self) -> dict:
        """This network's structure declaration: :meth:`structure_of` of ``self``."""
        return self.structure_of(self)

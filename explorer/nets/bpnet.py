"""A BPNet-style architecture (bpnet-lite layout), registered as ``"bpnet"``.

Used in tests and benchmarks as the "BPNet-size" model: a first convolution, a stack of
dilated residual convolutions, a profile head and a counts head. The attribute names follow
bpnet-lite (``iconv``, ``irelu``, ``rconvs``, ``rrelus``, ``fconv``, ``linear``,
``trimming``), so the structure declaration of this class (:meth:`BPNet.structure_of`)
also describes a bpnet-lite model without control tracks.

Shapes (``N`` sequences, ``L`` bases, ``T`` tasks, ``F`` filters)::

    x (N, 4, L) --iconv(k=first_kernel)+ReLU--> (N, F, L)
               --n_layers x [h = h + ReLU(conv_k3_dilation_2^i(h))]--> trunk h (N, F, L)
    profile = fconv(h)[:, :, trimming : L - trimming]                      (N, T, L - 2 trimming)
    counts  = linear(mean(h[:, :, trimming - p : L - trimming + p]))       (N, T), p = profile_kernel // 2

``forward`` returns the tuple ``(profile, counts)`` like bpnet-lite. All convolutions are
'same'-padded with zeros, so every trunk position depends on the inputs within
``trunk_radius`` bases of it (receptive field ``1 + (first_kernel - 1) + 2 * sum(2^i)``:
531 bp for the defaults).
"""

from __future__ import annotations

import torch
from torch import nn

from explorer.io.registry import register_architecture


@register_architecture("bpnet")
class BPNet(nn.Module):
    """BPNet: dilated residual CNN with a cropped profile head and a counts head.

    Parameters
    ----------
    n_tasks : int
        Output tracks ``T`` (profile channels and counts).
    n_filters : int
        Channels of every trunk convolution (64 in BPNet).
    n_layers : int
        Dilated residual layers; layer ``i`` (0-based) has kernel 3 and dilation ``2**i``.
    first_kernel : int
        Kernel size of the first convolution (odd; 21 in BPNet).
    profile_kernel : int
        Kernel size of the profile head's convolution (odd; 75 in BPNet).
    trimming : int or None
        Positions cropped from each end of the profile output. Default: trunk radius plus
        profile radius, so every output position sees only real sequence.
    """

    def __init__(self, n_tasks: int = 2, n_filters: int = 64, n_layers: int = 8,
                 first_kernel: int = 21, profile_kernel: int = 75, trimming: int | None = None):
        super().__init__()
        for name, k in (("first_kernel", first_kernel), ("profile_kernel", profile_kernel)):
            if k < 1 or k % 2 == 0:
                raise ValueError(f"{name} must be a positive odd integer; got {k}")
        self.n_layers = int(n_layers)
        self.trunk_radius = first_kernel // 2 + sum(2 ** i for i in range(n_layers))
        self.profile_radius = profile_kernel // 2
        if trimming is None:
            trimming = self.trunk_radius + self.profile_radius
        if trimming < self.profile_radius:
            raise ValueError(f"trimming must be >= profile_kernel // 2 = {self.profile_radius}; got {trimming}")
        self.trimming = int(trimming)
        self.config = dict(n_tasks=n_tasks, n_filters=n_filters, n_layers=n_layers,
                           first_kernel=first_kernel, profile_kernel=profile_kernel,
                           trimming=self.trimming)
        self.iconv = nn.Conv1d(4, n_filters, first_kernel, padding=first_kernel // 2)
        self.irelu = nn.ReLU()
        self.rconvs = nn.ModuleList([
            nn.Conv1d(n_filters, n_filters, 3, padding=2 ** i, dilation=2 ** i) for i in range(n_layers)
        ])
        self.rrelus = nn.ModuleList([nn.ReLU() for _ in range(n_layers)])
        self.fconv = nn.Conv1d(n_filters, n_tasks, profile_kernel, padding=profile_kernel // 2)
        self.linear = nn.Linear(n_filters, n_tasks)
        self.receptive_field = 1 + 2 * self.trunk_radius
        self.min_length = 2 * self.trimming + 1

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(N, 4, L)`` one-hot -> ``(profile (N, T, L - 2 trimming), counts (N, T))``."""
        start, end = self.trimming, x.shape[2] - self.trimming
        h = self.irelu(self.iconv(x))
        for conv, act in zip(self.rconvs, self.rrelus):
            h = h + act(conv(h))
        profile = self.fconv(h)[:, :, start:end]
        p = self.profile_radius
        counts = self.linear(torch.mean(h[:, :, start - p:end + p], dim=2))
        return profile, counts

    @staticmethod
    def structure_of(net: nn.Module) -> dict:
        """The fast-ISM structure declaration of ``net`` (see :mod:`explorer.attribution.structure`).

        Parameters
        ----------
        net : nn.Module
            A BPNet or its TorchScript export (same attribute names).

        Returns
        -------
        dict
            :func:`bpnet_structure` of its layer count, trimming and profile kernel, with the
            trunk's ``receptive_field`` when ``net`` records it.
        """
        receptive_field = getattr(net, "receptive_field", None)
        return bpnet_structure(len(net.rconvs), int(net.trimming), int(net.fconv.weight.shape[-1]) // 2,
                               receptive_field=None if receptive_field is None else int(receptive_field))

    def structure(self) -> dict:
        """This network's structure declaration: :meth:`structure_of` of ``self``."""
        return self.structure_of(self)


def bpnet_structure(n_layers: int, trimming: int, profile_radius: int,
                    receptive_field: int | None = None) -> dict:
    """Structure declaration of a bpnet-lite layout model (no control tracks)."""
    trunk: list = ["iconv", "irelu"]
    trunk += [{"residual": [f"rconvs.{i}", f"rrelus.{i}"]} for i in range(n_layers)]
    structure = {
        "trunk": trunk,
        "heads": [
            {"pool": "crop", "conv": "fconv", "trim": int(trimming)},
            {"pool": "mean", "trim": int(trimming - profile_radius), "final": "linear"},
        ],
        "output": "tuple",
    }
    if receptive_field is not None:
        structure["receptive_field"] = int(receptive_field)
    return structure

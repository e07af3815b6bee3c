"""The networks the explorer ships: the sample CNN and BPNet (bpnet-lite layout).

Importing this package registers them in :mod:`explorer.io.registry`; each declares its
own fast-ISM structure (``structure_of``). Imports only :mod:`explorer.io.registry` and torch.
"""

from explorer.nets.bpnet import BPNet, bpnet_structure
from explorer.nets.sample_cnn import SampleCNN

#: the shipped network classes
SHIPPED = (SampleCNN, BPNet)

__all__ = ["BPNet", "SHIPPED", "SampleCNN", "bpnet_structure"]

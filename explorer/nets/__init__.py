"""The networks the explorer ships: the sample CNN, BPNet (bpnet-lite layout) and a conv masked LM.

Importing this package registers them in :mod:`explorer.io.registry`; each declares its
own fast-ISM structure (``structure_of``). Imports only :mod:`explorer.io.registry` and torch.
"""

from explorer.nets.bpnet import BPNet, bpnet_structure
from explorer.nets.conv_lm import ConvMaskedLM
from explorer.nets.sample_cnn import SampleCNN

#: the shipped network classes
SHIPPED = (SampleCNN, BPNet, ConvMaskedLM)

__all__ = ["BPNet", "ConvMaskedLM", "SHIPPED", "SampleCNN", "bpnet_structure"]

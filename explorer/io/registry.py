"""The registry of network architectures: name -> class, for checkpoints that name them.

A leaf module: it imports nothing of the package, so a network module registers itself
here and the loader (:mod:`explorer.io.models`) and the fast-ISM layer
(:mod:`explorer.attribution.structure`) read the same table without importing each other.

A registered class may declare its own fast-ISM structure once, as a static method
``structure_of(net) -> dict`` that works on an instance and on its TorchScript export
(the format is documented in :mod:`explorer.attribution.structure`).
"""

from __future__ import annotations

from typing import Callable

#: registered architectures: name -> class (its constructor takes the checkpoint's config)
ARCHITECTURES: dict[str, type] = {}


def register_architecture(name: str) -> Callable[[type], type]:
    """Class decorator: make an ``nn.Module`` class loadable from checkpoints by ``name``.

    Parameters
    ----------
    name : str
        The name a checkpoint stores (``"sample_cnn"``, ``"bpnet"``); sets
        ``cls.architecture_name``.
    """

    def decorate(cls: type) -> type:
        ARCHITECTURES[name] = cls
        cls.architecture_name = name
        return cls

    return decorate


def structure_declarations() -> dict[str, Callable]:
    """Class name -> ``structure_of`` of every registered class that declares one.

    Keyed by the Python class name, which is also a TorchScript export's ``original_name``.
    """
    return {cls.__name__: cls.structure_of for cls in ARCHITECTURES.values()
            if callable(getattr(cls, "structure_of", None))}

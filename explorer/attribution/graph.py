"""A model's computation graph, captured for fast ISM: one aten-level graph for every kind.

Python modules are captured with :func:`torch.export.export`, TorchScript files (scripted
or traced) with torch's TorchScript-to-export converter, so both reach
:mod:`explorer.attribution.graph_ism` as the same kind of graph: a
:class:`torch.export.ExportedProgram` whose nodes are aten operators
(``aten.conv1d``, ``aten.relu``, ``aten.add.Tensor``, ``aten.amax``, ...). The captured
program is kept on the model, per input length, so a second sequence of the same length
does not capture again; weights are read from the model at each use, never from the copy.

The graph is captured at the caller's device, in eval mode (the caller's job: the engine
runs under :func:`explorer.attribution.runtime.running_on`).
"""

from __future__ import annotations

import logging
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator

import torch
from torch import nn

from explorer.attribution.structure import StructureError
from explorer.io.torchutil import ChannelsLast

#: attribute holding ``{(length, device): CapturedGraph or error text}`` on the model
_CACHE_ATTR = "_explorer_captured_graphs"


class GraphError(StructureError):
    """The graph could not be captured, or holds an operation fast ISM cannot localise."""


@dataclass
class CapturedGraph:
    """An exported program and how the explorer's ``(N, 4, L)`` input reaches it.

    Attributes
    ----------
    program : torch.export.ExportedProgram
    net : nn.Module
        The module that was captured (the innermost network: wrappers such as
        :class:`~explorer.io.models.ExplorerModel` and ``ChannelsLast`` are unwrapped).
    channels_last : bool
        True when ``net`` takes ``(N, L, 4)`` (the explorer transposes for it).
    source : str
        ``"torch.export"`` or ``"torchscript"``: how the graph was found.
    """

    program: Any
    net: nn.Module
    channels_last: bool
    source: str


def innermost(model: nn.Module) -> tuple[nn.Module, bool]:
    """The network behind the explorer's wrappers, and whether it takes ``(N, L, 4)``."""
    net, channels_last = model, False
    for _ in range(8):
        if isinstance(net, ChannelsLast):
            net, channels_last = net.net, not channels_last
        elif type(net).__name__ == "ExplorerModel" and isinstance(getattr(net, "net", None), nn.Module):
            net = net.net
        else:
            break
    return net, channels_last


@contextmanager
def _quiet() -> Iterator[None]:
    """Silence the exporters' warnings and log lines (they are about capture, not the user's data)."""
    loggers = [logging.getLogger(name) for name in ("torch._export", "torch.export", "torch._dynamo",
                                                     "torch.fx.experimental.symbolic_shapes")]
    levels = [lg.level for lg in loggers]
    try:
        for lg in loggers:
            lg.setLevel(logging.ERROR)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def _export(net: nn.Module, example: torch.Tensor) -> tuple[Any, str]:
    if isinstance(net, torch.jit.ScriptModule):
        from torch._export.converter import TS2EPConverter

        return TS2EPConverter(net, (example,)).convert(), "torchscript"
    return torch.export.export(net, (example,), strict=False), "torch.export"


def capture(model: nn.Module, length: int, device: torch.device) -> CapturedGraph:
    """Capture ``model``'s graph for inputs of ``length`` bases (cached on the model).

    Parameters
    ----------
    model : nn.Module
        Takes one-hot ``(N, 4, L)``; an ExplorerModel, a ChannelsLast adapter, a Python
        module or a TorchScript module. In eval mode, on ``device``.
    length : int
        Input length the graph is specialised to (shapes are fixed in the graph).
    device : torch.device

    Returns
    -------
    CapturedGraph

    Raises
    ------
    GraphError
        The exporter could not capture the model (data-dependent control flow, an
        operation it cannot trace); the message keeps the exporter's first line.
    """
    net, channels_last = innermost(model)
    cache = net.__dict__.get(_CACHE_ATTR)
    if not isinstance(cache, dict):
        cache = {}
    key = (int(length), str(device))
    if key in cache:
        found = cache[key]
        if isinstance(found, str):
            raise GraphError(found)
        return found
    shape = (1, int(length), 4) if channels_last else (1, 4, int(length))
    example = torch.zeros(shape, device=device)
    example[(0, slice(None), 0) if channels_last else (0, 0)] = 1.0
    try:
        with _quiet(), torch.no_grad():
            program, source = _export(net, example)
    except Exception as exc:  # noqa: BLE001 - any exporter failure means "no graph", said plainly
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        cache[key] = f"its graph could not be captured ({type(exc).__name__}: {first})"
        _keep(net, cache)
        raise GraphError(cache[key]) from None
    cache[key] = CapturedGraph(program, net, channels_last, source)
    _keep(net, cache)  # after the export, which restores the module's attributes as it found them
    return cache[key]


def _keep(net: nn.Module, cache: dict) -> None:
    try:
        object.__setattr__(net, _CACHE_ATTR, cache)
    except (AttributeError, TypeError, RuntimeError):
        pass  # a module that refuses new attributes is captured again next time

"""Device selection, keeping the caller's model unchanged, and out-of-memory-adaptive batches.

Device rule: the device the caller names; else the device the model's weights are on
(:func:`explorer.load_model` puts models on CUDA when present); a model without weights
runs on CUDA when present, else on the CPU.
"""

from __future__ import annotations

import contextlib
from typing import Callable, Iterator, TypeVar

import torch
from torch import nn

T = TypeVar("T")


def model_device(model: nn.Module) -> torch.device:
    """The device of the model's first parameter (or buffer); CUDA/CPU default if it has none."""
    for tensor in model.parameters():
        return tensor.device
    for tensor in model.buffers():
        return tensor.device
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def resolve_device(model: nn.Module, device: str | torch.device | None = None) -> torch.device:
    """The device to run on: ``device`` if given (checked), else the model's device.

    Raises
    ------
    ValueError
        ``device`` names CUDA but no CUDA device is available, or is not a device name.
    """
    if device is None:
        return model_device(model)
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"device must be 'cpu', 'cuda', 'cuda:N' or 'mps'; got {device!r}") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} was asked for, but no CUDA device is available; use 'cpu'")
    if dev.type == "mps" and not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
        raise ValueError(f"device {device!r} was asked for, but MPS is not available; use 'cpu'")
    return dev


@contextlib.contextmanager
def running_on(model: nn.Module, device: torch.device) -> Iterator[nn.Module]:
    """Put ``model`` on ``device`` in eval mode for the block; restore device and mode after.

    The training flag of every submodule and the device of the weights are restored in a
    ``finally``, also when the block raises (out of memory, cancel, bad input).
    """
    modes = [(m, m.training) for m in model.modules()]
    original = model_device(model) if any(True for _ in model.parameters()) or any(
        True for _ in model.buffers()) else None
    try:
        if original is not None and original != device:
            model.to(device)
        model.eval()
        yield model
    finally:
        for module, training in modes:
            module.training = training
        if original is not None and original != device:
            model.to(original)


def default_batch_size(device: torch.device, length: int, per_item: int = 1) -> int:
    """A first batch size for inputs of ``length`` bases (halved later on out-of-memory).

    About 256 k input positions per batch on the CPU (what keeps 2 cores busy without
    thrashing caches), 4 M on CUDA; at least 1, at most 4096 items.
    """
    budget = 4_194_304 if device.type == "cuda" else 262_144
    return int(max(1, min(4096, budget // max(1, length * per_item))))


def is_out_of_memory(exc: BaseException) -> bool:
    """True for CUDA/MPS out-of-memory errors and failed CPU allocations."""
    if isinstance(exc, getattr(torch.cuda, "OutOfMemoryError", ())):
        return True
    text = str(exc).lower()
    return isinstance(exc, (RuntimeError, MemoryError)) and (
        "out of memory" in text or "can't allocate memory" in text or isinstance(exc, MemoryError)
    )


def free_memory(device: torch.device) -> None:
    """Release cached allocator blocks after an out-of-memory error."""
    if device.type == "cuda":
        torch.cuda.empty_cache()


def run_in_batches(fn: Callable[[int, int], T], n: int, batch_size: int, device: torch.device,
                   on_batch: Callable[[int], None] | None = None) -> tuple[list[T], int]:
    """Call ``fn(i, j)`` over ``[0, n)`` in chunks, halving the chunk on out-of-memory.

    Parameters
    ----------
    fn : callable
        ``fn(i, j)`` handles items ``i`` to ``j`` (0-based, half-open) and returns a result.
    n : int
        Number of items.
    batch_size : int
        First chunk size; halved (down to 1) and the chunk retried when ``fn`` runs out of
        memory.
    device : torch.device
        Where ``fn`` runs (its allocator cache is emptied after an out-of-memory error).
    on_batch : callable, optional
        Called with the number of items done after each chunk (progress, cancel).

    Returns
    -------
    (results, batch_size)
        The results of every chunk in order, and the chunk size that worked last.

    Raises
    ------
    RuntimeError
        If even one item does not fit in memory.
    """
    results: list[T] = []
    i = 0
    batch_size = max(1, int(batch_size))
    while i < n:
        j = min(n, i + batch_size)
        try:
            results.append(fn(i, j))
        except (RuntimeError, MemoryError) as exc:
            if not is_out_of_memory(exc):
                raise
            free_memory(device)
            if batch_size == 1:
                raise RuntimeError(
                    f"out of memory on {device} even with a batch of 1; use a shorter sequence "
                    f"or another device (device='cpu')"
                ) from exc
            batch_size = max(1, batch_size // 2)
            continue
        i = j
        if on_batch is not None:
            on_batch(i)
    return results, batch_size

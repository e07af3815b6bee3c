"""Batches that fit the device: first batch sizes, and halving on out-of-memory.

Which device a model is on, and keeping the caller's model unchanged, is
:mod:`explorer.attribution.runtime`'s job.
"""

from __future__ import annotations

from typing import Callable, TypeVar

import torch

T = TypeVar("T")


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

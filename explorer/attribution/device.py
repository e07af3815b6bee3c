"""Batches that fit the device: first batch sizes, a measured search, halving on out-of-memory.

:func:`run_in_batches` runs a job in chunks of a fixed size or, given a
:class:`BatchSearch`, of the size that runs fastest per item for this model, input length
and machine, timed on the job's own batches (the search does no extra work). Which
device a model is on, and keeping the caller's model unchanged, is
:mod:`explorer.attribution.runtime`'s job.
"""

from __future__ import annotations

import time
from typing import Callable, TypeVar

import torch

T = TypeVar("T")

#: fraction of the free device memory a searched batch may use (CUDA)
MEMORY_FRACTION = 0.5


def default_batch_size(device: torch.device, length: int, per_item: int = 1) -> int:
    """A first batch size for inputs of ``length`` bases (halved later on out-of-memory).

    About 256 k input positions per batch on the CPU (what keeps 2 cores busy without
    thrashing caches), 4 M on CUDA; at least 1, at most 4096 items.
    """
    budget = 4_194_304 if device.type == "cuda" else 262_144
    return int(max(1, min(4096, budget // max(1, length * per_item))))


def max_batch_size(device: torch.device, length: int) -> int:
    """The largest batch a :class:`BatchSearch` may try for inputs of ``length`` bases.

    About 256 k input positions per batch on the CPU (a recurrent model's activations
    then take some 256 MB; past that, timing on a loaded 2-core machine only got worse),
    16 M on CUDA (where the measured memory per item caps it too, see
    :func:`memory_cap`); at least 1, at most 4096 items.
    """
    budget = 16_777_216 if device.type == "cuda" else 262_144
    return int(max(1, min(4096, budget // max(1, length))))


class BatchSearch:
    """The batch size (and setting) with the least measured time per item.

    The first batch (``first`` items) warms the model up and is not timed. With
    ``variants > 1`` (e.g. two ways to run the same model), they are compared on
    interleaved batches of ``variant_size`` items (0, 1, 0, 1), and the faster kept. Then each
    step compares the best size so far with a trial size on interleaved batches (best,
    trial, best, trial). Every comparison takes the faster of each one's two times, so a
    burst of load on a shared machine does not decide alone. Sizes double from ``first``
    while each doubling is at least ``gain`` faster per item; when the first doubling is
    not, sizes halve from ``first`` while that pays. The search then settles. On a CPU
    the time per item is U-shaped in the batch size: small batches pay every layer's
    per-call overhead, large ones fall out of the caches and fault in fresh pages for
    their activations; where the bottom lies depends on the model and the length.

    Parameters
    ----------
    first : int
        The first size, a guess (e.g. :func:`default_batch_size`).
    high : int
        The largest size to try (e.g. :func:`max_batch_size`); lowered by :meth:`limit`
        and :meth:`out_of_memory`.
    gain : float
        How much faster per item (a fraction) a trial size must be to replace the best.
    variants : int
        Settings to choose among (the caller reads :attr:`variant` for each batch).
    sizes : bool
        False: keep ``first`` items per batch (only the variants are compared).
    variant_size : int, optional
        Items per batch when comparing variants (default ``first``; smaller costs less
        where one variant is much slower).

    Attributes
    ----------
    best : int
        The best size so far.
    best_variant : int
        The chosen variant (0 until they are compared).
    settled : bool
        True once the search has stopped (then :attr:`size` is :attr:`best`).
    timings : list of (int, int, float)
        ``(size, variant, seconds per item)`` of every timed batch, in order.
    """

    def __init__(self, first: int, high: int, gain: float = 0.1, variants: int = 1, sizes: bool = True,
                 variant_size: int | None = None):
        self.high = max(1, int(high))
        self.best = max(1, min(int(first), self.high))
        self.best_variant = 0
        self.gain = float(gain)
        self.settled = False
        self.timings: list[tuple[int, int, float]] = []
        self._first = self.best
        self._variants = max(1, int(variants))
        self._sizes = sizes
        self._up = True
        self._trial = self.best
        self._queue: list[tuple[int, int]] = [(self.best, 0)]
        self._warm = False
        self._choosing = self._variants > 1
        self._variant_size = max(1, min(int(variant_size or self.best), self.best))
        self._step: dict[tuple[int, int], list[float]] = {}

    @property
    def size(self) -> int:
        """The size of the next batch."""
        return self._queue[0][0] if self._queue else self.best

    @property
    def variant(self) -> int:
        """The variant to run the next batch with."""
        return self._queue[0][1] if self._queue else self.best_variant

    def record(self, items: int, seconds: float) -> None:
        """Take the wall time of a batch of ``items`` and choose the next size.

        A batch of another size than :attr:`size` (the last, partial one) is ignored.
        """
        if self.settled or items != self.size:
            return
        key = self._queue.pop(0)
        if self._warm:
            self.timings.append((*key, seconds / items))
            self._step.setdefault(key, []).append(seconds / items)
        self._warm = True
        if not self._queue:
            self._decide()

    def limit(self, high: int) -> None:
        """Never try more than ``high`` items (e.g. from the memory one item takes)."""
        self.high = max(1, min(self.high, int(high)))
        if self.best > self.high or self._trial > self.high:
            self.best = min(self.best, self.high)
            self._settle()

    def out_of_memory(self, items: int) -> None:
        """A batch of ``items`` ran out of memory: settle below it (halving at least)."""
        self.high = max(1, min(self.high, items // 2))
        self.best = min(self.best, self.high)
        self._settle()

    def _decide(self) -> None:
        times = {key: min(values) for key, values in self._step.items()}
        self._step = {}
        if not times and self._choosing:
            self._queue = [(self._variant_size, v) for _ in range(2) for v in range(self._variants)]
        elif not times or self._choosing:
            if self._choosing:
                self.best_variant = min(range(self._variants), key=lambda v: times[(self._variant_size, v)])
                self._choosing = False
            self._try(self.best * 2)
        elif times[(self._trial, self.best_variant)] < times[(self.best, self.best_variant)] * (1.0 - self.gain):
            self.best = self._trial
            self._try(self.best * 2 if self._up else self.best // 2)
        elif self._up and self.best == self._first:
            self._up = False
            self._try(self._first // 2)
        else:
            self._settle()

    def _try(self, trial: int) -> None:
        if not self._sizes or not 1 <= trial <= self.high:
            self._settle()
            return
        self._trial = trial
        v = self.best_variant
        self._queue = [(self.best, v), (trial, v), (self.best, v), (trial, v)]

    def _settle(self) -> None:
        self._queue = []
        self._trial = self.best
        self._choosing = False
        self.settled = True


def memory_cap(device: torch.device, items: int, peak_bytes: int) -> int | None:
    """Most items per batch that fit :data:`MEMORY_FRACTION` of the free device memory.

    Parameters
    ----------
    device : torch.device
    items : int
        The size of a batch that ran.
    peak_bytes : int
        How much that batch raised the device's peak allocated memory.

    Returns
    -------
    int or None
        None where the device does not report its memory (the CPU).
    """
    if device.type != "cuda" or peak_bytes <= 0:
        return None
    free, _ = torch.cuda.mem_get_info(device)
    spare = torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)
    return max(1, int(MEMORY_FRACTION * (free + spare) * items // peak_bytes))


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


def _timed_call(fn: Callable[[int, int], T], i: int, j: int, device: torch.device,
                measure_memory: bool) -> tuple[T, float, int]:
    """``fn(i, j)``, its wall time in seconds, and (CUDA, if asked) how much it raised the peak memory."""
    cuda = device.type == "cuda"
    measure_memory = measure_memory and cuda
    if cuda:
        torch.cuda.synchronize(device)
    if measure_memory:
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
    tic = time.perf_counter()
    out = fn(i, j)
    if cuda:
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - tic
    peak = torch.cuda.max_memory_allocated(device) - before if measure_memory else 0
    return out, seconds, peak


def run_in_batches(fn: Callable[[int, int], T], n: int, batch_size: int, device: torch.device,
                   on_batch: Callable[[int], None] | None = None,
                   search: BatchSearch | None = None) -> tuple[list[T], int]:
    """Call ``fn(i, j)`` over ``[0, n)`` in chunks, halving the chunk on out-of-memory.

    Parameters
    ----------
    fn : callable
        ``fn(i, j)`` handles items ``i`` to ``j`` (0-based, half-open) and returns a result.
    n : int
        Number of items.
    batch_size : int
        Chunk size; halved (down to 1) and the chunk retried when ``fn`` runs out of
        memory. Ignored when ``search`` is given.
    device : torch.device
        Where ``fn`` runs (its allocator cache is emptied after an out-of-memory error).
    on_batch : callable, optional
        Called with the number of items done after each chunk (progress, cancel).
    search : BatchSearch, optional
        Chooses every chunk size from the measured time of the chunks before (and, on
        CUDA, caps it by the memory the first chunk took, see :func:`memory_cap`).

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
        size = search.size if search is not None else batch_size
        j = min(n, i + size)
        try:
            out, seconds, peak = _timed_call(fn, i, j, device, search is not None and i == 0)
        except (RuntimeError, MemoryError) as exc:
            if not is_out_of_memory(exc):
                raise
            free_memory(device)
            if size == 1:
                raise RuntimeError(
                    f"out of memory on {device} even with a batch of 1; use a shorter sequence "
                    f"or another device (device='cpu')"
                ) from exc
            batch_size = max(1, size // 2)
            if search is not None:
                search.out_of_memory(size)
            continue
        results.append(out)
        if search is not None:
            cap = memory_cap(device, j - i, peak) if i == 0 else None
            if cap is not None:
                search.limit(cap)
            search.record(j - i, seconds)
        batch_size, i = size, j
        if on_batch is not None:
            on_batch(i)
    return results, batch_size

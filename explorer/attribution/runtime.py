"""The input layer of plain and fast ISM: input checks, model state, the fast-path rule.

Everything both ISM paths (and :func:`explorer.attribute`) must agree on lives here once:

* **Inputs.** :func:`check_one_hot` (one sequence, ``(4, L)`` or ``(1, 4, L)``),
  :func:`check_window` (0-based, half-open ``[start, end)``), :func:`mutations` (the
  substitutions of a set of positions) and :func:`mutant_batch` / :class:`MutantBuffer`
  (the mutated inputs).
* **Model state.** :func:`model_device` (one rule, :mod:`explorer.io.torchutil`),
  :func:`resolve_device` (a named device, checked) and :func:`running_on` (eval mode on a
  device for a block; every submodule's training flag and the weights' device restored in
  a ``finally``).
* **The fast-path rule.** ``fast="auto" | True | False`` (:func:`run_with_fallback`), the
  self-check tolerance (:data:`TOLERANCE`, :func:`self_check`) and the warning a fallback
  leaves (:func:`fall_back`).
"""

from __future__ import annotations

import contextlib
from typing import Callable, Iterator, NamedTuple, Sequence

import torch
from torch import nn

from explorer.attribution.diagnostics import Diagnostics
from explorer.attribution.progress import Cancelled
from explorer.attribution.result import IsmResult
from explorer.io.torchutil import model_device

__all__ = [
    "model_device", "resolve_device", "running_on",
    "check_one_hot", "check_window", "Mutations", "mutations", "mutant_batch", "MutantBuffer",
    "TOLERANCE", "check_fast", "tolerance", "self_check", "fall_back", "run_with_fallback",
]

#: fast ISM self-check tolerance, relative to max(1, |f(reference)|)
TOLERANCE = 1e-4


# -- model state ---------------------------------------------------------------------------
def resolve_device(model: nn.Module, device: str | torch.device | None = None) -> torch.device:
    """The device to run on: ``device`` if given (checked), else :func:`model_device`.

    Raises
    ------
    ValueError
        ``device`` names CUDA or MPS but none is available, or is not a device name.
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


def _holds_tensors(model: nn.Module) -> bool:
    return any(True for _ in model.parameters()) or any(True for _ in model.buffers())


@contextlib.contextmanager
def running_on(model: nn.Module, device: torch.device | None = None) -> Iterator[nn.Module]:
    """Put ``model`` in eval mode (on ``device``, if given) for the block; restore it after.

    The training flag of every submodule and the device of the weights are restored in a
    ``finally``, also when the block raises (out of memory, cancel, bad input) or, for a
    generator, when it is closed.
    """
    modes = [(m, m.training) for m in model.modules()]
    original = model_device(model) if _holds_tensors(model) else None
    move = device is not None and original is not None and original != device
    try:
        if move:
            model.to(device)
        model.eval()
        yield model
    finally:
        for module, training in modes:
            module.training = training
        if move:
            model.to(original)


# -- inputs --------------------------------------------------------------------------------
def check_one_hot(one_hot) -> torch.Tensor:
    """One sequence's one-hot as float32 ``(4, L)``, or a ValueError that says why.

    Parameters
    ----------
    one_hot : array-like, shape ``(4, L)`` or ``(1, 4, L)``
        Rows A, C, G, T; an all-zero column is an ``N``. ``L > 0``.
    """
    x = torch.as_tensor(one_hot)
    if x.ndim == 3 and x.shape[0] == 1:
        x = x[0]
    if x.ndim != 2 or x.shape[0] != 4:
        hint = " (it looks transposed: use x.T)" if x.ndim == 2 and x.shape[1] == 4 else ""
        raise ValueError(f"one-hot input must have shape (4, L) with rows A, C, G, T; got "
                         f"{tuple(x.shape)}{hint}")
    if x.shape[1] == 0:
        raise ValueError("the sequence is empty (shape (4, 0))")
    x = x.to(torch.float32)
    binary = (x == 0) | (x == 1)
    if not bool(binary.all()):
        column = int(torch.nonzero(~binary.all(0)).flatten()[0])
        values = [round(float(v), 4) for v in x[:, column]]
        raise ValueError(f"one-hot input must hold only 0 and 1; column {column} (0-based) holds {values}. "
                         f"Encode sequences with explorer.one_hot_encode (N is an all-zero column)")
    if bool((x.sum(0) > 1).any()):
        column = int(torch.nonzero(x.sum(0) > 1).flatten()[0])
        raise ValueError(f"one-hot input must have at most one 1 per column; column {column} (0-based) has "
                         f"{int(x[:, column].sum())}")
    return x


def check_window(length: int, start: int | None, end: int | None) -> tuple[int, int]:
    """Resolve ``start``/``end`` (None: the whole sequence) and check ``0 <= start < end <= length``.

    Coordinates are 0-based, half-open indices into the ``length`` bp sequence.
    """
    start = 0 if start is None else int(start)
    end = length if end is None else int(end)
    if start >= end:
        raise ValueError(f"the window [start={start}, end={end}) is empty; need start < end "
                         f"(0-based, half-open indices into the {length} bp sequence); "
                         f"start and end must satisfy 0 <= start < end <= length")
    if start < 0 or end > length:
        raise ValueError(f"start and end must satisfy 0 <= start < end <= length; got start={start}, "
                         f"end={end} for a {length} bp sequence (0-based, half-open)")
    return start, end


class Mutations(NamedTuple):
    """The substitutions of some positions, position-major (all ``(M,)`` long, on the CPU).

    Attributes
    ----------
    positions : torch.Tensor
        0-based position in the whole sequence of each mutant.
    bases : torch.Tensor
        The base written there (0..3 for A, C, G, T).
    columns : torch.Tensor
        Index of the position among the positions asked for (the column of the map).
    """

    positions: torch.Tensor
    bases: torch.Tensor
    columns: torch.Tensor


def mutations(one_hot: torch.Tensor, positions: Sequence[int] | torch.Tensor) -> Mutations:
    """Every substitution at ``positions``: all bases but the reference of a clean column.

    Parameters
    ----------
    one_hot : torch.Tensor, shape ``(4, L)``
    positions : sequence of int
        0-based positions (e.g. ``torch.arange(start, end)`` for a window).

    Returns
    -------
    Mutations
        Position-major: the three (or, at an ``N`` column, four) bases of the first
        position, then the next position's. The map entry of mutant ``k`` is
        ``values[bases[k], columns[k]]``.
    """
    positions = torch.as_tensor(positions, dtype=torch.long).reshape(-1)
    cols = one_hot.detach().cpu()[:, positions]
    identity = (cols == 1) & (cols.sum(0, keepdim=True) == 1)
    columns, bases = torch.nonzero(~identity.T, as_tuple=True)
    return Mutations(positions[columns], bases, columns)


def mutant_batch(one_hot: torch.Tensor, positions: torch.Tensor, bases: torch.Tensor) -> torch.Tensor:
    """``(M, 4, L)``: copies of ``one_hot (4, L)`` with column ``positions[k]`` set to ``bases[k]``.

    ``positions`` and ``bases`` are ``(M,)`` long tensors on ``one_hot``'s device.
    """
    return _substitute(one_hot.unsqueeze(0).repeat(positions.numel(), 1, 1), positions, bases)


def _substitute(batch: torch.Tensor, positions: torch.Tensor, bases: torch.Tensor) -> torch.Tensor:
    """Set column ``positions[k]`` of copy ``k`` (``batch (M, 4, L)``) to base ``bases[k]``, in place."""
    rows = torch.arange(positions.numel(), device=batch.device)
    batch[rows, :, positions] = 0.0
    batch[rows, bases, positions] = 1.0
    return batch


class MutantBuffer:
    """Batches of mutants of one sequence, written into one reused buffer.

    Same values as :func:`mutant_batch`, without its fresh allocation per batch: on a
    CPU, the pages of a new ``(M, 4, L)`` tensor are faulted in by the operating system
    at first write, which took 15 ms for 64 x 4 x 2,000 (against 0.3 ms to rewrite a
    buffer in place) on a loaded 2-core machine. Each batch overwrites the whole buffer,
    so a model that changes its input in place cannot leak into the next batch.

    Parameters
    ----------
    one_hot : torch.Tensor, shape ``(4, L)``
        The reference sequence; the buffer is made on its device, in its dtype.
    """

    def __init__(self, one_hot: torch.Tensor):
        self.one_hot = one_hot
        self._buffer: torch.Tensor | None = None

    def batch(self, positions: torch.Tensor, bases: torch.Tensor) -> torch.Tensor:
        """``(M, 4, L)``: copies of the sequence with column ``positions[k]`` set to ``bases[k]``.

        ``positions`` and ``bases`` are ``(M,)`` long tensors on the sequence's device.
        The result is a view of the buffer, valid until the next call.
        """
        m = positions.numel()
        if self._buffer is None or self._buffer.shape[0] < m:
            self._buffer = torch.empty((m, *self.one_hot.shape), dtype=self.one_hot.dtype,
                                       device=self.one_hot.device)
        batch = self._buffer[:m]
        batch.copy_(self.one_hot.expand_as(batch))
        return _substitute(batch, positions, bases)


# -- the fast-path rule ----------------------------------------------------------------------
def check_fast(fast) -> None:
    """Raise a ValueError unless ``fast`` is True, False or ``"auto"``."""
    if not (fast is True or fast is False or (isinstance(fast, str) and fast == "auto")):
        raise ValueError(f"fast must be True, False or 'auto'; got {fast!r}")


def tolerance(reference_score: float) -> float:
    """The largest accepted ``|fast - plain|``: ``TOLERANCE * max(1, |f(reference)|)``."""
    return TOLERANCE * max(1.0, abs(float(reference_score)))


def self_check(diagnostics: Diagnostics, fast_values: torch.Tensor, exact: torch.Tensor,
               positions: list[int], reference_score: float) -> bool:
    """Compare fast ISM with plain ISM at ``positions``; record it; True when within tolerance.

    Parameters
    ----------
    diagnostics : Diagnostics
        Gets ``fast_ism_max_abs_diff``, ``fast_ism_verified_positions`` (0-based) and
        ``fast_ism_tolerance``.
    fast_values, exact : torch.Tensor, shape ``(4, len(positions))``
        Fast and plain ISM at the checked positions.

    The tolerance is :data:`TOLERANCE` times the largest of 1, ``|f(reference)|`` and
    ``|f(mutant)|`` over the checked mutants (float32 rounding grows with the outputs).
    """
    diff = float((fast_values.double() - exact.double()).abs().max())
    # float32 rounding follows the outputs' size: that of f(mutant) too, when effects dwarf f(reference)
    largest = float((exact.double() + float(reference_score)).abs().max()) if exact.numel() else 0.0
    tol = max(tolerance(reference_score), TOLERANCE * largest)
    diagnostics.fast_ism_max_abs_diff = diff
    diagnostics.fast_ism_verified_positions = list(positions)
    diagnostics.fast_ism_tolerance = tol
    return diff <= tol


def fall_back(diagnostics: Diagnostics, reason: str) -> None:
    """Record that plain ISM replaces the fast path: the flags, and ``reason`` as a warning."""
    diagnostics.warnings.append(f"{reason}; recomputed with plain ISM")
    diagnostics.fast_ism = False
    diagnostics.fast_ism_path = "plain"
    diagnostics.fast_ism_fallback = True


def run_with_fallback(fast, run_fast: Callable[[], tuple], run_plain: Callable[[], IsmResult]) -> IsmResult:
    """Run fast ISM or plain ISM as ``fast`` says; the one rule for every caller.

    Parameters
    ----------
    fast : True, False or "auto"
        False: plain ISM. ``"auto"``: fast ISM, and plain ISM (silently) when the model
        declares no structure or (with a warning) when fast ISM fails. True: fast ISM; a
        model without a structure falls back with a warning, any other failure is raised.
        :class:`~explorer.attribution.progress.Cancelled` is always raised.
    run_fast : callable
        ``() -> (values, reference_score, diagnostics)`` (an :class:`IsmResult` or a tuple
        whose diagnostics is a mapping); fast ISM checks itself against plain ISM.
    run_plain : callable
        ``() -> IsmResult``.

    Returns
    -------
    IsmResult
        ``values`` float32 CPU; ``diagnostics.ism_path`` is ``"fast"`` (unless the fast
        function set another) or ``"plain"``, and ``reference_score`` is set.
    """
    check_fast(fast)
    warnings: list[str] = []
    reason = None
    if fast is not False:
        try:
            values, reference, extra = run_fast()
        except Cancelled:
            raise
        except NotImplementedError as exc:
            reason = str(exc)
            if fast is True:
                warnings.append(f"fast ISM does not apply to this model ({exc}); used plain ISM")
        except Exception as exc:  # noqa: BLE001 - 'auto' must still give the exact answer
            if fast is True:
                raise
            warnings.append(f"fast ISM failed ({type(exc).__name__}: {exc}); used plain ISM")
        else:
            diagnostics = Diagnostics.from_dict(extra)
            diagnostics.ism_path = diagnostics.ism_path or "fast"
            diagnostics.reference_score = float(reference)
            return IsmResult(torch.as_tensor(values, dtype=torch.float32).cpu(), float(reference), diagnostics)
    result = run_plain()
    result.diagnostics.warnings[:0] = warnings
    result.diagnostics.ism_path = "plain"
    if reason is not None:
        result.diagnostics.fast_ism_reason = reason
    return result

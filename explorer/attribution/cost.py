"""What an ISM run will cost before it starts, and a refusal past a limit the user can raise.

ISM runs the model once per substitution: ``3 x window`` full forward passes (fewer at N
bases). For a long-context model (an Enformer's 196,608 bp input) each pass takes seconds
on a CPU, so a window of a few hundred bases is hours. :func:`ism_cost` says how many passes
and, timed on one pass, about how long; :func:`check_ism_cost` refuses a window past the
limit (the ``max_mutants`` option of :func:`explorer.attribute`, else the card's
``ism_max_mutants``, else no limit) with what to do.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
from torch import nn

from explorer.attribution.runtime import model_device, running_on

__all__ = ["IsmCost", "ism_cost", "check_ism_cost", "ism_limit"]


@dataclass(frozen=True)
class IsmCost:
    """The cost of ISM over a window.

    Attributes
    ----------
    n_mutants : int
        Forward passes of the model (3 per base of the window).
    input_length : int
        Bases per pass.
    seconds_per_pass : float or None
        One timed pass (batch of 1) on the model's device, if timed.
    limit : int or None
        The most mutants allowed (None: no limit).
    """

    n_mutants: int
    input_length: int
    seconds_per_pass: float | None = None
    limit: int | None = None

    @property
    def seconds(self) -> float | None:
        """About how long the run takes (batching makes it somewhat faster)."""
        return None if self.seconds_per_pass is None else self.n_mutants * self.seconds_per_pass

    @property
    def allowed(self) -> bool:
        return self.limit is None or self.n_mutants <= self.limit

    def describe(self) -> str:
        """In words: passes, time, and the limit."""
        text = f"ISM runs the model {self.n_mutants:,} times on {self.input_length:,} bp"
        if self.seconds is not None:
            text += f", about {_duration(self.seconds)} here ({self.seconds_per_pass:.2g} s per run)"
        if self.limit is not None:
            text += (f"; within the limit of {self.limit:,} runs" if self.allowed else
                     f"; over the limit of {self.limit:,} runs ({self.limit // 3:,} bp): choose a sub-window of at "
                     f"most {self.limit // 3:,} bp, or raise the limit (max_mutants={self.n_mutants})")
        return text


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def ism_limit(model: nn.Module, max_mutants: int | None = None) -> int | None:
    """``max_mutants`` if given, else the card's ``ism_max_mutants``, else None (no limit)."""
    if max_mutants is not None:
        if int(max_mutants) < 1:
            raise ValueError(f"max_mutants must be a positive number of model runs; got {max_mutants}")
        return int(max_mutants)
    found = (getattr(model, "card", None) or {}).get("ism_max_mutants")
    return int(found) if found else None


def ism_cost(model: nn.Module, start: int, end: int, *, length: int | None = None, max_mutants: int | None = None,
             time_one: bool = True) -> IsmCost:
    """The cost of ISM over ``[start, end)`` (0-based, half-open), before running it.

    Parameters
    ----------
    model : nn.Module
    start, end : int
        The window to mutate.
    length : int, optional
        The model's input length (default: its ``input_length``, else ``end``).
    max_mutants : int, optional
        The limit (see :func:`ism_limit`).
    time_one : bool
        Time one forward pass on a random sequence (seconds for a long-context model).
    """
    if not 0 <= int(start) < int(end):
        raise ValueError(f"the window must satisfy 0 <= start < end; got start={start}, end={end}")
    length = int(length or getattr(model, "input_length", None) or end)
    seconds = None
    if time_one:
        device = model_device(model)
        x = torch.nn.functional.one_hot(torch.randint(0, 4, (1, length)), 4).transpose(1, 2).float().to(device)
        with running_on(model), torch.inference_mode():
            tic = time.perf_counter()
            model(x)
            seconds = time.perf_counter() - tic
    return IsmCost(3 * (int(end) - int(start)), length, seconds, ism_limit(model, max_mutants))


def check_ism_cost(model: nn.Module, start: int, end: int, length: int, max_mutants: int | None = None) -> None:
    """Refuse ISM over ``[start, end)`` past the limit (no timing).

    Raises
    ------
    ValueError
        With the number of runs, the limit, the largest window within it and how to raise it.
    """
    cost = ism_cost(model, start, end, length=length, max_mutants=max_mutants, time_one=False)
    if not cost.allowed:
        raise ValueError(f"ISM of a {end - start:,} bp window refused: {cost.describe()}")

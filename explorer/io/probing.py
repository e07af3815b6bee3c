"""Finding out what a model takes and returns, from the model alone.

A user's model often comes with no card: nothing says whether it takes any length or
exactly one (75, 249, 2,114 bp are common), or what its outputs are. :func:`inspect_model`
runs the model on all-zero one-hot inputs ``(1, 4, L)`` and learns

* the input lengths: a free length with its minimum (binary search below a length that
  works), or the one fixed length (found among common lengths, lengths named in the
  model's own error messages, and the length that solves a flatten + linear shape
  mismatch from two probes), within a bounded number of probes and seconds;
* the outputs: a tensor, a tuple or a dict of heads, each with its shape, named
  ``output k`` (tuples, by position) or by its dict key.

What it found is returned as :class:`ModelFacts` and said in words by
:meth:`ModelFacts.describe`.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import torch
from torch import nn

from explorer.io.torchutil import ChannelsLast

__all__ = ["ModelFacts", "inspect_model", "describe_heads", "model_error_text", "NoLengthFits"]

#: lengths tried first (a free-length model answers the first), then common fixed lengths
ANCHOR_LENGTHS = (1000, 2114, 500, 200)
COMMON_LENGTHS = (75, 100, 110, 145, 150, 164, 196, 200, 230, 249, 250, 256, 300, 400, 500, 512,
                  600, 1000, 1024, 1344, 1500, 2000, 2048, 2114, 3000, 4096)


class NoLengthFits(ValueError):
    """The model failed on every input length tried; the message lists them and its error."""


@dataclass
class ModelFacts:
    """What a model takes and returns, as found by running it.

    Attributes
    ----------
    min_length : int
        Shortest accepted input, in bases.
    input_length : int or None
        The one accepted length, or None when any length >= ``min_length`` works.
    heads : list of dict
        One per output head: ``name`` (``""`` for a single tensor, ``"output k"`` for
        tuple element ``k``, the key for a dict), ``shape`` (list, on a probe of
        ``probe_length`` bases), ``per_position`` (bool: a profile ``(N, T, L_out)``).
    output_type : str
        ``"tensor"``, ``"tuple"`` or ``"dict"``.
    probe_length : int
        The length the heads' shapes were taken at.
    probes : list of (int, bool)
        Every length tried and whether the model took it.
    seconds : float
        Time spent probing.
    """

    min_length: int
    input_length: int | None
    heads: list[dict]
    output_type: str
    probe_length: int
    probes: list[tuple[int, bool]] = field(default_factory=list)
    seconds: float = 0.0
    layout: str = "NCL"

    def describe(self) -> str:
        """One sentence in words: lengths, then outputs (their shapes at ``probe_length``)."""
        if self.input_length is not None:
            lengths = f"takes inputs of exactly {self.input_length:,} bp"
        else:
            lengths = f"takes any length from {self.min_length:,} bp"
        parts = []
        for h in self.heads:
            n = h["shape"][1]
            what = (f"a profile of {h['shape'][2]:,} position{'s' if h['shape'][2] > 1 else ''} for each of "
                    f"{n} channel{'s' if n > 1 else ''}" if h["per_position"]
                    else f"{n} score{'s' if n > 1 else ''}")
            parts.append(f"{h['name']}: {what}" if h["name"] else what)
        outputs = ("returns " + parts[0]) if self.output_type == "tensor" else (
            f"returns a {self.output_type} of {len(parts)} heads ({'; '.join(parts)})")
        if self.layout == "NLC":
            lengths += " as one-hot (N, L, 4), channels last (transposed from the explorer's (N, 4, L))"
        return (f"The model {lengths} and {outputs}, found by running it {len(self.probes)} "
                f"time{'s' if len(self.probes) > 1 else ''} in {self.seconds:.1f} s.")

    def to_card(self) -> dict:
        """Card entries for what was found (``min_length``, ``input_length``, ``heads``)."""
        card: dict[str, Any] = {"min_length": self.min_length, "input_length": self.input_length}
        if self.layout != "NCL":
            card["input_layout"] = self.layout
        if self.output_type != "tensor":
            card["heads"] = [h["name"] for h in self.heads]
        return card


def model_error_text(exc: BaseException) -> str:
    """The model's own message from an exception, TorchScript's wrapping removed.

    TorchScript reports ``The following operation failed in the TorchScript interpreter``
    and a traceback before the message that matters (e.g. ``RuntimeError: mat1 and mat2
    shapes cannot be multiplied (1x3968 and 1984x10)``): that last ``...Error: ...`` line is
    returned, with the exception type when it is plain Python.
    """
    text = str(exc).strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for line in reversed(lines):
        if re.match(r"^[A-Za-z_.]*(Error|Exception)\b:", line):
            return line
    if not lines:
        return type(exc).__name__
    last = lines[-1]
    return last if len(lines) > 1 else f"{type(exc).__name__}: {last}"


def describe_heads(y: Any) -> tuple[str, list[dict]]:
    """``(output_type, heads)`` of one model output (see :attr:`ModelFacts.heads`).

    Raises
    ------
    ValueError
        A head that is not a tensor of shape ``(N, T)`` or ``(N, T, L_out)``, named with what
        it is.
    """
    if isinstance(y, torch.Tensor):
        kind, items = "tensor", [("", y)]
    elif isinstance(y, (tuple, list)):
        kind, items = "tuple", [(f"output {k}", v) for k, v in enumerate(y)]
    elif isinstance(y, dict):
        kind, items = "dict", [(str(k), v) for k, v in y.items()]
    else:
        raise ValueError(f"the model returned a {type(y).__name__}; expected a tensor, a tuple or a dict "
                         f"of tensors")
    if not items:
        raise ValueError(f"the model returned an empty {kind}")
    heads = []
    for name, v in items:
        where = f"its head {name!r}" if name else "its output"
        if not isinstance(v, torch.Tensor):
            raise ValueError(f"the model returned a {kind} in which {where} is a {type(v).__name__}, not a "
                             f"tensor; every head must be a tensor (N, n_tasks) or (N, n_tasks, L_out)")
        if v.ndim not in (2, 3) or v.shape[0] != 1:
            raise ValueError(f"{where} has shape {tuple(v.shape)} for one input; expected (1, n_tasks) or "
                             f"(1, n_tasks, L_out)")
        heads.append({"name": name, "shape": [int(s) for s in v.shape], "per_position": v.ndim == 3})
    return kind, heads


def _runner(net: nn.Module, device: torch.device) -> Callable[[int], tuple[Any, BaseException | None]]:
    def run(length: int):
        try:
            with torch.no_grad():
                return net(torch.zeros(1, 4, length, device=device)), None
        except Exception as exc:  # noqa: BLE001 - any failure means "not this length"
            return None, exc
    return run


_MATMUL = re.compile(r"mat1 and mat2 shapes cannot be multiplied \((\d+)x(\d+) and (\d+)x(\d+)\)")


def _solve_linear(errors: dict[int, str]) -> list[int]:
    """Lengths that make a flatten + linear layer fit, from two probes' shape mismatches.

    ``mat1`` has ``C * L_trunk`` columns, linear in the input length; ``mat2`` has the
    ``in_features`` the layer wants. Two probes give the slope; the length is solved and
    its neighbours returned (pooling rounds).
    """
    points = []
    for length, text in errors.items():
        m = _MATMUL.search(text)
        if m:
            points.append((length, int(m.group(2)), int(m.group(3))))
    if len(points) < 2:
        return []
    (l1, a1, want), (l2, a2, _) = points[0], points[1]
    if a2 == a1 or l2 == l1:
        return []
    guess = l1 + (want - a1) * (l2 - l1) / (a2 - a1)
    if not 1 <= guess <= 10_000_000:
        return []
    base = int(round(guess))
    return [base + d for d in (0, 1, -1, 2, -2, 3, -3, 4, -4) if base + d >= 1]


def _named_lengths(errors: dict[int, str]) -> list[int]:
    """Integers the model's error messages mention (e.g. "expected 249"), plausible as lengths."""
    out: list[int] = []
    for text in errors.values():
        for value in re.findall(r"(?<![\d.x])(\d{2,7})(?![\d.x])", text):
            n = int(value)
            if 8 <= n <= 1_000_000 and n not in errors and n not in out:
                out.append(n)
    return out


def find_lengths(net: nn.Module, device: torch.device, *, hint: int | None = None, max_probes: int = 48,
                 max_seconds: float = 30.0) -> tuple[int, int | None, Any, int, list[tuple[int, bool]]]:
    """``(min_length, input_length, output, probe_length, probes)`` of a model, by probing.

    Parameters
    ----------
    net : nn.Module
        In eval mode on ``device``.
    hint : int, optional
        A length to try first (e.g. the card's ``min_length``).
    max_probes, max_seconds : int, float
        Bounds on the search (a big model's probes are slow).

    Raises
    ------
    NoLengthFits
        No length worked; the message lists the lengths tried and the model's own error.
    """
    run = _runner(net, device)
    probes: list[tuple[int, bool]] = []
    errors: dict[int, str] = {}
    tic = time.perf_counter()

    def ok(length: int):
        y, exc = run(length)
        probes.append((length, exc is None))
        if exc is not None:
            errors[length] = model_error_text(exc)
        return y

    def within_budget() -> bool:
        return len(probes) < max_probes and time.perf_counter() - tic < max_seconds

    anchor, output = None, None
    for length in ([hint] if hint else []) + [v for v in ANCHOR_LENGTHS if v != hint]:
        output = ok(length)
        if output is not None:
            anchor = length
            break
    if anchor is None:
        tried = set(errors)
        queue = _solve_linear(errors) + _named_lengths(errors) + list(COMMON_LENGTHS)
        while queue and within_budget():
            length = queue.pop(0)
            if length in tried:
                continue
            tried.add(length)
            output = ok(length)
            if output is not None:
                anchor = length
                break
            if len(errors) == 2 or _MATMUL.search(errors[length]):  # new evidence: solve again
                queue = [v for v in _solve_linear(errors) + _named_lengths(errors) if v not in tried] + queue
        if anchor is None:
            first = next(iter(errors))
            lengths = ", ".join(f"{v:,}" for v in sorted(errors))
            raise NoLengthFits(
                f"the model failed on every input length tried ({lengths} bp). Its own error at "
                f"{first:,} bp: {errors[first]}. If it takes one fixed length, give that length "
                f"(input length); check it takes one-hot DNA (N, 4, L) in ACGT order.")
    # free length only if lengths well apart work too: pooling before a flatten rounds a few
    # neighbouring lengths to the same size, which a single +1 probe would take for freedom
    if ok(anchor + 1) is None or ok(anchor + 101) is None:
        # one fixed length; a length found by solving or from an error message may be one of a
        # few that pooling rounds together: take the shortest (a common length is kept as is)
        keep = anchor in COMMON_LENGTHS + ANCHOR_LENGTHS
        while not keep and anchor > 1 and within_budget():
            shorter = ok(anchor - 1)
            if shorter is None:
                break
            anchor, output = anchor - 1, shorter
        return anchor, anchor, output, anchor, probes
    lo, hi = 1, anchor  # free length: the shortest that works (probes are monotone in L)
    while lo < hi and within_budget():
        mid = (lo + hi) // 2
        if ok(mid) is not None:
            hi = mid
        else:
            lo = mid + 1
    return hi, None, output, anchor, probes


def inspect_model(net: nn.Module, device: torch.device | str = "cpu", *, input_length: int | None = None,
                  min_length: int | None = None, layout: str | None = None, **bounds) -> ModelFacts:
    """Run ``net`` on all-zero inputs and report its input lengths and output heads.

    Parameters
    ----------
    net : nn.Module
        Takes one-hot ``(N, 4, L)``; in eval mode on ``device``.
    input_length : int, optional
        The fixed length, when known (checked with one run instead of searched).
    min_length : int, optional
        A free-length model's known minimum (checked, not searched).
    layout : {"NCL", "NLC"}, optional
        How the model takes one-hot: ``(N, 4, L)`` (``"NCL"``) or ``(N, L, 4)`` (``"NLC"``).
        Default: found; ``(N, 4, L)`` first, ``(N, L, 4)`` when no length fits that way (or
        only a length of 4, which a channels-last model takes by accident).
    **bounds
        ``max_probes``, ``max_seconds`` of :func:`find_lengths`.

    Raises
    ------
    NoLengthFits
        No length works (or the given one fails: the model's own error is quoted).
    ValueError
        The output is not a tensor, tuple or dict of ``(N, T)`` / ``(N, T, L_out)`` tensors.
    """
    device = torch.device(device)
    if layout is None:
        try:
            facts = inspect_model(net, device, input_length=input_length, min_length=min_length, layout="NCL",
                                  **bounds)
        except NoLengthFits as first_error:
            try:
                return inspect_model(net, device, input_length=input_length, min_length=min_length, layout="NLC",
                                     **bounds)
            except (NoLengthFits, ValueError):
                raise NoLengthFits(f"{first_error} (one-hot as (N, L, 4), channels last, was tried too)") from None
        if facts.input_length == 4 and not input_length:
            try:  # a channels-last model sees (1, 4, 4) as 4 bases of 4 channels
                return inspect_model(net, device, layout="NLC", **bounds)
            except (NoLengthFits, ValueError):
                pass
        return facts
    if layout not in ("NCL", "NLC"):
        raise ValueError(f"input layout must be 'NCL' (N, 4, L) or 'NLC' (N, L, 4); got {layout!r}")
    if layout == "NLC":
        net = ChannelsLast(net)
    tic = time.perf_counter()
    if input_length or min_length:
        given = int(input_length or min_length)
        y, exc = _runner(net, device)(given)
        if exc is not None:
            what = "input length" if input_length else "minimum length"
            raise NoLengthFits(f"the model fails on the given {what} of {given:,} bp: {model_error_text(exc)}")
        probes = [(given, True)]
        found_min, found_fixed, probe = given, (int(input_length) if input_length else None), given
        _kind, first_heads = describe_heads(y)
        shortest = min((h["shape"][2] for h in first_heads if h["per_position"]), default=None)
        if not input_length and shortest is not None and shortest < 1000:
            # describe profiles at the length that gives 1,000 output positions (BPNet: 2,114 in)
            length = given + 1000 - shortest
            longer, exc = _runner(net, device)(length)
            probes.append((length, exc is None))
            if exc is None:
                y, probe = longer, length
    else:
        found_min, found_fixed, y, probe, probes = find_lengths(net, device, **bounds)
    kind, heads = describe_heads(y)
    return ModelFacts(min_length=int(found_min), input_length=found_fixed, heads=heads, output_type=kind,
                      probe_length=int(probe), probes=probes, seconds=time.perf_counter() - tic, layout=layout)

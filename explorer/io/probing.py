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
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import torch
from torch import nn

from explorer.io.torchutil import ChannelsLast

__all__ = ["ModelFacts", "inspect_model", "describe_heads", "model_error_text", "model_error_hint", "NoLengthFits",
           "ModelRunError", "explained_model_errors", "batch_dependence"]

#: lengths tried first (a free-length model answers the first), then common fixed lengths
ANCHOR_LENGTHS = (1000, 2114, 500, 200)
COMMON_LENGTHS = (75, 100, 110, 145, 150, 164, 196, 200, 230, 249, 250, 256, 300, 400, 500, 512,
                  600, 1000, 1024, 1344, 1500, 2000, 2048, 2114, 3000, 4096)


class NoLengthFits(ValueError):
    """The model failed on every input length tried; the message lists them and its error."""


class ModelRunError(RuntimeError):
    """The model itself failed on an input; the message holds the model's own error text.

    Raised (by :func:`explained_model_errors`) in place of TorchScript's interpreter error,
    whose first line ("The following operation failed in the TorchScript interpreter.")
    says nothing of the cause; the original exception is kept as ``__cause__``.
    """


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
    warnings: list[str] = field(default_factory=list)

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
        found = (f"The model {lengths} and {outputs}, found by running it {len(self.probes)} "
                 f"time{'s' if len(self.probes) > 1 else ''} in {self.seconds:.1f} s.")
        return " ".join([found] + [f"Warning: {w}" for w in self.warnings])

    def to_card(self) -> dict:
        """Card entries for what was found (``min_length``, ``input_length``, ``heads``)."""
        card: dict[str, Any] = {"min_length": self.min_length, "input_length": self.input_length}
        if self.layout != "NCL":
            card["input_layout"] = self.layout
        if self.output_type != "tensor":
            card["heads"] = [h["name"] for h in self.heads]
        return card


#: the longest model error text quoted (PyTorch's dispatcher errors run to thousands of characters)
MAX_ERROR_TEXT = 400


def model_error_text(exc: BaseException) -> str:
    """The model's own message from an exception, TorchScript's wrapping removed.

    TorchScript reports ``The following operation failed in the TorchScript interpreter``
    and a traceback before the message that matters (e.g. ``RuntimeError: mat1 and mat2
    shapes cannot be multiplied (1x3968 and 1984x10)``): that last ``...Error: ...`` line is
    returned, with the exception type when it is plain Python (``builtins.`` dropped), and
    cut after :data:`MAX_ERROR_TEXT` characters.
    """
    text = str(exc).strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    found = next((line for line in reversed(lines) if re.match(r"^[A-Za-z_.]*(Error|Exception)\b:", line)), None)
    if found is not None:
        line = found.removeprefix("builtins.")
    elif not lines:
        return type(exc).__name__
    else:
        line = lines[-1] if len(lines) > 1 else f"{type(exc).__name__}: {lines[-1]}"
    return line if len(line) <= MAX_ERROR_TEXT else line[:MAX_ERROR_TEXT].rstrip() + " [...]"


#: words in a model's error that say it holds tensors or operations fixed to a CUDA GPU
_CUDA_WORDS = ("'cuda' backend", "not linked with support for cuda", "not compiled with cuda",
               "found no nvidia driver", "no cuda gpus are available", "cuda driver")


def model_error_hint(text: str) -> str:
    """What to do about a model error whose cause is known, in a sentence (or ``""``).

    Known: a model that holds tensors or operations fixed to a CUDA GPU (a TorchScript
    export traced on a GPU), run on a machine without one.
    """
    low = text.lower()
    if any(words in low for words in _CUDA_WORDS):
        return ("The model holds tensors or operations fixed to a CUDA GPU (it was exported on a GPU), and it "
                "runs here without one: export it again from the CPU (model.cpu(), then torch.jit.script or "
                "torch.jit.trace and torch.jit.save), or run it on a machine with a CUDA GPU.")
    return ""


def _is_interpreter_error(exc: BaseException) -> bool:
    """Whether ``exc`` is TorchScript's report of an error raised inside a scripted model."""
    return "failed in the TorchScript interpreter" in str(exc)


@contextmanager
def explained_model_errors(doing: str) -> Iterator[None]:
    """Put TorchScript's errors from inside a model in words that keep the model's own message.

    Parameters
    ----------
    doing : str
        What was being done, for the message ("computing the ISM map").

    Raises
    ------
    ModelRunError
        In place of a TorchScript interpreter error: the model's own error line (e.g.
        ``ValueError: N bases are not allowed`` or a shape mismatch) and, when the cause is
        known, what to do (:func:`model_error_hint`). Other exceptions pass unchanged.
    """
    try:
        yield
    except Exception as exc:
        if not _is_interpreter_error(exc):
            raise
        text = model_error_text(exc)
        hint = model_error_hint(text)
        raise ModelRunError(f"the model failed while {doing}. Its own error: {text}"
                            + (f" {hint}" if hint else "")) from exc


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
            hint = model_error_hint(errors[first])
            raise NoLengthFits(
                f"the model failed on every input length tried ({lengths} bp). Its own error at "
                f"{first:,} bp: {errors[first]}. "
                + (hint or "If it takes one fixed length, give that length (input length); check it takes "
                           "one-hot DNA (N, 4, L) in ACGT order."))
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
            text = model_error_text(exc)
            hint = model_error_hint(text)
            raise NoLengthFits(f"the model fails on the given {what} of {given:,} bp: {text}"
                               + (f". {hint}" if hint else ""))
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


def _rows(y: Any) -> torch.Tensor:
    """A model output (tensor, tuple or dict of heads) as one float64 row per sequence, ``(N, K)``."""
    heads = list(y.values()) if isinstance(y, dict) else list(y) if isinstance(y, (tuple, list)) else [y]
    return torch.cat([h.detach().double().reshape(h.shape[0], -1).cpu() for h in heads], dim=1)


def random_one_hot(n: int, length: int, seed: int = 0) -> torch.Tensor:
    """``n`` seeded random DNA sequences as one-hot ``(n, 4, length)`` float32."""
    generator = torch.Generator().manual_seed(seed)
    codes = torch.randint(0, 4, (n, length), generator=generator)
    return torch.nn.functional.one_hot(codes, 4).permute(0, 2, 1).float()


def batch_dependence(net: nn.Module, device: torch.device | str, length: int, *, n: int = 4,
                     rtol: float = 1e-3) -> str | None:
    """Words when a model's output for one sequence depends on its batch, or changes run to run.

    Every method computes many inputs per forward pass, and a map is right only if each
    input's output is its own: a model that normalises across the batch (BatchNorm left in
    training mode, a hand-written normalisation over dimension 0) gives maps that change
    with the batch size. The check runs ``n`` seeded random sequences of ``length`` bases:
    the first alone, twice (a difference: dropout or another random layer is on), then with
    the others in one batch (a difference: the batch is mixed). The tolerance follows the
    outputs' magnitude: ``rtol * max|output| + 1e-6``.

    Parameters
    ----------
    net : nn.Module
        Takes one-hot ``(N, 4, L)``, on ``device``, in eval mode.
    length : int
        An input length the model takes.
    n : int
        Sequences in the batch.
    rtol : float
        Tolerance relative to the largest output.

    Returns
    -------
    str or None
        What was found, and what to do; None when the outputs agree.
    """
    x = random_one_hot(n, length).to(device)
    try:
        with torch.no_grad():
            alone, again = _rows(net(x[:1])), _rows(net(x[:1]))
    except Exception:  # noqa: BLE001 - a model that fails here failed its probes too, said there
        return None
    scale = float(alone.abs().max())
    tol = rtol * scale + 1e-6
    if float((alone - again).abs().max()) > tol:
        return (f"the model's output for the same sequence changes from run to run (by up to "
                f"{float((alone - again).abs().max()):.3g}, outputs up to {scale:.3g}): a random layer such as "
                f"dropout is on, so every map differs from run to run. Put the model in eval mode "
                f"(model.eval()) before saving it.")
    try:
        with torch.no_grad():
            together = _rows(net(x))
    except Exception as exc:  # noqa: BLE001 - the model's own error is the point
        return (f"the model fails on a batch of {n} sequences ({model_error_text(exc)}), though it takes them one "
                f"at a time; the explorer runs models on batches, so attributions will fail. Make the model "
                f"accept a batch dimension (N, 4, L).")
    gap = float((together[:1] - alone).abs().max())
    scale = max(scale, float(together.abs().max()))
    if gap > rtol * scale + 1e-6:
        return (f"the model's output for a sequence changes when other sequences are in the same batch (by up "
                f"to {gap:.3g}, outputs up to {scale:.3g}): it mixes the sequences of a batch (BatchNorm in "
                f"training mode, or a normalisation across the batch), so attribution maps will change with "
                f"the batch size. Put the model in eval mode (model.eval()) before saving it, or remove the "
                f"normalisation across the batch.")
    return None

"""Exact ISM at interactive speed for local models (receptive-field-local mutagenesis).

Most sequence models are a *trunk* whose output at position ``i`` depends only on the
input within ``radius`` bases of ``i`` (stacked 'same'-padded convolutions), followed by a
*head* that pools over positions (max, sum, mean) or crops a centre (profile heads). A
single-base substitution at ``p`` then changes the trunk output only on
``[p - radius, p + radius]``, so each mutant needs:

1. the trunk over only the positions it can change. For a trunk of convolution stages
   (see :mod:`explorer.attribution.structure`) each stage ``s`` is recomputed over
   ``[p - R_s, p + R_s]`` (``R_s`` the radius up to stage ``s``) from the cached reference
   activations around it: the fastISM scheme of Nair et al. (2022), here vectorised over
   mutants with one ``conv1d`` call per stage and batch. A black-box trunk is run on the
   real input slice ``[p - 2r, p + 2r]`` (clamped to the sequence, so its own zero padding
   is the model's at the true ends) and only the exact interior ``[p - r, p + r]`` is kept.
   Positions beyond the sequence ends are zeroed between stages: that *is* the next
   layer's zero padding, so the edges are exact.
2. the head rebuilt from the cached reference trunk output: max pooling as
   ``max(prefix max before the span, max over the mutant's span, suffix max after it)``,
   sum/mean pooling as ``total - reference span + mutant span`` (float64 running sums),
   cropped profile heads by writing the changed output positions into the reference
   profile.

The structure comes from a declaration (the model card or a class adapter, see
:mod:`explorer.attribution.structure`: this module's :class:`FastISM`) or, for a model
that declares nothing, from its captured graph
(:class:`explorer.attribution.graph_ism.GraphISM`); :func:`fast_engine` picks.

Nothing is approximated: the numbers equal plain ISM up to float32 rounding (about 1e-6).
Every call also checks itself: ``verify`` positions (the window's first and last, the
rest drawn at random with ``seed``) are recomputed by running the full model, and the
rebuilt reference output is compared with the model's own output. A difference above
``1e-4 * max(1, |f(reference)|)`` (a wrong structure declaration, e.g. a receptive field
declared too small) makes :func:`fast_ism` recompute everything with plain exact ISM and
say so in ``diagnostics.warnings``. Input checks, the model's state and that rule come
from :mod:`explorer.attribution.runtime`.

Conventions are those of :mod:`explorer.attribution.ism`: values ``(4, end - start)`` hold
``f(mutant) - f(reference)``, 0 at the reference base; at ``N`` (all-zero) columns all four
bases are substitutions. Coordinates are 0-based, half-open.

The computation runs on the model's device (CUDA included: the same code, no CPU copies
except the returned values).
"""

from __future__ import annotations

import math
from typing import Any, Callable, Iterator, MutableMapping

import torch

from explorer.attribution.diagnostics import Diagnostics
from explorer.attribution.engine import MutantEngine, reproduction_error
from explorer.attribution.ism import ism
from explorer.attribution.progress import Cancelled, ProgressCallback, report  # noqa: F401 (re-export)
from explorer.attribution.result import IsmResult
from explorer.attribution.runtime import (
    TOLERANCE,
    check_one_hot,
    check_window,
    fall_back,
    model_device,
    mutant_batch,
    mutations,
    running_on,
    self_check,
    tolerance,
)
from explorer.attribution.structure import (
    NoDeclaration,
    CropHead,
    PooledHead,
    Structure,
    StructureError,
    StructureMismatch,
    resolve_structure,
)
from explorer.attribution.targets import Target

# mutants per batch: keep the largest activation buffer near this many float32 values
_CPU_BUDGET = 16_000_000
_CUDA_BUDGET = 256_000_000

__all__ = ["fast_ism", "progressive_ism", "plain_ism_positions", "FastISM", "Cancelled", "TOLERANCE"]


def _outputs_list(y: Any) -> list[torch.Tensor]:
    return list(y) if isinstance(y, (tuple, list)) else [y]


# -- heads: the reference state of one declared head, and its output for mutants -------------
class _Head:
    """One declared head bound to the reference trunk output of one sequence.

    ``reference()`` is the head's output on the reference, ``(1, ...)``; ``mutant(span, pos)``
    its output for ``M`` mutants whose trunk output on ``[p - R, p + R]`` is ``span``
    ``(M, C, 2R + 1)`` (0-based positions ``pos (M,)``), ``(M, ...)``.
    """

    def reference(self) -> torch.Tensor:
        raise NotImplementedError

    def mutant(self, span: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def buffer_values(self, channels: int) -> int:
        """Float32 values of this head's largest per-mutant buffer (sets the batch size)."""
        return 0


class _Pooled(_Head):
    """``final(pool(h[:, :, t0:t1]))``: the span replaces the reference on ``[p - R, p + R]``."""

    #: value that leaves the pooled result unchanged, for span positions outside [t0, t1)
    fill = 0.0

    def __init__(self, engine: "FastISM", head: PooledHead, h: torch.Tensor):
        L = engine.length
        self.head, self.radius = head, engine.radius
        self.t0, self.t1 = head.trim, L - head.trim
        if self.t0 >= self.t1:
            raise StructureError(f"a pooling head trims {head.trim} bp from each end of a {L} bp input: nothing is left")
        self.setup(h[0, :, self.t0:self.t1])  # (C, n)

    def setup(self, ref: torch.Tensor) -> None:
        raise NotImplementedError

    def pool(self, span: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor) -> torch.Tensor:
        """``(M, C)`` pooled values: the reference outside ``[lo, hi)`` (offsets from t0), the span in it."""
        raise NotImplementedError

    def reference(self) -> torch.Tensor:
        return self.head.apply_final(self.pooled[None])

    def mutant(self, span: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        R, t0, t1 = self.radius, self.t0, self.t1
        lo = (pos - R).clamp(t0, t1) - t0
        hi = (pos + R + 1).clamp(t0, t1) - t0
        if int(pos.min()) - R < t0 or int(pos.max()) + R >= t1:  # span crosses the pooled range's ends
            q = pos[:, None] - R + torch.arange(2 * R + 1, device=pos.device)[None]
            inside = ((q >= t0) & (q < t1))[:, None, :]
            span = torch.where(inside, span, torch.full((), self.fill, dtype=span.dtype, device=span.device))
        return self.head.apply_final(self.pool(span, lo, hi))


class _MaxPool(_Pooled):
    """Max pooling: ``max(prefix max before the span, span max, suffix max after it)``."""

    fill = -math.inf

    def setup(self, ref: torch.Tensor) -> None:
        neg = torch.full((ref.shape[0], 1), -math.inf, dtype=ref.dtype, device=ref.device)
        prefix = torch.cummax(ref, dim=1).values          # max over [t0, t0 + i]
        suffix = torch.cummax(ref.flip(1), dim=1).values.flip(1)  # max over [t0 + i, t1)
        self.prefix = torch.cat([neg, prefix], 1)    # [i - t0]: max over [t0, i)
        self.suffix = torch.cat([suffix, neg], 1)    # [i - t0]: max over [i, t1)
        self.pooled = ref.amax(1)

    def pool(self, span, lo, hi):
        return torch.maximum(torch.maximum(self.prefix.index_select(1, lo).T, self.suffix.index_select(1, hi).T),
                             span.amax(2))


class _SumPool(_Pooled):
    """Sum pooling: ``total - reference span + mutant span`` in float64."""

    #: divide by the number of pooled positions (mean pooling)
    mean = False

    def setup(self, ref: torch.Tensor) -> None:
        cs = torch.cumsum(ref.double(), dim=1)
        self.cumsum = torch.cat([torch.zeros_like(cs[:, :1]), cs], 1)  # [i - t0]: sum [t0, i)
        self.total = cs[:, -1]
        self.pooled = (self.total / (self.t1 - self.t0) if self.mean else self.total).to(ref.dtype)

    def pool(self, span, lo, hi):
        cs = self.cumsum
        pooled = self.total[None] - (cs.index_select(1, hi) - cs.index_select(1, lo)).T + span.sum(2, dtype=torch.float64)
        if self.mean:
            pooled = pooled / (self.t1 - self.t0)
        return pooled.to(span.dtype)


class _MeanPool(_SumPool):
    """Mean pooling: sum pooling divided by the number of pooled positions."""

    mean = True


class _Crop(_Head):
    """A convolutional profile head, cropped: the changed output positions are written
    into the reference profile."""

    def __init__(self, engine: "FastISM", head: CropHead, h: torch.Tensor):
        L = engine.length
        if 2 * head.trim >= L:
            raise StructureError(f"a crop head trims {head.trim} bp from each end of a {L} bp input: nothing is left")
        self.engine, self.head = engine, head
        self.inputs, y = [], h
        for stage in head.stages:
            self.inputs.append(engine._padded(y))
            y = stage.full(y)
        self.ref = y[0]  # (T, L)
        self.span = engine.radius + head.radius

    def reference(self) -> torch.Tensor:
        return self.ref[None, :, self.head.trim:self.engine.length - self.head.trim]

    def mutant(self, span: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        L, M, trim = self.engine.length, pos.shape[0], self.head.trim
        prof, rq = self.engine._run_stages(self.head.stages, self.inputs, span, pos, self.engine.radius)
        out = torch.nn.functional.pad(self.ref, (rq, rq)).unsqueeze(0).repeat(M, 1, 1)
        idx = (pos[:, None] + torch.arange(2 * rq + 1, device=pos.device)[None])
        out.scatter_(2, idx[:, None, :].expand(M, self.ref.shape[0], 2 * rq + 1), prof)
        return out[:, :, rq + trim:rq + L - trim]

    def buffer_values(self, channels: int) -> int:
        R, L = self.engine.radius, self.engine.length
        t = int(self.ref.shape[0])
        return channels * (2 * R + 1 + 4 * self.head.radius) + 2 * t * (L + 2 * self.span)


#: declared head kind -> its class
_HEADS: dict[str, type[_Head]] = {"max": _MaxPool, "sum": _SumPool, "mean": _MeanPool, "crop": _Crop}


class FastISM(MutantEngine):
    """Reference caches of one (model, sequence, target), ready to score mutants fast.

    Parameters
    ----------
    model : nn.Module
        An :class:`~explorer.io.models.ExplorerModel` or a module with a structure
        declaration (card or adapter); in eval mode on its device (the caller's job).
    one_hot : torch.Tensor, shape ``(4, L)``
    target : callable
        Model output -> ``(N,)`` tensor.

    Raises
    ------
    StructureError (a NotImplementedError)
        The model declares no usable structure, or its rebuilt reference output differs
        from the model's own output (the declaration does not describe the model).
    """

    def __init__(self, model: Any, one_hot: torch.Tensor, target: Callable, *, structure: Structure | None = None):
        self.model = model
        self.target = target
        self.device = model_device(model)
        self.x = check_one_hot(one_hot).to(self.device)
        self.length = L = int(self.x.shape[1])
        self.structure = s = structure or resolve_structure(model)
        self.path = "stages" if s.stages is not None else "window"
        self.receptive_field = s.receptive_field
        self.warnings: list[str] = list(s.warnings)
        self.radius = R = s.radius
        head_r = max(h.radius for h in s.heads)
        # zero padding wide enough for every gather (stage input reaches 2 R + 2 head radius)
        self.pad = P = 2 * (R + head_r) + 2
        xb = self.x.unsqueeze(0)
        self.inside_pad = self._padded(torch.ones(1, 1, L, device=self.device))
        with torch.no_grad():
            self.model_output = model(xb)
            self.reference_score = float(target(self.model_output).reshape(-1)[0])
            # reference activations: input to every stage, padded by P zeros each side
            if s.stages is not None:
                acts, h = [], xb
                for stage in s.stages:
                    acts.append(h)
                    h = stage.full(h)
                self.stage_inputs = [self._padded(a) for a in acts]
            else:
                h = s.trunk(xb)
                self.x_pad = self._padded(xb)
                self.window = min(L, 4 * R + 1)
            if h.ndim != 3 or h.shape[-1] != L:
                raise StructureError(
                    f"the declared trunk returned shape {tuple(h.shape)} for a (1, 4, {L}) input; "
                    f"a trunk must keep the length ('same' padding)")
            self.heads = [_HEADS[head.kind](self, head, h) for head in s.heads]
            self.active = _heads_read(target, s)
            self.rebuilt_reference = self._assemble([head.reference() for head in self.heads])
            diff, tol = reproduction_error(self.rebuilt_reference, self.model_output)
            if not diff <= tol:
                raise StructureMismatch(
                    f"the structure declaration does not describe the model: the output rebuilt "
                    f"from it differs from the model's own output by {diff:.3g} "
                    f"(tolerance {tol:.3g}); fix the model card's 'structure'")
            self.rebuilt_score = target(self.rebuilt_reference).reshape(-1)[0].double()
        # the largest per-mutant activation buffers (float32 values) set the default batch size
        per_mutant = self._per_mutant_values(int(h.shape[1]))
        budget = _CUDA_BUDGET if self.device.type == "cuda" else _CPU_BUDGET
        self.default_batch_size = int(max(16, min(4096, budget // max(1, per_mutant))))

    def _per_mutant_values(self, channels: int) -> int:
        s, R = self.structure, self.radius
        sizes = [channels * (6 * R + 3)]
        if s.stages is not None:
            r = 0
            for stage in s.stages:
                c_in, c_out = int(stage.conv.weight.shape[1]) * int(stage.conv.groups), int(stage.conv.weight.shape[0])
                sizes.append(c_in * (2 * r + 1 + 4 * stage.radius) + 2 * c_out * (2 * r + 1 + 2 * stage.radius))
                r += stage.radius
        else:
            sizes.append(channels * 2 * self.window)
        sizes.extend(head.buffer_values(channels) for head in self.heads)
        return max(sizes)

    # -- caches ----------------------------------------------------------------------
    def _padded(self, a: torch.Tensor) -> torch.Tensor:
        """``(1, C, L)`` -> ``(C, L + 2 P)`` with P zeros each side."""
        return torch.nn.functional.pad(a[0], (self.pad, self.pad))

    def _assemble(self, outs: list[torch.Tensor]) -> Any:
        """Head outputs -> the model's output format (one tensor or a tuple)."""
        return tuple(outs) if self.structure.tuple_output else outs[0]

    def _mutant_outputs(self, span: torch.Tensor, pos: torch.Tensor) -> Any:
        """The model output of every mutant; heads the target does not read stay the reference."""
        M = pos.shape[0]
        outs = []
        for i in range(len(self.structure.heads)):
            if i in self.active:
                outs.append(self.heads[i].mutant(span, pos))
            else:
                ref = _outputs_list(self.rebuilt_reference)[i]
                outs.append(ref.expand(M, *ref.shape[1:]))
        return self._assemble(outs)

    # -- mutants ---------------------------------------------------------------------
    def _gather(self, padded: torch.Tensor, first: torch.Tensor, width: int,
                groups: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
        """``padded (C, L + 2P)``; ``first (M,)`` 0-based sequence positions -> ``(M, C, width)``.

        Mutants share positions (3 or 4 per position), so the distinct windows are copied
        once and then expanded: about memcpy speed, no Python loop. ``groups`` is
        ``torch.unique(first, return_inverse=True)`` when the caller already has it.
        """
        windows = padded.unfold(1, width, 1)  # (C, L + 2P - width + 1, width), a view
        uniq, inverse = groups if groups is not None else torch.unique(first, return_inverse=True)
        distinct = windows[:, uniq + self.pad].permute(1, 0, 2)  # (U, C, width)
        return distinct[inverse]  # (M, C, width), contiguous

    def _inside(self, pos: torch.Tensor, r: int) -> torch.Tensor | None:
        """``(M, 1, 2r + 1)`` float mask of span positions inside ``[0, L)``; None if all are."""
        if int(pos.min()) - r >= 0 and int(pos.max()) + r < self.length:
            return None
        return self._gather(self.inside_pad, pos - r, 2 * r + 1, (self._uniq - r, self._inverse))

    def _run_stages(self, stages: list, inputs: list[torch.Tensor], span: torch.Tensor,
                    pos: torch.Tensor, r_in: int) -> tuple[torch.Tensor, int]:
        """Push a mutant span ``[p - r_in, p + r_in]`` through ``stages``; zero outside [0, L)."""
        L = self.length
        for stage, padded in zip(stages, inputs):
            rho = stage.radius
            width = 2 * r_in + 1 + 4 * rho
            groups = (self._uniq - r_in - 2 * rho, self._inverse)
            buf = self._gather(padded, pos - r_in - 2 * rho, width, groups)
            buf[:, :, 2 * rho:2 * rho + 2 * r_in + 1] = span
            span = stage.valid(buf)
            r_in += rho
            mask = self._inside(pos, r_in)
            if mask is not None:
                span = span * mask
        return span, r_in

    def _trunk_span(self, pos: torch.Tensor, bases: torch.Tensor) -> torch.Tensor:
        """Trunk output of each mutant on ``[p - R, p + R]``: ``(M, C, 2R + 1)``, 0 outside [0, L)."""
        M, R, L = pos.shape[0], self.radius, self.length
        col = torch.zeros(M, 4, 1, device=self.device)
        col[torch.arange(M, device=self.device), bases, 0] = 1.0
        if self.structure.stages is not None:
            span, r = self._run_stages(self.structure.stages, self.stage_inputs, col, pos, 0)
            return span
        # black-box trunk on a real slice of the input, clamped at the sequence ends
        W = self.window
        first = torch.clamp(pos - 2 * R, min=0, max=L - W)
        xs = self._gather(self.x_pad, first, W)
        xs[torch.arange(M, device=self.device), :, pos - first] = col[:, :, 0]
        out = self.structure.trunk(xs)  # (M, C, W)
        rel = (pos - R - first)[:, None] + torch.arange(2 * R + 1, device=self.device)[None]
        q = pos[:, None] - R + torch.arange(2 * R + 1, device=self.device)[None]
        inside = (q >= 0) & (q < L)
        idx = rel.clamp(0, W - 1)[:, None, :].expand(M, out.shape[1], 2 * R + 1)
        span = torch.gather(out, 2, idx)
        return torch.where(inside[:, None, :], span, torch.zeros((), dtype=span.dtype, device=span.device))

    def scores(self, pos: torch.Tensor, bases: torch.Tensor) -> torch.Tensor:
        """``f(mutant) - f(reference)`` for mutants (``pos``, ``bases``: ``(M,)`` long) -> ``(M,)`` float64 CPU."""
        pos, bases = pos.to(self.device), bases.to(self.device)
        # the mutants' distinct positions, shared by every gather of this batch
        self._uniq, self._inverse = torch.unique(pos, return_inverse=True)
        with torch.no_grad():
            span = self._trunk_span(pos, bases)
            y = self.target(self._mutant_outputs(span, pos)).reshape(-1).double()
            return (y - self.rebuilt_score).cpu()


def fast_engine(model: Any, one_hot: torch.Tensor, target: Callable, *, structure: str = "auto") -> MutantEngine:
    """The fast-ISM engine for a model: its declared structure, else its graph.

    Parameters
    ----------
    structure : {"auto", "declared", "graph"}
        ``"auto"``: the declaration (model card or class adapter) when there is one, else
        the structure read from the captured graph
        (:class:`~explorer.attribution.graph_ism.GraphISM`); ``"declared"`` or ``"graph"``:
        only that one.

    Raises
    ------
    StructureMismatch
        The engine's rebuilt reference output differs from the model's own.
    StructureError (a NotImplementedError)
        Neither way applies; the message says why (for the graph: the operation it could
        not localise).
    """
    from explorer.attribution.graph_ism import GraphISM

    if structure not in ("auto", "declared", "graph"):
        raise ValueError(f"structure must be 'auto', 'declared' or 'graph'; got {structure!r}")
    if structure == "auto" and _card_prefers_graph(model):
        try:  # the card says the graph path is the faster one (bpnet-lite BPNets without controls)
            return GraphISM(model, one_hot, target)
        except StructureError:
            pass  # the declared structure next, as for any carded model
    declared_reason = None
    if structure != "graph":
        try:
            return FastISM(model, one_hot, target)
        except StructureMismatch:
            raise
        except StructureError as exc:
            if structure == "declared":
                raise
            declared_reason = None if isinstance(exc, NoDeclaration) else str(exc)
    try:
        return GraphISM(model, one_hot, target)
    except StructureMismatch:
        raise
    except StructureError as exc:
        reason = f"fast ISM cannot read this model's structure from its graph: {exc}"
        if declared_reason:
            reason = f"{declared_reason}; and {reason}"
        raise type(exc)(reason) from None


def _card_prefers_graph(model: Any) -> bool:
    """True when the model card sets ``"prefer": "graph"``: fast ISM from the captured graph
    first, the declared structure if the graph cannot be read (``structure="auto"`` only)."""
    net = getattr(model, "net", model)
    card = getattr(model, "card", None) or getattr(net, "card", None) or {}
    return isinstance(card, dict) and card.get("prefer") == "graph"


def _heads_read(target: Callable, structure: Structure) -> list[int]:
    """Indices of the heads whose output ``target`` reads (all, unless it is a known Target).

    The engine's :class:`~explorer.attribution.targets.Target` reads one element of a tuple
    output (``target.output``, default 0), so the other heads need not be rebuilt (e.g.
    BPNet's profile head for a counts target). Verification would catch a target that
    reads more than it says.
    """
    everything = list(range(len(structure.heads)))
    if not structure.tuple_output:
        return everything
    if isinstance(target, Target):
        k = 0 if target.output is None else int(target.output)
        if 0 <= k < len(structure.heads):
            return [k]
    return everything


def plain_ism_positions(model: Any, one_hot: torch.Tensor, target: Callable, positions: Any,
                        *, batch_size: int = 64, reference_score: float | None = None) -> tuple[torch.Tensor, float]:
    """Exact ISM by running the full model, for a few positions (the verification).

    Parameters
    ----------
    positions : sequence of int
        0-based positions in the sequence.
    reference_score : float, optional
        ``f(reference)`` when already known (saves one forward pass).

    Returns
    -------
    (values, reference_score)
        ``values (4, len(positions))`` float32 CPU, ``f(mutant) - f(reference)``, 0 at the
        reference base; all four bases are substitutions at N columns.
    """
    device = model_device(model)
    x = check_one_hot(one_hot).to(device)
    pos, bases, cols = mutations(x, positions)
    out = torch.zeros(4, len(torch.as_tensor(positions).reshape(-1)), dtype=torch.float32)
    with torch.no_grad():
        ref = (float(target(model(x.unsqueeze(0))).reshape(-1)[0]) if reference_score is None
               else float(reference_score))
        for i in range(0, int(pos.numel()), batch_size):
            batch = mutant_batch(x, pos[i:i + batch_size].to(device), bases[i:i + batch_size].to(device))
            y = target(model(batch)).reshape(-1).double().cpu() - ref
            out[bases[i:i + batch_size], cols[i:i + batch_size]] = y.float()
    return out, ref


def _verify_positions(start: int, end: int, n: int, seed: int) -> list[int]:
    """``n`` positions of ``[start, end)``: first, last, the rest drawn with ``seed`` (sorted)."""
    width = end - start
    if n <= 0:
        return []
    if n >= width:
        return list(range(start, end))
    chosen = {start, end - 1} if n >= 2 else {start}
    gen = torch.Generator().manual_seed(int(seed))
    for p in torch.randperm(width, generator=gen).tolist():
        if len(chosen) >= n:
            break
        chosen.add(start + p)
    return sorted(chosen)


def _check(engine: FastISM, values: torch.Tensor, start: int, end: int, verify: int, seed: int,
           diagnostics: Diagnostics) -> bool:
    """Self-check ``values`` (fast ISM of ``[start, end)``) against plain ISM at ``verify`` positions.

    Records the check in ``diagnostics``; on a failure also the fallback and its warning.
    Returns True when the values may be kept (also when ``verify`` is 0).
    """
    positions = _verify_positions(start, end, int(verify), seed)
    if not positions:
        return True
    exact, _ = plain_ism_positions(engine.model, engine.x, engine.target, positions,
                                   reference_score=engine.reference_score)
    if self_check(diagnostics, values[:, torch.as_tensor(positions) - start], exact, positions,
                  engine.reference_score):
        return True
    fall_back(diagnostics,
              f"fast ISM differed from plain ISM by {diagnostics.fast_ism_max_abs_diff:.3g} (tolerance "
              f"{diagnostics.fast_ism_tolerance:.3g}) at {len(positions)} checked positions: the model's "
              f"structure (e.g. its receptive field, {engine.receptive_field} bp, {engine.path}) "
              f"does not fit the model")
    return False


def _fast_diagnostics(engine: FastISM) -> Diagnostics:
    """What the fast path reports before any check: its path, receptive field, warnings."""
    return Diagnostics(fast_ism=True, fast_ism_path=engine.path,
                       receptive_field=engine.receptive_field, fast_ism_fallback=False,
                       reference_score=engine.reference_score,
                       fast_ism_tolerance=tolerance(engine.reference_score), warnings=list(engine.warnings))


def _plain(model: Any, x: torch.Tensor, target: Callable, start: int, end: int, progress: ProgressCallback,
           diagnostics: Diagnostics) -> IsmResult:
    """Plain exact ISM (its own batch size: fast ISM's batches of short windows would not fit
    as full-length mutants), reported in ``diagnostics``."""
    res = ism(model, x, target, start, end, progress=progress)
    diagnostics.reference_score = res.reference_score
    return IsmResult(res.values, res.reference_score, diagnostics)


def fast_ism(model: Any, one_hot: torch.Tensor, target: Callable, start: int = 0, end: int | None = None,
             *, progress: ProgressCallback = None, verify: int = 8, batch_size: int | None = None,
             seed: int = 0, structure: str = "auto") -> IsmResult:
    """Exact ISM of ``one_hot[:, start:end]``, recomputing only what each mutation changes.

    Parameters
    ----------
    model : nn.Module
        An :class:`~explorer.io.models.ExplorerModel` whose card declares ``structure``, or a
        module with a structure adapter (see :mod:`explorer.attribution.structure`). Runs on
        its device; put in eval mode for the call and restored after.
    one_hot : torch.Tensor, shape ``(4, L)`` (or ``(1, 4, L)``)
        The whole sequence the model sees (N = all-zero column).
    target : callable
        Model output (tensor or tuple) -> ``(N,)`` tensor: what is explained.
    start, end : int
        0-based, half-open window of positions to mutate (default: all).
    progress : callable, optional
        ``progress(fraction)``; returning False raises :class:`Cancelled`.
    verify : int
        Positions recomputed with the full model to check the fast path (first and last
        of the window, the rest at random with ``seed``); 0 skips the check.
    batch_size : int, optional
        Mutants per batch (default: from the activation sizes and the device).
    seed : int
        Seed of the verification sample.
    structure : {"auto", "declared", "graph"}
        Where the fast path's structure comes from (:func:`fast_engine`): the model's
        declaration, else its captured graph.

    Returns
    -------
    IsmResult
        ``(values, reference_score, diagnostics)``: ``values`` ``float32``
        ``(4, end - start)`` on the CPU, ``f(mutant) - f(reference)``; ``reference_score``
        from the full model; :class:`~explorer.attribution.diagnostics.Diagnostics` with
        ``fast_ism`` (True when the fast values were kept), ``fast_ism_path``
        (``"stages"`` or ``"window"`` from a declared structure, ``"graph"`` from the
        captured graph, ``"plain"`` after a fallback), ``receptive_field``,
        ``fast_ism_max_abs_diff`` and ``fast_ism_verified_positions`` (0-based),
        ``fast_ism_tolerance``, ``fast_ism_fallback`` (True when plain ISM replaced it),
        ``batch_size``, ``n_mutants``, ``warnings``.

    Raises
    ------
    NotImplementedError
        Neither a declared structure nor the model's graph gives a fast path (use plain
        ISM); the message says why.
    Cancelled
        ``progress`` returned False.
    """
    x = check_one_hot(one_hot)
    start, end = check_window(x.shape[1], start, end)
    with running_on(model):
        try:
            engine = fast_engine(model, x, target, structure=structure)
        except StructureMismatch as exc:
            diagnostics = Diagnostics(fast_ism_verified_positions=[])
            fall_back(diagnostics, str(exc))
            return _plain(model, x.to(model_device(model)), target, start, end, progress, diagnostics)
        diagnostics = _fast_diagnostics(engine)
        values = engine.values(start, end, batch_size=batch_size, progress=progress)
        diagnostics.batch_size = int(engine.last_batch_size)
        diagnostics.n_mutants = int(mutations(x, torch.arange(start, end)).positions.numel())
        diagnostics.fast_ism_verified_positions = []
        if not _check(engine, values, start, end, verify, seed, diagnostics):
            return _plain(model, engine.x, target, start, end, progress, diagnostics)
    return IsmResult(values, engine.reference_score, diagnostics)


def _chunks_outward(view_start: int, view_end: int, start: int, end: int, chunk: int) -> Iterator[tuple[int, int]]:
    """``[view_start, view_end)`` first, then chunks of ``[start, end)`` alternating right, left."""
    yield view_start, view_end
    right, left = view_end, view_start
    while right < end or left > start:
        if right < end:
            yield right, min(end, right + chunk)
            right = min(end, right + chunk)
        if left > start:
            yield max(start, left - chunk), left
            left = max(start, left - chunk)


def progressive_ism(model: Any, one_hot: torch.Tensor, target: Callable, view_start: int, view_end: int,
                    *, chunk: int = 200, start: int = 0, end: int | None = None,
                    progress: ProgressCallback = None, verify: int = 8, batch_size: int | None = None,
                    seed: int = 0, diagnostics: Diagnostics | MutableMapping | None = None,
                    structure: str = "auto") -> Iterator[tuple[int, int, torch.Tensor]]:
    """ISM of ``[start, end)``, the visible window first, then chunks outward (for the app).

    Yields ``(chunk_start, chunk_end, values)`` with ``values`` ``(4, chunk_end - chunk_start)``
    float32 CPU (0-based, half-open coordinates in the sequence). The first chunk is the
    view ``[view_start, view_end)`` clipped to ``[start, end)``; then chunks of ``chunk``
    bases alternate right and left of it until ``[start, end)`` is covered. The fast path
    is verified on the view (``verify`` positions); when it does not check out (or the
    model declares no structure) every chunk is computed with plain exact ISM.

    Parameters
    ----------
    progress : callable, optional
        ``progress(fraction of [start, end) done)``; False stops: :class:`Cancelled`.
        Closing the generator (``gen.close()``) also stops it between chunks.
    diagnostics : Diagnostics or dict, optional
        Filled with the same fields as :func:`fast_ism`'s diagnostics (and
        ``reference_score``); a dict gets them by name before each chunk is yielded.

    The model stays in eval mode while the generator is alive; its mode is restored when
    the generator is exhausted, closed or garbage-collected.
    """
    x = check_one_hot(one_hot)
    start, end = check_window(x.shape[1], start, end)
    vs, ve = max(start, int(view_start)), min(end, int(view_end))
    if vs >= ve:
        raise ValueError(f"the view [{view_start}, {view_end}) does not overlap the window [{start}, {end})")
    if chunk < 1:
        raise ValueError(f"chunk must be >= 1 base; got {chunk}")
    diag = diagnostics if isinstance(diagnostics, Diagnostics) else Diagnostics()

    def publish() -> None:
        if diagnostics is not None and diagnostics is not diag:
            diagnostics.update(diag.to_dict())

    total, done = end - start, 0
    with running_on(model):
        engine = None
        try:
            engine = fast_engine(model, x, target, structure=structure)
            diag.update(_fast_diagnostics(engine))
        except StructureMismatch as exc:
            fall_back(diag, str(exc))
        except NotImplementedError as exc:
            diag.fast_ism_reason = str(exc)
            diag.fast_ism, diag.fast_ism_path, diag.fast_ism_fallback = False, "plain", False
        for a, b in _chunks_outward(vs, ve, start, end, chunk):
            report(progress, done / total)
            if engine is not None:
                vals = engine.values(a, b, batch_size=batch_size)
                if a == vs and b == ve and not _check(engine, vals, a, b, verify, seed, diag):
                    engine = None
            if engine is None:
                vals = _plain(model, x.to(model_device(model)), target, a, b, None, diag).values
            done += b - a
            publish()
            yield a, b, vals
        report(progress, 1.0)
        publish()

"""Receptive-field-local ISM for models that declare nothing: the structure read from the graph.

:mod:`explorer.attribution.graph` captures the model as an aten-level graph. This module
walks that graph once on the reference sequence, sorting every value into one of four
kinds:

``local``
    Depends on the input position by position: a tensor with one *length* axis whose
    entries each see a bounded stretch of the input. Made by the input, convolutions
    (any kernel, dilation, stride, padding), max/avg pooling along the length, crops and
    constant pads along it, and per-position operations (pointwise ops of the ``pointwise``
    tag, eval-mode batch norm, ``linear`` / ``layer_norm`` / ``softmax`` / ``cat`` over
    channels, transposes, dropout in eval mode, residual adds of two local values).
``pooled``
    A reduction over the length axis (``mean``, ``sum``, ``amax``, ``max``, adaptive
    pooling to 1).
``batch``
    Anything computed from pooled values (``linear``, ``cat`` of a mean and a max, ...):
    re-run as it is on the mutants' pooled values.
``const``
    Weights and what is computed from weights alone.

For a substitution at input position ``p`` each local value changes only on an interval
of its own positions, propagated through the graph (``[ceil((lo + pad - k_eff + 1) / s),
floor((hi + pad) / s)]`` through an operation of kernel extent ``k_eff``, stride ``s``
and left padding ``pad``). Mutants are then scored by recomputing every local value on a
window of fixed width that holds its changed interval, from the windows of its inputs
laid over the cached reference (outside the sequence: the operation's own padding value,
0 for convolutions, ``-inf`` for max pooling), rebuilding pooled values from prefix and
suffix maxima or float64 running sums of the reference, and running the rest of the
graph on the pooled values. Local outputs (profiles) are the reference with the changed
window written in. Nothing is approximated.

An operation that fits none of the kinds (attention, a recurrent layer, a flatten of the
whole length, a per-position tensor gated by a pooled one) raises :class:`GraphError`
naming it, and the caller uses plain ISM. The caller (:func:`explorer.attribution.fast_ism.fast_ism`)
also checks the rebuilt reference output against the model's own and recomputes sampled
positions with the full model: a graph read wrongly never gives a wrong map.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass, field
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch.utils import _pytree as pytree

from explorer.attribution.engine import MutantEngine, reproduction_error
from explorer.attribution.graph import CapturedGraph, GraphError, capture
from explorer.attribution.runtime import check_one_hot, model_device
from explorer.attribution.structure import StructureMismatch

aten = torch.ops.aten

#: float32 values the largest per-batch buffers may hold (sets the default batch size)
_CPU_BUDGET = 16_000_000
_CUDA_BUDGET = 256_000_000
_EMPTY = 1 << 40  # "no position changed" in interval arithmetic

#: operations that act on each position alone whatever their arguments (beyond the checks below)
_SAME_POSITIONS = {
    aten.clone.default, aten.contiguous.default, aten.alias.default, aten.detach.default,
    aten._to_copy.default, aten.to.dtype, aten.to.dtype_layout, aten.lift_fresh_copy.default,
}
_POOLS = {aten.mean.dim: "mean", aten.sum.dim_IntList: "sum", aten.amax.default: "max",
          aten.max.dim: "max", aten.adaptive_avg_pool1d.default: "mean",
          aten.adaptive_max_pool1d.default: "max"}
_SIZES = {aten.sym_size.int, aten.sym_numel.default, aten.sym_stride.int, aten.size.int, aten.dim.default}
_RESHAPES = {aten.view.default, aten.reshape.default, aten._unsafe_view.default, aten.expand.default}


#: convolutions with at most this many output channels run as one matrix product and shifted sums
_FEW_OUTPUTS = 4


def _few_output_conv(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, dilation: int) -> torch.Tensor:
    """``F.conv1d(x, weight, bias, dilation=dilation)`` (stride 1, no padding, one group)
    for a weight with few output channels (a profile head: ``(O, C, k)`` with ``O`` of 1-2).

    ``x`` ``(M, C, W_in)`` -> ``(M, O, W_in - dilation * (k - 1))``. One matrix product gives
    every tap's channel mix at every position ``(M, O, k, W_in)``; the output adds tap
    ``j`` shifted by ``j * dilation``. Several times faster on the CPU than a convolution
    with one or two output channels and a wide kernel (BPNet's ``fconv``: 75 taps).
    """
    M, C, n_in = x.shape
    O, _, k = weight.shape
    W = n_in - dilation * (k - 1)
    z = torch.matmul(weight.permute(0, 2, 1).reshape(O * k, C), x).view(M, O, k, n_in)
    out = z[:, :, 0, 0:W].clone()
    for j in range(1, k):
        out += z[:, :, j, j * dilation:j * dilation + W]
    if bias is not None:
        out += bias.view(1, O, 1)
    return out


def _op_name(op: Any) -> str:
    return str(getattr(op, "__name__", None) or op).replace("aten::", "")


@dataclass
class Node:
    """One value of the graph, as the fast path sees it.

    ``kind`` is ``"const"``, ``"local"``, ``"pooled"``, ``"batch"`` or ``"tuple"``.
    ``ref``: the value on the reference (batch 1). For local values: ``ldim`` (the length
    axis), ``n`` (its size), ``lo``/``hi`` ``(L,)`` long (changed interval for a mutation
    at each input position; ``lo > hi`` when nothing changes), ``width`` and ``start``
    ``(L,)`` (the window recomputed), ``rf`` and ``jump`` (receptive field and spacing in
    input bases), and how it is computed (``rule``, ``op``, ``args``, ``kwargs``).
    """

    name: str
    kind: str
    ref: Any = None
    op: Any = None
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    rule: str = ""
    ldim: int = -1
    n: int = 0
    lo: torch.Tensor | None = None
    hi: torch.Tensor | None = None
    width: int = 0
    start: torch.Tensor | None = None
    rf: int = 1
    jump: int = 1
    params: dict = field(default_factory=dict)
    inputs: list = field(default_factory=list)

    def __repr__(self) -> str:  # short: the reference tensors are large
        return f"Node({self.name!r}, {self.kind!r}, rule={self.rule!r}, n={self.n}, width={self.width})"


_FIRST_OUTPUT: dict = {}


def _first_output(op: Any) -> Callable:
    """``op`` returning only the first of its outputs (one wrapper per op, so it compares equal)."""
    if op not in _FIRST_OUTPUT:
        def first(*args, **kwargs):
            return op(*args, **kwargs)[0]

        first.__name__ = _op_name(op)
        _FIRST_OUTPUT[op] = first
    return _FIRST_OUTPUT[op]


def _nodes_in(value: Any) -> list[Node]:
    out: list[Node] = []
    pytree.tree_map(lambda v: out.append(v) if isinstance(v, Node) else None, (value,))
    return out


def _norm_dim(d: int, ndim: int) -> int:
    return d + ndim if d < 0 else d


class LocalGraph:
    """The graph of one captured model, classified on one reference sequence.

    Parameters
    ----------
    captured : CapturedGraph
    x : torch.Tensor, shape ``(4, L)``
        The reference one-hot, on the model's device.

    Raises
    ------
    GraphError
        An operation fast ISM cannot localise (named in the message).
    """

    def __init__(self, captured: CapturedGraph, x: torch.Tensor):
        self.captured = captured
        self.length = L = int(x.shape[1])
        self.device = x.device
        self.positions = torch.arange(L, device=x.device)
        program = captured.program
        self.order: list[Node] = []
        self.demand: dict[str, tuple[int, int]] = {}  # set by restrict(): positions [a, b] read of each value
        values = self._placeholders(program, x)
        env: dict[Any, Any] = {}
        for fx_node in program.graph.nodes:
            if fx_node.op == "placeholder":
                env[fx_node] = values[fx_node.name]
            elif fx_node.op == "call_function":
                args = pytree.tree_map(lambda a: env[a] if isinstance(a, torch.fx.Node) else a, fx_node.args)
                kwargs = pytree.tree_map(lambda a: env[a] if isinstance(a, torch.fx.Node) else a, fx_node.kwargs)
                env[fx_node] = self._classify(fx_node.name, fx_node.target, args, kwargs)
            elif fx_node.op == "output":
                self.outputs = [env[a] if isinstance(a, torch.fx.Node) else a for a in
                                pytree.tree_leaves(fx_node.args[0])]
                unread = [o for o in self.outputs if isinstance(o, Node) and o.kind == "unread"]
                if unread:
                    raise GraphError(f"the model returns what {unread[0].params['why']}")
            else:
                raise GraphError(f"the graph holds a {fx_node.op!r} node, which fast ISM does not read")
        self.out_spec = program.call_spec.out_spec

    # -- set-up ----------------------------------------------------------------------
    def _placeholders(self, program: Any, x: torch.Tensor) -> dict[str, Any]:
        from torch.export.graph_signature import InputKind

        state = dict(self.captured.net.state_dict(keep_vars=True))
        values: dict[str, Any] = {}
        users = 0
        for spec in program.graph_signature.input_specs:
            name = spec.arg.name
            if spec.kind == InputKind.USER_INPUT:
                users += 1
                ref = x.T.unsqueeze(0) if self.captured.channels_last else x.unsqueeze(0)
                node = Node(name, "local", ref=ref, rule="input", ldim=1 if self.captured.channels_last else 2,
                            n=self.length, lo=self.positions.clone(), hi=self.positions.clone())
                node.width, node.start = 1, self.positions.clone()
                self._add(node)
                values[name] = node
            elif spec.kind in (InputKind.PARAMETER, InputKind.BUFFER):
                tensor = state.get(spec.target)
                if tensor is None:
                    tensor = program.state_dict.get(spec.target, program.constants.get(spec.target))
                values[name] = Node(name, "const", ref=tensor.detach().to(self.device))
            elif spec.kind == InputKind.CONSTANT_TENSOR:
                values[name] = Node(name, "const", ref=program.constants[spec.target].to(self.device))
            else:
                raise GraphError(f"the graph takes a {spec.kind.name.lower()} input, which fast ISM does not read")
        if users != 1:
            raise GraphError(f"the model takes {users} inputs; fast ISM reads models of one one-hot input")
        return values

    def _add(self, node: Node) -> Node:
        self.order.append(node)
        return node

    # -- classification --------------------------------------------------------------
    def _classify(self, name: str, op: Any, args: tuple, kwargs: dict) -> Any:
        if op is operator.getitem:
            return self._getitem(name, args)
        inputs = _nodes_in((args, kwargs))
        kinds = {n.kind for n in inputs}
        if op in _SIZES:
            return self._run(op, args, kwargs)  # shapes are fixed in the graph: a plain number
        if "unread" in kinds:
            raise GraphError(f"{_op_name(op)} reads what {[n for n in inputs if n.kind == 'unread'][0].params['why']}")
        if op is aten._native_batch_norm_legit_no_training.default and "local" in kinds:
            node = self._classify(name, _first_output(op), args, kwargs)
            return Node(name + ".tuple", "tuple", params={"parts": [node, None, None]})
        ref = self._run(op, args, kwargs)
        if not kinds or kinds == {"const"}:
            return Node(name, "const", ref=ref)
        if "flat" in kinds:
            return self._add(self._flat_linear(name, op, args, ref))
        if (op in _RESHAPES or op is aten.flatten.using_ints) and kinds == {"local"} and isinstance(ref, torch.Tensor) \
                and ref.dim() == 2 and ref.shape[0] == 1 and ref.numel() == inputs[0].ref.numel() and inputs[0].n > 1:
            return Node(name, "flat", ref=ref, inputs=[inputs[0]])  # read only by a dense layer
        if "local" in kinds and kinds & {"pooled", "batch"}:
            raise GraphError(f"{_op_name(op)} combines a per-position tensor with a summary of the whole "
                             f"sequence (e.g. squeeze-and-excitation gating), so every position depends on "
                             f"every base")
        if "local" not in kinds:
            return self._add(Node(name, "batch", ref=ref, op=op, args=args, kwargs=kwargs, inputs=inputs))
        locals_ = [n for n in inputs if n.kind == "local"]
        src = locals_[0]
        if op in _POOLS:
            pooled = self._pool(name, op, args, ref, src)
            if pooled is not None:
                return pooled
        rule = self._length_rule(op, args, kwargs, src, ref)
        if rule is not None:
            return self._add(self._length_node(name, op, args, kwargs, ref, src, rule))
        ldim = self._per_position(op, args, kwargs, locals_, ref)
        node = Node(name, "local", ref=ref, op=op, args=args, kwargs=kwargs, rule="position", ldim=ldim,
                    n=src.n, inputs=locals_)
        lo = torch.stack([n.lo for n in locals_]).min(0).values
        hi = torch.stack([n.hi for n in locals_]).max(0).values
        node.rf = max(n.rf for n in locals_)
        node.jump = src.jump
        return self._add(self._windows(node, lo, hi))

    def _flat_linear(self, name: str, op: Any, args: tuple, ref: Any) -> Node:
        """A dense layer over a flattened local value: linear in it, so a mutant adds
        ``W[:, window] . (span - reference window)`` to the reference output."""
        flat = args[0] if isinstance(args[0], Node) else None
        weight = args[1] if len(args) > 1 and isinstance(args[1], Node) else None
        if op is not aten.linear.default or flat is None or flat.kind != "flat" or weight is None \
                or weight.kind != "const" or any(isinstance(a, Node) and a.kind != "const" for a in args[2:]):
            raise GraphError(f"{_op_name(op)} reads a value flattened over the whole length; only a dense "
                             f"layer (linear) right after the flatten is localised")
        src = flat.inputs[0]
        w = weight.ref.reshape(weight.ref.shape[0], *src.ref.shape[1:]).movedim(src.ldim, -1)  # (T, *other, n)
        return Node(name, "batch", ref=ref, rule="flat_linear", inputs=[src],
                    params={"weight": w.reshape(w.shape[0], -1, src.n)})

    def _run(self, op: Any, args: tuple, kwargs: dict) -> Any:
        unwrap = lambda v: v.ref if isinstance(v, Node) else v  # noqa: E731
        try:
            return op(*pytree.tree_map(unwrap, args), **pytree.tree_map(unwrap, kwargs))
        except Exception as exc:  # noqa: BLE001 - a graph we cannot replay is a graph we cannot use
            raise GraphError(f"replaying {_op_name(op)} on the reference failed ({type(exc).__name__}: "
                             f"{str(exc).splitlines()[0][:200] if str(exc) else ''})") from None

    def _getitem(self, name: str, args: tuple) -> Any:
        source, index = args
        if not isinstance(source, Node):
            return source[index]
        if source.kind == "const":
            return Node(name, "const", ref=source.ref[index])
        if source.kind == "tuple":
            part = source.params["parts"][index]
            if part is None:  # an index or statistic of the op: an error only if something reads it
                return Node(name, "unread", params={"why": f"{source.name.removesuffix('.tuple')} gives "
                                                           f"positions or statistics fast ISM does not rebuild"})
            return part
        if source.kind == "batch":
            return self._add(Node(name, "batch", ref=source.ref[index], op=operator.getitem, args=args,
                                  inputs=[source]))
        raise GraphError(f"indexing a {source.kind} value ({source.name}) is not read by fast ISM")

    def _per_position(self, op: Any, args: tuple, kwargs: dict, locals_: list[Node], ref: Any) -> int:
        """The length axis of a per-position operation's output; GraphError if it is not one."""
        src = locals_[0]
        nd = src.ref.dim()
        ldim = src.ldim
        why = None
        if any(n.n != src.n or n.ldim != src.ldim or n.ref.dim() != nd for n in locals_):
            why = "combines tensors of different lengths or layouts"
        elif op in _SAME_POSITIONS:
            pass
        elif op in (aten.transpose.int,):
            d0, d1 = (_norm_dim(int(d), nd) for d in args[1:3])
            if 0 in (d0, d1):
                why = "moves the batch axis"
            ldim = d1 if ldim == d0 else d0 if ldim == d1 else ldim
        elif op in (aten.permute.default,):
            dims = [_norm_dim(int(d), nd) for d in args[1]]
            if dims[0] != 0:
                why = "moves the batch axis"
            ldim = dims.index(ldim)
        elif op in (aten.unsqueeze.default,):
            d = _norm_dim(int(args[1]), nd + 1)
            if d == 0:
                why = "adds a batch axis"
            ldim = ldim + 1 if d <= ldim else ldim
        elif op in (aten.squeeze.dim,):
            d = _norm_dim(int(args[1]), nd)
            if d in (0, ldim):
                why = "drops the batch or length axis"
            ldim = ldim - 1 if d < ldim else ldim
        elif op in (aten.batch_norm.default, _first_output(aten._native_batch_norm_legit_no_training.default)):
            training = args[5] if op is aten.batch_norm.default else False
            if training:
                why = "is batch normalisation in training mode (statistics of the batch)"
            elif ldim == 1:
                why = "normalises along the length axis"
        elif op in (aten.dropout.default,):
            if args[2]:
                why = "is dropout in training mode"
        elif op in (aten.linear.default,):
            if ldim == nd - 1:
                why = "mixes positions (a dense layer over the length axis)"
        elif op in (aten.layer_norm.default,):
            if ldim >= nd - len(args[1]):
                why = "normalises along the length axis"
        elif op in (aten.softmax.int, aten._softmax.default, aten.log_softmax.int, aten._log_softmax.default):
            if _norm_dim(int(args[1]), nd) in (0, ldim):
                why = "normalises along the length or batch axis"
        elif op in (aten.cat.default,):
            d = _norm_dim(int(args[1]) if len(args) > 1 else 0, nd)
            if d in (0, ldim) or any(not isinstance(t, Node) or t.kind != "local" for t in args[0]):
                why = "joins along the length or batch axis, or joins a constant"
        elif op in (aten.mean.dim, aten.sum.dim_IntList, aten.amax.default, aten.amin.default):
            dims = [_norm_dim(int(d), nd) for d in (args[1] if isinstance(args[1], (list, tuple)) else [args[1]])]
            if 0 in dims:
                why = "reduces over the batch axis"
            keep = len(args) > 2 and bool(args[2])
            if not keep:
                ldim -= sum(1 for d in dims if d < ldim)
        elif op in (aten.slice.Tensor, aten.select.int):
            d = _norm_dim(int(args[1]), nd)
            whole = op is aten.slice.Tensor and (len(args) < 3 or args[2] in (None, 0)) and (
                len(args) < 4 or args[3] is None or int(args[3]) >= src.ref.shape[d]) and (len(args) < 5 or args[4] == 1)
            if d == 0 and not whole:  # traced `h[:, :, a:b]` also slices the batch axis whole: a no-op
                why = "selects along the batch axis"
            if op is aten.select.int and d < ldim:
                ldim -= 1
        elif torch.Tag.pointwise in getattr(op, "tags", ()):
            for value in pytree.tree_leaves((args, kwargs)):
                if isinstance(value, Node) and value.kind == "const" and isinstance(value.ref, torch.Tensor):
                    why = why or self._broadcast_problem(value.ref, nd, ldim)
                elif isinstance(value, torch.Tensor) and value.dim() > 0:
                    why = why or self._broadcast_problem(value, nd, ldim)
        else:
            why = "is not an operation fast ISM can localise"
        if why is None and (not isinstance(ref, torch.Tensor) or ref.dim() <= ldim or ref.shape[ldim] != src.n):
            why = f"returns shape {tuple(getattr(ref, 'shape', ()))}, not one entry per position"
        if why is not None:
            raise GraphError(f"{_op_name(op)} {why}")
        return ldim

    @staticmethod
    def _broadcast_problem(const: torch.Tensor, nd: int, ldim: int) -> str | None:
        """Why a constant combined position by position breaks locality (a positional term), or None."""
        offset = nd - const.dim()
        if ldim - offset >= 0 and const.shape[ldim - offset] != 1:
            return "adds a constant that differs along the length (a positional encoding)"
        if offset == 0 and const.shape[0] != 1:
            return "uses a constant with a batch axis"
        return None

    # -- length operations (convolution, pooling along the length, crops, pads) --------------
    def _length_rule(self, op: Any, args: tuple, kwargs: dict, src: Node, ref: Any) -> dict | None:
        """Kernel extent, stride, left padding and pad value of an operation along the length."""
        nd = src.ref.dim()
        if op in (aten.conv1d.default, aten.conv1d.padding, aten.convolution.default):
            if src.ldim != nd - 1 or nd != 3 or args[0] is not src:
                raise GraphError(f"{_op_name(op)} runs on a tensor whose last axis is not the length")
            weight = args[1].ref
            k = int(weight.shape[-1])
            if op is aten.convolution.default:
                stride, padding, dilation, transposed, _, groups = args[3:9]
                if transposed:
                    raise GraphError("a transposed convolution (upsampling) is not localised by fast ISM")
            else:
                stride = args[3] if len(args) > 3 else [1]
                padding = args[4] if len(args) > 4 else [0]
                dilation = args[5] if len(args) > 5 else [1]
                groups = args[6] if len(args) > 6 else 1
            s, d = int(stride[0]), int(dilation[0])
            if isinstance(padding, str):
                pad = 0 if padding == "valid" else d * (k - 1) // 2
            else:
                pad = int(padding[0])
            return {"k": d * (k - 1) + 1, "s": s, "pad": pad, "value": 0.0, "kind": "conv",
                    "dilation": d, "groups": int(groups)}
        if op in (aten.max_pool1d.default, aten.avg_pool1d.default):
            if src.ldim != nd - 1:
                raise GraphError(f"{_op_name(op)} pools an axis that is not the length")
            k = int(args[1][0])
            s = int(args[2][0]) if len(args) > 2 and args[2] else k
            pad = int(args[3][0]) if len(args) > 3 and args[3] else 0
            if op is aten.max_pool1d.default:
                d = int(args[4][0]) if len(args) > 4 and args[4] else 1
                return {"k": d * (k - 1) + 1, "s": s, "pad": pad, "value": -math.inf, "kind": "maxpool",
                        "kernel": k, "dilation": d}
            include_pad = args[5] if len(args) > 5 else True
            if pad and not include_pad:
                raise GraphError("average pooling that leaves its padding out of the count is not localised")
            return {"k": k, "s": s, "pad": pad, "value": 0.0, "kind": "avgpool", "kernel": k}
        if op is aten.slice.Tensor and _norm_dim(int(args[1]), nd) == src.ldim:
            n = src.n
            begin = 0 if len(args) < 3 or args[2] is None else int(args[2])
            step = 1 if len(args) < 5 else int(args[4])
            begin = min(max(begin + n if begin < 0 else begin, 0), n)
            return {"k": 1, "s": step, "pad": -begin, "value": 0.0, "kind": "slice"}
        if op in (aten.constant_pad_nd.default, aten.pad.default):
            pads = list(args[1])
            mode = args[2] if op is aten.pad.default and len(args) > 2 else "constant"
            value = args[-1] if op is aten.constant_pad_nd.default and len(args) > 2 else (
                args[3] if op is aten.pad.default and len(args) > 3 and args[3] is not None else 0.0)
            padded_dims = [nd - 1 - i // 2 for i, p in enumerate(pads) if p]
            if src.ldim not in padded_dims:
                return None  # pads channels only: a per-position operation
            if mode != "constant" or any(d != src.ldim for d in padded_dims):
                raise GraphError(f"padding in mode {mode!r} or over several axes is not localised by fast ISM")
            left = pads[2 * (nd - 1 - src.ldim)]
            return {"k": 1, "s": 1, "pad": int(left), "value": float(value or 0.0), "kind": "pad"}
        return None

    def _length_node(self, name: str, op: Any, args: tuple, kwargs: dict, ref: torch.Tensor, src: Node,
                     rule: dict) -> Node:
        if not isinstance(ref, torch.Tensor):
            raise GraphError(f"{_op_name(op)} returns several values along the length")
        n_out = int(ref.shape[src.ldim])
        node = Node(name, "local", ref=ref, op=op, args=args, kwargs=kwargs, rule=rule["kind"], ldim=src.ldim,
                    n=n_out, params=rule, inputs=[src])
        k, s, pad = rule["k"], rule["s"], rule["pad"]
        empty = src.lo > src.hi
        lo = torch.div(src.lo + pad - k + 1 + s - 1, s, rounding_mode="floor").clamp(min=0)
        hi = torch.div(src.hi + pad, s, rounding_mode="floor").clamp(max=n_out - 1)
        lo = torch.where(empty, torch.full_like(lo, _EMPTY), lo)
        hi = torch.where(empty, torch.full_like(hi, -_EMPTY), hi)
        node.rf = src.rf + (k - 1) * src.jump
        node.jump = src.jump * s
        return self._windows(node, lo, hi)

    @staticmethod
    def _windows(node: Node, lo: torch.Tensor, hi: torch.Tensor) -> Node:
        """Fix the window width and the window start for every input position."""
        changed = lo <= hi
        width = int((hi - lo + 1)[changed].max()) if bool(changed.any()) else 1
        width = max(1, min(width, node.n))
        node.lo, node.hi, node.width = lo, hi, width
        node.start = torch.where(changed, lo, torch.zeros_like(lo)).clamp(0, max(0, node.n - width))
        return node

    def _pool(self, name: str, op: Any, args: tuple, ref: Any, src: Node) -> Any:
        nd = src.ref.dim()
        if op in (aten.adaptive_avg_pool1d.default, aten.adaptive_max_pool1d.default):
            if list(args[1]) != [1] or src.ldim != nd - 1:
                raise GraphError(f"{_op_name(op)} to {list(args[1])} positions keeps several positions per window")
            dims, keep = [src.ldim], True
        else:
            dims = args[1] if isinstance(args[1], (list, tuple)) else [args[1]]
            dims = [_norm_dim(int(d), nd) for d in dims]
            keep = bool(args[2]) if len(args) > 2 else False
        if src.ldim not in dims:
            return None
        if dims != [src.ldim]:
            raise GraphError(f"{_op_name(op)} reduces over the length and other axes at once")
        kind = _POOLS[op]
        values_ref = ref[0] if isinstance(ref, (tuple, list)) else ref
        node = self._add(Node(name, "pooled", ref=values_ref, op=op, rule=kind, ldim=src.ldim,
                              params={"keepdim": keep}, inputs=[src]))
        self._pool_setup(node, src)
        if isinstance(ref, (tuple, list)):
            return Node(name + ".tuple", "tuple", params={"parts": [node, None]})
        return node

    @staticmethod
    def _pool_setup(node: Node, src: Node) -> None:
        r = src.ref.movedim(src.ldim, -1)[0]  # (*other, n)
        if node.rule == "max":
            neg = torch.full((*r.shape[:-1], 1), -math.inf, dtype=r.dtype, device=r.device)
            node.params["prefix"] = torch.cat([neg, torch.cummax(r, -1).values], -1)   # [i]: max over [0, i)
            node.params["suffix"] = torch.cat([torch.cummax(r.flip(-1), -1).values.flip(-1), neg], -1)
        else:
            cs = torch.cumsum(r.double(), -1)
            node.params["cumsum"] = torch.cat([torch.zeros_like(cs[..., :1]), cs], -1)  # [i]: sum over [0, i)

    # -- facts -------------------------------------------------------------------------
    @property
    def receptive_field(self) -> int:
        """Widest stretch of input bases one local value reads (in bases)."""
        return max([n.rf for n in self.order if n.kind == "local"] + [1])

    def restrict(self, outputs: list[int], needed: set[str]) -> None:
        """Clip every local value's changed interval to the positions the given outputs can read.

        A demand pass, from the outputs back: a local output and the source of a pool or
        a flattened dense layer are read whole; a length operation reads
        ``[a * s - pad, b * s - pad + k - 1]`` of its input for output positions
        ``[a, b]``; a per-position operation reads the same positions. Each value keeps
        the hull of what its readers need, and its changed intervals ``lo``/``hi`` are
        clipped to it (BPNet: the counts head reads the cropped trunk only, so the last
        layers are recomputed on the crop). A position outside the demand may then hold
        a wrong value in a mutant's window, but nothing that is read depends on it.
        """
        demand: dict[str, tuple[int, int]] = {}

        def want(node: Node, a: int, b: int) -> None:
            a, b = max(a, 0), min(b, node.n - 1)
            if a > b:
                return
            old = demand.get(node.name)
            demand[node.name] = (a, b) if old is None else (min(old[0], a), max(old[1], b))

        for i, out in enumerate(self.outputs):
            if i in outputs and isinstance(out, Node) and out.kind == "local":
                want(out, 0, out.n - 1)
        for node in reversed(self.order):
            if node.name not in needed:
                continue
            if node.kind == "pooled" or (node.kind == "batch" and node.rule == "flat_linear"):
                for src in node.inputs:
                    want(src, 0, src.n - 1)
                continue
            if node.kind != "local" or node.name not in demand:
                continue
            a, b = demand[node.name]
            if node.rule == "position":
                for src in node.inputs:
                    want(src, a, b)
            elif node.rule != "input":
                p = node.params
                want(node.inputs[0], a * p["s"] - p["pad"], b * p["s"] - p["pad"] + p["k"] - 1)
        for node in self.order:
            if node.kind != "local" or node.rule == "input" or node.name not in needed:
                continue
            a, b = demand.get(node.name, (1, 0))
            lo, hi = node.lo.clamp(min=a), node.hi.clamp(max=b)
            empty = lo > hi
            lo = torch.where(empty, torch.full_like(lo, _EMPTY), lo)
            hi = torch.where(empty, torch.full_like(hi, -_EMPTY), hi)
            self._windows(node, lo, hi)
        self.demand = demand

    def needed(self, outputs: list[int]) -> set[str]:
        """Names of the nodes the given flat outputs depend on."""
        seen: set[str] = set()
        stack = [o for i, o in enumerate(self.outputs) if i in outputs and isinstance(o, Node)]
        while stack:
            node = stack.pop()
            if node.name in seen:
                continue
            seen.add(node.name)
            stack.extend(node.inputs)
        return seen


class Batch:
    """The mutants of one batch: values of local nodes on their windows, pooled and batch values.

    ``pos``/``bases`` ``(M,)`` long; the ``U`` distinct positions ``uniq`` and ``inverse``
    (``pos == uniq[inverse]``) are shared by every gather.
    """

    def __init__(self, graph: LocalGraph, pos: torch.Tensor, bases: torch.Tensor, needed: set[str]):
        self.graph, self.pos, self.M = graph, pos, int(pos.shape[0])
        self.uniq, self.inverse = torch.unique(pos, return_inverse=True)
        self.values: dict[str, Any] = {}
        self.width: dict[str, int] = {}
        self.start: dict[str, torch.Tensor] = {}  # (U,) window start per distinct position
        last_use: dict[str, int] = {}
        order = [n for n in graph.order if n.name in needed]
        for node in order:
            if node.kind == "local":
                self._size(node)
        for i, node in enumerate(order):
            for src in node.inputs:
                last_use[src.name] = i
        keep = {o.name for o in graph.outputs if isinstance(o, Node)}
        for i, node in enumerate(order):
            self.values[node.name] = self._compute(node, bases)
            for src in node.inputs:
                if last_use.get(src.name) == i and src.kind == "local" and src.name not in keep:
                    self.values.pop(src.name, None)  # free windows no later node reads

    # -- windows -------------------------------------------------------------------------
    def _size(self, node: Node) -> None:
        """The window of ``node`` for this batch: as wide as the widest changed interval of
        its positions (not of the whole run), started at each interval, kept inside ``[0, n)``."""
        if node.rule == "input":
            self.width[node.name], self.start[node.name] = 1, self.uniq
            return
        lo, hi = node.lo[self.uniq], node.hi[self.uniq]
        changed = lo <= hi
        width = int((hi - lo + 1)[changed].max()) if bool(changed.any()) else 1
        width = max(1, min(width, node.n))
        self.width[node.name] = width
        self.start[node.name] = torch.where(changed, lo, torch.zeros_like(lo)).clamp(0, max(0, node.n - width))

    def window(self, node: Node, starts: torch.Tensor, width: int, fill: float) -> torch.Tensor:
        """``node`` on ``[start, start + width)`` of its positions for every mutant.

        ``starts`` ``(U,)`` per distinct position. Returns ``(M, ...)`` in the node's layout,
        the mutant's window laid over the reference, ``fill`` outside ``[0, n)``.
        """
        span = self.values.get(node.name)
        offset = lo = hi = None
        if span is not None:
            offset = (self.start[node.name] - starts)[self.inverse]  # (M,): span start in the window
            lo, hi = int(offset.min()), int(offset.max())
            if lo == hi == 0 and self.width[node.name] == width:
                return span  # the window is the mutant's own
        ref = node.ref.movedim(node.ldim, -1)[0]  # (*other, n)
        left = max(0, -int(starts.min()))
        right = max(0, int(starts.max()) + width - node.n)
        padded = F.pad(ref, (left, right), value=fill) if left or right else ref
        out = padded.unfold(-1, width, 1).movedim(-2, 0)[(starts + left)[self.inverse]]  # (M, *other, width)
        if span is None:
            return out.movedim(-1, node.ldim)
        span = span.movedim(node.ldim, -1)
        w = self.width[node.name]
        if lo == hi:
            a, b = max(lo, 0), min(lo + w, width)
            if a < b:
                out[..., a:b] = span[..., a - lo:b - lo]
        else:  # a few distinct offsets (one per position at most): one slice assignment each
            rows = torch.arange(self.M, device=out.device)
            for o in torch.unique(offset).tolist():
                a, b = max(o, 0), min(o + w, width)
                if a < b:
                    pick = rows[offset == o]
                    out[pick, ..., a:b] = span[pick, ..., a - o:b - o]
        return out.movedim(-1, node.ldim)

    def full(self, node: Node) -> torch.Tensor:
        """``node`` over all its positions for every mutant ``(M, ...)`` (local outputs)."""
        zero = torch.zeros(self.uniq.shape[0], dtype=torch.long, device=self.pos.device)
        return self.window(node, zero, node.n, 0.0)

    # -- one node --------------------------------------------------------------------------
    def _compute(self, node: Node, bases: torch.Tensor) -> Any:
        if node.kind == "local":
            return self._local(node, bases)
        if node.kind == "pooled":
            return self._pooled(node)
        return self._batch(node)

    def _local(self, node: Node, bases: torch.Tensor) -> torch.Tensor:
        if node.rule == "input":
            col = torch.zeros(self.M, 4, 1, dtype=node.ref.dtype, device=node.ref.device)
            col[torch.arange(self.M, device=col.device), bases, 0] = 1.0
            return col.transpose(1, 2) if node.ldim == 1 else col
        starts = self.start[node.name]
        if node.rule == "position":
            return node.op(*self._args(node, node.args, starts), **self._args(node, node.kwargs, starts))
        p, src = node.params, node.inputs[0]
        first = starts * p["s"] - p["pad"]
        width = (self.width[node.name] - 1) * p["s"] + p["k"]
        x = self.window(src, first, width, p["value"])
        if p["kind"] == "conv":
            weight, bias = node.args[1].ref, node.args[2].ref if isinstance(node.args[2], Node) else node.args[2]
            if p["s"] == 1 and p["groups"] == 1 and weight.shape[0] <= _FEW_OUTPUTS:
                return _few_output_conv(x, weight, bias, p["dilation"])
            return F.conv1d(x, weight, bias, stride=p["s"], dilation=p["dilation"], groups=p["groups"])
        if p["kind"] == "maxpool":
            return F.max_pool1d(x, p["kernel"], p["s"], 0, p["dilation"])
        if p["kind"] == "avgpool":
            return F.avg_pool1d(x, p["kernel"], p["s"], 0)
        if p["s"] == 1:
            return x  # a unit-step slice or a pad: the window itself
        return x.narrow(node.ldim, 0, width).unfold(node.ldim, 1, p["s"]).squeeze(-1)  # every s-th position

    def _args(self, node: Node, args: Any, starts: torch.Tensor) -> Any:
        def value(v: Any) -> Any:
            if not isinstance(v, Node):
                return v
            if v.kind == "const":
                return v.ref
            return self.window(v, starts, self.width[node.name], 0.0)

        return pytree.tree_map(value, args, is_leaf=lambda v: isinstance(v, Node))

    def _pooled(self, node: Node) -> torch.Tensor:
        src = node.inputs[0]
        span = self.values[src.name].movedim(src.ldim, -1)  # (M, *other, W)
        lo = self.start[src.name][self.inverse]
        hi = lo + self.width[src.name]
        if node.rule == "max":
            before = node.params["prefix"].index_select(-1, lo).movedim(-1, 0)
            after = node.params["suffix"].index_select(-1, hi).movedim(-1, 0)
            pooled = torch.maximum(torch.maximum(before, after), span.amax(-1))
        else:
            cs = node.params["cumsum"]
            total = cs[..., -1]
            pooled = (total[None] - (cs.index_select(-1, hi) - cs.index_select(-1, lo)).movedim(-1, 0)
                      + span.sum(-1).double())  # float32 span sum: no float64 copy of the span
            if node.rule == "mean":
                pooled = pooled / src.n
            pooled = pooled.to(span.dtype)
        if node.params["keepdim"]:
            pooled = pooled.unsqueeze(src.ldim)
        return pooled

    def _flat_linear(self, node: Node) -> torch.Tensor:
        src = node.inputs[0]
        span = self.values[src.name].movedim(src.ldim, -1).reshape(self.M, -1, self.width[src.name])  # (M, O, W)
        w, W = node.params["weight"], self.width[src.name]  # (T, O, n)
        ref = src.ref.movedim(src.ldim, -1).reshape(1, -1, src.n)[0]  # (O, n)
        starts = self.start[src.name]  # (U,)
        ref_win = ref.unfold(-1, W, 1)[:, starts].movedim(1, 0)[self.inverse]  # (M, O, W)
        w_win = w.unfold(-1, W, 1)[:, :, starts].permute(2, 1, 3, 0)  # (U, O, W, T)
        change = (span - ref_win).reshape(self.M, 1, -1)
        delta = torch.bmm(change, w_win.reshape(w_win.shape[0], -1, w.shape[0])[self.inverse]).squeeze(1)
        return node.ref + delta.to(node.ref.dtype)

    def _batch(self, node: Node) -> Any:
        if node.rule == "flat_linear":
            return self._flat_linear(node)
        def value(v: Any) -> Any:
            if not isinstance(v, Node):
                return v
            return v.ref if v.kind == "const" else self.values[v.name]

        args = pytree.tree_map(value, node.args, is_leaf=lambda v: isinstance(v, Node))
        kwargs = pytree.tree_map(value, node.kwargs, is_leaf=lambda v: isinstance(v, Node))
        if node.op in _RESHAPES and isinstance(args[1], (list, tuple)) and args[1] and args[1][0] == 1:
            args = (args[0], [self.M, *args[1][1:]], *args[2:])  # the graph fixed the batch at 1
        return node.op(*args, **kwargs)


class GraphISM(MutantEngine):
    """Fast ISM of one (model, sequence, target) from the model's captured graph.

    The same interface as :class:`explorer.attribution.fast_ism.FastISM`
    (``scores``, ``reference_score``, ``rebuilt_reference``, ``model_output``,
    ``default_batch_size``, ``receptive_field``, ``warnings``), made by
    :func:`explorer.attribution.fast_ism.fast_engine`.

    Raises
    ------
    GraphError (a StructureError, so a NotImplementedError)
        The graph could not be captured or holds an operation that is not local.
    """

    path = "graph"

    def __init__(self, model: Any, one_hot: torch.Tensor, target: Callable):
        self.model, self.target = model, target
        self.device = model_device(model)
        self.x = check_one_hot(one_hot).to(self.device)
        self.length = int(self.x.shape[1])
        self.warnings: list[str] = []
        with torch.no_grad():
            captured = capture(model, self.length, self.device)
            self.graph = LocalGraph(captured, self.x)
            self.model_output = model(self.x.unsqueeze(0))
            self.reference_score = float(target(self.model_output).reshape(-1)[0])
            self.rebuilt_reference = self._assemble([self._ref(o) for o in self.graph.outputs])
            self._check_rebuilt()
        self.receptive_field = self.graph.receptive_field
        self.read = self._outputs_read(target)
        self.needed = self.graph.needed(self.read)
        self.graph.restrict(self.read, self.needed)
        widest = max([self._values_per_mutant(n) for n in self.graph.order] + [1])
        budget = _CUDA_BUDGET if self.device.type == "cuda" else _CPU_BUDGET
        self.default_batch_size = int(max(16, min(4096, budget // (3 * widest))))
        self.rebuilt_score = float(target(self.rebuilt_reference).reshape(-1)[0])

    def _check_rebuilt(self) -> None:
        """The graph replayed on the reference must give the model's own output."""
        diff, tol = reproduction_error(self.rebuilt_reference, self.model_output)
        if not diff <= tol:
            raise StructureMismatch(f"the model's captured graph does not reproduce its output (difference "
                                    f"{diff:.3g}, tolerance {tol:.3g}); the model may depend on "
                                    f"something the graph fixed at capture")

    @staticmethod
    def _ref(value: Any) -> Any:
        return value.ref if isinstance(value, Node) else value

    def _assemble(self, flat: list) -> Any:
        return pytree.tree_unflatten(flat, self.graph.out_spec)

    def _outputs_read(self, target: Callable) -> list[int]:
        """Flat outputs the target reads.

        A known :class:`~explorer.attribution.targets.Target` says which element of a tuple
        output it reads. Any other callable is probed: an output is unread when replacing
        it by NaN and by random values both leave the target's value on the rebuilt
        reference bit for bit the same (e.g. ``lambda y: y[1][:, 0]`` of BPNet does not
        read the profile head, so it is not recomputed). A target that errs on the probe
        reads everything. The self-check against plain ISM still guards the result.
        """
        from explorer.attribution.targets import Target

        every = list(range(len(self.graph.outputs)))
        k = getattr(target, "output", None) if isinstance(target, Target) else None
        spec = self.graph.out_spec
        is_tuple_of_leaves = spec.type in (tuple, list) and all(c.num_leaves == 1 for c in spec.children())
        if k is not None and is_tuple_of_leaves and 0 <= int(k) < len(every):
            return [int(k)]
        if len(every) < 2:
            return every
        flat = [self._ref(o) for o in self.graph.outputs]
        base = self.target(self._assemble(flat)).reshape(-1)
        generator = torch.Generator().manual_seed(0)
        read = []
        for i, value in enumerate(flat):
            if not isinstance(value, torch.Tensor) or not value.is_floating_point():
                read.append(i)
                continue
            for probe in (torch.full_like(value, math.nan),
                          torch.randn(value.shape, generator=generator).to(value)):
                try:
                    y = self.target(self._assemble(flat[:i] + [probe] + flat[i + 1:])).reshape(-1)
                    same = y.shape == base.shape and bool(torch.equal(y, base))
                except Exception:  # noqa: BLE001 - a target that cannot take the probe reads this output
                    same = False
                if not same:
                    read.append(i)
                    break
        return read or every

    @staticmethod
    def _values_per_mutant(node: Node) -> int:
        if node.kind != "local":
            return 0
        other = max(1, node.ref.numel() // max(1, node.n))
        reach = (node.width - 1) * node.params.get("s", 1) + node.params.get("k", 1)
        return other * (node.width + reach)

    def scores(self, pos: torch.Tensor, bases: torch.Tensor) -> torch.Tensor:
        """``f(mutant) - f(reference)`` for mutants (``pos``, ``bases``: ``(M,)`` long) -> ``(M,)`` float64 CPU."""
        pos, bases = pos.to(self.device), bases.to(self.device)
        with torch.no_grad():
            batch = Batch(self.graph, pos, bases, self.needed)
            flat = []
            for i, out in enumerate(self.graph.outputs):
                if not isinstance(out, Node):
                    flat.append(out)
                elif i not in self.read or out.kind == "const":
                    flat.append(out.ref.expand(batch.M, *out.ref.shape[1:]) if isinstance(out.ref, torch.Tensor)
                                else out.ref)
                elif out.kind == "local":
                    flat.append(batch.full(out))
                else:
                    flat.append(batch.values[out.name])
            y = self.target(self._assemble(flat)).reshape(-1).double()
            return (y - self.rebuilt_score).cpu()

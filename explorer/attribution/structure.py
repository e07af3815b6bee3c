"""Model-structure declarations for receptive-field-local (fast) ISM.

A model is *local* when it is a **trunk** that maps one-hot ``(N, 4, L)`` to ``(N, C, L)``
with each output position depending only on the inputs within ``radius`` bases of it
(zero padding at the sequence ends, like 'same'-padded convolutions), followed by one or
more **heads** that pool over positions or crop a centre. The declaration is a plain dict,
stored as ``card["structure"]`` (JSON-safe) or returned by an adapter registered for the
architecture's class name (:func:`register_structure`). Keys:

``trunk`` (str or list, required)
    Attribute path of the trunk module on the network (``"trunk"``, ``"body.convs"``;
    integers index ``ModuleList``/``Sequential``: ``"rconvs.0"``), or a list of layers
    applied in order, each an attribute path or ``{"residual": [paths]}`` for
    ``h = h + body(h)``. A trunk made only of stride-1, odd-kernel, 'same' zero-padded
    ``Conv1d`` layers and elementwise layers (ReLU, GELU, ..., eval-mode BatchNorm1d and
    Dropout), optionally one conv per residual block, is split into *stages* and
    recomputed layer by layer over only the positions each mutation can change (its
    radius is derived from the layers). Any other trunk is treated as a black box with
    the declared receptive field and run on a window of ``4 * radius + 1`` bases.
``receptive_field`` (odd int) or ``radius`` (int)
    Of the trunk: output ``i`` depends on inputs ``[i - radius, i + radius]``,
    ``receptive_field = 2 * radius + 1``. Required for a black-box trunk; for a staged
    trunk it is checked against the layers (a smaller declared value gives a warning).
``heads`` (list of dict), or the keys of one head at the top level
    Each head maps the trunk output ``h (N, C, L)`` to one model output:

    * ``{"pool": "max" | "sum" | "mean", "trim": t, "final": path or [paths]}``:
      pool ``h[:, :, t : L - t]`` over positions, then apply the ``final`` modules
      (e.g. ``"linear"``) to the ``(N, C)`` result; output ``(N, T)``.
    * ``{"pool": "crop", "conv": path or [layers], "trim": t}``: apply the 'same'-padded
      convolution layers ``conv`` to ``h`` and crop ``[t, L - t)``; output ``(N, T, L - 2t)``.
``output`` (``"tensor"`` or ``"tuple"``)
    One head returns its tensor; ``"tuple"`` (the default for several heads) returns the
    heads' outputs as a tuple, in the declared order (bpnet-lite: ``(profile, counts)``).

Examples::

    # SampleCNN: max over positions, then a linear layer
    {"trunk": "trunk", "pool": "max", "final": "linear", "receptive_field": 67}
    # BPNet (bpnet-lite layout, 8 layers)
    {"trunk": ["iconv", "irelu", {"residual": ["rconvs.0", "rrelus.0"]}, ...],
     "receptive_field": 531,
     "heads": [{"pool": "crop", "conv": "fconv", "trim": 302},
               {"pool": "mean", "trim": 265, "final": "linear"}],
     "output": "tuple"}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import nn

POOL_KINDS = ("max", "sum", "mean")

#: class name -> function(net) -> structure dict (for networks whose card lacks one)
STRUCTURE_ADAPTERS: dict[str, Callable[[nn.Module], dict]] = {}

_ELEMENTWISE = {
    "ReLU", "ReLU6", "GELU", "SiLU", "Sigmoid", "Tanh", "ELU", "CELU", "SELU", "LeakyReLU",
    "PReLU", "Softplus", "Softsign", "Mish", "Hardtanh", "Hardswish", "Hardsigmoid",
    "LogSigmoid", "Tanhshrink", "Identity", "Dropout", "Dropout1d", "AlphaDropout",
}


class StructureError(NotImplementedError):
    """The model declares no usable structure for fast ISM (plain ISM still works)."""


class NoDeclaration(StructureError):
    """Neither the model card nor a class adapter declares a structure."""


class StructureMismatch(StructureError):
    """The declared structure does not reproduce the model's own output."""


def register_structure(class_name: str) -> Callable:
    """Decorator: register ``fn(net) -> structure dict`` for networks of ``class_name``.

    ``class_name`` is the Python class name (for TorchScript, the ``original_name``).
    """

    def decorate(fn: Callable[[nn.Module], dict]) -> Callable[[nn.Module], dict]:
        STRUCTURE_ADAPTERS[class_name] = fn
        return fn

    return decorate


def class_name(module: Any) -> str:
    """Python class name of a module; ``original_name`` for TorchScript modules."""
    return str(getattr(module, "original_name", None) or type(module).__name__)


@dataclass
class ConvStage:
    """One 'same'-padded Conv1d, the elementwise layers after it, and an optional skip.

    ``output = [input +] post(conv(input))``; ``radius = dilation * (kernel - 1) // 2``.
    """

    conv: Any
    post: list = field(default_factory=list)
    residual: bool = False

    @property
    def radius(self) -> int:
        k = int(self.conv.weight.shape[-1])
        return int(_first(self.conv.dilation)) * (k - 1) // 2

    def full(self, x: torch.Tensor) -> torch.Tensor:
        """Full-length forward (the module's own 'same' padding): ``(N, C, L) -> (N, C', L)``."""
        y = self.conv(x)
        for f in self.post:
            y = f(y)
        return x + y if self.residual else y

    def valid(self, buf: torch.Tensor) -> torch.Tensor:
        """Unpadded forward: ``(M, C, W) -> (M, C', W - 2 radius)`` (the exact interior)."""
        y = F.conv1d(buf, self.conv.weight, self.conv.bias, stride=1, padding=0,
                     dilation=_first(self.conv.dilation), groups=int(self.conv.groups))
        for f in self.post:
            # y is a fresh tensor: apply ReLU in place (saves a copy per stage)
            y = torch.relu_(y) if class_name(f) == "ReLU" else f(y)
        if self.residual:
            r = self.radius
            y += buf[:, :, r:buf.shape[-1] - r]
        return y


@dataclass
class PooledHead:
    """``final(pool(h[:, :, trim : L - trim]))`` with pool in max/sum/mean."""

    pool: str
    trim: int = 0
    final: list = field(default_factory=list)

    @property
    def kind(self) -> str:
        """``"max"``, ``"sum"`` or ``"mean"``."""
        return self.pool

    @property
    def radius(self) -> int:
        """Pooling adds no positions to what a mutation changes."""
        return 0

    def apply_final(self, pooled: torch.Tensor) -> torch.Tensor:
        for f in self.final:
            pooled = f(pooled)
        return pooled


@dataclass
class CropHead:
    """``stages(h)[:, :, trim : L - trim]``: a convolutional profile head, cropped."""

    stages: list
    trim: int = 0

    @property
    def kind(self) -> str:
        return "crop"

    @property
    def radius(self) -> int:
        return sum(s.radius for s in self.stages)


@dataclass
class Structure:
    """A resolved declaration: callables bound to one network.

    Attributes
    ----------
    stages : list of ConvStage or None
        The trunk split into stages, or None for a black-box trunk.
    trunk : callable
        Full-length trunk ``(N, 4, L) -> (N, C, L)``.
    radius : int
        Trunk radius used by fast ISM (derived from the stages, else declared).
    declared_radius : int or None
        The declaration's radius, if it gave one.
    heads : list of PooledHead or CropHead
    tuple_output : bool
    warnings : list of str
    """

    stages: list | None
    trunk: Callable[[torch.Tensor], torch.Tensor]
    radius: int
    declared_radius: int | None
    heads: list
    tuple_output: bool
    warnings: list = field(default_factory=list)

    @property
    def receptive_field(self) -> int:
        return 2 * self.radius + 1


def _first(v: Any) -> int:
    return int(v[0]) if isinstance(v, (tuple, list)) else int(v)


def get_path(net: Any, path: str) -> Any:
    """Resolve a dotted attribute path (``"rconvs.0"``) on ``net``."""
    obj = net
    for part in str(path).split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            try:
                obj = obj[int(part)]
            except (ValueError, TypeError, IndexError, KeyError):
                raise StructureError(
                    f"the structure declaration names {path!r}, but {class_name(net)} has no "
                    f"attribute {part!r} there; fix the model card's 'structure'"
                ) from None
    return obj


def _is_conv(m: Any) -> bool:
    return class_name(m) == "Conv1d" and hasattr(m, "weight")


def _is_elementwise(m: Any) -> bool:
    if getattr(m, "explorer_elementwise", False):
        return True
    name = class_name(m)
    if name == "BatchNorm1d":
        # eval-mode batch norm with running statistics is a per-channel affine map
        return getattr(m, "running_mean", None) is not None
    return name in _ELEMENTWISE


def _conv_ok(conv: Any) -> str | None:
    """Why ``conv`` is not a 'same'-padded stride-1 odd-kernel zero-padded Conv1d, or None."""
    k = int(conv.weight.shape[-1])
    d = _first(conv.dilation)
    if _first(conv.stride) != 1:
        return f"stride {conv.stride}"
    if k % 2 == 0:
        return f"even kernel size {k}"
    if str(getattr(conv, "padding_mode", "zeros")) != "zeros":
        return f"padding_mode {conv.padding_mode!r}"
    pad = conv.padding
    if isinstance(pad, str):
        if pad != "same":
            return f"padding {pad!r}"
    elif _first(pad) != d * (k - 1) // 2:
        return f"padding {pad} (not 'same' for kernel {k}, dilation {d})"
    return None


def _flatten(net: Any, items: Any) -> list:
    """Expand a declaration (path, list, residual dict) into modules and residual dicts."""
    if isinstance(items, str):
        items = [items]
    out: list = []
    for item in items:
        if isinstance(item, dict):
            if set(item) != {"residual"}:
                raise StructureError(f"trunk items are paths or {{'residual': [...]}}; got {item!r}")
            out.append({"residual": _flatten(net, item["residual"])})
            continue
        module = get_path(net, item) if isinstance(item, str) else item
        out.extend(_expand_sequential(module))
    return out


def _expand_sequential(module: Any) -> list:
    if class_name(module) == "Sequential":
        out: list = []
        for child in module.children():
            out.extend(_expand_sequential(child))
        return out
    return [module]


def _stages(layers: list) -> tuple[list | None, str | None]:
    """Split flattened layers into ConvStages; (None, reason) when that is not possible."""
    stages: list[ConvStage] = []
    for layer in layers:
        if isinstance(layer, dict):
            body, why = _stages(layer["residual"])
            if body is None:
                return None, why
            if len(body) != 1 or body[0].residual:
                return None, "a residual block holds more than one convolution"
            stages.append(ConvStage(body[0].conv, list(body[0].post), residual=True))
        elif _is_conv(layer):
            why = _conv_ok(layer)
            if why:
                return None, f"a Conv1d with {why}"
            stages.append(ConvStage(layer))
        elif _is_elementwise(layer):
            if not stages:
                return None, f"an elementwise {class_name(layer)} before the first convolution"
            stages[-1].post.append(layer)
        else:
            return None, f"a {class_name(layer)} layer, which is not a convolution or elementwise"
    return stages, None


def _runner(layers: list) -> Callable[[torch.Tensor], torch.Tensor]:
    def run(x: torch.Tensor) -> torch.Tensor:
        for layer in layers:
            x = x + _runner(layer["residual"])(x) if isinstance(layer, dict) else layer(x)
        return x

    return run


def declared_structure(model: Any) -> tuple[Any, dict]:
    """The network and its structure declaration (card first, then a class adapter).

    Raises
    ------
    StructureError
        When neither the card nor an adapter declares a structure.
    """
    net = getattr(model, "net", model)
    card = getattr(model, "card", None) or getattr(net, "card", None) or {}
    spec = card.get("structure") if isinstance(card, dict) else None
    if spec is None and callable(getattr(net, "structure", None)) and not isinstance(net, torch.jit.ScriptModule):
        spec = net.structure()
    if spec is None:
        adapter = STRUCTURE_ADAPTERS.get(class_name(net))
        if adapter is not None:
            spec = adapter(net)
    if spec is None:
        raise NoDeclaration(
            f"{class_name(net)} declares no structure (model card 'structure', see "
            f"explorer.attribution.structure), so receptive-field-local ISM cannot be used; "
            f"plain ISM works for any model"
        )
    if not isinstance(spec, dict) or "trunk" not in spec:
        raise StructureError(f"the model card's 'structure' must be a dict with a 'trunk'; got {spec!r}")
    return net, spec


def resolve_structure(model: Any) -> Structure:
    """Bind a model's structure declaration to its modules (see the module docstring)."""
    net, spec = declared_structure(model)
    warnings: list[str] = []
    declared = None
    if spec.get("radius") is not None:
        declared = int(spec["radius"])
    elif spec.get("receptive_field") is not None:
        rf = int(spec["receptive_field"])
        if rf < 1 or rf % 2 == 0:
            raise StructureError(f"structure 'receptive_field' must be a positive odd integer; got {rf}")
        declared = (rf - 1) // 2
    layers = _flatten(net, spec["trunk"])
    stages, why = _stages(layers)
    if stages is not None:
        radius = sum(s.radius for s in stages)
        if declared is not None and declared < radius:
            warnings.append(
                f"the model card's receptive field ({2 * declared + 1} bp) is smaller than its "
                f"layers give ({2 * radius + 1} bp); using {2 * radius + 1} bp"
            )
        trunk = _runner(layers)
    else:
        if declared is None:
            raise StructureError(
                f"the trunk holds {why}, so its receptive field cannot be derived; declare "
                f"'receptive_field' in the model card's 'structure'"
            )
        radius = declared
        trunk = layers[0] if len(layers) == 1 and not isinstance(layers[0], dict) else _runner(layers)
    head_specs = spec.get("heads")
    if head_specs is None:
        head_specs = [{k: spec[k] for k in ("pool", "final", "trim", "conv") if k in spec}]
    heads = [_head(net, h) for h in head_specs]
    if not heads:
        raise StructureError("structure 'heads' is empty")
    output = spec.get("output", "tuple" if len(heads) > 1 else "tensor")
    if output not in ("tensor", "tuple"):
        raise StructureError(f"structure 'output' must be 'tensor' or 'tuple'; got {output!r}")
    if output == "tensor" and len(heads) != 1:
        raise StructureError(f"structure 'output' is 'tensor' but {len(heads)} heads are declared")
    return Structure(stages, trunk, radius, declared, heads, output == "tuple", warnings)


def _head(net: Any, spec: dict) -> PooledHead | CropHead:
    pool = spec.get("pool")
    trim = int(spec.get("trim", 0) or 0)
    if trim < 0:
        raise StructureError(f"a head's 'trim' must be >= 0; got {trim}")
    if pool in POOL_KINDS:
        final = spec.get("final") or []
        final = [final] if isinstance(final, str) else list(final)
        return PooledHead(pool, trim, [get_path(net, p) for p in final])
    if pool == "crop":
        if "conv" not in spec:
            raise StructureError("a 'crop' head needs 'conv': the path(s) of its convolution layers")
        stages, why = _stages(_flatten(net, spec["conv"]))
        if stages is None:
            raise StructureError(f"the crop head's 'conv' holds {why}; only 'same'-padded Conv1d layers work")
        return CropHead(stages, trim)
    raise StructureError(f"a head's 'pool' must be one of {POOL_KINDS + ('crop',)}; got {pool!r}")


# -- the shipped networks (explorer.nets) declare their structure once, in ``structure_of``;
# the leaf registry hands those declarations over by class name, so TorchScript exports of
# them (whose ``original_name`` is the class name) find it too.
import explorer.nets  # noqa: E402,F401 - registers the shipped networks
from explorer.io.registry import structure_declarations  # noqa: E402

for _name, _declare in structure_declarations().items():
    STRUCTURE_ADAPTERS.setdefault(_name, _declare)

"""bpnet-lite models (``BPNet``, ``ChromBPNet``, ``BasePairNet``) as explorer models.

`bpnet-lite <https://github.com/jmschrei/bpnet-lite>`_ (an optional dependency, the extra
``bpnet``) saves its models with ``torch.save(model)``: a full pickle, which
:func:`explorer.load_model` reads only with ``trusted=True``. Its models take
``(X, X_ctl=None)`` and return ``(profile (N, n_outputs, L - 2 trimming), counts (N, 1))``.
This module recognises such a module by its class (``bpnetlite.*.BPNet`` ...; bpnet-lite is
not imported to do so) and wraps it in :class:`BPNetLiteNet`, whose forward takes one-hot
``(N, 4, L)`` only:

* **control tracks**, where the model has them (``n_control_tracks > 0``), are filled with
  zeros (as bpnet-lite's own ``ControlWrapper`` does); the card says so in ``notes``.
  Attributions then explain the prediction without a control experiment.
* **heads** ``profile`` (channels ``strand 0``/``strand 1`` for two outputs, else
  ``task i``) and ``counts`` (one channel, ``log counts``): the default target is the
  counts head, ``"profile:0"`` with a window reads the profile.
* **lengths** from the model's ``trimming`` ``t``: any input of ``L >= 2 t + 1`` bases
  works and gives a profile of ``L - 2 t`` positions starting at input base ``t``
  (published models: 2,114 bp in, 1,000 out, ``t = 557``).
* **structure** for fast ISM (a ``BPNet``: its trunk and both heads, see
  :mod:`explorer.attribution.structure`); ``ChromBPNet`` (two networks summed) and
  ``BasePairNet`` (pre-activation residuals) use plain ISM.

A checkpoint that loads without running code from the file (``weights_only=True``) is a
dict written by :func:`save_bpnetlite`::

    {"bpnet_lite_config": {"class": "BPNet", "n_filters": 64, "n_layers": 8,
                           "n_outputs": 2, "n_control_tracks": 2, "trimming": 557, ...},
     "state_dict": model.state_dict()}

(for a ``ChromBPNet``: ``{"class": "ChromBPNet", "bias": {...}, "accessibility": {...}}``);
loading it builds the network with bpnet-lite's own classes, so bpnet-lite must be installed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from explorer.nets.bpnet import bpnet_structure

__all__ = ["BPNetLiteNet", "CONFIG_KEY", "recognises", "load", "is_bpnetlite_module", "is_bpnetlite_checkpoint",
           "bpnetlite_config", "wrap_bpnetlite", "from_checkpoint", "save_bpnetlite",
           "describe_state_dict"]

#: the key of the constructor arguments in a checkpoint dict
CONFIG_KEY = "bpnet_lite_config"
#: bpnet-lite classes this module wraps (all in the ``bpnetlite`` package)
CLASSES = ("BPNet", "ChromBPNet", "BasePairNet")
INSTALL = "pip install --no-deps bpnet-lite==1.1.0 h5py (make install does it)"
#: bpnet-lite's fixed layer sizes: first kernel 21, profile kernel 75 (radius 37)
_FIRST_RADIUS, _PROFILE_RADIUS = 10, 37
_BPNET_ARGS = ("n_filters", "n_layers", "n_outputs", "n_control_tracks", "trimming",
               "profile_output_bias", "count_output_bias", "name")


def is_bpnetlite_module(obj: Any) -> bool:
    """True for a bpnet-lite ``BPNet``, ``ChromBPNet`` or ``BasePairNet`` instance.

    Judged by the class's name and module (``bpnetlite...``), so bpnet-lite is not imported.
    """
    cls = type(obj)
    return (isinstance(obj, nn.Module) and cls.__name__ in CLASSES
            and str(cls.__module__).split(".")[0] == "bpnetlite")


def is_bpnetlite_checkpoint(obj: Any) -> bool:
    """True for a dict written by :func:`save_bpnetlite` (``bpnet_lite_config`` and ``state_dict``)."""
    return isinstance(obj, dict) and CONFIG_KEY in obj and "state_dict" in obj


def _kind(model: nn.Module) -> str:
    return type(model).__name__


def bpnetlite_config(model: nn.Module) -> dict:
    """The constructor arguments of a bpnet-lite model, read from its attributes and layers.

    Returns
    -------
    dict
        ``{"class": "BPNet" | "BasePairNet", n_filters, n_layers, n_outputs,
        n_control_tracks, trimming, profile_output_bias, count_output_bias, name}``, or
        ``{"class": "ChromBPNet", "bias": {...}, "accessibility": {...}, "name": ...}``.
    """
    if _kind(model) == "ChromBPNet":
        return {"class": "ChromBPNet", "bias": bpnetlite_config(model.bias),
                "accessibility": bpnetlite_config(model.accessibility), "name": str(model.name)}
    return {"class": _kind(model), "n_filters": int(model.n_filters), "n_layers": int(model.n_layers),
            "n_outputs": int(model.n_outputs), "n_control_tracks": int(model.n_control_tracks),
            "trimming": int(model.trimming), "profile_output_bias": model.fconv.bias is not None,
            "count_output_bias": model.linear.bias is not None, "name": str(model.name)}


def _sequence_part(fconv: nn.Conv1d, linear: nn.Linear, n_filters: int) -> tuple[nn.Conv1d, nn.Linear]:
    """``fconv`` and ``linear`` restricted to the trunk's ``n_filters`` channels.

    With all-zero control tracks the control channels of ``fconv`` see zeros and the
    counts input ``log(0 + 1)`` is 0, so these give the same outputs as the full layers.
    """
    conv = nn.Conv1d(n_filters, fconv.out_channels, fconv.kernel_size[0], padding=fconv.padding,
                     dilation=fconv.dilation, bias=fconv.bias is not None)
    lin = nn.Linear(n_filters, linear.out_features, bias=linear.bias is not None)
    with torch.no_grad():
        conv.weight.copy_(fconv.weight[:, :n_filters])
        lin.weight.copy_(linear.weight[:, :n_filters])
        if fconv.bias is not None:
            conv.bias.copy_(fconv.bias)
        if linear.bias is not None:
            lin.bias.copy_(linear.bias)
    conv.requires_grad_(False)
    lin.requires_grad_(False)
    return conv.to(fconv.weight.device, fconv.weight.dtype), lin.to(linear.weight.device, linear.weight.dtype)


def _prefixed(structure: dict, prefix: str) -> dict:
    """``structure`` with ``prefix`` put before every trunk path."""
    def fix(item):
        if isinstance(item, dict):
            return {"residual": [fix(i) for i in item["residual"]]}
        return prefix + item
    return {**structure, "trunk": [fix(i) for i in structure["trunk"]]}


class BPNetLiteNet(nn.Module):
    """A bpnet-lite model called on one-hot sequence alone, control tracks filled with zeros.

    Parameters
    ----------
    model : nn.Module
        A bpnet-lite ``BPNet``, ``ChromBPNet`` or ``BasePairNet`` (kept as ``self.model``).

    Attributes
    ----------
    model : nn.Module
        The bpnet-lite model; its ``forward(X, X_ctl)`` is what runs.
    n_control_tracks : int
        Control tracks the model takes (filled with zeros).
    trimming : int
        Positions cropped from each end of the profile (the accessibility model's for a
        ChromBPNet).
    min_length : int
        Shortest input: ``2 * trimming + 1`` bases (both networks' for a ChromBPNet).
    fconv, linear : nn.Module or None
        For a ``BPNet`` with control tracks: its profile convolution and counts layer
        restricted to the sequence channels (equal to the full layers with zero controls),
        which the fast-ISM structure names; the model's own layers when it has no controls.
    """

    def __init__(self, model: nn.Module):
        super().__init__()
        if not is_bpnetlite_module(model):
            raise TypeError(f"expected a bpnet-lite BPNet, ChromBPNet or BasePairNet; got {type(model).__name__}")
        self.model = model
        self.kind = _kind(model)
        # a ChromBPNet calls its networks without controls
        self.n_control_tracks = 0 if self.kind == "ChromBPNet" else int(model.n_control_tracks or 0)
        if self.kind == "ChromBPNet":
            self.trimming = int(model.accessibility.trimming)
            self.min_length = 2 * max(int(model.accessibility.trimming), int(model.bias.trimming)) + 1
            self.n_outputs = int(model.accessibility.n_outputs)
        else:
            self.trimming = int(model.trimming)
            self.min_length = 2 * self.trimming + 1
            self.n_outputs = int(model.n_outputs)
        self.fconv = self.linear = None
        if self.kind == "BPNet":
            if self.n_control_tracks:
                self.fconv, self.linear = _sequence_part(model.fconv, model.linear, int(model.n_filters))
            else:
                self.fconv, self.linear = model.fconv, model.linear

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(N, 4, L)`` one-hot (ACGT) -> ``(profile (N, n_outputs, L - 2 trimming), counts (N, 1))``."""
        if self.n_control_tracks:
            ctl = torch.zeros(x.shape[0], self.n_control_tracks, x.shape[-1], dtype=x.dtype, device=x.device)
            return self.model(x, ctl)
        return self.model(x)

    def structure(self) -> dict | None:
        """The fast-ISM structure of a ``BPNet`` (trunk on ``self.model``, heads on ``self``),
        or None (plain ISM) for a ``ChromBPNet`` or ``BasePairNet``."""
        if self.kind != "BPNet":
            return None
        m = self.model
        trunk_radius = _FIRST_RADIUS + sum(int(c.dilation[0]) for c in m.rconvs)
        spec = _prefixed(bpnet_structure(len(m.rconvs), self.trimming, _PROFILE_RADIUS,
                                         receptive_field=2 * trunk_radius + 1), "model.")
        # bpnet-lite pools counts over h[max(t - 37, 0) : L - t + 37] (the slice end clips at L)
        spec["heads"][1]["trim"] = max(self.trimming - _PROFILE_RADIUS, 0)
        return spec


def _channels(n_outputs: int) -> list[str]:
    return ["strand 0", "strand 1"] if n_outputs == 2 else [f"task {i}" for i in range(n_outputs)]


def wrap_bpnetlite(model: nn.Module) -> tuple[BPNetLiteNet, dict]:
    """Wrap a bpnet-lite model for the explorer: ``(net, card)``.

    Parameters
    ----------
    model : nn.Module
        A bpnet-lite ``BPNet``, ``ChromBPNet`` or ``BasePairNet`` (e.g. a trusted full pickle).

    Returns
    -------
    net : BPNetLiteNet
        ``net(x)`` for one-hot ``x (N, 4, L)`` returns ``(profile (N, T, L - 2 t), counts (N, 1))``.
    card : dict
        ``name``, ``tasks`` (the profile channels), ``heads`` (``profile``, ``counts``),
        ``min_length`` (``2 t + 1``), ``input_length`` (None: any length from the minimum),
        ``trimming`` and ``profile_offset`` (``t``: profile position ``j`` is input base
        ``t + j``), ``n_control_tracks``, ``structure`` (BPNet only), ``prefer``
        (``"graph"`` for a BPNet without control tracks: fast ISM reads the captured graph
        first, the declared structure is the fallback), ``bpnet_lite_config`` and ``notes``
        (in words: the control tracks, the lengths, the ISM path).
    """
    net = BPNetLiteNet(model).eval()
    t, channels = net.trimming, _channels(net.n_outputs)
    notes = [f"bpnet-lite {net.kind}: takes any input of at least {net.min_length} bp; an input of L bp "
             f"gives a profile of L - {2 * t} positions (from input base {t}) and one count "
             f"(2,114 bp in gives 1,000 out for t = 557, as published)"]
    if net.n_control_tracks:
        notes.append(f"control tracks filled with zeros: the model takes {net.n_control_tracks} control "
                     f"track(s), which the explorer sets to 0, so attributions explain the prediction "
                     f"without a control experiment")
    structure = net.structure()
    notes.append(("fast ISM: read from the model's graph (the trunk and both heads are also declared)"
                  if not net.n_control_tracks else "fast ISM: the trunk and both heads are declared")
                 if structure else
                 f"plain ISM ({'two networks summed' if net.kind == 'ChromBPNet' else 'pre-activation residuals'}: "
                 f"no fast-ISM structure)")
    card: dict = {
        "name": str(getattr(model, "name", None) or net.kind),
        "tasks": channels,
        "heads": [{"name": "profile", "channels": channels}, {"name": "counts", "channels": ["log counts"]}],
        "min_length": net.min_length,
        "input_length": None,
        "trimming": t,
        "profile_offset": t,
        "n_control_tracks": net.n_control_tracks,
        "bpnet_lite_config": bpnetlite_config(model),
        "format": f"bpnet-lite {net.kind}",
        "notes": notes,
    }
    if structure:
        card["structure"] = structure
        card["receptive_field"] = structure["receptive_field"]
        if not net.n_control_tracks:
            # read from the graph, fast ISM clips each layer to what the cropped heads read and
            # rebuilds only the head the target reads: faster than the declared stages here
            card["prefer"] = "graph"
    return net, card


def _import_bpnetlite():
    try:
        import bpnetlite  # noqa: PLC0415 - optional dependency
    except ImportError as exc:
        raise ImportError(f"a bpnet-lite checkpoint needs bpnet-lite, which is not installed ({exc}); install it "
                          f"with: {INSTALL}") from None
    return bpnetlite


def _build(config: dict) -> nn.Module:
    if not isinstance(config, dict):
        raise ValueError(f"'{CONFIG_KEY}' must be a dict of constructor arguments; got {type(config).__name__}")
    kind = config.get("class", "BPNet")
    bpnetlite = _import_bpnetlite()
    if kind == "ChromBPNet":
        missing = [k for k in ("bias", "accessibility") if not isinstance(config.get(k), dict)]
        if missing:
            raise ValueError(f"a ChromBPNet config needs dicts 'bias' and 'accessibility' (the two BPNets' "
                             f"arguments); missing {missing}")
        return bpnetlite.ChromBPNet(_build({**config["bias"], "class": "BPNet"}),
                                    _build({**config["accessibility"], "class": "BPNet"}),
                                    name=config.get("name") or "ChromBPNet")
    if kind not in ("BPNet", "BasePairNet"):
        raise ValueError(f"'{CONFIG_KEY}' names class {kind!r}; expected one of {list(CLASSES)}")
    unknown = sorted(set(config) - set(_BPNET_ARGS) - {"class"})
    if unknown:
        raise ValueError(f"'{CONFIG_KEY}' has unknown keys {unknown}; {kind} takes {list(_BPNET_ARGS)}")
    cls = bpnetlite.BPNet if kind == "BPNet" else bpnetlite.bpnet.BasePairNet
    args = {k: v for k, v in config.items() if k != "class"}
    return cls(**args, verbose=False)


def describe_state_dict(state: dict, prefix: str = "") -> dict | None:
    """The BPNet arguments a bpnet-lite state dict's shapes give (all but ``trimming``), or None.

    Parameters
    ----------
    state : dict
        ``name -> tensor``; keys like ``iconv.weight``, ``rconvs.0.weight``, ``fconv.weight``.
    prefix : str
        ``"bias."`` or ``"accessibility."`` for the networks of a ChromBPNet.
    """
    need = [prefix + k for k in ("iconv.weight", "fconv.weight", "linear.weight")]
    if not all(isinstance(state.get(k), torch.Tensor) for k in need):
        return None
    n_filters = int(state[prefix + "iconv.weight"].shape[0])
    n_layers = sum(1 for k in state if k.startswith(prefix + "rconvs.") and k.endswith(".weight"))
    fconv = state[prefix + "fconv.weight"]
    return {"n_filters": n_filters, "n_layers": n_layers, "n_outputs": int(fconv.shape[0]),
            "n_control_tracks": int(fconv.shape[1]) - n_filters,
            "profile_output_bias": prefix + "fconv.bias" in state,
            "count_output_bias": prefix + "linear.bias" in state}


def from_checkpoint(obj: dict, source: str = "<dict>") -> nn.Module:
    """Build the bpnet-lite model of a :func:`save_bpnetlite` dict and load its weights.

    Raises
    ------
    ValueError
        A config that names no bpnet-lite class, has unknown keys, or does not fit the
        weights (the message gives the arguments the weights' shapes imply).
    ImportError
        bpnet-lite is not installed.
    """
    config = obj[CONFIG_KEY]
    state = obj["state_dict"]
    if not isinstance(state, dict):
        raise ValueError(f"{source}: 'state_dict' holds a {type(state).__name__}, not a dict of tensors")
    try:
        model = _build(config)
    except ImportError as exc:
        raise ImportError(f"{source}: {exc}") from None
    except ValueError as exc:
        raise ValueError(f"{source}: {exc}") from None
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        found = {p or "model": describe_state_dict(state, p) for p in ("", "bias.", "accessibility.")}
        found = {k: v for k, v in found.items() if v}
        raise ValueError(f"{source}: the weights do not fit {CONFIG_KEY} {config}: "
                         f"{str(exc).splitlines()[0]} ... The weights' shapes give {found}; fix the config "
                         f"(trimming is not in the weights: bpnet-lite's default is 47 + 2 + 4 + ... + "
                         f"2**n_layers)") from None
    return model.eval()


def save_bpnetlite(model: nn.Module, path: str | Path) -> Path:
    """Write a bpnet-lite model as a checkpoint that loads with ``weights_only=True``.

    Parameters
    ----------
    model : nn.Module
        A bpnet-lite ``BPNet``, ``ChromBPNet`` or ``BasePairNet``.
    path : str or Path
        Output file (``.pt``): ``{"bpnet_lite_config": ..., "state_dict": ...}``.
    """
    if not is_bpnetlite_module(model):
        raise TypeError(f"save_bpnetlite takes a bpnet-lite BPNet, ChromBPNet or BasePairNet; got "
                        f"{type(model).__name__}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({CONFIG_KEY: bpnetlite_config(model),
                "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()}}, path)
    return path


def recognises(obj: Any) -> bool:
    """True for what :func:`load` takes: a bpnet-lite module, a :func:`save_bpnetlite` dict,
    or a bare bpnet-lite state dict (which :func:`load` refuses, saying what to add)."""
    return (is_bpnetlite_module(obj) or is_bpnetlite_checkpoint(obj)
            or (isinstance(obj, dict) and "state_dict" not in obj and "architecture" not in obj
                and any(describe_state_dict(obj, p) for p in ("", "bias.", "accessibility."))))


def load(obj: Any, source: str = "<object>") -> tuple[BPNetLiteNet, dict, str]:
    """``(net, card, kind)`` of what :func:`torch.load` read from a bpnet-lite file.

    Parameters
    ----------
    obj : nn.Module or dict
        A bpnet-lite module (a trusted full pickle; ``kind`` ``"pickle"``) or a
        :func:`save_bpnetlite` dict (``kind`` ``"checkpoint"``).
    source : str
        The file's name, for messages.

    Raises
    ------
    ValueError
        A bare state dict (weights without the constructor arguments: the message gives
        the arguments its shapes imply and how to save it), or a config that does not fit.
    ImportError
        A checkpoint, and bpnet-lite is not installed.
    """
    if is_bpnetlite_module(obj):
        return (*wrap_bpnetlite(obj), "pickle")
    if is_bpnetlite_checkpoint(obj):
        return (*wrap_bpnetlite(from_checkpoint(obj, source)), "checkpoint")
    found = {p or "model": describe_state_dict(obj, p) for p in ("", "bias.", "accessibility.")}
    found = {k: v for k, v in found.items() if v}
    raise ValueError(
        f"{source} holds a bare bpnet-lite state dict (weights only; their shapes give {found}) "
        f"but not its trimming nor its class. Save it with the constructor arguments: "
        f"torch.save({{'{CONFIG_KEY}': {{'class': 'BPNet', 'n_filters': ..., 'n_layers': ..., "
        f"'n_outputs': ..., 'n_control_tracks': ..., 'trimming': ...}}, 'state_dict': sd}}, path) "
        f"(explorer.io.bpnetlite.save_bpnetlite(model, path) writes it from a bpnet-lite model)")

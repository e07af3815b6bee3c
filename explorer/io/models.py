"""Loading trained models safely, with their model cards.

Two file kinds load without running code from the file:

* **TorchScript** (``torch.jit.save``); its model card travels as the extra file
  ``model_card.json``.
* **Checkpoints** written by :func:`save_checkpoint`: a dict with the architecture's
  name (registered in :mod:`explorer.io.registry`; the networks of :mod:`explorer.nets`
  are registered on import), its constructor arguments, the ``state_dict`` and the model
  card, read with ``torch.load(weights_only=True)``.

A full pickle of a module (``torch.save(model)``) can run arbitrary code when read, so it
loads only with ``trusted=True``.

A model card is a plain dict. Keys the explorer reads:

``tasks`` (list of str, required)
    Output names, one per output channel.
``alphabet`` (str, default ``"ACGT"``)
``min_length`` (int)
    Shortest input the model accepts.
``input_length`` (int or None)
    The one input length the model accepts, or None when any length >= ``min_length`` works.
``receptive_field`` (int, optional), ``structure`` (dict, optional)
    What fast, receptive-field-local ISM needs; the format is documented in
    :mod:`explorer.attribution.structure`.
Anything else (training data, split, metrics, provenance) is kept and shown.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

import explorer.nets  # noqa: F401 - the shipped networks register themselves in the registry
from explorer.io import bpnetlite  # bpnet-lite hook: recognises its models, imports bpnetlite only to build one
from explorer.io.registry import ARCHITECTURES
from explorer.io.torchutil import model_device

CHECKPOINT_FORMAT = "explorer-checkpoint/1"
CARD_FILE = "model_card.json"


class ModelLoadError(ValueError):
    """A model file could not be loaded; the message says why and what to do."""


def default_device() -> torch.device:
    """CUDA when present, else CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


class ExplorerModel(nn.Module):
    """A loaded model with its card: call it on one-hot ``(N, 4, L)`` float32 input.

    Attributes
    ----------
    net : nn.Module
        The wrapped network (a TorchScript module or a registered architecture).
    card : dict
        The model card (see the module docstring).
    tasks : list of str
        Output names.
    min_length : int
        Shortest accepted input, in bases.
    input_length : int or None
        The one accepted input length, or None when any length >= ``min_length`` works.
    source : str
        Where the model came from (a path, or ``"<module>"``).
    kind : str
        ``"checkpoint"``, ``"torchscript"``, ``"pickle"`` or ``"module"``.
    """

    def __init__(self, net: nn.Module, card: dict, source: str = "<module>", kind: str = "module"):
        super().__init__()
        if not card.get("tasks"):
            raise ModelLoadError("the model card must list the model's output names under 'tasks'")
        self.net = net
        self.card = dict(card)
        self.tasks = [str(t) for t in card["tasks"]]
        self.min_length = int(card.get("min_length") or card.get("input_length") or 1)
        self.input_length = card.get("input_length")
        self.source = source
        self.kind = kind
        self._hash: str | None = None
        self.eval()

    def forward(self, x: torch.Tensor):  # noqa: D102 - the wrapped network's forward
        return self.net(x)

    @property
    def heads(self) -> list | None:
        """The card's ``heads`` (names, or dicts with ``name`` and ``channels``), or None."""
        return self.card.get("heads")

    @property
    def device(self) -> torch.device:
        return model_device(self)

    @property
    def name(self) -> str:
        return str(self.card.get("name") or Path(self.source).stem)

    def content_hash(self) -> str:
        """SHA-256 of the weights (names, shapes and values): the cache key of a model."""
        if self._hash is None:
            h = hashlib.sha256()
            h.update(json.dumps(self.tasks).encode())
            for key, value in sorted(self.net.state_dict().items()):
                h.update(key.encode())
                h.update(str(tuple(value.shape)).encode())
                h.update(value.detach().cpu().contiguous().numpy().tobytes())
            self._hash = h.hexdigest()
        return self._hash

    def check_length(self, length: int) -> None:
        """Raise ``ValueError`` if the model cannot take an input of ``length`` bases."""
        if self.input_length is not None and length != int(self.input_length):
            raise ValueError(
                f"model {self.name!r} takes inputs of exactly {self.input_length} bp; got {length} bp"
            )
        if length < self.min_length:
            raise ValueError(
                f"model {self.name!r} needs inputs of at least {self.min_length} bp; got {length} bp"
            )

    def __repr__(self) -> str:
        return (f"ExplorerModel(name={self.name!r}, tasks={self.tasks}, kind={self.kind!r}, "
                f"min_length={self.min_length}, input_length={self.input_length})")


def save_checkpoint(model: nn.Module, path: str | Path, card: dict, config: dict | None = None) -> Path:
    """Write a checkpoint of a registered architecture that loads with ``weights_only=True``.

    Parameters
    ----------
    model : nn.Module
        An instance of a class registered with :func:`explorer.io.registry.register_architecture`.
    path : str or Path
        Output file (``.pt``).
    card : dict
        Model card; must hold ``tasks``.
    config : dict, optional
        Constructor keyword arguments; defaults to ``model.config``.
    """
    name = getattr(model, "architecture_name", None)
    if name not in ARCHITECTURES:
        raise ModelLoadError(
            f"{type(model).__name__} is not a registered architecture; decorate it with "
            f"@explorer.register_architecture('name') first"
        )
    config = dict(config if config is not None else getattr(model, "config", {}))
    payload = {
        "format": CHECKPOINT_FORMAT,
        "architecture": name,
        "config": config,
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "card": json.loads(json.dumps(card)),
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(payload, path)
    return path


def export_torchscript(model: nn.Module, path: str | Path, card: dict, example_length: int = 1000) -> Path:
    """Export ``model`` as TorchScript with ``card`` embedded as ``model_card.json``.

    Scripting is tried first; tracing on a ``(1, 4, example_length)`` input is the fallback.
    """
    model = model.eval().cpu()
    try:
        scripted = torch.jit.script(model)
    except Exception:  # noqa: BLE001 - tracing is the documented fallback
        scripted = torch.jit.trace(model, torch.zeros(1, 4, example_length))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.jit.save(scripted, str(path), _extra_files={CARD_FILE: json.dumps(card)})
    return path


def _is_torchscript(path: Path) -> bool:
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
    return any(n.endswith("/constants.pkl") for n in names) and any("/code/" in n for n in names)


def load_model(
    path: str | Path,
    *,
    trusted: bool = False,
    device: str | torch.device | None = None,
    tasks: list[str] | None = None,
    card: dict | None = None,
    check_output: bool = True,
) -> ExplorerModel:
    """Load a TorchScript file or a checkpoint of a registered architecture.

    Parameters
    ----------
    path : str or Path
        A TorchScript file, or a checkpoint written by :func:`save_checkpoint`.
    trusted : bool
        Allow a full pickle (``torch.save(model)``), which can run arbitrary code when read.
        Only for files whose source you trust.
    device : str or torch.device, optional
        Where to put the model; CUDA when present, else CPU.
    tasks : list of str, optional
        Output names, for a file whose card lacks them (overrides the card's).
    card : dict, optional
        Extra model-card entries (override the file's).
    check_output : bool
        Run the model once on a short all-zero input and check its output fits the tasks.

    Returns
    -------
    ExplorerModel
        In eval mode, on ``device``, with ``tasks``, ``min_length``, ``input_length``, ``card``.

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    ModelLoadError
        The file is not a model, is an untrusted full pickle, names an unknown architecture,
        lacks task names, or its output does not fit.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"model file not found: {path}")
    device = torch.device(device) if device is not None else default_device()
    overrides = dict(card or {})
    if tasks is not None:
        overrides["tasks"] = list(tasks)

    if _is_torchscript(path):
        extra = {CARD_FILE: ""}
        try:
            net = torch.jit.load(str(path), map_location="cpu", _extra_files=extra)
        except Exception as exc:  # noqa: BLE001
            raise ModelLoadError(f"{path.name} looks like TorchScript but could not be loaded: {exc}") from exc
        file_card = json.loads(extra[CARD_FILE]) if extra[CARD_FILE] else {}
        model = _wrap(net, {**file_card, **overrides}, path, "torchscript")
    else:
        obj = _torch_load(path, trusted)
        # -- bpnet-lite hook (explorer.io.bpnetlite): a trusted pickle or a weights-only checkpoint
        if bpnetlite.recognises(obj):
            try:
                net, file_card, kind = bpnetlite.load(obj, path.name)
            except (ValueError, ImportError) as exc:
                raise ModelLoadError(str(exc)) from None
            model = _wrap(net, {**file_card, **overrides}, path, kind)
        # -- end of the bpnet-lite hook
        elif isinstance(obj, nn.Module):
            file_card = dict(getattr(obj, "model_card", None) or getattr(obj, "card", None) or {})
            if not file_card.get("tasks") and hasattr(obj, "tasks"):
                file_card["tasks"] = list(obj.tasks)
            model = _wrap(obj, {**file_card, **overrides}, path, "pickle")
        elif isinstance(obj, dict) and "architecture" in obj and "state_dict" in obj:
            model = _from_checkpoint(obj, overrides, path)
        elif isinstance(obj, dict) and obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
            raise ModelLoadError(
                f"{path.name} holds a bare state_dict (weights only, no architecture). Save it "
                f"with explorer.save_checkpoint(model, path, card) from a registered architecture, "
                f"or export TorchScript with explorer.export_torchscript(model, path, card)."
            )
        else:
            raise ModelLoadError(
                f"{path.name} is a PyTorch file but holds a {type(obj).__name__}, not a model. Expected "
                f"TorchScript or a checkpoint written by explorer.save_checkpoint."
            )
    model = model.to(device).eval()
    if check_output:
        check_model_output(model)
    return model


def _torch_load(path: Path, trusted: bool) -> Any:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        if not trusted:
            raise ModelLoadError(
                f"{path.name} is a full Python pickle: reading it can run arbitrary code "
                f"(torch.load with weights_only=True refused it). If you "
                f"trust where it came from, load it with trusted=True (in the app: tick "
                f"'I trust this file'); better, export it as TorchScript."
            ) from None
    except Exception as exc:  # noqa: BLE001 - torch raises many types for non-model files
        raise ModelLoadError(
            f"{path.name} is not a PyTorch model file ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0][:200] if str(exc) else 'unreadable'}). Expected TorchScript "
            f"(torch.jit.save) or a checkpoint written by explorer.save_checkpoint."
        ) from None
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # noqa: BLE001
        raise ModelLoadError(f"{path.name} could not be unpickled: {exc}") from exc


def _from_checkpoint(obj: dict, overrides: dict, path: Path) -> ExplorerModel:
    name = obj["architecture"]
    if name not in ARCHITECTURES:
        raise ModelLoadError(
            f"{path.name} needs the architecture {name!r}, which is not registered. Registered: "
            f"{sorted(ARCHITECTURES)}. Import the module that defines it (decorated with "
            f"@explorer.register_architecture({name!r})) before loading."
        )
    net = ARCHITECTURES[name](**obj.get("config", {}))
    try:
        net.load_state_dict(obj["state_dict"])
    except RuntimeError as exc:
        raise ModelLoadError(f"{path.name}: the weights do not fit architecture {name!r}: {exc}") from None
    return _wrap(net, {**obj.get("card", {}), **overrides}, path, "checkpoint")


def _wrap(net: nn.Module, card: dict, path: Path, kind: str) -> ExplorerModel:
    if not card.get("tasks"):
        raise ModelLoadError(
            f"{path.name} carries no task names (model card 'tasks'). Pass tasks=[...] to "
            f"load_model, one name per output channel."
        )
    return ExplorerModel(net, card, source=str(path), kind=kind)


def check_model_output(model: ExplorerModel, length: int | None = None) -> tuple:
    """Run ``model`` on one all-zero input and check the output fits its tasks.

    Accepted outputs: a tensor ``(N, T)`` (one score per task) or ``(N, T, L_out)``
    (a profile per task), or a tuple/list whose first tensor has one of these shapes.

    Returns
    -------
    tuple
        The output shape (of the first tensor for tuple outputs).

    Raises
    ------
    ModelLoadError
        If the model fails on the input, or the output does not have ``T == len(tasks)``.
    """
    length = int(length or model.input_length or max(model.min_length, 200))
    x = torch.zeros(1, 4, length, device=model.device)
    try:
        with torch.no_grad():
            y = model(x)
    except Exception as exc:  # noqa: BLE001
        raise ModelLoadError(
            f"model {model.name!r} failed on a (1, 4, {length}) one-hot input: "
            f"{type(exc).__name__}: {str(exc).splitlines()[0][:300] if str(exc) else ''}. "
            f"Models must take one-hot DNA of shape (N, 4, L) in ACGT order."
        ) from None
    first = y[0] if isinstance(y, (tuple, list)) else y
    if not isinstance(first, torch.Tensor) or first.ndim not in (2, 3) or first.shape[0] != 1:
        shape = tuple(first.shape) if isinstance(first, torch.Tensor) else type(first).__name__
        raise ModelLoadError(
            f"model {model.name!r} returned output of shape {shape} for a (1, 4, {length}) input; "
            f"expected (N, n_tasks) or (N, n_tasks, L_out)"
        )
    if first.shape[1] != len(model.tasks):
        raise ModelLoadError(
            f"model {model.name!r} returns {first.shape[1]} output channels (shape "
            f"{tuple(first.shape)}) but its card names {len(model.tasks)} tasks {model.tasks}; "
            f"give one task name per output channel"
        )
    return tuple(first.shape)


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

``tasks`` (list of str)
    Output names, one per output channel (for a tuple output: one per head, or one per
    channel of the heads that have that many). Found as ``task 0``, ... when absent.
``heads`` (list)
    For tuple/dict outputs: one name (or ``{"name", "channels"}``) per head, in order;
    found as ``output 0``, ... (tuples) or the keys (dicts) when absent.
``alphabet`` (str, default ``"ACGT"``)
``min_length`` (int)
    Shortest input the model accepts.
``input_length`` (int or None)
    The one input length the model accepts, or None when any length >= ``min_length`` works.
``input_layout`` (``"NCL"`` or ``"NLC"``, default found)
    ``"NLC"``: the model takes one-hot as ``(N, L, 4)``; it is wrapped to take ``(N, 4, L)``.
``kind`` (``"predictor"``, the default, or ``"masked_lm"``)
    ``"masked_lm"``: a masked DNA language model, one-hot ``(N, 4, L)`` (a masked base is
    an all-zero column) to logits ``(N, 4, L)`` over A, C, G, T; its attribution methods are
    those of :mod:`explorer.attribution.masked_lm`. ``max_length`` (int, optional) is then
    the longest input it takes. A Hugging Face masked-LM folder (:mod:`explorer.io.hf_lm`)
    loads as one.
``receptive_field`` (int, optional), ``structure`` (dict, optional)
    What fast, receptive-field-local ISM needs; the format is documented in
    :mod:`explorer.attribution.structure`.
``output_bins`` (dict, optional), ``default_window`` (``[start, end]`` bins, optional)
    Binned outputs (Enformer, Borzoi): ``{"size", "offset", "count"}`` in bases of the input
    (:mod:`explorer.io.bins`); the bins a profile target reads by default.
``track_aliases`` (dict, optional)
    Other names of tasks (an ENCODE identifier -> the track's description).
``ism_max_mutants`` (int, optional), ``deeplift_unsupported`` (str, optional)
    The ISM refusal limit (:mod:`explorer.attribution.cost`); why DeepLIFT/SHAP is refused.
Anything else (training data, split, metrics, provenance) is kept and shown.

Nothing of the card is required: :func:`load_model` runs the model to find its input
lengths and outputs (:mod:`explorer.io.probing`), and a user's corrections are kept as a
side-car card beside the file (:mod:`explorer.io.cards`).
"""

from __future__ import annotations

import hashlib
import json
import pickle
import warnings
import zipfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

import explorer.nets  # noqa: F401 - the shipped networks register themselves in the registry
from explorer.io import hf_lm
from explorer.io import bpnetlite  # recognises bpnet-lite models; imports bpnetlite only to build one
from explorer.io import longcontext  # recognises Enformer/Borzoi folders; imports their packages only to build one
from explorer.io.cards import read_card, save_card
from explorer.io.probing import ModelFacts, NoLengthFits, batch_dependence, inspect_model, model_error_text
from explorer.io.registry import ARCHITECTURES
from explorer.io.torchutil import ChannelsLast, model_device

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
        ``"checkpoint"``, ``"torchscript"``, ``"pickle"``, ``"huggingface"`` or ``"module"`` (the file kind;
        the model kind, predictor or masked LM, is the card's ``kind``).
    """

    def __init__(self, net: nn.Module, card: dict, source: str = "<module>", kind: str = "module"):
        super().__init__()
        if not card.get("tasks") and not card.get("heads"):
            raise ModelLoadError("the model card must name the model's outputs: 'tasks' (one per output "
                                 "channel) or 'heads' (one per element of a tuple output)")
        self.net = net
        self.card = dict(card)
        self.tasks = [str(t) for t in card.get("tasks") or []]
        self.facts: ModelFacts | None = None
        self.report = ""
        self.min_length = int(card.get("min_length") or card.get("input_length") or 1)
        self.input_length = card.get("input_length")
        self.source = source
        self.kind = kind
        self._hash: str | None = None
        self.eval()

    def forward(self, x: torch.Tensor):  # noqa: D102 - the wrapped network's forward
        return self.net(x)

    @property
    def device(self) -> torch.device:
        return model_device(self)

    @property
    def name(self) -> str:
        return str(self.card.get("name") or Path(self.source).stem)

    @property
    def heads(self) -> list | None:
        """The card's head names (or ``{"name", "channels"}`` dicts) for tuple/dict outputs."""
        return self.card.get("heads")

    def save_card(self, path: str | Path | None = None) -> Path:
        """Write the card as a side-car beside the model file (or in the cache when that
        folder is read-only), so the next :func:`load_model` of the file reads it.

        Parameters
        ----------
        path : str or Path, optional
            The model file (default: :attr:`source`).

        Returns
        -------
        Path
            Where the card was written.
        """
        target = Path(path or self.source)
        if not target.is_file():
            raise ValueError(f"the card is saved beside the model file, and {target.name} is not a file")
        return save_card(self.card, target)

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
                + (f": choose a window of at least {self.input_length} bp" if length < int(self.input_length)
                   else "")
            )
        if length < self.min_length:
            raise ValueError(
                f"model {self.name!r} needs inputs of at least {self.min_length} bp; got {length} bp"
            )

    def __repr__(self) -> str:
        tasks = self.tasks if len(self.tasks) <= 8 else [*self.tasks[:4], f"... {len(self.tasks):,} in all"]
        return (f"ExplorerModel(name={self.name!r}, tasks={tasks}, kind={self.kind!r}, "
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
    heads: list | None = None,
    input_length: int | None = None,
    card: dict | None = None,
    check_output: bool = True,
    targets: str | Path | None = None,
) -> ExplorerModel:
    """Load a model file with nothing but its path; find what its card does not say.

    Parameters
    ----------
    path : str or Path
        A TorchScript file (scripted or traced), a checkpoint written by
        :func:`save_checkpoint`, (with ``trusted=True``) a full pickle of a module, a
        local Hugging Face masked-LM folder (:mod:`explorer.io.hf_lm`; needs the ``hf`` extra),
        or an Enformer/Borzoi folder (``config.json`` + weights, :mod:`explorer.io.longcontext`).
    trusted : bool
        Allow a full pickle (``torch.save(model)``), which can run arbitrary code when read.
        Only for files whose source you trust.
    device : str or torch.device, optional
        Where to put the model; CUDA when present, else CPU.
    tasks : list of str, optional
        Channel names (or, for a tuple output, one name per head); override the card's.
    heads : list, optional
        Head names, or dicts ``{"name", "channels"}``, one per element of a tuple/dict output.
    input_length : int, optional
        The one input length the model takes (skips the search).
    card : dict, optional
        Extra model-card entries (override the file's and the side-car card's).
    check_output : bool
        Run the model to find its input lengths and outputs, and check the card against
        them (:func:`explorer.io.probing.inspect_model`). The result is ``model.facts``, in
        words ``model.report``. A model whose output for a sequence depends on the other
        sequences of its batch, or changes from run to run, is loaded with a ``UserWarning``
        (also in ``model.facts.warnings`` and the report), since its maps would change with
        the batch size (:func:`explorer.io.probing.batch_dependence`). An Enformer/Borzoi
        folder is not run: its config says all of it.
    targets : str or Path, optional
        Enformer/Borzoi: the basenji targets table naming the tracks (default: a
        ``targets.txt`` in the folder or beside it).

    Returns
    -------
    ExplorerModel
        In eval mode, on ``device``. Card entries, lowest priority first: the file's own
        card, the side-car card (:func:`explorer.io.cards.read_card`), what was found by
        running the model, then ``card``, ``tasks``, ``heads``, ``input_length``.

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    ModelLoadError
        The path is a folder, the file is not a model, is an untrusted full pickle, names an
        unknown architecture, fails on every input length tried, or its card contradicts
        its output.
    """
    path = Path(path)
    # both kinds of folder hold a config.json: the long-context models are recognised by its contents
    if path.is_dir() and longcontext.recognise_folder(path):
        return _load_folder(path, device=device, card=card, tasks=tasks, input_length=input_length, targets=targets)
    if hf_lm.is_hf_folder(path):
        return _load_hf_folder(path, device, card, check_output)
    if path.is_dir():
        raise ModelLoadError(f"{path.name} is a folder, not a model file (nor an Enformer/Borzoi folder with its "
                             f"config.json); choose the model file inside it")
    if not path.is_file():
        raise FileNotFoundError(f"model file not found: {path.name}")
    device = _device(device)
    overrides = dict(card or {})
    for key, value in (("tasks", tasks), ("heads", heads), ("input_length", input_length)):
        if value is not None:
            overrides[key] = list(value) if key != "input_length" else int(value)
    net, file_card, kind = _read_model(path, trusted)
    try:
        side_card, _where = read_card(path)
    except ValueError as exc:
        raise ModelLoadError(str(exc)) from None
    return build_model(net, {**file_card, **side_card}, overrides, source=str(path), kind=kind, device=device,
                       check_output=check_output)


def _load_hf_folder(path: Path, device, card: dict | None, check_output: bool) -> ExplorerModel:
    """A local Hugging Face masked-LM folder (:mod:`explorer.io.hf_lm`) as an ExplorerModel."""
    try:
        net, hf_card = hf_lm.load_hf_masked_lm(path)
    except (ImportError, ValueError) as exc:
        raise ModelLoadError(str(exc)) from None
    return build_model(net, hf_card, dict(card or {}), source=str(path), kind="huggingface", device=_device(device),
                       check_output=check_output)


def _load_folder(path: Path, *, device, card: dict | None, tasks, input_length, targets) -> ExplorerModel:
    """An Enformer/Borzoi folder as an :class:`ExplorerModel` (see :mod:`explorer.io.longcontext`)."""
    overrides = dict(card or {})
    if input_length is not None:
        overrides["input_length"] = overrides["min_length"] = int(input_length)
    try:
        net, found, kind = longcontext.load_folder(path, targets=targets, card=overrides)
    except (ValueError, ImportError, FileNotFoundError) as exc:
        raise ModelLoadError(str(exc)) from None
    if tasks is not None:
        overrides["tasks"] = list(tasks)
    device = _device(device)
    return build_model(net, found, overrides, source=str(path), kind=kind, device=device, check_output=False)


def _device(device) -> torch.device:
    """The device asked for (default :func:`default_device`), checked to exist."""
    try:
        device = torch.device(device) if device is not None else default_device()
    except (RuntimeError, TypeError) as exc:
        raise ModelLoadError(f"device must be 'cpu', 'cuda', 'cuda:N' or 'mps'; got {device!r}") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ModelLoadError(f"device {str(device)!r} was asked for, but this machine has no CUDA device "
                             f"(or PyTorch was built without CUDA); use device='cpu'")
    return device


def build_model(net: nn.Module, file_card: dict, overrides: dict | None = None, *, source: str = "<module>",
                kind: str = "module", device: torch.device | str = "cpu", check_output: bool = True
                ) -> ExplorerModel:
    """Wrap a network as an :class:`ExplorerModel`, finding its lengths and heads.

    Parameters
    ----------
    net : nn.Module
        Takes one-hot ``(N, 4, L)``.
    file_card : dict
        What the file says (may be empty).
    overrides : dict, optional
        What the user says; wins over the file and over what was found.
    source, kind : str
        See :class:`ExplorerModel`.
    device : torch.device or str
    check_output : bool
        Probe the model (see :func:`load_model`); without it the card must name the tasks.

    Raises
    ------
    ModelLoadError
        See :func:`load_model`.
    """
    overrides = dict(overrides or {})
    given = {k: v for k, v in {**file_card, **overrides}.items() if v is not None}
    net = net.to(device).eval()
    facts = None
    if str(given.get("kind", "")).lower() == "masked_lm":
        merged = {"tasks": list("ACGT"), "input_length": None, **given}
        if merged.get("input_layout") == "NLC":
            net = ChannelsLast(net)
        if check_output:
            check_masked_lm(net, device, merged, Path(source).name)
        model = ExplorerModel(net, merged, source=source, kind=kind)
        model.report = (f"masked language model: logits over A, C, G, T at every position of a one-hot input "
                        f"(a masked base is an all-zero column)")
        return model
    if check_output:
        try:
            facts = inspect_model(net, device, input_length=overrides.get("input_length") or
                                  file_card.get("input_length"),
                                  min_length=None if overrides.get("input_length") else given.get("min_length"),
                                  layout=given.get("input_layout"))
        except NoLengthFits as exc:
            raise ModelLoadError(f"{Path(source).name}: {exc}") from None
        except ValueError as exc:
            raise ModelLoadError(f"{Path(source).name}: {exc}") from None
        found = facts.to_card()
        if given.get("heads") and facts.output_type != "tensor":
            found.pop("heads", None)
        merged = {**{k: v for k, v in found.items() if v is not None or k == "input_length"}, **given}
        if "input_length" not in given:
            merged["input_length"] = found["input_length"]
        merged.setdefault("tasks", _default_tasks(facts))
        _check_card(merged, facts, Path(source).name)
    else:
        merged = given
        if not merged.get("tasks") and not merged.get("heads"):
            raise ModelLoadError(f"{Path(source).name}: without running the model (check_output=False) its "
                                 f"card must name its outputs (tasks)")
    if merged.get("input_layout") == "NLC":
        net = ChannelsLast(net)
    model = ExplorerModel(net, merged, source=source, kind=kind)
    if facts is not None and merged.get("heads") and len(merged["heads"]) == len(facts.heads):
        for head, declared in zip(facts.heads, merged["heads"]):  # say the heads' given names
            head["name"] = str(declared.get("name", head["name"]) if isinstance(declared, dict) else declared)
    model.facts = facts
    if facts is not None:
        _check_batches(model, facts, device)
    model.report = facts.describe() if facts is not None else ""
    return model


def check_masked_lm(net: nn.Module, device: torch.device | str, card: dict, name: str) -> None:
    """A masked LM must map one-hot ``(N, 4, L)`` (masked = zero column) to finite logits ``(N, 4, L)``.

    Runs it once on two random sequences of ``min(64, max_length)`` bp (at least the card's
    ``min_length``), one base masked.

    Raises
    ------
    ModelLoadError
        The call fails, or the output has another shape or is not finite; the message says
        what was found.
    """
    longest = card.get("max_length") or card.get("input_length")
    length = int(card.get("input_length") or max(int(card.get("min_length") or 1), min(64, int(longest or 64))))
    gen = torch.Generator().manual_seed(0)
    x = torch.nn.functional.one_hot(torch.randint(0, 4, (2, length), generator=gen), 4).permute(0, 2, 1).float()
    x[:, :, length // 2] = 0
    try:
        with torch.inference_mode():
            out = net(x.to(device))
    except Exception as exc:  # noqa: BLE001 - any failure of the user's model is reported in words
        raise ModelLoadError(f"{name}: the masked language model failed on a one-hot input of shape (2, 4, {length}): "
                             f"{model_error_text(exc)}") from None
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != (2, 4, length):
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ModelLoadError(f"{name}: a masked language model (kind 'masked_lm') must return logits of shape "
                             f"(N, 4, L); for an input of shape (2, 4, {length}) it returned {shape}. Is it a "
                             f"masked LM? If not, drop 'kind': 'masked_lm' from its card")
    if not bool(torch.isfinite(out).all()):
        raise ModelLoadError(f"{name}: the masked language model returned NaN or Inf logits for a random "
                             f"sequence; check the model")


def _check_batches(model: ExplorerModel, facts: ModelFacts, device: torch.device | str) -> None:
    """Warn (and note in ``facts.warnings``) when the model's output for a sequence depends on
    the rest of its batch or on the run (:func:`explorer.io.probing.batch_dependence`)."""
    words = batch_dependence(model.net, device, int(model.input_length or facts.probe_length))
    if words:
        facts.warnings.append(words)
        warnings.warn(f"model {model.name!r}: {words}", UserWarning, stacklevel=4)


def _default_tasks(facts: ModelFacts) -> list[str]:
    """Channel names for a single-tensor output (``task i``); none for tuple/dict heads."""
    if facts.output_type != "tensor":
        return []
    return [f"task {i}" for i in range(facts.heads[0]["shape"][1])]


def _check_card(card: dict, facts: ModelFacts, name: str) -> None:
    """The card's tasks and heads must fit the output found; say what was found if not."""
    shapes = ", ".join(f"{h['name'] or 'output'} {tuple(h['shape'])}" for h in facts.heads)
    tasks = card.get("tasks") or []
    if facts.output_type == "tensor":
        n = facts.heads[0]["shape"][1]
        if tasks and len(tasks) != n:
            raise ModelLoadError(
                f"model {name!r} returns {n} output channels (shape {tuple(facts.heads[0]['shape'])}) but its "
                f"card names {len(tasks)} tasks {list(tasks)}; give one task name per output channel")
        return
    declared = card.get("heads")
    if declared and len(declared) != len(facts.heads):
        raise ModelLoadError(f"model {name!r} returns {len(facts.heads)} heads ({shapes}) but its card names "
                             f"{len(declared)} heads; give one name per head")
    channels = {h["shape"][1] for h in facts.heads}
    if tasks and len(tasks) != len(facts.heads) and len(tasks) not in channels:
        raise ModelLoadError(f"model {name!r} returns {len(facts.heads)} heads ({shapes}); its card's "
                             f"{len(tasks)} task names fit neither the heads nor any head's channels")


def _read_model(path: Path, trusted: bool) -> tuple[nn.Module, dict, str]:
    """``(net, the file's own card, kind)`` of a model file."""
    if _is_torchscript(path):
        extra = {CARD_FILE: ""}
        try:
            net = torch.jit.load(str(path), map_location="cpu", _extra_files=extra)
        except Exception as exc:  # noqa: BLE001
            raise ModelLoadError(f"{path.name} looks like TorchScript but could not be loaded: "
                                 f"{model_error_text(exc)}") from exc
        try:
            file_card = json.loads(extra[CARD_FILE]) if extra[CARD_FILE] else {}
        except json.JSONDecodeError as exc:
            raise ModelLoadError(f"{path.name}: its embedded model card is not valid JSON ({exc})") from None
        return net, file_card, "torchscript"
    obj = _torch_load(path, trusted)
    if bpnetlite.recognises(obj):  # a trusted bpnet-lite pickle or its weights-only checkpoint
        try:
            return bpnetlite.load(obj, path.name)
        except (ValueError, ImportError) as exc:
            raise ModelLoadError(str(exc)) from None
    if isinstance(obj, nn.Module):
        file_card = dict(getattr(obj, "model_card", None) or getattr(obj, "card", None) or {})
        if not file_card.get("tasks") and isinstance(getattr(obj, "tasks", None), (list, tuple)):
            file_card["tasks"] = list(obj.tasks)
        return obj, file_card, "pickle"
    if isinstance(obj, dict) and "architecture" in obj and "state_dict" in obj:
        net, file_card = _from_checkpoint(obj, path)
        return net, file_card, "checkpoint"
    if isinstance(obj, dict) and obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ModelLoadError(
            f"{path.name} holds a bare state_dict (weights only, no architecture). Save it "
            f"with explorer.save_checkpoint(model, path, card) from a registered architecture, "
            f"or export TorchScript with explorer.export_torchscript(model, path, card)."
        )
    raise ModelLoadError(
        f"{path.name} is a PyTorch file but holds a {type(obj).__name__}, not a model. Expected "
        f"TorchScript or a checkpoint written by explorer.save_checkpoint."
    )


def _torch_load(path: Path, trusted: bool) -> Any:
    with open(path, "rb") as fh:
        head = fh.read(2)
    if not head:
        raise ModelLoadError(f"{path.name} is empty (0 bytes): it holds no model; copy or export the model file "
                             f"again")
    if not zipfile.is_zipfile(path) and not (len(head) == 2 and head[0] == 0x80 and 2 <= head[1] <= 5):
        # torch.save writes a zip (or, before PyTorch 1.6, a pickle starting with 0x80 and its
        # protocol): anything else is not a model file, whatever the unpickler would say
        raise ModelLoadError(
            f"{path.name} is not a PyTorch model file (it is neither a zip written by torch.save nor a "
            f"pickle). Expected TorchScript (torch.jit.save) or a checkpoint written by "
            f"explorer.save_checkpoint.")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        if not trusted:
            raise ModelLoadError(
                f"{path.name} is a full Python pickle: reading it can run arbitrary code "
                f"(torch.load with weights_only=True refused it). If you "
                f"trust where it came from, load it with trusted=True; better, export it as TorchScript."
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


def _from_checkpoint(obj: dict, path: Path) -> tuple[nn.Module, dict]:
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
    return net, dict(obj.get("card", {}))

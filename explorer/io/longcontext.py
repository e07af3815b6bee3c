"""Enformer and Borzoi folders (Hugging Face ``save_pretrained``) as explorer models.

Users hold these long-context models as the weights of
`enformer-pytorch <https://github.com/lucidrains/enformer-pytorch>`_ and
`borzoi-pytorch <https://github.com/johahi/borzoi-pytorch>`_ (optional extras ``enformer``
and ``borzoi``): a folder with ``config.json`` (``model_type`` ``"enformer"``, ``"borzoi"``
or ``"prime"``) and ``pytorch_model.bin`` or ``model.safetensors``, downloaded once, plus
the basenji targets table that names the output tracks (``targets.txt``: tab-separated,
columns ``index, identifier, file, clip, scale, sum_stat, description``; extra columns are
kept). :func:`load_folder` builds the model with the package's own ``from_pretrained``
(``local_files_only=True``: nothing is downloaded; the weights are read by transformers,
which refuses pickled code in ``.bin`` files) and wraps it to take the explorer's one-hot
``(N, 4, L)``:

* **Enformer** takes ``(N, L, 4)`` and returns a dict of heads ``(N, bins, tracks)``; the
  wrapper feeds it ``x.transpose(1, 2)`` and returns one head (``human`` unless the card
  says ``species``) as ``(N, tracks, bins)``.
* **Borzoi** takes ``(N, 4, L)`` and returns ``(N, tracks, bins)``; the human head unless
  the card says ``species: mouse``.

The card says what the folder implies: ``tasks`` (track names), ``input_length``,
``output_bins`` (:mod:`explorer.io.bins`), ``default_window`` (the central bins),
``track_aliases`` (identifier -> track name), ``ism_max_mutants`` (the ISM refusal limit,
see :func:`explorer.attribution.cost.ism_cost`), ``deeplift_unsupported`` (why DeepLIFT/SHAP
is refused: softmax attention), ``fast_ism: false`` (attention over the whole input leaves
nothing local, so ISM is plain) and ``architecture``.

Track names: the description (``"CAGE:HepG2"``) when it is unique in the table, else
``"description (identifier)"``; the identifier (``"ENCFF..."``) always works as an alias.
Without a table the tracks are ``"track 0"``, ...

Memory: the wrapped network checkpoints its blocks when a gradient is taken
(:class:`explorer.io.torchutil.Checkpointed`), so gradient x input and integrated gradients
over a 196,608 bp input fit in a workstation's memory.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import torch
from torch import nn

from explorer.io.bins import OutputBins, central_bins
from explorer.io.torchutil import checkpoint_blocks, checkpoint_children

__all__ = ["ARCHITECTURES", "recognise_folder", "read_targets", "track_names", "EnformerNet", "BorzoiNet",
           "load_folder", "wrap_enformer", "wrap_borzoi"]

#: config.json ``model_type`` -> architecture; the package that builds it
ARCHITECTURES = {"enformer": "enformer_pytorch", "borzoi": "borzoi_pytorch", "prime": "borzoi_pytorch"}
INSTALL = {"enformer_pytorch": "pip install --no-deps enformer-pytorch==0.8.12 (make install does it)",
           "borzoi_pytorch": "pip install --no-deps borzoi-pytorch==0.5.1 (make install does it)"}
TARGET_FILES = ("targets.txt", "targets_human.txt", "targets.tsv")
#: the published input lengths
ENFORMER_LENGTH, BORZOI_LENGTH = 196_608, 524_288
#: ISM refusal limit for these models (mutants, i.e. full forward passes): a 100 bp sub-window
ISM_MAX_MUTANTS = 300


def recognise_folder(folder: str | Path) -> str | None:
    """The architecture (``"enformer"``, ``"borzoi"``, ``"prime"``) of a Hugging Face folder, or None.

    Judged by ``config.json``'s ``model_type``; the packages are not imported.
    """
    config = Path(folder) / "config.json"
    if not config.is_file():
        return None
    try:
        kind = json.loads(config.read_text()).get("model_type")
    except (OSError, json.JSONDecodeError, AttributeError):
        return None
    return kind if kind in ARCHITECTURES else None


def read_targets(path: str | Path) -> pd.DataFrame:
    """Read a basenji targets table (tab-separated, a header row with ``identifier`` and
    ``description``; the first, unnamed column is the track index).

    Returns
    -------
    pandas.DataFrame
        One row per track, in output order, with at least ``identifier`` and ``description``.

    Raises
    ------
    ValueError
        The file cannot be read as a table, or lacks those columns (named, with what it has).
    """
    path = Path(path)
    try:
        table = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise ValueError(f"the targets table {path.name} could not be read as a tab-separated table: {exc}") from None
    first = table.columns[0] if len(table.columns) else ""
    if str(first).startswith("Unnamed") or str(first).lower() in ("index", ""):
        table = table.drop(columns=first)
    missing = [c for c in ("identifier", "description") if c not in table.columns]
    if missing:
        raise ValueError(f"the targets table {path.name} has no column {' and '.join(missing)} (its columns: "
                         f"{list(table.columns)}); a basenji targets.txt has index, identifier, file, clip, scale, "
                         f"sum_stat, description")
    return table.reset_index(drop=True)


def track_names(table: pd.DataFrame) -> tuple[list[str], dict[str, str]]:
    """``(names, aliases)`` of the tracks of a targets table.

    A unique description is the name; a repeated one becomes ``"description (identifier)"``.
    ``aliases`` maps every identifier (and every unique description's lowercase form is
    already the name) to the track's name.
    """
    desc = table["description"].astype(str).str.strip()
    ident = table["identifier"].astype(str).str.strip()
    repeated = desc.duplicated(keep=False)
    names = [f"{d} ({i})" if r else d for d, i, r in zip(desc, ident, repeated)]
    aliases = {i: n for i, n in zip(ident, names) if i and i != n}
    return names, aliases


class EnformerNet(nn.Module):
    """An enformer-pytorch ``Enformer`` called on one-hot ``(N, 4, L)``, one head out.

    ``forward(x) = enformer(x.transpose(1, 2), head=species).transpose(1, 2)``: ``(N, tracks, bins)``.
    """

    def __init__(self, enformer: nn.Module, species: str = "human", checkpoint: bool = True):
        super().__init__()
        heads = dict(getattr(enformer, "output_heads", {}) or {})
        if species not in heads:
            raise ValueError(f"this Enformer has the heads {sorted(heads)}; got species={species!r}")
        if checkpoint:
            for block in (enformer.stem, enformer.conv_tower, enformer.transformer, enformer.final_pointwise):
                checkpoint_blocks(block)  # in place: the Enformer's own trunk holds these blocks
        self.enformer, self.species = enformer, species

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return self.enformer(x.transpose(1, 2), head=self.species).transpose(1, 2)


class BorzoiNet(nn.Module):
    """A borzoi-pytorch ``Borzoi`` (or ``Prime``) called on one-hot ``(N, 4, L)``: ``(N, tracks, bins)``."""

    def __init__(self, borzoi: nn.Module, species: str = "human", checkpoint: bool = True):
        super().__init__()
        if species not in ("human", "mouse"):
            raise ValueError(f"Borzoi has a human and (if enabled) a mouse head; got species={species!r}")
        if species == "mouse" and not getattr(borzoi, "enable_mouse_head", False):
            raise ValueError("this Borzoi has no mouse head (enable_mouse_head is false in its config.json); use "
                             "species='human'")
        if checkpoint:
            checkpoint_children(borzoi, ["conv_dna", "res_tower", "unet1", "transformer", "separable1",
                                         "separable0", "final_joined_convs"])
        self.borzoi, self.species = borzoi, species

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return self.borzoi(x, is_human=self.species == "human")


def _import(package: str):
    try:
        return __import__(package)
    except ImportError as exc:
        raise ImportError(f"this folder holds a {package.split('_')[0].capitalize()} model, which needs the "
                          f"package {package}: {INSTALL[package]} ({exc})") from None


def _enformer_geometry(config, input_length: int | None) -> tuple[int, OutputBins]:
    """``(input_length, bins)`` of an Enformer config (published: 196,608 bp, 896 x 128 bp)."""
    size = 2 ** int(config.num_downsamples)
    target = int(config.target_length)
    if input_length is None:
        if target == 896 and size == 128:
            input_length = ENFORMER_LENGTH
        else:  # the published proportions: 320 bins cropped on each side of 896
            input_length = (target + 2 * math.ceil(target * 320 / 896)) * size
    input_length = int(input_length)
    n_in = input_length // size
    if input_length % size or (target > 0 and (n_in < target or (n_in - target) % 2)):
        raise ValueError(f"this Enformer pools the input into bins of {size} bp and crops the central {target} bins: "
                         f"the input length must be a multiple of {size} bp giving at least {target} bins, with an "
                         f"even number of bins cropped; got input_length={input_length:,}")
    count = target if target > 0 else n_in
    return input_length, OutputBins(size, (n_in - count) // 2 * size, count)


def _borzoi_geometry(model: nn.Module, kind: str, input_length: int | None) -> tuple[int, OutputBins]:
    """``(input_length, bins)`` of a Borzoi (32 bp bins) or Prime (16 bp bins)."""
    size = 16 if kind == "prime" else 32
    count = int(model.crop.target_length)
    if input_length is None:
        published = 12288 if kind == "prime" else 6144
        if count in (published, BORZOI_LENGTH // size - 32):  # the central bins, or all but 16 each side
            input_length = BORZOI_LENGTH
        else:  # the published proportions, rounded up to whole 128 bp steps of the trunk
            side = math.ceil(count * (BORZOI_LENGTH // size - published) / (2 * published))
            input_length = -(-(count + 2 * side) * size // 256) * 256
    input_length = int(input_length)
    n_in = input_length // size
    if input_length % 128 or n_in < count or (n_in - count) % 2:
        raise ValueError(f"this {kind.capitalize()} pools the input by 128 bp, returns bins of {size} bp and crops the "
                         f"central {count} bins: the input length must be a multiple of 128 bp giving at least {count} "
                         f"bins, with an even number cropped; got input_length={input_length:,}")
    return input_length, OutputBins(size, (n_in - count) // 2 * size, count)


def wrap_enformer(enformer: nn.Module, *, species: str = "human", input_length: int | None = None,
                  checkpoint: bool = True) -> tuple[EnformerNet, dict]:
    """``(net, card)`` of an enformer-pytorch ``Enformer`` (tracks named ``track i``).

    Parameters
    ----------
    enformer : Enformer
    species : str
        The output head (``"human"``, ``"mouse"``).
    input_length : int, optional
        Default: 196,608 bp for the published geometry, else the same proportions.
    checkpoint : bool
        Checkpoint the blocks when gradients are taken (see the module docstring).
    """
    length, bins = _enformer_geometry(enformer.config, input_length)
    n_tracks = int(dict(enformer.output_heads)[species]) if species in enformer.output_heads else 0
    net = EnformerNet(enformer, species, checkpoint)
    return net, _card("enformer", length, bins, n_tracks, species)


def wrap_borzoi(borzoi: nn.Module, *, kind: str = "borzoi", species: str = "human", input_length: int | None = None,
                checkpoint: bool = True) -> tuple[BorzoiNet, dict]:
    """``(net, card)`` of a borzoi-pytorch ``Borzoi`` or ``Prime`` (see :func:`wrap_enformer`)."""
    length, bins = _borzoi_geometry(borzoi, kind, input_length)
    head = borzoi.human_head if species == "human" else getattr(borzoi, "mouse_head", None)
    net = BorzoiNet(borzoi, species, checkpoint)
    return net, _card(kind, length, bins, int(head.out_channels) if head is not None else 0, species)


def _card(kind: str, length: int, bins: OutputBins, n_tracks: int, species: str) -> dict:
    return {"architecture": kind, "species": species, "input_length": length, "min_length": length,
            "input_layout": "NCL", "output_bins": bins.to_dict(),
            "default_window": list(central_bins(bins.count, bins.size)),
            "tasks": [f"track {i}" for i in range(n_tracks)], "ism_max_mutants": ISM_MAX_MUTANTS,
            "fast_ism": False,  # every bin sees the whole input through attention: nothing is local
            "deeplift_unsupported": f"{kind.capitalize()}'s self-attention (and Enformer's attention pooling) "
                                    f"normalise with softmax, which has no DeepLIFT rule, so the map would not add "
                                    f"up to the output; use method='ig' (integrated gradients) or 'saliency'",
            "notes": f"{kind.capitalize()} ({species} head): {n_tracks} tracks in {bins.count} bins of {bins.size} bp, "
                     f"the first starting {bins.offset:,} bp into the {length:,} bp input"}


def find_targets(folder: Path, targets: str | Path | None) -> Path | None:
    """The targets table: ``targets`` if given (must exist), else one of :data:`TARGET_FILES`
    in the folder or beside it, else None."""
    if targets is not None:
        path = Path(targets)
        if not path.is_file():
            raise FileNotFoundError(f"targets table not found: {path}")
        return path
    for where in (folder, folder.parent):
        for name in TARGET_FILES:
            if (where / name).is_file():
                return where / name
    return None


def load_folder(folder: str | Path, *, targets: str | Path | None = None, card: dict | None = None
                ) -> tuple[nn.Module, dict, str]:
    """``(net, card, kind)`` of an Enformer/Borzoi folder, nothing downloaded.

    Parameters
    ----------
    folder : str or Path
        Holds ``config.json`` and the weights (``save_pretrained``).
    targets : str or Path, optional
        The targets table; default ``targets.txt`` (or ``targets_human.txt``) in the folder or
        beside it.
    card : dict, optional
        The user's card entries; ``species`` and ``input_length`` are read here.

    Raises
    ------
    ValueError
        Not such a folder, weights that do not fit, a targets table that does not fit the
        tracks (its row count and the model's track count named).
    ImportError
        The package the folder needs is not installed (the message says how to install it).
    """
    folder = Path(folder)
    kind = recognise_folder(folder)
    if kind is None:
        raise ValueError(f"{folder.name} has no config.json of an Enformer or Borzoi model (model_type enformer, "
                         f"borzoi or prime)")
    card = dict(card or {})
    species = str(card.get("species") or "human")
    length = card.get("input_length")
    package = _import(ARCHITECTURES[kind])
    cls = {"enformer": "Enformer", "borzoi": "Borzoi", "prime": "Prime"}[kind]
    try:
        model = getattr(package, cls).from_pretrained(str(folder), local_files_only=True)
    except (OSError, ValueError, RuntimeError) as exc:
        raise ValueError(f"{folder.name}: the {cls} weights could not be read: {str(exc).splitlines()[0][:300]}"
                         ) from None
    model = model.eval()
    if kind == "enformer":
        net, found = wrap_enformer(model, species=species, input_length=length)
    else:
        net, found = wrap_borzoi(model, kind=kind, species=species, input_length=length)
    table_path = find_targets(folder, targets)
    if table_path is not None:
        table = read_targets(table_path)
        if len(table) != len(found["tasks"]):
            raise ValueError(f"the targets table {table_path.name} names {len(table):,} tracks, but the model's "
                             f"{species} head has {len(found['tasks']):,}; give the table of this model "
                             f"(targets=path)")
        found["tasks"], found["track_aliases"] = track_names(table)
        found["targets_file"] = str(table_path)
    else:
        found["notes"] += "; no targets table found, so the tracks are numbered (give targets=path to name them)"
    found["name"] = folder.name
    return net, found, kind

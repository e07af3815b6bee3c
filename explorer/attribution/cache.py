"""On-disk cache of attribution results.

Where: ``$EXPLORER_CACHE_DIR`` if set, else ``~/.cache/attribution-explorer``; results
live in its ``attributions/`` folder as ``<key>.npz`` (values, one-hot) plus
``<key>.json`` (everything else). The key is a SHA-256 of: the model's content hash
(``ExplorerModel.content_hash()``; for a plain ``nn.Module`` a hash of its class name
and ``state_dict``), the whole input sequence (one-hot bytes), the window, the method,
the target and the method's options. Files are written atomically; a missing, partial
or corrupt entry is a miss (and is removed), never an error.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from explorer.attribution.diagnostics import Diagnostics
from explorer.attribution.result import Attribution
from explorer.io.cachefiles import atomic_write as _atomic_write, cache_root

#: bump when the stored numbers would change for the same key
CACHE_VERSION = 1


def cache_dir() -> Path:
    """The attribution cache folder (created on first write)."""
    return cache_root() / "attributions"


def model_hash(model: nn.Module) -> str:
    """A content hash of the model's weights (``content_hash()`` when it has one)."""
    if callable(getattr(model, "content_hash", None)):
        return str(model.content_hash())
    # the weights of a plain module can change between calls: hash them every time
    h = hashlib.sha256(type(model).__qualname__.encode())
    for key, value in sorted(model.state_dict().items()):
        h.update(key.encode())
        h.update(str(tuple(value.shape)).encode())
        h.update(value.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().tolist()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return repr(value)


def cache_key(model: nn.Module, one_hot: torch.Tensor, start: int, end: int, method: str,
              target: dict, options: dict) -> str:
    """The SHA-256 key of one request (see the module docstring)."""
    h = hashlib.sha256()
    h.update(f"explorer-attribution/{CACHE_VERSION}".encode())
    h.update(model_hash(model).encode())
    h.update(one_hot.detach().cpu().to(torch.float32).contiguous().numpy().tobytes())
    h.update(str(tuple(one_hot.shape)).encode())
    payload = {"start": int(start), "end": int(end), "method": method, "target": _jsonable(target),
               "options": _jsonable(options)}
    h.update(json.dumps(payload, sort_keys=True).encode())
    return h.hexdigest()


def load(key: str) -> Attribution | None:
    """The cached result for ``key`` (``diagnostics.cache_hit`` True), or None."""
    folder = cache_dir()
    npz, meta = folder / f"{key}.npz", folder / f"{key}.json"
    if not (npz.is_file() and meta.is_file()):
        return None
    try:
        record = json.loads(meta.read_text())
        with np.load(npz, allow_pickle=False) as arrays:
            values = torch.from_numpy(arrays["values"].astype(np.float32))
            one_hot = torch.from_numpy(arrays["one_hot"].astype(np.float32))
        diagnostics = Diagnostics.from_dict(record["diagnostics"])
        diagnostics.cache_hit = True
        return Attribution(values=values, one_hot=one_hot, method=record["method"],
                           target=record["target"], start=record["start"], end=record["end"],
                           chrom=record["chrom"], genome_start=record["genome_start"],
                           options=record["options"], diagnostics=diagnostics,
                           device=record["device"], seconds=record["seconds"])
    except Exception:  # noqa: BLE001 - a corrupt entry is a miss
        for path in (npz, meta):
            try:
                path.unlink()
            except OSError:
                pass
        return None


def save(key: str, result: Attribution) -> Path | None:
    """Store ``result`` under ``key``; returns the ``.npz`` path, or None if not writable."""
    folder = cache_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        record = {
            "method": result.method, "target": result.target, "start": result.start,
            "end": result.end, "chrom": result.chrom, "genome_start": result.genome_start,
            "options": _jsonable(result.options),
            "diagnostics": _jsonable({k: v for k, v in result.diagnostics.to_dict().items() if k != "cache_hit"}),
            "device": result.device, "seconds": result.seconds,
        }
        _atomic_write(folder / f"{key}.npz", lambda f: np.savez(
            f, values=result.values.detach().cpu().numpy(), one_hot=result.one_hot.detach().cpu().numpy()))
        _atomic_write(folder / f"{key}.json", lambda f: f.write(json.dumps(record).encode()))
        return folder / f"{key}.npz"
    except OSError:
        return None

"""Shards: the unit of work and of storage of a batch run.

A shard is a run of consecutive regions (indices ``[k * size, (k + 1) * size)`` of the
region table). A worker computes a shard and writes it at once (:func:`write_shard`:
temporary file, then ``os.replace``), so a killed run leaves only whole shards; a rerun
reads them back (:func:`read_shard`) and computes only what is missing or failed.

One shard file ``shards/shard-<k>.npz`` (read with ``allow_pickle=False``) holds, for its
``n`` regions of length ``L``:

============== ================ =====================================================
key            shape, dtype     what
============== ================ =====================================================
index          (n,) int64       region indices (rows of ``regions.tsv``)
status         (n,) str         ``"ok"`` or ``"failed"``
reason         (n,) str         why a region failed (empty when ok)
seconds        (n,) float64     wall time of the region's attribution
score          (n,) float64     ``f(x)``, the target's value on the region (NaN if failed)
chrom_length   (n,) int64       length of the region's chrom (0 if failed)
ohe            (n, 4, L) uint8  one-hot of the region (ACGT rows)
values         (n, 4, L) f32    ``Attribution.values`` exactly as ``explorer.attribute``
                                returned it (zeros if failed)
seq_*          (m,)             the seqlet table, one row per seqlet
                                (:data:`SEQLET_KEYS`)
============== ================ =====================================================
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from explorer.io.cachefiles import atomic_write

#: seqlet columns stored in a shard (``seq_<name>``): region index, genome coordinates
#: (0-based half-open), the caller's score, p-value and sign, and the best motif match
SEQLET_KEYS = {"region": np.int64, "start": np.int64, "end": np.int64, "score": np.float64,
               "p_value": np.float64, "sign": str, "motif": str, "matrix_id": str,
               "motif_p_value": np.float64, "motif_q_value": np.float64, "strand": str}
#: per-region keys of a shard
REGION_KEYS = ("index", "status", "reason", "seconds", "score", "chrom_length")


def shard_path(out: str | Path, shard: int) -> Path:
    """``out/shards/shard-<shard>.npz``."""
    return Path(out) / "shards" / f"shard-{int(shard):06d}.npz"


def write_shard(path: str | Path, arrays: dict[str, np.ndarray]) -> None:
    """Write a shard's arrays atomically (``np.savez``, no pickled objects)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda f: np.savez(f, **arrays))


def read_shard(path: str | Path) -> dict[str, np.ndarray] | None:
    """A shard's arrays, or None when the file is missing or unreadable (then it is redone)."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (OSError, ValueError, EOFError):
        return None
    if not set(REGION_KEYS) <= set(arrays) or {"ohe", "values"} - set(arrays):
        return None
    return arrays


def empty_seqlets() -> dict[str, list]:
    """An empty seqlet column store, keyed like :data:`SEQLET_KEYS`."""
    return {k: [] for k in SEQLET_KEYS}


def seqlet_arrays(columns: dict[str, list]) -> dict[str, np.ndarray]:
    """``seq_<name>`` arrays of the typed seqlet columns."""
    return {f"seq_{k}": np.asarray(columns[k], dtype=t) if columns[k] else np.zeros(0, dtype=t if t is not str else "U1")
            for k, t in SEQLET_KEYS.items()}


def shard_seqlets(arrays: dict[str, np.ndarray], keep=None) -> dict[str, list]:
    """The seqlet columns of a shard as lists (only the regions in ``keep``, if given)."""
    region = arrays.get("seq_region", np.zeros(0, np.int64))
    mask = np.ones(len(region), bool) if keep is None else np.isin(region, list(keep))
    return {k: list(arrays[f"seq_{k}"][mask]) if f"seq_{k}" in arrays else [] for k in SEQLET_KEYS}

"""The files of a finished batch run, assembled shard by shard (one shard in memory at a time).

``ohe.npz``, ``attr.npz``
    ``arr_0`` of shape ``(N, 4, L)`` float32, region order of ``regions.tsv`` (the BED
    order), as ``modisco motifs -s ohe.npz -a attr.npz`` reads them. ``attr.npz`` holds the
    hypothetical contributions where the method gives them: for ISM the mean-centred map
    (:func:`explorer.center_ism`, each position's 4 values minus their mean); the gradient
    methods' public maps are already projected on the observed base, so for them it is that
    projection (hypothetical = actual contribution). Failed regions are rows of zeros.
``attr.bw``
    bigWig of the per-base contribution on the reference
    (:attr:`~explorer.Attribution.per_base`), one value per base of every computed region,
    genome coordinates. Where regions overlap, a base takes the value of the first region
    (sorted by chrom and start) that covers it.
``seqlets.bed``
    BED6+ (0-based half-open): chrom, start, end, name (best motif's TF name, else
    ``.``), score (the caller's seqlet score), strand (the motif's orientation, ``.`` if
    none), then region, p_value, sign, matrix_id, motif_p_value, motif_q_value. A ``#``
    header line names the columns.
``regions.tsv``
    One row per region: index, name, chrom, start, end (BED coordinates), status
    (``computed`` / ``reused`` / ``failed``), reason, seconds, score (``f(x)``), n_seqlets.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd

from explorer.batch.shards import SEQLET_KEYS, read_shard
from explorer.io.cachefiles import atomic_write

#: columns of ``seqlets.bed``
SEQLET_BED_COLUMNS = ["chrom", "start", "end", "name", "score", "strand", "region", "p_value", "sign",
                      "matrix_id", "motif_p_value", "motif_q_value"]
#: columns of ``regions.tsv``
REGIONS_TSV_COLUMNS = ["index", "name", "chrom", "start", "end", "status", "reason", "seconds", "score",
                       "n_seqlets"]


def write_npz_stream(path: str | Path, shape: tuple[int, ...], chunks: Iterable[np.ndarray],
                     dtype=np.float32) -> None:
    """Write ``arr_0`` of ``shape`` to an ``.npz`` from consecutive row blocks, atomically.

    The array is never whole in memory: each chunk is written into the zip entry as it
    comes (``np.load`` reads the file as one array).
    """
    dtype = np.dtype(dtype)
    rows = 0

    def write(f):
        nonlocal rows
        with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
            with zf.open("arr_0.npy", "w", force_zip64=True) as out:
                np.lib.format.write_array_header_1_0(out, {"descr": np.lib.format.dtype_to_descr(dtype),
                                                           "fortran_order": False, "shape": tuple(shape)})
                for chunk in chunks:
                    chunk = np.ascontiguousarray(chunk, dtype=dtype)
                    rows += len(chunk)
                    out.write(chunk.tobytes())
        if rows != shape[0]:
            raise ValueError(f"{Path(path).name}: {rows} rows written for a shape of {shape}")

    atomic_write(path, write)


def hypothetical(method: str, values: np.ndarray, options: dict) -> np.ndarray:
    """``(n, 4, L)``: what ``attr.npz`` holds for a block of maps (see the module docstring)."""
    if method == "ism" and not options.get("ism_centered"):
        import torch

        from explorer.attribution.ism import center_ism

        return np.stack([center_ism(torch.from_numpy(v)).numpy() for v in values]) if len(values) else values
    return values


def write_bigwig(path: str | Path, entries: Iterable[tuple[str, int, np.ndarray]],
                 chrom_lengths: dict[str, int]) -> None:
    """A bigWig of per-base values, via pyBigWig, written to a temporary file then moved.

    Parameters
    ----------
    entries : iterable of (chrom, start, values)
        Sorted by chrom (in the order of ``chrom_lengths``) and start; ``start`` 0-based,
        ``values`` ``(L,)``, one per base. Bases already written (overlaps) are skipped.
    chrom_lengths : dict
        chrom -> length, the file's header (order kept).
    """
    import pyBigWig

    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    bw = pyBigWig.open(str(tmp), "w")
    try:
        bw.addHeader([(c, int(n)) for c, n in chrom_lengths.items()], maxZooms=10)
        written: dict[str, int] = {}
        for chrom, start, values in entries:
            a = max(int(start), written.get(chrom, 0))
            b = int(start) + len(values)
            if a >= b:
                continue
            bw.addEntries(chrom, a, values=np.asarray(values[a - int(start):], dtype=np.float64), span=1, step=1)
            written[chrom] = b
    finally:
        bw.close()
    os.replace(tmp, path)


def assemble(out: str | Path, regions: pd.DataFrame, summary: pd.DataFrame, shard_size: int, length: int,
             method: str, options: dict) -> None:
    """Write ``ohe.npz``, ``attr.npz``, ``attr.bw``, ``seqlets.bed`` and ``regions.tsv`` from the shards.

    ``summary`` holds this run's per-region ``status``, ``reason``, ``seconds``, ``score``
    and ``n_seqlets`` (rows in region order).
    """
    from explorer.batch.shards import shard_path

    out = Path(out)
    n = len(regions)
    n_shards = -(-n // shard_size)
    shape = (n, 4, length)

    def blocks(key):
        for k in range(n_shards):
            arrays = read_shard(shard_path(out, k))
            if key == "ohe":
                yield arrays["ohe"].astype(np.float32)
            else:
                yield hypothetical(method, arrays["values"], options)

    write_npz_stream(out / "ohe.npz", shape, blocks("ohe"))
    write_npz_stream(out / "attr.npz", shape, blocks("attr"))

    table = regions.merge(summary, on="index", how="left")[REGIONS_TSV_COLUMNS]
    atomic_write(out / "regions.tsv", lambda f: f.write(table.to_csv(sep="\t", index=False).encode()))
    _write_seqlets_and_bigwig(out, regions, table, shard_size, n_shards, method, options)


def _write_seqlets_and_bigwig(out: Path, regions: pd.DataFrame, table: pd.DataFrame, shard_size: int,
                              n_shards: int, method: str, options: dict) -> None:
    from explorer.batch.results import per_base
    from explorer.batch.shards import shard_path

    seqlets = []
    lengths: dict[str, int] = {}
    for k in range(n_shards):
        arrays = read_shard(shard_path(out, k))
        seqlets.append(pd.DataFrame({c: arrays[f"seq_{c}"] for c in SEQLET_KEYS}))
        for chrom, size in zip(regions["chrom"].to_numpy()[k * shard_size:(k + 1) * shard_size],
                               arrays["chrom_length"]):
            lengths[chrom] = max(lengths.get(chrom, 0), int(size))
    s = pd.concat(seqlets, ignore_index=True)
    s["chrom"] = regions["chrom"].to_numpy()[s["region"].to_numpy(np.int64)] if len(s) else []
    bed = pd.DataFrame({"chrom": s["chrom"], "start": s["start"], "end": s["end"],
                        "name": s["motif"].where(s["motif"] != "", "."), "score": s["score"],
                        "strand": s["strand"], "region": s["region"], "p_value": s["p_value"], "sign": s["sign"],
                        "matrix_id": s["matrix_id"].where(s["matrix_id"] != "", "."),
                        "motif_p_value": s["motif_p_value"], "motif_q_value": s["motif_q_value"]})
    bed = bed.sort_values(["chrom", "start", "end"], kind="stable")
    text = "#" + "\t".join(SEQLET_BED_COLUMNS) + "\n" + bed.to_csv(sep="\t", index=False, header=False)
    atomic_write(out / "seqlets.bed", lambda f: f.write(text.encode()))

    chroms = {c: lengths[c] for c in sorted(lengths) if lengths[c] > 0}
    ok = table[table["status"] != "failed"].sort_values(["chrom", "start"], kind="stable")
    ok = ok[ok["chrom"].isin(chroms)]

    def entries():
        cached: dict[int, dict] = {}
        for row in ok.itertuples():
            k = int(row.index) // shard_size
            if k not in cached:
                cached.clear()  # one shard in memory (a sorted BED reads each shard once)
                cached[k] = read_shard(shard_path(out, k))
            arrays = cached[k]
            j = int(row.index) - k * shard_size
            yield row.chrom, int(row.start), per_base(method, arrays["values"][j], arrays["ohe"][j], options)

    if chroms:
        write_bigwig(out / "attr.bw", entries(), chroms)
    else:  # every region failed: no bigWig (an empty one has no chrom to hold)
        (out / "attr.bw").unlink(missing_ok=True)

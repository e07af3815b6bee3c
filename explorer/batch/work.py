"""What a worker does with one shard: ``explorer.attribute`` on each region, seqlets, motifs.

Every region's map is ``explorer.attribute(model, locus, method, target, **options)`` on
the locus ``explorer.load_locus(genome, region=(chrom, start, end))`` (see
:mod:`explorer.batch.genome`), the same call the app makes, so a region's numbers are those
of the app and of a script, with one worker, many, or a remote cluster. The on-disk
attribution cache is not used (the shards are this run's store).

A region that raises is recorded (``status "failed"`` and the message) and the shard goes
on. Functions here run in worker processes: they take only picklable arguments and keep the
model in a per-process cache.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from explorer.batch.genome import region_locus
from explorer.batch.shards import (empty_seqlets, read_shard, seqlet_arrays, shard_path, shard_seqlets,
                                   write_shard)


@dataclass(frozen=True)
class AttributionJob:
    """Everything a worker needs besides its regions (picklable, sent to every worker).

    Attributes
    ----------
    model, genome, out : str
        Model file, genome file (FASTA or GenBank) and output folder (reachable by every
        worker: with a remote scheduler, on a shared file system).
    method : str
        ``"ism"``, ``"ig"``, ``"deeplift_shap"`` or ``"saliency"``.
    target : str, int or None
        As for :func:`explorer.attribute`.
    options : dict
        Method and target options for :func:`explorer.attribute`.
    seqlets : dict
        Options of :func:`explorer.call_seqlets`.
    torch_threads : int or None
        ``torch.set_num_threads`` in the worker (None: leave it).
    trusted : bool
        Passed to :func:`explorer.load_model` (full pickles).
    """

    model: str
    genome: str
    out: str
    method: str
    target: str | int | None = None
    options: dict = field(default_factory=dict)
    seqlets: dict = field(default_factory=dict)
    torch_threads: int | None = None
    trusted: bool = False


@functools.lru_cache(maxsize=2)
def _model(path: str, stamp: tuple, trusted: bool):
    import explorer as ex

    return ex.load_model(path, trusted=trusted)


def load_job_model(job: AttributionJob):
    """The job's model, loaded once per process (reloaded if the file changes)."""
    stat = Path(job.model).stat()
    return _model(str(Path(job.model).resolve()), (stat.st_size, stat.st_mtime_ns), job.trusted)


def _set_threads(n: int | None) -> None:
    if n:
        import torch

        if torch.get_num_threads() != n:
            torch.set_num_threads(n)


def attribute_region(job: AttributionJob, model, chrom: str, start: int, end: int, database=None):
    """``(attribution, seqlets, matches)`` of one region (0-based half-open on ``chrom``).

    ``matches`` is the best motif per seqlet (:func:`explorer.match_motifs`, ``top_k=1``)
    or None without a database.
    """
    import explorer as ex

    locus = region_locus(job.genome, chrom, start, end)
    res = ex.attribute(model, locus, job.method, job.target, cache=False, **dict(job.options))
    seqlets = ex.call_seqlets(res, **dict(job.seqlets))
    matches = None
    if database is not None and len(seqlets):
        matches = ex.match_motifs(res, seqlets, database, top_k=1, n_jobs=1)
    return res, seqlets, matches, locus.chrom_length


def _add_seqlets(columns: dict, region: int, res, seqlets: pd.DataFrame, matches) -> None:
    best = {} if matches is None else {int(r.seqlet): r for r in matches.itertuples() if int(r.rank) == 1}
    for k, row in enumerate(seqlets.itertuples()):
        hit = best.get(k)
        columns["region"].append(region)
        columns["start"].append(int(row.genome_start))
        columns["end"].append(int(row.genome_end))
        columns["score"].append(float(row.score))
        columns["p_value"].append(float(row.p_value))
        columns["sign"].append(str(row.sign))
        columns["motif"].append("" if hit is None else str(hit.tf_name))
        columns["matrix_id"].append("" if hit is None else str(hit.matrix_id))
        columns["motif_p_value"].append(np.nan if hit is None else float(hit.p_value))
        columns["motif_q_value"].append(np.nan if hit is None else float(hit.q_value))
        columns["strand"].append("." if hit is None else str(hit.orientation))


def attribute_shard(job: AttributionJob, shard: int, regions: pd.DataFrame, length: int,
                    database=None) -> pd.DataFrame:
    """Compute (or reuse) the regions of one shard and write the shard file atomically.

    Parameters
    ----------
    job : AttributionJob
    shard : int
        Shard number (file ``shards/shard-<shard>.npz`` under ``job.out``).
    regions : pandas.DataFrame
        The shard's rows of the region table (``index``, ``chrom``, ``start``, ``end``).
    length : int
        Every region's length ``L``.
    database : MotifDatabase, optional
        Known motifs for the seqlets' best match.

    Returns
    -------
    pandas.DataFrame
        One row per region: ``index``, ``status`` (``computed`` / ``reused`` / ``failed``),
        ``reason``, ``seconds``, ``score``, ``n_seqlets``.
    """
    _set_threads(job.torch_threads)
    path = shard_path(job.out, shard)
    old = read_shard(path)
    indices = regions["index"].to_numpy(np.int64)
    done = {}
    if old is not None and np.array_equal(old["index"], indices) and old["values"].shape[-1] == length:
        done = {int(i): k for k, i in enumerate(old["index"]) if old["status"][k] == "ok"}
    n = len(indices)
    arrays = {"index": indices, "status": np.full(n, "failed", dtype="U6"), "reason": [""] * n,
              "seconds": np.zeros(n), "score": np.full(n, np.nan), "chrom_length": np.zeros(n, np.int64),
              "ohe": np.zeros((n, 4, length), np.uint8), "values": np.zeros((n, 4, length), np.float32)}
    columns = shard_seqlets(old, keep=done) if done else empty_seqlets()
    status = []
    model = None
    for k, row in enumerate(regions.itertuples()):
        i = int(row.index)
        if i in done:
            j = done[i]
            for key in ("status", "seconds", "score", "chrom_length", "ohe", "values"):
                arrays[key][k] = old[key][j]
            status.append("reused")
            continue
        try:
            model = model if model is not None else load_job_model(job)
            tic = time.perf_counter()
            res, seqlets, matches, chrom_length = attribute_region(job, model, row.chrom, int(row.start),
                                                                   int(row.end), database)
            arrays["seconds"][k] = time.perf_counter() - tic
        except Exception as exc:  # a failed region is recorded, not fatal
            arrays["reason"][k] = " ".join(f"{type(exc).__name__}: {exc}".split())
            status.append("failed")
            continue
        arrays["status"][k] = "ok"
        arrays["score"][k] = float(res.diagnostics.get("reference_score", np.nan))
        arrays["chrom_length"][k] = int(chrom_length or 0)
        arrays["ohe"][k] = res.one_hot.numpy().astype(np.uint8)
        arrays["values"][k] = res.values.numpy()
        _add_seqlets(columns, i, res, seqlets, matches)
        status.append("computed")
    arrays["reason"] = np.asarray(arrays["reason"], dtype=str)
    arrays.update(seqlet_arrays(columns))
    write_shard(path, arrays)
    counts = pd.Series(columns["region"], dtype=np.int64).value_counts()
    return pd.DataFrame({"index": indices, "status": status, "reason": arrays["reason"],
                         "seconds": arrays["seconds"], "score": arrays["score"],
                         "n_seqlets": [int(counts.get(i, 0)) for i in indices]})

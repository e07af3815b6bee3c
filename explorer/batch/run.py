"""``run_attribution``: attribution maps for every region of a BED file, resumable, on Dask.

Coordinates: BED (0-based half-open) on the genome file's sequence names throughout.
"""

from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from explorer.batch.executors import default_workers, executor
from explorer.batch.outputs import assemble
from explorer.batch.regions import read_regions
from explorer.batch.results import read_regions_tsv
from explorer.batch.shards import read_shard, shard_path
from explorer.batch.work import AttributionJob, attribute_shard, load_job_model
from explorer.io.cachefiles import atomic_write

#: target options of :func:`explorer.attribute` (besides each method's own)
TARGET_OPTIONS = ("reduce", "window", "output")


@dataclass
class BatchResult:
    """What :func:`run_attribution` did.

    Attributes
    ----------
    out : Path
        The output folder.
    regions : pandas.DataFrame
        ``regions.tsv`` as written (one row per region, BED order).
    """

    out: Path
    regions: pd.DataFrame

    @property
    def counts(self) -> dict[str, int]:
        """Regions per status (``computed``, ``reused``, ``failed``)."""
        return {k: int(v) for k, v in self.regions["status"].value_counts().items()}


def check_options(method: str, options: dict) -> None:
    """Refuse an unknown method or option before any worker starts (names the allowed ones)."""
    from explorer.attribution.api import METHODS

    if method not in METHODS:
        raise ValueError(f"--method must be one of {sorted(METHODS)}; got {method!r}")
    unknown = sorted(set(options) - set(METHODS[method]) - set(TARGET_OPTIONS))
    if unknown:
        raise ValueError(f"unknown option(s) {unknown} for method {method!r}; its options are "
                         f"{sorted(METHODS[method]) or 'none'} (and target options {list(TARGET_OPTIONS)})")


def load_database(motifs):
    """``None`` (no motif matching), a :class:`~explorer.MotifDatabase`, ``"jaspar"`` or a MEME file path."""
    import explorer as ex

    if motifs is None or isinstance(motifs, ex.MotifDatabase):
        return motifs
    if str(motifs).lower() in ("none", ""):
        return None
    if str(motifs).lower() == "jaspar":
        return ex.jaspar()
    return ex.read_meme(motifs)


def _digest(value) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:16]


def write_manifest(out: Path, manifest: dict) -> None:
    """Write ``run.json``; refuse a folder holding a run with other parameters."""
    manifest = json.loads(json.dumps(manifest, default=str))  # as it reads back (tuples as lists)
    path = out / "run.json"
    if path.is_file():
        old = json.loads(path.read_text())
        changed = sorted(k for k in manifest if k != "regions" and old.get(k) != manifest[k])
        if changed:
            words = "; ".join(f"{k}: {old.get(k)!r} then, {manifest[k]!r} now" for k in changed)
            raise ValueError(f"{out} holds a run with other settings ({words}); give a new --out folder, or delete "
                             f"{out} to start again")
        return
    out.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda f: f.write(json.dumps(manifest, indent=1).encode()))


def run_attribution(model: str | Path, genome: str | Path, regions, out: str | Path, method: str = "ism",
                    target: str | int | None = None, *, width: int | None = None, workers: int | None = None,
                    scheduler: str | None = None, processes: bool = True, shard_size: int = 16,
                    motifs="jaspar", seqlet_options: dict | None = None, torch_threads: int | None = None,
                    trusted: bool = False, progress: bool = True, announce=print, **options) -> BatchResult:
    """Attribute a model on every region of a BED file; write the run's files to ``out``.

    Each region's map is :func:`explorer.attribute` on
    ``explorer.load_locus(genome, region=(chrom, start, end))`` (:mod:`explorer.batch.work`),
    so it equals what the app and a script compute there, whatever runs the shards.

    Parameters
    ----------
    model : str or Path
        A model file :func:`explorer.load_model` reads.
    genome : str or Path
        FASTA (indexed or bgzip: read region by region) or GenBank holding the regions' chroms.
    regions : str, Path or pandas.DataFrame
        BED file (0-based half-open), or a table from :func:`~explorer.batch.regions.read_regions`.
    out : str or Path
        Output folder (created). A rerun with the same folder and settings reuses the
        regions already computed; other settings are refused.
    method, target, **options
        As for :func:`explorer.attribute` (method options and ``reduce``/``window``/``output``).
    width : int, optional
        Centre every region on this many bases (needed when the BED's lengths differ).
    workers : int, optional
        Local Dask cluster of this many worker processes (default: the machine's cores);
        1 runs in this process.
    scheduler : str, optional
        Address of a running Dask scheduler; the workers must reach ``model``, ``genome``
        and ``out`` at the same paths (a shared file system).
    processes : bool
        Local cluster of processes (default) or threads.
    shard_size : int
        Regions per shard (unit of work, storage and of what a kill can lose).
    motifs : None, "jaspar", str or MotifDatabase
        Database for each seqlet's best match (:func:`explorer.match_motifs`); a path is
        a MEME file; None skips matching.
    seqlet_options : dict, optional
        Options of :func:`explorer.call_seqlets`.
    torch_threads : int, optional
        Torch threads per worker (default: the machine's cores divided by the workers).
    trusted : bool
        Allow a full-pickle model file (see :func:`explorer.load_model`).
    progress : bool
        Show a tqdm progress bar (regions done) on stderr.
    announce : callable
        Called with lines for the user (the Dask dashboard link, where the files are).

    Returns
    -------
    BatchResult

    Raises
    ------
    ValueError
        Unknown method/option/target, unreadable BED, regions of unequal length without
        ``width``, an output folder holding a run with other settings, a scheduler that does
        not answer. A region that fails does not raise: it is ``failed`` in ``regions.tsv``.
    """
    import explorer as ex

    check_options(method, options)
    table = regions if isinstance(regions, pd.DataFrame) else read_regions(regions, width=width)
    length = int(table["end"].iloc[0] - table["start"].iloc[0])
    out = Path(out)
    n_workers = 1 if scheduler is None and workers == 1 else (workers or default_workers())
    threads = torch_threads or (max(1, default_workers() // n_workers) if scheduler is None else 1)
    seqlet_options = dict(seqlet_options or {})
    job = AttributionJob(model=str(Path(model).resolve()), genome=str(Path(genome).resolve()), out=str(out.resolve()),
                         method=method, target=target, options=dict(options), seqlets=seqlet_options,
                         torch_threads=None if n_workers == 1 and torch_threads is None else threads,
                         trusted=trusted)
    model_obj = load_job_model(job)  # here: a bad model or target is refused before any worker starts
    target_obj = ex.resolve_target(model_obj, target, length=length,
                                   **{k: options[k] for k in TARGET_OPTIONS if k in options})
    database = load_database(motifs)
    manifest = {
        "command": "attribute", "model": job.model, "model_hash": str(model_obj.content_hash()),
        "genome": job.genome, "method": method, "target": target, "target_name": target_obj.name,
        "options": options, "length": length, "shard_size": int(shard_size), "n_regions": len(table),
        "regions_hash": _digest(table[["chrom", "start", "end"]].to_numpy().tolist()),
        "motifs": None if database is None else f"{database.name} ({len(database)} motifs)",
        "seqlet_options": seqlet_options,
        "regions": table[["chrom", "start", "end"]].to_numpy().tolist(),
    }
    write_manifest(out, manifest)

    for stale in (out / "shards").glob("*.tmp"):  # left by a killed run: never a whole shard
        stale.unlink(missing_ok=True)
    shards = [table.iloc[k:k + shard_size] for k in range(0, len(table), shard_size)]
    summaries, todo = [], []
    for k, rows in enumerate(shards):
        old = read_shard(shard_path(out, k))
        if (old is not None and np.array_equal(old["index"], rows["index"].to_numpy())
                and (old["status"] == "ok").all()):
            summaries.append(_reused_summary(old))
        else:
            todo.append((job, k, rows, length))

    from tqdm.auto import tqdm

    bar = tqdm(total=len(table), initial=sum(len(s) for s in summaries), unit="region", disable=not progress,
               file=sys.stderr, desc=f"{method} {target_obj.name}")
    try:
        if todo:
            with executor(workers, scheduler, processes=processes, announce=announce) as map_unordered:
                for summary in map_unordered(attribute_shard, todo, database):
                    summaries.append(summary)
                    bar.update(len(summary))
    finally:
        bar.close()
    summary = pd.concat(summaries, ignore_index=True).sort_values("index", kind="stable")
    assemble(out, table, summary, shard_size, length, method, options)
    result = BatchResult(out=out, regions=read_regions_tsv(out / "regions.tsv"))
    announce(f"{len(table)} regions: " + ", ".join(f"{v} {k}" for k, v in result.counts.items()) + f"; files in {out}")
    return result


def _reused_summary(arrays: dict) -> pd.DataFrame:
    counts = pd.Series(arrays["seq_region"]).value_counts()
    return pd.DataFrame({"index": arrays["index"], "status": "reused", "reason": arrays["reason"],
                         "seconds": arrays["seconds"], "score": arrays["score"],
                         "n_seqlets": [int(counts.get(i, 0)) for i in arrays["index"]]})

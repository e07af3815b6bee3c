"""``run_variants``: predicted effects of every variant of a VCF, resumable, on Dask.

Each variant is scored by :func:`explorer.variant_effect` with a fixed scoring window of
``window`` bases centred on it (``window=<int>``, see :mod:`explorer.variants.effects`), on
a locus cut from the genome that holds that window (plus the reference allele's length, for
deletions). The result equals ``explorer.variant_effect(model, locus, variant, target,
window=window)`` on any locus that holds the window, e.g. the app's locus.

Positions are 1-based (VCF). Output: ``variants.tsv``, one row per variant and task, the
columns of :data:`explorer.variants.effects.EFFECT_COLUMNS` plus ``status`` (``computed`` /
``reused`` / ``failed``) and ``reason``; shards ``shards/variants-<k>.tsv`` (atomic).
"""

from __future__ import annotations

import functools
import io
from pathlib import Path

import pandas as pd

from explorer.batch.executors import executor
from explorer.batch.genome import region_locus
from explorer.batch.work import AttributionJob, load_job_model
from explorer.io.cachefiles import atomic_write


@functools.lru_cache(maxsize=64)
def chrom_length(genome: str, chrom: str) -> int:
    """Length of ``chrom`` in the genome file."""
    return int(region_locus(genome, chrom, 0, 1).chrom_length)


def _shard_file(out: str | Path, k: int) -> Path:
    return Path(out) / "shards" / f"variants-{int(k):06d}.tsv"


def _read_tsv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, sep="\t", keep_default_na=False, na_values={c: [""] for c in (
        "ref_score", "alt_score", "diff", "log_ratio")}, dtype={"chrom": str, "id": str, "reason": str})


def variant_shard(job: AttributionJob, k: int, variants: pd.DataFrame, window: int, _shared=None) -> pd.DataFrame:
    """Score the variants of one shard (reusing a finished shard file) and write it atomically."""
    import explorer as ex

    path = _shard_file(job.out, k)
    if path.is_file():
        done = _read_tsv(path)
        if (done["status"] != "failed").all():
            return done.assign(status="reused")
    model = load_job_model(job)
    rows = []
    for v in variants.itertuples():
        one = pd.DataFrame([v._asdict()]).drop(columns="Index")
        try:
            i = int(v.pos) - 1
            length = chrom_length(job.genome, str(v.chrom))
            a = max(0, i - window // 2)
            b = min(length, i - window // 2 + window + len(str(v.ref)))
            locus = region_locus(job.genome, str(v.chrom), a, b)
            effect = ex.variant_effect(model, locus, one, job.target, window=window)
            rows.append(effect.assign(status="computed", reason=""))
        except Exception as exc:  # a failed variant is recorded, not fatal
            rows.append(one.assign(
                status="failed", reason=" ".join(f"{type(exc).__name__}: {exc}".split())))
    table = pd.concat(rows, ignore_index=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda f: f.write(table.to_csv(sep="\t", index=False).encode()))
    return table


def run_variants(model: str | Path, genome: str | Path, vcf: str | Path, out: str | Path,
                 target: str | int | None = None, *, window: int = 2000, workers: int | None = None,
                 scheduler: str | None = None, shard_size: int = 256, trusted: bool = False,
                 progress: bool = True, announce=print) -> pd.DataFrame:
    """Predicted effect of every variant of ``vcf``; writes ``out/variants.tsv`` and returns it.

    Parameters
    ----------
    model, genome, out, workers, scheduler, trusted, progress, announce
        As for :func:`explorer.batch.run.run_attribution`.
    vcf : str or Path
        A VCF (or any table :func:`explorer.parse_variants` reads); positions 1-based.
    target : str, int or None
        Task(s) to score (default: every task, one row per variant and task).
    window : int
        Scoring window in bases, centred on each variant (fixed-length models: their length).
    shard_size : int
        Variants per shard.

    Raises
    ------
    ValueError
        An unreadable VCF, an output folder holding a run with other settings, a scheduler
        that does not answer. A variant that fails (unknown chrom, reference allele not in
        the genome) is ``failed`` in the table, with the reason.
    """
    import sys

    import explorer as ex
    from tqdm.auto import tqdm

    from explorer.batch.run import write_manifest

    table = ex.parse_variants(str(vcf))
    if table.empty:
        raise ValueError(f"{Path(vcf).name} holds no variants")
    out = Path(out)
    job = AttributionJob(model=str(Path(model).resolve()), genome=str(Path(genome).resolve()),
                         out=str(out.resolve()), method="variant_effect", target=target, trusted=trusted)
    model_obj = load_job_model(job)
    input_length = getattr(model_obj, "input_length", None)
    window = int(input_length) if input_length else int(window)
    write_manifest(out, {"command": "variants", "model": job.model, "model_hash": str(model_obj.content_hash()),
                         "genome": job.genome, "vcf": str(Path(vcf).resolve()), "target": target, "window": window,
                         "shard_size": int(shard_size), "n_variants": len(table)})
    columns = ["chrom", "pos", "ref", "alt", "id", "kind"]
    tasks = [(job, k // shard_size, table.iloc[k:k + shard_size][columns].reset_index(drop=True), window)
             for k in range(0, len(table), shard_size)]
    parts = {}
    with tqdm(total=len(table), unit="variant", disable=not progress, file=sys.stderr) as bar, \
            executor(workers, scheduler, announce=announce) as map_unordered:
        for part in map_unordered(variant_shard, tasks, None):
            parts[len(parts)] = part
            bar.update(part[columns].drop_duplicates().shape[0])
    result = pd.concat(parts.values(), ignore_index=True).sort_values(["chrom", "pos", "ref", "alt"], kind="stable")
    for column in ("window_start", "window_end", "n_padded"):
        if column in result:
            result[column] = result[column].astype("Int64")  # whole numbers (empty for failed variants)
    buffer = io.StringIO()
    result.to_csv(buffer, sep="\t", index=False)
    atomic_write(out / "variants.tsv", lambda f: f.write(buffer.getvalue().encode()))
    counts = result.drop_duplicates(columns)["status"].value_counts().to_dict()
    announce(f"{len(table)} variants: " + ", ".join(f"{v} {k}" for k, v in counts.items()) + f"; {out / 'variants.tsv'}")
    return result.reset_index(drop=True)

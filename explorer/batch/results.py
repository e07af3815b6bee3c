"""Read a batch run's folder back: the ranked region list and one region's attribution.

No UI imports: the app's results list calls :func:`ranked_regions` and
:func:`region_attribution`, and so can a script or notebook.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from explorer.batch.shards import read_shard, shard_path

#: how :func:`ranked_regions` can order the regions
RANKINGS = ("score", "n_seqlets")


def read_manifest(out: str | Path) -> dict:
    """The run's parameters (``run.json``).

    Raises
    ------
    ValueError
        ``out`` is not the folder of a batch run.
    """
    path = Path(out) / "run.json"
    if not path.is_file():
        raise ValueError(f"{out} is not the output folder of `python -m explorer attribute` (it has no run.json); "
                         f"choose the folder given as --out")
    return json.loads(path.read_text())


def ranked_regions(out: str | Path, by: str = "score") -> pd.DataFrame:
    """The run's regions (``regions.tsv``), computed ones first, best first.

    Parameters
    ----------
    out : str or Path
        The run's folder.
    by : {"score", "n_seqlets"}
        ``"score"``: the model's value ``f(x)`` on the region; ``"n_seqlets"``: the number
        of seqlets called in it (ties broken by score).

    Returns
    -------
    pandas.DataFrame
        The columns of ``regions.tsv`` (:data:`~explorer.batch.outputs.REGIONS_TSV_COLUMNS`),
        failed regions last; coordinates 0-based half-open (BED).
    """
    if by not in RANKINGS:
        raise ValueError(f"rank regions by one of {RANKINGS}; got {by!r}")
    read_manifest(out)
    path = Path(out) / "regions.tsv"
    if not path.is_file():
        raise ValueError(f"{out} has no regions.tsv yet: the run has not finished; run the same command again "
                         f"to finish it")
    table = read_regions_tsv(path)
    table["failed"] = table["status"] == "failed"
    keys = ["failed", by] + (["score"] if by != "score" else [])
    table = table.sort_values(keys, ascending=[True] + [False] * (len(keys) - 1), kind="stable")
    return table.drop(columns="failed").reset_index(drop=True)


def read_regions_tsv(path: str | Path) -> pd.DataFrame:
    """``regions.tsv`` as written (names and reasons as text; an empty score is NaN)."""
    return pd.read_csv(path, sep="\t", keep_default_na=False, na_values={"score": [""], "seconds": [""]},
                       dtype={"name": str, "chrom": str, "reason": str, "status": str})


def per_base(method: str, values: np.ndarray, ohe: np.ndarray, options: dict) -> np.ndarray:
    """``(L,)`` per-base contribution on the reference of one stored map
    (:attr:`explorer.Attribution.per_base`)."""
    from explorer.attribution.result import Attribution

    res = Attribution(values=torch.from_numpy(np.asarray(values, np.float32)),
                      one_hot=torch.from_numpy(np.asarray(ohe, np.float32)), method=method, target="",
                      options=dict(options))
    return res.per_base


def region_attribution(out: str | Path, index: int):
    """The stored attribution of region ``index`` as an :class:`explorer.Attribution`.

    Its ``values`` are exactly those ``explorer.attribute`` returned in the run; ``chrom``
    and ``genome_start`` place it on the genome (``start``/``end`` index the region, 0-based).

    Raises
    ------
    ValueError
        No such region, or it failed (the reason is given).
    """
    from explorer.attribution.result import Attribution

    manifest = read_manifest(out)
    index = int(index)
    n = int(manifest["n_regions"])
    if not 0 <= index < n:
        raise ValueError(f"region index must be between 0 and {n - 1}; got {index}")
    size = int(manifest["shard_size"])
    arrays = read_shard(shard_path(out, index // size))
    if arrays is None:
        raise ValueError(f"region {index} has not been computed yet; run the same command again to finish the run")
    j = index - (index // size) * size
    if arrays["status"][j] != "ok":
        raise ValueError(f"region {index} failed in the run: {arrays['reason'][j]}")
    region = manifest["regions"][index]
    return Attribution(values=torch.from_numpy(arrays["values"][j].copy()),
                       one_hot=torch.from_numpy(arrays["ohe"][j].astype(np.float32)), method=manifest["method"],
                       target=str(manifest["target_name"]), start=0, chrom=region[0], genome_start=int(region[1]),
                       options=dict(manifest["options"]), seconds=float(arrays["seconds"][j]))


def region_request(out: str | Path, index: int) -> dict:
    """What the app needs to open region ``index`` of a run in its usual views.

    Returns
    -------
    dict
        ``model`` and ``genome`` (the run's files), ``region`` (1-based inclusive
        ``chrom:start-end``, as the app's region box takes it), ``method`` and ``target``.
    """
    from explorer.io.loci import Region

    manifest = read_manifest(out)
    n = int(manifest["n_regions"])
    if not 0 <= int(index) < n:
        raise ValueError(f"region index must be between 0 and {n - 1}; got {index}")
    chrom, start, end = manifest["regions"][int(index)]
    return {"model": manifest["model"], "genome": manifest["genome"], "region": str(Region(chrom, int(start), int(end))),
            "method": manifest["method"], "target": manifest["target_name"]}

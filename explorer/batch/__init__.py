"""Batch attribution over many regions (the ``python -m explorer attribute`` / ``variants`` commands).

No UI imports. Layers: :mod:`.regions` (the BED), :mod:`.genome` (loci of the genome file),
:mod:`.work` (one shard on a worker: ``explorer.attribute`` per region), :mod:`.shards`
(atomic shard files), :mod:`.executors` (in-process, local Dask cluster, remote scheduler),
:mod:`.outputs` (ohe.npz, attr.npz, attr.bw, seqlets.bed, regions.tsv), :mod:`.run` and
:mod:`.variants` (the two commands), :mod:`.results` (reading a run back, for the app).
"""

from explorer.batch.results import ranked_regions, read_manifest, region_attribution
from explorer.batch.run import BatchResult, run_attribution

__all__ = ["run_attribution", "BatchResult", "ranked_regions", "region_attribution", "read_manifest"]

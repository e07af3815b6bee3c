"""Batch attribution throughput (regions per second) at 1 kb on the sample model (issue 19).

``python benchmarks/bench_batch.py [--regions 12] [--method ism] [--length 1000]``

Cases, all on the same 1 kb windows of the sample locus (HUMHBB), target CTCF, no motif
matching (``--motifs none``), each region's map checked against the hand loop:

* the peer: a hand-written loop of ``explorer.attribute`` over the regions (what users
  write today), in this process;
* ``run_attribution(workers=1)``: the command in this process (shards written, no Dask);
* a Dask LocalCluster of 2 threads (one process) and of 2 processes, 1 torch thread per
  worker. Each cluster is started before the clock starts (start-up time reported
  apart) and warmed on 2 other regions, so the rate is the steady one.

The machine is shared with other jobs: read the ratios, and the load average printed at
the end. Writes ``benchmarks/results/bench_batch.{md,json}``.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import numpy as np  # noqa: E402

import explorer as ex  # noqa: E402
from bench_ism import write_results  # noqa: E402
from explorer.batch import run_attribution  # noqa: E402

MODEL = ROOT / "sample_data" / "models" / "sample_cnn.pt"
GENOME = ROOT / "sample_data" / "loci" / "HUMHBB.gb.gz"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--regions", type=int, default=12)
    parser.add_argument("--length", type=int, default=1000)
    parser.add_argument("--method", default="ism")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    args = parser.parse_args(argv)
    from dask.distributed import LocalCluster

    tmp = Path(tempfile.mkdtemp(prefix="bench-batch-"))
    step = args.length
    starts = [20_000 + step * k for k in range(args.regions + 2)]
    bed, warm = tmp / "regions.bed", tmp / "warm.bed"
    bed.write_text("".join(f"HUMHBB\t{s}\t{s + args.length}\n" for s in starts[:args.regions]))
    warm.write_text("".join(f"HUMHBB\t{s}\t{s + args.length}\n" for s in starts[args.regions:]))
    model, whole = ex.load_model(MODEL), ex.load_locus(GENOME)

    tic = time.perf_counter()
    reference = [ex.attribute(model, whole.subregion(s, s + args.length), args.method, "CTCF", cache=False).values
                 for s in starts[:args.regions]]
    rows = [{"case": "hand loop of explorer.attribute (peer)", "seconds": time.perf_counter() - tic,
             "startup": 0.0, "max_abs_diff": 0.0}]

    def timed(label, startup=0.0, **kwargs):
        out = tmp / label.replace(" ", "_")
        run_attribution(MODEL, GENOME, warm, tmp / "warm", args.method, "CTCF", motifs=None, progress=False,
                        announce=lambda line: None, **kwargs)  # warm-up: model loaded in every worker
        shutil.rmtree(tmp / "warm")
        t0 = time.perf_counter()
        run_attribution(MODEL, GENOME, bed, out, args.method, "CTCF", motifs=None, progress=False,
                        announce=lambda line: None, shard_size=1, **kwargs)
        seconds = time.perf_counter() - t0
        attr = np.load(out / "attr.npz")["arr_0"]
        if args.method == "ism":
            want = np.stack([ex.center_ism(r).numpy() for r in reference])
        else:
            want = np.stack([r.numpy() for r in reference])
        rows.append({"case": label, "seconds": seconds, "startup": startup,
                     "max_abs_diff": float(np.abs(attr - want).max())})

    timed("run_attribution, 1 worker (in process)", workers=1)
    for label, processes in (("LocalCluster 2 threads", False), ("LocalCluster 2 processes", True)):
        t0 = time.perf_counter()
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=processes, dashboard_address=None,
                          silence_logs=40) as cluster:
            startup = time.perf_counter() - t0
            timed(label, startup=startup, scheduler=cluster.scheduler_address, torch_threads=1)
    shutil.rmtree(tmp, ignore_errors=True)

    peer = rows[0]["seconds"]
    lines = [f"{args.method}, {args.regions} regions of {args.length:,} bp, sample model, target CTCF", "",
             "| case | seconds | regions/s | ratio to peer (time) | cluster start-up s | max abs diff |",
             "|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        r["regions_per_second"] = args.regions / r["seconds"]
        lines.append(f"| {r['case']} | {r['seconds']:.1f} | {r['regions_per_second']:.3f} | "
                     f"{r['seconds'] / peer:.2f} | {r['startup']:.1f} | {r['max_abs_diff']:.1e} |")
    write_results(args.out, "bench_batch", "\n".join(lines), rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())

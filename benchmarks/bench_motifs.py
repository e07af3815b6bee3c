"""Benchmark: motif work on one locus (seqlets, TOMTOM, FIMO, JASPAR loading). Not a test.

The question it answers: does matching 20 seqlets against every JASPAR2026 CORE vertebrate
matrix (1,019) take under a second, warm? Also times the other steps a click runs.

Inputs (seeded): a 2 kb random sequence with 20 JASPAR consensus sites planted, each given
importance by its log-odds (a fixed-weight model's gradient x input), noise elsewhere.
``call_seqlets`` on it gives the seqlets; the 20 strongest are matched.

Each step runs once untimed (warm-up: numba code loaded from ``NUMBA_CACHE_DIR``), then
``--repeats`` times; medians are reported. The machines are shared and noisy: compare
numbers from the same run.

Usage::

    NUMBA_CACHE_DIR=.cache/numba python benchmarks/bench_motifs.py [--repeats 7] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("NUMBA_CACHE_DIR", str(ROOT / ".cache" / "numba"))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from explorer.attribution.result import Attribution  # noqa: E402
from explorer.io.sequences import one_hot_encode, reverse_complement  # noqa: E402
from explorer.motifs import agreement, call_seqlets, jaspar, match_motifs, scan_motifs  # noqa: E402
from explorer.motifs.databases import _jaspar_cached  # noqa: E402


def planted_locus(db, n_sites: int = 20, length: int = 2000, seed: int = 0) -> Attribution:
    rng = np.random.default_rng(seed)
    seq = list("".join(rng.choice(list("ACGT"), length)))
    per_base = rng.normal(0, 0.05, length).astype(np.float32)
    names = [n for n in db.names if 8 <= db[n].shape[1] <= 20]
    chosen = rng.choice(names, n_sites, replace=False)
    slot = length // n_sites
    sites = []
    for i, name in enumerate(chosen):
        pwm = db[name]
        site = "".join("ACGT"[j] for j in pwm.argmax(0).tolist())
        pos = i * slot + int(rng.integers(5, slot - len(site) - 5))
        strand = "+" if rng.random() < 0.5 else "-"
        seq[pos:pos + len(site)] = site if strand == "+" else reverse_complement(site)
        w = torch.log2(pwm + 0.01) + 2.0
        sites.append((pos, w if strand == "+" else w.flip(0, 1), float(rng.uniform(0.5, 1.5))))
    x = one_hot_encode("".join(seq))
    for pos, w, scale in sites:
        per_base[pos:pos + w.shape[1]] += scale * (w * x[:, pos:pos + w.shape[1]]).sum(0).numpy()
    return Attribution(values=x * torch.from_numpy(per_base), one_hot=x, method="saliency", target="bench",
                       chrom="bench", genome_start=0)


def timed(fn, repeats: int) -> tuple[float, list[float], object]:
    out = fn()  # warm-up
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), times, out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--out", type=Path, default=None, help="folder for a JSON record")
    args = parser.parse_args()

    t = time.perf_counter()
    db = jaspar()
    load_s = time.perf_counter() - t
    t = time.perf_counter()
    jaspar()
    cached_s = time.perf_counter() - t
    att = planted_locus(db)
    rows = {}
    rows["jaspar() first call (pyjaspar, 1,019 matrices)"] = (load_s, [load_s])
    rows["jaspar() cached"] = (cached_s, [cached_s])

    med, times, seqlets = timed(lambda: call_seqlets(att), args.repeats)
    rows[f"call_seqlets, 2 kb ({len(seqlets)} seqlets)"] = (med, times)
    top20 = seqlets.iloc[:20]
    med, times, matches = timed(lambda: match_motifs(att, top20, db, top_k=3), args.repeats)
    rows[f"match_motifs, {len(top20)} seqlets x {len(db)} matrices"] = (med, times)
    med, times, _ = timed(lambda: match_motifs(att, top20, db, top_k=3, query="sequence"), args.repeats)
    rows[f"match_motifs query='sequence', {len(top20)} x {len(db)}"] = (med, times)
    med, times, hits = timed(lambda: scan_motifs(att, db, threshold=1e-4), args.repeats)
    rows[f"scan_motifs (FIMO), 2 kb x {len(db)} matrices, both strands ({len(hits)} hits)"] = (med, times)
    ids = list(matches.loc[matches["rank"] == 1, "matrix_id"].unique())
    med, times, hits_m = timed(lambda: scan_motifs(att, db, motifs=ids), args.repeats)
    rows[f"scan_motifs, 2 kb x {len(ids)} matched matrices"] = (med, times)
    med, times, agr = timed(lambda: agreement(att, top20, matches, hits_m), args.repeats)
    rows["agreement"] = (med, times)

    width = max(len(k) for k in rows)
    print(f"motif benchmark: median of {args.repeats} runs after one warm-up; {platform.node()}, "
          f"{os.cpu_count()} CPUs, NUMBA_CACHE_DIR={os.environ['NUMBA_CACHE_DIR']}")
    for k, (med, _) in rows.items():
        print(f"  {k:<{width}}  {med * 1000:9.1f} ms")
    top1 = matches[matches["rank"] == 1]
    print(f"  rank-1 matches: {len(top1)}; summary: {agr.summary[:160]}...")
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        record = {"when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "host": platform.node(),
                  "cpus": os.cpu_count(), "repeats": args.repeats,
                  "seconds": {k: {"median": med, "runs": times} for k, (med, times) in rows.items()}}
        path = args.out / "bench_motifs.json"
        path.write_text(json.dumps(record, indent=2))
        print(f"wrote {path}")
    _jaspar_cached.cache_clear()
    return 0


if __name__ == "__main__":
    sys.exit(main())

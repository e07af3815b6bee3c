"""TF-MoDISco on the batch command's output: does the sample model's ISM recover CTCF and an ETS motif?

    python scripts/modisco_sample.py --ctcf DATA/ctcf.fa.gz --pu1 DATA/pu1.fa.gz --out modisco_run \\
        [--per-task 1000] [--workers 1] [--max-seqlets 2000]

For each task (CTCF peaks -> target CTCF, PU.1 peaks -> target SPI1): the held-out test
chromosomes' peaks (chr8, chr9: never seen in training, see sample_data/README.md), a seeded
sample of ``--per-task`` of those without N, are written as a FASTA (one record per peak,
named ``peak<k>``) and a BED of whole records, and ``python -m explorer attribute --method
ism`` runs on them (so ohe.npz / attr.npz come from the command itself, ISM mean-centred).
Then ``modisco motifs -s ohe.npz -a attr.npz -w 100`` (the peaks are 100 bp) and each
pattern's PPM, trimmed to its informative columns, is compared with JASPAR 2026 CORE
vertebrates by TOMTOM (memelite). Prints, and writes ``<out>/summary.tsv``: per task and
pattern, its seqlet count and its best three JASPAR TFs with p-values.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from explorer.batch import run_attribution  # noqa: E402
from explorer.io.peaks import read_peaks  # noqa: E402

MODEL = ROOT / "sample_data" / "models" / "sample_cnn.pt"
TEST_CHROMS = ("chr8", "chr9")


def write_inputs(peaks, folder: Path, n: int, seed: int = 0) -> tuple[Path, Path]:
    """FASTA of ``n`` seeded held-out peaks (records ``peak<k>``) and the BED of those records."""
    held = peaks.on_chroms(TEST_CHROMS)
    held = held.take(held.unambiguous)
    rng = np.random.default_rng(seed)
    idx = np.sort(rng.choice(len(held), size=min(n, len(held)), replace=False))
    held = held.take(idx)
    folder.mkdir(parents=True, exist_ok=True)
    fasta, bed = folder / "peaks.fa", folder / "peaks.bed"
    seqs = held.sequences
    fasta.write_text("".join(f">peak{k}\n{s}\n" for k, s in enumerate(seqs)))
    bed.write_text("".join(f"peak{k}\t0\t{len(s)}\t{name}\n" for k, (s, name) in enumerate(zip(seqs, held.names))))
    return fasta, bed


def pattern_ppms(h5: Path) -> list[tuple[str, int, np.ndarray]]:
    """``(name, n_seqlets, ppm (4, W))`` of every modisco pattern, trimmed to columns of IC >= 0.3 bits."""
    import h5py

    out = []
    with h5py.File(h5, "r") as f:
        for group in ("pos_patterns", "neg_patterns"):
            if group not in f:
                continue
            for name in f[group]:
                pattern = f[group][name]
                ppm = np.asarray(pattern["sequence"][:]).T  # (W, 4) -> (4, W)
                ic = 2 + (ppm * np.log2(np.clip(ppm, 1e-9, 1))).sum(0)
                keep = np.flatnonzero(ic >= 0.3)
                if keep.size:
                    ppm = ppm[:, keep[0]:keep[-1] + 1]
                out.append((f"{group}.{name}", int(pattern["seqlets"]["n_seqlets"][0]), ppm))
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ctcf", required=True)
    parser.add_argument("--pu1", required=True)
    parser.add_argument("--out", default="modisco_run")
    parser.add_argument("--per-task", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--max-seqlets", type=int, default=2000)
    args = parser.parse_args(argv)
    import explorer as ex
    from memelite.tomtom import tomtom

    jaspar = ex.jaspar()
    rows = []
    for path, task in ((args.ctcf, "CTCF"), (args.pu1, "SPI1")):
        folder = Path(args.out) / task
        fasta, bed = write_inputs(read_peaks(path), folder, args.per_task)
        run_attribution(MODEL, fasta, bed, folder / "batch", "ism", task, workers=args.workers, motifs=None,
                        shard_size=64)
        h5 = folder / "modisco.h5"
        if not h5.exists():
            subprocess.run(["modisco", "motifs", "-s", str(folder / "batch" / "ohe.npz"), "-a",
                            str(folder / "batch" / "attr.npz"), "-n", str(args.max_seqlets), "-w", "100", "-o",
                            str(h5)], check=True)
        patterns = pattern_ppms(h5)
        if not patterns:
            rows.append({"task": task, "pattern": "(none)", "n_seqlets": 0})
            continue
        p, *_ = tomtom([ppm.astype(np.float64) for _, _, ppm in patterns], jaspar.arrays())
        for (name, n_seqlets, ppm), pvals in zip(patterns, p):
            best = np.argsort(pvals)[:3]
            rows.append({"task": task, "pattern": name, "n_seqlets": n_seqlets, "width": ppm.shape[1],
                         **{f"match{r + 1}": f"{jaspar.metadata['tf_name'].iloc[j]} ({pvals[j]:.1e})"
                            for r, j in enumerate(best)}})
    table = pd.DataFrame(rows)
    table.to_csv(Path(args.out) / "summary.tsv", sep="\t", index=False)
    print(table.to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())

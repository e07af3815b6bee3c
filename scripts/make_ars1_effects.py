"""Per-variant enrichment of the ARS1 mutational-selection data in the logomaker wheel.

Data: ``logomaker/examples/datafiles/ars_sequences.txt.gz`` (603,580 mutagenised variants of
the 150-bp ARS1 (ARS416) region with ``library_ct`` and ``selected_ct``, collected by JBK in an
experiment like arsMut-seq, Liachko et al. 2013, Genome Res. 23:698; shipped with logomaker,
MIT licence). The reads are the plus strand of sacCer3 chrIV:462,475-462,624 (1-based; the
wheel's ``ars_wt_sequence.txt`` gives the minus strand).

Per position ``i`` and base ``b`` (reads with ``b`` at ``i``, any other mutations included, the
way logomaker's ``ars_enrichment_matrix`` is made)::

    effect(i, b) = log2((S_ib + 1) / (L_ib + 1)) - log2((S_iw + 1) / (L_iw + 1))

with ``S``, ``L`` the summed selected and library counts and ``w`` the wild-type base: the log2
enrichment of the substitution relative to the wild type (0 = neutral, < 0 = the base hurts
replication-origin function). Element name `ARS1`. Written as the plain measured-effects table that
:func:`explorer.load_measured_effects` reads (``chrom pos ref alt effect``, 1-based on
chrIV), with ``library_ct`` and ``selected_ct`` (``L_ib``, ``S_ib``) beside.

Usage::

    python scripts/make_ars1_effects.py [--out sample_data/variants/ars1_enrichment.tsv.gz]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
CHROM, FIRST = "chrIV", 462_475  # 1-based position of the reads' first base


def ars1_table() -> pd.DataFrame:
    """The per-variant enrichment table (module docstring): 450 rows, 3 per position."""
    import logomaker

    with logomaker.open_example_datafile("ars_sequences.txt.gz", print_description=False) as fh:
        reads = pd.read_csv(fh, sep="\t", comment="#")
    seqs = np.frombuffer("".join(reads["sequence"]).encode(), dtype=np.uint8).reshape(len(reads), -1)
    lib = reads["library_ct"].to_numpy(np.float64)
    sel = reads["selected_ct"].to_numpy(np.float64)
    length = seqs.shape[1]
    counts_l = np.zeros((4, length))
    counts_s = np.zeros((4, length))
    for b, base in enumerate(b"ACGT"):
        hit = seqs == base
        counts_l[b] = lib @ hit
        counts_s[b] = sel @ hit
    wt = counts_l.argmax(0)  # the wild type is by far the commonest base in the library
    enrich = np.log2((counts_s + 1) / (counts_l + 1))
    rows = []
    for i in range(length):
        for b in range(4):
            if b != wt[i]:
                rows.append((CHROM, FIRST + i, "ACGT"[wt[i]], "ACGT"[b], enrich[b, i] - enrich[wt[i], i],
                             int(counts_l[b, i]), int(counts_s[b, i])))
    table = pd.DataFrame(rows, columns=["chrom", "pos", "ref", "alt", "effect", "library_ct", "selected_ct"])
    table["element"] = "ARS1"
    return table


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "sample_data" / "variants" / "ars1_enrichment.tsv.gz")
    args = ap.parse_args(argv)
    table = ars1_table()
    table.to_csv(args.out, sep="\t", index=False, float_format="%.5f")
    print(f"wrote {args.out}: {len(table)} variants, effect range {table.effect.min():.2f} to {table.effect.max():.2f}")


if __name__ == "__main__":
    main()

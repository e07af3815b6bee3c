"""The regions of a batch run, read from a BED file and brought to one length.

Coordinates: BED, 0-based half-open, on the genome file's sequence names. The table keeps
the file's order; a region's ``index`` is its row in that order and in every output array.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from explorer.io.loci import read_annotation_table

#: columns of the table :func:`read_regions` returns
REGION_COLUMNS = ["index", "name", "chrom", "start", "end"]


def read_regions(path: str | Path, width: int | None = None) -> pd.DataFrame:
    """Read a BED file of regions; optionally centre every region on a window of ``width`` bp.

    Parameters
    ----------
    path : str or Path
        BED (``chrom``, ``start``, ``end`` and optionally ``name``; 0-based half-open).
    width : int, optional
        Re-centre each region on ``width`` bases: ``[c - width // 2, c - width // 2 + width)``
        with ``c = (start + end) // 2``. Needed when the regions differ in length, since
        ``ohe.npz`` / ``attr.npz`` hold one ``(N, 4, L)`` array.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`REGION_COLUMNS`; ``name`` is the BED name, else ``chrom:start-end``
        (0-based half-open), made unique by a ``#k`` suffix where names repeat.

    Raises
    ------
    ValueError
        An empty file, a region with ``start >= end`` or a negative start (named with its
        line), a window that would start before base 0, or regions of different lengths and
        no ``width``.
    """
    table = read_annotation_table(path)
    name = Path(path).name
    if table.empty:
        raise ValueError(f"{name} holds no regions (BED lines: chrom, start, end); add some regions")
    start = table["start"].to_numpy(np.int64)
    end = table["end"].to_numpy(np.int64)
    bad = np.flatnonzero((start < 0) | (end <= start))
    if bad.size:
        i = int(bad[0])
        raise ValueError(f"{name}: region {i + 1} ({table['chrom'][i]}\t{start[i]}\t{end[i]}) is empty or has a "
                         f"negative start; BED needs 0 <= start < end ({bad.size} such regions)")
    if width is not None:
        width = int(width)
        if width < 1:
            raise ValueError(f"width must be a positive number of bases; got {width}")
        centre = (start + end) // 2
        start = centre - width // 2
        end = start + width
        if (start < 0).any():
            i = int(np.flatnonzero(start < 0)[0])
            raise ValueError(f"{name}: region {i + 1} centred on {width:,} bp would start before the sequence "
                             f"begins (at {start[i]}); use a smaller width or drop that region")
    lengths = np.unique(end - start)
    if lengths.size > 1:
        raise ValueError(f"{name}: regions are {lengths.min():,}-{lengths.max():,} bp long, but ohe.npz and "
                         f"attr.npz hold one length; pass --width (e.g. --width {int(np.median(end - start))}) to "
                         f"centre every region on a window of that many bases")
    chrom = table["chrom"].astype(str).to_numpy()
    names = [n if n else f"{c}:{s}-{e}" for n, c, s, e in zip(table["name"].astype(str), chrom, start, end)]
    seen: dict[str, int] = {}
    unique = []
    for n in names:
        seen[n] = seen.get(n, 0) + 1
        unique.append(n if seen[n] == 1 else f"{n}#{seen[n]}")
    return pd.DataFrame({"index": np.arange(len(table), dtype=np.int64), "name": unique, "chrom": chrom,
                         "start": start, "end": end})[REGION_COLUMNS]

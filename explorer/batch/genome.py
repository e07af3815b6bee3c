"""Loci of a batch run, cut from the genome file with :func:`explorer.load_locus`.

An indexed FASTA (plain, or bgzip-compressed) is read region by region through its pyfaidx
index. A GenBank file or a plain-gzip FASTA cannot be read in pieces: every
:func:`~explorer.load_locus` call parses the whole file (about 1.6 s for the 73 kb sample
record), so the whole sequence of a chrom is read once per process and cut with
:meth:`~explorer.io.loci.Locus.subregion`. Either way the locus, its bases and coordinates
are those ``load_locus(genome, region=(chrom, start, end))`` gives.

Coordinates: ``start``/``end`` 0-based half-open on ``chrom``.
"""

from __future__ import annotations

import functools
from pathlib import Path

from explorer.io.loci import Locus, load_locus

GZIP = b"\x1f\x8b"


def _read_in_pieces(path: Path) -> bool:
    """Whether ``path`` is a FASTA pyfaidx can index (plain text, or BGZF-compressed)."""
    with open(path, "rb") as fh:
        head = fh.read(16)
    if head[:2] != GZIP:
        return head.lstrip()[:1] == b">"
    # BGZF: a gzip member with the extra field "BC" (SAM/BAM specification, section 4.1)
    return len(head) >= 14 and head[3] & 4 and head[12:14] == b"BC"


@functools.lru_cache(maxsize=8)
def _whole_chrom(path: str, stamp: tuple, chrom: str) -> Locus:
    first = load_locus(path)  # the first record: one parse, enough for a one-record file
    if first.chrom == chrom:
        return first
    length = load_locus(path, region=(chrom, 0, 1)).chrom_length
    return load_locus(path, region=(chrom, 0, length))


def region_locus(genome: str | Path, chrom: str, start: int, end: int) -> Locus:
    """The locus ``[start, end)`` (0-based half-open) of ``chrom`` in the genome file.

    Raises
    ------
    ValueError
        From :func:`~explorer.load_locus`: an unknown chrom (the message lists those in the
        file), or a region past the chrom's end.
    """
    path = Path(genome)
    if _read_in_pieces(path):
        return load_locus(path, region=(chrom, int(start), int(end)))
    stat = path.stat()
    whole = _whole_chrom(str(path.resolve()), (stat.st_size, stat.st_mtime_ns), str(chrom))
    if int(end) > whole.end:
        raise ValueError(f"region {chrom}:{int(start) + 1:,}-{int(end):,} runs past the end of {chrom}, which is "
                         f"{whole.end:,} bp long (valid 1-based positions: 1-{whole.end:,})")
    return whole.subregion(int(start), int(end))

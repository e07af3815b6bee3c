"""Peak FASTA files: fixed-length peaks named by their coordinates, with optional fields.

The format (the DeepSTARR demo files, and the held-out subset in ``sample_data/eval``)::

    >chr8:81152964-81153064 source=CTCF CTCF=1 SPI1=0 overlap=0
    GCGTGCTCCGCAGCGCCGCC...

The header's first word is ``chrom:start-end``, **0-based half-open** like BED; any
further words are ``key=value`` fields, kept as strings. Plain or gzip (``.gz``).
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from explorer.io.sequences import one_hot_decode, one_hot_encode


@dataclass
class Peaks:
    """Peaks of one file, in file order.

    Attributes
    ----------
    chrom : np.ndarray of str, shape (N,)
    start, end : np.ndarray of int64, shape (N,)
        0-based, half-open.
    one_hot : torch.Tensor, float32, shape (N, 4, L)
        ACGT order; N and the other IUPAC codes are all-zero columns.
    fields : dict of str to np.ndarray of str, shape (N,)
        The headers' ``key=value`` words (a key missing from a header reads ``""``).
    """

    chrom: np.ndarray
    start: np.ndarray
    end: np.ndarray
    one_hot: torch.Tensor
    fields: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.chrom)

    @property
    def names(self) -> np.ndarray:
        """``chrom:start-end`` of each peak (0-based half-open), shape (N,)."""
        return np.array([f"{c}:{s}-{e}" for c, s, e in zip(self.chrom, self.start, self.end)], dtype=str)

    @property
    def sequences(self) -> list[str]:
        """The sequences, upper case, ambiguous bases as ``N``."""
        return list(one_hot_decode(self.one_hot)) if len(self) else []

    @property
    def unambiguous(self) -> np.ndarray:
        """Whether each peak holds only A, C, G and T, shape (N,) bool."""
        return (self.one_hot.sum(dim=1) == 1).all(dim=1).numpy()

    def take(self, idx) -> "Peaks":
        """The peaks at ``idx`` (indices or a boolean mask), in that order."""
        idx = np.asarray(idx)
        rows = torch.as_tensor(np.flatnonzero(idx) if idx.dtype == bool else idx, dtype=torch.long)
        return Peaks(self.chrom[idx], self.start[idx], self.end[idx], self.one_hot[rows],
                     {k: v[idx] for k, v in self.fields.items()})

    def on_chroms(self, chroms) -> "Peaks":
        """The peaks on the chromosomes ``chroms``."""
        return self.take(np.isin(self.chrom, list(chroms)))


def read_peaks(path: str | Path, length: int = 100) -> Peaks:
    """Read a (gzip) FASTA of fixed-length peaks with ``>chrom:start-end [key=value ...]`` headers.

    Parameters
    ----------
    path : str or Path
        ``.gz`` is read as gzip.
    length : int
        The length every peak must have, in bp.

    Returns
    -------
    Peaks
        ``one_hot`` of shape ``(N, 4, length)``.

    Raises
    ------
    ValueError
        A header that is not ``chrom:start-end``, a sequence before the first header, a
        sequence that is not ``length`` bp, or a character outside ACGT and the IUPAC codes.
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    headers: list[list[str]] = []
    seqs: list[list[str]] = []
    with opener(path, "rt") as fh:
        for line in fh:
            line = line.strip()
            if not line:
                continue
            if line.startswith(">"):
                headers.append(line[1:].split())
                seqs.append([])
            elif not headers:
                raise ValueError(f"{path.name}: sequence before the first '>' header")
            else:
                seqs[-1].append(line)
    chrom, start, end = [], [], []
    for words in headers:
        name = words[0] if words else ""
        try:
            c, span = name.rsplit(":", 1)
            s, e = span.split("-")
            chrom.append(c)
            start.append(int(s))
            end.append(int(e))
        except ValueError:
            raise ValueError(f"{path.name}: header {name!r} is not 'chrom:start-end'") from None
    joined = ["".join(s) for s in seqs]
    bad = [i for i, s in enumerate(joined) if len(s) != length]
    if bad:
        raise ValueError(f"{path.name}: every peak must be {length} bp; {headers[bad[0]][0]} is "
                         f"{len(joined[bad[0]])} bp ({len(bad)} such peaks)")
    try:
        one_hot = one_hot_encode(joined) if joined else torch.zeros(0, 4, length)
    except ValueError:
        row, why = next((i, e) for i, e in enumerate(map(_encoding_error, joined)) if e)
        raise ValueError(f"{path.name}: peak {headers[row][0]} holds a character other than "
                         f"ACGT/IUPAC: {why}") from None
    keys = list(dict.fromkeys(k for words in headers for k, _, _ in (w.partition("=") for w in words[1:])))
    fields = {k: np.array([dict(w.split("=", 1) for w in words[1:] if "=" in w).get(k, "")
                           for words in headers], dtype=str) for k in keys}
    return Peaks(np.array(chrom, dtype=str), np.array(start, dtype=np.int64),
                 np.array(end, dtype=np.int64), one_hot, fields)


def _encoding_error(sequence: str) -> str | None:
    """Why ``sequence`` does not encode as one-hot, or None."""
    try:
        one_hot_encode(sequence)
    except ValueError as exc:
        return str(exc)
    return None


def write_peaks(path: str | Path, peaks: Peaks) -> Path:
    """Write ``peaks`` as gzip FASTA that :func:`read_peaks` reads back (fields included).

    Parameters
    ----------
    path : str or Path
        Output file (gzip, whatever its suffix); its folder is created.
    peaks : Peaks
        Field values must hold no whitespace.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    names, seqs = peaks.names, peaks.sequences
    with gzip.open(path, "wt", compresslevel=9) as fh:
        for i in range(len(peaks)):
            words = [names[i]] + [f"{k}={v[i]}" for k, v in peaks.fields.items()]
            fh.write(">" + " ".join(words) + "\n" + seqs[i] + "\n")
    return path


def overlaps(a: Peaks, b: Peaks) -> np.ndarray:
    """For each peak of ``a``, whether it shares at least one base with a peak of ``b``.

    Returns
    -------
    np.ndarray of bool, shape (len(a),)
    """
    out = np.zeros(len(a), dtype=bool)
    for chrom in np.unique(a.chrom):
        ia = np.flatnonzero(a.chrom == chrom)
        ib = np.flatnonzero(b.chrom == chrom)
        if ib.size == 0:
            continue
        order = np.argsort(b.start[ib], kind="stable")
        b_start = b.start[ib][order]
        b_end_max = np.maximum.accumulate(b.end[ib][order])
        n_before = np.searchsorted(b_start, a.end[ia], side="left")  # b peaks starting before a ends
        has = n_before > 0
        out[ia[has]] = b_end_max[n_before[has] - 1] > a.start[ia[has]]
    return out

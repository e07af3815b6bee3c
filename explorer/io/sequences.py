"""DNA strings <-> one-hot tensors, reverse complement and dinucleotide shuffles.

Conventions (see :mod:`explorer`): one-hot tensors are ``torch.float32`` of shape
``(4, L)`` or ``(N, 4, L)`` in ``A, C, G, T`` order. Lowercase bases are accepted.
``N`` and the IUPAC ambiguity codes encode as all-zero columns and decode as ``N``.
Positions in error messages are 1-based, as a person counts them.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

ALPHABET = "ACGT"
#: IUPAC ambiguity codes accepted in input; they encode as all-zero columns.
AMBIGUITY_CODES = "NRYSWKMBDHV"

_LOOKUP = np.full(256, -2, dtype=np.int8)  # -2: invalid, -1: ambiguous (zero column)
for _i, _b in enumerate(ALPHABET):
    _LOOKUP[ord(_b)] = _i
    _LOOKUP[ord(_b.lower())] = _i
for _b in AMBIGUITY_CODES:
    _LOOKUP[ord(_b)] = -1
    _LOOKUP[ord(_b.lower())] = -1

_COMPLEMENT = str.maketrans("ACGTNRYSWKMBDHVacgtnryswkmbdhv", "TGCANYRSWMKVHDBtgcanyrswmkvhdb")


def _codes(sequence: str) -> np.ndarray:
    """Return per-base codes (0-3 for ACGT, -1 for ambiguous); raise on anything else."""
    if not isinstance(sequence, str):
        raise TypeError(f"sequence must be a str, got {type(sequence).__name__}")
    # a character beyond ASCII becomes one '?', which is invalid: indices are kept
    codes = _LOOKUP[np.frombuffer(sequence.encode("ascii", errors="replace"), dtype=np.uint8)]
    bad = np.flatnonzero(codes == -2)
    if bad.size:
        raise ValueError(invalid_text(sequence, bad))
    return codes


def invalid_positions(sequence: str) -> np.ndarray:
    """0-based indices of the characters of ``sequence`` that are neither ACGT nor an IUPAC code."""
    return np.flatnonzero(_LOOKUP[np.frombuffer(sequence.encode("ascii", errors="replace"), dtype=np.uint8)] == -2)


def invalid_text(sequence: str, bad: np.ndarray, where: str | None = None) -> str:
    """The words for invalid characters of ``sequence`` at the 0-based indices ``bad``.

    ``where`` names the first one's place (default ``"position <i+1> (1-based)"``).
    """
    i = int(bad[0])
    place = where or f"position {i + 1} (1-based)"
    return (f"invalid character {sequence[i]!r} at {place}{f' and {bad.size - 1} more' if bad.size > 1 else ''}; "
            f"a DNA sequence may hold only A, C, G, T and the IUPAC codes {AMBIGUITY_CODES} (any case)"
            f"{_rna_hint(sequence, bad)}")


def _rna_hint(sequence: str, bad: np.ndarray) -> str:
    """A hint when every invalid character is U: the sequence is RNA, and T is what is meant."""
    if all(sequence[int(i)] in "Uu" for i in bad):
        return ". This looks like RNA: write T for U (the models read DNA)"
    return ""


def validate_sequence(sequence: str) -> str:
    """Check a DNA string and return it upper-cased, with whitespace removed.

    Raises
    ------
    ValueError
        On any character other than ACGT and the IUPAC codes, naming the character and
        its 1-based position (counted after whitespace is removed).
    """
    cleaned = "".join(sequence.split())
    if not cleaned:
        raise ValueError("the sequence is empty")
    _codes(cleaned)
    return cleaned.upper()


def one_hot_encode(sequence: str | Sequence[str]) -> torch.Tensor:
    """Encode DNA as one-hot.

    Parameters
    ----------
    sequence : str or list of str
        One sequence, or several of equal length. Case is ignored; N and the IUPAC
        ambiguity codes become all-zero columns.

    Returns
    -------
    torch.Tensor
        ``float32``, shape ``(4, L)`` for a string, ``(N, 4, L)`` for a list, rows in
        ``A, C, G, T`` order.

    Raises
    ------
    ValueError
        For an invalid character (named, with its 1-based position; a U is said to be RNA)
        or sequences of different lengths.
    TypeError
        Neither a string nor a list of strings.
    """
    if isinstance(sequence, str):
        codes = _codes(sequence)
        out = np.zeros((4, codes.size), dtype=np.float32)
        ok = codes >= 0
        out[codes[ok], np.flatnonzero(ok)] = 1.0
        return torch.from_numpy(out)
    seqs = _as_strings(sequence)
    if not seqs:
        raise ValueError("no sequences to encode")
    lengths = {len(s) for s in seqs}
    if len(lengths) > 1:
        raise ValueError(f"sequences must all have the same length to stack; got lengths {sorted(lengths)}")
    return torch.stack([one_hot_encode(s) for s in seqs])


def _as_strings(sequence) -> list[str]:
    """``sequence`` as a list of strings; a clear ``TypeError`` for anything else."""
    kinds = None
    if not isinstance(sequence, (bytes, bytearray)):
        try:
            seqs = list(sequence)
        except TypeError:
            pass
        else:
            kinds = sorted({type(s).__name__ for s in seqs if not isinstance(s, str)})
            if not kinds:
                return seqs
    held = f"a list holding {', '.join(kinds)}" if kinds else type(sequence).__name__
    raise TypeError(f"sequence must be a DNA string or a list of DNA strings; got {held}")


def one_hot_decode(one_hot: torch.Tensor | np.ndarray) -> str | list[str]:
    """Decode a one-hot ``(4, L)`` tensor to a string (``(N, 4, L)`` to a list of strings).

    A column that is not exactly one-hot (all zero, or several ones) decodes as ``N``.
    """
    x = torch.as_tensor(one_hot)
    if x.ndim == 3:
        return [one_hot_decode(row) for row in x]
    if x.ndim != 2 or x.shape[0] != 4:
        raise ValueError(f"one-hot input must have shape (4, L) or (N, 4, L); got {tuple(x.shape)}")
    x = x.detach().cpu().numpy()
    idx = x.argmax(axis=0)
    valid = (x.sum(axis=0) == 1) & (x.max(axis=0) == 1)
    letters = np.frombuffer(b"ACGT", dtype=np.uint8)[idx]
    letters = np.where(valid, letters, ord("N")).astype(np.uint8)
    return letters.tobytes().decode("ascii")


def reverse_complement(sequence: str | torch.Tensor) -> str | torch.Tensor:
    """Reverse complement a DNA string (IUPAC-aware, case kept) or a one-hot tensor.

    For a tensor of shape ``(..., 4, L)`` in ACGT order, both the alphabet axis and the
    length axis are flipped (A<->T, C<->G).
    """
    if isinstance(sequence, str):
        _codes(sequence)
        return sequence.translate(_COMPLEMENT)[::-1]
    x = torch.as_tensor(sequence)
    if x.ndim < 2 or x.shape[-2] != 4:
        raise ValueError(f"one-hot input must have shape (..., 4, L); got {tuple(x.shape)}")
    return torch.flip(x, dims=(-2, -1))


def dinucleotide_shuffle(
    sequence: str | torch.Tensor, n: int = 1, random_state: int = 0
) -> torch.Tensor:
    """Seeded dinucleotide shuffles (same dinucleotide counts, first and last base kept).

    Uses :func:`tangermeme.ersatz.dinucleotide_shuffle` (Eulerian-path shuffle).

    Parameters
    ----------
    sequence : str or torch.Tensor, shape ``(4, L)`` or ``(N, 4, L)``
        One sequence, or a batch. All-zero (N) columns are allowed and stay in the shuffle.
    n : int
        Number of shuffles of each sequence.
    random_state : int
        Seed; the same seed gives the same shuffles (for a batch: of the same batch).

    Returns
    -------
    torch.Tensor
        ``float32``, shape ``(n, 4, L)`` for one sequence, ``(N, n, 4, L)`` for a batch.
    """
    from tangermeme.ersatz import dinucleotide_shuffle as _shuffle

    x = one_hot_encode(sequence) if isinstance(sequence, str) else torch.as_tensor(sequence)
    if x.ndim not in (2, 3) or x.shape[-2] != 4:
        raise ValueError(f"expected one sequence (4, L) or a batch (N, 4, L); got {tuple(x.shape)}")
    if n < 1:
        raise ValueError(f"n must be >= 1; got n={n}")
    batch = x.unsqueeze(0) if x.ndim == 2 else x
    shuffled = _shuffle(batch.to(torch.int8).cpu(), n=n, random_state=random_state, allow_N=True)
    shuffled = shuffled.to(torch.float32)
    return shuffled[0] if x.ndim == 2 else shuffled


def gc_content(sequence: str) -> float:
    """Fraction of G and C among the unambiguous bases of ``sequence`` (0 if none)."""
    codes = _codes(sequence)
    known = codes >= 0
    if not known.any():
        return 0.0
    return float(np.isin(codes[known], (1, 2)).mean())


"""Motif databases: JASPAR (offline, from pyjaspar) and MEME-format files, as one type.

A :class:`MotifDatabase` holds position probability matrices (PWMs) of shape ``(4, W)``,
rows ``A, C, G, T``, columns summing to 1, keyed by a unique name (the matrix ID, e.g.
``"MA0139.2"``), and a metadata table indexed by the same names.

Reading a motif file is kept apart from comparing motifs (see :mod:`explorer.motifs.matching`
and :mod:`explorer.motifs.scanning`).
"""

from __future__ import annotations

import functools
import gzip
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import pandas as pd
import torch

#: columns of :attr:`MotifDatabase.metadata` (indexed by the motif name)
METADATA_COLUMNS = ["matrix_id", "tf_name", "tf_class", "family", "species", "tax_group",
                    "collection", "release", "url", "width"]

JASPAR_URL = "https://jaspar.elixir.no/matrix/{}/"


@dataclass
class MotifDatabase:
    """A set of PWMs with their metadata.

    Attributes
    ----------
    pwms : dict[str, torch.Tensor]
        Name -> ``float32`` tensor of shape ``(4, W)``: probabilities of ``A, C, G, T``
        (rows) at each motif position (columns); every column sums to 1.
    metadata : pandas.DataFrame
        One row per motif, indexed like ``pwms`` (same order), columns
        :data:`METADATA_COLUMNS`: ``matrix_id``, ``tf_name``, ``tf_class``, ``family``,
        ``species``, ``tax_group``, ``collection``, ``release``, ``url`` (str; empty where
        unknown) and ``width`` (int).
    name : str
        What the database is, in words (e.g. ``"JASPAR2026 CORE vertebrates"``).
    source : str
        Where it came from (``"pyjaspar"`` or a file path).
    notes : list of str
        What was done to the file's matrices on reading, in words (e.g. counts converted to
        probabilities); each was also given as a ``UserWarning``.

    Examples
    --------
    >>> db = jaspar()                         # doctest: +SKIP
    >>> len(db), db["MA0139.2"].shape          # doctest: +SKIP
    (1019, torch.Size([4, 19]))
    """

    pwms: dict[str, torch.Tensor]
    metadata: pd.DataFrame
    name: str = "motifs"
    source: str = ""
    notes: list[str] = field(default_factory=list)
    _arrays: list[np.ndarray] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self):
        if list(self.metadata.index) != list(self.pwms):
            raise ValueError("metadata must be indexed by the pwms' names, in the same order")
        for key, pwm in self.pwms.items():
            if pwm.ndim != 2 or pwm.shape[0] != 4 or pwm.shape[1] < 1:
                raise ValueError(f"motif {key!r}: a PWM must have shape (4, W) with W >= 1; got {tuple(pwm.shape)}")

    def __len__(self) -> int:
        return len(self.pwms)

    def __iter__(self) -> Iterator[str]:
        return iter(self.pwms)

    def __contains__(self, name: object) -> bool:
        return name in self.pwms

    def __getitem__(self, name: str) -> torch.Tensor:
        try:
            return self.pwms[name]
        except KeyError:
            raise KeyError(
                f"no motif named {name!r} in {self.name}; names are matrix IDs such as "
                f"{', '.join(list(self.pwms)[:3])}; use .find('CTCF') to look one up by TF name"
            ) from None

    def __repr__(self) -> str:
        return f"MotifDatabase({self.name!r}, {len(self)} motifs)"

    @property
    def names(self) -> list[str]:
        return list(self.pwms)

    def arrays(self) -> list[np.ndarray]:
        """The PWMs as C-contiguous ``float64`` numpy arrays ``(4, W)``, in database order.

        This is the form memelite's TOMTOM and FIMO are given (always ``float64``: numba
        compiles once per dtype, and the warm cache holds the ``float64`` version).
        """
        if self._arrays is None:
            self._arrays = [np.ascontiguousarray(p.numpy(), dtype=np.float64) for p in self.pwms.values()]
        return self._arrays

    def find(self, tf_name: str) -> list[str]:
        """Names of the motifs whose TF name is ``tf_name`` (case-insensitive, exact)."""
        names = self.metadata["tf_name"].astype(str).str.upper()
        return list(self.metadata.index[names == tf_name.upper()])

    def subset(self, names: Iterable[str]) -> "MotifDatabase":
        """A database of the given motifs (matrix IDs or TF names), in the given order.

        Raises
        ------
        KeyError
            A name that is neither a motif name nor a TF name in this database.
        """
        keys: list[str] = []
        for n in names:
            if n in self.pwms:
                keys.append(n)
            else:
                found = self.find(n)
                if not found:
                    raise KeyError(f"{n!r} is neither a matrix ID nor a TF name in {self.name}")
                keys.extend(found)
        keys = list(dict.fromkeys(keys))
        return MotifDatabase({k: self.pwms[k] for k in keys}, self.metadata.loc[keys].copy(),
                             name=f"{self.name} (subset of {len(keys)})", source=self.source, notes=list(self.notes))


# --------------------------------------------------------------------------- JASPAR

def jaspar(release: str = "JASPAR2026", collection: str = "CORE", tax_group: str | None = "vertebrates",
           latest: bool = True) -> MotifDatabase:
    """A JASPAR release, read offline from the SQLite files that pyjaspar ships.

    The loaded database is cached in-process (the same arguments give the same object), so
    calling this again is instant; the first call takes a few seconds.

    Parameters
    ----------
    release : str
        ``"JASPAR2014"`` ... ``"JASPAR2026"`` (default, the newest pyjaspar ships).
    collection : str
        ``"CORE"`` (default), ``"UNVALIDATED"``, ... (the valid ones depend on the release).
    tax_group : str or None
        ``"vertebrates"`` (default), ``"plants"``, ``"insects"``, ``"nematodes"``,
        ``"fungi"``, ``"urochordates"``, ...; ``None`` for all taxa.
    latest : bool
        Keep only the latest version of each matrix (default). ``False`` keeps all versions.

    Returns
    -------
    MotifDatabase
        Keyed by versioned matrix ID (``"MA0139.2"``); PWMs are the JASPAR counts divided by
        each column's total. JASPAR2026 CORE vertebrates holds 1,019 matrices.

    Raises
    ------
    ValueError
        Unknown release, collection or taxonomic group; the message lists the valid ones.
    """
    return _jaspar_cached(str(release), str(collection).upper(),
                          None if tax_group is None else str(tax_group).lower(), bool(latest))


def jaspar_releases() -> list[str]:
    """The JASPAR releases pyjaspar ships, newest first."""
    import pyjaspar

    return sorted(pyjaspar.jaspar_releases, reverse=True)


def _jaspar_connection(release: str):
    import pyjaspar

    valid = jaspar_releases()
    if release not in valid:
        raise ValueError(f"unknown JASPAR release {release!r}; pyjaspar {pyjaspar.__version__} ships: "
                         f"{', '.join(valid)}")
    return pyjaspar.jaspardb(release=release)


@functools.lru_cache(maxsize=8)
def _jaspar_cached(release: str, collection: str, tax_group: str | None, latest: bool) -> MotifDatabase:
    jdb = _jaspar_connection(release)
    cur = jdb.conn.cursor()
    collections = sorted(r[0] for r in cur.execute("SELECT DISTINCT COLLECTION FROM MATRIX"))
    if collection not in collections:
        raise ValueError(f"unknown JASPAR collection {collection!r} in {release}; valid: {', '.join(collections)}")
    taxa = sorted(r[0] for r in cur.execute(
        "SELECT DISTINCT VAL FROM MATRIX_ANNOTATION WHERE TAG = 'tax_group'"))
    if tax_group is not None and tax_group not in taxa:
        raise ValueError(f"unknown JASPAR taxonomic group {tax_group!r} in {release}; valid: "
                         f"{', '.join(taxa)} (or None for all)")
    species_names = dict(cur.execute("SELECT TAX_ID, SPECIES FROM TAX"))

    motifs = jdb.fetch_motifs(collection=collection, tax_group=tax_group, all_versions=not latest)
    if len(motifs) == 0:
        raise ValueError(f"JASPAR {release} has no {collection} matrices for tax_group={tax_group!r}")
    pwms: dict[str, torch.Tensor] = {}
    rows = []
    for m in motifs:
        counts = np.array([m.counts[b] for b in "ACGT"], dtype=np.float64)
        pwms[m.matrix_id] = torch.from_numpy(_normalise(counts, m.matrix_id)).float()
        species = []
        for s in m.species or []:
            try:
                species.append(species_names.get(int(s), str(s)))
            except (TypeError, ValueError):
                species.append(str(s))
        rows.append({
            "matrix_id": m.matrix_id,
            "tf_name": m.name,
            "tf_class": "; ".join(m.tf_class or []) if isinstance(m.tf_class, list) else str(m.tf_class or ""),
            "family": "; ".join(m.tf_family or []) if isinstance(m.tf_family, list) else str(m.tf_family or ""),
            "species": "; ".join(species),
            "tax_group": m.tax_group or "",
            "collection": m.collection or collection,
            "release": release,
            "url": JASPAR_URL.format(m.matrix_id),
            "width": counts.shape[1],
        })
    meta = pd.DataFrame(rows, columns=METADATA_COLUMNS, index=list(pwms))
    name = f"{release} {collection} {tax_group or 'all taxa'}" + ("" if latest else " (all versions)")
    return MotifDatabase(pwms, meta, name=name, source=f"pyjaspar ({release})")


def _normalise(matrix: np.ndarray, name: str) -> np.ndarray:
    """Counts or probabilities ``(4, W)`` -> probabilities (columns sum to 1)."""
    if not np.all(np.isfinite(matrix)) or (matrix < 0).any():
        raise ValueError(f"motif {name!r}: matrix values must be finite and >= 0")
    totals = matrix.sum(axis=0, keepdims=True)
    if (totals <= 0).any():
        col = int(np.flatnonzero(totals[0] <= 0)[0])
        raise ValueError(f"motif {name!r}: column {col + 1} (1-based) is all zero")
    return matrix / totals


# --------------------------------------------------------------------------- MEME files

_NUMBER = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")


def read_meme(path: str | Path, name: str | None = None) -> MotifDatabase:
    """Read a MEME-format motif file (MEME, JASPAR/HOCOMOCO/CIS-BP exports, your own).

    Understood: the ``MEME version`` header, ``ALPHABET= ACGT`` (or the default DNA
    alphabet), ``strands:`` and ``Background letter frequencies`` lines (read and
    ignored), and for each motif ``MOTIF <id> [<alt name>]``, a ``letter-probability
    matrix:`` line (``alength=``/``w=``/``nsites=``/``E=`` optional, in any order),
    ``W`` rows of 4 numbers, and an optional ``URL`` line. Gzip files are read too.

    Rows that are probabilities must sum to 1 within :data:`PROBABILITY_TOLERANCE` (the
    rounding of printed decimals), and are renormalised. A matrix whose rows all sum to
    :data:`COUNTS_MIN_TOTAL` or more holds counts (or percentages), not probabilities, as
    JASPAR and TRANSFAC exports and hand-made files do: it is **converted**, each position
    divided by its total, with a ``UserWarning`` (also in ``db.notes``). Converting loses
    nothing (count / total is the probability the same sites give), where refusing would make
    a usable file useless; the warning is there because a file that says "probability" and
    holds counts was not written as it says. Any other row that does not sum to 1 (a
    probability lost or mistyped) is refused, naming its line: no guess is made.

    Not memelite's ``read_meme``: that one needs ``w=``, drops the alternative (TF) name and
    the URL, and fails on a blank line inside a matrix.

    Parameters
    ----------
    path : str or Path
        The file.
    name : str, optional
        The database's name; default: the file name.

    Returns
    -------
    MotifDatabase
        Keyed by motif ID (a repeated ID gets ``_2``, ``_3``...). ``tf_name`` is the
        alternative name when given, else the ID; ``url`` the ``URL`` line when given.

    Raises
    ------
    FileNotFoundError
        No such file.
    ValueError
        A folder, a file that is not text or is empty, has no motifs (a JASPAR, HOMER or
        TRANSFAC file is named as such, with how to convert it), uses another alphabet (e.g.
        protein or RNA), or a matrix row is malformed, negative, or does not sum to 1 (the
        message gives the line number).
    """
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{path.name} is a folder, not a MEME motif file; choose a file inside it")
    if not path.is_file():
        raise FileNotFoundError(f"MEME file not found: {path}")
    try:
        with open(path, "rb") as fh:
            gz = fh.read(2) == b"\x1f\x8b"
        opener = gzip.open if gz else open
        with opener(path, "rt", encoding="utf-8") as fh:
            lines = fh.read().splitlines()
    except (UnicodeDecodeError, OSError, EOFError) as exc:
        raise ValueError(f"{path.name} could not be read as a MEME text file ({exc})") from None

    if not any(line.strip() for line in lines):
        raise ValueError(f"{path.name} is empty: it holds no motifs; choose a MEME motif file")
    release = ""
    pwms: dict[str, torch.Tensor] = {}
    rows: list[dict] = []
    counted: list[str] = []
    i, n = 0, len(lines)
    while i < n:
        line = lines[i].strip()
        if line.startswith("ALPHABET"):
            alphabet = line[len("ALPHABET"):].lstrip("= \t").strip()
            token = alphabet.split()[0].strip('"').upper() if alphabet else ""
            if token != "ACGT" and "DNA" not in alphabet.upper():
                rna = (". For RNA motifs, the U column is the T column: write ALPHABET= ACGT"
                       if token == "ACGU" else "")
                raise ValueError(f"{path.name}, line {i + 1}: only the DNA alphabet ACGT is supported; "
                                 f"this file declares ALPHABET= {alphabet}{rna}")
        elif line.startswith("MEME version"):
            release = line
        elif line.startswith("MOTIF"):
            fields = line.split()
            if len(fields) < 2:
                raise ValueError(f"{path.name}, line {i + 1}: a MOTIF line needs an identifier: {line!r}")
            motif_id = fields[1]
            alt = fields[2] if len(fields) > 2 else motif_id
            i, matrix, url, at = _read_matrix(lines, i + 1, path.name, motif_id)
            key = motif_id
            k = 2
            while key in pwms:
                key = f"{motif_id}_{k}"
                k += 1
            probabilities, counts = _meme_probabilities(matrix, motif_id, path.name, at)
            if counts:
                counted.append(counts)
            pwms[key] = torch.from_numpy(probabilities).float()
            rows.append({"matrix_id": motif_id, "tf_name": alt, "tf_class": "", "family": "",
                         "species": "", "tax_group": "", "collection": "", "release": release,
                         "url": url, "width": matrix.shape[1]})
            continue
        i += 1
    if not pwms:
        raise ValueError(_no_motifs(path.name, lines))
    notes = [_counts_words(path.name, counted, len(pwms))] if counted else []
    for note in notes:
        warnings.warn(note, UserWarning, stacklevel=2)
    meta = pd.DataFrame(rows, columns=METADATA_COLUMNS, index=list(pwms))
    return MotifDatabase(pwms, meta, name=name or path.name, source=str(path), notes=notes)


#: how far a row of a letter-probability matrix may sum from 1 and be rounding (2 printed decimals)
PROBABILITY_TOLERANCE = 0.025
#: a matrix whose every row sums to at least this holds counts (or percentages), not probabilities
COUNTS_MIN_TOTAL = 1.5


def _meme_probabilities(matrix: np.ndarray, motif_id: str, filename: str, at: list[int]
                        ) -> tuple[np.ndarray, str | None]:
    """``(probabilities (4, W), counts note or None)`` of one MEME matrix (rule: :func:`read_meme`).

    Parameters
    ----------
    matrix : numpy.ndarray, shape ``(4, W)``
        As read (columns are the file's rows).
    at : list of int
        The 1-based line number of each of the file's rows.

    Raises
    ------
    ValueError
        A negative or non-finite value, an all-zero row, or a row of probabilities that does
        not sum to 1, naming its line.
    """
    totals = matrix.sum(axis=0)
    for j in range(matrix.shape[1]):
        row = matrix[:, j]
        where = f"{filename}, line {at[j]}: row {j + 1} of motif {motif_id!r}"
        if not np.all(np.isfinite(row)) or (row < 0).any():
            raise ValueError(f"{where} holds {' '.join(f'{v:g}' for v in row)}; matrix values must be finite and "
                             f">= 0 (probabilities or counts). A row of log-odds scores belongs under a 'log-odds "
                             f"matrix:' line, which the explorer does not read: give the letter-probability matrix")
        if totals[j] <= 0:
            raise ValueError(f"{where} is all zero (column {j + 1}, 1-based); every position needs a probability "
                             f"for at least one base")
    off = np.abs(totals - 1.0) > PROBABILITY_TOLERANCE
    if not off.any():
        return matrix / totals, None
    if (totals >= COUNTS_MIN_TOTAL).all():
        low, high = float(totals.min()), float(totals.max())
        span = f"{low:g}" if np.isclose(low, high) else f"{low:g}-{high:g}"
        return matrix / totals, f"{motif_id} (rows summing to {span})"
    j = int(np.flatnonzero(off)[0])
    raise ValueError(
        f"{filename}, line {at[j]}: row {j + 1} of motif {motif_id!r} sums to {totals[j]:.4g}, not 1. The rows of a "
        f"letter-probability matrix are the probabilities of A, C, G and T at one position and each must sum to 1 "
        f"(within {PROBABILITY_TOLERANCE:g}); correct the row. If the matrix holds counts, give every row its "
        f"counts (each row summing to its number of sites).")


def _counts_words(filename: str, counted: list[str], total: int) -> str:
    """The warning for the motifs of ``filename`` read as counts and converted to probabilities."""
    shown = ", ".join(counted[:5]) + (f", ... ({len(counted)} in all)" if len(counted) > 5 else "")
    verb = "holds" if len(counted) == 1 else "hold"
    return (f"{filename}: {len(counted)} of {total} motif{'s' if total != 1 else ''} {verb} counts (or percentages), "
            f"not probabilities, under 'letter-probability matrix': {shown}. Each position was divided by its "
            f"total to give probabilities (what the same sites give). If these numbers are not counts, correct "
            f"the file.")


#: other motif file formats a MEME file is confused with: name -> (how to tell, what to do)
_OTHER_FORMATS = {
    "JASPAR": "('>ID name' lines, then rows such as 'A [ 0 3 ... ]')",
    "HOMER": "('>consensus<TAB>name<TAB>threshold' lines, then rows of 4 probabilities)",
    "TRANSFAC": "('AC', 'ID' and 'P0' lines)",
}
_CONVERT = {
    "JASPAR": "convert it with the MEME suite's jaspar2meme (jaspar2meme -bundle FILE > motifs.meme), or choose "
              "the JASPAR release in the explorer, which reads JASPAR itself",
    "HOMER": "write it as MEME: for each motif a 'MOTIF <name>' line, a 'letter-probability matrix:' line, then "
             "its rows (HOMER's rows already are probabilities of A, C, G, T)",
    "TRANSFAC": "convert it with the MEME suite's transfac2meme (transfac2meme FILE > motifs.meme)",
}


def motif_file_format(lines: list[str]) -> str | None:
    """``"JASPAR"``, ``"HOMER"`` or ``"TRANSFAC"`` when the lines look like that format, else None."""
    text = [line.strip() for line in lines if line.strip()]
    if any(re.match(r"^[ACGT]\s*[:|]?\s*\[", line) for line in text):
        return "JASPAR"
    if any(line.startswith(("P0 ", "PO ", "P0\t", "PO\t")) for line in text) and \
            any(line.startswith(("ID ", "AC ", "XX")) for line in text):
        return "TRANSFAC"
    headers = [k for k, line in enumerate(text) if line.startswith(">")]
    if headers and headers[0] + 1 < len(text):
        following = text[headers[0] + 1].split()
        if following and all(_NUMBER.match(f) for f in following):
            fields = text[headers[0]].split("\t")
            homer = len(following) == 4 and len(fields) >= 3 and bool(_NUMBER.match(fields[2].strip()))
            return "HOMER" if homer else "JASPAR"
    return None


def _no_motifs(filename: str, lines: list[str]) -> str:
    """Why a file holds no MEME motifs: another format (named, with how to convert), or none."""
    kind = motif_file_format(lines)
    if kind is not None:
        return (f"{filename} holds no MEME motifs: it is a {kind} motif file {_OTHER_FORMATS[kind]}, not MEME; "
                f"{_CONVERT[kind].replace('FILE', filename)}")
    return (f"{filename} holds no motifs: a MEME file needs 'MOTIF <id>' lines, each followed by a "
            f"'letter-probability matrix:' line and its rows")


def _log_odds_only(lines: list[str], start: int, stop: int) -> str:
    """Words for a motif given only as a log-odds matrix (``""`` otherwise)."""
    if any(line.strip().startswith("log-odds") for line in lines[start:stop]):
        return (" (only a 'log-odds matrix:', which cannot be turned back into probabilities without its "
                "background); MEME writes both: give the file with the letter-probability matrices")
    return ""


def _read_matrix(lines: list[str], i: int, filename: str, motif_id: str
                 ) -> tuple[int, np.ndarray, str, list[int]]:
    """Parse one motif's matrix starting after its MOTIF line.

    Returns
    -------
    (int, numpy.ndarray, str, list of int)
        The next line's index, the matrix ``(4, W)``, the URL (or ``""``) and the 1-based
        line number of each matrix row.
    """
    n = len(lines)
    start = i
    while i < n and not lines[i].strip().startswith("letter-probability"):
        if lines[i].strip().startswith("MOTIF"):
            break
        i += 1
    if i >= n or not lines[i].strip().startswith("letter-probability"):
        raise ValueError(f"{filename}: motif {motif_id!r} has no 'letter-probability matrix:' line"
                         + _log_odds_only(lines, start, i))
    header = lines[i]
    m = re.search(r"\bw\s*=\s*(\d+)", header)
    width = int(m.group(1)) if m else None
    m = re.search(r"\balength\s*=\s*(\d+)", header)
    if m and int(m.group(1)) != 4:
        raise ValueError(f"{filename}, line {i + 1}: motif {motif_id!r} has alength= {m.group(1)}; "
                         f"only 4-letter DNA motifs are supported")
    i += 1
    values: list[list[float]] = []
    at: list[int] = []
    while i < n and (width is None or len(values) < width):
        text = lines[i].strip()
        if not text:
            if values and width is None:
                break
            i += 1
            continue
        fields = text.split()
        if not all(_NUMBER.match(f) for f in fields):
            if width is None and values:
                break
            raise ValueError(f"{filename}, line {i + 1}: expected a matrix row of 4 numbers for motif "
                             f"{motif_id!r}, got {text[:60]!r}")
        if len(fields) != 4:
            raise ValueError(f"{filename}, line {i + 1}: a matrix row of motif {motif_id!r} must hold 4 numbers "
                             f"(A C G T); got {len(fields)}")
        values.append([float(f) for f in fields])
        at.append(i + 1)
        i += 1
    if not values:
        raise ValueError(f"{filename}: motif {motif_id!r} has an empty matrix")
    if width is not None and len(values) < width:
        raise ValueError(f"{filename}: motif {motif_id!r} declares w= {width} but has {len(values)} rows; the file may "
                         f"be cut short (download or copy it again), or w= is wrong")
    url = ""
    while i < n and not lines[i].strip():
        i += 1
    if i < n and lines[i].strip().startswith("URL"):
        url = lines[i].strip()[3:].strip()
        i += 1
    return i, np.asarray(values, dtype=np.float64).T, url, at

"""Genomic loci: a named stretch of sequence with its annotation.

Coordinates: a :class:`Locus` stores ``start`` and ``end`` 0-based, half-open, in the
coordinates of its sequence (``chrom``). Region strings follow genome browsers:
``"chr11:5,246,001-5,248,000"`` is 1-based and inclusive, i.e. ``[5246000, 5248000)``.
A BED row (``"chr11\\t5246000\\t5248000"`` or a ``(chrom, start, end)`` tuple) is 0-based,
half-open, as in BED files.

Supported files: FASTA (plain, or bgzip-compressed and indexed with pyfaidx, so a whole
genome works; a plain-gzip FASTA is read into memory), GenBank (plain or gzip, features as
the annotation table), and GTF/GFF/BED annotation beside a FASTA.
"""

from __future__ import annotations

import gzip
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import pandas as pd
import torch

from explorer.io.cachefiles import derived_path
from explorer.io.sequences import invalid_positions, invalid_text, one_hot_encode, validate_sequence

#: columns of every annotation table (start/end 0-based half-open in the chrom's coordinates)
ANNOTATION_COLUMNS = ["chrom", "start", "end", "strand", "type", "name"]
#: GenBank feature types kept in the annotation table
GENBANK_FEATURE_TYPES = ("gene", "mRNA", "exon", "CDS", "repeat_region", "misc_feature",
                         "promoter", "enhancer", "regulatory", "polyA_signal", "TATA_signal")

FASTA_SUFFIXES = (".fa", ".fasta", ".fna", ".fas")
GENBANK_SUFFIXES = (".gb", ".gbk", ".genbank", ".gbff")


@dataclass(frozen=True)
class Region:
    """A genomic interval: ``chrom``, ``start`` and ``end`` 0-based, half-open."""

    chrom: str
    start: int
    end: int

    def __str__(self) -> str:
        """1-based inclusive, genome-browser style: ``chrom:start+1-end``."""
        return f"{self.chrom}:{self.start + 1:,}-{self.end:,}"

    @property
    def length(self) -> int:
        return self.end - self.start


_REGION_RE = re.compile(r"^\s*(?P<chrom>[^:\s]+)\s*:\s*(?P<start>[\d,_]+)\s*-\s*(?P<end>[\d,_]+)\s*$")


def parse_region(region: str | tuple | Region) -> Region:
    """Parse a region into a 0-based half-open :class:`Region` (not checked against a sequence).

    Parameters
    ----------
    region : str, tuple or Region
        ``"chrom:start-end"`` (1-based, inclusive; commas allowed), a BED row as a string
        (``"chrom<TAB>start<TAB>end"``, 0-based half-open) or a ``(chrom, start, end)``
        tuple (0-based half-open, like BED).

    Raises
    ------
    ValueError
        Malformed text, negative or reversed coordinates.
    """
    if isinstance(region, Region):
        chrom, start, end = region.chrom, region.start, region.end
    elif isinstance(region, (tuple, list)):
        if len(region) < 3:
            raise ValueError(f"a BED-style region needs (chrom, start, end); got {region!r}")
        chrom, start, end = str(region[0]), _as_int(region[1], region), _as_int(region[2], region)
    elif isinstance(region, str):
        fields = region.strip().split("\t") if "\t" in region else region.strip().split()
        if len(fields) >= 3 and ":" not in fields[0]:
            chrom, start, end = fields[0], _as_int(fields[1], region), _as_int(fields[2], region)
        else:
            m = _REGION_RE.match(region)
            if not m:
                raise ValueError(
                    f"cannot read region {region!r}: write it as chrom:start-end, 1-based and "
                    f"inclusive like a genome browser (e.g. HUMHBB:44,001-46,000), or as a BED "
                    f"row 'chrom<TAB>start<TAB>end'"
                )
            chrom = m["chrom"]
            start1 = _as_int(m["start"], region)
            end = _as_int(m["end"], region)
            if start1 < 1:
                raise ValueError(f"region {region!r}: positions are 1-based, so start must be >= 1")
            start = start1 - 1
    else:
        raise TypeError(f"region must be a str, a (chrom, start, end) tuple or a Region; got {type(region).__name__}")
    if start < 0:
        raise ValueError(f"region {region!r}: start must be >= 0 (0-based); got {start}")
    if end <= start:
        raise ValueError(
            f"region {region!r} is empty or reversed: end must be greater than start "
            f"(got start={start + 1:,} and end={end:,}, 1-based inclusive)"
        )
    return Region(chrom, start, end)


def _as_int(value, region) -> int:
    try:
        return int(str(value).replace(",", "").replace("_", ""))
    except ValueError:
        raise ValueError(f"region {region!r}: {value!r} is not a whole number") from None


@dataclass
class Locus:
    """A stretch of DNA to explain.

    Attributes
    ----------
    chrom : str
        Name of the sequence the coordinates refer to (FASTA record name; GenBank LOCUS name).
    start, end : int
        0-based, half-open coordinates of ``sequence`` within ``chrom``.
    sequence : str
        The bases, upper-case (``end - start`` long).
    annotations : pandas.DataFrame
        Features overlapping the locus, columns :data:`ANNOTATION_COLUMNS`; ``start``/``end``
        0-based half-open in ``chrom`` coordinates (not clipped to the locus).
    source : str
        File the locus came from, or ``"<pasted>"``.
    chrom_length : int or None
        Length of the whole ``chrom`` sequence, when known.
    """

    chrom: str
    start: int
    end: int
    sequence: str
    annotations: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=ANNOTATION_COLUMNS))
    source: str = "<pasted>"
    chrom_length: int | None = None

    def __post_init__(self):
        self.sequence = validate_sequence(self.sequence)
        if len(self.sequence) != self.end - self.start:
            raise ValueError(
                f"sequence length {len(self.sequence)} does not match end - start = {self.end - self.start}"
            )

    @property
    def one_hot(self) -> torch.Tensor:
        """``float32`` one-hot, shape ``(4, L)``, ACGT order (N/IUPAC: zero columns)."""
        return one_hot_encode(self.sequence)

    @property
    def region(self) -> Region:
        return Region(self.chrom, self.start, self.end)

    def __len__(self) -> int:
        return self.end - self.start

    def __str__(self) -> str:
        return str(self.region)

    def to_genome(self, index: int) -> int:
        """0-based index within the locus -> 1-based position on ``chrom``."""
        return self.start + int(index) + 1

    def to_index(self, position: int) -> int:
        """1-based position on ``chrom`` -> 0-based index within the locus (checked)."""
        index = int(position) - 1 - self.start
        if not 0 <= index < len(self):
            raise ValueError(
                f"position {position:,} (1-based) lies outside the locus {self} "
                f"({self.start + 1:,}-{self.end:,})"
            )
        return index

    def subregion(self, start: int, end: int) -> "Locus":
        """A new Locus for ``[start, end)`` given 0-based half-open *chrom* coordinates."""
        if not (self.start <= start < end <= self.end):
            raise ValueError(
                f"sub-region {self.chrom}:{start + 1:,}-{end:,} must lie inside the locus {self} "
                f"with start < end"
            )
        i, j = start - self.start, end - self.start
        ann = _overlapping(self.annotations, self.chrom, start, end)
        return Locus(self.chrom, start, end, self.sequence[i:j], ann, self.source, self.chrom_length)


def locus_from_sequence(sequence: str, name: str = "pasted", start: int = 0) -> Locus:
    """A locus from a pasted sequence (whitespace and a FASTA header line are ignored).

    ``start`` is the 0-based coordinate of the first base, default 0.
    """
    text = sequence.strip()
    if text.startswith(">"):
        header, _, text = text.partition("\n")
        name = header[1:].split()[0] if header[1:].strip() else name
    seq = validate_sequence(text)
    return Locus(name, start, start + len(seq), seq, source="<pasted>", chrom_length=None)


def load_locus(
    path: str | Path,
    region: str | tuple | Region | None = None,
    *,
    annotations: str | Path | None = None,
) -> Locus:
    """Read a locus from FASTA or GenBank.

    Parameters
    ----------
    path : str or Path
        FASTA (``.fa``, ``.fasta``, ``.fna``, optionally ``.gz``) or GenBank (``.gb``,
        ``.gbk``, optionally ``.gz``). The format is detected from the content.
    region : str, tuple or Region, optional
        What to cut out: ``"chrom:start-end"`` (1-based inclusive) or a BED row (0-based
        half-open); see :func:`parse_region`. Default: the whole of the first record.
    annotations : str or Path, optional
        A GTF/GFF or BED file of features for a FASTA (GenBank records carry their own).

    Raises
    ------
    FileNotFoundError
        No such file.
    ValueError
        A folder, an empty file, a file that is neither FASTA nor GenBank (a compressed file
        of another kind is named), a damaged gzip file, a record without bases (a FASTA
        header alone, a GenBank record without its sequence), duplicate or empty FASTA record
        names, an unknown sequence name (the message lists those available), or a region
        outside the sequence.
    """
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{path.name} is a folder, not a FASTA or GenBank file; choose a file inside it")
    if not path.is_file():
        raise FileNotFoundError(f"locus file not found: {path}")
    kind = _sniff(path)
    if kind == "genbank":
        locus = _load_genbank(path, region)
    else:
        locus = _load_fasta(path, region)
    if annotations is not None:
        table = read_annotation_table(annotations)
        locus.annotations = _overlapping(
            pd.concat([locus.annotations, table], ignore_index=True), locus.chrom, locus.start, locus.end
        )
    return locus


def _open_text(path: Path):
    with open(path, "rb") as fh:
        magic = fh.read(2)
    if magic == b"\x1f\x8b":
        return gzip.open(path, "rt")
    return open(path, "rt", errors="replace")


#: leading bytes of compressed or archive formats the explorer does not read, and what to do
OTHER_COMPRESSIONS = {
    b"PK\x03\x04": "a zip archive: unzip it and choose the FASTA or GenBank file inside",
    b"BZh": "bzip2-compressed: decompress it (bunzip2) or recompress it with gzip or bgzip",
    b"\xfd7zXZ\x00": "xz-compressed: decompress it (unxz) or recompress it with gzip or bgzip",
    b"\x28\xb5\x2f\xfd": "zstd-compressed: decompress it (unzstd) or recompress it with gzip or bgzip",
}


def _sniff(path: Path) -> str:
    """``"fasta"`` or ``"genbank"`` from the content; a clear ``ValueError`` for anything else."""
    with open(path, "rb") as fh:
        magic = fh.read(6)
    if not magic:
        raise ValueError(f"{path.name} is empty (0 bytes): it holds no sequence; choose a FASTA or GenBank file")
    for prefix, what in OTHER_COMPRESSIONS.items():
        if magic.startswith(prefix):
            raise ValueError(f"{path.name} is {what}")
    try:
        with _open_text(path) as fh:
            head = fh.read(4096)
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise ValueError(f"{path.name} is a damaged or truncated gzip file ({exc}); download or compress it "
                         f"again") from None
    stripped = head.lstrip()
    if stripped.startswith(">"):
        return "fasta"
    if stripped.startswith("LOCUS"):
        return "genbank"
    gz = path.name.lower().endswith((".gz", ".bgz")) and magic[:2] != b"\x1f\x8b"
    raise ValueError(
        f"{path.name} is neither FASTA (first line '>name') nor GenBank (first line 'LOCUS ...')"
        + ("; its name ends in .gz but it is not gzip-compressed either" if gz else "")
        + f"; it starts with {stripped[:40]!r}"
    )


def _resolve(region, chrom_lengths: dict[str, int], path: Path) -> Region:
    if region is None:
        chrom = next(iter(chrom_lengths))
        return Region(chrom, 0, chrom_lengths[chrom])
    reg = parse_region(region)
    if reg.chrom not in chrom_lengths:
        names = list(chrom_lengths)
        shown = ", ".join(names[:20]) + (f" ... ({len(names)} in all)" if len(names) > 20 else "")
        raise ValueError(f"sequence {reg.chrom!r} is not in {path.name}; it holds: {shown}")
    length = chrom_lengths[reg.chrom]
    if reg.end > length:
        raise ValueError(
            f"region {reg} runs past the end of {reg.chrom}, which is {length:,} bp long "
            f"(valid 1-based positions: 1-{length:,})"
        )
    return reg


def _load_fasta(path: Path, region) -> Locus:
    """A locus of a FASTA file: indexed with pyfaidx (index in the cache), else read in memory.

    Read in memory: plain gzip, a folder where no index can be written, and FASTA whose
    lines are of uneven length (valid FASTA that a ``.fai`` index cannot describe).
    """
    import pyfaidx

    try:
        lengths, reg, seq = _read_fasta_indexed(path, region)
    except (pyfaidx.UnsupportedCompressionFormat, PermissionError, OSError, _UnevenLines):
        records = _read_fasta_in_memory(path)
        lengths = {name: len(seq) for name, seq in records.items()}
        reg = _resolve(region, lengths, path)
        seq = records[reg.chrom][reg.start:reg.end]
    _check_has_bases(path, reg.chrom, lengths[reg.chrom])
    _check_bases(path, reg, seq)
    return Locus(reg.chrom, reg.start, reg.end, seq, source=str(path), chrom_length=lengths[reg.chrom])


class _UnevenLines(Exception):
    """pyfaidx cannot index a FASTA whose lines are of uneven length (read it in memory)."""


def _read_fasta_indexed(path: Path, region) -> tuple[dict[str, int], Region, str]:
    """``(record lengths, region, bases)`` through a pyfaidx index kept in the cache.

    The index lives in the cache, keyed by the file's path, size and mtime: never written
    beside the user's data, rebuilt when the FASTA changed. pyfaidx's errors are put in
    words, its own text kept.
    """
    import pyfaidx

    index = derived_path("fasta-index", path, ".fai")
    index.parent.mkdir(parents=True, exist_ok=True)
    try:
        fasta = pyfaidx.Fasta(str(path), indexname=str(index), gzi_indexname=str(index.with_suffix(".gzi")),
                              as_raw=True, sequence_always_upper=True, rebuild=False)
        try:
            lengths = {name: len(fasta[name]) for name in fasta.keys()}
            reg = _resolve(region, lengths, path)
            return lengths, reg, fasta[reg.chrom][reg.start:reg.end]
        finally:
            fasta.close()
    except pyfaidx.FastaIndexingError as exc:
        text = str(exc)
        if "not consistent" in text:
            raise _UnevenLines(text) from None
        if "Bad sequence name" in text:
            raise ValueError(f"{path.name} has a header line without a name (a line holding only '>'); give "
                             f"every record a name, e.g. '>chr1' (pyfaidx: {text})") from None
        raise ValueError(f"{path.name} could not be read as FASTA: {text}") from None
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path.name} holds bytes that are not text (at byte {exc.start:,} of a line): it is "
                         f"not a FASTA file, or it is damaged") from None
    except ValueError as exc:
        if "Duplicate key" in str(exc):
            name = str(exc).split("Duplicate key", 1)[1].strip().strip('"')
            raise ValueError(f"{path.name} holds two records named {name!r}; record names must be unique "
                             f"(rename one in the FASTA headers)") from None
        raise


def _check_bases(path: Path, reg: Region, seq: str) -> None:
    """Refuse characters that are not DNA, naming the first by its 1-based position on the record."""
    bad = invalid_positions(seq)
    if bad.size:
        where = f"position {reg.start + int(bad[0]) + 1:,} of {reg.chrom} (1-based) in {path.name}"
        raise ValueError(invalid_text(seq, bad, where))


def _check_has_bases(path: Path, chrom: str, length: int) -> None:
    """Refuse a record of no bases (a header line with no sequence under it)."""
    if length == 0:
        raise ValueError(f"record {chrom!r} of {path.name} holds no bases (a header line with no sequence under "
                         f"it); add its sequence, or choose another record with a region such as 'name:1-1000'")


def _read_fasta_in_memory(path: Path) -> dict[str, str]:
    records: dict[str, list[str]] = {}
    name = None
    with _open_text(path) as fh:
        for lineno, line in enumerate(fh, 1):
            if line.startswith(">"):
                if not line[1:].strip():
                    raise ValueError(f"{path.name}, line {lineno}: a header line without a name (only '>'); give "
                                     f"every record a name, e.g. '>chr1'")
                name = line[1:].split()[0]
                if name in records:
                    raise ValueError(f"{path.name} holds two records named {name!r}; record names must be unique "
                                     f"(rename one in the FASTA headers)")
                records[name] = []
            elif name is not None:
                records[name].append(line.strip())
    if not records:
        raise ValueError(f"{path.name} holds no FASTA records")
    return {k: "".join(v).upper() for k, v in records.items()}


def _load_genbank(path: Path, region) -> Locus:
    from Bio import SeqIO

    try:
        with _open_text(path) as fh:
            records = list(SeqIO.parse(fh, "genbank"))
    except Exception as exc:  # noqa: BLE001 - Biopython raises several types
        raise ValueError(f"{path.name} is not a readable GenBank file: {exc}") from None
    if not records:
        raise ValueError(f"{path.name} holds no GenBank records")
    by_name = {rec.name: rec for rec in records}
    lengths = {name: len(rec.seq) for name, rec in by_name.items()}
    reg = _resolve(region, lengths, path)
    rec = by_name[reg.chrom]
    seq = _genbank_bases(rec, reg, path)
    table = genbank_features(rec)
    ann = _overlapping(table, reg.chrom, reg.start, reg.end)
    return Locus(reg.chrom, reg.start, reg.end, seq, ann, source=str(path), chrom_length=lengths[reg.chrom])


def _genbank_bases(record, reg: Region, path: Path) -> str:
    """The bases of ``reg`` in a GenBank record; a clear message when the record has none.

    A GenBank record may give only its length and a ``CONTIG`` line (how the sequence is
    assembled from others) without the bases (no ``ORIGIN`` section): Biopython then says
    "Sequence content is undefined".
    """
    from Bio.Seq import UndefinedSequenceError

    try:
        seq = str(record.seq[reg.start:reg.end])
    except UndefinedSequenceError as exc:
        raise ValueError(
            f"record {record.name!r} of {path.name} holds no sequence, only its length and features (no ORIGIN "
            f"section; Biopython: {exc}). Download it with its sequence (at NCBI: 'GenBank (full)', or "
            f"'Show sequence'), or use a FASTA of the same record") from None
    _check_has_bases(path, record.name, len(seq))
    _check_bases(path, reg, seq)
    return seq


def genbank_features(record) -> pd.DataFrame:
    """Annotation table (:data:`ANNOTATION_COLUMNS`) of a Biopython GenBank record.

    Multi-part features (joined exons) give one row spanning the whole feature.
    """
    rows = []
    for feat in record.features:
        if feat.type not in GENBANK_FEATURE_TYPES:
            continue
        q = feat.qualifiers
        name = (q.get("gene") or q.get("standard_name") or q.get("product") or q.get("rpt_family")
                or q.get("note") or [feat.type])[0]
        strand = {1: "+", -1: "-"}.get(feat.location.strand, ".")
        rows.append((record.name, int(feat.location.start), int(feat.location.end), strand, feat.type, str(name)))
    return pd.DataFrame(rows, columns=ANNOTATION_COLUMNS)


def read_annotation_table(path: str | Path) -> pd.DataFrame:
    """Read GTF/GFF or BED into an annotation table (0-based half-open coordinates).

    GTF/GFF ``start`` is 1-based inclusive and converted; BED is taken as is. The ``name``
    of a GTF feature is its ``gene_name`` (else ``gene_id``, else ``transcript_id``).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"annotation file not found: {path}")
    rows = []
    with _open_text(path) as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip() or line.startswith(("#", "track", "browser")):
                continue
            f = line.rstrip("\n").split("\t")
            try:
                if len(f) >= 9 and f[3].isdigit() and f[4].isdigit():  # GTF / GFF
                    attrs = dict(re.findall(r'(\w+)[ =]"?([^";]+)"?', f[8]))
                    name = attrs.get("gene_name") or attrs.get("Name") or attrs.get("gene_id") \
                        or attrs.get("transcript_id") or attrs.get("ID") or f[2]
                    rows.append((f[0], int(f[3]) - 1, int(f[4]), f[6], f[2], name))
                elif len(f) >= 3:  # BED
                    strand = f[5] if len(f) >= 6 and f[5] in "+-." else "."
                    rows.append((f[0], int(f[1]), int(f[2]), strand, "region", f[3] if len(f) >= 4 else ""))
                else:
                    raise ValueError
            except ValueError:
                raise ValueError(
                    f"{path.name}, line {lineno}: not a GTF/GFF (9 tab-separated columns) or BED "
                    f"(chrom, start, end, ...) line: {line[:80]!r}"
                ) from None
    return pd.DataFrame(rows, columns=ANNOTATION_COLUMNS)


def _overlapping(table: pd.DataFrame, chrom: str, start: int, end: int) -> pd.DataFrame:
    if table is None or table.empty:
        return pd.DataFrame(columns=ANNOTATION_COLUMNS)
    keep = (table["chrom"] == chrom) & (table["start"] < end) & (table["end"] > start)
    return table.loc[keep, ANNOTATION_COLUMNS].reset_index(drop=True)


def read_bed_regions(path: str | Path) -> Iterable[Region]:
    """Yield the regions of a BED file (0-based half-open)."""
    for _, row in read_annotation_table(path).iterrows():
        yield Region(row["chrom"], int(row["start"]), int(row["end"]))

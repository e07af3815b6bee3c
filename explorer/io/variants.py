"""Reading variants (VCF, tables, strings) and tables of measured variant effects.

This module only reads and normalises; scoring and placing on a locus live in
:mod:`explorer.variants`.

Variant table
-------------
:func:`parse_variants` returns a ``pandas.DataFrame`` with the columns
:data:`VARIANT_COLUMNS`:

``chrom`` (str)
    Sequence name, as in the input (``"HUMHBB"``, ``"chr11"``).
``pos`` (int)
    **1-based** position of the first reference base, as in VCF.
``ref``, ``alt`` (str)
    Alleles, upper case. ``"-"`` stands for an empty allele: ``ref="C", alt="-"`` deletes
    the C at ``pos`` (the unanchored style of Kircher et al. 2019 and HGVS). VCF-style
    anchored indels (``CT>C``, ``C>CA``) are kept as written. A variant replaces the
    ``len(ref)`` bases starting at ``pos`` with ``alt``; that one rule covers
    substitutions, deletions, insertions and complex changes.
``id`` (str)
    The VCF ID or the table's ``id`` column; otherwise ``"chrom:pos:ref>alt"``.
``kind`` (str)
    ``"snv"``, ``"deletion"``, ``"insertion"``, ``"mnv"`` (same-length, several bases)
    or ``"complex"``; see :func:`variant_kind`.

Measured-effect table
---------------------
:func:`read_measured_table` reads the format of Kircher et al. 2019 (columns ``Chrom Pos
Ref Alt Barcodes DNA RNA Coefficient pValue Element Release``) or a plain TSV/CSV with
``chrom, pos, ref, alt, effect`` (optional ``pvalue``, ``element``), and returns
:data:`MEASURED_COLUMNS` (plus any extra columns of the file, lower-cased).
"""

from __future__ import annotations

import gzip
import io
import re
import warnings
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd

#: columns of every variant table returned by :func:`parse_variants`
VARIANT_COLUMNS = ["chrom", "pos", "ref", "alt", "id", "kind"]
#: leading columns of every measured-effect table returned by :func:`read_measured_table`
MEASURED_COLUMNS = ["chrom", "pos", "ref", "alt", "effect", "pvalue", "element", "release", "kind",
                    "is_deletion"]
#: spellings of an empty allele
EMPTY_ALLELES = ("-", "", ".")

_ALLELE_RE = re.compile(r"^[ACGTNacgtn]+$|^-$")
_STRING_FORMS = (
    # HUMHBB:62150:C>T, HUMHBB:62,150:CT>C, HUMHBB:62150 C>T, HUMHBB_62150_C>T
    re.compile(r"^(?P<chrom>[^:\s]+)[:_\s](?P<pos>[\d,]+)[:_\s]?(?P<ref>[A-Za-z-]+)>(?P<alt>[A-Za-z-]+)$"),
    # chr11-5248232-C-T (gnomAD style), chr11:5248232:C:T
    re.compile(r"^(?P<chrom>[^:\s]+?)[-:](?P<pos>\d+)[-:](?P<ref>[A-Za-z]+)[-:](?P<alt>[A-Za-z]+|-)$"),
    # 62150:C>T or 62150C>T (the locus gives the chrom)
    re.compile(r"^(?P<pos>[\d,]+)[:_\s]?(?P<ref>[A-Za-z-]+)>(?P<alt>[A-Za-z-]+)$"),
)
_STRING_HELP = (
    "write a variant as 'chrom:pos:ref>alt' with a 1-based position, e.g. 'HUMHBB:62150:C>T', "
    "'HUMHBB:62150:CT>C' (deletion, VCF-style anchored) or 'HUMHBB:62150:C>-' (the C deleted)"
)


def normalise_allele(allele, *, what: str = "allele", variant: str = "") -> str:
    """Upper-case an allele; map the empty spellings (``-``, ``''``, ``.``) to ``"-"``.

    Raises
    ------
    ValueError
        If the allele holds anything but A, C, G, T, N (or is a symbolic allele like ``<DEL>``).
    """
    if allele is None or (isinstance(allele, float) and np.isnan(allele)):
        raise ValueError(f"variant {variant or '?'}: the {what} allele is missing")
    text = str(allele).strip()
    if text in EMPTY_ALLELES:
        return "-"
    if not _ALLELE_RE.match(text):
        raise ValueError(
            f"variant {variant or '?'}: {what} allele {text!r} is not a DNA allele; alleles hold only "
            f"A, C, G, T or N (or '-' for an empty allele); symbolic alleles such as <DEL> or * "
            f"are not supported"
        )
    return text.upper()


def allele_bases(allele: str) -> str:
    """The bases of a normalised allele (``"-"`` -> ``""``)."""
    return "" if allele == "-" else allele


def variant_kind(ref: str, alt: str) -> str:
    """Classify a normalised ``ref``/``alt`` pair.

    ``"snv"``: one base for one base; ``"deletion"``: ``alt`` is empty or a prefix/suffix of
    a longer ``ref`` (``CT>C``, ``C>-``); ``"insertion"``: the reverse (``C>CA``, ``->A``);
    ``"mnv"``: several bases replaced by as many; ``"complex"``: anything else.
    """
    r, a = allele_bases(ref), allele_bases(alt)
    if len(r) == 1 and len(a) == 1:
        return "snv"
    if len(r) == len(a):
        return "mnv"
    if len(a) < len(r) and (r.startswith(a) or r.endswith(a)):
        return "deletion"
    if len(a) > len(r) and (a.startswith(r) or a.endswith(r)):
        return "insertion"
    return "complex"


def variant_label(chrom: str, pos: int, ref: str, alt: str) -> str:
    """``"chrom:pos:ref>alt"`` with a 1-based ``pos`` (the canonical id)."""
    return f"{chrom}:{int(pos)}:{ref}>{alt}"


def _finish(rows: list[dict], source: str) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=["chrom", "pos", "ref", "alt", "id"])
    if df.empty:
        df["kind"] = pd.Series(dtype=str)
    else:
        df["pos"] = df["pos"].astype(np.int64)
        df["chrom"] = df["chrom"].astype(str)
        df["id"] = [
            str(i) if isinstance(i, str) and i not in ("", ".") else variant_label(c, p, r, a)
            for i, c, p, r, a in zip(df["id"], df["chrom"], df["pos"], df["ref"], df["alt"])
        ]
        df["kind"] = [variant_kind(r, a) for r, a in zip(df["ref"], df["alt"])]
    df.attrs["source"] = source
    return df[VARIANT_COLUMNS]


def _row(chrom, pos, ref, alt, vid, label: str) -> dict:
    try:
        pos_int = int(str(pos).replace(",", ""))
    except ValueError:
        raise ValueError(f"variant {label}: position {pos!r} is not a whole number") from None
    if pos_int < 1:
        raise ValueError(f"variant {label}: positions are 1-based, so pos must be >= 1; got {pos_int}")
    ref_n = normalise_allele(ref, what="reference", variant=label)
    alt_n = normalise_allele(alt, what="alternative", variant=label)
    if ref_n == "-":
        raise ValueError(
            f"variant {label}: an empty reference allele ('-') does not say where the insertion "
            f"goes; write insertions VCF-style, anchored on the base before them (e.g. C>CA)"
        )
    if ref_n == alt_n:
        raise ValueError(f"variant {label}: ref and alt are the same allele ({ref_n}); that is not a variant")
    return {"chrom": str(chrom), "pos": pos_int, "ref": ref_n, "alt": alt_n, "id": vid}


def parse_variant_string(text: str, default_chrom: str | None = None) -> dict:
    """Parse one variant string into a row dict (``chrom, pos, ref, alt, id``).

    Accepted: ``"HUMHBB:62150:C>T"``, ``"HUMHBB:62,150:CT>C"``, ``"HUMHBB:62150:C>-"``,
    ``"chr11-5248232-C-T"`` (gnomAD style) and, when ``default_chrom`` is given,
    ``"62150:C>T"``. Positions are 1-based.
    """
    s = str(text).strip()
    for form in _STRING_FORMS:
        m = form.match(s)
        if m:
            chrom = m.groupdict().get("chrom") or default_chrom
            if chrom is None:
                raise ValueError(f"variant {s!r} names no sequence; {_STRING_HELP} (or pass a locus)")
            return _row(chrom, m["pos"], m["ref"], m["alt"], None, repr(s))
    raise ValueError(f"cannot read variant {s!r}: {_STRING_HELP}")


def _open_text(path: Path):
    with open(path, "rb") as fh:
        magic = fh.read(2)
    if magic == b"\x1f\x8b":
        return gzip.open(path, "rt")
    return open(path, "rt")


def _unreadable(path: Path, exc: Exception) -> ValueError:
    """The error for a file that is not text: binary, damaged gzip, or another encoding."""
    if isinstance(exc, UnicodeDecodeError):
        return ValueError(f"{path.name} could not be read as text (byte {exc.start:,} is not UTF-8: {exc.reason}); "
                          f"a VCF or variant table is plain or gzip-compressed text")
    return ValueError(f"{path.name} could not be read ({exc}); if it is gzip-compressed it may be damaged or "
                      f"truncated: download or compress it again")


#: ALT alleles that are not bases: kind -> what it is, in words (see :func:`allele_not_bases`)
NON_BASE_KINDS = {
    "symbolic": "symbolic (a structural variant or a placeholder named, not written as bases)",
    "breakend": "breakend (a rearrangement junction)",
    "overlapping deletion": "'*' (an allele removed by a deletion at another position)",
    "missing": "'.' (no alternative allele: a reference-only record)",
}


def allele_not_bases(alt: str) -> str | None:
    """Which kind of non-base ALT allele ``alt`` is (a key of :data:`NON_BASE_KINDS`), or None.

    Symbolic alleles (``<DEL>``), breakends (``G]chr2:321682]``, ``.G``, ``G.``), ``*``
    (overlapping deletion) and ``.`` (missing) carry no bases to score.
    """
    text = alt.strip()
    if text == ".":
        return "missing"
    if text == "*":
        return "overlapping deletion"
    if text.startswith("<") and text.endswith(">"):
        return "symbolic"
    if "[" in text or "]" in text or re.match(r"^\.[A-Za-z]+$|^[A-Za-z]+\.$", text):
        return "breakend"
    return None


def skipped_words(name: str, skipped: list[tuple[str, str]], kept: int) -> str:
    """How many ALT alleles of ``name`` were skipped and of which kinds, in words.

    Parameters
    ----------
    name : str
        The file's name.
    skipped : list of (str, str)
        ``(alt, kind)`` per skipped allele, ``kind`` a key of :data:`NON_BASE_KINDS`.
    kept : int
        How many variants were read.
    """
    spellings: dict[str, list[str]] = {}
    for alt, kind in skipped:
        spellings.setdefault(kind, []).append(alt)
    parts = []
    for kind, alts in spellings.items():
        distinct = list(dict.fromkeys(alts))
        shown = ", ".join(distinct[:4]) + (", ..." if len(distinct) > 4 else "")
        parts.append(f"{len(alts)} {NON_BASE_KINDS[kind]}" + ("" if kind in ("overlapping deletion", "missing")
                                                            else f": {shown}"))
    n = len(skipped)
    left = (f"{kept} variant{'s' if kept != 1 else ''} written as bases {'were' if kept != 1 else 'was'} read"
            if kept else "No variant is left to score")
    return (f"{name}: {n} alternative allele{'s were' if n != 1 else ' was'} skipped, since only alleles written "
            f"as bases (A, C, G, T, N) can be scored: {'; '.join(parts)}. {left}; the skipped ones are listed "
            f"in the table's attrs['skipped'].")


def read_vcf(path: str | Path) -> pd.DataFrame:
    """Read the variants of a VCF (plain, gzip or bgzip); multi-allelic ALTs become one row each.

    Only the first five columns are read (``CHROM POS ID REF ALT``); ``POS`` is 1-based.
    Symbolic and missing alleles (``<DEL>``, ``*``, ``.``, breakends) carry no bases to
    score: they are skipped, with a ``UserWarning`` that says how many and of which kinds
    (:func:`skipped_words`); their labels are in ``df.attrs["skipped"]`` and the warning's
    words in ``df.attrs["notes"]``. A VCF without data lines gives an empty table and a
    warning.

    Raises
    ------
    ValueError
        A file that is not text, a data line with fewer than 5 tab-separated columns (one
        separated by spaces is said to be), a non-numeric POS, or a REF that is not DNA; the
        message gives the line number.
    """
    path = Path(path)
    rows: list[dict] = []
    skipped: list[tuple[str, str]] = []
    labels: list[str] = []
    try:
        with _open_text(path) as fh:
            for lineno, line in enumerate(fh, 1):
                if line.strip() and not line.startswith("#"):
                    _vcf_line(path, lineno, line, rows, skipped, labels)
    except (UnicodeDecodeError, EOFError, OSError) as exc:
        raise _unreadable(path, exc) from None
    df = _finish(rows, str(path))
    df.attrs["skipped"] = labels
    notes = []
    if skipped:
        notes.append(skipped_words(path.name, skipped, len(rows)))
    elif not rows:
        notes.append(f"{path.name} holds no variant lines (only its header): the table is empty")
    for note in notes:
        warnings.warn(note, UserWarning, stacklevel=3)
    df.attrs["notes"] = notes
    return df


def _vcf_line(path: Path, lineno: int, line: str, rows: list[dict], skipped: list[tuple[str, str]],
              labels: list[str]) -> None:
    """Read one VCF data line into ``rows`` (one per ALT allele); a non-base allele goes to
    ``skipped`` as ``(alt, kind)`` and to ``labels`` as ``chrom:pos:ref>alt``."""
    fields = line.rstrip("\n\r").split("\t")
    if len(fields) < 5:
        spaces = len(line.split()) >= 5
        raise ValueError(
            f"{path.name} line {lineno}: a VCF data line needs at least 5 tab-separated columns (CHROM POS ID "
            f"REF ALT); got {len(fields)}"
            + ("; its columns are separated by spaces: a VCF separates them with tabs" if spaces else "")
            + f": {line.strip()[:80]!r}")
    chrom, pos, vid, ref, alts = fields[:5]
    alt_list = alts.split(",")
    for alt in alt_list:
        kind = allele_not_bases(alt)
        if kind is not None:
            skipped.append((alt, kind))
            labels.append(f"{chrom}:{pos}:{ref}>{alt}")
            continue
        label = f"{path.name} line {lineno} ({chrom}:{pos}:{ref}>{alt})"
        the_id = vid if vid != "." else None
        if the_id is not None and len(alt_list) > 1:
            the_id = f"{vid}/{alt}"
        rows.append(_row(chrom, pos, ref, alt, the_id, label))


_COLUMN_ALIASES = {
    "chrom": ("chrom", "#chrom", "chr", "chromosome", "seqname", "contig"),
    "pos": ("pos", "position", "start1", "pos1"),
    "ref": ("ref", "reference", "ref_allele"),
    "alt": ("alt", "alternative", "alt_allele", "allele"),
    "id": ("id", "name", "variant", "variant_id", "rsid"),
}


def _find_columns(columns: Iterable[str], needed=("chrom", "pos", "ref", "alt"), optional=("id",),
                  aliases=None) -> dict[str, str]:
    aliases = aliases or _COLUMN_ALIASES
    lower = {str(c).strip().lower(): c for c in columns}
    found = {}
    for key in (*needed, *optional):
        for alias in aliases[key]:
            if alias in lower:
                found[key] = lower[alias]
                break
    missing = [k for k in needed if k not in found]
    if missing:
        raise ValueError(
            f"the variant table lacks the column(s) {missing}; it needs chrom, pos (1-based), ref "
            f"and alt (any case; also accepted: #CHROM, position, reference, alternative). "
            f"It has: {list(columns)}"
        )
    return found


def parse_variants(variants, locus=None) -> pd.DataFrame:
    """Read variants from a VCF, a table, or strings into one normalised table.

    Parameters
    ----------
    variants : str, Path, DataFrame, or list of str
        * a VCF file path (plain or ``.gz``); multi-allelic ALTs are split into one row each;
        * a TSV/CSV file path whose header has ``chrom, pos, ref, alt`` (optional ``id``);
        * a ``pandas.DataFrame`` with those columns (case-insensitive; ``#CHROM`` and
          ``position`` also accepted);
        * one string or a list of strings such as ``"HUMHBB:62150:C>T"``,
          ``"HUMHBB:62150:CT>C"`` (anchored deletion), ``"HUMHBB:62150:C>CA"`` (insertion),
          ``"HUMHBB:62150:C>-"`` (the C deleted) or, with a ``locus``, ``"62150:C>T"``.

        All positions are **1-based** (VCF convention) on the variant's ``chrom``.
    locus : Locus, optional
        Gives the ``chrom`` of strings that name none, and, when given, every variant is
        checked against it (on its sequence, inside it, reference allele equal to the
        locus's bases); see :func:`check_variants`.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`VARIANT_COLUMNS` (``chrom, pos, ref, alt, id, kind``), one row per
        alternative allele, in input order.

    Raises
    ------
    ValueError
        Malformed input: the message names the variant (or file line) and the rule broken.
    FileNotFoundError
        A path that does not exist (a string that is neither a file nor a variant).
    """
    default_chrom = getattr(locus, "chrom", None)
    if isinstance(variants, pd.DataFrame):
        df = _from_frame(variants, default_chrom)
    elif isinstance(variants, Path) or (isinstance(variants, str) and _looks_like_path(variants)):
        path = Path(variants)
        if path.is_dir():
            raise ValueError(f"{path.name} is a folder, not a variant file; choose a VCF or a table inside it")
        if not path.is_file():
            raise FileNotFoundError(f"variant file not found: {path}")
        df = read_vcf(path) if _is_vcf(path) else _from_frame(_read_table(path), default_chrom, str(path))
    elif isinstance(variants, str):
        df = _finish([parse_variant_string(variants, default_chrom)], "<string>")
    elif isinstance(variants, dict):
        df = _from_frame(pd.DataFrame([variants]), default_chrom)
    elif isinstance(variants, Iterable):
        items = list(variants)
        if all(isinstance(v, str) for v in items):
            df = _finish([parse_variant_string(v, default_chrom) for v in items], "<strings>")
        elif all(isinstance(v, dict) for v in items):
            df = _from_frame(pd.DataFrame(items), default_chrom)
        else:
            raise TypeError(
                "variants must be a VCF/TSV path, a DataFrame, a variant string or a list of "
                f"variant strings; got a list holding {sorted({type(v).__name__ for v in items})}"
            )
    else:
        raise TypeError(
            "variants must be a VCF/TSV path, a DataFrame, a variant string or a list of variant "
            f"strings; got {type(variants).__name__}"
        )
    if locus is not None:
        check_variants(locus, df)
    return df


def _same_chrom(a: str, b: str) -> bool:
    def norm(x: str) -> str:
        x = str(x).strip()
        return x[3:] if x.lower().startswith("chr") else x

    return norm(a).lower() == norm(b).lower()


def check_variants(locus, variants: pd.DataFrame) -> np.ndarray:
    """Check variants against a locus; return their 0-based indices within it.

    Rules: the variant's ``chrom`` is the locus's (``chr`` prefix and case ignored), its
    reference allele lies wholly inside the locus, and equals the locus's bases there.

    Returns
    -------
    numpy.ndarray of int, shape ``(n_variants,)``

    Raises
    ------
    ValueError
        Naming the first offending variant and, for a reference mismatch, the base(s) found.
    """
    indices = np.empty(len(variants), dtype=np.int64)
    for k, (chrom, pos, ref, alt, vid) in enumerate(
            zip(variants["chrom"], variants["pos"], variants["ref"], variants["alt"], variants["id"])):
        label = variant_label(chrom, pos, ref, alt)
        named = label if vid == label else f"{label} ({vid})"
        if not _same_chrom(chrom, locus.chrom):
            raise ValueError(
                f"variant {named} is on {chrom!r} but the locus is {locus} (sequence {locus.chrom!r}); "
                f"variants must use the locus's sequence name and coordinates. For measured effects "
                f"in genome coordinates, place them with explorer.load_measured_effects(path, locus=locus)."
            )
        r = allele_bases(ref)
        i = int(pos) - 1 - locus.start
        if i < 0 or i + len(r) > len(locus):
            raise ValueError(
                f"variant {named} lies outside the locus {locus}: its reference allele covers "
                f"{chrom}:{int(pos):,}-{int(pos) + len(r) - 1:,} (1-based) but the locus spans "
                f"{locus.start + 1:,}-{locus.end:,}. Load a larger locus or drop the variant."
            )
        found = locus.sequence[i:i + len(r)]
        if found != r:
            raise ValueError(
                f"variant {named}: the reference allele {r} does not match the locus, which has "
                f"{found} at {chrom}:{int(pos):,}{'' if len(r) == 1 else f'-{int(pos) + len(r) - 1:,}'} "
                f"(1-based). Check the coordinates (1-based, same assembly as the locus) and the strand."
            )
        indices[k] = i
    return indices


_FILE_SUFFIXES = (".vcf", ".gz", ".bgz", ".tsv", ".csv", ".txt", ".tab")


def _looks_like_path(text: str) -> bool:
    """A string names a file if it is one, or if it looks like a file name (not a variant)."""
    if "\n" in text:
        return False
    if Path(text).is_file():
        return True
    return text.strip().lower().endswith(_FILE_SUFFIXES) or "/" in text or "\\" in text


def _is_vcf(path: Path) -> bool:
    try:
        with _open_text(path) as fh:
            head = fh.read(2048)
    except (UnicodeDecodeError, EOFError, OSError) as exc:
        raise _unreadable(path, exc) from None
    return head.startswith("##fileformat=VCF") or head.startswith("#CHROM") or path.name.lower().endswith(
        (".vcf", ".vcf.gz", ".vcf.bgz"))


def _read_table(path: Path) -> pd.DataFrame:
    """A TSV/CSV file (tabs if its first line has one, else commas) as a table of strings.

    Raises
    ------
    ValueError
        Not text, empty, or rows pandas cannot split (its message kept).
    """
    try:
        with _open_text(path) as fh:
            text = fh.read()
    except (UnicodeDecodeError, EOFError, OSError) as exc:
        raise _unreadable(path, exc) from None
    if not text.strip():
        raise ValueError(f"{path.name} is empty: a variant table needs a header line (chrom, pos, ref, alt) and "
                         f"one line per variant")
    first = text.split("\n", 1)[0]
    sep = "\t" if "\t" in first else ","
    try:
        return pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False)
    except pd.errors.ParserError as exc:
        kind = "tab" if sep == "\t" else "comma"
        raise ValueError(f"{path.name} could not be read as a {kind}-separated "
                         f"table: {exc}; every line needs as many columns as the header") from None


def _from_frame(frame: pd.DataFrame, default_chrom: str | None, source: str = "<DataFrame>") -> pd.DataFrame:
    if default_chrom is not None and not any(
            str(c).strip().lower() in _COLUMN_ALIASES["chrom"] for c in frame.columns):
        frame = frame.assign(chrom=default_chrom)
    cols = _find_columns(frame.columns)
    rows = []
    for k, rec in enumerate(frame.to_dict("records")):
        label = (f"row {k + 1} ({rec[cols['chrom']]}:{rec[cols['pos']]}:"
                 f"{rec[cols['ref']]}>{rec[cols['alt']]})")
        vid = rec.get(cols["id"]) if "id" in cols else None
        vid = None if vid is None or (isinstance(vid, float) and np.isnan(vid)) else str(vid)
        rows.append(_row(rec[cols["chrom"]], rec[cols["pos"]], rec[cols["ref"]], rec[cols["alt"]], vid, label))
    return _finish(rows, source)


# ---------------------------------------------------------------------------------------
# measured effects
# ---------------------------------------------------------------------------------------

_KIRCHER_COLUMNS = ("Chrom", "Pos", "Ref", "Alt", "Coefficient", "pValue", "Element")
_MEASURED_ALIASES = {
    **_COLUMN_ALIASES,
    "effect": ("effect", "coefficient", "log2fc", "log2_fold_change", "score", "measured"),
    "pvalue": ("pvalue", "p_value", "p", "pval"),
    "element": ("element", "region_name"),
    "release": ("release", "assembly", "genome"),
}


def read_measured_table(path: str | Path, *, element: str | Iterable[str] | None = None,
                        release: str | None = "auto") -> pd.DataFrame:
    """Read measured variant effects: the Kircher et al. 2019 format or a plain table.

    Parameters
    ----------
    path : str or Path
        TSV/CSV, plain or gzip. Kircher et al. 2019 columns: ``Chrom Pos Ref Alt Barcodes DNA
        RNA Coefficient pValue Element Release`` (``Coefficient`` is the measured log2 effect
        on reporter expression; ``Alt="-"`` is a 1-bp deletion of ``Ref``). A plain table
        needs ``chrom, pos, ref, alt, effect`` (optional ``pvalue``, ``element``, ``release``).
        ``pos`` is 1-based.
    element : str or list of str, optional
        Keep only these elements (the ``Element`` column). Unknown names are an error that
        lists those present.
    release : str or None
        Which genome release's rows to keep when the file holds several (Kircher's has GRCh37
        and GRCh38 rows for every variant). ``"auto"`` (default): GRCh38 when present, else
        the only release in the file. ``None``: keep all rows.

    Returns
    -------
    pandas.DataFrame
        :data:`MEASURED_COLUMNS` then the file's other columns (lower-cased). Rows with a
        missing allele or position (Kircher's file has a few ``NA`` rows) are dropped; how
        many is in ``df.attrs["dropped"]``. ``is_deletion`` flags deletions (kept).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"measured-effects file not found: {path}")
    raw = _read_table(path)
    return measured_from_frame(raw, element=element, release=release, source=str(path))


def measured_from_frame(raw: pd.DataFrame, *, element=None, release: str | None = "auto",
                        source: str = "<DataFrame>") -> pd.DataFrame:
    """Normalise an in-memory measured-effect table; see :func:`read_measured_table`."""
    needed = ("chrom", "pos", "ref", "alt", "effect")
    cols = _find_columns(raw.columns, needed=needed, optional=("pvalue", "element", "release", "id"),
                         aliases=_MEASURED_ALIASES)
    df = pd.DataFrame({key: raw[col].to_numpy() for key, col in cols.items()})
    if "element" not in df:
        df["element"] = "measured"
    if "release" not in df:
        df["release"] = ""
    if "pvalue" not in df:
        df["pvalue"] = np.nan
    df["element"] = df["element"].astype(str)
    df["release"] = df["release"].astype(str).replace({"nan": ""})
    used = set(cols.values())
    extras = [c for c in raw.columns if c not in used]
    for c in extras:
        df[str(c).lower()] = raw[c].to_numpy()

    if element is not None:
        wanted = [element] if isinstance(element, str) else list(element)
        present = sorted(df["element"].unique())
        unknown = [e for e in wanted if e not in present]
        if unknown:
            raise ValueError(f"element(s) {unknown} are not in the table; it holds: {present}")
        df = df[df["element"].isin(wanted)]
    releases = sorted(r for r in df["release"].unique() if r)
    if release == "auto":
        release = "GRCh38" if "GRCh38" in releases else (releases[0] if len(releases) == 1 else None)
        if release is None and len(releases) > 1:
            raise ValueError(f"the table holds several releases {releases}; choose one with release=...")
    if release is not None and releases:
        if release not in releases:
            raise ValueError(f"release {release!r} is not in the table; it holds: {releases}")
        df = df[df["release"] == release]

    missing_text = {"", "NA", "NaN", "nan", "None", "."}
    bad = (df["pos"].astype(str).isin(missing_text) | df["ref"].astype(str).isin(missing_text - {"."})
           | df["alt"].astype(str).isin(missing_text - {"."}))
    dropped = int(bad.sum())
    df = df[~bad].copy()
    df["chrom"] = df["chrom"].astype(str)
    try:
        df["pos"] = df["pos"].astype(float).astype(np.int64)
    except ValueError as exc:
        raise ValueError(f"{source}: the pos column must hold whole numbers (1-based): {exc}") from None
    df["ref"] = [normalise_allele(a, what="reference", variant=f"{c}:{p}") for a, c, p in
                 zip(df["ref"], df["chrom"], df["pos"])]
    df["alt"] = [normalise_allele(a, what="alternative", variant=f"{c}:{p}") for a, c, p in
                 zip(df["alt"], df["chrom"], df["pos"])]
    df["effect"] = pd.to_numeric(df["effect"], errors="coerce").astype(float)
    df["pvalue"] = pd.to_numeric(df["pvalue"], errors="coerce").astype(float)
    df["kind"] = [variant_kind(r, a) for r, a in zip(df["ref"], df["alt"])]
    df["is_deletion"] = df["kind"].eq("deletion")
    front = [c for c in MEASURED_COLUMNS if c in df]
    rest = [c for c in df.columns if c not in front]
    out = df[front + rest].reset_index(drop=True)
    out.attrs.update(source=source, release=release, dropped=dropped)
    return out


def is_kircher_table(columns: Iterable[str]) -> bool:
    """True when the columns are those of Kircher et al. 2019's ``elements.tsv``."""
    return set(_KIRCHER_COLUMNS) <= set(columns)

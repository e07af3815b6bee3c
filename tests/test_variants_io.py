"""Reading variants (VCF, DataFrame, strings) and measured-effect tables."""

from __future__ import annotations

import gzip
import sys

import pandas as pd
import pytest

import explorer as ex
from explorer.io.variants import read_measured_table, variant_kind

VCF = """##fileformat=VCFv4.2
##contig=<ID=HUMHBB,length=73308>
#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO
HUMHBB\t62150\trs1\tA\tT\t.\tPASS\t.
HUMHBB\t62151\t.\tC\tG,T\t.\tPASS\t.
HUMHBB\t62152\t.\tAC\tA\t.\tPASS\t.
HUMHBB\t62153\t.\tC\tCAA,<DEL>\t.\tPASS\t.
"""


def _check_expected(df: pd.DataFrame):
    assert list(df.columns) == ["chrom", "pos", "ref", "alt", "id", "kind"]
    assert df["pos"].tolist() == [62150, 62151, 62151, 62152, 62153]
    assert df["alt"].tolist() == ["T", "G", "T", "A", "CAA"]
    assert df["kind"].tolist() == ["snv", "snv", "snv", "deletion", "insertion"]


@pytest.mark.parametrize("gz", [False, True])
def test_vcf_plain_and_gz_splits_multiallelic(tmp_path, gz):
    path = tmp_path / ("v.vcf.gz" if gz else "v.vcf")
    if gz:
        with gzip.open(path, "wt") as fh:
            fh.write(VCF)
    else:
        path.write_text(VCF)
    with pytest.warns(UserWarning, match=r"1 alternative allele was skipped.*symbolic.*<DEL>"):
        df = ex.parse_variants(path)
    _check_expected(df)
    assert df["id"].tolist()[:3] == ["rs1", "HUMHBB:62151:C>G", "HUMHBB:62151:C>T"]
    assert df.attrs["skipped"] == ["HUMHBB:62153:C><DEL>"]
    assert "5 variants written as bases were read" in df.attrs["notes"][0]
    # the same file given as a string path
    with pytest.warns(UserWarning, match="skipped"):
        assert ex.parse_variants(str(path))["alt"].tolist() == df["alt"].tolist()


def test_dataframe_and_strings_give_the_same_table():
    frame = pd.DataFrame({"CHROM": ["HUMHBB"] * 5, "POS": [62150, 62151, 62151, 62152, 62153],
                          "REF": ["a", "C", "C", "AC", "C"], "ALT": ["T", "G", "T", "A", "CAA"]})
    from_frame = ex.parse_variants(frame)
    _check_expected(from_frame)
    strings = ["HUMHBB:62150:A>T", "HUMHBB:62,151:C>G", "HUMHBB:62151 C>T", "HUMHBB:62152:AC>A",
               "HUMHBB-62153-C-CAA"]
    from_strings = ex.parse_variants(strings)
    _check_expected(from_strings)
    pd.testing.assert_frame_equal(from_frame.drop(columns="id"), from_strings.drop(columns="id"))


def test_unanchored_deletion_and_locus_default_chrom():
    locus = ex.locus_from_sequence("ACGTACGTAC", name="toy")
    df = ex.parse_variants(["3:G>-", "toy:4:T>C"], locus=locus)
    assert df["chrom"].tolist() == ["toy", "toy"]
    assert df["ref"].tolist() == ["G", "T"] and df["alt"].tolist() == ["-", "C"]
    assert df["kind"].tolist() == ["deletion", "snv"]


@pytest.mark.parametrize("bad, message", [
    ("HUMHBB:62150", "cannot read variant"),
    ("HUMHBB:0:C>T", "1-based"),
    ("HUMHBB:62150:C>Z", "not a DNA allele"),
    ("HUMHBB:62150:C>C", "same allele"),
    ("HUMHBB:62150:->A", "empty reference"),
    ("62150:C>T", "names no sequence"),
])
def test_malformed_strings_raise_clear_errors(bad, message):
    with pytest.raises(ValueError, match=message):
        ex.parse_variants(bad)


def test_malformed_tables_and_files(tmp_path):
    with pytest.raises(ValueError, match="lacks the column"):
        ex.parse_variants(pd.DataFrame({"chrom": ["x"], "pos": [1], "ref": ["A"]}))
    with pytest.raises(ValueError, match="not a whole number"):
        ex.parse_variants(pd.DataFrame({"chrom": ["x"], "pos": ["one"], "ref": ["A"], "alt": ["C"]}))
    bad = tmp_path / "bad.vcf"
    bad.write_text("##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\nHUMHBB\t12\t.\tA\n")
    with pytest.raises(ValueError, match="line 3"):
        ex.parse_variants(bad)
    with pytest.raises(FileNotFoundError):
        ex.parse_variants(tmp_path / "missing.vcf")
    with pytest.raises(TypeError):
        ex.parse_variants(42)


def test_variant_kinds():
    assert variant_kind("A", "C") == "snv"
    assert variant_kind("AC", "GT") == "mnv"
    assert variant_kind("AC", "A") == "deletion"
    assert variant_kind("A", "-") == "deletion"
    assert variant_kind("A", "AGG") == "insertion"
    assert variant_kind("ACG", "T") == "complex"


def test_read_kircher_table_picks_one_release():
    path = ex.SAMPLE_LOCUS.parent.parent / "variants" / "kircher2019_HBB.tsv.gz"
    raw = pd.read_csv(path, sep="\t")
    assert set(raw["Release"]) == {"GRCh37", "GRCh38"}
    for release in ("GRCh37", "GRCh38"):
        df = read_measured_table(path, release=release)
        assert len(df) == (raw["Release"] == release).sum()
        assert set(df["release"]) == {release}
    auto = read_measured_table(path)
    assert set(auto["release"]) == {"GRCh38"}
    assert auto["effect"].dtype == float and auto["pvalue"].between(0, 1).all()
    dels = auto[auto["is_deletion"]]
    assert len(dels) > 0 and (dels["alt"] == "-").all()
    with pytest.raises(ValueError, match="not in the table"):
        read_measured_table(path, element="TERT")
    with pytest.raises(ValueError, match="release"):
        read_measured_table(path, release="hg18")


def test_read_plain_measured_table(tmp_path):
    path = tmp_path / "m.tsv"
    path.write_text("chrom\tpos\tref\talt\teffect\nchr1\t10\tA\tG\t0.5\nchr1\t11\tC\t-\t-1\nchr1\tNA\tNA\tNA\t1\n")
    df = read_measured_table(path)
    assert df["pos"].tolist() == [10, 11]
    assert df["is_deletion"].tolist() == [False, True]
    assert df.attrs["dropped"] == 1
    assert df["element"].unique().tolist() == ["measured"]


def test_variant_modules_import_no_ui():
    import subprocess

    code = ("import sys, explorer.variants, explorer.io.variants;"
            "bad=[m for m in ('panel','holoviews','bokeh','matplotlib') if m in sys.modules];"
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)

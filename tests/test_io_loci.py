import gzip
import shutil

import pandas as pd
import pytest

import explorer as ex
from explorer.io.samples import SAMPLE_LOCUS


@pytest.fixture(scope="module")
def humhbb_full():
    return ex.load_locus(SAMPLE_LOCUS)


def test_region_parsing_is_1_based_inclusive():
    r = ex.parse_region("chr11:5,246,001-5,248,000")
    assert (r.chrom, r.start, r.end) == ("chr11", 5246000, 5248000)
    assert str(r) == "chr11:5,246,001-5,248,000"


def test_bed_row_and_tuple_are_0_based():
    assert ex.parse_region("chr1\t100\t200") == ex.Region("chr1", 100, 200)
    assert ex.parse_region(("chr1", 100, 200)) == ex.Region("chr1", 100, 200)


@pytest.mark.parametrize("bad, message", [
    ("chr1:200-100", "empty or reversed"),
    ("chr1:0-100", "1-based"),
    ("chr1:abc-100", "cannot read region"),
    ("chr1", "cannot read region"),
    (("chr1", -5, 10), "start must be >= 0"),
])
def test_bad_regions(bad, message):
    with pytest.raises(ValueError, match=message):
        ex.parse_region(bad)


def test_genbank_whole_record(humhbb_full):
    assert humhbb_full.chrom == "HUMHBB"
    assert len(humhbb_full) == 73308 == humhbb_full.chrom_length
    assert set(humhbb_full.sequence) <= set("ACGTN")
    genes = humhbb_full.annotations.query("type == 'gene'")["name"].tolist()
    for gene in ["HBE1", "HBG2", "HBG1", "HBD", "HBB"]:
        assert any(gene in g for g in genes), genes
    assert {"gene", "mRNA", "exon", "CDS", "repeat_region"} <= set(humhbb_full.annotations["type"])


def test_genbank_region_cuts_sequence_and_annotations(humhbb_full):
    loc = ex.load_locus(SAMPLE_LOCUS, region="HUMHBB:44,001-46,000")
    assert (loc.start, loc.end, len(loc)) == (44000, 46000, 2000)
    assert loc.sequence == humhbb_full.sequence[44000:46000]
    assert loc.one_hot.shape == (4, 2000)
    assert ((loc.annotations["start"] < 46000) & (loc.annotations["end"] > 44000)).all()
    assert loc.to_genome(0) == 44001 and loc.to_index(44001) == 0


@pytest.mark.parametrize("region, message", [
    ("HUMHBB:1-80,000", "runs past the end of HUMHBB, which is 73,308 bp long"),
    ("chr11:1-100", "'chr11' is not in HUMHBB.gb.gz; it holds: HUMHBB"),
    ("HUMHBB:500-100", "empty or reversed"),
])
def test_out_of_range_regions(region, message):
    with pytest.raises(ValueError, match=message):
        ex.load_locus(SAMPLE_LOCUS, region=region)


def test_position_outside_locus():
    loc = ex.load_locus(SAMPLE_LOCUS, region="HUMHBB:101-200")
    with pytest.raises(ValueError, match="outside the locus"):
        loc.to_index(50)


def _write_fasta(path, records):
    with open(path, "w") as fh:
        for name, seq in records.items():
            fh.write(f">{name} description\n")
            for i in range(0, len(seq), 60):
                fh.write(seq[i:i + 60] + "\n")


def test_fasta_indexed_with_region_and_gtf(tmp_path):
    seq1 = ("ACGT" * 100) + ("ttaa" * 50)
    _write_fasta(tmp_path / "g.fa", {"chrA": seq1, "chrB": "GGGCCC" * 20})
    gtf = tmp_path / "g.gtf"
    gtf.write_text(
        'chrA\ttest\tgene\t401\t500\t.\t+\t.\tgene_id "G1"; gene_name "GENE1";\n'
        'chrA\ttest\texon\t401\t450\t.\t+\t.\tgene_id "G1"; gene_name "GENE1";\n'
        'chrB\ttest\tgene\t1\t10\t.\t-\t.\tgene_id "G2";\n'
    )
    loc = ex.load_locus(tmp_path / "g.fa", region="chrA:381-420", annotations=gtf)
    assert loc.sequence == seq1[380:420].upper() and loc.chrom_length == 600
    # pyfaidx index (whole genomes work), kept in the cache, never beside the data
    assert not (tmp_path / "g.fa.fai").exists()
    assert list((ex.cache_root() / "fasta-index").glob("g.fa-*.fai"))
    assert loc.annotations[["start", "end", "name"]].values.tolist() == [[400, 500, "GENE1"], [400, 450, "GENE1"]]
    whole = ex.load_locus(tmp_path / "g.fa")
    assert whole.chrom == "chrA" and len(whole) == 600


def test_bed_annotation(tmp_path):
    _write_fasta(tmp_path / "g.fa", {"chrA": "ACGT" * 50})
    (tmp_path / "a.bed").write_text("chrA\t10\t20\tsiteX\t0\t-\n")
    loc = ex.load_locus(tmp_path / "g.fa", region="chrA:1-100", annotations=tmp_path / "a.bed")
    assert loc.annotations.iloc[0][["start", "end", "strand", "name"]].tolist() == [10, 20, "-", "siteX"]


def test_gzip_fasta_read_in_memory(tmp_path):
    _write_fasta(tmp_path / "g.fa", {"chrZ": "ACGTN" * 30})
    with open(tmp_path / "g.fa", "rb") as src, gzip.open(tmp_path / "g.fa.gz", "wb") as dst:
        shutil.copyfileobj(src, dst)
    loc = ex.load_locus(tmp_path / "g.fa.gz", region="chrZ:2-6")
    assert loc.sequence == "CGTNA"


def test_fasta_with_invalid_base_names_position(tmp_path):
    _write_fasta(tmp_path / "bad.fa", {"chrA": "ACGTXACGT"})
    with pytest.raises(ValueError, match=r"'X' at position 5"):
        ex.load_locus(tmp_path / "bad.fa")


def test_file_that_is_not_a_sequence(tmp_path):
    (tmp_path / "notes.fa").write_text("hello, this is not DNA\n")
    with pytest.raises(ValueError, match="neither FASTA"):
        ex.load_locus(tmp_path / "notes.fa")
    (tmp_path / "bin.gb").write_bytes(b"\x1f\x8bnot really gzip")
    with pytest.raises(ValueError):
        ex.load_locus(tmp_path / "bin.gb")
    with pytest.raises(FileNotFoundError, match="not found"):
        ex.load_locus(tmp_path / "missing.fa")


def test_bad_annotation_line(tmp_path):
    _write_fasta(tmp_path / "g.fa", {"chrA": "ACGT" * 50})
    (tmp_path / "a.gtf").write_text("chrA only two\n")
    with pytest.raises(ValueError, match="line 1"):
        ex.load_locus(tmp_path / "g.fa", annotations=tmp_path / "a.gtf")


def test_pasted_sequence():
    loc = ex.locus_from_sequence(">myseq some text\nACGT\nacgn\n")
    assert (loc.chrom, loc.start, loc.end, loc.sequence) == ("myseq", 0, 8, "ACGTACGN")
    assert isinstance(loc.annotations, pd.DataFrame)
    with pytest.raises(ValueError, match="'Z' at position 3"):
        ex.locus_from_sequence("ACZ")


def test_subregion():
    loc = ex.load_locus(SAMPLE_LOCUS, region="HUMHBB:45,001-46,000")
    sub = loc.subregion(45100, 45200)
    assert sub.sequence == loc.sequence[100:200] and str(sub) == "HUMHBB:45,101-45,200"
    with pytest.raises(ValueError, match="inside the locus"):
        loc.subregion(44000, 45200)


def test_fasta_index_lives_in_the_cache_and_follows_edits(tmp_path, monkeypatch):
    monkeypatch.setenv("EXPLORER_CACHE_DIR", str(tmp_path / "cache"))
    data = tmp_path / "data"
    data.mkdir()
    fasta = data / "two.fa"
    fasta.write_text(">chrA\n" + "ACGT" * 30 + "\n>chrB\n" + "GGCC" * 30 + "\n")
    first = ex.load_locus(fasta, region="chrB:1-8")
    assert first.sequence == "GGCCGGCC"
    assert not list(data.glob("*.fai"))  # nothing written beside the data
    assert len(list((tmp_path / "cache" / "fasta-index").glob("*.fai"))) == 1
    # the file is edited after it was indexed: a longer first record moves chrB
    import os
    import time

    fasta.write_text(">chrA\n" + "ACGT" * 60 + "\n>chrB\n" + "TTAA" * 30 + "\n")
    os.utime(fasta, ns=(time.time_ns(), time.time_ns() + 10**9))
    again = ex.load_locus(fasta, region="chrB:1-8")
    assert again.sequence == "TTAATTAA" and not list(data.glob("*.fai"))


def test_duplicate_fasta_names_are_named(tmp_path):
    (tmp_path / "dup.fa").write_text(">chrA\nACGTACGT\n>chrA\nGGGGCCCC\n")
    with pytest.raises(ValueError, match="holds two records named 'chrA'; record names must be unique"):
        ex.load_locus(tmp_path / "dup.fa", region="chrA:1-4")

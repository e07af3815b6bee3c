"""Motif databases: JASPAR from pyjaspar (offline) and MEME files."""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from explorer.motifs.databases import METADATA_COLUMNS, MotifDatabase, jaspar, read_meme

DATA = Path(__file__).parent / "data"
FIVE = DATA / "jaspar2026_five.meme"


@pytest.fixture(scope="module")
def core():
    return jaspar()


def test_jaspar_default_is_2026_core_vertebrates_latest(core):
    assert core.name == "JASPAR2026 CORE vertebrates"
    assert len(core) == 1019
    assert list(core.metadata.columns) == METADATA_COLUMNS
    assert list(core.metadata.index) == core.names == list(core)
    row = core.metadata.loc["MA0139.2"]
    assert row["tf_name"] == "CTCF"
    assert row["release"] == "JASPAR2026"
    assert row["url"] == "https://jaspar.elixir.no/matrix/MA0139.2/"
    assert "Homo sapiens" in row["species"]
    assert "zinc finger" in row["tf_class"].lower()
    pwm = core["MA0139.2"]
    assert pwm.dtype == torch.float32 and pwm.shape == (4, 15) and row["width"] == 15
    # latest versions only: one version per base ID
    bases = core.metadata["matrix_id"].str.split(".").str[0]
    assert bases.is_unique


def test_jaspar_pwms_are_probabilities(core):
    for name in list(core)[:200]:
        col_sums = core[name].sum(0)
        assert torch.allclose(col_sums, torch.ones_like(col_sums), atol=1e-5), name
        assert (core[name] >= 0).all()


def test_jaspar_is_cached_in_process(core):
    assert jaspar() is core
    assert jaspar(release="JASPAR2026", collection="core", tax_group="Vertebrates") is core


def test_jaspar_unknown_release_lists_valid_ones():
    with pytest.raises(ValueError, match=r"JASPAR1999.*JASPAR2026.*JASPAR2024.*JASPAR2014"):
        jaspar(release="JASPAR1999")


def test_jaspar_unknown_taxon_lists_valid_ones():
    with pytest.raises(ValueError, match=r"'mammals'.*insects.*plants.*vertebrates"):
        jaspar(tax_group="mammals")


def test_jaspar_unknown_collection_lists_valid_ones():
    with pytest.raises(ValueError, match=r"'MAIN'.*CORE.*UNVALIDATED"):
        jaspar(collection="MAIN")


def test_jaspar_other_taxon_and_all_versions():
    latest = jaspar(tax_group="nematodes")
    every = jaspar(tax_group="nematodes", latest=False)
    assert 0 < len(latest) < len(every)
    assert set(latest.metadata["tax_group"]) == {"nematodes"}


def test_read_meme_real_jaspar_matrices(core):
    db = read_meme(FIVE)
    assert len(db) == 5 and db.name == FIVE.name
    assert db.names == ["MA0139.2", "MA0080.7", "MA0079.5", "MA0098.4", "MA1930.2"]
    assert db.metadata.loc["MA0139.2", "tf_name"] == "CTCF"
    assert db.metadata.loc["MA0080.7", "url"] == "https://jaspar.elixir.no/matrix/MA0080.7/"
    assert db.metadata.loc["MA1930.2", "width"] == 33
    for name in db:
        assert torch.allclose(db[name], core[name], atol=1e-5)
    assert db.find("ctcf") == ["MA0139.2", "MA1930.2"]


MEME_VARIANTS = """MEME version 5.5.4

ALPHABET= ACGT

strands: +

Background letter frequencies (from uniform background):
A 0.29000 C 0.21000 G 0.21000 T 0.29000

MOTIF one
letter-probability matrix: nsites= 20 alength= 4 E= 1e-5
 0.5\t0.5\t0\t0
 0.1 0.2 0.3 0.4

MOTIF two TWO_TF
letter-probability matrix: alength= 4 w= 3

10 0 0 10
0 20 0 0
5 5 5 5
URL http://example.org/two

MOTIF one
letter-probability matrix: alength= 4 w= 1
0.25 0.25 0.25 0.25
"""


def test_read_meme_header_variants(tmp_path):
    path = tmp_path / "variants.meme"
    path.write_text(MEME_VARIANTS)
    with pytest.warns(UserWarning, match=r"1 of 3 motifs holds counts .*two \(rows summing to 20\)"):
        db = read_meme(path)
    assert len(db.notes) == 1 and "divided by its total" in db.notes[0]
    assert db.names == ["one", "two", "one_2"]
    assert db["one"].shape == (4, 2)  # no w=: the matrix ends at the blank line
    assert db.metadata.loc["two", "tf_name"] == "TWO_TF"
    assert db.metadata.loc["one", "tf_name"] == "one"
    assert db.metadata.loc["two", "url"] == "http://example.org/two"
    np.testing.assert_allclose(db["two"].numpy()[:, 0], [0.5, 0, 0, 0.5])  # counts normalised
    np.testing.assert_allclose(db["one"].numpy()[:, 1], [0.1, 0.2, 0.3, 0.4], atol=1e-7)


def test_read_meme_gzip(tmp_path):
    path = tmp_path / "five.meme.gz"
    path.write_bytes(gzip.compress(FIVE.read_bytes()))
    assert read_meme(path).names == read_meme(FIVE).names


def test_read_meme_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="MEME file not found"):
        read_meme(tmp_path / "nope.meme")


def test_read_meme_empty_file(tmp_path):
    path = tmp_path / "empty.meme"
    path.write_text("")
    with pytest.raises(ValueError, match="holds no motifs"):
        read_meme(path)


def test_read_meme_header_only(tmp_path):
    path = tmp_path / "header.meme"
    path.write_text("MEME version 4\n\nALPHABET= ACGT\n\nstrands: + -\n")
    with pytest.raises(ValueError, match="holds no motifs"):
        read_meme(path)


def test_read_meme_binary_file(tmp_path):
    path = tmp_path / "binary.meme"
    path.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(ValueError, match="could not be read"):
        read_meme(path)


def test_read_meme_protein_alphabet(tmp_path):
    path = tmp_path / "protein.meme"
    path.write_text("MEME version 4\n\nALPHABET= ACDEFGHIKLMNPQRSTVWY\n\nMOTIF p\n")
    with pytest.raises(ValueError, match="only the DNA alphabet"):
        read_meme(path)


def test_read_meme_malformed_row_names_the_line(tmp_path):
    path = tmp_path / "bad.meme"
    path.write_text("MEME version 4\n\nMOTIF m1\nletter-probability matrix: alength= 4 w= 2\n"
                    "0.25 0.25 0.25 0.25\n0.5 0.5 zero 0\n")
    with pytest.raises(ValueError, match=r"line 6.*m1"):
        read_meme(path)


def test_read_meme_too_few_rows(tmp_path):
    path = tmp_path / "short.meme"
    path.write_text("MEME version 4\n\nMOTIF m1\nletter-probability matrix: alength= 4 w= 3\n"
                    "0.25 0.25 0.25 0.25\n")
    with pytest.raises(ValueError, match="declares w= 3 but has 1 rows"):
        read_meme(path)


def test_read_meme_zero_column(tmp_path):
    path = tmp_path / "zero.meme"
    path.write_text("MEME version 4\n\nMOTIF m1\nletter-probability matrix: alength= 4 w= 1\n0 0 0 0\n")
    with pytest.raises(ValueError, match="all zero"):
        read_meme(path)


def test_database_lookup_and_subset():
    db = read_meme(FIVE)
    with pytest.raises(KeyError, match="find"):
        db["CTCF"]
    sub = db.subset(["SP1", "MA0139.2"])
    assert sub.names == ["MA0079.5", "MA0139.2"] and len(sub) == 2
    assert list(sub.metadata.index) == sub.names
    with pytest.raises(KeyError, match="neither a matrix ID nor a TF name"):
        db.subset(["NOPE"])
    arrays = db.arrays()
    assert all(a.dtype == np.float64 and a.flags.c_contiguous for a in arrays)


def test_database_checks_its_parts():
    db = read_meme(FIVE)
    with pytest.raises(ValueError, match="indexed by the pwms"):
        MotifDatabase(db.pwms, db.metadata.iloc[::-1])
    with pytest.raises(ValueError, match=r"shape \(4, W\)"):
        MotifDatabase({"x": torch.ones(3, 5)}, db.metadata.iloc[:1].set_axis(["x"]))


def test_motifs_layer_imports_no_ui():
    code = ("import sys, explorer.motifs, explorer.warmup; "
            "bad = [m for m in ('panel', 'holoviews', 'bokeh', 'matplotlib') if m in sys.modules]; "
            "print(bad); sys.exit(1 if bad else 0)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=Path(__file__).resolve().parents[1])
    assert res.returncode == 0, res.stdout + res.stderr

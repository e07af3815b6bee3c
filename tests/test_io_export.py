"""NPZ/CSV/BED files of an attribution and its seqlets (explorer.io.export)."""

import io
import json
import sys

import numpy as np
import pandas as pd
import pytest
import torch

import explorer as ex
from explorer.io.export import CSV_COLUMNS, attribution_csv, attribution_npz, seqlet_labels, seqlets_bed


@pytest.fixture()
def att():
    seq = "ACGTNACGTA"
    one_hot = ex.one_hot_encode(seq)
    values = torch.arange(40, dtype=torch.float32).reshape(4, 10) / 10 * one_hot
    return ex.Attribution(values=values, one_hot=one_hot, method="ig", target="CTCF", chrom="chrT",
                          genome_start=99)


def test_npz_holds_the_maps_and_where_they_lie(att):
    with np.load(io.BytesIO(attribution_npz(att))) as npz:
        assert npz["ohe"].shape == npz["attr"].shape == npz["contribution"].shape == (1, 4, 10)
        assert np.allclose(npz["attr"][0], att.values.numpy())
        meta = json.loads(str(npz["meta"]))
    assert meta == {"chrom": "chrT", "genome_start_0based": 99, "method": "ig", "target": "CTCF"}


def test_csv_has_one_line_per_base_with_1_based_positions(att):
    df = pd.read_csv(io.StringIO(attribution_csv(att)))
    assert list(df.columns) == CSV_COLUMNS and len(df) == 10
    assert df["position_1based"].tolist() == list(range(100, 110))
    assert "".join(df["ref"]) == "ACGTNACGTA"
    assert np.allclose(df["per_base"].to_numpy(), att.per_base)
    assert df["per_base"].iloc[4] == pytest.approx(0.0)  # the N base


def test_labels_and_bed_use_the_best_significant_match():
    seqlets = pd.DataFrame({"genome_start": [100, 200], "genome_end": [112, 215]}, index=[0, 1])
    matches = pd.DataFrame({"seqlet": [0, 0, 1], "rank": [1, 2, 1], "tf_name": ["CTCF", "CTCFL", "SPI1"],
                            "q_value": [0.001, 0.01, 0.2]})
    labels = seqlet_labels(seqlets, matches)
    assert labels == ["CTCF (q=0.001)", "no match"]  # SPI1's q = 0.2 is above 0.05
    assert seqlet_labels(seqlets, matches, max_q=0.5)[1] == "SPI1 (q=0.2)"
    hits = pd.DataFrame({"genome_start": [101], "genome_end": [120], "tf_name": ["CTCF"],
                         "matrix_id": ["MA0139.2"], "strand": ["-"]})
    bed = seqlets_bed("chrT", seqlets, labels, hits).splitlines()
    assert bed == ["chrT\t100\t112\tseqlet0:CTCF\t0\t.", "chrT\t200\t215\tseqlet1:no\t0\t.",
                   "chrT\t101\t120\tCTCF:MA0139.2\t0\t-"]
    assert seqlets_bed("chrT", None) == "\n"


def test_export_imports_no_ui_library():
    import subprocess

    code = ("import sys, explorer.io.export\n"
            "bad = [m for m in ('panel', 'holoviews', 'bokeh', 'matplotlib') if m in sys.modules]\n"
            "assert not bad, bad\n")
    subprocess.run([sys.executable, "-c", code], check=True)

"""Batch variant effects (explorer.batch.variants): equal to ex.variant_effect on the whole sample
record with the same window; a bad variant is recorded, not fatal; a rerun reuses the shards."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import explorer as ex
from explorer.batch.variants import run_variants

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "sample_data" / "models" / "sample_cnn.pt"
GENOME = ROOT / "sample_data" / "loci" / "HUMHBB.gb.gz"

VCF = """##fileformat=VCFv4.2
#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO
HUMHBB\t30211\t.\tT\tA\t.\t.\t.
HUMHBB\t30212\trs1\tGG\tG\t.\t.\t.
HUMHBB\t30213\t.\tC\tT\t.\t.\t.
HUMHBB\t400\t.\tG\tGT\t.\t.\t.
chrX\t100\t.\tA\tC\t.\t.\t.
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("variants")
    (tmp / "v.vcf").write_text(VCF)
    table = run_variants(MODEL, GENOME, tmp / "v.vcf", tmp / "out", "CTCF", window=1000, workers=1, shard_size=2,
                         progress=False)
    return tmp, table


def test_effects_equal_variant_effect_on_the_whole_record(run):
    tmp, table = run
    ok = table[table["status"] == "computed"]
    assert sorted(ok["pos"]) == [400, 30211, 30212]  # 400: an insertion whose window runs past the start
    model, whole = ex.load_model(MODEL), ex.load_locus(GENOME)
    want = ex.variant_effect(model, whole, ok[["chrom", "pos", "ref", "alt", "id", "kind"]].reset_index(drop=True),
                             "CTCF", window=1000)
    for column in ("ref_score", "alt_score", "diff"):
        np.testing.assert_allclose(ok[column].to_numpy(float), want[column].to_numpy(float), rtol=1e-5, atol=1e-5)
    assert list(ok["window_start"]) == list(want["window_start"])
    assert list(ok["n_padded"]) == list(want["n_padded"]) and ok["n_padded"].max() > 0


def test_bad_variants_are_recorded_with_the_reason(run):
    _, table = run
    failed = table[table["status"] == "failed"].set_index("pos")
    assert "does not match the locus" in failed.loc[30213, "reason"]
    assert "'chrX' is not in HUMHBB.gb.gz" in failed.loc[100, "reason"]


def test_rerun_reuses_finished_shards(run):
    tmp, _ = run
    again = run_variants(MODEL, GENOME, tmp / "v.vcf", tmp / "out", "CTCF", window=1000, workers=1, shard_size=2,
                         progress=False)
    # the shard holding only computed variants is reused; shards with a failed variant are retried
    assert set(again.loc[again["pos"].isin([30211, 30212]), "status"]) == {"reused"}
    assert again.loc[again["pos"] == 400, "status"].item() == "computed"  # its shard-mate 30213 failed
    assert set(again.loc[again["pos"].isin([30213, 100]), "status"]) == {"failed"}
    with pytest.raises(ValueError, match="other settings.*window"):
        run_variants(MODEL, GENOME, tmp / "v.vcf", tmp / "out", "CTCF", window=500, workers=1, shard_size=2,
                     progress=False)

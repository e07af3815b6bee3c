"""The batch run's region list in the app (explorer.ui.batch_list): ranked like ranked_regions, a
click opens the region with the run's method and task, and the app's map equals the run's."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import explorer as ex
from explorer.batch import ranked_regions, region_attribution, run_attribution

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "sample_data" / "models" / "sample_cnn.pt"
GENOME = ROOT / "sample_data" / "loci" / "HUMHBB.gb.gz"
#: one window far from the app's default view (outside the locus context it loads first)
ROWS = [(30_100, 30_300, "ctcf_site"), (62_000, 62_200, "hbb_promoter"), (45_000, 45_200, "between")]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("batch-ui")
    (tmp / "r.bed").write_text("".join(f"HUMHBB\t{s}\t{e}\t{n}\n" for s, e, n in ROWS))
    run_attribution(MODEL, GENOME, tmp / "r.bed", tmp / "out", "saliency", "SPI1", workers=1, motifs=None,
                    progress=False)
    return tmp / "out"


def test_list_ranks_and_opens_a_region_in_the_usual_views(run_dir):
    app = ex.Explorer(autorun=False, results=run_dir)
    rows = app.batch_regions.table.value
    assert list(rows["name"]) == list(ranked_regions(run_dir, "score")["name"])
    app.batch_regions.by = "n_seqlets"
    assert list(app.batch_regions.table.value["name"]) == list(ranked_regions(run_dir, "n_seqlets")["name"])
    s = app.state
    for k in (1, 0):  # a region outside the loaded locus, then one inside the new one
        assert app.batch_regions.open(k)
        start, end = ROWS[k][:2]
        assert (s.window.chrom, s.window.start, s.window.end) == ("HUMHBB", start, end)
        assert (s.method, s.task) == ("saliency", "SPI1")
        res = s.compute(with_motifs=False)
        stored = region_attribution(run_dir, k)
        np.testing.assert_allclose(res.values.numpy(), stored.values.numpy(), rtol=0,
                                   atol=1e-5 * float(stored.values.abs().max()))


def test_not_a_run_folder_says_so(tmp_path):
    app = ex.Explorer(autorun=False, results=tmp_path)
    assert "is not the output folder" in app.state.message
    assert app.batch_regions.open(0) is False

"""Batch attribution (explorer.batch.run, .work, .outputs, .executors): on a Dask cluster of 2
processes, every region's map, one-hot, bigWig track, seqlets and motif matches equal serial
``ex.attribute`` / ``ex.call_seqlets`` / ``ex.match_motifs``; a failed region is recorded; a
killed run is resumed; bad input is refused in words."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import explorer as ex
from explorer.batch import ranked_regions, region_attribution, run_attribution
from explorer.batch.shards import shard_path
from explorer.cli import BAD_INPUT, main

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "sample_data" / "models" / "sample_cnn.pt"
GENOME = ROOT / "sample_data" / "loci" / "HUMHBB.gb.gz"
#: the sample model's CTCF site (JASPAR MA0139.1 match at HUMHBB:30,200-30,218, 1-based)
CTCF_SITE = "CTGCCAGGAGGTGGCACTT"


def write_bed(path: Path, rows) -> Path:
    path.write_text("".join(f"HUMHBB\t{s}\t{e}\t{name}\n" for s, e, name in rows))
    return path


def write_meme(path: Path, n_random: int = 29, seed: int = 0) -> Path:
    """A MEME file: a PWM of the sample locus's CTCF site and ``n_random`` seeded random PWMs."""
    rng = np.random.default_rng(seed)
    pwms = {"CTCF_site": np.where(np.array(list("ACGT"))[:, None] == np.array(list(CTCF_SITE))[None, :], 0.85, 0.05)}
    for k in range(n_random):
        pwms[f"random_{k}"] = rng.dirichlet(np.ones(4), size=int(rng.integers(8, 16))).T
    lines = ["MEME version 4", "", "ALPHABET= ACGT", "", "strands: + -", "",
             "Background letter frequencies", "A 0.25 C 0.25 G 0.25 T 0.25", ""]
    for name, pwm in pwms.items():
        lines += [f"MOTIF {name} {name}", f"letter-probability matrix: alength= 4 w= {pwm.shape[1]} nsites= 20 E= 0"]
        lines += [" ".join(f"{p:.4f}" for p in col) for col in pwm.T] + [""]
    path.write_text("\n".join(lines))
    return path


@pytest.fixture(scope="module")
def model():
    return ex.load_model(MODEL)


@pytest.fixture(scope="module")
def whole():
    return ex.load_locus(GENOME)


def serial(model, whole, start, end, method, **options):
    """The reference: ex.attribute on the region, in this process."""
    return ex.attribute(model, whole.subregion(start, end), method, "CTCF", cache=False, **options)


#: 24 overlapping 200 bp windows (step 150) around the CTCF site, and one past the record's end
WINDOWS = [(29_400 + 150 * k, 29_600 + 150 * k, f"w{k}") for k in range(24)] + [(73_200, 73_400, "past_end")]


@pytest.fixture(scope="module")
def refs(model, whole):
    """Serial saliency of the 24 computable windows (computed once)."""
    return [serial(model, whole, s, e, "saliency") for s, e, _ in WINDOWS[:24]]


@pytest.fixture(scope="module")
def cluster():
    from dask.distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=40) as c:
        yield c


@pytest.fixture(scope="module")
def bulk(tmp_path_factory, cluster):
    """Saliency on the 25 windows, shards of 4, on the 2-process cluster (as a remote scheduler)."""
    tmp = tmp_path_factory.mktemp("bulk")
    bed = write_bed(tmp / "regions.bed", WINDOWS)
    out = tmp / "out"
    result = run_attribution(MODEL, GENOME, bed, out, "saliency", "CTCF", scheduler=cluster.scheduler_address,
                             shard_size=4, motifs=None, progress=False)
    return out, result


def test_cluster_maps_equal_serial_attribute(bulk, refs):
    out, result = bulk
    ohe = np.load(out / "ohe.npz")["arr_0"]
    attr = np.load(out / "attr.npz")["arr_0"]
    assert ohe.shape == attr.shape == (25, 4, 200) and attr.dtype == np.float32
    table = result.regions
    assert list(table["name"]) == [w[2] for w in WINDOWS]
    assert (table["status"][:24] == "computed").all()
    for k, ((s, e, _), ref) in enumerate(zip(WINDOWS, refs)):
        scale = float(ref.values.abs().max())
        np.testing.assert_allclose(attr[k], ref.values.numpy(), rtol=0, atol=1e-5 * scale)
        np.testing.assert_array_equal(ohe[k], ref.one_hot.numpy())
        assert table["score"][k] == pytest.approx(ref.diagnostics["reference_score"], rel=1e-5)
        stored = region_attribution(out, k)
        np.testing.assert_allclose(stored.values.numpy(), ref.values.numpy(), rtol=0, atol=1e-5 * scale)
        assert (stored.chrom, stored.genome_start) == ("HUMHBB", s)


def test_failed_region_is_recorded_not_fatal(bulk):
    out, result = bulk
    row = result.regions.iloc[24]
    assert row["status"] == "failed" and "runs past the end of HUMHBB" in row["reason"]
    assert not np.load(out / "attr.npz")["arr_0"][24].any()
    with pytest.raises(ValueError, match="failed in the run"):
        region_attribution(out, 24)


def test_bigwig_reads_back_per_base_contribution(bulk, refs):
    import pyBigWig

    out, _ = bulk
    expected = {}
    for (s, e, _), ref in zip(WINDOWS, refs):  # overlaps: the first region (by start) covering a base gives it
        per_base = ref.per_base
        for i in range(s, e):
            expected.setdefault(i, per_base[i - s])
    bw = pyBigWig.open(str(out / "attr.bw"))
    try:
        assert bw.chroms() == {"HUMHBB": 73_308}
        lo, hi = min(expected), max(expected) + 1
        got = np.array(bw.values("HUMHBB", lo, hi))
        want = np.array([expected[i] for i in range(lo, hi)])
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6 * np.abs(want).max())
        assert np.isnan(bw.values("HUMHBB", lo - 10, lo)).all()  # nothing written outside the regions
    finally:
        bw.close()


def test_seqlets_bed_equals_call_seqlets(bulk, refs):
    out, result = bulk
    bed = pd.read_csv(out / "seqlets.bed", sep="\t")
    assert list(bed.columns)[:6] == ["#chrom", "start", "end", "name", "score", "strand"]
    for k, ref in enumerate(refs):
        want = ex.call_seqlets(ref)
        got = bed[bed["region"] == k]
        assert len(got) == len(want) == result.regions["n_seqlets"][k]
        assert sorted(zip(got["start"], got["end"])) == sorted(zip(want["genome_start"], want["genome_end"]))


def test_ranked_regions_best_first(bulk):
    out, _ = bulk
    by_score = ranked_regions(out, "score")
    assert list(by_score["status"])[-1] == "failed"
    scores = by_score["score"][:24].to_numpy()
    assert (np.diff(scores) <= 0).all()
    by_count = ranked_regions(out, "n_seqlets")
    assert (np.diff(by_count["n_seqlets"][:24].to_numpy()) <= 0).all()
    with pytest.raises(ValueError, match="rank regions by one of"):
        ranked_regions(out, "p_value")


@pytest.mark.slow
def test_ism_on_the_cluster_with_motifs(tmp_path, model, whole, cluster):
    """ISM on 3 windows on the 2-process cluster; seqlets matched to a MEME file."""
    rows = [(30_100, 30_300, "site"), (30_300, 30_500, "right"), (29_900, 30_100, "left")]
    meme = write_meme(tmp_path / "motifs.meme")
    result = run_attribution(MODEL, GENOME, write_bed(tmp_path / "r.bed", rows), tmp_path / "out", "ism", "CTCF",
                             scheduler=cluster.scheduler_address, shard_size=2, motifs=meme, progress=False)
    assert result.counts == {"computed": 3}
    attr = np.load(tmp_path / "out" / "attr.npz")["arr_0"]
    database = ex.read_meme(meme)
    bed = pd.read_csv(tmp_path / "out" / "seqlets.bed", sep="\t")
    for k, (s, e, _) in enumerate(rows):
        ref = serial(model, whole, s, e, "ism")
        scale = float(ref.values.abs().max())
        np.testing.assert_allclose(region_attribution(tmp_path / "out", k).values.numpy(), ref.values.numpy(),
                                   rtol=0, atol=1e-5 * scale)
        np.testing.assert_allclose(attr[k], ex.center_ism(ref.values).numpy(), rtol=0, atol=1e-5 * scale)
        seqlets = ex.call_seqlets(ref)
        names = ex.match_motifs(ref, seqlets, database, top_k=1)["tf_name"] if len(seqlets) else []
        assert sorted(bed[bed["region"] == k]["name"]) == sorted(names)
    # the model's CTCF site is the window's strongest seqlet, and it is named after the CTCF PWM
    site = bed[bed["region"] == 0].sort_values("score").iloc[-1]
    assert site["name"] == "CTCF_site" and site["start"] < 30_218 and site["end"] > 30_199


@pytest.mark.slow
def test_killed_run_is_resumed(tmp_path, model, whole):
    rows = [(29_000 + 100 * k, 29_200 + 100 * k, f"w{k}") for k in range(30)]
    bed = write_bed(tmp_path / "r.bed", rows)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "explorer", "attribute", "--model", str(MODEL), "--genome", str(GENOME),
           "--regions", str(bed), "--method", "saliency", "--target", "CTCF", "--out", str(out), "--workers", "1",
           "--shard-size", "2", "--motifs", "none", "--no-progress"]
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 240
        while not shard_path(out, 1).exists():  # two shards done
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "no shard written in 240 s"
            time.sleep(0.2)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    done = sorted(p.name for p in (out / "shards").glob("shard-*.npz"))
    assert 2 <= len(done) < 15 and not (out / "regions.tsv").exists()
    result = run_attribution(MODEL, GENOME, bed, out, "saliency", "CTCF", workers=1, shard_size=2, motifs=None,
                             progress=False)
    status = result.regions["status"]
    assert (status[:2 * len(done)] == "reused").all() and (status[2 * len(done):] == "computed").all()
    attr = np.load(out / "attr.npz")["arr_0"]
    for k in (0, 3, 29):  # reused and computed rows both equal serial ex.attribute
        ref = serial(model, whole, rows[k][0], rows[k][1], "saliency")
        np.testing.assert_allclose(attr[k], ref.values.numpy(), rtol=0, atol=1e-5 * float(ref.values.abs().max()))
    again = run_attribution(MODEL, GENOME, bed, out, "saliency", "CTCF", workers=1, shard_size=2, motifs=None,
                            progress=False)
    assert again.counts == {"reused": 30}


def test_rerun_with_other_settings_is_refused(bulk, cluster):
    out, _ = bulk
    bed = out.parent / "regions.bed"
    with pytest.raises(ValueError, match="holds a run with other settings.*method"):
        run_attribution(MODEL, GENOME, bed, out, "ig", "CTCF", scheduler=cluster.scheduler_address, shard_size=4,
                        motifs=None, progress=False)


def test_cli_refuses_bad_input_in_words(tmp_path, capsys):
    bed = write_bed(tmp_path / "r.bed", [(29_000, 29_200, "a"), (29_000, 29_300, "b")])
    base = ["attribute", "--model", str(MODEL), "--genome", str(GENOME), "--regions", str(bed), "--out",
            str(tmp_path / "out"), "--workers", "1", "--motifs", "none", "--no-progress"]
    assert main(base) == BAD_INPUT
    assert "pass --width" in capsys.readouterr().err
    assert main(base + ["--option", "n_steps=4"]) == BAD_INPUT  # ISM has no n_steps
    assert "unknown option(s) ['n_steps']" in capsys.readouterr().err
    assert main(base + ["--width", "200", "--target", "NFKB"]) == BAD_INPUT
    assert "NFKB" in capsys.readouterr().err
    empty = tmp_path / "empty.bed"
    empty.write_text("")
    assert main(base[:6] + [str(empty)] + base[7:]) == BAD_INPUT
    assert "holds no regions" in capsys.readouterr().err


def test_width_recentres_regions_on_a_local_cluster_of_threads(tmp_path, model, whole):
    """``--width``, and the run's own local cluster (``workers=2``; threads, to start fast)."""
    bed = write_bed(tmp_path / "r.bed", [(30_150, 30_250, "a"), (30_000, 30_500, "b")])
    lines = []
    result = run_attribution(MODEL, GENOME, bed, tmp_path / "out", "saliency", "CTCF", width=300, workers=2,
                             processes=False, shard_size=1, motifs=None, progress=False, announce=lines.append)
    assert lines[0].startswith("Dask dashboard: http")
    assert list(zip(result.regions["start"], result.regions["end"])) == [(30_050, 30_350), (30_100, 30_400)]
    ref = serial(model, whole, 30_100, 30_400, "saliency")
    np.testing.assert_allclose(np.load(tmp_path / "out" / "attr.npz")["arr_0"][1], ref.values.numpy(), rtol=0,
                               atol=1e-5 * float(ref.values.abs().max()))
    assert torch.equal(region_attribution(tmp_path / "out", 1).one_hot, ref.one_hot)

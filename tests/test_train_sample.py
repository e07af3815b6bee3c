"""The sample-model training script: data labelling, metrics, and a seeded smoke run.

Reads only the tiny peak files in ``tests/data/`` (never ``../shared``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import explorer as ex
from explorer import train_sample as ts

DATA = Path(__file__).parent / "data"
CTCF = DATA / "ctcf_tiny.fa.gz"
PU1 = DATA / "pu1_tiny.fa.gz"


def _peaks(rows):
    chrom, start, end = zip(*rows)
    return ts.Peaks(np.array(chrom), np.array(start), np.array(end), np.zeros((len(rows), 4), np.int8))


def test_overlaps_share_a_base():
    a = _peaks([("chr1", 100, 200), ("chr1", 200, 300), ("chr2", 100, 200), ("chr1", 1000, 1100)])
    b = _peaks([("chr1", 199, 250), ("chr2", 200, 300), ("chr1", 10, 1500)])
    # [100,200) meets [199,250); [200,300) meets [199,250); chr2 [100,200) only touches [200,300)
    assert ts.overlaps(a, b).tolist() == [True, True, False, True]
    assert ts.overlaps(a, _peaks([("chr1", 300, 400), ("chr3", 0, 10)])).tolist() == [False] * 4


def test_read_peaks_parses_headers_and_rejects_bad_length(tmp_path):
    peaks = ts.read_peaks(CTCF)
    assert peaks.codes.shape == (len(peaks), 100)
    assert (peaks.end - peaks.start == 100).all()
    assert peaks.chrom[0].startswith("chr")
    bad = tmp_path / "bad.fa"
    bad.write_text(">chr1:0-100\nACGT\n")
    with pytest.raises(ValueError, match="must be 100 bp"):
        ts.read_peaks(bad)
    bad.write_text(">peak1\n" + "A" * 100 + "\n")
    with pytest.raises(ValueError, match="chrom:start-end"):
        ts.read_peaks(bad)


def test_shuffles_keep_dinucleotides_and_change_sequence():
    codes = ts.read_peaks(CTCF).codes[:50]
    shuffled = ts.shuffle_codes(codes, seed=3)

    def dinucleotides(c):
        return np.bincount((c[:, :-1] * 4 + c[:, 1:]).ravel(), minlength=16)

    assert (dinucleotides(codes) == dinucleotides(shuffled)).all()
    assert (codes != shuffled).any(axis=1).all()
    assert (ts.shuffle_codes(codes, seed=3) == shuffled).all()


def test_splits_follow_chromosomes_and_label_overlaps():
    ctcf, pu1 = ts.read_peaks(CTCF), ts.read_peaks(PU1)
    splits = ts.build_splits(ctcf, pu1, seed=0)
    chrom = {k: {n.split(":")[0] for n in v.names} for k, v in splits.items()}
    assert chrom["test"] == {"chr8", "chr9"}
    assert chrom["valid"] == {"chr7"}
    assert not chrom["train"] & {"chr7", "chr8", "chr9"}
    assert sum(len(v) for v in splits.values()) == 2 * (len(ctcf) + len(pu1))
    tr = splits["train"]
    peak, shuffle = tr.source < 2, tr.source >= 2
    assert (tr.labels[shuffle] == 0).all()
    assert (tr.labels[tr.source == 0, 0] == 1).all() and (tr.labels[tr.source == 1, 1] == 1).all()
    # the other task's label is 1 exactly where the peak overlaps one of that task's peaks
    assert (tr.labels[tr.source == 0, 1] == tr.overlap[tr.source == 0]).all()
    assert (tr.labels[tr.source == 1, 0] == tr.overlap[tr.source == 1]).all()
    assert tr.overlap[peak].any()
    # a shuffle sits N // 2 rows after its peak, with the same name
    half = len(tr) // 2
    assert (tr.names[:half] == tr.names[half:]).all() and (tr.source[half:] == tr.source[:half] + 2).all()


def test_auroc_auprc_match_sklearn():
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    y = rng.random(300) < 0.4
    score = np.round(rng.normal(size=300) + y, 1)  # with ties
    assert ts.auroc(y, score) == pytest.approx(metrics.roc_auc_score(y, score))
    assert ts.auprc(y, score) == pytest.approx(metrics.average_precision_score(y, score))
    assert ts.auroc([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4]) == 1.0
    with pytest.raises(ValueError, match="positives and negatives"):
        ts.auroc([1, 1], [0.1, 0.2])


def _smoke(out: Path) -> dict:
    return ts.main(["--ctcf", str(CTCF), "--pu1", str(PU1), "--out", str(out), "--max-steps", "6",
                    "--batch-size", "32", "--eval-every", "3", "--channels", "8", "--seed", "5",
                    "--quiet"])


def test_smoke_run_writes_loadable_reproducible_model(tmp_path):
    threads = torch.get_num_threads()
    card = _smoke(tmp_path / "a")
    assert torch.get_num_threads() == threads  # the script restores the caller's setting
    files = {p.name for p in (tmp_path / "a").iterdir()}
    assert {"sample_cnn.pt", "sample_cnn.torchscript.pt", "sample_cnn.card.json"} <= files
    assert card["tasks"] == ["CTCF", "SPI1"] and card["seed"] == 5
    assert card["receptive_field"] == 67 and card["structure"]["pool"] == "max"
    assert card["training"]["steps"] == 6
    assert "--max-steps 6" in card["training_command"]
    for task in ("CTCF", "SPI1"):
        assert 0.0 <= card["metrics"][task]["auroc_vs_shuffled"] <= 1.0

    ckpt = ex.load_model(tmp_path / "a" / "sample_cnn.pt", device="cpu")
    script = ex.load_model(tmp_path / "a" / "sample_cnn.torchscript.pt", device="cpu")
    assert ckpt.tasks == script.tasks == ["CTCF", "SPI1"]
    x = ex.one_hot_encode(["ACGT" * 40, "GGGA" * 40])
    with torch.no_grad():
        torch.testing.assert_close(ckpt(x), script(x))

    # same seed, same data -> the same weights
    _smoke(tmp_path / "b")
    again = ex.load_model(tmp_path / "b" / "sample_cnn.pt", device="cpu")
    assert again.content_hash() == ckpt.content_hash()


def test_eval_subset_round_trip(tmp_path):
    path = tmp_path / "subset.fa.gz"
    card = ts.main(["--ctcf", str(CTCF), "--pu1", str(PU1), "--write-eval-subset", "5",
                    "--eval-out", str(path), "--quiet"])
    assert card == {}
    seqs, source, overlap = ts.read_eval_subset(path)
    assert np.bincount(source, minlength=4).tolist() == [5, 5, 5, 5]
    assert all(len(s) == 100 for s in seqs)
    assert not overlap[source >= 2].any()
    # each shuffle follows its peak's block and keeps its dinucleotide content
    peaks, shuffles = ex.one_hot_encode(seqs[:5]), ex.one_hot_encode(seqs[5:10])
    di = lambda x: torch.einsum("nal,nbl->ab", x[:, :, :-1], x[:, :, 1:])  # noqa: E731
    torch.testing.assert_close(di(peaks), di(shuffles))


def test_missing_data_file_names_the_option(tmp_path):
    with pytest.raises(FileNotFoundError, match="--pu1"):
        ts.main(["--ctcf", str(CTCF), "--pu1", str(tmp_path / "none.fa.gz"), "--quiet"])

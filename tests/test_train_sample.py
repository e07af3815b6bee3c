"""The sample model's data (peak reader, labels, shuffles, split), its metrics, and the
training script run as a subprocess on tiny data (seeded smoke run).

Reads only the tiny peak files in ``tests/data/`` (never ``../shared``); imports no
training code: ``scripts/train_sample.py`` runs in its own process, with a timeout.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import explorer as ex
from explorer.io.peaks import Peaks, overlaps, read_peaks, write_peaks
from explorer.nets import metrics
from explorer.nets.peak_tasks import SOURCES, build_splits, eval_subset, subset_labels

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "train_sample.py"
DATA = Path(__file__).parent / "data"
CTCF = DATA / "ctcf_tiny.fa.gz"
PU1 = DATA / "pu1_tiny.fa.gz"
TIMEOUT = 300  # s, per script run (a smoke run takes about 20 s on 2 busy cores)


def _peaks(rows):
    chrom, start, end = zip(*rows)
    return Peaks(np.array(chrom), np.array(start), np.array(end), torch.zeros(len(rows), 4, 4))


def _script(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True,
                          timeout=TIMEOUT, cwd=ROOT, env=env)


def test_overlaps_share_a_base():
    a = _peaks([("chr1", 100, 200), ("chr1", 200, 300), ("chr2", 100, 200), ("chr1", 1000, 1100)])
    b = _peaks([("chr1", 199, 250), ("chr2", 200, 300), ("chr1", 10, 1500)])
    # [100,200) meets [199,250); [200,300) meets [199,250); chr2 [100,200) only touches [200,300)
    assert overlaps(a, b).tolist() == [True, True, False, True]
    assert overlaps(a, _peaks([("chr1", 300, 400), ("chr3", 0, 10)])).tolist() == [False] * 4


def test_read_peaks_parses_headers_and_rejects_bad_length(tmp_path):
    peaks = read_peaks(CTCF)
    assert peaks.one_hot.shape == (len(peaks), 4, 100) and peaks.one_hot.dtype == torch.float32
    assert (peaks.end - peaks.start == 100).all()
    assert peaks.chrom[0].startswith("chr")
    bad = tmp_path / "bad.fa"
    bad.write_text(">chr1:0-100\nACGT\n")
    with pytest.raises(ValueError, match="must be 100 bp"):
        read_peaks(bad)
    bad.write_text(">peak1\n" + "A" * 100 + "\n")
    with pytest.raises(ValueError, match="chrom:start-end"):
        read_peaks(bad)
    bad.write_text(">chr1:0-100\n" + "A" * 99 + "X\n")
    with pytest.raises(ValueError, match="chr1:0-100 holds a character other than ACGT/IUPAC.*'X' at position 100"):
        read_peaks(bad)
    bad.write_text("ACGT\n>chr1:0-4\n")
    with pytest.raises(ValueError, match="before the first '>' header"):
        read_peaks(bad, length=4)


def test_read_write_peaks_round_trip_with_fields(tmp_path):
    peaks = read_peaks(CTCF).take(np.arange(6))
    peaks.fields = {"source": np.array(["CTCF"] * 3 + ["SPI1_shuffle"] * 3), "overlap": np.array(list("010101"))}
    back = read_peaks(write_peaks(tmp_path / "p.fa.gz", peaks))
    assert back.names.tolist() == peaks.names.tolist() and back.sequences == peaks.sequences
    assert torch.equal(back.one_hot, peaks.one_hot)
    assert {k: v.tolist() for k, v in back.fields.items()} == {k: v.tolist() for k, v in peaks.fields.items()}
    assert (back.end - back.start == 100).all()
    assert back.on_chroms([back.chrom[0]]).chrom.tolist() == [c for c in back.chrom if c == back.chrom[0]]


def test_shuffles_keep_dinucleotides_and_change_sequence():
    x = read_peaks(CTCF).one_hot[:50]
    shuffled = ex.dinucleotide_shuffle(x, n=1, random_state=3)[:, 0]
    assert shuffled.shape == x.shape and shuffled.dtype == torch.float32
    codes, shuffled_codes = x.argmax(1).numpy(), shuffled.argmax(1).numpy()

    def dinucleotides(c):
        return np.bincount((c[:, :-1] * 4 + c[:, 1:]).ravel(), minlength=16)

    assert (x.sum(1) == 1).all() and (shuffled.sum(1) == 1).all()  # ACGT-only peaks: codes are exact
    assert (dinucleotides(codes) == dinucleotides(shuffled_codes)).all()
    assert (codes != shuffled_codes).any(axis=1).all()
    assert torch.equal(ex.dinucleotide_shuffle(x, n=1, random_state=3)[:, 0], shuffled)
    # a batch gives each sequence its own shuffle: the first equals none of the others'
    assert not torch.equal(shuffled[0], shuffled[1])


def test_splits_follow_chromosomes_and_label_overlaps():
    ctcf, pu1 = read_peaks(CTCF), read_peaks(PU1)
    splits = build_splits(ctcf, pu1, seed=0)
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
    sk = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    y = rng.random(300) < 0.4
    score = np.round(rng.normal(size=300) + y, 1)  # with ties
    assert metrics.auroc(y, score) == pytest.approx(sk.roc_auc_score(y, score))
    assert metrics.auprc(y, score) == pytest.approx(sk.average_precision_score(y, score))
    assert metrics.auroc([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4]) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="positives and negatives"):
        metrics.auroc([1, 1], [0.1, 0.2])
    with pytest.raises(ValueError, match="at least one positive"):
        metrics.auprc([0, 0], [0.1, 0.2])


def _smoke(out: Path) -> dict:
    run = _script("--ctcf", str(CTCF), "--pu1", str(PU1), "--out", str(out), "--max-steps", "6",
                  "--batch-size", "32", "--eval-every", "3", "--channels", "8", "--seed", "5", "--quiet")
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads((out / "sample_cnn.card.json").read_text())


def test_smoke_run_writes_loadable_reproducible_model(tmp_path):
    threads = torch.get_num_threads()
    card = _smoke(tmp_path / "a")
    assert torch.get_num_threads() == threads  # the script runs in its own process
    files = {p.name for p in (tmp_path / "a").iterdir()}
    assert {"sample_cnn.pt", "sample_cnn.torchscript.pt", "sample_cnn.card.json"} <= files
    assert card["tasks"] == ["CTCF", "SPI1"] and card["seed"] == 5
    assert card["receptive_field"] == 67 and card["structure"]["pool"] == "max"
    assert card["structure"] == ex.load_model(tmp_path / "a" / "sample_cnn.pt", device="cpu").net.structure()
    assert card["training_command"].startswith("python scripts/train_sample.py ")
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
    run = _script("--ctcf", str(CTCF), "--pu1", str(PU1), "--write-eval-subset", "5",
                  "--eval-out", str(path), "--quiet")
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout == ""
    subset = read_peaks(path)
    seqs = subset.sequences
    source, overlap = subset_labels(subset)
    assert np.bincount(source, minlength=4).tolist() == [5, 5, 5, 5]
    assert all(len(s) == 100 for s in seqs)
    assert not overlap[source >= 2].any()
    # each shuffle follows its peak's block and keeps its dinucleotide content
    peaks, shuffles = ex.one_hot_encode(seqs[:5]), ex.one_hot_encode(seqs[5:10])
    di = lambda x: torch.einsum("nal,nbl->ab", x[:, :, :-1], x[:, :, 1:])  # noqa: E731
    torch.testing.assert_close(di(peaks), di(shuffles))


def test_eval_subset_fields_match_the_split():
    split = build_splits(read_peaks(CTCF), read_peaks(PU1), seed=0)["test"]
    subset = eval_subset(split, n_per_task=4, seed=0)
    source, overlap = subset_labels(subset)
    assert np.bincount(source, minlength=4).tolist() == [4, 4, 4, 4]
    rows = {n: i for i, n in enumerate(split.names[: len(split) // 2])}
    assert subset.fields["source"].tolist() == ["CTCF"] * 4 + ["CTCF_shuffle"] * 4 + ["SPI1"] * 4 + ["SPI1_shuffle"] * 4
    for k in np.flatnonzero(source < 2):  # the peaks: labels and overlap as in the split
        i = rows[subset.names[k]]
        assert subset.fields["source"][k] == SOURCES[split.source[i]]
        assert [int(subset.fields[t][k]) for t in ("CTCF", "SPI1")] == split.labels[i].astype(int).tolist()
        assert overlap[k] == split.overlap[i]
        assert torch.equal(subset.one_hot[k], split.one_hot[i])


def test_missing_data_file_names_the_option(tmp_path):
    run = _script("--ctcf", str(CTCF), "--pu1", str(tmp_path / "none.fa.gz"), "--quiet")
    assert run.returncode == 2
    assert "peak file not found" in run.stderr and "--pu1" in run.stderr


@pytest.mark.parametrize("given, missing", [([], "--ctcf"), (["--ctcf", str(CTCF)], "--pu1")])
def test_data_paths_are_required_and_never_default_to_shared(given, missing):
    run = _script(*given, "--quiet")
    assert run.returncode == 2
    assert f"{missing} PATH is required" in run.stderr
    assert "shared" not in run.stderr
    assert "../shared" not in SCRIPT.read_text() and "\"shared\"" not in SCRIPT.read_text()

"""The committed sample model: both load paths, its card, its held-out metrics, the bookmarks."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

import explorer as ex
from explorer.io import samples
from explorer.io.peaks import read_peaks
from explorer.nets.peak_tasks import subset_labels, task_metrics

EVAL_SUBSET = samples.SAMPLE_DATA / "eval" / "test_subset.fa.gz"


@pytest.fixture(scope="module")
def models():
    return (ex.load_model(samples.SAMPLE_MODEL, device="cpu"),
            ex.load_model(samples.SAMPLE_TORCHSCRIPT, device="cpu"))


@pytest.fixture(scope="module")
def eval_subset():
    peaks = read_peaks(EVAL_SUBSET)
    return (peaks.sequences, *subset_labels(peaks))


def test_both_files_load_with_tasks_and_identical_outputs(models, eval_subset):
    ckpt, script = models
    assert ckpt.kind == "checkpoint" and script.kind == "torchscript"
    assert ckpt.tasks == script.tasks == ["CTCF", "SPI1"]
    seqs = eval_subset[0][:64]
    x = ex.one_hot_encode(seqs)
    long = ex.load_sample_locus().one_hot.unsqueeze(0)  # the default 2 kb window
    with torch.no_grad():
        torch.testing.assert_close(ckpt(x), script(x), rtol=0, atol=1e-5)
        torch.testing.assert_close(ckpt(long), script(long), rtol=0, atol=1e-5)
    assert ckpt(x).shape == (64, 2)


def test_card_describes_the_model(models):
    card = models[0].card
    assert card == models[1].card
    assert card["name"] == "sample_cnn" and card["alphabet"] == "ACGT"
    assert card["min_length"] == 100 and card["input_length"] is None
    assert card["output"] == "logits (N, 2)"
    assert card["receptive_field"] == 67 == models[0].net.receptive_field
    assert card["structure"] == {"trunk": "trunk", "pool": "max", "final": "linear", "receptive_field": 67}
    assert card["split"]["test"] == ["chr8", "chr9"] and card["split"]["valid"] == ["chr7"]
    for key in ("data", "training_command", "seed", "torch_version", "date"):
        assert card[key] not in (None, "")
    for task in ("CTCF", "SPI1"):
        assert card["metrics"][task]["auroc_vs_shuffled"] >= 0.97
        for key in ("auprc_vs_shuffled", "auroc_vs_other_task", "auprc_vs_other_task"):
            assert 0.5 < card["metrics"][task][key] <= 1.0


def test_card_structure_is_generated_from_the_network(models):
    """The shipped card's ``structure`` is what SampleCNN declares (written once, in the class)."""
    from explorer.attribution.structure import STRUCTURE_ADAPTERS
    from explorer.nets import SampleCNN

    shipped = json.loads((samples.SAMPLE_DATA / "models" / "sample_cnn.card.json").read_text())
    generated = SampleCNN(**shipped["config"]).structure()
    assert shipped["structure"] == generated == models[0].card["structure"]
    assert shipped == models[0].card == models[1].card  # the JSON is the cards the model files carry
    assert shipped["training_command"].startswith("python scripts/train_sample.py ")
    assert generated == SampleCNN.structure_of(models[0].net) == SampleCNN.structure_of(models[1].net)
    assert STRUCTURE_ADAPTERS["SampleCNN"] is SampleCNN.structure_of
    assert shipped["receptive_field"] == generated["receptive_field"]


def test_weights_are_small():
    assert samples.SAMPLE_MODEL.stat().st_size < 4 * 2**20
    net = ex.load_model(samples.SAMPLE_MODEL, device="cpu").net
    assert sum(p.numel() for p in net.parameters()) < 1_000_000


def test_held_out_metrics(models, eval_subset):
    """auROC on test-chromosome peaks (chr8, chr9) vs their dinucleotide shuffles >= 0.95."""
    seqs, source, overlap = eval_subset
    assert len(seqs) == 1200 and np.bincount(source).tolist() == [300] * 4
    with torch.no_grad():
        logits = models[0](ex.one_hot_encode(seqs)).numpy()
    metrics = task_metrics(logits, source, overlap)
    print("held-out subset metrics:", metrics)
    for task in ("CTCF", "SPI1"):
        assert metrics[task]["auroc_vs_shuffled"] >= 0.95, (task, metrics[task])
        assert metrics[task]["auroc_vs_other_task"] >= 0.85, (task, metrics[task])


def test_default_bookmark_holds_a_strong_ctcf_site(models):
    regions = {name: ex.parse_region(r) for name, r in samples.SAMPLE_BOOKMARKS.items()}
    assert all(r.chrom == "HUMHBB" and r.length == 2000 for r in regions.values())
    default = ex.load_sample_locus()
    assert default.region == next(iter(regions.values()))
    with torch.no_grad():
        logits = models[0](default.one_hot.unsqueeze(0))[0]
    assert logits[0] > 3.0, f"CTCF logit in the default window: {float(logits[0]):.2f}"


def test_hbb_promoter_bookmark_covers_the_hbb_start():
    locus = ex.load_locus(samples.SAMPLE_LOCUS)
    genes = locus.annotations.query("type == 'gene' and name == 'HBB'")
    assert len(genes) == 1 and genes.strand.iloc[0] == "+"
    tss = int(genes.start.iloc[0])  # 0-based
    region = ex.parse_region(samples.SAMPLE_BOOKMARKS["HBB promoter"])
    assert region.start <= tss - 900 and tss + 500 <= region.end


def test_bookmarks_are_what_the_model_chooses(models):
    """SAMPLE_BOOKMARKS match ``python scripts/train_sample.py --bookmarks`` on the shipped model."""
    root = samples.SAMPLE_DATA.parent
    run = subprocess.run([sys.executable, str(root / "scripts" / "train_sample.py"), "--bookmarks",
                          str(samples.SAMPLE_LOCUS), "--out", str(samples.SAMPLE_MODEL.parent)],
                         capture_output=True, text=True, timeout=300, cwd=root,
                         env={**os.environ, "PYTHONPATH": str(root)})
    assert run.returncode == 0, run.stderr[-3000:]
    chosen = json.loads(run.stdout)
    assert chosen["bookmarks"] == samples.SAMPLE_BOOKMARKS
    assert chosen["details"]["ctcf"]["site_logit"] > 4.0

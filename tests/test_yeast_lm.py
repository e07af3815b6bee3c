"""The yeast sample LM: it loads as a masked LM, its card holds its metrics and commands, its
masked ISM runs on the receptive-field-local path; the ARS1 table places on chrIV; the
training script runs end to end on a tiny FASTA."""

import gzip
import importlib.util
import json
from pathlib import Path

import numpy as np
import torch

import explorer as ex

ROOT = Path(__file__).resolve().parents[1]


def test_yeast_lm_loads_with_its_metrics_in_the_card():
    model = ex.load_yeast_lm(device="cpu")
    card = model.card
    assert card["kind"] == "masked_lm" and ex.methods_for(model) == ["ism", "masked_distribution"]
    lm, kmer = card["metrics"]["lm"], card["metrics"]["kmer_baselines"]
    assert {"accuracy", "perplexity", "n"} <= set(lm) and lm["n"] > 100_000
    assert {"flank_3", "markov_5", "base_composition"} <= set(kmer)
    assert 0.25 < lm["accuracy"] < 1 and 1 < lm["perplexity"] < 4
    assert kmer["flank_3"]["n"] == lm["n"]  # the same held-out positions
    assert {"pearson", "spearman", "n"} <= set(card["metrics"]["ars1"]["both_strands"])
    assert card["metrics"]["ars1"]["both_strands"]["n"] == 450
    assert "scripts/train_yeast_lm.py" in card["training_command"]
    assert "held_out" in card["split"]
    side = json.loads((ex.YEAST_LM.with_name("yeast_lm.card.json")).read_text())
    assert side["metrics"] == card["metrics"]


def test_yeast_lm_ism_on_the_ars1_window_takes_the_local_path():
    model = ex.load_yeast_lm(device="cpu")
    locus = ex.load_yeast_locus()
    res = ex.attribute(model, locus, method="ism", start=925, end=1075, cache=False)
    assert res.diagnostics["ism_path"] == "local"
    assert res.diagnostics["fast_ism_max_abs_diff"] <= res.diagnostics["fast_ism_tolerance"]
    assert res.values.shape == (4, 150) and torch.isfinite(res.values).all()


def test_ars1_table_places_on_chrIV():
    locus = ex.load_yeast_locus()
    measured = ex.load_measured_effects(ex.ARS1_EFFECTS, locus=locus)
    assert len(measured) == 450 and measured["placed"].all() and measured["ref_matches_locus"].all()
    assert set(measured["element"]) == {"ARS1"}


def test_training_script_smoke(tmp_path):
    rng = np.random.default_rng(0)
    fasta = tmp_path / "toy.fa.gz"
    with gzip.open(fasta, "wt") as fh:
        fh.write(">toy\n" + "".join(rng.choice(list("ACGT"), 6000)) + "\n")
    out = tmp_path / "lm.pt"
    spec = importlib.util.spec_from_file_location("train_yeast_lm", ROOT / "scripts" / "train_yeast_lm.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    threads = torch.get_num_threads()
    try:
        script.main(["--fasta", str(fasta), "--out", str(out), "--test-bp", "1000", "--gap", "50", "--max-steps", "3",
                     "--batch", "4", "--channels", "8", "--threads", "1"])
    finally:
        torch.set_num_threads(threads)
    model = ex.load_model(out, device="cpu")
    assert model.card["training"]["steps"] == 3 and model.card["metrics"]["lm"]["n"] > 900

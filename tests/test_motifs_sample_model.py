"""End to end on the shipped sample model: ISM -> seqlets -> TOMTOM names the right factor.

Uses the held-out test-chromosome peaks shipped in ``sample_data/eval/test_subset.fa.gz``
(never the shared data). The full check over 10 peaks and every method is
``scripts/eval_motif_recovery.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import explorer as ex
from explorer.io.peaks import read_peaks

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "sample_data" / "models" / "sample_cnn.pt"
SUBSET = ROOT / "sample_data" / "eval" / "test_subset.fa.gz"

pytestmark = pytest.mark.skipif(not (MODEL.is_file() and SUBSET.is_file()),
                                reason="sample model or its held-out peaks not present")


def peaks(source: str) -> list[tuple[str, str]]:
    subset = read_peaks(SUBSET)
    chosen = subset.take(subset.fields["source"] == source)
    return list(zip(chosen.names.tolist(), chosen.sequences))


def strongest(model, task: str, source: str, n: int = 3):
    records = [(n_, s) for n_, s in peaks(source) if set(s) <= set("ACGT")]
    with torch.no_grad():
        scores = model(ex.one_hot_encode([s for _, s in records]))[:, model.tasks.index(task)]
    order = torch.argsort(scores, descending=True, stable=True)[:n].tolist()
    return [records[i] for i in order]


@pytest.fixture(scope="module")
def model():
    m = ex.load_model(MODEL)
    m.eval()
    return m


@pytest.mark.parametrize("task, source, accept", [
    ("CTCF", "CTCF", {"CTCF", "CTCFL"}),
    ("SPI1", "SPI1", {"SPI1", "SPIB", "SPIC", "ELF1", "ELF2", "ELF3", "ELF4", "ELF5", "ETV6", "EHF", "ERG",
                      "FLI1", "GABPA", "ETS1", "ETS2", "ELK1", "ELK3", "ELK4", "ETV1", "ETV4", "ETV5"}),
])
def test_ism_seqlet_is_named_by_tomtom(model, task, source, accept):
    db = ex.jaspar()
    for name, seq in strongest(model, task, source):
        chrom, span = name.split(":")
        start = int(span.split("-")[0])
        locus = ex.Locus(chrom, start, start + len(seq), seq)
        att = ex.attribute(model, locus, method="ism", target=task, cache=False)
        seqlets = ex.call_seqlets(att)
        assert len(seqlets) >= 1, name
        top = seqlets.iloc[0]
        assert 10 <= top["end"] - top["start"] <= 29, (name, top["sequence"])
        assert top["genome_start"] == start + top["start"]
        best = ex.match_motifs(att, seqlets.iloc[:1], db, top_k=1).iloc[0]
        assert best["tf_name"].upper() in accept, (name, top["sequence"], best["tf_name"], best["q_value"])
        assert best["q_value"] < 0.01

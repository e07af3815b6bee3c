"""Agreement between seqlets, TOMTOM matches and FIMO hits; the numba warm-up."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from explorer.attribution.result import Attribution
from explorer.io.sequences import one_hot_encode, reverse_complement
from explorer.motifs import Agreement, agreement, call_seqlets, jaspar, match_motifs, scan_motifs
from explorer.motifs.agreement import PER_SEQLET_COLUMNS


@pytest.fixture(scope="module")
def core():
    return jaspar()


def two_site_attribution(core, start=0):
    """CTCF (+) at 100 and SPI1 (-) at 300, each given importance by its log-odds; noise elsewhere."""
    rng = np.random.default_rng(7)
    seq = list("".join(rng.choice(list("ACGT"), 450)))
    sites = []
    for name, pos, strand in [("MA0139.2", 100, "+"), ("MA0080.7", 300, "-")]:
        pwm = core[name]
        site = "".join("ACGT"[i] for i in pwm.argmax(0).tolist())
        seq[pos:pos + len(site)] = site if strand == "+" else reverse_complement(site)
        w = torch.log2(pwm + 0.01) + 2.0
        sites.append((pos, w if strand == "+" else w.flip(0, 1)))
    x = one_hot_encode("".join(seq))
    per_base = rng.normal(0, 0.05, 450).astype(np.float32)
    for pos, w in sites:
        per_base[pos:pos + w.shape[1]] += (w * x[:, pos:pos + w.shape[1]]).sum(0).numpy()
    values = x * torch.from_numpy(per_base)
    return Attribution(values=values, one_hot=x, method="saliency", target="toy", start=start, chrom="chrT",
                       genome_start=500 + start)


def test_agreement_on_two_planted_sites(core):
    att = two_site_attribution(core, start=20)
    seqlets = call_seqlets(att)
    matches = match_motifs(att, seqlets, core)
    hits = scan_motifs(att, core, motifs=list(matches["matrix_id"].unique()))
    result = agreement(att, seqlets, matches, hits)
    assert isinstance(result, Agreement)
    assert result.n_seqlets == len(seqlets) >= 2 and result.n_matched >= 2
    assert list(result.per_seqlet.columns) == PER_SEQLET_COLUMNS
    top2 = result.per_seqlet.iloc[:2]
    assert top2["matched"].all() and top2["hit_overlap"].all()
    names = set(top2["tf_name"].str.upper())
    assert "CTCF" in names and names & {"SPI1", "SPIB", "SPIC", "ELF1", "EHF", "ETV6"}
    assert 0.6 < result.mass_in_hits <= 1.0
    assert "CTCF (MA0139.2" in result.summary or "CTCF (MA19" in result.summary
    assert "seqlets (saliency, toy)" in result.summary
    assert "of the positive attribution lies in FIMO hits" in result.summary
    assert str(result) == result.summary


def test_unmatched_and_empty(core):
    att = two_site_attribution(core)
    seqlets = call_seqlets(att)
    matches = match_motifs(att, seqlets, core)
    none = agreement(att, seqlets, matches, scan_motifs(att, core, motifs=["MA0139.2"]), q_threshold=1e-300)
    assert none.n_matched == 0 and "none matches a known motif" in none.summary
    assert np.isnan(none.per_seqlet["q_value"]).sum() == 0 and not none.per_seqlet["hit_overlap"].any()
    empty = agreement(att, seqlets.iloc[:0], matches.iloc[:0], pd.DataFrame(columns=["matrix_id", "start", "end"]))
    assert empty.n_seqlets == 0 and empty.summary.startswith("No positive seqlets")
    with pytest.raises(ValueError, match="q_threshold"):
        agreement(att, seqlets, matches, matches, q_threshold=0)


def test_warmup_runs_tomtom_fimo_and_the_baseline_shuffle():
    import sys

    from explorer.warmup import warm

    times = warm(verbose=False)
    assert set(times) == {"TOMTOM", "FIMO", "shuffle"}
    assert "tangermeme.ersatz" in sys.modules
    assert all(t >= 0 for t in times.values())

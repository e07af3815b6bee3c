"""Score the yeast sample LM against the ARS1 selection data, choose its bookmarks, update its card.

1. **ARS1.** The LM's masked ISM map (``ex.attribute(lm, locus, method="ism")``, and with
   ``both_strands=True``) over chrIV:462,475-462,624 (the 150 bp of the ARS1 selection data,
   ``sample_data/variants/ars1_enrichment.tsv.gz``, made by ``scripts/make_ars1_effects.py``)
   inside the 2 kb demo window is compared with the measured per-variant log2 enrichment
   (``ex.compare_ism_measured``: Pearson, Spearman, n = 450 SNVs), like the MPRA comparison.
   The LM was trained on chrIV:1-1,380,933, which holds ARS1's wild-type sequence (not the
   measurements): the comparison asks whether what the LM learnt of yeast DNA predicts which
   substitutions hurt origin function.
2. **Bookmarks** chosen by the model: every 2 kb window of chrIV (step 1 kb) is scored by the
   LM's mean ``log p(reference base | base masked)`` over every 7th position (single masks,
   spaced beyond the receptive field); the most and the least predictable windows are
   written to the card (``bookmarks``) and printed for ``explorer/io/samples.py``.

Usage::

    python scripts/eval_yeast_lm.py [--model sample_data/models/yeast_lm.pt]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

import explorer as ex  # noqa: E402

ARS1 = "chrIV:462,475-462,624"


def ars1_comparisons(model) -> dict:
    locus = ex.load_yeast_locus()
    measured = ex.load_measured_effects(ex.ARS1_EFFECTS, locus=locus)
    region = ex.parse_region(ARS1)
    a, b = region.start - locus.start, region.end - locus.start
    out = {}
    for label, both in (("forward", False), ("both_strands", True)):
        ism = ex.attribute(model, locus, method="ism", start=a, end=b, both_strands=both, cache=False)
        cmp = ex.compare_ism_measured(ism, measured)
        out[label] = {"pearson": round(cmp.pearson, 4), "pearson_p": float(f"{cmp.pearson_p:.3g}"),
                      "spearman": round(cmp.spearman, 4), "spearman_p": float(f"{cmp.spearman_p:.3g}"),
                      "n": cmp.n}
        print(f"ARS1 {label}: {cmp}")
    # per-position: the mean LLR of the three substitutions vs the mean measured effect
    mat = ism.values.double().sum(0) / 3
    meas = measured.groupby("locus_pos")["effect"].mean().reindex(range(region.start + 1, region.end + 1)).to_numpy()
    from scipy import stats

    r = stats.pearsonr(mat.numpy(), meas)
    out["per_position_mean"] = {"pearson": round(float(r.statistic), 4), "pearson_p": float(f"{r.pvalue:.3g}"),
                                "n": int(len(meas))}
    print("ARS1 per-position mean (both strands):", out["per_position_mean"])
    return out


@torch.inference_mode()
def bookmarks(model, window: int = 2000, step: int = 1000, every: int = 7) -> dict:
    whole = ex.load_locus(ex.YEAST_LOCUS)
    x = whole.one_hot
    h = int(model.card["receptive_field"]) // 2
    spacing = h + 1
    length = x.shape[1]
    lp_ref = torch.full((length,), float("nan"))
    ref = x.argmax(0)
    known = x.sum(0) == 1
    for r in range(0, spacing, every):
        masked = x.clone()
        masked[:, r::spacing] = 0
        logits = model(masked[None])[0]
        lp = torch.log_softmax(logits.double(), 0)
        idx = torch.arange(r, length, spacing)
        lp_ref[idx] = lp[ref[idx], idx].float()
    lp_ref[~known] = float("nan")
    starts = np.arange(0, length - window + 1, step)
    vals = np.array([np.nanmean(lp_ref[s:s + window].numpy()) for s in starts])
    best, worst = int(starts[np.nanargmax(vals)]), int(starts[np.nanargmin(vals)])
    marks = {
        "most predictable 2 kb (LM)": {"region": str(ex.Region("chrIV", best, best + window)),
                                       "mean_log_p_ref": round(float(np.nanmax(vals)), 4)},
        "least predictable 2 kb (LM)": {"region": str(ex.Region("chrIV", worst, worst + window)),
                                        "mean_log_p_ref": round(float(np.nanmin(vals)), 4)},
        "chromosome mean_log_p_ref": round(float(np.nanmean(lp_ref.numpy())), 4),
    }
    print(json.dumps(marks, indent=1))
    return marks


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=ex.YEAST_LM)
    args = ap.parse_args(argv)
    payload = torch.load(args.model, map_location="cpu", weights_only=True)
    model = ex.load_model(args.model, device="cpu")
    card = dict(payload["card"])
    card.setdefault("metrics", {})["ars1"] = {
        "data": "sample_data/variants/ars1_enrichment.tsv.gz (logomaker wheel ARS1 selection data; "
                "scripts/make_ars1_effects.py), measured log2 enrichment vs masked LLR, SNVs",
        **ars1_comparisons(model)}
    card["bookmarks"] = bookmarks(model)
    card["evaluation_command"] = f"python scripts/eval_yeast_lm.py --model {args.model.relative_to(ROOT)}"
    payload["card"] = card
    torch.save(payload, args.model)
    side = args.model.with_name(args.model.stem + ".card.json")
    side.write_text(json.dumps(card, indent=2, sort_keys=True) + "\n")
    print(f"updated the card in {args.model} and {side}")


if __name__ == "__main__":
    main()

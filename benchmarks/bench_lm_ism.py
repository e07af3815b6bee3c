"""Benchmark: masked-LM ISM at 1 kb, ours against one masked pass per position done naively.

Model: the yeast sample LM (``sample_data/models/yeast_lm.pt``; a seeded
:class:`~explorer.nets.conv_lm.ConvMaskedLM` of the same shape when it is absent), on
1,000 bp of yeast chrIV around ARS1. One process, the same input, interleaved rounds,
medians; ratios are taken within this process (the machines are shared and noisy).

Methods:

* ``naive``: for each position, a copy of the whole 1 kb with that base masked, one model
  call per copy (what a notebook would write), then the log-softmax at the position;
* ``ours full``: ``explorer.attribute(..., method="ism", fast=False)``: the same full-length
  masked copies, batched;
* ``ours local``: ``explorer.attribute(..., method="ism")`` (``fast="auto"``): each copy is
  the receptive-field crop around its position, batched, checked against full passes at 3
  positions.

Every method's map is compared with the naive one (max abs diff). Not part of the tests.

Usage::

    python benchmarks/bench_lm_ism.py [--repeats 3] [--length 1000] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import torch  # noqa: E402

import explorer as ex  # noqa: E402
from bench_ism import write_results  # noqa: E402
from explorer.io.models import build_model  # noqa: E402
from explorer.nets.conv_lm import ConvMaskedLM  # noqa: E402


def naive(model, x: torch.Tensor) -> torch.Tensor:
    """One masked full-length copy per position, one call each."""
    out = torch.zeros(4, x.shape[1])
    ref = x.argmax(0)
    with torch.inference_mode():
        for i in range(x.shape[1]):
            m = x.clone()
            m[:, i] = 0
            lp = torch.log_softmax(model(m[None])[0, :, i].double(), 0)
            out[:, i] = (lp - lp[ref[i]]).float()
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--length", type=int, default=1000)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    args = ap.parse_args(argv)
    if ex.YEAST_LM.is_file():
        model, which = ex.load_yeast_lm(device="cpu"), "yeast_lm.pt"
    else:
        torch.manual_seed(0)
        net = ConvMaskedLM(channels=32).eval()
        model, which = build_model(net, {"kind": "masked_lm", "receptive_field": net.receptive_field}), "seeded"
    half = args.length // 2
    locus = ex.load_yeast_locus(f"chrIV:{462_550 - half + 1}-{462_550 - half + args.length}")
    x = locus.one_hot
    methods = {
        "naive (one masked pass per position)": lambda: naive(model, x),
        "ours full (batched full-length copies)": lambda: ex.attribute(model, x, method="ism", fast=False,
                                                                       cache=False).values,
        "ours local (receptive-field crops)": lambda: ex.attribute(model, x, method="ism", cache=False).values,
    }
    times = {k: [] for k in methods}
    maps = {}
    for _ in range(args.repeats):
        for name, fn in methods.items():
            tic = time.perf_counter()
            maps[name] = fn()
            times[name].append(time.perf_counter() - tic)
    reference = maps[next(iter(methods))]
    base = statistics.median(next(iter(times.values())))
    rows = []
    lines = [f"Masked-LM ISM at {args.length:,} bp ({which}, receptive field "
             f"{model.card.get('receptive_field')} bp), median of {args.repeats} interleaved runs",
             "", "| method | seconds | speed-up vs naive | max abs diff vs naive |", "|---|---|---|---|"]
    for name in methods:
        sec = statistics.median(times[name])
        diff = float((maps[name] - reference).abs().max())
        rows.append({"method": name, "seconds": sec, "speedup": base / sec, "max_abs_diff": diff})
        lines.append(f"| {name} | {sec:.3f} | {base / sec:.1f}x | {diff:.2e} |")
    write_results(args.out, "lm_ism", "\n".join(lines), rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

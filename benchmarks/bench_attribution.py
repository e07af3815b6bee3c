"""Benchmark of the attribution engine (issue 3): our plain ISM and IG against the peers.

One process, the same model and 1 kb sequence for every method, medians of a few runs,
runs interleaved (the machines are shared and noisy: read the ratios, not the seconds).
Not part of the tests.

* ISM: :func:`explorer.attribution.ism.ism` (plain, exact, batched; the engine's fallback
  path) against ``tangermeme.saturation_mutagenesis.saturation_mutagenesis`` with
  ``fast=False`` and ``fast=True`` (``raw_outputs=True`` so the numbers can be compared;
  tangermeme's defaults otherwise, batch_size 32). tangermeme's ``fast=True`` only
  captures the model when it predicts the job takes > 30 s with ``fast=False``; on this
  model it usually does not, so it is also run with that threshold set to 0 ("forced").
  Agreement: max |ours - tangermeme| over the whole map must be <= 1e-5.
  ``explorer.attribute(method="ism")`` (default ``fast="auto"``) is shown for
  information: the receptive-field-local fast path of issue 8 when the model declares
  its structure.
* IG: :func:`explorer.attribution.gradients.integrated_gradients` with the same settings
  as captum used the way its docs show (``IntegratedGradients(model).attribute(x,
  baselines=zeros, target=0, n_steps=64, return_convergence_delta=True)``), and with our
  defaults (5 dinucleotide-shuffled baselines, Gauss-Legendre, 64 steps refined where the
  completeness error exceeds 1 %).

Model: the trained sample model ``sample_data/models/sample_cnn.pt`` when present, else a
seeded SampleCNN of the same shape (same timing).

Usage::

    python benchmarks/bench_attribution.py              # 1 kb, 3 runs (about 3-5 min on 2 busy cores)
    python benchmarks/bench_attribution.py --runs 5 --length 2000
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

import explorer as ex  # noqa: E402
from explorer.attribution.gradients import integrated_gradients  # noqa: E402
from explorer.attribution.ism import ism  # noqa: E402
from explorer.attribution.targets import resolve_target  # noqa: E402
from explorer.io.models import ExplorerModel, load_model  # noqa: E402
from explorer.nets import SampleCNN  # noqa: E402


def load_sample() -> tuple[ExplorerModel, str]:
    path = ROOT / "sample_data" / "models" / "sample_cnn.pt"
    if path.is_file():
        return load_model(path, device="cpu"), "trained sample model (sample_cnn.pt)"
    torch.manual_seed(0)
    net = SampleCNN(n_tasks=2).eval()
    return ExplorerModel(net, {"tasks": ["CTCF", "SPI1"], "min_length": 100}), "seeded SampleCNN (untrained)"


def sequence(length: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    codes = torch.randint(0, 4, (length,), generator=g)
    return torch.nn.functional.one_hot(codes, 4).T.to(torch.float32).contiguous()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--length", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--skip-ig", action="store_true", help="ISM rows only")
    parser.add_argument("--ig-defaults", action="store_true",
                        help="also time IG with our defaults (5 shuffled baselines, refined steps)")
    args = parser.parse_args(argv)

    import tangermeme
    import tangermeme.saturation_mutagenesis as tsm
    from captum.attr import IntegratedGradients

    model, model_name = load_sample()
    model.eval()
    x = sequence(args.length)
    target = resolve_target(model, 0, length=args.length)
    task = target.task_index

    def tangermeme_ism(fast: bool, forced: bool = False):
        old = tsm._FAST_MIN_SECONDS
        if forced:
            tsm._FAST_MIN_SECONDS = 0.0
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                y0, y_hat = tsm.saturation_mutagenesis(model, x[None], fast=fast, raw_outputs=True,
                                                       device="cpu")
        finally:
            tsm._FAST_MIN_SECONDS = old
        return (y_hat[0, :, :, task] - y0[0, task]).float()

    zeros = torch.zeros(1, *x.shape)

    def captum_ig():
        ig = IntegratedGradients(model)
        attr, delta = ig.attribute(x[None], baselines=zeros, target=task, n_steps=64,
                                   return_convergence_delta=True)
        return attr[0]

    cases = {
        "ISM  ours plain (explorer ism)": lambda: ism(model, x, target).values,
        "ISM  tangermeme fast=False": lambda: tangermeme_ism(False),
        "ISM  tangermeme fast=True": lambda: tangermeme_ism(True),
        "ISM  tangermeme fast=True, forced capture": lambda: tangermeme_ism(True, forced=True),
        "ISM  explorer.attribute (fast='auto')": lambda: ex.attribute(model, x, "ism", 0, cache=False),
    }
    if not args.skip_ig:
        cases.update({
            "IG   captum as documented (zeros, 64 steps)": captum_ig,
            "IG   ours, same settings": lambda: integrated_gradients(
                model, x, target, baseline="zeros", n_steps=64, tolerance=float("inf"))[0],
        })
        if args.ig_defaults:
            cases["IG   ours defaults (5 shuffles, refined)"] = lambda: integrated_gradients(model, x, target)[0]
    times: dict[str, list[float]] = {name: [] for name in cases}
    outputs = {}
    for run in range(args.runs):
        for name, fn in cases.items():
            tic = time.perf_counter()
            outputs[name] = fn()
            times[name].append(time.perf_counter() - tic)
        print(f"run {run + 1}/{args.runs} done", file=sys.stderr, flush=True)

    ours = outputs["ISM  ours plain (explorer ism)"]
    attr_default = outputs["ISM  explorer.attribute (fast='auto')"]
    agree = {
        "ISM  tangermeme fast=False": float((ours - outputs["ISM  tangermeme fast=False"]).abs().max()),
        "ISM  tangermeme fast=True": float((ours - outputs["ISM  tangermeme fast=True"]).abs().max()),
        "ISM  tangermeme fast=True, forced capture":
            float((ours - outputs["ISM  tangermeme fast=True, forced capture"]).abs().max()),
        "ISM  explorer.attribute (fast='auto')": float((ours - attr_default.values).abs().max()),
    }
    if not args.skip_ig:
        ref_ig = outputs["IG   captum as documented (zeros, 64 steps)"]
        # ours projects onto the observed base: compare per-position sums
        agree["IG   ours, same settings"] = float(
            (ref_ig.sum(0) - outputs["IG   ours, same settings"].sum(0)).abs().max())
    med = {name: statistics.median(ts) for name, ts in times.items()}
    better_tm = min(med["ISM  tangermeme fast=False"], med["ISM  tangermeme fast=True"],
                    med["ISM  tangermeme fast=True, forced capture"])

    print()
    print(f"model: {model_name}; sequence {args.length} bp; target {target.name}; "
          f"{args.runs} runs (median); torch {torch.__version__}, tangermeme {tangermeme.__version__}; "
          f"{os.cpu_count()} CPUs ({platform.processor() or platform.machine()}), threads {torch.get_num_threads()}")
    print(f"ISM path of explorer.attribute: {attr_default.diagnostics.get('ism_path')}")
    print()
    print(f"| {'method':45s} | median s | ratio | max abs diff vs ours |")
    print(f"|{'-' * 47}|---------:|------:|---------------------:|")
    for name in cases:
        if name.startswith("ISM"):
            ratio = med[name] / med["ISM  ours plain (explorer ism)"]
        else:
            ratio = med[name] / med["IG   captum as documented (zeros, 64 steps)"]
        diff = agree.get(name)
        print(f"| {name:45s} | {med[name]:8.2f} | {ratio:5.2f} | "
              f"{'' if diff is None else f'{diff:.2e}':>20s} |")
    print()
    print("ratio: ISM rows / ours plain; IG rows / captum as documented.")
    tm_agree = max(agree[k] for k in agree if "tangermeme" in k)
    print(f"ours plain vs tangermeme's better mode: {better_tm / med['ISM  ours plain (explorer ism)']:.2f}x "
          f"faster; agreement {tm_agree:.2e} ({'OK' if tm_agree <= 1e-5 else 'ABOVE 1e-5'})")


if __name__ == "__main__":
    main()

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
  baselines=zeros, target=0, n_steps=64, return_convergence_delta=True)``; ours with
  ``method="gausslegendre", n_steps=64, max_steps=64``). With ``--ig-defaults``, our
  defaults (5 dinucleotide-shuffled baselines, completeness error <= 1 % per baseline)
  before and after issue 14: "before" is the old code path, kept here
  (:func:`ig_defaults_before`: captum per baseline, Gauss-Legendre from 64 steps,
  doubled up to 256 while the error exceeds 1 %); "now" is the batched engine with the
  nested adaptive trapezoid. ``--ig-reference`` adds captum at 512 Gauss-Legendre steps
  on the same baselines (timed once) and compares both with it.

Model: the trained sample model ``sample_data/models/sample_cnn.pt`` when present, else a
seeded SampleCNN of the same shape (same timing).

Usage::

    python benchmarks/bench_attribution.py              # 1 kb, 3 runs (about 3-5 min on 2 busy cores)
    python benchmarks/bench_attribution.py --runs 5 --length 2000
    python benchmarks/bench_attribution.py --ig-only --ig-defaults --ig-reference --sequence locus --runs 5
        # issue 14: IG at the app's default 2 kb window of the sample locus
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
from explorer.attribution.device import default_batch_size  # noqa: E402
from explorer.attribution.gradients import integrated_gradients, make_baselines  # noqa: E402
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


def ig_defaults_before(model, one_hot: torch.Tensor, target, n_shuffles: int = 5, n_steps: int = 64,
                       tolerance: float = 0.01, max_steps: int = 256, random_state: int = 0):
    """The IG code path before issue 14: captum per baseline, steps doubled while needed.

    Parameters
    ----------
    model : nn.Module
    one_hot : torch.Tensor, shape ``(4, L)``
    target : Target

    Returns
    -------
    (per_position, diagnostics)
        ``per_position``: ``(L,)`` float64, the per-position sums of the map averaged
        over the baselines; ``diagnostics``: ``completeness_error``,
        ``completeness_error_max``, ``convergence_delta_abs_mean`` (mean
        ``|sum attr - (f(x) - f(b))|``), ``n_steps_per_baseline``, ``errors`` (per baseline).
    """
    from captum.attr import IntegratedGradients

    x = one_hot.to(torch.float32)
    baselines = make_baselines(one_hot, "shuffle", n_shuffles, random_state)
    forward = lambda z: target(model(z))  # noqa: E731
    ibs = default_batch_size(torch.device("cpu"), x.shape[1], per_item=4)
    ig = IntegratedGradients(forward)
    with torch.no_grad():
        fx = float(forward(x[None])[0])
        fb = forward(baselines).double()
    attrs, errors, deltas, used = [], [], [], []
    for i in range(len(baselines)):
        steps, gap = n_steps, abs(fx - float(fb[i]))
        while True:
            a, d = ig.attribute(x[None], baselines[i:i + 1], n_steps=steps, method="gausslegendre",
                                internal_batch_size=ibs, return_convergence_delta=True)
            error = float(d.abs().sum()) / max(gap, 1e-12)
            if error <= tolerance or steps * 2 > max_steps:
                break
            steps *= 2
        attrs.append(a[0].detach().double().sum(0))
        errors.append(error)
        deltas.append(float(d.abs().sum()))
        used.append(steps)
    return torch.stack(attrs).mean(0), {"completeness_error": sum(errors) / len(errors),
                                        "completeness_error_max": max(errors),
                                        "convergence_delta_abs_mean": sum(deltas) / len(deltas),
                                        "n_steps_per_baseline": used, "errors": errors}


def ig_reference(model, one_hot: torch.Tensor, target, n_steps: int = 512, n_shuffles: int = 5,
                 random_state: int = 0) -> tuple[torch.Tensor, list[float], list[float]]:
    """captum at ``n_steps`` Gauss-Legendre steps on our default baselines.

    Returns the per-position sums averaged over the baselines, ``(L,)`` float64, and the
    relative and the absolute completeness error of each baseline.
    """
    from captum.attr import IntegratedGradients

    x = one_hot.to(torch.float32)
    baselines = make_baselines(one_hot, "shuffle", n_shuffles, random_state)
    forward = lambda z: target(model(z))  # noqa: E731
    ig = IntegratedGradients(forward)
    with torch.no_grad():
        gaps = (forward(x[None])[0] - forward(baselines)).double().abs()
    attrs, deltas = [], []
    for i in range(len(baselines)):
        a, d = ig.attribute(x[None], baselines[i:i + 1], n_steps=n_steps, method="gausslegendre",
                            internal_batch_size=32, return_convergence_delta=True)
        attrs.append(a[0].detach().double().sum(0))
        deltas.append(float(d.abs().sum()))
    errors = [delta / max(float(gap), 1e-12) for delta, gap in zip(deltas, gaps)]
    return torch.stack(attrs).mean(0), errors, deltas


def ism_cases(model, x: torch.Tensor, target) -> dict:
    """ISM rows: name -> callable returning the map ``(4, L)`` (or an Attribution)."""
    import tangermeme.saturation_mutagenesis as tsm

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

    return {
        "ISM  ours plain (explorer ism)": lambda: ism(model, x, target).values,
        "ISM  tangermeme fast=False": lambda: tangermeme_ism(False),
        "ISM  tangermeme fast=True": lambda: tangermeme_ism(True),
        "ISM  tangermeme fast=True, forced capture": lambda: tangermeme_ism(True, forced=True),
        "ISM  explorer.attribute (fast='auto')": lambda: ex.attribute(model, x, "ism", 0, cache=False),
    }


CAPTUM = "IG   captum as documented (zeros, 64 steps)"
SAME = "IG   ours, same settings"
BEFORE = "IG   defaults before (captum per baseline)"
NOW = "IG   defaults now (batched, adaptive)"


def ig_cases(model, x: torch.Tensor, target, defaults: bool) -> dict:
    """IG rows: name -> callable returning ``(per-position sums (L,), diagnostics or None)``."""
    from captum.attr import IntegratedGradients

    zeros = torch.zeros(1, *x.shape)

    def captum_ig():
        attr, _ = IntegratedGradients(model).attribute(x[None], baselines=zeros, target=target.task_index,
                                                        n_steps=64, return_convergence_delta=True)
        return attr[0].double().sum(0), None

    def ours(**options):
        values, diagnostics = integrated_gradients(model, x, target, **options)
        return values.double().sum(0), diagnostics

    cases = {CAPTUM: captum_ig,
             SAME: lambda: ours(baseline="zeros", method="gausslegendre", n_steps=64, max_steps=64,
                                tolerance=float("inf"))}
    if defaults:
        cases[BEFORE] = lambda: ig_defaults_before(model, x, target)
        cases[NOW] = lambda: ours()
    return cases


def timed(cases: dict, runs: int) -> tuple[dict, dict]:
    """Run every case ``runs`` times, interleaved; (times per case, last output per case)."""
    times: dict[str, list[float]] = {name: [] for name in cases}
    outputs = {}
    for run in range(runs):
        for name, fn in cases.items():
            tic = time.perf_counter()
            outputs[name] = fn()
            times[name].append(time.perf_counter() - tic)
        print(f"run {run + 1}/{runs} done", file=sys.stderr, flush=True)
    return times, outputs


def print_table(med: dict, ratio_to: dict, diffs: dict, diff_label: str) -> None:
    print(f"| {'method':45s} | median s | ratio | {diff_label:>20s} |")
    print(f"|{'-' * 47}|---------:|------:|---------------------:|")
    for name in med:
        diff = diffs.get(name)
        print(f"| {name:45s} | {med[name]:8.2f} | {med[name] / med[ratio_to[name]]:5.2f} | "
              f"{'' if diff is None else f'{diff:.2e}':>20s} |")


def report_ism(med: dict, outputs: dict) -> None:
    ours = outputs["ISM  ours plain (explorer ism)"]
    attr_default = outputs["ISM  explorer.attribute (fast='auto')"]
    diffs = {name: float((ours - out).abs().max()) for name, out in outputs.items() if "tangermeme" in name}
    diffs["ISM  explorer.attribute (fast='auto')"] = float((ours - attr_default.values).abs().max())
    print(f"ISM path of explorer.attribute: {attr_default.diagnostics.get('ism_path')}")
    print_table(med, {name: "ISM  ours plain (explorer ism)" for name in med}, diffs, "max abs diff vs ours")
    better_tm = min(med[name] for name in med if "tangermeme" in name)
    tm_agree = max(diffs[name] for name in diffs if "tangermeme" in name)
    print(f"ratio: / ours plain. ours plain vs tangermeme's better mode: "
          f"{better_tm / med['ISM  ours plain (explorer ism)']:.2f}x faster; agreement {tm_agree:.2e} "
          f"({'OK' if tm_agree <= 1e-5 else 'ABOVE 1e-5'})")


def report_ig(med: dict, outputs: dict, reference=None) -> None:
    """IG table: ratios to captum as documented; per-position diffs (same settings vs
    captum, defaults now vs before); completeness errors; agreement with the reference."""
    diffs = {SAME: float((outputs[SAME][0] - outputs[CAPTUM][0]).abs().max())}
    if NOW in outputs:
        diffs[NOW] = float((outputs[NOW][0] - outputs[BEFORE][0]).abs().max())
    print_table(med, {name: CAPTUM for name in med}, diffs, "max abs diff (1)")
    print("ratio: / captum as documented. (1) per-position sums: same settings vs captum; "
          "defaults now vs defaults before.")
    if NOW not in outputs:
        return
    before, now = outputs[BEFORE][1], outputs[NOW][1]
    print(f"defaults now vs before: {med[BEFORE] / med[NOW]:.1f}x faster")
    for name, d in ((BEFORE, before), (NOW, now)):
        per = d.get("errors")
        print(f"  {name.strip()}: completeness error mean {d['completeness_error']:.2%}, "
              f"max {d['completeness_error_max']:.2%}; points per baseline {d['n_steps_per_baseline']}"
              + (f"; errors {[f'{e:.2%}' for e in per]}" if per else "")
              + (f"; gradient passes {d['n_evaluations']} in {d['rounds']} rounds" if "rounds" in d else ""))
    if reference is not None:
        ref, errors, deltas, seconds = reference
        scale = float(ref.abs().max())
        print(f"reference: captum 512 Gauss-Legendre steps per baseline ({seconds:.1f} s), completeness "
              f"errors {[f'{e:.2%}' for e in errors]}; max |per-position| {scale:.3g}")
        for name in (BEFORE, NOW):
            diff = float((outputs[name][0] - ref).abs().max())
            # a position's error is at most its path's whole error when errors do not cancel
            # across positions: the bound tests/test_attribution_gradients.py uses
            bound = outputs[name][1]["convergence_delta_abs_mean"] + sum(deltas) / len(deltas)
            print(f"  {name.strip()} vs reference: max abs diff {diff:.2e} ({diff / scale:.2%} of the "
                  f"largest); mean |completeness delta| of both {bound:.2e}: "
                  f"{'within' if diff <= bound else 'ABOVE'}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--length", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sequence", choices=["random", "locus"], default="random",
                        help="a seeded random sequence of --length bp, or the sample locus's default "
                             "2 kb window (the app's first view; --length ignored)")
    parser.add_argument("--skip-ig", action="store_true", help="ISM rows only")
    parser.add_argument("--ig-only", action="store_true", help="IG rows only")
    parser.add_argument("--ig-defaults", action="store_true",
                        help="also time IG with our defaults (5 shuffled baselines, tolerance 1 %%), "
                             "before and after issue 14")
    parser.add_argument("--ig-reference", action="store_true",
                        help="with --ig-defaults: compare with captum at 512 steps on the same baselines")
    args = parser.parse_args(argv)

    import tangermeme

    model, model_name = load_sample()
    model.eval()
    x = ex.load_sample_locus().one_hot.to(torch.float32) if args.sequence == "locus" else sequence(args.length)
    length = int(x.shape[1])
    target = resolve_target(model, 0, length=length)
    print(f"model: {model_name}; sequence {args.sequence} {length} bp; target {target.name}; "
          f"{args.runs} runs (median); torch {torch.__version__}, tangermeme {tangermeme.__version__}; "
          f"{os.cpu_count()} CPUs ({platform.processor() or platform.machine()}), threads "
          f"{torch.get_num_threads()}; load average at start {os.getloadavg()}")

    if not args.ig_only:
        times, outputs = timed(ism_cases(model, x, target), args.runs)
        print()
        report_ism({name: statistics.median(ts) for name, ts in times.items()}, outputs)
    if not args.skip_ig:
        times, outputs = timed(ig_cases(model, x, target, args.ig_defaults), args.runs)
        reference = None
        if args.ig_defaults and args.ig_reference:
            tic = time.perf_counter()
            reference = (*ig_reference(model, x, target), time.perf_counter() - tic)
        print()
        report_ig({name: statistics.median(ts) for name, ts in times.items()}, outputs, reference)
    print(f"load average at the end {os.getloadavg()}")


if __name__ == "__main__":
    main()

"""Benchmark: exact ISM, ours (fast and plain) against tangermeme, plus IG and DeepLIFT/SHAP.

One process, the same inputs for every method, medians of several runs; ratios are taken
within this process (the machines are shared and noisy). Not part of the tests.

Cases
-----
* the sample model (SampleCNN, 64 filters, receptive field 67 bp, max-pooled head; the
  trained ``sample_data/models/sample_cnn.pt`` when present, else a seeded SampleCNN of
  the same shape: the same timing), target task 0, at 1 kb and 2 kb;
* a BPNet-size model (64 filters, first conv k=21, 8 dilated residual layers, profile and
  counts heads, seeded random weights), target the counts head's task 0, at 1 kb and
  2.1 kb;
* a 200-bp window of the sample model inside a 2 kb locus (what the app asks for).

Methods: ``ours fast`` (:func:`explorer.attribution.fast_ism.fast_ism`, including its
verification of 8 positions against the full model), ``ours plain``
(:func:`explorer.attribution.ism.ism`), tangermeme's ``saturation_mutagenesis`` with
``fast=True`` and ``fast=False`` (``raw_outputs=True``, so the same numbers can be
compared), and ``explorer.attribute`` with ``"ig"`` and ``"deeplift_shap"`` (cache off).

Usage::

    python benchmarks/bench_ism.py                     # the full table (tens of minutes on 2 cores)
    python benchmarks/bench_ism.py --quick             # 1 kb cases only, fewer runs
    python benchmarks/bench_ism.py --repeats 5 --peer-repeats 1 --out benchmarks/results
"""

from __future__ import annotations

import argparse
import json
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

from explorer.attribution.fast_ism import fast_ism  # noqa: E402
from explorer.attribution.ism import ism  # noqa: E402
from explorer.attribution.targets import resolve_target  # noqa: E402
from explorer.io.models import ExplorerModel, load_model  # noqa: E402
from explorer.nets import SampleCNN  # noqa: E402
from explorer.nets.random_weights import random_bpnet  # noqa: E402


def sample_model() -> tuple[ExplorerModel, str]:
    """The trained sample model if it exists, else a seeded SampleCNN of the same shape."""
    path = ROOT / "sample_data" / "models" / "sample_cnn.pt"
    if path.is_file():
        model = load_model(path, device="cpu")
        if "structure" not in model.card:
            model.card["structure"] = {"trunk": "trunk", "pool": "max", "final": "linear",
                                       "receptive_field": 67}
        return model, f"trained ({path.name})"
    state = torch.random.get_rng_state()
    torch.manual_seed(0)
    net = SampleCNN(n_tasks=2).eval()
    torch.random.set_rng_state(state)
    card = {"tasks": ["task0", "task1"], "min_length": 100,
            "structure": {"trunk": "trunk", "pool": "max", "final": "linear", "receptive_field": 67}}
    return ExplorerModel(net, card, kind="module"), "seeded SampleCNN (sample_cnn.pt not found)"


def sequence(length: int) -> torch.Tensor:
    """``(4, length)`` one-hot: the sample locus (HUMHBB) when readable, else seeded random."""
    try:
        from explorer.io.samples import load_sample_locus

        x = load_sample_locus().one_hot
        if x.shape[1] >= length:
            return x[:, :length].float().contiguous()
    except Exception:  # noqa: BLE001 - the benchmark still runs without the sample data
        pass
    gen = torch.Generator().manual_seed(length)
    return torch.nn.functional.one_hot(torch.randint(0, 4, (length,), generator=gen), 4).T.float()


def timed(fn, repeats: int) -> tuple[float, list[float], object]:
    times, out = [], None
    for _ in range(max(1, repeats)):
        tic = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - tic)
    return statistics.median(times), times, out


def tangermeme_values(model, x, output, task, fast) -> torch.Tensor:
    """tangermeme ISM as ``f(mutant) - f(reference)``, ``(4, L)``."""
    from tangermeme.saturation_mutagenesis import saturation_mutagenesis

    func = (lambda y: y[output]) if output is not None else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        y0, y_hat = saturation_mutagenesis(model, x[None], raw_outputs=True, fast=fast, func=func,
                                           device="cpu", batch_size=32)
    return (y_hat[0, :, :, task] - y0[0, task]).float()


def run_case(name, model, x, target, output, task, args, rows, peers=True):
    """One model and sequence: every method, interleaved with runs of ours fast.

    The machine is shared, so its load drifts over minutes: ours fast is run once before
    each slow method and once at the end, and its median over all those runs is compared
    with the slow methods' medians (ratios of times taken at about the same load).
    """
    length = x.shape[1]
    print(f"\n== {name}, {length} bp ==", flush=True)
    row = {"case": name, "length": length}
    fast_ism(model, x, target, 0, min(length, 50))  # warm-up (allocator, threads)
    fast_runs: list[float] = []
    result: dict = {}

    def ours_fast():
        t, ts, out = timed(lambda: fast_ism(model, x, target), 1)
        fast_runs.extend(ts)
        result["fast"] = out

    def slow(label, fn):
        for _ in range(max(1, args.peer_repeats)):
            ours_fast()
            t, ts, out = timed(fn, 1)
            row.setdefault(label + "_runs", []).extend(ts)
        row[label] = statistics.median(row[label + "_runs"])
        return out

    res = slow("plain", lambda: ism(model, x, target))
    v_fast, _, diag = result["fast"]
    row.update(path=diag.get("fast_ism_path"), fast_check=diag.get("fast_ism_max_abs_diff"),
               fast_vs_plain=float((v_fast - res.values).abs().max()))
    print(f"ours plain     {row['plain']:8.2f} s  max|fast-plain| {row['fast_vs_plain']:.2e}", flush=True)
    if peers:
        for label, fast in (("tm_fast", True), ("tm_plain", False)):
            v = slow(label, lambda: tangermeme_values(model, x, output, task, fast))
            row[label + "_diff"] = float((v - v_fast).abs().max())
            print(f"{label:14s} {row[label]:8.2f} s  runs {[round(u, 2) for u in row[label + '_runs']]}  "
                  f"max|ours-tm| {row[label + '_diff']:.2e}", flush=True)
    while len(fast_runs) < args.repeats:
        ours_fast()
    ours_fast()
    row["fast"], row["fast_runs"] = statistics.median(fast_runs), fast_runs
    print(f"ours fast      {row['fast']:8.2f} s  runs {[round(u, 2) for u in fast_runs]}  path {row['path']}",
          flush=True)
    if peers:
        best = min(row["tm_fast"], row["tm_plain"])
        row["speedup_vs_tm_best"] = best / row["fast"]
        print(f"speed-up vs tangermeme's better mode: {row['speedup_vs_tm_best']:.1f}x", flush=True)
    if args.gradients:
        import explorer

        for method, key in (("ig", "ig"), ("deeplift_shap", "deeplift_shap")):
            try:
                t, ts, _ = timed(lambda: explorer.attribute(model, x, method=method, target=task, cache=False,
                                                            **({"output": output} if output is not None else {})),
                                 args.peer_repeats)
                row[key], row[key + "_runs"] = t, ts
                print(f"{method:14s} {t:8.2f} s", flush=True)
            except Exception as exc:  # noqa: BLE001 - report, keep benchmarking
                row[key] = None
                row[key + "_error"] = f"{type(exc).__name__}: {exc}"
                print(f"{method:14s} failed: {row[key + '_error'][:200]}", flush=True)
    rows.append(row)


def window_case(model, args, rows):
    """A 200-bp window inside 2 kb, with torch's default threads and with 1 thread.

    On a busy shared machine, small operations wait on the second thread; one thread is
    then faster. Both are reported.
    """
    x = sequence(2000)
    target = resolve_target(model, 0, length=2000)
    threads = torch.get_num_threads()
    for n_threads in sorted({threads, 1}, reverse=True):
        torch.set_num_threads(n_threads)
        try:
            fast_ism(model, x, target, 900, 950)
            t, ts, (v, _, diag) = timed(lambda: fast_ism(model, x, target, 900, 1100), max(5, args.repeats))
        finally:
            torch.set_num_threads(threads)
        rows.append({"case": f"sample model, 200-bp window in a 2 kb locus ({n_threads} thread"
                             f"{'s' if n_threads > 1 else ''})", "length": 2000, "fast": t,
                     "fast_runs": ts, "fast_check": diag.get("fast_ism_max_abs_diff")})
        print(f"\n== 200-bp window in 2 kb, {n_threads} thread(s): ours fast {t:.3f} s "
              f"(runs {[round(u, 3) for u in ts]})", flush=True)


def fmt(v, digits=2):
    return "-" if v is None else f"{v:.{digits}f}"


def table(rows) -> str:
    lines = ["| case | length | ours fast (s) | ours plain (s) | tangermeme fast=True (s) | "
             "tangermeme fast=False (s) | speed-up vs tangermeme's better | max abs diff fast vs plain | "
             "IG (s) | DeepLIFT/SHAP (s) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append("| {case} | {length} | {fast} | {plain} | {tmf} | {tmp} | {sp} | {diff} | {ig} | {dl} |".format(
            case=r["case"], length=r["length"], fast=fmt(r.get("fast"), 3 if r.get("fast", 9) < 1 else 2),
            plain=fmt(r.get("plain")), tmf=fmt(r.get("tm_fast")), tmp=fmt(r.get("tm_plain")),
            sp=(f"{r['speedup_vs_tm_best']:.1f}x" if r.get("speedup_vs_tm_best") else "-"),
            diff=(f"{r['fast_vs_plain']:.1e}" if r.get("fast_vs_plain") is not None else
                  (f"{r['fast_check']:.1e} (8 checked)" if r.get("fast_check") is not None else "-")),
            ig=fmt(r.get("ig")), dl=fmt(r.get("deeplift_shap"))))
    return "\n".join(lines)


def machine() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next((line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")), "?")
    except OSError:
        cpu = platform.processor() or "?"
    load = os.getloadavg() if hasattr(os, "getloadavg") else ("?",)
    return (f"{cpu}; {os.cpu_count()} logical CPUs; torch {torch.__version__} "
            f"({torch.get_num_threads()} threads); Python {platform.python_version()}; "
            f"CUDA: {'yes' if torch.cuda.is_available() else 'no'}; load average at the end "
            f"{', '.join(f'{v:.1f}' for v in load)}")


def write_results(folder: str, name: str, text: str, rows: list) -> None:
    """Print the table with the machine line; write ``<name>.md`` and ``<name>.json`` in ``folder``."""
    info = machine()
    print("\n" + text + "\n\n" + info)
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.md").write_text(text + "\n\nMachine: " + info + "\n")
    (out / f"{name}.json").write_text(json.dumps({"machine": info, "rows": rows}, indent=1))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="at least this many runs of ours fast (median)")
    parser.add_argument("--peer-repeats", type=int, default=3, help="runs of the slow methods (median)")
    parser.add_argument("--quick", action="store_true", help="1 kb cases only, 1 run of slow methods")
    parser.add_argument("--no-gradients", dest="gradients", action="store_false", help="skip IG and DeepLIFT/SHAP")
    parser.add_argument("--cases", default="sample,bpnet,window", help="comma list of sample, bpnet, window")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results"), help="folder for ism.md/ism.json")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads for every method (default: torch's choice)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.quick:
        args.repeats, args.peer_repeats = min(args.repeats, 3), 1
    cases = set(args.cases.split(","))
    rows: list[dict] = []
    model, provenance = sample_model()
    print(f"sample model: {provenance}", flush=True)
    if "sample" in cases:
        for length in ((1000,) if args.quick else (1000, 2000)):
            x = sequence(length)
            run_case(f"sample model ({provenance.split(' (')[0]})", model, x,
                     resolve_target(model, 0, length=length), None, 0, args, rows)
    if "window" in cases:
        window_case(model, args, rows)
    if "bpnet" in cases:
        bp = random_bpnet(seed=0)
        for length in ((1000,) if args.quick else (1000, 2100)):
            x = sequence(length)
            run_case("BPNet-size (counts head)", bp, x, resolve_target(bp, 0, output=1, length=length),
                     1, 0, args, rows)
    write_results(args.out, "ism", table(rows), rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Benchmark: plain (model-agnostic) exact ISM, ours against tangermeme's modes.

Plain ISM (:func:`explorer.attribution.ism.ism`) is what models the receptive-field-local
fast path cannot take run on: attention, recurrent layers. It is compared, in one
process, on the same inputs, in interleaved rounds (medians over rounds; the machine is
shared, so read the ratios), with tangermeme's ``saturation_mutagenesis``:

* ``tm fast=False``: its batched brute force (every mutant through the whole model, 32
  per batch); its outputs are the reference for the max abs differences;
* ``tm fast=True``: as shipped (it captures the model with ``torch.export`` only when
  its first batch predicts more than 30 s of ``fast=False``);
* ``tm fast=True forced``: the capture forced (``_FAST_MIN_SECONDS = 0``).

``ours fixed 64`` (with ``--baseline``) is ours with the batch size fixed at 64 mutants,
the CPU default before the batch size search (still with the attention path chosen by
timing). ``tm fast=False sdpa`` (attention model only) is ``tm fast=False`` with torch's
multi-head attention fast path off, which ours may choose (see
:func:`explorer.attribution.ism.attention_paths`): tangermeme given the same trick, which
it does not do by itself (so not counted as one of its modes).

The order of the methods rotates from round to round, and every method but the slow
``fast=True`` ones is warmed up once on the case's shapes before the first round.

Cases (seeded, random weights; :mod:`benchmarks.cardless_models`): the attention model
at 1 kb (100 positions mutated by default: tangermeme takes minutes for all 1,000 on 2
cores; at 2 kb, 4x longer per mutant), the bidirectional GRU at 1 kb, and the shipped sample CNN
(``sample_data/models/sample_cnn.pt``, through plain ISM although its card declares a
fast-path structure) at 2 kb. A case may mutate a window of positions only (the whole
sequence is still what the model sees), and tangermeme's ``fast=True`` modes may run on
a shorter window where they are very slow; then ratios are of seconds per mutant and
say so.

Usage::

    python benchmarks/bench_plain_ism.py                       # all cases, 3 rounds
    python benchmarks/bench_plain_ism.py --cases gru --rounds 5
    python benchmarks/bench_plain_ism.py --quick               # short windows, 1 round
    python benchmarks/bench_plain_ism.py --cases attention --attention-window 1000 --rounds 1
    python benchmarks/bench_plain_ism.py --cases attention --attention-length 2000 --attention-window 100
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from benchmarks.cardless_models import build  # noqa: E402
from explorer.attribution.ism import ism  # noqa: E402
from explorer.attribution.targets import resolve_target  # noqa: E402
from explorer.io.models import load_model  # noqa: E402

SAMPLE_MODEL = ROOT / "sample_data" / "models" / "sample_cnn.pt"
METHODS = ("ours plain", "ours fixed 64", "tm fast=False", "tm fast=False sdpa", "tm fast=True", "tm fast=True forced")


@dataclass
class Case:
    """One model and sequence, and the windows each method mutates.

    Attributes
    ----------
    name : str
    model : torch.nn.Module
        ``(N, 4, L)`` -> ``(N, T)``, eval mode, on the CPU.
    length : int
        Sequence length ``L``.
    window : (int, int)
        0-based, half-open positions mutated by ours and ``tm fast=False``.
    fast_window : (int, int)
        The same for tangermeme's ``fast=True`` modes (a prefix of ``window``).
    rounds : dict
        Rounds per method where fewer than the default (0: not run).
    """

    name: str
    model: torch.nn.Module
    length: int
    window: tuple[int, int]
    fast_window: tuple[int, int]
    rounds: dict = field(default_factory=dict)


def sequence(length: int, seed: int = 0) -> torch.Tensor:
    """A seeded random one-hot ``(4, length)``, float32."""
    gen = torch.Generator().manual_seed(seed)
    return torch.nn.functional.one_hot(torch.randint(0, 4, (length,), generator=gen), 4).T.float().contiguous()


def cases(names: list[str], quick: bool, attention_window: int = 100, attention_length: int = 1000) -> list[Case]:
    """The cases asked for (``attention``, ``gru``, ``cnn``), quick ones with short windows.

    ``attention_window``: positions the attention model's ISM mutates (of its
    ``attention_length``, the sequence it is given).
    """
    out = []
    for name in names:
        if name == "attention":
            window = (0, 20 if quick else attention_window)
            out.append(Case("attention (2 x TransformerEncoderLayer, d_model 64, 4 heads)", build("attention", 0),
                            attention_length, window, window, rounds={"tm fast=False sdpa": None}))
        elif name == "gru":
            window = (0, 100 if quick else 1000)
            # tangermeme's fast=True runs the captured GRU about 50x slower than fast=False: forced on
            # 5 positions only; as shipped it would capture too at 1 kb (> 30 s predicted), so not run
            out.append(Case("GRU (bidirectional, hidden 32)", build("gru", 0), 1000, window, (0, 5),
                            rounds={"tm fast=True": 0, "tm fast=True forced": 0 if quick else 1,
                                    "tm fast=False sdpa": 0}))
        elif name == "cnn":
            window = (0, 300 if quick else 2000)
            model = load_model(SAMPLE_MODEL, device="cpu").eval()
            out.append(Case("sample CNN (sample_cnn.pt), plain path", model, 2000, window, window,
                            rounds={"tm fast=False sdpa": 0}))
        else:
            raise ValueError(f"cases are attention, gru and cnn; got {name!r}")
    return out


def tangermeme_ism(model, x: torch.Tensor, window: tuple[int, int], fast: bool, forced: bool,
                   mha_fastpath: bool = True) -> torch.Tensor:
    """tangermeme's ISM of task 0 as ``f(mutant) - f(reference)``, ``(4, end - start)``."""
    import tangermeme.saturation_mutagenesis as tsm

    old, old_mha = tsm._FAST_MIN_SECONDS, torch.backends.mha.get_fastpath_enabled()
    tsm._FAST_MIN_SECONDS = 0.0 if forced else old
    torch.backends.mha.set_fastpath_enabled(mha_fastpath)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            y0, y_hat = tsm.saturation_mutagenesis(model, x[None], start=window[0], end=window[1], fast=fast,
                                                   raw_outputs=True, device="cpu")
    finally:
        tsm._FAST_MIN_SECONDS = old
        torch.backends.mha.set_fastpath_enabled(old_mha)
    return (y_hat[0, :, :, 0] - y0[0, 0]).float()


def method_calls(case: Case, x: torch.Tensor) -> tuple[dict[str, Callable[[], torch.Tensor]], dict]:
    """Each method as a call returning its ``(4, window width)`` map, and ours' last diagnostics."""
    target = resolve_target(case.model, 0, length=case.length)
    info: dict = {}

    def ours():
        res = ism(case.model, x, target, *case.window)
        info.update(res.diagnostics.extra, batch_size=res.diagnostics.batch_size)
        info.setdefault("mha_fastpath", None)
        return res.values

    calls = {"ours plain": ours,
             "ours fixed 64": lambda: ism(case.model, x, target, *case.window, batch_size=64).values,
             "tm fast=False": lambda: tangermeme_ism(case.model, x, case.window, False, False),
             "tm fast=False sdpa": lambda: tangermeme_ism(case.model, x, case.window, False, False, False),
             "tm fast=True": lambda: tangermeme_ism(case.model, x, case.fast_window, True, False),
             "tm fast=True forced": lambda: tangermeme_ism(case.model, x, case.fast_window, True, True)}
    return calls, info


def run_case(case: Case, rounds: int, baseline: bool) -> dict:
    """Interleaved rounds of every method on one case; medians, ratios and max abs diffs."""
    x = sequence(case.length)
    calls, info = method_calls(case, x)
    planned = {m: rounds if case.rounds.get(m, rounds) is None else case.rounds.get(m, rounds) for m in METHODS}
    methods = [m for m in METHODS if planned[m] > 0 and (baseline or m != "ours fixed 64")]
    times: dict[str, list[float]] = {m: [] for m in methods}
    values: dict[str, torch.Tensor] = {}
    loads = []
    print(f"\n== {case.name}, {case.length} bp, window {case.window}, fast window {case.fast_window} ==", flush=True)
    target = resolve_target(case.model, 0, length=case.length)
    ism(case.model, x, target, 0, min(case.length, 60))  # warm-up on the shapes the runs use
    for mha in (True, False):
        tangermeme_ism(case.model, x, (0, 11), False, False, mha)
    for r in range(rounds):
        for method in methods[r % len(methods):] + methods[:r % len(methods)]:
            if r >= planned[method]:
                continue
            tic = time.perf_counter()
            values[method] = calls[method]()
            times[method].append(time.perf_counter() - tic)
            loads.append(os.getloadavg()[0])
            searched = (f"  batch {info.get('batch_size')}, mha fastpath {info.get('mha_fastpath')}"
                        if method == "ours plain" else "")
            print(f"  round {r + 1} {method:20s} {times[method][-1]:8.2f} s  load {loads[-1]:.1f}{searched}", flush=True)
    return summarize(case, times, values, loads, info)


def summarize(case: Case, times, values, loads, info) -> dict:
    """Medians, seconds per mutant, ratios to ours, max abs diff against ``tm fast=False``."""
    methods = list(times)
    widths = {m: (case.fast_window if m.startswith("tm fast=True") else case.window) for m in methods}
    reference = values["tm fast=False"]
    row = {"case": case.name, "length": case.length, "window": case.window, "fast_window": case.fast_window,
           "load_min": min(loads), "load_max": max(loads), "ours_batch_size": info.get("batch_size"),
           "ours_batch_search": info.get("batch_search"), "ours_mha_fastpath": info.get("mha_fastpath"),
           "methods": {}}
    for m in methods:
        width = widths[m][1] - widths[m][0]
        n_mut = 3 * width
        med = statistics.median(times[m])
        diff = float((values[m] - reference[:, :width]).abs().max())
        row["methods"][m] = {"median_s": med, "runs_s": times[m], "n_positions": width,
                             "s_per_mutant": med / n_mut, "max_abs_diff_vs_tm_fast_false": diff}
    ours = row["methods"]["ours plain"]["s_per_mutant"]
    for m in methods:
        row["methods"][m]["ratio_to_ours"] = row["methods"][m]["s_per_mutant"] / ours
    tm = [m for m in methods if m.startswith("tm") and not m.endswith("sdpa")]
    best = min(tm, key=lambda m: row["methods"][m]["s_per_mutant"])
    row["tm_best"] = best
    row["ours_speedup_vs_tm_best"] = row["methods"][best]["s_per_mutant"] / ours
    return row


def table(rows: list[dict]) -> str:
    """A markdown table of the rows."""
    lines = ["| case | method | positions | median s | s per mutant | ratio to ours | max abs diff vs tm fast=False |",
             "|---|---|---|---|---|---|---|"]
    for row in rows:
        for m, r in row["methods"].items():
            lines.append(f"| {row['case']} ({row['length']} bp) | {m} | {r['n_positions']} | {r['median_s']:.2f} | "
                         f"{r['s_per_mutant'] * 1e3:.2f} ms | {r['ratio_to_ours']:.2f} | "
                         f"{r['max_abs_diff_vs_tm_fast_false']:.1e} |")
    return "\n".join(lines)


def footer(rows: list[dict]) -> str:
    """Per case: tangermeme's best mode, our speed-up over it, our batch size, the load."""
    out = []
    for row in rows:
        out.append(f"* {row['case']}: ours {row['ours_speedup_vs_tm_best']:.2f}x as fast as tangermeme's best "
                   f"({row['tm_best']}); ours settled on {row['ours_batch_size']} mutants per batch, "
                   f"MHA fast path {row['ours_mha_fastpath']} (timed [size, variant, ms per mutant]: "
                   f"{[[s, v, round(t * 1e3, 2)] for s, v, t in row['ours_batch_search'] or []]}); "
                   f"load average {row['load_min']:.1f}-{row['load_max']:.1f}")
    return "\n".join(out)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", default="attention,gru,cnn", help="comma list of attention, gru, cnn")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (median)")
    parser.add_argument("--quick", action="store_true", help="short windows, 1 round")
    parser.add_argument("--attention-window", type=int, default=100,
                        help="positions mutated in the attention case (1000: the whole sequence)")
    parser.add_argument("--attention-length", type=int, default=1000,
                        help="bases of the sequence the attention model is given (the issue's 2 kb: 2000)")
    parser.add_argument("--baseline", action="store_true", help="also ours with a fixed batch of 64")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--out", default=None, help="write plain_ism.md and plain_ism.json into this folder")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    rounds = 1 if args.quick else args.rounds
    rows = [run_case(case, rounds, args.baseline) for case in cases(args.cases.split(","), args.quick, args.attention_window,
                                                                  args.attention_length)]
    machine = (f"{os.cpu_count()} logical CPUs, torch {torch.__version__} ({torch.get_num_threads()} threads), "
               f"load average at the end {', '.join(f'{v:.1f}' for v in os.getloadavg())}")
    text = table(rows) + "\n\n" + footer(rows) + "\n\nMachine: " + machine
    print("\n" + text)
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "plain_ism.md").write_text(text + "\n")
        (out / "plain_ism.json").write_text(json.dumps({"machine": machine, "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Time and peak memory of gradient x input for a full-size Enformer at its real input length.

One run (not a median: each takes minutes on 2 CPU cores) of ``explorer.attribute(...,
method="saliency")`` on a random-init, full-size Enformer (enformer-pytorch's defaults:
dim 1536, depth 11, 5,313 human tracks, 896 bins of 128 bp) over one random 196,608 bp
sequence, target: track 0 summed over the central bins. It runs in a child process so its
peak resident memory (``resource.getrusage``'s ``ru_maxrss``, weights included) is its own.
With ``--no-checkpoint`` the blocks are not checkpointed (all activations kept for the
backward pass). The child starts only when ``/proc/meminfo`` says at least ``--min-free``
GiB are available (the machine is shared): otherwise the script says so and exits 0.

Usage::

    python benchmarks/bench_longcontext.py [--no-checkpoint] [--min-free 14] [--length 196608]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def available_gib() -> float:
    """``MemAvailable`` of ``/proc/meminfo`` in GiB (inf where there is none)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / 2 ** 20
    except OSError:
        pass
    return float("inf")


def child(checkpoint: bool, length: int) -> dict:
    """One gradient x input run; the numbers as a dict."""
    import torch
    from enformer_pytorch import Enformer

    import explorer as ex
    from explorer.io.longcontext import wrap_enformer
    from explorer.io.models import build_model

    torch.manual_seed(0)
    tic = time.perf_counter()
    enformer = Enformer.from_hparams().eval()
    net, card = wrap_enformer(enformer, input_length=length, checkpoint=checkpoint)
    model = build_model(net, card, source="<random Enformer>", kind="enformer", check_output=False)
    build_s = time.perf_counter() - tic
    x = torch.nn.functional.one_hot(torch.randint(0, 4, (length,)), 4).T.float()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20
    tic = time.perf_counter()
    res = ex.attribute(model, x, method="saliency", target=0, cache=False)
    seconds = time.perf_counter() - tic
    return {"length": length, "checkpoint": checkpoint, "threads": torch.get_num_threads(),
            "parameters_M": sum(p.numel() for p in enformer.parameters()) / 1e6, "build_s": build_s,
            "saliency_s": seconds, "peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20,
            "rss_after_build_gib": rss_before, "target": res.target,
            "finite": bool(res.values.isfinite().all())}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--no-checkpoint", dest="checkpoint", action="store_false")
    parser.add_argument("--length", type=int, default=196_608)
    parser.add_argument("--min-free", type=float, default=14.0, help="GiB that must be available to start")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", default=str(HERE / "results"), help="folder for longcontext.md/.json")
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.checkpoint, args.length)))
        return 0
    try:
        import enformer_pytorch  # noqa: F401
    except ImportError:
        print("enformer-pytorch is not installed (make install installs it): skipped")
        return 0
    free = available_gib()
    if free < args.min_free:
        print(f"only {free:.1f} GiB available, {args.min_free:g} needed: skipped (the machine is shared; try later)")
        return 0
    cmd = [sys.executable, __file__, "--child", "--length", str(args.length)]
    if not args.checkpoint:
        cmd.append("--no-checkpoint")
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        print(done.stderr[-3000:])
        print(f"the run failed (exit {done.returncode}; -9 is the kernel's out-of-memory kill)")
        return 1
    row = json.loads(done.stdout.strip().splitlines()[-1])
    row["available_gib_at_start"] = round(free, 1)
    text = ("| input bp | checkpointed | parameters | gradient x input s | peak RSS GiB | RSS after build GiB |\n"
            "|---|---|---|---|---|---|\n"
            f"| {row['length']:,} | {row['checkpoint']} | {row['parameters_M']:.0f} M | {row['saliency_s']:.1f} | "
            f"{row['peak_rss_gib']:.2f} | {row['rss_after_build_gib']:.2f} |")
    sys.path.insert(0, str(HERE))
    from bench_ism import write_results

    write_results(args.out, "longcontext" + ("" if args.checkpoint else "_nockpt"), text, [row])
    return 0


if __name__ == "__main__":
    sys.exit(main())

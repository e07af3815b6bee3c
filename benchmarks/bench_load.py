"""What ``ex.load_model(path)`` finds for cardless models of each kind, and how long it takes.

Builds and saves (in a temporary folder) the kinds of model users bring, none with a card,
then loads each with ``load_model(path)`` alone and prints what the loader found (lengths,
heads, names) and the wall time of the load (median of 3), probes included. Full-size
BPNet shapes (2,114 bp in) for the bpnet-lite case, when bpnet-lite is installed.

Usage::

    python benchmarks/bench_load.py
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import explorer as ex  # noqa: E402
from test_io_probing import CroppedProfile, DilatedResidual, FixedLength, ProfileAndCounts  # noqa: E402


def seeded(cls, *args):
    torch.manual_seed(0)
    return cls(*args).eval()


def kinds(folder: Path) -> list[tuple[str, Path, dict]]:
    out = []
    path = folder / "resid_scripted.pt"
    torch.jit.save(torch.jit.script(seeded(DilatedResidual)), str(path))
    out.append(("scripted dilated residual, mean+max head", path, {}))
    path = folder / "resid_traced.pt"
    torch.jit.save(torch.jit.trace(seeded(DilatedResidual), torch.zeros(1, 4, 300)), str(path))
    out.append(("traced dilated residual", path, {}))
    for length in (249, 2114):
        path = folder / f"fixed_{length}.pt"
        torch.jit.save(torch.jit.script(seeded(FixedLength, length)), str(path))
        out.append((f"fixed length {length} bp (conv, pool, flatten, linear)", path, {}))
    path = folder / "crop.pt"
    torch.jit.save(torch.jit.script(seeded(CroppedProfile)), str(path))
    out.append(("cropped profile (2 strands, at least 64 bp)", path, {}))
    path = folder / "tuple.pt"
    torch.jit.save(torch.jit.script(seeded(ProfileAndCounts)), str(path))
    out.append(("tuple (profile, counts)", path, {}))
    try:
        import bpnetlite
    except ImportError:
        print("bpnet-lite not installed: its case is skipped")
    else:
        torch.manual_seed(0)
        net = bpnetlite.BPNet(n_filters=64, n_layers=8, n_outputs=2, n_control_tracks=2, verbose=False).eval()
        path = folder / "bpnet_lite.torch"
        torch.save(net, path)
        out.append(("bpnet-lite BPNet, full size, full pickle (trusted)", path, {"trusted": True}))
    return out


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        for label, path, kwargs in kinds(Path(tmp)):
            times = []
            for _ in range(3):
                tic = time.perf_counter()
                model = ex.load_model(path, device="cpu", **kwargs)
                times.append(time.perf_counter() - tic)
            print(f"## {label}\n  first load {times[0]:.2f} s, then {statistics.median(times[1:]):.2f} s, "
                  f"{len(model.facts.probes)} probes\n  {model.report}\n  targets: {ex.target_choices(model)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

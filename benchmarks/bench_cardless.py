"""Benchmark: exact ISM of models with no card, ours against tangermeme (issue 14).

A user's own model arrives with no card and no structure declaration. ``explorer.attribute``
then reads the structure from the model's captured graph
(:mod:`explorer.attribution.graph_ism`) and runs receptive-field-local ISM, or, for a model
that is not local (attention), plain ISM. Each case is a TorchScript file as a user would
bring it (traced, no card), built here with seeded random weights:

* ``residual``: a dilated residual trunk (stem k=15, 6 blocks of conv k=3 with dilation
  1..32, batch norm, ReLU; 64 channels) with a mean + max head, traced;
* ``maxpool``: convolutions with max pooling between them (the length halves twice), a
  global max, traced;
* ``profile``: a BPNet-like network with a cropped profile head and a counts head (a
  tuple), target the counts head, traced;
* ``bpnet``: bpnet-lite's ``BPNet`` (when bpnet-lite is installed; 64 filters, 8 layers),
  target the counts head, read through its graph (``structure="graph"``: bpnet-lite
  models loaded by the explorer also get a declared structure, which would hide the
  graph path);
* ``attention``: a conv stem and two transformer encoder layers (64 wide, 4 heads): not
  local, so plain ISM.

Methods, in one process on the same sequence (the first ``--length`` bases of the sample
locus): ours (``explorer.attribution.fast_ism.fast_ism`` with its self-check; for the
attention model ``explorer.attribution.ism.ism``), tangermeme ``saturation_mutagenesis``
with ``fast=True`` and ``fast=False``; the max abs difference of each against brute force
at 24 positions (both ends and 12 inside).

Usage::

    python benchmarks/bench_cardless.py                   # all cases at 2 kb
    python benchmarks/bench_cardless.py --cases residual,attention --length 1000
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "tests"))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from bench_ism import sequence, tangermeme_values, timed, write_results  # noqa: E402
from brute_force import brute_force_ism  # noqa: E402
from explorer.attribution.fast_ism import fast_ism  # noqa: E402
from explorer.attribution.ism import ism  # noqa: E402


def _init(net: nn.Module, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            fan_in = max(1, p[0].numel()) if p.dim() > 1 else 1
            p.copy_(torch.randn_like(p) * (1.5 / fan_in ** 0.5 if p.dim() > 1 else 0.1))
        for m in net.modules():
            if isinstance(m, nn.BatchNorm1d):
                m.running_mean.normal_(0, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    return net.eval()


class Residual(nn.Module):
    def __init__(self, channels=64, dilations=(1, 2, 4, 8, 16, 32)):
        super().__init__()
        self.stem = nn.Conv1d(4, channels, 15, padding=7)
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.Conv1d(channels, channels, 3, dilation=d, padding=d), nn.BatchNorm1d(channels),
                          nn.ReLU()) for d in dilations)
        self.head = nn.Linear(2 * channels, 2)

    def forward(self, x):
        h = torch.relu(self.stem(x))
        for block in self.blocks:
            h = h + block(h)
        return self.head(torch.cat([h.mean(-1), h.amax(-1)], dim=1))


class MaxPooled(nn.Module):
    def __init__(self, channels=64):
        super().__init__()
        self.c1 = nn.Conv1d(4, channels, 19, padding=9)
        self.c2 = nn.Conv1d(channels, channels, 9, padding=4)
        self.c3 = nn.Conv1d(channels, channels, 9, padding=4)
        self.pool = nn.MaxPool1d(2)
        self.out = nn.Linear(channels, 2)

    def forward(self, x):
        h = self.pool(F.relu(self.c1(x)))
        h = self.pool(F.relu(self.c2(h)))
        return self.out(F.relu(self.c3(h)).amax(-1))


class Profile(nn.Module):
    def __init__(self, channels=64, n_layers=6, trim=100):
        super().__init__()
        self.trim = trim
        self.iconv = nn.Conv1d(4, channels, 21, padding=10)
        self.rconvs = nn.ModuleList(nn.Conv1d(channels, channels, 3, dilation=2 ** i, padding=2 ** i)
                                    for i in range(1, n_layers + 1))
        self.fconv = nn.Conv1d(channels, 2, 75, padding=37)
        self.linear = nn.Linear(channels, 1)

    def forward(self, x):
        h = F.relu(self.iconv(x))
        for conv in self.rconvs:
            h = h + F.relu(conv(h))
        t = self.trim
        return self.fconv(h)[:, :, t:-t], self.linear(h[:, :, t:h.shape[-1] - t].mean(dim=2))


class Attention(nn.Module):
    def __init__(self, width=64):
        super().__init__()
        self.stem = nn.Conv1d(4, width, 15, padding=7)
        layer = nn.TransformerEncoderLayer(width, 4, 2 * width, dropout=0.0, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
        self.out = nn.Linear(width, 2)

    def forward(self, x):
        return self.out(self.encoder(F.relu(self.stem(x)).transpose(1, 2)).mean(1))


def build(kind: str, length: int):
    """``(model, target, output, task, structure)`` for one case (see the module docstring)."""
    x = torch.zeros(1, 4, length)
    x[0, 0] = 1.0
    if kind == "bpnet":
        from bpnetlite import BPNet

        torch.manual_seed(0)
        net = BPNet(n_filters=64, n_layers=8, n_outputs=1, n_control_tracks=0, trimming=(length - 1000) // 2
                    if length > 1100 else 50).eval()
        return net, (lambda y: y[1][:, 0]), 1, 0, "graph"
    net = _init({"residual": Residual, "maxpool": MaxPooled, "profile": Profile, "attention": Attention}[kind](), 0)
    if kind == "profile":
        return torch.jit.trace(net, x), (lambda y: y[1][:, 0]), 1, 0, "auto"
    model = net if kind == "attention" else torch.jit.trace(net, x)
    return model, (lambda y: y[:, 0]), None, 0, "auto"



def run(kind: str, length: int, args) -> dict:
    model, target, output, task, structure = build(kind, length)
    x = sequence(length)
    L = x.shape[1]
    positions = sorted(set(range(6)) | set(range(L - 6, L)) | set(range(L // 13, L - 6, L // 13)))[:24]

    def score(seq):
        with torch.no_grad():
            return float(target(model(seq[None])).reshape(-1)[0])

    truth, _ = brute_force_ism(score, x, positions)

    if kind == "attention":
        ours = lambda: ism(model, x, target)  # noqa: E731 - not local: the plain path is what users get
    else:
        ours = lambda: fast_ism(model, x, target, structure=structure)  # noqa: E731
    fast_ism(model, x, target, 0, 20, structure=structure) if kind != "attention" else None  # capture, warm-up
    row: dict = {"case": kind, "length": L}
    t, ts, res = timed(ours, args.repeats)
    row.update(ours=t, ours_runs=ts, path=res.diagnostics.get("fast_ism_path") or res.diagnostics.get("ism_path"),
               reason=res.diagnostics.get("fast_ism_reason"),
               ours_diff=float((res.values[:, positions].double() - truth).abs().max()))
    print(f"== {kind} {L} bp: ours {t:.2f} s ({row['path']}), max|ours - brute force| {row['ours_diff']:.1e}",
          flush=True)
    for label, fast in (("tm_fast", True), ("tm_plain", False)):
        t, ts, v = timed(lambda: tangermeme_values(model, x, output, task, fast), args.peer_repeats)
        row[label], row[label + "_runs"] = t, ts
        row[label + "_diff"] = float((v[:, positions].double() - truth).abs().max())
        print(f"   tangermeme fast={fast}: {t:.2f} s, max|tm - brute force| {row[label + '_diff']:.1e}", flush=True)
    t, ts, _ = timed(ours, 1)  # ours again at the load of the end
    row["ours_runs"].extend(ts)
    row["ours"] = statistics.median(row["ours_runs"])
    row["speedup_vs_tm_best"] = min(row["tm_fast"], row["tm_plain"]) / row["ours"]
    print(f"   speed-up vs tangermeme's better mode: {row['speedup_vs_tm_best']:.1f}x", flush=True)
    return row


def table(rows) -> str:
    lines = ["| cardless model | length | path | ours (s) | tangermeme fast=True (s) | tangermeme fast=False (s) | "
             "speed-up vs tangermeme's better | max abs diff vs brute force (ours / tm fast / tm plain) |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['case']} | {r['length']} | {r['path']} | {r['ours']:.2f} | {r['tm_fast']:.2f} | "
                     f"{r['tm_plain']:.2f} | {r['speedup_vs_tm_best']:.1f}x | {r['ours_diff']:.1e} / "
                     f"{r['tm_fast_diff']:.1e} / {r['tm_plain_diff']:.1e} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", default="residual,maxpool,profile,bpnet,attention")
    parser.add_argument("--length", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3, help="runs of ours (median)")
    parser.add_argument("--peer-repeats", type=int, default=1, help="runs of each tangermeme mode")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    args = parser.parse_args(argv)
    rows = []
    for kind in args.cases.split(","):
        try:
            rows.append(run(kind, args.length, args))
        except ImportError as exc:
            print(f"== {kind}: skipped ({exc})", flush=True)
    write_results(args.out, "cardless", table(rows), rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

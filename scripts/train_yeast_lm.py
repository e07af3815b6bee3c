"""Train the yeast sample masked LM on S. cerevisiae chromosome IV and score it honestly.

Data: ``sacCer3_chrIV.fa.gz`` (sacCer3 chromosome IV, 1,531,933 bp; genomepy test data,
MIT licence), read from ``--fasta``. The last ``--test-bp`` bases (default 150,000:
chrIV:1,381,934-1,531,933, 1-based) are held out as one contiguous block; training windows
come from the part before it, ending ``--gap`` bases (default 1,000) before the held-out
block so no training window overlaps it.

The training loop stops after ``--minutes`` of wall time or ``--max-steps`` steps, whichever
comes first; the card records the steps taken (rerun with ``--max-steps`` of that number to
repeat a run on another machine).

Model: :class:`explorer.nets.conv_lm.ConvMaskedLM` (a masked base is an all-zero one-hot
column). Training: random ``--window``-bp windows, ``--mask-rate`` of their bases masked
(zero columns), cross-entropy on the masked bases, Adam, for ``--minutes`` of wall time on
the CPU threads given (``--threads``).

Evaluation on the held-out block, one masked base at a time (what masked ISM asks of the
model): the block is run ``h + 1`` times (``h`` the model's receptive half-width), each run
masking every ``(h + 1)``-th base, so no two masks see each other. Reported per masked
base: accuracy (argmax = the base), perplexity ``exp(mean NLL)`` (4 = knowing nothing), and
the same for k-mer (Markov) baselines counted on the training part with add-one smoothing:

* ``markov_k``: order-``k`` one-sided Markov chain, ``p(x_i | x_{i-k..i-1})``;
* ``flank_k``: ``p(x_i | k bases each side)`` (the bidirectional k-mer analogue of a
  masked LM, the fair baseline);
* ``base_composition``: ``p(x_i)`` alone.

The model, its card (metrics, split, this command) go to ``--out`` (a checkpoint written by
:func:`explorer.save_checkpoint`, loadable with ``weights_only=True``).

Usage::

    python scripts/train_yeast_lm.py --fasta ../shared/data/sacCer3_chrIV.fa.gz \
        --out sample_data/models/yeast_lm.pt [--minutes 8] [--threads 2] [--seed 0]
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import explorer as ex  # noqa: E402
from explorer.nets.conv_lm import ConvMaskedLM  # noqa: E402

LOOKUP = np.full(256, 4, dtype=np.int64)
for _i, _b in enumerate("ACGT"):
    LOOKUP[ord(_b)] = LOOKUP[ord(_b.lower())] = _i


def read_fasta(path: Path) -> tuple[str, np.ndarray]:
    """``(name, codes)``: the first record, bases as 0..3 (A, C, G, T), 4 for anything else."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt") as fh:
        lines = fh.read().splitlines()
    name = lines[0][1:].split()[0]
    seq = "".join(line.strip() for line in lines[1:] if not line.startswith(">"))
    return name, LOOKUP[np.frombuffer(seq.encode(), dtype=np.uint8)]


def one_hot(codes: torch.Tensor) -> torch.Tensor:
    """``(..., L)`` codes -> ``(..., 4, L)`` float one-hot; code 4 -> zero column."""
    oh = F.one_hot(codes.clamp(max=4), 5)[..., :4].float()
    return oh.movedim(-1, -2)


def kmer_baselines(train: np.ndarray, test: np.ndarray, orders=(3, 5, 8), flanks=(2, 3, 4)) -> dict:
    """Held-out accuracy and perplexity of Markov and flank k-mer models (add-one smoothing)."""
    results = {}

    def score(ctx_train, y_train, ctx_test, y_test, n_ctx):
        counts = np.ones((n_ctx, 4))
        np.add.at(counts, (ctx_train, y_train), 1)
        p = counts / counts.sum(1, keepdims=True)
        pt = p[ctx_test]
        nll = -np.log(pt[np.arange(len(y_test)), y_test])
        return {"accuracy": float((pt.argmax(1) == y_test).mean()), "perplexity": float(np.exp(nll.mean())),
                "n": int(len(y_test))}

    def contexts(codes, offsets, k_max):
        idx = np.arange(k_max, len(codes) - k_max)
        ok = codes[idx] < 4
        ctx = np.zeros(len(idx), dtype=np.int64)
        for o in offsets:
            c = codes[idx + o]
            ok &= c < 4
            ctx = ctx * 4 + np.minimum(c, 3)
        return ctx[ok], codes[idx][ok], idx[ok]

    k_max = max(max(orders), max(flanks))
    comp = np.bincount(train[train < 4], minlength=4) + 1
    y = test[k_max:len(test) - k_max]
    y = y[y < 4]
    p = comp / comp.sum()
    results["base_composition"] = {"accuracy": float((y == p.argmax()).mean()),
                                   "perplexity": float(np.exp(-np.log(p[y]).mean())), "n": int(len(y))}
    for k in orders:
        offs = list(range(-k, 0))
        a = contexts(train, offs, k_max)
        b = contexts(test, offs, k_max)
        results[f"markov_{k}"] = score(a[0], a[1], b[0], b[1], 4 ** k)
    for k in flanks:
        offs = list(range(-k, 0)) + list(range(1, k + 1))
        a = contexts(train, offs, k_max)
        b = contexts(test, offs, k_max)
        results[f"flank_{k}"] = score(a[0], a[1], b[0], b[1], 4 ** (2 * k))
    return results, k_max


@torch.inference_mode()
def evaluate_lm(net: ConvMaskedLM, test: np.ndarray, k_max: int) -> dict:
    """Single-mask held-out accuracy and perplexity over the same positions as the baselines."""
    half = net.receptive_field // 2
    step = half + 1
    codes = torch.from_numpy(test)
    x = one_hot(codes)[None]  # (1, 4, L)
    length = x.shape[-1]
    logp = torch.zeros(4, length)
    for r in range(step):
        masked = x.clone()
        masked[..., r::step] = 0
        out = torch.log_softmax(net(masked)[0], 0)
        logp[:, r::step] = out[:, r::step]
    keep = torch.arange(length)
    keep = keep[(keep >= k_max) & (keep < length - k_max)]
    keep = keep[codes[keep] < 4]
    y = codes[keep]
    lp = logp[:, keep]
    nll = -lp[y, torch.arange(len(y))]
    return {"accuracy": float((lp.argmax(0) == y).float().mean()), "perplexity": float(torch.exp(nll.mean())),
            "n": int(len(y))}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fasta", type=Path, required=True)
    ap.add_argument("--out", type=Path, default=ROOT / "sample_data" / "models" / "yeast_lm.pt")
    ap.add_argument("--test-bp", type=int, default=150_000)
    ap.add_argument("--gap", type=int, default=1_000)
    ap.add_argument("--window", type=int, default=256)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--mask-rate", type=float, default=0.2)
    ap.add_argument("--minutes", type=float, default=12.0, help="wall-time budget of the training loop")
    ap.add_argument("--max-steps", type=int, default=None, help="stop after this many steps (reproducible runs)")
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--channels", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(args.seed)

    chrom, codes = read_fasta(args.fasta)
    test_start = len(codes) - args.test_bp
    train, test = codes[:test_start - args.gap], codes[test_start:]
    baselines, k_max = kmer_baselines(train, test)
    print(json.dumps(baselines, indent=1), flush=True)

    net = ConvMaskedLM(channels=args.channels)
    opt = torch.optim.Adam(net.parameters(), lr=args.lr)
    train_t = torch.from_numpy(train)
    tic = time.perf_counter()
    budget = args.minutes * 60
    step, losses = 0, []
    while time.perf_counter() - tic < budget and (args.max_steps is None or step < args.max_steps):
        frac = (time.perf_counter() - tic) / budget
        for group in opt.param_groups:  # cosine decay over the wall-time budget
            group["lr"] = args.lr * 0.5 * (1 + math.cos(math.pi * min(frac, 1.0)))
        starts = torch.from_numpy(rng.integers(0, len(train) - args.window, args.batch))
        batch = train_t[starts[:, None] + torch.arange(args.window)[None]]  # (B, W)
        x = one_hot(batch)
        mask = (torch.rand(batch.shape) < args.mask_rate) & (batch < 4)
        x = x * (~mask)[:, None, :]
        logits = net(x)
        loss = F.cross_entropy(logits.permute(0, 2, 1)[mask], batch[mask])
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        step += 1
        if step % 25 == 0:
            print(f"step {step} {time.perf_counter() - tic:.0f}s loss {np.mean(losses[-25:]):.4f}", flush=True)
    train_seconds = time.perf_counter() - tic
    net.eval()
    lm_metrics = evaluate_lm(net, test, k_max)
    print("LM", lm_metrics, flush=True)

    n_test = len(test)
    card = {
        "name": "yeast_lm",
        "kind": "masked_lm",
        "tasks": list("ACGT"),
        "alphabet": "ACGT",
        "min_length": 1,
        "input_length": None,
        "receptive_field": int(net.receptive_field),
        "description": ("Small convolutional masked DNA LM of S. cerevisiae chromosome IV: a masked base is an "
                        "all-zero one-hot column; logits over A, C, G, T at every position."),
        "training_data": f"sacCer3 {chrom} (genomepy test data, MIT licence), 1-based 1-{test_start - args.gap:,}",
        "split": {"train": f"{chrom}:1-{test_start - args.gap}", "held_out": f"{chrom}:{test_start + 1}-{len(codes)}",
                  "held_out_bp": n_test, "gap_bp": args.gap},
        "training": {"steps": step, "seconds": round(train_seconds, 1), "window": args.window,
                     "batch": args.batch, "mask_rate": args.mask_rate, "lr": args.lr, "seed": args.seed,
                     "threads": args.threads, "channels": args.channels, "final_train_loss": round(float(np.mean(losses[-100:])), 4)},
        "metrics": {
            "evaluation": ("held-out block, one masked base at a time (masks spaced beyond the receptive field), "
                           f"positions {k_max} bp or more from the block's ends; per masked base"),
            "lm": lm_metrics,
            "kmer_baselines": baselines,
        },
        "training_command": ("python scripts/train_yeast_lm.py --fasta ../shared/data/sacCer3_chrIV.fa.gz "
                             f"--out sample_data/models/{args.out.name} --minutes {args.minutes:g} "
                             f"--threads {args.threads} --seed {args.seed} --window {args.window} --batch {args.batch} "
                             f"--mask-rate {args.mask_rate:g} --channels {args.channels} --lr {args.lr:g}"),
        "reproduce": f"the same command with --max-steps {step} repeats these {step} steps on any machine",
    }
    ex.save_checkpoint(net, args.out, card)
    print(f"wrote {args.out} ({args.out.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()

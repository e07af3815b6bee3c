"""Train the sample model: a small CNN on real CTCF and PU.1 (SPI1) ChIP-seq peaks.

Run from the repository root::

    python scripts/train_sample.py --ctcf PATH/ctcf.fa.gz --pu1 PATH/pu1.fa.gz    # the shipped model
    python scripts/train_sample.py --ctcf C --pu1 P --max-steps 20 --subset 500 --out /tmp/smoke
    python scripts/train_sample.py --bookmarks sample_data/loci/HUMHBB.gb.gz      # the app's bookmarks

Data
    ``--ctcf`` and ``--pu1`` (required for training): 100 bp ChIP-seq peaks whose headers
    are hg19 coordinates, 0-based half-open like BED (``>chr1:17036408-17036508``), e.g.
    the DeepSTARR demo data (``Neural_Network_DNA_Demo/data/``), read with
    :func:`explorer.io.peaks.read_peaks`. Tasks, labels, shuffles and the chromosome split
    are those of :mod:`explorer.nets.peak_tasks` (test = chr8, chr9; validation = chr7).
Training
    Multi-task binary cross-entropy on logits, Adam, reverse-complement augmentation
    (half of each batch is reverse complemented), validation loss every ``--eval-every``
    steps, early stopping with ``--patience``, the best validation state kept. Seeded:
    the same seed, data and thread count give the same weights.
Metrics (written into the model card)
    :func:`explorer.nets.peak_tasks.task_metrics` on the test chromosomes: per task,
    auROC and auPRC of the task's peaks against their dinucleotide shuffles, and against
    the other task's peaks that do not overlap one of the task's peaks.

Outputs in ``--out``: ``sample_cnn.pt`` (checkpoint, :func:`explorer.save_checkpoint`),
``sample_cnn.torchscript.pt`` (:func:`explorer.export_torchscript`) and
``sample_cnn.card.json`` (the model card, for reading; its ``structure`` is
:meth:`explorer.nets.SampleCNN.structure`).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import hashlib
import json
import os
import shlex
import sys
import time
from pathlib import Path
from typing import Sequence

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("NUMBA_CACHE_DIR", str(REPO / ".cache" / "numba"))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

import explorer as ex  # noqa: E402
from explorer.io.peaks import read_peaks, write_peaks  # noqa: E402
from explorer.nets import SampleCNN  # noqa: E402
from explorer.nets.peak_tasks import (  # noqa: E402
    TASKS,
    TEST_CHROMS,
    VALID_CHROMS,
    Split,
    build_splits,
    eval_subset,
    task_metrics,
)

#: SampleCNN constructor arguments of the shipped model (receptive field 67)
MODEL_CONFIG = dict(n_tasks=2, channels=64, kernel_sizes=[19, 9, 9], dilations=[1, 2, 4], dropout=0.1)
MODEL_NAME = "sample_cnn"
SEQ_LENGTH = 100
COMMAND = "python scripts/train_sample.py"
#: the DeepSTARR demo file each data option names
DEMO_FILES = {"--ctcf": "ctcf.fa.gz", "--pu1": "pu1.fa.gz"}


@torch.no_grad()
def predict_peaks(model: nn.Module, one_hot: torch.Tensor, batch_size: int = 1024) -> np.ndarray:
    """Logits ``(N, 2)`` of ``model`` (in eval mode) for one-hot ``(N, 4, L)`` sequences."""
    out = [model(one_hot[i:i + batch_size]) for i in range(0, len(one_hot), batch_size)]
    return torch.cat(out).numpy() if out else np.zeros((0, 2), np.float32)


# --------------------------------------------------------------------------- training
def _bce(logits: np.ndarray, labels: np.ndarray) -> float:
    """Mean binary cross-entropy of ``logits`` against ``labels`` (both ``(N, T)``)."""
    return float(nn.functional.binary_cross_entropy_with_logits(torch.as_tensor(logits),
                                                                torch.as_tensor(labels)))


def train(splits: dict[str, Split], *, seed: int, batch_size: int, lr: float, weight_decay: float,
          max_steps: int, eval_every: int, patience: int, lr_patience: int, max_minutes: float,
          config: dict, log=print) -> tuple[nn.Module, dict]:
    """Train a SampleCNN; return the best-validation model (eval mode) and a training log."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = SampleCNN(**config)
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    criterion = nn.BCEWithLogitsLoss()
    # lower the learning rate when the validation loss stalls
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.3, patience=lr_patience)
    tr, va = splits["train"], splits["valid"]
    x_all = tr.one_hot  # (N, 4, L) float32
    y_all = torch.as_tensor(tr.labels)
    best = {"valid_loss": float("inf"), "step": 0, "state": None}
    history = []
    start = time.perf_counter()
    step, bad_evals, stop_reason = 0, 0, "max_steps"
    order = rng.permutation(len(tr))
    pos, running, n_running = 0, 0.0, 0
    while step < max_steps:
        if pos + batch_size > len(order):
            order, pos = rng.permutation(len(tr)), 0
        idx = torch.as_tensor(order[pos:pos + min(batch_size, len(order))])
        pos += batch_size
        x, y = x_all[idx], y_all[idx]
        flip = torch.as_tensor(rng.random(len(idx)) < 0.5)
        x = torch.where(flip[:, None, None], torch.flip(x, dims=(1, 2)), x)  # reverse complement
        model.train()
        opt.zero_grad(set_to_none=True)
        loss = criterion(model(x), y)
        loss.backward()
        opt.step()
        step += 1
        running, n_running = running + loss.item(), n_running + 1
        if step % eval_every == 0 or step == max_steps:
            model.eval()
            v_logits = predict_peaks(model, va.one_hot)
            v_loss = _bce(v_logits, va.labels) if len(va) else running / max(n_running, 1)
            v_auc = {task: m.get("auroc_vs_shuffled") for task, m in
                     task_metrics(v_logits, va.source, va.overlap).items()} if len(va) else {}
            minutes = (time.perf_counter() - start) / 60
            train_loss, running, n_running = running / n_running, 0.0, 0
            scheduler.step(v_loss)
            history.append({"step": step, "train_loss": round(train_loss, 4),
                            "valid_loss": round(v_loss, 4), "valid_auroc_vs_shuffled": v_auc,
                            "minutes": round(minutes, 2),
                            "lr": opt.param_groups[0]["lr"]})
            log(f"step {step:6d}  epoch {step * batch_size / len(tr):5.2f}  train {train_loss:.4f}  "
                f"valid {v_loss:.4f}  auROC {v_auc}  lr {opt.param_groups[0]['lr']:.1e}  {minutes:.1f} min")
            if v_loss < best["valid_loss"]:
                best = {"valid_loss": v_loss, "step": step,
                        "state": {k: v.clone() for k, v in model.state_dict().items()}}
                bad_evals = 0
            else:
                bad_evals += 1
                if bad_evals >= patience:
                    stop_reason = f"early stop: no better validation loss in {patience} evaluations"
                    break
            if minutes >= max_minutes:
                stop_reason = f"time limit of {max_minutes} min"
                break
    if best["state"] is not None:
        model.load_state_dict(best["state"])
    model.eval()
    info = {"steps": step, "best_step": best["step"], "best_valid_loss": round(best["valid_loss"], 4),
            "stop_reason": stop_reason, "minutes": round((time.perf_counter() - start) / 60, 2),
            "epochs": round(step * batch_size / max(len(tr), 1), 2), "history": history}
    return model, info


# --------------------------------------------------------------------------- sample bookmarks
def scan_windows(model: nn.Module, sequence: str, window: int = SEQ_LENGTH, step: int = 10):
    """Logits of every ``window``-bp window of ``sequence`` (step ``step``): :func:`explorer.predict`.

    Returns
    -------
    pandas.DataFrame
        Columns ``start``, ``end`` (0-based half-open, in ``sequence``), ``centre``
        (0-based) and one logit column per task in :data:`TASKS`.
    """
    table = ex.predict(model, sequence, window=window, step=step, device="cpu")
    table = table[["start", "end", *TASKS]].copy()
    table.insert(2, "centre", table["start"] + window // 2)
    return table


def _distinct_sites(scan, offset: int, task: str, n: int = 8, min_distance: int = SEQ_LENGTH) -> list[dict]:
    """The ``n`` best windows for ``task`` at least ``min_distance`` bp apart (1-based centres)."""
    chosen: list[dict] = []
    for row in scan.sort_values(task, ascending=False).itertuples():
        centre = offset + int(row.centre) + 1
        if all(abs(centre - c["centre_1based"]) >= min_distance for c in chosen):
            chosen.append({"centre_1based": centre, task: round(float(getattr(row, task)), 2)})
            if len(chosen) == n:
                break
    return chosen


#: genes whose promoters are bookmarked (the Kircher et al. 2019 MPRA elements lie there)
PROMOTER_BOOKMARKS = ("HBB", "HBG1")


def choose_bookmarks(model: nn.Module, locus_path: str | Path, width: int = 2000) -> dict:
    """Pick the sample locus' default window (strongest CTCF site) and the promoter windows.

    The CTCF site is the centre of the 100 bp window with the highest CTCF logit
    (:func:`scan_windows`, step 10); the default window is ``width`` bp centred on it. Each
    promoter window (:data:`PROMOTER_BOOKMARKS`) starts ``width // 2`` bp upstream of the
    gene's transcription start (the start of its GenBank ``gene`` feature, + strand) and is
    ``width`` bp long.

    Returns
    -------
    dict
        ``bookmarks`` (name -> 1-based inclusive region string, the default first) and
        ``details`` (site position, logits) for the README.
    """
    locus = ex.load_locus(locus_path)
    scan = scan_windows(model, locus.sequence)
    best = scan.loc[scan["CTCF"].idxmax()]
    site = locus.start + int(best["centre"])  # 0-based
    start = min(max(site - width // 2, locus.start), locus.end - width)
    ctcf_region = ex.Region(locus.chrom, start, start + width)
    promoters = {}
    for gene in PROMOTER_BOOKMARKS:
        genes = locus.annotations.query("type == 'gene' and name == @gene")
        if len(genes) != 1 or genes.strand.iloc[0] != "+":
            raise ValueError(f"expected one + strand {gene} gene feature in {locus_path}; found {len(genes)}")
        tss = int(genes.start.iloc[0])  # 0-based
        promoters[gene] = (tss, ex.Region(locus.chrom, tss - width // 2, tss - width // 2 + width))
    details = {}
    regions = [("ctcf", ctcf_region)] + [(gene.lower(), region) for gene, (_, region) in promoters.items()]
    for name, region in regions:
        window = locus.subregion(region.start, region.end)
        with torch.no_grad():
            logits = model(window.one_hot.unsqueeze(0))[0].tolist()
        details[name] = {"region": str(region), "logits": dict(zip(TASKS, [round(v, 2) for v in logits]))}
    details["ctcf"].update(site_1based=site + 1, site_window=f"{locus.chrom}:{locus.start + int(best['start']) + 1:,}"
                           f"-{locus.start + int(best['end']):,}", site_logit=round(float(best["CTCF"]), 2),
                           top_sites=_distinct_sites(scan, locus.start, "CTCF"))
    for gene, (tss, _) in promoters.items():
        details[gene.lower()].update(tss_1based=tss + 1)
    bookmarks = {"CTCF site (default)": str(ctcf_region)}
    bookmarks.update({f"{gene} promoter": str(region) for gene, (_, region) in promoters.items()})
    return {"bookmarks": bookmarks, "details": details}


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse the command line; exit with a message naming the option when the data is missing."""
    p = argparse.ArgumentParser(prog=COMMAND, description=__doc__.split("\n")[0])
    p.add_argument("--ctcf", type=Path, default=None,
                   help="CTCF peaks FASTA (gzip ok; required unless --bookmarks)")
    p.add_argument("--pu1", type=Path, default=None,
                   help="PU.1 (SPI1) peaks FASTA (gzip ok; required unless --bookmarks)")
    p.add_argument("--out", type=Path, default=REPO / "sample_data" / "models", help="output folder")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--subset", type=int, default=None,
                   help="use only N peaks per file (seeded random choice), for smoke runs")
    p.add_argument("--max-steps", type=int, default=2000)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--eval-every", type=int, default=250, help="validate every N steps")
    p.add_argument("--patience", type=int, default=6, help="evaluations without improvement before stopping")
    p.add_argument("--lr-patience", type=int, default=2,
                   help="evaluations without improvement before the learning rate is cut to 0.3x")
    p.add_argument("--max-minutes", type=float, default=19.0,
                   help="stop training after this long (a guard; the step count then depends on the machine)")
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    p.add_argument("--channels", type=int, default=MODEL_CONFIG["channels"])
    p.add_argument("--write-eval-subset", type=int, default=None, metavar="N",
                   help="only write N test-chromosome peaks per task and their shuffles to --eval-out "
                        "(the held-out subset the test suite checks), then exit")
    p.add_argument("--eval-out", type=Path, default=REPO / "sample_data" / "eval" / "test_subset.fa.gz")
    p.add_argument("--bookmarks", type=Path, default=None, metavar="LOCUS",
                   help="only print the bookmarks the model in --out chooses on LOCUS (a GenBank "
                        "file, e.g. sample_data/loci/HUMHBB.gb.gz), then exit")
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args(argv)
    if args.bookmarks:
        return args
    for flag, path in (("--ctcf", args.ctcf), ("--pu1", args.pu1)):
        if path is None:
            p.error(f"{flag} PATH is required: 100 bp peaks FASTA with hg19 headers (>chrom:start-end), "
                    f"e.g. the DeepSTARR demo data (Neural_Network_DNA_Demo/data/{DEMO_FILES[flag]})")
        if not path.is_file():
            p.error(f"peak file not found: {path}. Pass {flag} PATH: 100 bp peaks with hg19 headers "
                    f"(>chrom:start-end), e.g. the DeepSTARR demo data (Neural_Network_DNA_Demo/data/)")
    return args


def main(argv: Sequence[str] | None = None) -> dict:
    """Train, evaluate, write the checkpoint, TorchScript and card; return the card.

    With ``--bookmarks``: print and return the bookmarks; with ``--write-eval-subset``: write
    the held-out subset and return ``{}``.
    """
    args = parse_args(argv)
    log = (lambda *a, **k: None) if args.quiet else (lambda *a, **k: print(*a, **k, flush=True))
    threads_before = torch.get_num_threads()
    torch.set_num_threads(args.threads)
    try:
        if args.bookmarks:
            model = ex.load_model(Path(args.out) / f"{MODEL_NAME}.pt", device="cpu")
            chosen = choose_bookmarks(model, args.bookmarks)
            log(json.dumps(chosen, indent=2))
            return chosen
        t0 = time.perf_counter()
        ctcf, pu1 = read_peaks(args.ctcf, SEQ_LENGTH), read_peaks(args.pu1, SEQ_LENGTH)
        if args.subset:
            rng = np.random.default_rng(args.seed)
            ctcf = ctcf.take(np.sort(rng.permutation(len(ctcf))[: args.subset]))
            pu1 = pu1.take(np.sort(rng.permutation(len(pu1))[: args.subset]))
        splits = build_splits(ctcf, pu1, args.seed)
        if args.write_eval_subset:
            path = write_peaks(args.eval_out, eval_subset(splits["test"], args.write_eval_subset, args.seed))
            log(f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB)")
            return {}
        log(f"data: {len(ctcf)} CTCF and {len(pu1)} PU.1 peaks; " + ", ".join(
            f"{k} {len(v)}" for k, v in splits.items()) + f" sequences ({time.perf_counter() - t0:.0f} s)")
        config = dict(MODEL_CONFIG, channels=args.channels)
        model, info = train(splits, seed=args.seed, batch_size=args.batch_size, lr=args.lr,
                            weight_decay=args.weight_decay, max_steps=args.max_steps,
                            eval_every=args.eval_every, patience=args.patience,
                            lr_patience=args.lr_patience,
                            max_minutes=args.max_minutes, config=config, log=log)
        te = splits["test"]
        metrics = task_metrics(predict_peaks(model, te.one_hot), te.source, te.overlap) if len(te) else {}
        log("test metrics: " + json.dumps(metrics))
        n_params = sum(p.numel() for p in model.parameters())
        given = list(sys.argv[1:] if argv is None else argv)
        command = f"{COMMAND} " + " ".join(shlex.quote(a) for a in given)
        # the time limit makes the step count depend on the machine; a fixed step count does not
        reproduce = command if not info["stop_reason"].startswith("time") else \
            command + f" --max-steps {info['steps']} --max-minutes 1000"
        card = {
            "name": MODEL_NAME,
            "description": "Small dilated CNN: does a 100 bp+ human sequence hold a CTCF / PU.1 (SPI1) "
                           "ChIP-seq peak? One logit per task; trained against dinucleotide shuffles "
                           "and the other task's peaks.",
            "tasks": list(TASKS),
            "alphabet": "ACGT",
            "min_length": SEQ_LENGTH,
            "input_length": None,
            "output": "logits (N, 2)",
            "receptive_field": int(model.receptive_field),
            "structure": model.structure(),
            "architecture": "sample_cnn",
            "config": config,
            "n_parameters": int(n_params),
            "data": {
                "source": "DeepSTARR repository, DeepSTARR/Neural_Network_DNA_Demo/data/ (MIT licence, "
                          "B. P. de Almeida 2021): human CTCF and PU.1 ChIP-seq peaks, 100 bp, hg19",
                "files": {p.name: {"sha256": _sha256(p), "peaks_used": n}
                          for p, n in ((args.ctcf, len(ctcf)), (args.pu1, len(pu1)))},
                "subset": args.subset,
                "labels": "a peak is positive for its own task and for the other task when it overlaps "
                          "one of that task's peaks (hg19 coordinates), else negative for it",
                "negatives": "one seeded dinucleotide shuffle per peak (tangermeme.ersatz."
                             "dinucleotide_shuffle), negative for both tasks; plus the other task's "
                             "non-overlapping peaks",
                "sequences": {k: len(v) for k, v in splits.items()},
            },
            "split": {"test": list(TEST_CHROMS), "valid": list(VALID_CHROMS), "train": "all other chromosomes",
                      "note": "test chromosomes never used for training or model selection"},
            "training": {"loss": "BCEWithLogitsLoss, both tasks", "optimizer": "Adam", "lr": args.lr,
                         "weight_decay": args.weight_decay, "batch_size": args.batch_size,
                         "augmentation": "reverse complement (half of each batch)",
                         "early_stopping": f"validation loss every {args.eval_every} steps, "
                                           f"patience {args.patience}; best state kept",
                         "lr_schedule": f"ReduceLROnPlateau(factor=0.3, patience={args.lr_patience})",
                         "threads": args.threads,
                         **{k: v for k, v in info.items() if k != "history"}},
            "history": info["history"],
            "metrics": {"split": "test (chr8, chr9)", **metrics},
            "training_command": command,
            "reproduce_command": reproduce,
            "seed": args.seed,
            "torch_version": torch.__version__,
            "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "total_minutes": round((time.perf_counter() - t0) / 60, 2),
        }
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        ex.save_checkpoint(model, out / f"{MODEL_NAME}.pt", card, config=config)
        ex.export_torchscript(model, out / f"{MODEL_NAME}.torchscript.pt", card)
        (out / f"{MODEL_NAME}.card.json").write_text(json.dumps(card, indent=2) + "\n")
        log(f"wrote {out / MODEL_NAME}.pt, .torchscript.pt, .card.json "
            f"({card['total_minutes']} min in all, {info['minutes']} min training)")
        return card
    finally:
        torch.set_num_threads(threads_before)


if __name__ == "__main__":
    main()

"""Train the sample model: a small CNN on real CTCF and PU.1 (SPI1) ChIP-seq peaks.

Run from the repository root::

    python -m explorer.train_sample                       # the shipped model (about 5 min on 2 idle cores)
    python -m explorer.train_sample --max-steps 20 --subset 500 --out /tmp/smoke   # smoke run

Data
    ``ctcf.fa.gz`` and ``pu1.fa.gz``: 100 bp ChIP-seq peaks whose headers are hg19
    coordinates, 0-based half-open like BED (``>chr1:17036408-17036508``).
    Tasks ``["CTCF", "SPI1"]``. A peak is positive for its own task, and for the other task
    when it overlaps (shares at least one base with) one of that task's peaks; otherwise
    it is a negative for the other task. Every peak also gives one seeded dinucleotide
    shuffle (same dinucleotide counts: the model must learn motifs, not composition),
    negative for both tasks.
Split by chromosome
    test = chr8, chr9 (only for the final metrics); validation = chr7 (early stopping);
    train = every other chromosome.
Training
    Multi-task binary cross-entropy on logits, Adam, reverse-complement augmentation
    (half of each batch is reverse complemented), validation loss every ``--eval-every``
    steps, early stopping with ``--patience``, the best validation state kept. Seeded:
    the same seed, data and thread count give the same weights.
Metrics (written into the model card)
    Per task on the test chromosomes: auROC and auPRC of the task's peaks against their
    dinucleotide shuffles, and against the other task's peaks that do not overlap one of
    the task's peaks.

Outputs in ``--out``: ``sample_cnn.pt`` (checkpoint, :func:`explorer.save_checkpoint`),
``sample_cnn.torchscript.pt`` (:func:`explorer.export_torchscript`) and
``sample_cnn.card.json`` (the model card, for reading).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import gzip
import hashlib
import json
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch import nn

TASKS = ["CTCF", "SPI1"]
REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data"
TEST_CHROMS = ("chr8", "chr9")
VALID_CHROMS = ("chr7",)
#: SampleCNN constructor arguments of the shipped model (receptive field 67)
MODEL_CONFIG = dict(n_tasks=2, channels=64, kernel_sizes=[19, 9, 9], dilations=[1, 2, 4], dropout=0.1)
MODEL_NAME = "sample_cnn"
SEQ_LENGTH = 100


# --------------------------------------------------------------------------- data
@dataclass
class Peaks:
    """Peaks of one ChIP-seq file: coordinates 0-based half-open (hg19), sequences as codes.

    Attributes
    ----------
    chrom : np.ndarray of str, shape (N,)
    start, end : np.ndarray of int64, shape (N,)
        0-based, half-open.
    codes : np.ndarray of int8, shape (N, L)
        0-3 for A, C, G, T; -1 for N and other ambiguity codes.
    """

    chrom: np.ndarray
    start: np.ndarray
    end: np.ndarray
    codes: np.ndarray

    def __len__(self) -> int:
        return len(self.chrom)

    def take(self, idx) -> "Peaks":
        return Peaks(self.chrom[idx], self.start[idx], self.end[idx], self.codes[idx])


_LOOKUP = np.full(256, -2, dtype=np.int8)
for _i, _b in enumerate("ACGT"):
    _LOOKUP[ord(_b)] = _LOOKUP[ord(_b.lower())] = _i
for _b in "NRYSWKMBDHV":
    _LOOKUP[ord(_b)] = _LOOKUP[ord(_b.lower())] = -1


def read_peaks(path: str | Path, length: int = SEQ_LENGTH) -> Peaks:
    """Read a (gzip) FASTA of fixed-length peaks with ``>chrom:start-end`` headers.

    Headers are read as 0-based half-open coordinates (BED style), which is what the
    DeepSTARR demo files hold (``end - start == 100``).

    Raises
    ------
    ValueError
        A header that is not ``chrom:start-end``, a sequence that is not ``length`` bp, or
        a character outside ACGT and the IUPAC codes.
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    names, seqs = [], []
    with opener(path, "rt") as fh:
        for line in fh:
            line = line.strip()
            if not line:
                continue
            if line.startswith(">"):
                names.append(line[1:].split()[0])
                seqs.append([])
            elif not names:
                raise ValueError(f"{path.name}: sequence before the first '>' header")
            else:
                seqs[-1].append(line)
    chrom, start, end = [], [], []
    for name in names:
        try:
            c, rest = name.rsplit(":", 1)
            s, e = rest.split("-")
            chrom.append(c)
            start.append(int(s))
            end.append(int(e))
        except ValueError:
            raise ValueError(f"{path.name}: header {name!r} is not 'chrom:start-end'") from None
    joined = ["".join(s) for s in seqs]
    bad = [i for i, s in enumerate(joined) if len(s) != length]
    if bad:
        raise ValueError(f"{path.name}: every peak must be {length} bp; {names[bad[0]]} is "
                         f"{len(joined[bad[0]])} bp ({len(bad)} such peaks); pass --length to change")
    codes = _LOOKUP[np.frombuffer("".join(joined).encode("ascii"), dtype=np.uint8)].reshape(len(joined), length)
    if (codes == -2).any():
        row = int(np.flatnonzero((codes == -2).any(axis=1))[0])
        raise ValueError(f"{path.name}: peak {names[row]} holds a character other than ACGT/IUPAC")
    return Peaks(np.array(chrom), np.array(start, dtype=np.int64), np.array(end, dtype=np.int64), codes)


def overlaps(a: Peaks, b: Peaks) -> np.ndarray:
    """For each peak of ``a``, whether it shares at least one base with a peak of ``b``.

    Returns
    -------
    np.ndarray of bool, shape (len(a),)
    """
    out = np.zeros(len(a), dtype=bool)
    for chrom in np.unique(a.chrom):
        ia = np.flatnonzero(a.chrom == chrom)
        ib = np.flatnonzero(b.chrom == chrom)
        if ib.size == 0:
            continue
        order = np.argsort(b.start[ib], kind="stable")
        b_start = b.start[ib][order]
        b_end_max = np.maximum.accumulate(b.end[ib][order])
        n_before = np.searchsorted(b_start, a.end[ia], side="left")  # b peaks starting before a ends
        has = n_before > 0
        out[ia[has]] = b_end_max[n_before[has] - 1] > a.start[ia[has]]
    return out


def codes_to_one_hot(codes: np.ndarray) -> torch.Tensor:
    """``(N, L)`` int8 codes -> ``(N, 4, L)`` float32 one-hot (ambiguous bases all zero)."""
    codes = torch.as_tensor(codes, dtype=torch.long)
    x = torch.zeros(codes.shape[0], 5, codes.shape[1])
    x.scatter_(1, torch.where(codes < 0, 4, codes).unsqueeze(1), 1.0)
    return x[:, :4]


def shuffle_codes(codes: np.ndarray, seed: int) -> np.ndarray:
    """Seeded dinucleotide shuffles of ``(N, L)`` codes (one each), as codes.

    Uses :func:`tangermeme.ersatz.dinucleotide_shuffle` on the whole batch.
    """
    from tangermeme.ersatz import dinucleotide_shuffle

    x = codes_to_one_hot(codes).to(torch.int8)
    shuffled = dinucleotide_shuffle(x, n=1, random_state=seed, allow_N=True)[:, 0]
    out = shuffled.argmax(dim=1).to(torch.int8).numpy()
    out[shuffled.sum(dim=1).numpy() == 0] = -1
    return out


@dataclass
class Split:
    """Sequences and labels of one split.

    ``codes`` ``(N, L)`` int8; ``labels`` ``(N, 2)`` float32 in task order; ``source``
    ``(N,)``: 0 = CTCF peak, 1 = SPI1 peak, 2 = shuffle of a CTCF peak, 3 = shuffle of a
    SPI1 peak; ``overlap`` ``(N,)`` bool: for a peak of one task, whether it overlaps a peak
    of the other (False for shuffles); ``names`` ``(N,)``: ``chrom:start-end`` of the peak
    (of the shuffled peak for a shuffle). The peaks come first, then their shuffles in the
    same order: the shuffle of row ``i`` is row ``i + N // 2``.
    """

    codes: np.ndarray
    labels: np.ndarray
    source: np.ndarray
    overlap: np.ndarray
    names: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)


def build_splits(ctcf: Peaks, pu1: Peaks, seed: int) -> dict[str, Split]:
    """Label peaks for both tasks, add one seeded dinucleotide shuffle each, split by chromosome."""
    ctcf_in_pu1 = overlaps(ctcf, pu1)
    pu1_in_ctcf = overlaps(pu1, ctcf)
    codes = np.concatenate([ctcf.codes, pu1.codes])
    chrom = np.concatenate([ctcf.chrom, pu1.chrom])
    labels = np.zeros((len(codes), 2), dtype=np.float32)
    labels[: len(ctcf), 0] = 1
    labels[: len(ctcf), 1] = ctcf_in_pu1
    labels[len(ctcf):, 1] = 1
    labels[len(ctcf):, 0] = pu1_in_ctcf
    source = np.r_[np.zeros(len(ctcf), np.int8), np.ones(len(pu1), np.int8)]
    overlap = np.r_[ctcf_in_pu1, pu1_in_ctcf]
    shuffled = shuffle_codes(codes, seed)
    all_codes = np.concatenate([codes, shuffled])
    all_labels = np.concatenate([labels, np.zeros_like(labels)])
    all_source = np.r_[source, source + 2].astype(np.int8)
    all_overlap = np.r_[overlap, np.zeros_like(overlap)]
    all_chrom = np.r_[chrom, chrom]
    names = np.char.add(np.char.add(np.char.add(chrom, ":"), np.r_[ctcf.start, pu1.start].astype(str)),
                        np.char.add("-", np.r_[ctcf.end, pu1.end].astype(str)))
    all_names = np.r_[names, names]
    part = np.where(np.isin(all_chrom, TEST_CHROMS), "test",
                    np.where(np.isin(all_chrom, VALID_CHROMS), "valid", "train"))
    return {name: Split(all_codes[part == name], all_labels[part == name], all_source[part == name],
                        all_overlap[part == name], all_names[part == name]) for name in ("train", "valid", "test")}


SOURCES = ("CTCF", "SPI1", "CTCF_shuffle", "SPI1_shuffle")


def write_eval_subset(split: Split, path: str | Path, n_per_task: int, seed: int) -> Path:
    """Write ``n_per_task`` seeded peaks per task of ``split`` and their shuffles as gzip FASTA.

    Each header is ``>chrom:start-end source=S CTCF=0|1 SPI1=0|1 overlap=0|1`` where ``S``
    is one of :data:`SOURCES` (a shuffle keeps the name of the peak it was made from).
    """
    rng = np.random.default_rng(seed)
    half = len(split) // 2
    rows = []
    for t in range(len(TASKS)):
        peaks = np.flatnonzero(split.source[:half] == t)
        chosen = np.sort(rng.choice(peaks, size=min(n_per_task, peaks.size), replace=False))
        rows += [chosen, chosen + half]
    rows = np.concatenate(rows)
    letters = np.frombuffer(b"ACGTN", dtype=np.uint8)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt", compresslevel=9) as fh:
        for i in rows:
            seq = letters[np.where(split.codes[i] < 0, 4, split.codes[i])].tobytes().decode()
            fh.write(f">{split.names[i]} source={SOURCES[split.source[i]]} CTCF={int(split.labels[i, 0])} "
                     f"SPI1={int(split.labels[i, 1])} overlap={int(split.overlap[i])}\n{seq}\n")
    return path


def read_eval_subset(path: str | Path) -> tuple[list[str], "np.ndarray", "np.ndarray"]:
    """Read a file written by :func:`write_eval_subset`.

    Returns
    -------
    sequences : list of str
    source : np.ndarray of int, shape (N,)
        Index into :data:`SOURCES`.
    overlap : np.ndarray of bool, shape (N,)
    """
    seqs, source, overlap = [], [], []
    with gzip.open(path, "rt") as fh:
        for line in fh:
            if line.startswith(">"):
                fields = dict(f.split("=", 1) for f in line.split()[1:])
                source.append(SOURCES.index(fields["source"]))
                overlap.append(fields.get("overlap") == "1")
                seqs.append("")
            else:
                seqs[-1] += line.strip()
    return seqs, np.array(source), np.array(overlap, dtype=bool)


# --------------------------------------------------------------------------- metrics
def auroc(y_true: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney U with average ranks for ties)."""
    from scipy.stats import rankdata

    y_true = np.asarray(y_true).astype(bool)
    n_pos, n_neg = int(y_true.sum()), int((~y_true).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError(f"auROC needs positives and negatives; got {n_pos} and {n_neg}")
    ranks = rankdata(score)
    return float((ranks[y_true].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def auprc(y_true: np.ndarray, score: np.ndarray) -> float:
    """Area under the precision-recall curve as average precision (sklearn's definition)."""
    y_true = np.asarray(y_true).astype(bool)
    if not y_true.any():
        raise ValueError("auPRC needs at least one positive")
    order = np.argsort(-np.asarray(score), kind="mergesort")
    score_sorted, y = np.asarray(score)[order], y_true[order]
    # one threshold per distinct score
    last = np.r_[np.flatnonzero(np.diff(score_sorted) != 0), len(y) - 1]
    tp = np.cumsum(y)[last]
    precision = tp / (last + 1)
    recall = tp / y.sum()
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


@torch.no_grad()
def predict_codes(model: nn.Module, codes: np.ndarray, batch_size: int = 1024) -> np.ndarray:
    """Logits ``(N, 2)`` of ``model`` (in eval mode) for ``(N, L)`` codes."""
    out = [model(codes_to_one_hot(codes[i:i + batch_size])) for i in range(0, len(codes), batch_size)]
    return torch.cat(out).numpy() if out else np.zeros((0, 2), np.float32)


def task_metrics(logits: np.ndarray, source: np.ndarray, overlap: np.ndarray) -> dict:
    """Per task: auROC/auPRC of its peaks vs their shuffles and vs the other task's peaks.

    ``source`` and ``overlap`` as in :class:`Split`. Against the other task, the other
    task's peaks that overlap one of this task's peaks are left out.
    """
    metrics = {}
    for t, task in enumerate(TASKS):
        pos = source == t
        shuf = source == t + 2
        other = (source == 1 - t) & ~overlap
        entry = {"n_peaks": int(pos.sum()), "n_shuffled": int(shuf.sum()), "n_other_task": int(other.sum())}
        for name, neg in (("shuffled", shuf), ("other_task", other)):
            keep = pos | neg
            if pos.any() and neg.any():
                entry[f"auroc_vs_{name}"] = round(auroc(pos[keep], logits[keep, t]), 4)
                entry[f"auprc_vs_{name}"] = round(auprc(pos[keep], logits[keep, t]), 4)
        metrics[task] = entry
    return metrics


# --------------------------------------------------------------------------- training
def _bce(logits: np.ndarray, labels: np.ndarray) -> float:
    """Mean binary cross-entropy of ``logits`` against ``labels`` (both ``(N, T)``)."""
    return float(nn.functional.binary_cross_entropy_with_logits(torch.as_tensor(logits),
                                                                torch.as_tensor(labels)))


def train(splits: dict[str, Split], *, seed: int, batch_size: int, lr: float, weight_decay: float,
          max_steps: int, eval_every: int, patience: int, lr_patience: int, max_minutes: float,
          config: dict, log=print) -> tuple[nn.Module, dict]:
    """Train a SampleCNN; return the best-validation model (eval mode) and a training log."""
    from explorer.nets import SampleCNN

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = SampleCNN(**config)
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    criterion = nn.BCEWithLogitsLoss()
    # lower the learning rate when the validation loss stalls
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.3, patience=lr_patience)
    tr, va = splits["train"], splits["valid"]
    x_all = codes_to_one_hot(tr.codes)  # (N, 4, L) float32
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
            v_logits = predict_codes(model, va.codes)
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
def scan_windows(model: nn.Module, sequence: str, window: int = SEQ_LENGTH, step: int = 10,
                 batch_size: int = 512) -> "pd.DataFrame":
    """Score every ``window``-bp window of ``sequence`` (step ``step``) with ``model``.

    Returns
    -------
    pandas.DataFrame
        Columns ``start``, ``end`` (0-based half-open, in ``sequence``), ``centre``
        (0-based) and one logit column per task in :data:`TASKS`.
    """
    import pandas as pd

    from explorer.io.sequences import one_hot_encode

    x = one_hot_encode(sequence)
    starts = np.arange(0, len(sequence) - window + 1, step)
    logits = []
    with torch.no_grad():
        for i in range(0, len(starts), batch_size):
            batch = torch.stack([x[:, s:s + window] for s in starts[i:i + batch_size]])
            logits.append(model(batch))
    logits = torch.cat(logits).cpu().numpy()
    table = pd.DataFrame({"start": starts, "end": starts + window, "centre": starts + window // 2})
    for t, task in enumerate(TASKS):
        table[task] = logits[:, t]
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
    from explorer.io.loci import Region, load_locus

    locus = load_locus(locus_path)
    scan = scan_windows(model, locus.sequence)
    best = scan.loc[scan["CTCF"].idxmax()]
    site = locus.start + int(best["centre"])  # 0-based
    start = min(max(site - width // 2, locus.start), locus.end - width)
    ctcf_region = Region(locus.chrom, start, start + width)
    promoters = {}
    for gene in PROMOTER_BOOKMARKS:
        genes = locus.annotations.query("type == 'gene' and name == @gene")
        if len(genes) != 1 or genes.strand.iloc[0] != "+":
            raise ValueError(f"expected one + strand {gene} gene feature in {locus_path}; found {len(genes)}")
        tss = int(genes.start.iloc[0])  # 0-based
        promoters[gene] = (tss, Region(locus.chrom, tss - width // 2, tss - width // 2 + width))
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
    p = argparse.ArgumentParser(prog="python -m explorer.train_sample", description=__doc__.split("\n")[0])
    p.add_argument("--ctcf", type=Path, default=DEFAULT_DATA / "ctcf.fa.gz", help="CTCF peaks FASTA (gzip ok)")
    p.add_argument("--pu1", type=Path, default=DEFAULT_DATA / "pu1.fa.gz", help="PU.1 (SPI1) peaks FASTA")
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
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> dict:
    """Train, evaluate, write the checkpoint, TorchScript and card; return the card."""
    import explorer as ex

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
        for flag, path in (("--ctcf", args.ctcf), ("--pu1", args.pu1)):
            if not Path(path).is_file():
                raise FileNotFoundError(
                    f"peak file not found: {path}. Pass {flag} PATH: 100 bp peaks with hg19 headers "
                    f"(>chrom:start-end), e.g. the DeepSTARR demo data (Neural_Network_DNA_Demo/data/)")
        t0 = time.perf_counter()
        ctcf, pu1 = read_peaks(args.ctcf), read_peaks(args.pu1)
        if args.subset:
            rng = np.random.default_rng(args.seed)
            ctcf = ctcf.take(np.sort(rng.permutation(len(ctcf))[: args.subset]))
            pu1 = pu1.take(np.sort(rng.permutation(len(pu1))[: args.subset]))
        splits = build_splits(ctcf, pu1, args.seed)
        if args.write_eval_subset:
            path = write_eval_subset(splits["test"], args.eval_out, args.write_eval_subset, args.seed)
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
        metrics = task_metrics(predict_codes(model, te.codes), te.source, te.overlap) if len(te) else {}
        log("test metrics: " + json.dumps(metrics))
        n_params = sum(p.numel() for p in model.parameters())
        given = list(sys.argv[1:] if argv is None else argv)
        command = "python -m explorer.train_sample " + " ".join(shlex.quote(a) for a in given)
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
            "structure": {"trunk": "trunk", "pool": "max", "final": "linear",
                          "receptive_field": int(model.receptive_field)},
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

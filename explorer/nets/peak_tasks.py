"""The sample model's data set: CTCF and PU.1 (SPI1) peaks, labelled for two tasks.

A peak is positive for its own task, and for the other task when it overlaps (shares at
least one base with) one of that task's peaks; otherwise it is a negative for the other
task. Every peak also gives one seeded dinucleotide shuffle (same dinucleotide counts: a
model must learn motifs, not composition), negative for both tasks. Split by chromosome:
test = chr8, chr9; validation = chr7; train = every other chromosome.

Used by ``scripts/train_sample.py`` (training), by the held-out subset in
``sample_data/eval/test_subset.fa.gz`` (its header fields) and by the tests.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from explorer.io.peaks import Peaks, overlaps
from explorer.io.sequences import dinucleotide_shuffle
from explorer.nets.metrics import auprc, auroc

TASKS = ("CTCF", "SPI1")
TEST_CHROMS = ("chr8", "chr9")
VALID_CHROMS = ("chr7",)
#: ``Split.source`` codes: 0, 1 = a peak of that task; 2, 3 = the shuffle of one
SOURCES = ("CTCF", "SPI1", "CTCF_shuffle", "SPI1_shuffle")


@dataclass
class Split:
    """Sequences and labels of one split.

    Attributes
    ----------
    one_hot : torch.Tensor, float32, shape (N, 4, L)
    labels : np.ndarray of float32, shape (N, 2)
        In :data:`TASKS` order.
    source : np.ndarray of int8, shape (N,)
        Index into :data:`SOURCES`.
    overlap : np.ndarray of bool, shape (N,)
        For a peak of one task, whether it overlaps a peak of the other (False for shuffles).
    names : np.ndarray of str, shape (N,)
        ``chrom:start-end`` of the peak (of the shuffled peak for a shuffle).

    The peaks come first, then their shuffles in the same order: the shuffle of row ``i``
    is row ``i + N // 2``.
    """

    one_hot: torch.Tensor
    labels: np.ndarray
    source: np.ndarray
    overlap: np.ndarray
    names: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)


def build_splits(ctcf: Peaks, pu1: Peaks, seed: int) -> dict[str, Split]:
    """Label peaks for both tasks, add one seeded dinucleotide shuffle each, split by chromosome.

    Returns
    -------
    dict
        ``"train"``, ``"valid"``, ``"test"`` -> :class:`Split`.
    """
    ctcf_in_pu1 = overlaps(ctcf, pu1)
    pu1_in_ctcf = overlaps(pu1, ctcf)
    x = torch.cat([ctcf.one_hot, pu1.one_hot])
    chrom = np.concatenate([ctcf.chrom, pu1.chrom])
    labels = np.zeros((len(x), 2), dtype=np.float32)
    labels[: len(ctcf), 0] = 1
    labels[: len(ctcf), 1] = ctcf_in_pu1
    labels[len(ctcf):, 1] = 1
    labels[len(ctcf):, 0] = pu1_in_ctcf
    source = np.r_[np.zeros(len(ctcf), np.int8), np.ones(len(pu1), np.int8)]
    overlap = np.r_[ctcf_in_pu1, pu1_in_ctcf]
    shuffled = dinucleotide_shuffle(x, n=1, random_state=seed)[:, 0]
    all_x = torch.cat([x, shuffled])
    all_labels = np.concatenate([labels, np.zeros_like(labels)])
    all_source = np.r_[source, source + 2].astype(np.int8)
    all_overlap = np.r_[overlap, np.zeros_like(overlap)]
    all_chrom = np.r_[chrom, chrom]
    names = np.r_[ctcf.names, pu1.names]
    all_names = np.r_[names, names]
    part = np.where(np.isin(all_chrom, TEST_CHROMS), "test",
                    np.where(np.isin(all_chrom, VALID_CHROMS), "valid", "train"))
    splits = {}
    for name in ("train", "valid", "test"):
        rows = part == name
        splits[name] = Split(all_x[torch.as_tensor(rows)], all_labels[rows], all_source[rows],
                             all_overlap[rows], all_names[rows])
    return splits


def eval_subset(split: Split, n_per_task: int, seed: int) -> Peaks:
    """``n_per_task`` seeded peaks per task of ``split``, then their shuffles, as :class:`Peaks`.

    Fields (what :func:`explorer.io.peaks.write_peaks` puts in each header): ``source``
    (one of :data:`SOURCES`; a shuffle keeps the name of the peak it was made from),
    ``CTCF`` and ``SPI1`` (labels, 0 or 1) and ``overlap`` (0 or 1).
    """
    rng = np.random.default_rng(seed)
    half = len(split) // 2
    rows = []
    for t in range(len(TASKS)):
        peaks = np.flatnonzero(split.source[:half] == t)
        chosen = np.sort(rng.choice(peaks, size=min(n_per_task, peaks.size), replace=False))
        rows += [chosen, chosen + half]
    rows = np.concatenate(rows)
    chrom, span = np.char.rpartition(split.names[rows], ":")[:, [0, 2]].T
    start, end = np.char.partition(span, "-")[:, [0, 2]].T
    fields = {"source": np.array([SOURCES[s] for s in split.source[rows]], dtype=str)}
    fields.update({task: split.labels[rows, t].astype(int).astype(str) for t, task in enumerate(TASKS)})
    fields["overlap"] = split.overlap[rows].astype(int).astype(str)
    return Peaks(chrom, start.astype(np.int64), end.astype(np.int64),
                 split.one_hot[torch.as_tensor(rows)], fields)


def subset_labels(peaks: Peaks) -> tuple[np.ndarray, np.ndarray]:
    """``source`` (index into :data:`SOURCES`, int, shape (N,)) and ``overlap`` (bool, shape
    (N,)) of peaks read from a file written from :func:`eval_subset`."""
    source = np.array([SOURCES.index(s) for s in peaks.fields["source"]], dtype=int)
    return source, peaks.fields.get("overlap", np.zeros(len(peaks), str)) == "1"


def task_metrics(logits: np.ndarray, source: np.ndarray, overlap: np.ndarray) -> dict:
    """Per task: auROC/auPRC of its peaks vs their shuffles and vs the other task's peaks.

    Parameters
    ----------
    logits : np.ndarray, shape (N, 2)
        In :data:`TASKS` order.
    source, overlap : np.ndarray, shape (N,)
        As in :class:`Split`. Against the other task, the other task's peaks that overlap
        one of this task's peaks are left out.
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

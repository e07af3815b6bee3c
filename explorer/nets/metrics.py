"""Classification metrics for evaluating networks: auROC and auPRC, without scikit-learn."""

from __future__ import annotations

import numpy as np


def auroc(y_true, score) -> float:
    """Area under the ROC curve (Mann-Whitney U with average ranks for ties).

    Parameters
    ----------
    y_true : array-like of bool, shape (N,)
    score : array-like of float, shape (N,)

    Raises
    ------
    ValueError
        Without at least one positive and one negative.
    """
    from scipy.stats import rankdata

    y_true = np.asarray(y_true).astype(bool)
    n_pos, n_neg = int(y_true.sum()), int((~y_true).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError(f"auROC needs positives and negatives; got {n_pos} and {n_neg}")
    ranks = rankdata(score)
    return float((ranks[y_true].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def auprc(y_true, score) -> float:
    """Area under the precision-recall curve as average precision (scikit-learn's definition).

    Parameters
    ----------
    y_true : array-like of bool, shape (N,)
    score : array-like of float, shape (N,)

    Raises
    ------
    ValueError
        Without a positive.
    """
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

"""Metrics recorded after every epoch or sweep, cheap enough to run that often.

scikit-learn's ``roc_auc_score`` validates its input and builds the whole ROC curve;
on frappe's 28,860 test rows it took ~8 ms, a third of an MCMC sweep. The AUC needs one
sort and one pass.
"""

from __future__ import annotations

import numpy as np


def roc_auc(positive: np.ndarray, score: np.ndarray, sample_weight: np.ndarray) -> float:
    """Weighted area under the ROC curve; tied scores count one half (as scikit-learn).

    AUC = P(score of a positive > score of a negative) + ½ P(tie), with rows weighted by
    ``sample_weight``: sort once, then for each run of equal scores add its positive
    weight times (the negative weight below it + half the negative weight in the run).
    NaN when either class has no weight.
    """
    order = np.argsort(score, kind="stable")
    s = score[order]
    w = sample_weight[order]
    is_pos = positive[order]
    w_pos = np.where(is_pos, w, 0.0)
    w_neg = w - w_pos
    starts = np.concatenate(([0], np.flatnonzero(s[1:] != s[:-1]) + 1))
    run_pos = np.add.reduceat(w_pos, starts)
    run_neg = np.add.reduceat(w_neg, starts)
    total_pos, total_neg = run_pos.sum(), run_neg.sum()
    if total_pos <= 0.0 or total_neg <= 0.0:
        return float("nan")
    neg_below = np.cumsum(run_neg) - run_neg
    return float(np.dot(run_pos, neg_below + 0.5 * run_neg) / (total_pos * total_neg))

"""Row merges for fmlearn.dask: the blocks' rows of a parameter array folded into the
global array in place, in one pass over the rows the blocks sent, no temporaries (numpy's
fancy-index arithmetic over the touched rows made the merge, not the training, the cost of
a round)."""

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def weighted_mean_rows(target, weight, parts_rows, parts_values, parts_weights):
    """``target[i] = Σ_p w_pi · v_pi / Σ_p w_pi`` over the parts that hold row i; rows no
    part holds are left alone. ``weight`` is an all-zero scratch array of one entry per
    row of ``target``, returned all zero. Arrays are 2-D (rows × columns)."""
    k = target.shape[1]
    for p in range(len(parts_rows)):
        rows, values, w = parts_rows[p], parts_values[p], parts_weights[p]
        for j in range(rows.shape[0]):
            i = rows[j]
            if weight[i] == 0.0:
                for f in range(k):
                    target[i, f] = 0.0
            weight[i] += w[j]
            for f in range(k):
                target[i, f] += w[j] * np.float64(values[j, f])
    for p in range(len(parts_rows)):
        rows = parts_rows[p]
        for j in range(rows.shape[0]):
            i = rows[j]
            if weight[i] != 0.0:
                for f in range(k):
                    target[i, f] /= weight[i]
                weight[i] = 0.0


@njit(cache=True, nogil=True)
def add_changes(target, parts_rows, parts_values, parts_sent):
    """``target[rows_p[j]] += values_p[j] − sent_p[j]`` for every part: the changes each
    block made to the rows it was sent, added up."""
    k = target.shape[1]
    for p in range(len(parts_rows)):
        rows, values, sent = parts_rows[p], parts_values[p], parts_sent[p]
        for j in range(rows.shape[0]):
            i = rows[j]
            for f in range(k):
                target[i, f] += np.float64(values[j, f]) - np.float64(sent[j, f])


@njit(cache=True, nogil=True)
def ftrl_duals(z, n, theta, rows, alpha, beta, l1):
    """FTRL's z for ``rows`` set so that its closed form gives back the merged weights
    ``theta`` given the merged ``n`` (``z = −θ (β + √n) / α − λ1 sign θ``; a zero weight
    keeps a z within ±λ1), as ``solvers.sgd._ftrl_z`` does when α, β or λ1 change."""
    k = theta.shape[1]
    for j in range(rows.shape[0]):
        i = rows[j]
        for f in range(k):
            t = np.float64(theta[i, f])
            if t == 0.0:
                z[i, f] = min(max(np.float64(z[i, f]), -l1), l1)
            else:
                sign = 1.0 if t > 0 else -1.0
                z[i, f] = -(beta + np.sqrt(np.float64(n[i, f]))) / alpha * t - l1 * sign

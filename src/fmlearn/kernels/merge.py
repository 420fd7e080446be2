"""Row merges for fmlearn.dask: the blocks' rows of a parameter array folded into the
global array in place, in one pass over the rows the blocks sent, no temporaries (numpy's
fancy-index arithmetic over the touched rows made the merge, not the training, the cost of
a round)."""

import numpy as np
from numba import njit


# One call per part (block) with plain arrays: a numba typed List of the parts cost ~1.7 s
# of compilation in every process that merged (typed-list code is not cached).
@njit(cache=True, nogil=True)
def add_weighted_rows(target, weight, rows, values, w):
    """First half of ``target[i] = Σ_p w_pi · v_pi / Σ_p w_pi`` over the parts p that hold
    row i: add one part's ``w · v`` (a row's first part zeroes it) and ``w`` into the
    all-zero scratch ``weight`` (one entry per row of ``target``). Arrays are 2-D (rows ×
    columns)."""
    k = target.shape[1]
    for j in range(rows.shape[0]):
        i = rows[j]
        if weight[i] == 0.0:
            for f in range(k):
                target[i, f] = 0.0
        weight[i] += w[j]
        for f in range(k):
            target[i, f] += w[j] * np.float64(values[j, f])


@njit(cache=True, nogil=True)
def divide_rows(target, weight, rows):
    """Second half, per part once every part was added: divide the rows it holds by
    their summed weight (once: the weight goes back to 0). Rows no part holds are left
    alone."""
    k = target.shape[1]
    for j in range(rows.shape[0]):
        i = rows[j]
        if weight[i] != 0.0:
            for f in range(k):
                target[i, f] /= weight[i]
            weight[i] = 0.0


@njit(cache=True, nogil=True)
def add_changes(target, rows, values, sent):
    """``target[rows[j]] += values[j] − sent[j]``: the change one block made to the rows
    it was sent (called for every block: their changes add up)."""
    k = target.shape[1]
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

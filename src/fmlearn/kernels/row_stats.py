"""Statistics of CSR rows that fitting needs before the first epoch."""

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def mean_pairs(indptr, data):
    """Mean over rows of ``Σ_{i<j} x_i² x_j² = ½((Σ_i x_i²)² − Σ_i x_i⁴)``: the number of
    feature pairs of a one-hot row, which sets the spread of an FM's initial pairwise
    term. One pass, O(1) memory: a numpy version through running sums of ``data`` held
    four float64 copies of it (1.2 GB and 2.9 s on 39 M values, more than an epoch)."""
    n_rows = indptr.shape[0] - 1
    total = 0.0
    for row in range(n_rows):
        s2 = 0.0
        s4 = 0.0
        for p in range(indptr[row], indptr[row + 1]):
            x2 = np.float64(data[p]) * np.float64(data[p])
            s2 += x2
            s4 += x2 * x2
        total += 0.5 * (s2 * s2 - s4)
    return total / max(n_rows, 1)


@njit(cache=True, nogil=True)
def mean_subsets(indptr, data, order):
    """Mean over rows of ``e_m(x²) = Σ_{i1<…<im} x_i1² … x_im²`` for m = 2 … ``order``
    (``out[m − 2]``): the number of m-subsets of a one-hot row, which sets the spread of a
    higher-order FM's initial order-m term. The elementary symmetric polynomials by
    their recursion, O(order · nnz)."""
    n_rows = indptr.shape[0] - 1
    e = np.zeros(order + 1)
    total = np.zeros(max(order - 1, 0))
    for row in range(n_rows):
        e[:] = 0.0
        e[0] = 1.0
        for p in range(indptr[row], indptr[row + 1]):
            x2 = np.float64(data[p]) * np.float64(data[p])
            for t in range(order, 0, -1):
                e[t] += x2 * e[t - 1]
        for m in range(2, order + 1):
            total[m - 2] += e[m]
    return total / max(n_rows, 1)

"""FM prediction over CSR rows in O(k · nnz) through Rendle's identity (FM paper, lemma 3.1).

``ŷ(x) = w0 + Σ_i w_i x_i + ½ Σ_f [(Σ_i v_if x_i)² − Σ_i v_if² x_i²]``

``row_predict`` is the single implementation of the model: ``predict_csr`` and every
solver call it, so a fix or speed-up here reaches all of them. Accumulation is in float64
whatever the parameter dtype, which keeps float32 models within rounding of float64 ones.

Why it is fast: both sums are kept per factor (``q[f]`` and ``s[f]``), so the loop over
factors has no scalar reduction and LLVM vectorises it without fastmath (a single running
Σ v²x² across factors was a dependency chain: 0.96 → 1.5 M rows/s on one thread, 1 M CTR
rows × 39 one-hot fields, k 16); and the prediction loops prefetch the parameters of the
row ``PREFETCH_AHEAD`` rows on while this one is summed, because with millions of
features nearly every row's ``V`` and ``w`` lines come from memory (1.5 → 3.1 M rows/s
more; skipped for models under ``PREFETCH_MIN_BYTES``, which stay in cache).
benchmarks/README.md (issue 16) has the measurements.
"""

import numpy as np
from numba import njit, prange

from fmlearn.kernels.prefetch import PREFETCH_AHEAD, PREFETCH_MIN_BYTES, prefetch


@njit(cache=True, nogil=True, inline="always")
def row_predict(indptr, indices, data, row, w0, w, V, q, s):
    """Return ŷ for one CSR row and fill ``q[f] = Σ_i v_if x_i``.

    ``q`` (float64, length k) is returned to the caller because the factor gradient
    ``∂ŷ/∂v_if = x_i (q_f − v_if x_i)`` needs it: SGD reuses it instead of recomputing.
    ``s`` (float64, length k) is scratch: ``s[f] = Σ_i v_if² x_i²`` on return.
    """
    k = V.shape[1]
    for f in range(k):
        q[f] = 0.0
        s[f] = 0.0
    linear = 0.0
    for p in range(indptr[row], indptr[row + 1]):
        i = indices[p]
        x = np.float64(data[p])
        linear += w[i] * x
        for f in range(k):
            vx = V[i, f] * x
            q[f] += vx
            s[f] += vx * vx
    pairwise = 0.0
    for f in range(k):
        pairwise += q[f] * q[f] - s[f]
    return w0 + linear + 0.5 * pairwise


@njit(cache=True, nogil=True)
def _predict_rows(indptr, indices, data, w0, w, V, out, start, stop, q, s):
    k = V.shape[1]
    row_bytes = k * V.itemsize
    large = V.shape[0] * row_bytes >= PREFETCH_MIN_BYTES
    for row in range(start, stop):
        ahead = row + PREFETCH_AHEAD
        if large and ahead < stop:
            # the intrinsic only, not kernels/prefetch.py's helpers: an inlined function
            # taking arrays costs reference counting per call, 4× the time of a row of
            # two features (ML-100K: 75 → 17 M rows/s on one thread, measured)
            for j in range(indptr[ahead], indptr[ahead + 1]):
                i = np.int64(indices[j])
                prefetch(w, i, 0)
                for offset in range(0, row_bytes, 64):
                    prefetch(V, i * k, offset)
                prefetch(V, i * k, row_bytes - 1)  # a row need not start on a line
        out[row] = row_predict(indptr, indices, data, row, w0, w, V, q, s)


@njit(cache=True, nogil=True)
def predict_csr(indptr, indices, data, w0, w, V, out):
    """Serial prediction of every row into ``out`` (float64, length n_rows)."""
    q = np.empty(V.shape[1], dtype=np.float64)
    s = np.empty(V.shape[1], dtype=np.float64)
    _predict_rows(indptr, indices, data, w0, w, V, out, 0, out.shape[0], q, s)


@njit(cache=True, nogil=True, parallel=True)
def predict_csr_parallel(indptr, indices, data, w0, w, V, out, block_rows):
    """Prediction over blocks of ``block_rows`` rows in parallel (prange).

    Each row is computed by the same ``row_predict`` with its own scratch, so the
    result is identical, bit for bit, to ``predict_csr``.
    """
    n_rows = out.shape[0]
    n_blocks = (n_rows + block_rows - 1) // block_rows
    for b in prange(n_blocks):
        q = np.empty(V.shape[1], dtype=np.float64)
        s = np.empty(V.shape[1], dtype=np.float64)
        start = b * block_rows
        stop = min(start + block_rows, n_rows)
        _predict_rows(indptr, indices, data, w0, w, V, out, start, stop, q, s)

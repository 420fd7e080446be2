"""Field-aware FM (libffm's model): prediction and one SGD-family epoch.

Every feature i belongs to one field ``fields[i]`` and has one k-vector per field, so the
factor table is ``V[i, field, :]`` (n_features × n_fields × k, C order: one feature's
vectors for all fields are contiguous, and a row touches nnz contiguous blocks)::

    ŷ(x) = w0 + Σ_i w_i x_i + Σ_{a<b} <V[i_a, f(i_b)], V[i_b, f(i_a)]> x_a x_b

There is no O(k · nnz) identity here: the pair term costs O(k · nnz²) per row, which is
what every FFM implementation pays (libffm, xLearn).

The SGD step takes the exact gradient at the row's current parameters (libffm instead
updates pair by pair, so later pairs of a row see earlier pairs' steps): with
``S[a, f] = Σ_{b≠a, f(i_b)=f} V[i_b, f(i_a)] x_b``, ``∂ŷ/∂V[i_a, f] = x_a S[a, f]``. One
pass over the pairs computes ŷ and every S; a second applies the steps. Only the blocks
``V[i_a, f]`` with a partner in field f are touched and regularised (lazy, as in
kernels/sgd.py: the same objective, the same optimiser codes, hyper-parameters and state
layout, with 3-D factor slots).

Field ids must lie in ``[0, n_fields)``, or be −1 for a feature without a field (it keeps
its linear weight and takes part in no pair: ``load_libffm`` gives −1 to columns absent
from the file), and CSR rows must not repeat a column: the kernels index with them
unchecked, so the model layer validates them first.
"""

import numpy as np
from numba import njit, prange

from fmlearn.kernels import FASTMATH
from fmlearn.kernels.losses import loss_derivative, loss_value
from fmlearn.kernels.sgd import (
    ADAGRAD,
    FIT_INTERCEPT,
    FIT_LINEAR,
    L1_FACTORS,
    L1_LINEAR,
    LOSS,
    OPTIMIZER,
    SGD,
    _bias_corrections,
    _scalars,
    _step,
    _update_vector,
    _with_l1,
)


@njit(cache=True, nogil=True, inline="always")
def row_predict_ffm(indptr, indices, data, fields, row, w0, w, V):
    """ŷ for one CSR row: the pair loop, accumulated in float64."""
    k = V.shape[2]
    start, stop = indptr[row], indptr[row + 1]
    linear = 0.0
    pairwise = 0.0
    for a in range(start, stop):
        ia = indices[a]
        xa = np.float64(data[a])
        fa = fields[ia]
        linear += w[ia] * xa
        if fa < 0:
            continue
        for b in range(a + 1, stop):
            ib = indices[b]
            fb = fields[ib]
            if fb < 0:
                continue
            dot = 0.0
            for c in range(k):
                dot += np.float64(V[ia, fb, c]) * np.float64(V[ib, fa, c])
            pairwise += dot * xa * np.float64(data[b])
    return w0 + linear + pairwise


@njit(cache=True, nogil=True)
def predict_ffm_csr(indptr, indices, data, fields, w0, w, V, out):
    """Serial prediction of every row into ``out`` (float64, length n_rows)."""
    for row in range(out.shape[0]):
        out[row] = row_predict_ffm(indptr, indices, data, fields, row, w0, w, V)


@njit(cache=True, nogil=True, parallel=True)
def predict_ffm_csr_parallel(indptr, indices, data, fields, w0, w, V, out, block_rows):
    """Blocks of ``block_rows`` rows in parallel; each row as in ``predict_ffm_csr``
    (identical results, bit for bit)."""
    n_rows = out.shape[0]
    n_blocks = (n_rows + block_rows - 1) // block_rows
    for block in prange(n_blocks):
        for row in range(block * block_rows, min((block + 1) * block_rows, n_rows)):
            out[row] = row_predict_ffm(indptr, indices, data, fields, row, w0, w, V)


@njit(cache=True, nogil=True, inline="always", fastmath=FASTMATH)
def _update_block(opt, V, s1, s2, i, f, c, g, ohp, c1, c2):
    """Step ``V[i, f, c]``: the 3-D twin of ``kernels.sgd._update_matrix``."""
    if opt == SGD:
        V[i, f, c] -= ohp[0] * g
    elif opt == ADAGRAD:
        V[i, f, c], s1[i, f, c], _ = _step(opt, V[i, f, c], g, s1[i, f, c], 0.0, ohp, c1, c2)
    else:
        V[i, f, c], s1[i, f, c], s2[i, f, c] = _step(
            opt, V[i, f, c], g, s1[i, f, c], s2[i, f, c], ohp, c1, c2
        )


@njit(cache=True, nogil=True, inline="always", fastmath=FASTMATH)
def _forward(indptr, indices, data, fields, row, w0, w, V, slot_of, row_fields, S, touched):
    """ŷ of ``row``, and for each of its entries a and each field present in the row the
    sum ``S[a, slot]`` (see the module docstring) with ``touched[a, slot]`` set when the
    entry has a partner in that field; returns ``(ŷ, number of distinct fields)``."""
    k = V.shape[2]
    start, stop = indptr[row], indptr[row + 1]
    m = stop - start
    n_slots = 0
    for a in range(m):
        f = fields[indices[start + a]]
        if f >= 0 and slot_of[f] < 0:
            slot_of[f] = n_slots
            row_fields[n_slots] = f
            n_slots += 1
    for a in range(m):
        for s in range(n_slots):
            touched[a, s] = False
            for c in range(k):
                S[a, s, c] = 0.0
    linear = 0.0
    pairwise = 0.0
    for a in range(m):
        ia = indices[start + a]
        xa = np.float64(data[start + a])
        fa = fields[ia]
        linear += w[ia] * xa
        if fa < 0:
            continue
        sa_own = slot_of[fa]
        for b in range(a + 1, m):
            ib = indices[start + b]
            fb = fields[ib]
            if fb < 0:
                continue
            xb = np.float64(data[start + b])
            sb = slot_of[fb]
            dot = 0.0
            for c in range(k):
                va = np.float64(V[ia, fb, c])
                vb = np.float64(V[ib, fa, c])
                dot += va * vb
                S[a, sb, c] += vb * xb
                S[b, sa_own, c] += va * xa
            touched[a, sb] = True
            touched[b, sa_own] = True
            pairwise += dot * xa * xb
    return w0[0] + linear + pairwise, n_slots


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def _ffm_rows(X, y, sw, order, start, stop, fields, n_fields, params, state, hp, codes, t0):
    """Per-row updates for ``order[start:stop]``; returns Σ weighted loss."""
    indptr, indices, data = X
    w0, w, V = params
    s1_w0, s2_w0, s1_w, s2_w, s1_V, s2_V = state
    loss, opt = codes[LOSS], codes[OPTIMIZER]
    fit_intercept, fit_linear = codes[FIT_INTERCEPT], codes[FIT_LINEAR]
    (reg_bias, reg_linear, reg_factors), ohp = _scalars(hp)
    ohp_w, ohp_v = _with_l1(ohp, hp[L1_LINEAR]), _with_l1(ohp, hp[L1_FACTORS])
    weighted = sw.shape[0] > 0
    k = V.shape[2]
    longest = 0
    for pos in range(start, stop):
        r = order[pos]
        longest = max(longest, indptr[r + 1] - indptr[r])
    width = max(1, min(longest, n_fields))  # distinct fields in a row: at most this many
    slot_of = np.full(n_fields, -1, dtype=np.int64)
    row_fields = np.empty(width, dtype=np.int64)
    S = np.empty((longest, width, k))
    touched = np.empty((longest, width), dtype=np.bool_)
    total = 0.0
    for pos in range(start, stop):
        r = order[pos]
        p, n_slots = _forward(
            indptr, indices, data, fields, r, w0, w, V, slot_of, row_fields, S, touched
        )
        weight = sw[r] if weighted else 1.0
        total += weight * loss_value(loss, p, y[r])
        g = weight * loss_derivative(loss, p, y[r])
        r_bias, r_lin, r_fac = weight * reg_bias, weight * reg_linear, weight * reg_factors
        c1, c2 = _bias_corrections(opt, ohp, t0 + pos + 1)
        if fit_intercept:
            _update_vector(opt, w0, s1_w0, s2_w0, 0, g + r_bias * w0[0], ohp, c1, c2)
        row_start = indptr[r]
        for a in range(indptr[r + 1] - row_start):
            ia = indices[row_start + a]
            gx = g * np.float64(data[row_start + a])
            if fit_linear:
                _update_vector(opt, w, s1_w, s2_w, ia, gx + r_lin * w[ia], ohp_w, c1, c2)
            for s in range(n_slots):
                if not touched[a, s]:
                    continue
                f = row_fields[s]
                if opt == ADAGRAD:
                    # AdaGrad written out: without the optimiser branch in the k-loop LLVM
                    # vectorises it, square roots and divisions included.
                    lr, eps = ohp[0], ohp[3]
                    for c in range(k):
                        v = V[ia, f, c]
                        gv = gx * S[a, s, c] + r_fac * v
                        acc = s1_V[ia, f, c] + gv * gv
                        s1_V[ia, f, c] = acc
                        V[ia, f, c] = v - lr * gv / (np.sqrt(acc) + eps)
                    continue
                for c in range(k):
                    gv = gx * S[a, s, c] + r_fac * V[ia, f, c]
                    _update_block(opt, V, s1_V, s2_V, ia, f, c, gv, ohp_v, c1, c2)
        for s in range(n_slots):
            slot_of[row_fields[s]] = -1
    return total


@njit(cache=True, nogil=True)
def ffm_sgd_epoch(X, y, sw, order, fields, n_fields, params, state, hp, codes, t0):
    """One pass over the rows ``order``; returns Σ weighted loss. Serial, reproducible.

    ``X`` is the CSR triplet, ``params = (w0, w, V)`` with V of shape (n, n_fields, k),
    ``state`` the optimiser slots (``kernels.sgd`` layout), ``hp``/``codes`` as there;
    all updated in place. ``t0``: updates made before this epoch (Adam).
    """
    n = order.shape[0]
    return _ffm_rows(X, y, sw, order, 0, n, fields, n_fields, params, state, hp, codes, t0)


@njit(cache=True, nogil=True, parallel=True)
def ffm_sgd_epoch_hogwild(X, y, sw, order, fields, n_fields, params, state, hp, codes, t0,
                          n_chunks):  # fmt: skip
    """``ffm_sgd_epoch`` with ``order`` cut into ``n_chunks`` run on threads without
    locks (Hogwild!): fast on sparse data, not reproducible bit for bit."""
    n = order.shape[0]
    chunk = (n + n_chunks - 1) // n_chunks
    total = 0.0
    for c in prange(n_chunks):
        start = c * chunk
        stop = min(start + chunk, n)
        total += _ffm_rows(
            X, y, sw, order, start, stop, fields, n_fields, params, state, hp, codes, t0
        )
    return total

"""Higher-order FM (Blondel et al., NeurIPS 2016): prediction and one SGD-family epoch.

With separate factors per order (``V[:, m-2, :]`` are the order-m factors)::

    ŷ(x) = w0 + Σ_i w_i x_i + Σ_{m=2}^{d} Σ_f A^m(p^{(m)}_f, x)

where ``A^m(p, x) = Σ_{i1<…<im} Π_t p_{i_t} x_{i_t}`` is the ANOVA kernel of order m: the
m-th elementary symmetric polynomial ``e_m`` of the values ``a_j = p_j x_j`` over the row's
non-zeros. For d = 2 it is the classic FM.

Prediction is the dynamic programme of Blondel et al. (2016), in its elementary symmetric
form: start from ``e_0 = 1, e_1..e_m = 0`` and, feature by feature, ``e_t += a_j e_{t−1}``
for t = m … 1. With separate factors each order keeps its own table, so a row
costs Σ_{m=2}^{d} m · k multiply-adds per non-zero: **O(d² k nnz)** (d = 2: 2 k nnz, about
Rendle's identity; d = 3: 5 k nnz; d = 4: 9 k nnz; d = 5: 14 k nnz), and its parameters
are (d − 1) k + 1 numbers per feature. The loops run feature outside, factor inside, so
LLVM vectorises them over f. Accumulation is in float64 whatever the parameter dtype.

Gradient: ``∂A^m/∂a_j = e_{m−1}`` of the row's values *without* j, obtained from the
row's polynomials by deflation, ``r_0 = 1, r_t = e_t − a_j r_{t−1}`` (since ``e_t = r_t +
a_j r_{t−1}``); so ``∂ŷ/∂V[j, m−2, f] = x_j r_{m−1}``, O(m) per (j, m, f): a step adds
O(d² k nnz) to the prediction, with no buffer beyond one feature's r (Blondel et al.
differentiate the dynamic programme backwards instead, with a table per non-zero). Every
r of a row uses the ``e`` of the prediction and ``a_j`` as it was before the row's steps
(``V[j]`` is read before it is written and the ``e`` table is not touched by the steps),
so the steps of a row do not see each other.

Numerical caveat of the deflation: it subtracts ``a_j r_{t−1}`` from ``e_t``. When one
``|a_j|`` dominates the row's others, ``e_t`` is mostly ``a_j r_{t−1}`` and the difference
loses digits: the relative error of ``r_{m−1}`` grows about like ε · (|a_j| / typical
|a_i|)^{m−1} (ε the float64 rounding). Measured on 39 values at order 5, against exact
rational arithmetic: one |a_j| 10× the others' 2e-13, 100× 2e-9, 1000× 7e-6, 10⁴× 0.2
(that feature's own gradient only; the others' stay at rounding level). With factors of
comparable size it is at rounding level; tests/kernels/test_anova.py checks the 100× case.
Differentiating the programme backwards (prefix and suffix tables) avoids the subtraction.

Regularisation is lazy and weighted by the sample weight exactly as in kernels/sgd.py's
per-row epoch: every factor of a present feature (all orders) is shrunk with
``reg_factors``, its weight with ``reg_linear``. Optimisers through ``kernels.sgd._step``
(SGD and AdaGrad written out so that the factor loop vectorises), FTRL's L1 per array
through ``_with_l1`` (none for w0, ``l1_linear`` for w, ``l1_factors`` for V).
"""

import numpy as np
from numba import njit, prange

from fmlearn.kernels import FASTMATH
from fmlearn.kernels.losses import loss_derivative, loss_value
from fmlearn.kernels.prefetch import PREFETCH_AHEAD, PREFETCH_MIN_BYTES, prefetch
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
    _with_l1,
)


@njit(cache=True, nogil=True)
def anova_scratch(V):
    """The float64 table ``E`` of :func:`row_predict_anova`: shape (d − 1, d + 1, k)."""
    n_orders = V.shape[1]
    return np.empty((n_orders, n_orders + 2, V.shape[2]), dtype=np.float64)


@njit(cache=True, nogil=True, inline="always")
def row_predict_anova(indptr, indices, data, row, w0, w, V, E):
    """ŷ of CSR ``row`` for the parameters ``w0`` (a float), ``w`` (n,), ``V`` (n, d−1, k).

    ``E`` (float64, (d − 1, ≥ d + 1, k)) is scratch; on return ``E[m−2, t, f]`` holds the
    elementary symmetric polynomial e_t (t = 0 … m) of the row's values
    ``a_j = V[j, m−2, f] x_j``, per order m = 2 … d and factor f (the gradient reads it).
    O(d² k nnz): order m costs m multiply-adds per (non-zero, factor).
    """
    n_orders, k = V.shape[1], V.shape[2]
    for o in range(n_orders):
        for f in range(k):
            E[o, 0, f] = 1.0
        for t in range(1, o + 3):
            for f in range(k):
                E[o, t, f] = 0.0
    linear = 0.0
    for p in range(indptr[row], indptr[row + 1]):
        i = indices[p]
        x = np.float64(data[p])
        linear += w[i] * x
        # Orders 2–5 written out, one after the other: one loop over f per order whose
        # body updates every e_t from registers vectorises whole, while the generic loop
        # (t outside, f inside) pays a loop set-up and alias checks per t. Measured (k 16,
        # 39 non-zeros, one thread): 1.7–2.3× faster than the generic loop at d = 2–5,
        # and faster than a branch per order inside a loop over orders (d = 2: 740 → 390
        # ns a row) or one loop over f for all orders (too many pointers for LLVM's
        # alias checks: not vectorised, 2× slower at d = 5). Same operations in the same
        # order as the generic loop, so the same bits.
        if n_orders >= 1:  # (0: d = 1, a linear model)
            for f in range(k):
                a = V[i, 0, f] * x
                e1 = E[0, 1, f]
                E[0, 2, f] += a * e1
                E[0, 1, f] = e1 + a
        if n_orders >= 2:
            for f in range(k):
                a = V[i, 1, f] * x
                e1, e2 = E[1, 1, f], E[1, 2, f]
                E[1, 3, f] += a * e2
                E[1, 2, f] = e2 + a * e1
                E[1, 1, f] = e1 + a
        if n_orders >= 3:
            for f in range(k):
                a = V[i, 2, f] * x
                e1, e2, e3 = E[2, 1, f], E[2, 2, f], E[2, 3, f]
                E[2, 4, f] += a * e3
                E[2, 3, f] = e3 + a * e2
                E[2, 2, f] = e2 + a * e1
                E[2, 1, f] = e1 + a
        if n_orders >= 4:
            for f in range(k):
                a = V[i, 3, f] * x
                e1, e2, e3, e4 = E[3, 1, f], E[3, 2, f], E[3, 3, f], E[3, 4, f]
                E[3, 5, f] += a * e4
                E[3, 4, f] = e4 + a * e3
                E[3, 3, f] = e3 + a * e2
                E[3, 2, f] = e2 + a * e1
                E[3, 1, f] = e1 + a
        for o in range(4, n_orders):  # orders 6 and up: the generic loop
            # t downwards: e_t takes e_{t−1} as it was before this feature
            for t in range(o + 2, 0, -1):
                for f in range(k):
                    E[o, t, f] += V[i, o, f] * x * E[o, t - 1, f]
    interactions = 0.0
    for o in range(n_orders):
        for f in range(k):
            interactions += E[o, o + 2, f]
    return w0 + linear + interactions


@njit(cache=True, nogil=True)
def _predict_rows(indptr, indices, data, w0, w, V, out, start, stop, E):
    block = V.shape[1] * V.shape[2]  # one feature's factors, all orders: contiguous
    row_bytes = block * V.itemsize
    large = V.shape[0] * row_bytes >= PREFETCH_MIN_BYTES
    for row in range(start, stop):
        ahead = row + PREFETCH_AHEAD
        if large and ahead < stop:
            # the intrinsic only (kernels/predict.py: no arrays through inlined helpers)
            for j in range(indptr[ahead], indptr[ahead + 1]):
                i = np.int64(indices[j])
                prefetch(w, i, 0)
                for offset in range(0, row_bytes, 64):
                    prefetch(V, i * block, offset)
                prefetch(V, i * block, row_bytes - 1)
        out[row] = row_predict_anova(indptr, indices, data, row, w0, w, V, E)


@njit(cache=True, nogil=True)
def predict_anova_csr(indptr, indices, data, w0, w, V, out):
    """Serial prediction of every row into ``out`` (float64, length n_rows)."""
    # start as an int64, not the literal 0: the parallel kernel then reuses this compiled
    # _predict_rows instead of compiling its own (~1 s)
    start = np.int64(0)
    _predict_rows(indptr, indices, data, w0, w, V, out, start, out.shape[0], anova_scratch(V))


@njit(cache=True, nogil=True, parallel=True)
def predict_anova_csr_parallel(indptr, indices, data, w0, w, V, out, block_rows):
    """Blocks of ``block_rows`` rows in parallel, each row as in ``predict_anova_csr``
    (identical results, bit for bit)."""
    n_rows = out.shape[0]
    n_blocks = (n_rows + block_rows - 1) // block_rows
    for b in prange(n_blocks):
        start = b * block_rows
        stop = min(start + block_rows, n_rows)
        _predict_rows(indptr, indices, data, w0, w, V, out, start, stop, anova_scratch(V))


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def _anova_rows(X, y, sw, order, start, stop, params, state, hp, codes, t0, E, r):
    """Per-row updates for ``order[start:stop]``; returns Σ weighted loss. ``E`` (as
    :func:`anova_scratch`) and ``r`` (float64, length (d − 1)·k) are this thread's scratch.
    V and its optimiser state must be C-contiguous (read through 2-D views)."""
    indptr, indices, data = X
    w0, w, V = params
    s1_w0, s2_w0, s1_w, s2_w, s1_V, s2_V = state
    loss, opt = codes[LOSS], codes[OPTIMIZER]
    fit_intercept, fit_linear = codes[FIT_INTERCEPT], codes[FIT_LINEAR]
    (reg_bias, reg_linear, reg_factors), ohp = _scalars(hp)
    ohp_w, ohp_v = _with_l1(ohp, hp[L1_LINEAR]), _with_l1(ohp, hp[L1_FACTORS])
    weighted = sw.shape[0] > 0
    n_orders, k = V.shape[1], V.shape[2]
    block = n_orders * k
    row_bytes = block * V.itemsize
    has_s1, has_s2 = s1_w0.shape[0] > 0, s2_w0.shape[0] > 0
    large = V.shape[0] * row_bytes >= PREFETCH_MIN_BYTES
    # one feature's factors of every order as one row (views: V and its state are
    # C-contiguous; an unused state slot is empty)
    VF = V.reshape((V.shape[0], block))
    s1_VF = s1_V.reshape((s1_V.shape[0], block if s1_V.shape[0] else 0))
    s2_VF = s2_V.reshape((s2_V.shape[0], block if s2_V.shape[0] else 0))
    total = 0.0
    for pos in range(start, stop):
        # the pipeline of kernels/sgd.py, written with the intrinsic: CSR offsets 3·A
        # rows ahead, indices and values 2·A, parameters and optimiser state A
        if large and pos + 3 * PREFETCH_AHEAD < stop:
            prefetch(indptr, order[pos + 3 * PREFETCH_AHEAD], 0)
        if large and pos + 2 * PREFETCH_AHEAD < stop:
            far = order[pos + 2 * PREFETCH_AHEAD]
            lo, hi = indptr[far], indptr[far + 1]
            for j in range(lo, hi, 8):
                prefetch(indices, j, 0)
                prefetch(data, j, 0)
            if hi > lo:
                prefetch(indices, hi - 1, 0)
                prefetch(data, hi - 1, 0)
        if large and pos + PREFETCH_AHEAD < stop:
            ahead = order[pos + PREFETCH_AHEAD]
            prefetch(y, ahead, 0)
            if weighted:
                prefetch(sw, ahead, 0)
            for j in range(indptr[ahead], indptr[ahead + 1]):
                i = np.int64(indices[j])
                prefetch(w, i, 0)
                for offset in range(0, row_bytes, 64):
                    prefetch(V, i * block, offset)
                prefetch(V, i * block, row_bytes - 1)
                if has_s1:
                    prefetch(s1_w, i, 0)
                    for offset in range(0, row_bytes, 64):
                        prefetch(s1_V, i * block, offset)
                    prefetch(s1_V, i * block, row_bytes - 1)
                if has_s2:
                    prefetch(s2_w, i, 0)
                    for offset in range(0, row_bytes, 64):
                        prefetch(s2_V, i * block, offset)
                    prefetch(s2_V, i * block, row_bytes - 1)
        row = order[pos]
        p = row_predict_anova(indptr, indices, data, row, w0[0], w, V, E)
        weight = sw[row] if weighted else 1.0
        total += weight * loss_value(loss, p, y[row])
        g = weight * loss_derivative(loss, p, y[row])
        r_bias, r_lin, r_fac = weight * reg_bias, weight * reg_linear, weight * reg_factors
        c1, c2 = _bias_corrections(opt, ohp, t0 + pos + 1)
        if fit_intercept:
            a1 = s1_w0[0] if has_s1 else 0.0
            a2 = s2_w0[0] if has_s2 else 0.0
            w0[0], a1, a2 = _step(opt, w0[0], g + r_bias * w0[0], a1, a2, ohp, c1, c2)
            if has_s1:
                s1_w0[0] = a1
            if has_s2:
                s2_w0[0] = a2
        for ptr in range(indptr[row], indptr[row + 1]):
            i = indices[ptr]
            x = np.float64(data[ptr])
            gx = g * x
            if fit_linear:
                a1 = s1_w[i] if has_s1 else 0.0
                a2 = s2_w[i] if has_s2 else 0.0
                w[i], a1, a2 = _step(opt, w[i], gx + r_lin * w[i], a1, a2, ohp_w, c1, c2)
                if has_s1:
                    s1_w[i] = a1
                if has_s2:
                    s2_w[i] = a2
            # r_{m−1} = e_{m−1} of the row without i, by deflation (module docstring), for
            # every order into r[o·k + f]: from E (the prediction's) and V[i] as it is
            # before the step below. Orders 2–5 written out (one vectorised loop each, as
            # in row_predict_anova).
            if n_orders >= 1:
                for f in range(k):
                    r[f] = E[0, 1, f] - V[i, 0, f] * x
            if n_orders >= 2:
                for f in range(k):
                    a = V[i, 1, f] * x
                    r[k + f] = E[1, 2, f] - a * (E[1, 1, f] - a)
            if n_orders >= 3:
                for f in range(k):
                    a = V[i, 2, f] * x
                    r[2 * k + f] = E[2, 3, f] - a * (E[2, 2, f] - a * (E[2, 1, f] - a))
            if n_orders >= 4:
                for f in range(k):
                    a = V[i, 3, f] * x
                    r[3 * k + f] = E[3, 4, f] - a * (
                        E[3, 3, f] - a * (E[3, 2, f] - a * (E[3, 1, f] - a))
                    )
            for o in range(4, n_orders):
                for f in range(k):
                    r[o * k + f] = 1.0
                for t in range(1, o + 2):
                    for f in range(k):
                        r[o * k + f] = E[o, t, f] - V[i, o, f] * x * r[o * k + f]
            # One step loop over all the feature's factors (VF = V as (n, (d − 1)·k)): one
            # loop set-up per feature, not one per order.
            if opt == SGD:
                lr = ohp_v[0]
                for u in range(block):
                    v = VF[i, u]
                    VF[i, u] = v - lr * (gx * r[u] + r_fac * v)
                continue
            if opt == ADAGRAD:
                lr, eps = ohp_v[0], ohp_v[3]
                for u in range(block):
                    v = VF[i, u]
                    gv = gx * r[u] + r_fac * v
                    acc = s1_VF[i, u] + gv * gv
                    s1_VF[i, u] = acc
                    VF[i, u] = v - lr * gv / (np.sqrt(acc) + eps)
                continue
            for u in range(block):  # Adam, FTRL: both state slots
                v = VF[i, u]
                VF[i, u], s1_VF[i, u], s2_VF[i, u] = _step(
                    opt, v, gx * r[u] + r_fac * v, s1_VF[i, u], s2_VF[i, u], ohp_v, c1, c2
                )
    return total


@njit(cache=True, nogil=True)
def anova_sgd_epoch(X, y, sw, order, params, state, hp, codes, t0):
    """One pass of per-row steps over the rows ``order``; returns Σ weighted loss.

    As ``kernels.sgd.sgd_epoch`` with ``batch_size=1``: ``X`` the CSR triplet, ``sw`` the
    sample weights (empty: all 1), ``params = (w0[1], w, V[n, d−1, k])``, ``state`` the six
    optimiser arrays ``(s1_w0, s2_w0, s1_w, s2_w, s1_V, s2_V)`` shaped like the parameters
    (empty when unused), ``hp``/``codes`` the vectors of kernels/sgd.py, ``t0`` the number
    of updates before this epoch (Adam). All updated in place; serial and reproducible.
    """
    V = params[2]
    E, r = anova_scratch(V), np.empty(V.shape[1] * V.shape[2])
    n = order.shape[0]
    start = np.int64(0)  # not the literal 0: the Hogwild kernel reuses this compilation
    return _anova_rows(X, y, sw, order, start, n, params, state, hp, codes, t0, E, r)


@njit(cache=True, nogil=True, parallel=True)
def anova_sgd_epoch_hogwild(X, y, sw, order, params, state, hp, codes, t0, n_chunks):
    """``anova_sgd_epoch`` with ``order`` cut into ``n_chunks`` run on threads without
    locks (Hogwild!): not reproducible bit for bit unless ``n_chunks == 1``."""
    n = order.shape[0]
    chunk = (n + n_chunks - 1) // n_chunks
    total = 0.0
    for c in prange(n_chunks):
        start = c * chunk
        stop = min(start + chunk, n)
        V = params[2]
        E, r = anova_scratch(V), np.empty(V.shape[1] * V.shape[2])
        total += _anova_rows(X, y, sw, order, start, stop, params, state, hp, codes, t0, E, r)
    return total

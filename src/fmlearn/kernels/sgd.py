"""One epoch of stochastic gradient descent on the FM, for the SGD family of optimisers.

The gradient comes from ``row_predict``: with ``q_f = Σ_j v_jf x_j`` already computed,
``∂ŷ/∂w0 = 1``, ``∂ŷ/∂w_i = x_i`` and ``∂ŷ/∂v_if = x_i (q_f − v_if x_i)`` (Rendle 2012,
eq. 7), so an update costs O(k · nnz(x)) like a prediction.

Regularisation is *lazy*, as in libFM: only parameters of features present in the row
(or mini-batch) are updated and shrunk. This keeps an update O(k · nnz) on sparse data;
the price is that a feature's effective L2 strength grows with its frequency. Precisely,
the objective is Σ_n s_n [loss(ŷ_n, y_n) + ½ Σ_{i ∈ x_n} (λ_w w_i² + λ_v ‖v_i‖²)]: each row's
penalty is weighted by its sample weight s_n like its loss, so weight 2 means the row
twice and weight 0 means no row. ALS (kernels/coordinate.py) minimises the same objective.

Optimiser codes (mirrored by :class:`Optimizer`): ``SGD`` — plain steps;
``ADAGRAD`` — per-parameter step ``lr / (√Σg² + ε)``; ``ADAM`` — bias-corrected moments
with the global update count ``t`` (lazy Adam: an absent feature's moments do not decay);
``FTRL`` — FTRL-Proximal (McMahan et al. 2013, algorithm 1) with state ``(z, n)``: the
weight is recomputed in closed form from them after each step, and is exactly 0 while
``|z| ≤ λ1``. The L2 penalty stays in the gradient (the objective above), so FTRL's own
λ2 is 0; L1 is FTRL's: ``l1_linear`` for w, ``l1_factors`` for V, none for w0. FTRL's
strength λ1 applies to each parameter's summed gradients, not per row.

``n_chunks > 1`` runs chunks of the epoch on separate threads without locks (Hogwild!,
Niu et al. 2011): fast on sparse data, but no longer bit-for-bit reproducible.
"""

from enum import IntEnum

import numpy as np
from numba import njit, prange

from fmlearn.kernels import FASTMATH
from fmlearn.kernels.losses import loss_derivative, loss_value
from fmlearn.kernels.predict import row_predict
from fmlearn.kernels.prefetch import (
    PREFETCH_AHEAD,
    PREFETCH_MIN_BYTES,
    prefetch,
    prefetch_row_params,
    prefetch_rows_ahead,
)

SGD = 0
ADAGRAD = 1
ADAM = 2
FTRL = 3


class Optimizer(IntEnum):
    SGD = SGD
    ADAGRAD = ADAGRAD
    ADAM = ADAM
    FTRL = FTRL


# Positions in the float hyper-parameter vector ``hp``.
LR, REG_BIAS, REG_LINEAR, REG_FACTORS, BETA1, BETA2, EPS, L1_LINEAR, L1_FACTORS, FTRL_BETA = range(
    10
)
N_HYPER = 10
# Positions in the int code vector ``codes``.
LOSS, OPTIMIZER, FIT_INTERCEPT, FIT_LINEAR = range(4)
N_CODES = 4


# Kernels read the hyper-parameters into a tuple of scalars ``(lr, β1, β2, ε, λ1, β)``
# once: scalars cannot alias the parameter arrays, so LLVM keeps them in registers.
@njit(cache=True, nogil=True, inline="always", fastmath=FASTMATH)
def _step(opt, value, g, s1, s2, ohp, c1, c2):
    """New (value, s1, s2) after one step of optimiser ``opt`` with gradient ``g``.

    Scalars in, scalars out: kernels index the arrays themselves. Array arguments of an
    inlined helper are reference-counted per call wherever numba cannot prune the counts
    (atomic increments and decrements: half of an ML-100K SGD epoch went to the intercept's
    step alone; docs/design.md, section 9).
    Plain SGD has no state (``s1``/``s2`` come back unchanged).
    """
    lr, beta1, beta2, eps, l1, ftrl_beta = ohp
    if opt == SGD:
        return value - lr * g, s1, s2
    if opt == ADAGRAD:
        s1 = s1 + g * g
        return value - lr * g / (np.sqrt(s1) + eps), s1, s2
    if opt == FTRL:
        # s1 = z, s2 = n = Σg²; σ makes z the dual average the closed form needs. A zero
        # gradient (a weight-0 row) changes neither, so the weight stays as it is.
        if g == 0.0:
            return value, s1, s2
        n = s2 + g * g
        sqrt_n = np.sqrt(n)
        z = s1 + g - (sqrt_n - np.sqrt(s2)) / lr * value
        if abs(z) <= l1:
            return 0.0 * value, z, n
        shrunk = z - l1 if z > 0 else z + l1
        return -shrunk * lr / (ftrl_beta + sqrt_n), z, n
    s1 = beta1 * s1 + (1.0 - beta1) * g
    s2 = beta2 * s2 + (1.0 - beta2) * g * g
    return value - lr * (s1 * c1) / (np.sqrt(s2 * c2) + eps), s1, s2


@njit(cache=True, nogil=True, inline="always")
def _bias_corrections(opt, ohp, t):
    """Adam's ``1/(1 − β^t)`` factors for update number ``t`` (1 for other optimisers)."""
    if opt != ADAM:
        return 1.0, 1.0
    return 1.0 / (1.0 - ohp[1] ** t), 1.0 / (1.0 - ohp[2] ** t)


@njit(cache=True, nogil=True, inline="always")
def _scalars(hp):
    """``(reg_bias, reg_linear, reg_factors)`` and the optimiser tuple ``(lr, β1, β2, ε, λ1,
    β)`` with λ1 = 0, the bias's (:func:`_with_l1` gives w's and V's)."""
    regs = (hp[REG_BIAS], hp[REG_LINEAR], hp[REG_FACTORS])
    return regs, (hp[LR], hp[BETA1], hp[BETA2], hp[EPS], 0.0, hp[FTRL_BETA])


@njit(cache=True, nogil=True, inline="always")
def _with_l1(ohp, l1):
    """The optimiser tuple with FTRL's L1 strength ``l1`` (only FTRL reads it)."""
    return (ohp[0], ohp[1], ohp[2], ohp[3], l1, ohp[5])


# _sgd_rows stays one loop. Measured on 90k ratings × 2.6k features: per-feature updates as
# inlined functions cost +20–40% (numba reference-counts the arrays handed to an inlined
# function, here once per feature), as plain functions 1.9× (calls); one loop per
# optimiser changes plain SGD's results in the last bit (LLVM then hoists g·(−lr) out).
@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def _sgd_rows(X, y, sw, order, start, stop, params, state, hp, codes, t0, q, s):
    """Per-row updates (``batch_size == 1``, libFM's SGD) for ``order[start:stop]``."""
    indptr, indices, data = X
    w0, w, V = params
    s1_w0, s2_w0, s1_w, s2_w, s1_V, s2_V = state
    loss, opt = codes[LOSS], codes[OPTIMIZER]
    fit_intercept, fit_linear = codes[FIT_INTERCEPT], codes[FIT_LINEAR]
    (reg_bias, reg_linear, reg_factors), ohp = _scalars(hp)
    ohp_w, ohp_v = _with_l1(ohp, hp[L1_LINEAR]), _with_l1(ohp, hp[L1_FACTORS])
    weighted = sw.shape[0] > 0
    k = V.shape[1]
    row_bytes = k * V.itemsize
    has_s1, has_s2 = s1_w0.shape[0] > 0, s2_w0.shape[0] > 0  # the optimiser's state arrays
    large = V.shape[0] * row_bytes >= PREFETCH_MIN_BYTES
    # Rows in a shuffled order are prefetched even for a model that stays in the caches
    # (ML-100K's shuffled epoch 4.3 → 3.7 ms); consecutive rows are left to the hardware
    # prefetcher (there the hints cost ML-100K's in-order epoch 2.6 → 3.3 ms).
    consecutive = stop - start < 2 or order[stop - 1] - order[start] == stop - 1 - start
    pipeline = large or not consecutive
    total = 0.0
    for pos in range(start, stop):
        # A software pipeline over the shuffled rows, each stage the loads the next one
        # needs: the row's CSR offsets 3·A rows ahead, its indices and values 2·A ahead,
        # its parameters, optimiser state, label and weight A ahead (A = PREFETCH_AHEAD).
        # Rows come in random order from millions, so without it nearly every load of a
        # step waits on memory: AdaGrad 0.33 → 0.93 M rows/s on one thread on 1 M CTR
        # rows × 39 one-hot fields, k 16 (benchmarks/README.md, issue 16); the label
        # alone took the shuffled epoch from 1.07–1.10× to 1.04× an in-order one (issue
        # 22). Hints only: the steps and their results are the same.
        # Written with the prefetch intrinsic only: inlined helpers taking arrays cost
        # reference counting per call (measured: +9 ms an epoch on ML-100K's 2-feature
        # rows, 2.8× the epoch).
        if pipeline and pos + 3 * PREFETCH_AHEAD < stop:
            prefetch(indptr, order[pos + 3 * PREFETCH_AHEAD], 0)
        if pipeline and pos + 2 * PREFETCH_AHEAD < stop:
            far = order[pos + 2 * PREFETCH_AHEAD]
            lo, hi = indptr[far], indptr[far + 1]
            for j in range(lo, hi, 8):  # steps of 8 entries: at most a line each
                prefetch(indices, j, 0)
                prefetch(data, j, 0)
            if hi > lo:
                prefetch(indices, hi - 1, 0)
                prefetch(data, hi - 1, 0)
        if pipeline and pos + PREFETCH_AHEAD < stop:
            ahead = order[pos + PREFETCH_AHEAD]
            prefetch(y, ahead, 0)
            if weighted:
                prefetch(sw, ahead, 0)
        if large and pos + PREFETCH_AHEAD < stop:
            ahead = order[pos + PREFETCH_AHEAD]
            for j in range(indptr[ahead], indptr[ahead + 1]):
                i = np.int64(indices[j])
                prefetch(w, i, 0)
                # each line of V's row, the last one too (a row need not start on a line)
                for offset in range(0, row_bytes, 64):
                    prefetch(V, i * k, offset)
                prefetch(V, i * k, row_bytes - 1)
                if has_s1:
                    prefetch(s1_w, i, 0)
                    for offset in range(0, row_bytes, 64):
                        prefetch(s1_V, i * k, offset)
                    prefetch(s1_V, i * k, row_bytes - 1)
                if has_s2:
                    prefetch(s2_w, i, 0)
                    for offset in range(0, row_bytes, 64):
                        prefetch(s2_V, i * k, offset)
                    prefetch(s2_V, i * k, row_bytes - 1)
        r = order[pos]
        p = row_predict(indptr, indices, data, r, w0[0], w, V, q, s)
        weight = sw[r] if weighted else 1.0
        total += weight * loss_value(loss, p, y[r])
        g = weight * loss_derivative(loss, p, y[r])
        # The row's penalty is weighted like its loss: weight 2 = the row twice.
        r_bias, r_lin, r_fac = weight * reg_bias, weight * reg_linear, weight * reg_factors
        c1, c2 = _bias_corrections(opt, ohp, t0 + pos + 1)
        if fit_intercept:
            a = s1_w0[0] if has_s1 else 0.0
            b = s2_w0[0] if has_s2 else 0.0
            w0[0], a, b = _step(opt, w0[0], g + r_bias * w0[0], a, b, ohp, c1, c2)
            if has_s1:
                s1_w0[0] = a
            if has_s2:
                s2_w0[0] = b
        for ptr in range(indptr[r], indptr[r + 1]):
            i = indices[ptr]
            x = np.float64(data[ptr])
            gx = g * x
            if opt == SGD:
                # Plain SGD written out: the generic branchy update below costs ~2× here
                # (measured on ML-100K), as LLVM then cannot keep the loop tight.
                lr = ohp[0]
                if fit_linear:
                    w[i] -= lr * (gx + r_lin * w[i])
                for f in range(k):
                    v = V[i, f]
                    V[i, f] = v - lr * (gx * (q[f] - v * x) + r_fac * v)
                continue
            if opt == ADAGRAD:
                # AdaGrad written out too: without the optimiser branch in the loop LLVM
                # vectorises the k-loop (1.7× on 1M-feature CTR data, measured).
                lr, eps = ohp[0], ohp[3]
                if fit_linear:
                    gl = gx + r_lin * w[i]
                    acc = s1_w[i] + gl * gl
                    s1_w[i] = acc
                    w[i] -= lr * gl / (np.sqrt(acc) + eps)
                for f in range(k):
                    v = V[i, f]
                    gv = gx * (q[f] - v * x) + r_fac * v
                    acc = s1_V[i, f] + gv * gv
                    s1_V[i, f] = acc
                    V[i, f] = v - lr * gv / (np.sqrt(acc) + eps)
                continue
            if fit_linear:  # Adam, FTRL: state s1 and s2
                w[i], s1_w[i], s2_w[i] = _step(
                    opt, w[i], gx + r_lin * w[i], s1_w[i], s2_w[i], ohp_w, c1, c2
                )
            if opt == FTRL:
                # FTRL written out (``_step``'s formulas): branch-free, LLVM vectorises
                # the k-loop (2.3× an epoch's time through the generic update, measured).
                lr, l1, beta = ohp_v[0], ohp_v[4], ohp_v[5]
                for f in range(k):
                    v = V[i, f]
                    gv = gx * (q[f] - v * x) + r_fac * v
                    n_old = s2_V[i, f]
                    n_new = n_old + gv * gv
                    sqrt_n = np.sqrt(n_new)
                    z = s1_V[i, f] + gv - (sqrt_n - np.sqrt(n_old)) / lr * v
                    shrunk = z - l1 if z > 0 else z + l1
                    new = 0.0 if abs(z) <= l1 else -shrunk * lr / (beta + sqrt_n)
                    moved = gv != 0.0  # a zero gradient leaves all three as they are
                    s1_V[i, f] = z if moved else s1_V[i, f]
                    s2_V[i, f] = n_new
                    V[i, f] = new if moved else v
                continue
            # Adam written out (``_step``'s formulas), like the others.
            lr, beta1, beta2, eps = ohp_v[0], ohp_v[1], ohp_v[2], ohp_v[3]
            for f in range(k):
                v = V[i, f]
                gv = gx * (q[f] - v * x) + r_fac * v
                m = beta1 * s1_V[i, f] + (1.0 - beta1) * gv
                u = beta2 * s2_V[i, f] + (1.0 - beta2) * gv * gv
                s1_V[i, f] = m
                s2_V[i, f] = u
                V[i, f] = v - lr * (m * c1) / (np.sqrt(u * c2) + eps)
    return total


@njit(cache=True, nogil=True, inline="always")
def _batch_buffers(indptr, order, start, stop, batch_size, n_features, k):
    """Scratch of ``_minibatch_rows``, sized by its largest row: per batch row q (b × k)
    and the loss derivative; per touched feature its slot, index, and gradient sums."""
    max_nnz = 0
    for pos in range(start, stop):
        r = order[pos]
        max_nnz = max(max_nnz, indptr[r + 1] - indptr[r])
    Q = np.empty((batch_size, k))
    G = np.empty(batch_size)
    slot = np.full(n_features, -1, dtype=np.int64)
    touched = np.empty(batch_size * max_nnz, dtype=np.int64)
    gw = np.empty(batch_size * max_nnz)
    cw = np.empty(batch_size * max_nnz)  # Σ weights of the batch rows holding the feature
    gV = np.empty((batch_size * max_nnz, k))
    s = np.empty(k)  # row_predict's scratch
    return Q, G, slot, touched, gw, cw, gV, s


@njit(cache=True, nogil=True, inline="always", fastmath=FASTMATH, error_model="numpy")
def _batch_forward(X, y, sw, order, first, last, stop, params, s1, loss, Q, G, total, q, s,
                   pipeline, large):  # fmt: skip
    """Predict the batch ``order[first:last]`` (q into ``Q``, weighted ∂loss/∂ŷ into
    ``G``); returns the running loss ``total`` plus theirs, and the batch's Σ G and Σ
    weights. ``s1`` is the optimiser's first state pair (w, V) or empty arrays.

    With ``pipeline`` (shuffled rows, or a model larger than the caches) it prefetches
    as ``_sgd_rows`` does, the rows ``order[… stop]`` after the batch's included: CSR
    entries and label ahead, and with ``large`` the parameters and optimiser state the
    step will read (``_batch_apply`` then finds them in cache)."""
    indptr, indices, data = X
    w0, w, V = params
    s1_w, s1_V = s1
    weighted = sw.shape[0] > 0
    k = V.shape[1]
    g0 = 0.0
    c0 = 0.0
    for pos in range(first, last):
        if pipeline:
            prefetch_rows_ahead(order, pos, stop, indptr, indices, data, y, sw, PREFETCH_AHEAD)
            if pos + PREFETCH_AHEAD < stop:
                ahead = order[pos + PREFETCH_AHEAD]
                if large:
                    prefetch_row_params(indptr, indices, ahead, w, V)
                    prefetch_row_params(indptr, indices, ahead, s1_w, s1_V)
        j = pos - first
        r = order[pos]
        p = row_predict(indptr, indices, data, r, w0[0], w, V, q, s)
        for f in range(k):  # into Q's row j (a view Q[j] would be reference-counted)
            Q[j, f] = q[f]
        weight = sw[r] if weighted else 1.0
        total += weight * loss_value(loss, p, y[r])
        G[j] = weight * loss_derivative(loss, p, y[r])
        g0 += G[j]
        c0 += weight
    return total, g0, c0


@njit(cache=True, nogil=True, inline="always", fastmath=FASTMATH, error_model="numpy")
def _batch_gradients(X, sw, rows, V, Q, G, slot, touched, gw, cw, gV):
    """Sum the batch's gradients per touched feature (``slot`` maps a feature to its row
    of ``gw``/``cw``/``gV``); returns how many features were touched."""
    indptr, indices, data = X
    weighted = sw.shape[0] > 0
    k = V.shape[1]
    n_touched = 0
    for j in range(rows.shape[0]):
        r = rows[j]
        weight = sw[r] if weighted else 1.0
        for ptr in range(indptr[r], indptr[r + 1]):
            i = indices[ptr]
            x = np.float64(data[ptr])
            s = slot[i]
            if s < 0:
                s = n_touched
                n_touched += 1
                slot[i] = s
                touched[s] = i
                gw[s] = 0.0
                cw[s] = 0.0
                gV[s, :] = 0.0
            gx = G[j] * x
            gw[s] += gx
            cw[s] += weight
            for f in range(k):
                gV[s, f] += gx * (Q[j, f] - V[i, f] * x)
    return n_touched


@njit(cache=True, nogil=True, inline="always", fastmath=FASTMATH, error_model="numpy")
def _batch_apply(
    opt, w, V, state, touched, n_touched, slot, gw, cw, gV, reg, scale, ohps, c1, c2, fit_linear
):
    """Step every touched feature with its mean gradient (``scale`` = 1 / batch rows) and
    free its slot."""
    _, _, s1_w, s2_w, s1_V, s2_V = state
    has_s1, has_s2 = s1_V.shape[0] > 0, s2_V.shape[0] > 0
    _, reg_linear, reg_factors = reg
    ohp_w, ohp_v = ohps
    if opt == SGD or opt == ADAGRAD:
        # written out as in _sgd_rows (same formulas as _step): the k-loop vectorises
        lr, eps = ohp_v[0], ohp_v[3]
        lr_w = ohp_w[0]
        adagrad = opt == ADAGRAD
        for s in range(n_touched):
            i = touched[s]
            slot[i] = -1
            if fit_linear:
                g = (gw[s] + cw[s] * reg_linear * w[i]) * scale
                if adagrad:
                    acc = s1_w[i] + g * g
                    s1_w[i] = acc
                    w[i] = w[i] - lr_w * g / (np.sqrt(acc) + eps)
                else:
                    w[i] = w[i] - lr_w * g
            reg_s = cw[s] * reg_factors
            for f in range(V.shape[1]):
                v = V[i, f]
                g = (gV[s, f] + reg_s * v) * scale
                if adagrad:
                    acc = s1_V[i, f] + g * g
                    s1_V[i, f] = acc
                    V[i, f] = v - lr * g / (np.sqrt(acc) + eps)
                else:
                    V[i, f] = v - lr * g
        return
    for s in range(n_touched):
        i = touched[s]
        slot[i] = -1
        if fit_linear:
            g = (gw[s] + cw[s] * reg_linear * w[i]) * scale
            a = s1_w[i] if has_s1 else 0.0
            b = s2_w[i] if has_s2 else 0.0
            w[i], a, b = _step(opt, w[i], g, a, b, ohp_w, c1, c2)
            if has_s1:
                s1_w[i] = a
            if has_s2:
                s2_w[i] = b
        reg_s = cw[s] * reg_factors
        for f in range(V.shape[1]):
            g = (gV[s, f] + reg_s * V[i, f]) * scale
            a = s1_V[i, f] if has_s1 else 0.0
            b = s2_V[i, f] if has_s2 else 0.0
            V[i, f], a, b = _step(opt, V[i, f], g, a, b, ohp_v, c1, c2)
            if has_s1:
                s1_V[i, f] = a
            if has_s2:
                s2_V[i, f] = b


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def _minibatch_rows(X, y, sw, order, start, stop, params, state, hp, codes, t0, batch_size):
    """Mini-batch updates for ``order[start:stop]``: mean gradient of each batch.

    The gradient is the mean over the batch of the per-row objective that ``_sgd_rows``
    descends (weighted loss plus the weighted penalty of the row's features), so
    ``batch_size=1`` is the same algorithm and every batch size minimises the same thing.

    Gradients are gathered per *touched* feature (``slot`` maps a feature to its row in
    the scratch buffers), so memory is O(batch nnz · k), not O(n_features · k).

    Per batch: :func:`_batch_forward`, :func:`_batch_gradients`, the intercept's step and
    :func:`_batch_apply`, all inlined so that the loop compiles as one function, as before
    it was split (the same results bit for bit; the running loss is threaded through).
    """
    w0, w, V = params
    s1_w0, s2_w0 = state[0], state[1]
    opt = codes[OPTIMIZER]
    reg, ohp = _scalars(hp)
    ohps = (_with_l1(ohp, hp[L1_LINEAR]), _with_l1(ohp, hp[L1_FACTORS]))
    Q, G, slot, touched, gw, cw, gV, s = _batch_buffers(
        X[0], order, start, stop, batch_size, w.shape[0], V.shape[1]
    )
    q = np.empty(V.shape[1])
    # the pipeline as _sgd_rows decides it: shuffled rows, or a model beyond the caches
    large = V.shape[0] * V.shape[1] * V.itemsize >= PREFETCH_MIN_BYTES
    consecutive = stop - start < 2 or order[stop - 1] - order[start] == stop - 1 - start
    pipeline = large or not consecutive
    s1 = (state[2], state[4])
    total = 0.0
    for b_start in range(start, stop, batch_size):
        b_stop = min(b_start + batch_size, stop)
        rows = order[b_start:b_stop]
        total, g0, c0 = _batch_forward(X, y, sw, order, b_start, b_stop, stop, params, s1,
                                       codes[LOSS], Q, G, total, q, s, pipeline, large)  # fmt: skip
        n_touched = _batch_gradients(X, sw, rows, V, Q, G, slot, touched, gw, cw, gV)
        scale = 1.0 / rows.shape[0]
        c1, c2 = _bias_corrections(opt, ohp, t0 + b_start // batch_size + 1)
        if codes[FIT_INTERCEPT]:
            g = (g0 + c0 * reg[0] * w0[0]) * scale
            has_s1, has_s2 = s1_w0.shape[0] > 0, s2_w0.shape[0] > 0
            a = s1_w0[0] if has_s1 else 0.0
            b = s2_w0[0] if has_s2 else 0.0
            w0[0], a, b = _step(opt, w0[0], g, a, b, ohp, c1, c2)
            if has_s1:
                s1_w0[0] = a
            if has_s2:
                s2_w0[0] = b
        _batch_apply(opt, w, V, state, touched, n_touched, slot, gw, cw, gV, reg, scale, ohps,
                     c1, c2, codes[FIT_LINEAR])  # fmt: skip
    return total


@njit(cache=True, nogil=True)
def sgd_epoch(X, y, sw, order, params, state, hp, codes, t0, batch_size):
    """Run one pass over the rows ``order`` and return the sum of weighted losses.

    ``X`` is the CSR triplet, ``sw`` the sample weights (empty: all 1, which saves a
    memory access per row), ``params`` is ``(w0[1], w, V)`` and ``state`` the six
    optimiser arrays ``(s1_w0, s2_w0, s1_w, s2_w, s1_V, s2_V)`` (empty when unused), all
    updated in place. ``t0`` is the number of updates made before this epoch (Adam).
    Serial and reproducible.
    """
    n = order.shape[0]
    if batch_size == 1:
        q, s = np.empty(params[2].shape[1]), np.empty(params[2].shape[1])
        return _sgd_rows(X, y, sw, order, 0, n, params, state, hp, codes, t0, q, s)
    return _minibatch_rows(X, y, sw, order, 0, n, params, state, hp, codes, t0, batch_size)


@njit(cache=True, nogil=True, parallel=True)
def sgd_epoch_hogwild(X, y, sw, order, params, state, hp, codes, t0, batch_size, n_chunks):
    """``sgd_epoch`` with ``order`` cut into ``n_chunks`` run on threads without locks.

    Chunks hold whole mini-batches, so the batches (and Adam's update counts) are the
    same as in the serial epoch.
    """
    n = order.shape[0]
    chunk = (n + n_chunks - 1) // n_chunks
    chunk = (chunk + batch_size - 1) // batch_size * batch_size
    total = 0.0
    for c in prange(n_chunks):
        start = c * chunk
        stop = min(start + chunk, n)
        if batch_size == 1:
            q, s = np.empty(params[2].shape[1]), np.empty(params[2].shape[1])
            total += _sgd_rows(X, y, sw, order, start, stop, params, state, hp, codes, t0, q, s)
        else:
            total += _minibatch_rows(
                X, y, sw, order, start, stop, params, state, hp, codes, t0, batch_size
            )
    return total

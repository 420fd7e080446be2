"""Multiclass (softmax) FMs: prediction and one SGD-family epoch, for two factor layouts.

C classes, one score per class, ``P(c | x) = softmax(ŷ(x))_c``, cross-entropy loss:

* **shared** (the default): the classes share the factors and weigh each of the k
  pairwise components with their own projection ``P[c]``::

      ŷ_c(x) = w0[c] + Σ_i w[i, c] x_i + Σ_f P[c, f] · ½ [(Σ_i V[i, f] x_i)² − Σ_i V[i, f]² x_i²]

  With ``P[c] = 1`` this is the binary FM's pairwise term (a start that the softmax
  cannot tell from ``P = 0``: models/multiclass.py starts from random P). A row costs
  O(k · nnz + C · nnz + C · k): the factor work is done once, not per class.
* **separate**: each class is its own FM, ``V`` of shape (n, C, k)::

      ŷ_c(x) = w0[c] + Σ_i w[i, c] x_i + ½ Σ_f [(Σ_i V[i, c, f] x_i)² − Σ_i V[i, c, f]² x_i²]

  O(C · k · nnz) per row, C times the memory of the factors.

Per-class weights are stored class-last (``w`` (n, C), ``V`` (n, C, k)): one feature's
values for every class are contiguous, since a row touches all of them.

The gradient of the weighted cross-entropy ``s · (log Σ_c e^{ŷ_c} − ŷ_y)`` is
``g_c = s · (p_c − [c = y])``; each parameter steps along ``Σ_c g_c ∂ŷ_c/∂θ``. For the
shared layout ``∂ŷ_c/∂P[c, f] = A_f`` (the f-th pairwise component) and
``∂/∂V[i, f] = x_i (q_f − V[i, f] x_i) · Σ_c g_c P[c, f]``. Regularisation is lazy and
weighted by the sample weight as in kernels/sgd.py (w0 with ``reg_bias``, w with
``reg_linear``, V with ``reg_factors``); P is not penalised, like FwFM's field strengths:
every row uses it, so a per-row penalty would shrink it once per row. All of a row's
gradients are taken at the row's current parameters (one forward pass, then the steps).
Targets ``y`` are class indices 0 … C−1 stored as floats.
"""

import numpy as np
from numba import njit, prange

from fmlearn.kernels import FASTMATH
from fmlearn.kernels.sgd import (
    ADAGRAD,
    FIT_INTERCEPT,
    FIT_LINEAR,
    L1_FACTORS,
    L1_LINEAR,
    OPTIMIZER,
    SGD,
    _bias_corrections,
    _scalars,
    _step,
    _with_l1,
)

#: Under Hogwild, w0 and P (read by every row) are stepped once every this many rows of
#: a thread, along the sum of their gradients: stepped every row by both threads their
#: cache lines would move between the cores constantly (kernels/fwfm.py measured it).
HOGWILD_SHARED_EVERY = 16


@njit(cache=True, nogil=True, inline="always", fastmath=FASTMATH)
def _softmax_loss(scores, label, prob):
    """Fill ``prob`` with softmax(scores); return the cross-entropy of class ``label``."""
    top = scores[0]
    for c in range(1, scores.shape[0]):
        top = max(top, scores[c])
    z = 0.0
    for c in range(scores.shape[0]):
        e = np.exp(scores[c] - top)
        prob[c] = e
        z += e
    for c in range(scores.shape[0]):
        prob[c] /= z
    return np.log(z) + top - scores[label]


@njit(cache=True, nogil=True, inline="always", fastmath=FASTMATH)
def _shared_forward(indptr, indices, data, row, w0, w, V, P, q, s, A, scores):
    """Scores of one row (shared layout) into ``scores``; ``q``/``A`` keep Σ v x and the
    pairwise components for the gradient, ``s`` is scratch."""
    k, C = V.shape[1], w0.shape[0]
    for f in range(k):
        q[f] = 0.0
        s[f] = 0.0
    for c in range(C):
        scores[c] = w0[c]
    for ptr in range(indptr[row], indptr[row + 1]):
        i = indices[ptr]
        x = np.float64(data[ptr])
        for c in range(C):
            scores[c] += w[i, c] * x
        for f in range(k):
            vx = V[i, f] * x
            q[f] += vx
            s[f] += vx * vx
    for f in range(k):
        A[f] = 0.5 * (q[f] * q[f] - s[f])
    for c in range(C):
        acc = 0.0
        for f in range(k):
            acc += P[c, f] * A[f]
        scores[c] += acc


@njit(cache=True, nogil=True, inline="always", fastmath=FASTMATH)
def _separate_forward(indptr, indices, data, row, w0, w, V2, k, Q, S, scores):
    """Scores of one row (separate layout); ``Q[c·k + f] = Σ V[i, c, f] x_i`` is kept for
    the gradient, ``S`` is scratch. ``V2`` is V viewed as (n, C·k): one feature's C·k
    factors are one contiguous loop (C loops of k vectorise worse: k is short)."""
    C, width = w0.shape[0], V2.shape[1]
    for c in range(C):
        scores[c] = w0[c]
    for j in range(width):
        Q[j] = 0.0
        S[j] = 0.0
    for ptr in range(indptr[row], indptr[row + 1]):
        i = indices[ptr]
        x = np.float64(data[ptr])
        for c in range(C):
            scores[c] += w[i, c] * x
        for j in range(width):
            vx = V2[i, j] * x
            Q[j] += vx
            S[j] += vx * vx
    for c in range(C):
        acc = 0.0
        for f in range(c * k, (c + 1) * k):
            acc += Q[f] * Q[f] - S[f]
        scores[c] += 0.5 * acc


# ------------------------------------------------------------------------- prediction
@njit(cache=True, nogil=True)
def _predict_shared_rows(indptr, indices, data, w0, w, V, P, out, start, stop):
    k = V.shape[1]
    q, s, A = np.empty(k), np.empty(k), np.empty(k)
    scores = np.empty(w0.shape[0])
    for row in range(start, stop):
        _shared_forward(indptr, indices, data, row, w0, w, V, P, q, s, A, scores)
        out[row, :] = scores


@njit(cache=True, nogil=True)
def _predict_separate_rows(indptr, indices, data, w0, w, V, out, start, stop):
    width = V.shape[1] * V.shape[2]
    V2 = V.reshape((V.shape[0], width))
    Q, S = np.empty(width), np.empty(width)
    scores = np.empty(w0.shape[0])
    for row in range(start, stop):
        _separate_forward(indptr, indices, data, row, w0, w, V2, V.shape[2], Q, S, scores)
        out[row, :] = scores


@njit(cache=True, nogil=True)
def predict_shared_csr(indptr, indices, data, w0, w, V, P, out):
    """Serial scores of every row into ``out`` (float64, n_rows × C), shared layout."""
    _predict_shared_rows(indptr, indices, data, w0, w, V, P, out, 0, out.shape[0])


@njit(cache=True, nogil=True, parallel=True)
def predict_shared_csr_parallel(indptr, indices, data, w0, w, V, P, out, block_rows):
    """Blocks of ``block_rows`` rows in parallel; the same bits as the serial kernel."""
    n_blocks = (out.shape[0] + block_rows - 1) // block_rows
    for b in prange(n_blocks):
        start = b * block_rows
        stop = min(start + block_rows, out.shape[0])
        _predict_shared_rows(indptr, indices, data, w0, w, V, P, out, start, stop)


@njit(cache=True, nogil=True)
def predict_separate_csr(indptr, indices, data, w0, w, V, out):
    """Serial scores of every row into ``out`` (float64, n_rows × C), separate layout."""
    _predict_separate_rows(indptr, indices, data, w0, w, V, out, 0, out.shape[0])


@njit(cache=True, nogil=True, parallel=True)
def predict_separate_csr_parallel(indptr, indices, data, w0, w, V, out, block_rows):
    """Blocks of ``block_rows`` rows in parallel; the same bits as the serial kernel."""
    n_blocks = (out.shape[0] + block_rows - 1) // block_rows
    for b in prange(n_blocks):
        start = b * block_rows
        stop = min(start + block_rows, out.shape[0])
        _predict_separate_rows(indptr, indices, data, w0, w, V, out, start, stop)


# ----------------------------------------------------------------------------- training
@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def _shared_rows(X, y, sw, order, start, stop, params, state, hp, codes, t0, every):
    """Per-row updates (shared layout) for ``order[start:stop]``; returns Σ weighted
    loss. w0 and P are stepped every row when ``every`` is 1, else once every ``every``
    rows along the sum of their gradients (Hogwild)."""
    indptr, indices, data = X
    w0, w, V, P = params
    s1_w0, s2_w0, s1_w, s2_w, s1_V, s2_V, s1_P, s2_P = state
    has_s1, has_s2 = s1_w0.shape[0] > 0, s2_w0.shape[0] > 0
    opt = codes[OPTIMIZER]
    fit_intercept, fit_linear = codes[FIT_INTERCEPT], codes[FIT_LINEAR]
    (reg_bias, reg_linear, reg_factors), ohp = _scalars(hp)
    ohp_w, ohp_v = _with_l1(ohp, hp[L1_LINEAR]), _with_l1(ohp, hp[L1_FACTORS])
    weighted = sw.shape[0] > 0
    k, C = V.shape[1], w0.shape[0]
    q, s, A, u = np.empty(k), np.empty(k), np.empty(k), np.empty(k)
    scores, prob, G = np.empty(C), np.empty(C), np.empty(C)
    G0, GP = np.zeros(C), np.zeros((C, k))  # summed gradients of w0 and P (every > 1)
    pending = 0
    total = 0.0
    for pos in range(start, stop):
        r = order[pos]
        _shared_forward(indptr, indices, data, r, w0, w, V, P, q, s, A, scores)
        weight = sw[r] if weighted else 1.0
        label = np.int64(y[r])
        total += weight * _softmax_loss(scores, label, prob)
        for c in range(C):
            G[c] = weight * (prob[c] - (1.0 if c == label else 0.0))
        for f in range(k):
            acc = 0.0
            for c in range(C):
                acc += G[c] * P[c, f]
            u[f] = acc
        r_bias, r_lin, r_fac = weight * reg_bias, weight * reg_linear, weight * reg_factors
        c1, c2 = _bias_corrections(opt, ohp, t0 + pos + 1)
        for ptr in range(indptr[r], indptr[r + 1]):
            i = indices[ptr]
            x = np.float64(data[ptr])
            if opt == SGD or opt == ADAGRAD:
                # written out, as kernels/sgd.py does: without the optimiser branch the
                # loops over classes and factors vectorise (shared, C = 20: AdaGrad epoch
                # 5.4× → see benchmarks/README.md, issue 20)
                lr, eps = ohp[0], ohp[3]
                adagrad = opt == ADAGRAD
                if fit_linear:
                    for c in range(C):
                        g = G[c] * x + r_lin * w[i, c]
                        if adagrad:
                            acc = s1_w[i, c] + g * g
                            s1_w[i, c] = acc
                            g = g / (np.sqrt(acc) + eps)
                        w[i, c] -= lr * g
                for f in range(k):
                    v = V[i, f]
                    gv = x * (q[f] - v * x) * u[f] + r_fac * v
                    if adagrad:
                        acc = s1_V[i, f] + gv * gv
                        s1_V[i, f] = acc
                        gv = gv / (np.sqrt(acc) + eps)
                    V[i, f] = v - lr * gv
                continue
            if fit_linear:
                for c in range(C):
                    a1 = s1_w[i, c] if has_s1 else 0.0
                    a2 = s2_w[i, c] if has_s2 else 0.0
                    g = G[c] * x + r_lin * w[i, c]
                    w[i, c], a1, a2 = _step(opt, w[i, c], g, a1, a2, ohp_w, c1, c2)
                    if has_s1:
                        s1_w[i, c] = a1
                    if has_s2:
                        s2_w[i, c] = a2
            for f in range(k):
                v = V[i, f]
                gv = x * (q[f] - v * x) * u[f] + r_fac * v
                a1 = s1_V[i, f] if has_s1 else 0.0
                a2 = s2_V[i, f] if has_s2 else 0.0
                V[i, f], a1, a2 = _step(opt, v, gv, a1, a2, ohp_v, c1, c2)
                if has_s1:
                    s1_V[i, f] = a1
                if has_s2:
                    s2_V[i, f] = a2
        # the shared parameters last, from the gradients taken before any step
        for c in range(C):
            G0[c] += G[c] + (r_bias * w0[c] if fit_intercept else 0.0)
            for f in range(k):
                GP[c, f] += G[c] * A[f]
        pending += 1
        if pending < every and pos < stop - 1:
            continue
        if opt == SGD or opt == ADAGRAD:
            # written out as above: ``_step`` per element of P, C·k of them every row, was
            # most of a shared epoch (C = 20, k = 8, AdaGrad: 255 → 159 ms an epoch on
            # 150,000 rows, benchmarks/README.md)
            lr, eps = ohp[0], ohp[3]
            adagrad = opt == ADAGRAD
            for c in range(C):
                if fit_intercept:
                    g = G0[c]
                    if adagrad:
                        acc = s1_w0[c] + g * g
                        s1_w0[c] = acc
                        w0[c] -= lr * g / (np.sqrt(acc) + eps)
                    else:
                        w0[c] -= lr * g
                G0[c] = 0.0
                for f in range(k):
                    g = GP[c, f]
                    if adagrad:
                        acc = s1_P[c, f] + g * g
                        s1_P[c, f] = acc
                        P[c, f] -= lr * g / (np.sqrt(acc) + eps)
                    else:
                        P[c, f] -= lr * g
                    GP[c, f] = 0.0
            pending = 0
            continue
        for c in range(C):
            if fit_intercept:
                a1 = s1_w0[c] if has_s1 else 0.0
                a2 = s2_w0[c] if has_s2 else 0.0
                w0[c], a1, a2 = _step(opt, w0[c], G0[c], a1, a2, ohp, c1, c2)
                if has_s1:
                    s1_w0[c] = a1
                if has_s2:
                    s2_w0[c] = a2
            G0[c] = 0.0
            for f in range(k):
                a1 = s1_P[c, f] if has_s1 else 0.0
                a2 = s2_P[c, f] if has_s2 else 0.0
                P[c, f], a1, a2 = _step(opt, P[c, f], GP[c, f], a1, a2, ohp, c1, c2)
                if has_s1:
                    s1_P[c, f] = a1
                if has_s2:
                    s2_P[c, f] = a2
                GP[c, f] = 0.0
        pending = 0
    return total


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def _separate_rows(X, y, sw, order, start, stop, params, state, hp, codes, t0, every):
    """Per-row updates (separate layout) for ``order[start:stop]``; returns Σ weighted
    loss. w0 is stepped every row when ``every`` is 1, else along the sum of ``every``
    rows' gradients (Hogwild)."""
    indptr, indices, data = X
    w0, w, V = params
    s1_w0, s2_w0, s1_w, s2_w, s1_V, s2_V = state
    has_s1, has_s2 = s1_w0.shape[0] > 0, s2_w0.shape[0] > 0
    opt = codes[OPTIMIZER]
    fit_intercept, fit_linear = codes[FIT_INTERCEPT], codes[FIT_LINEAR]
    (reg_bias, reg_linear, reg_factors), ohp = _scalars(hp)
    ohp_w, ohp_v = _with_l1(ohp, hp[L1_LINEAR]), _with_l1(ohp, hp[L1_FACTORS])
    weighted = sw.shape[0] > 0
    C, k = V.shape[1], V.shape[2]
    width = C * k
    # (n, C·k) views: a feature's C·k factors (and their AdaGrad sums) as one loop
    V2 = V.reshape((V.shape[0], width))
    s1_V2 = s1_V.reshape((s1_V.shape[0], width if s1_V.shape[0] else 0))
    Q, S, Gk = np.empty(width), np.empty(width), np.empty(width)
    scores, prob, G, G0 = np.empty(C), np.empty(C), np.empty(C), np.zeros(C)
    pending = 0
    total = 0.0
    for pos in range(start, stop):
        r = order[pos]
        _separate_forward(indptr, indices, data, r, w0, w, V2, k, Q, S, scores)
        weight = sw[r] if weighted else 1.0
        label = np.int64(y[r])
        total += weight * _softmax_loss(scores, label, prob)
        for c in range(C):
            G[c] = weight * (prob[c] - (1.0 if c == label else 0.0))
            for f in range(c * k, (c + 1) * k):
                Gk[f] = G[c]
        r_bias, r_lin, r_fac = weight * reg_bias, weight * reg_linear, weight * reg_factors
        c1, c2 = _bias_corrections(opt, ohp, t0 + pos + 1)
        for ptr in range(indptr[r], indptr[r + 1]):
            i = indices[ptr]
            x = np.float64(data[ptr])
            if opt == SGD or opt == ADAGRAD:  # written out, as in _shared_rows
                lr, eps = ohp[0], ohp[3]
                adagrad = opt == ADAGRAD
                if fit_linear:
                    for c in range(C):
                        g = G[c] * x + r_lin * w[i, c]
                        if adagrad:
                            acc = s1_w[i, c] + g * g
                            s1_w[i, c] = acc
                            g = g / (np.sqrt(acc) + eps)
                        w[i, c] -= lr * g
                for j in range(width):
                    v = V2[i, j]
                    gv = Gk[j] * x * (Q[j] - v * x) + r_fac * v
                    if adagrad:
                        acc = s1_V2[i, j] + gv * gv
                        s1_V2[i, j] = acc
                        gv = gv / (np.sqrt(acc) + eps)
                    V2[i, j] = v - lr * gv
                continue
            for c in range(C):
                gx = G[c] * x
                if fit_linear:
                    a1 = s1_w[i, c] if has_s1 else 0.0
                    a2 = s2_w[i, c] if has_s2 else 0.0
                    g = gx + r_lin * w[i, c]
                    w[i, c], a1, a2 = _step(opt, w[i, c], g, a1, a2, ohp_w, c1, c2)
                    if has_s1:
                        s1_w[i, c] = a1
                    if has_s2:
                        s2_w[i, c] = a2
                for f in range(k):
                    v = V[i, c, f]
                    gv = gx * (Q[c * k + f] - v * x) + r_fac * v
                    a1 = s1_V[i, c, f] if has_s1 else 0.0
                    a2 = s2_V[i, c, f] if has_s2 else 0.0
                    V[i, c, f], a1, a2 = _step(opt, v, gv, a1, a2, ohp_v, c1, c2)
                    if has_s1:
                        s1_V[i, c, f] = a1
                    if has_s2:
                        s2_V[i, c, f] = a2
        if not fit_intercept:
            continue
        for c in range(C):
            G0[c] += G[c] + r_bias * w0[c]
        pending += 1
        if pending < every and pos < stop - 1:
            continue
        for c in range(C):
            a1 = s1_w0[c] if has_s1 else 0.0
            a2 = s2_w0[c] if has_s2 else 0.0
            w0[c], a1, a2 = _step(opt, w0[c], G0[c], a1, a2, ohp, c1, c2)
            if has_s1:
                s1_w0[c] = a1
            if has_s2:
                s2_w0[c] = a2
            G0[c] = 0.0
        pending = 0
    return total


@njit(cache=True, nogil=True)
def shared_sgd_epoch(X, y, sw, order, params, state, hp, codes, t0):
    """One pass over the rows ``order`` (shared layout, ``params = (w0, w, V, P)``, two
    optimiser arrays per parameter array, empty when unused); returns Σ weighted
    cross-entropy. Serial and reproducible."""
    n = order.shape[0]
    return _shared_rows(X, y, sw, order, 0, n, params, state, hp, codes, t0, 1)


@njit(cache=True, nogil=True)
def separate_sgd_epoch(X, y, sw, order, params, state, hp, codes, t0):
    """:func:`shared_sgd_epoch` for the separate layout (``params = (w0, w, V)``)."""
    n = order.shape[0]
    return _separate_rows(X, y, sw, order, 0, n, params, state, hp, codes, t0, 1)


@njit(cache=True, nogil=True, parallel=True)
def shared_sgd_epoch_hogwild(X, y, sw, order, params, state, hp, codes, t0, n_chunks):
    """:func:`shared_sgd_epoch` with ``order`` cut into ``n_chunks`` run on threads
    without locks (Hogwild!); w0 and P step along sums of :data:`HOGWILD_SHARED_EVERY`
    rows."""
    n = order.shape[0]
    chunk = (n + n_chunks - 1) // n_chunks
    total = 0.0
    for c in prange(n_chunks):
        start, stop = c * chunk, min(c * chunk + chunk, n)
        total += _shared_rows(X, y, sw, order, start, stop, params, state, hp, codes, t0,
                              HOGWILD_SHARED_EVERY)  # fmt: skip
    return total


@njit(cache=True, nogil=True, parallel=True)
def separate_sgd_epoch_hogwild(X, y, sw, order, params, state, hp, codes, t0, n_chunks):
    """:func:`shared_sgd_epoch_hogwild` for the separate layout."""
    n = order.shape[0]
    chunk = (n + n_chunks - 1) // n_chunks
    total = 0.0
    for c in prange(n_chunks):
        start, stop = c * chunk, min(c * chunk + chunk, n)
        total += _separate_rows(X, y, sw, order, start, stop, params, state, hp, codes, t0,
                                HOGWILD_SHARED_EVERY)  # fmt: skip
    return total

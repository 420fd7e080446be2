"""Field-weighted FM (FwFM, Pan et al. 2018): prediction and one SGD-family epoch.

One k-vector per feature, as the FM, and one learned strength per pair of fields::

    ŷ(x) = w0 + Σ_i w_i x_i + Σ_{i<j} R[f(i), f(j)] <v_i, v_j> x_i x_j

R is symmetric (n_fields × n_fields; its diagonal weighs pairs within a field). Pair by
pair this costs O(k · nnz²); through the per-field sums ``Q_f = Σ_{i∈f} v_i x_i`` it is

    ½ Σ_{f,g} R[f,g] <Q_f, Q_g> − ½ Σ_i R[f(i), f(i)] ‖v_i‖² x_i²

(Rendle's identity with weights), O(k · nnz + k · F_x²) for the F_x fields of the row.
With ``P_f = Σ_g R[f,g] Q_g`` the gradients are ``∂ŷ/∂v_i = x_i (P_{f(i)} −
R[f(i),f(i)] v_i x_i)``, ``∂ŷ/∂R[f,g] = <Q_f, Q_g>`` for f ≠ g and
``½ (‖Q_f‖² − Σ_{i∈f} ‖v_i‖² x_i²)`` on the diagonal; all at the row's current
parameters (one forward pass, then the steps).

Lazy regularisation as in kernels/sgd.py for w and V (a feature of the row that has a
field is shrunk, partner or not, as in the FM; a feature without one uses no vector).
R is not penalised: every row uses the pairs of its fields, so a per-row penalty would
shrink R once per row. R's entries are updated in the upper triangle and mirrored, so R
and its optimiser state stay symmetric; a field pair is stepped only when the row holds
both fields (a diagonal entry, when it holds two features of that field).

Field ids must lie in ``[0, n_fields)``, or be −1 for a feature without a field (linear
only); the model layer validates them.
"""

import numpy as np
from numba import njit, prange

from fmlearn.kernels import FASTMATH
from fmlearn.kernels.losses import loss_derivative, loss_value
from fmlearn.kernels.prefetch import (
    PREFETCH_AHEAD,
    prefetch_row_blocks,
    prefetch_row_params,
    prefetch_rows_ahead,
)
from fmlearn.kernels.sgd import (
    ADAGRAD,
    FIT_INTERCEPT,
    FIT_LINEAR,
    L1_FACTORS,
    L1_LINEAR,
    LOSS,
    OPTIMIZER,
    _bias_corrections,
    _scalars,
    _step,
    _with_l1,
)

#: Hogwild!: rows of a thread whose R gradients are summed into one step of R.
HOGWILD_R_EVERY = 16


@njit(cache=True, nogil=True, inline="always", fastmath=FASTMATH)
def _forward(indptr, indices, data, fields, row, w0, w, V, R, slot_of, row_fields, count, Q,
             P, self_sq):  # fmt: skip
    """ŷ of ``row``; fills, per field present (its slot s), ``Q[s]``, ``P[s]``,
    ``self_sq[s] = Σ_{i∈f} ‖v_i‖² x_i²`` and ``count[s]``. Returns ``(ŷ, n_slots)``;
    the caller resets ``slot_of`` for ``row_fields[:n_slots]``."""
    k = V.shape[1]
    linear = 0.0
    n_slots = 0
    for ptr in range(indptr[row], indptr[row + 1]):
        i = indices[ptr]
        x = np.float64(data[ptr])
        linear += w[i] * x
        f = fields[i]
        if f < 0:
            continue
        s = slot_of[f]
        if s < 0:
            s = n_slots
            n_slots += 1
            slot_of[f] = s
            row_fields[s] = f
            count[s] = 0
            self_sq[s] = 0.0
            for c in range(k):
                Q[s, c] = 0.0
        count[s] += 1
        sq = 0.0
        for c in range(k):
            v = np.float64(V[i, c])
            Q[s, c] += v * x
            sq += v * v
        self_sq[s] += sq * x * x
    pairwise = 0.0
    for s in range(n_slots):
        fs = row_fields[s]
        for c in range(k):
            P[s, c] = 0.0
        for t in range(n_slots):
            r = np.float64(R[fs, row_fields[t]])
            for c in range(k):
                P[s, c] += r * Q[t, c]
        dot = 0.0
        for c in range(k):
            dot += Q[s, c] * P[s, c]
        pairwise += dot - np.float64(R[fs, fs]) * self_sq[s]
    return w0 + linear + 0.5 * pairwise, n_slots


@njit(cache=True, nogil=True, inline="always")
def _buffers(n_fields, k):
    """Per-thread scratch: field → slot map, and per slot its field, count, Q, P, Σ‖v x‖²."""
    width = max(n_fields, 1)
    slot_of = np.full(width, -1, dtype=np.int64)
    row_fields = np.empty(width, dtype=np.int64)
    count = np.empty(width, dtype=np.int64)
    return slot_of, row_fields, count, np.empty((width, k)), np.empty((width, k)), np.empty(width)


@njit(cache=True, nogil=True, inline="always")
def _predict_rows(indptr, indices, data, fields, w0, w, V, R, out, start, stop):
    slot_of, row_fields, count, Q, P, self_sq = _buffers(R.shape[0], V.shape[1])
    for row in range(start, stop):
        if row + 1 < stop:
            prefetch_row_blocks(indptr, indices, row + 1, V, V.shape[1])
        p, n_slots = _forward(indptr, indices, data, fields, row, w0, w, V, R, slot_of,
                              row_fields, count, Q, P, self_sq)  # fmt: skip
        out[row] = p
        for s in range(n_slots):
            slot_of[row_fields[s]] = -1


@njit(cache=True, nogil=True)
def predict_fwfm_csr(indptr, indices, data, fields, w0, w, V, R, out):
    """Serial prediction of every row into ``out`` (float64, length n_rows)."""
    _predict_rows(indptr, indices, data, fields, w0, w, V, R, out, 0, out.shape[0])


@njit(cache=True, nogil=True, parallel=True)
def predict_fwfm_csr_parallel(indptr, indices, data, fields, w0, w, V, R, out, block_rows):
    """Blocks of ``block_rows`` rows in parallel, each row as in ``predict_fwfm_csr``
    (identical results, bit for bit)."""
    n_rows = out.shape[0]
    n_blocks = (n_rows + block_rows - 1) // block_rows
    for block in prange(n_blocks):
        start = block * block_rows
        _predict_rows(indptr, indices, data, fields, w0, w, V, R, out, start,
                      min(start + block_rows, n_rows))  # fmt: skip


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def _fwfm_rows(X, y, sw, order, start, stop, fields, params, state, hp, codes, t0, r_every):
    """Per-row updates for ``order[start:stop]``; returns Σ weighted loss. R is stepped
    every row when ``r_every`` is 1, else once every ``r_every`` rows along the sum of
    their gradients (Hogwild: see ``fwfm_sgd_epoch_hogwild``)."""
    indptr, indices, data = X
    w0, w, V, R = params
    s1_w0, s2_w0, s1_w, s2_w, s1_V, s2_V, s1_R, s2_R = state
    has_s1, has_s2 = s1_w0.shape[0] > 0, s2_w0.shape[0] > 0
    loss, opt = codes[LOSS], codes[OPTIMIZER]
    fit_intercept, fit_linear = codes[FIT_INTERCEPT], codes[FIT_LINEAR]
    (reg_bias, reg_linear, reg_factors), ohp = _scalars(hp)
    ohp_w, ohp_v = _with_l1(ohp, hp[L1_LINEAR]), _with_l1(ohp, hp[L1_FACTORS])
    weighted = sw.shape[0] > 0
    k = V.shape[1]
    slot_of, row_fields, count, Q, P, self_sq = _buffers(R.shape[0], k)
    n_fields = R.shape[0]
    buffered = r_every > 1
    GR = np.zeros((n_fields, n_fields) if buffered else (0, 0))  # R's summed gradients
    touched = np.zeros((n_fields, n_fields) if buffered else (0, 0), dtype=np.bool_)
    pending = 0  # rows whose R gradients are in GR
    total = 0.0
    for pos in range(start, stop):
        r = order[pos]
        # a pipeline over the shuffled rows (as kernels/sgd.py): the row's CSR entries
        # 2·A ahead, its vectors, weights and their AdaGrad/Adam/FTRL memory A ahead
        prefetch_rows_ahead(order, pos, stop, indptr, indices, data, y, sw, PREFETCH_AHEAD)
        if pos + PREFETCH_AHEAD < stop:
            ahead = order[pos + PREFETCH_AHEAD]
            prefetch_row_params(indptr, indices, ahead, w, V)
            prefetch_row_params(indptr, indices, ahead, s1_w, s1_V)
        p, n_slots = _forward(indptr, indices, data, fields, r, w0[0], w, V, R, slot_of,
                              row_fields, count, Q, P, self_sq)  # fmt: skip
        weight = sw[r] if weighted else 1.0
        total += weight * loss_value(loss, p, y[r])
        g = weight * loss_derivative(loss, p, y[r])
        r_bias, r_lin, r_fac = weight * reg_bias, weight * reg_linear, weight * reg_factors
        c1, c2 = _bias_corrections(opt, ohp, t0 + pos + 1)
        # Steps through the scalar ``_step``, the arrays indexed here: an inlined helper
        # taking arrays costs atomic reference counts per call (kernels/sgd.py).
        if fit_intercept:
            a1 = s1_w0[0] if has_s1 else 0.0
            a2 = s2_w0[0] if has_s2 else 0.0
            w0[0], a1, a2 = _step(opt, w0[0], g + r_bias * w0[0], a1, a2, ohp, c1, c2)
            if has_s1:
                s1_w0[0] = a1
            if has_s2:
                s2_w0[0] = a2
        for ptr in range(indptr[r], indptr[r + 1]):
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
            f = fields[i]
            if f < 0:
                continue
            s = slot_of[f]
            r_own = np.float64(R[f, f])  # P[s] holds R[f, f] v_i x_i itself: take it out
            if opt == ADAGRAD:
                # AdaGrad written out, as in kernels/sgd.py: LLVM vectorises the k-loop.
                lr, eps = ohp[0], ohp[3]
                for c in range(k):
                    v = V[i, c]
                    gv = gx * (P[s, c] - r_own * v * x) + r_fac * v
                    acc = s1_V[i, c] + gv * gv
                    s1_V[i, c] = acc
                    V[i, c] = v - lr * gv / (np.sqrt(acc) + eps)
                continue
            for c in range(k):
                v = V[i, c]
                gv = gx * (P[s, c] - r_own * v * x) + r_fac * v
                a1 = s1_V[i, c] if has_s1 else 0.0
                a2 = s2_V[i, c] if has_s2 else 0.0
                V[i, c], a1, a2 = _step(opt, v, gv, a1, a2, ohp_v, c1, c2)
                if has_s1:
                    s1_V[i, c] = a1
                if has_s2:
                    s2_V[i, c] = a2
        # R last: its gradient needs only Q and self_sq (computed before any step), while
        # the V steps above read R[f, f] as it was.
        for s in range(n_slots):
            fs = row_fields[s]
            for t in range(s, n_slots):
                ft = row_fields[t]
                if t == s and count[s] < 2:
                    continue  # no pair within this field
                dot = 0.0
                for c in range(k):
                    dot += Q[s, c] * Q[t, c]
                if t == s:
                    dot = 0.5 * (dot - self_sq[s])
                lo, hi = min(fs, ft), max(fs, ft)
                if buffered:
                    GR[lo, hi] += g * dot
                    touched[lo, hi] = True
                    continue
                if opt == ADAGRAD:
                    # written out (no optimiser branch): R's steps are most of a row's
                    # scalar work, ~n_fields²/2 of them (741 at 39 fields)
                    gr = g * dot
                    acc = s1_R[lo, hi] + gr * gr
                    s1_R[lo, hi] = acc
                    s1_R[hi, lo] = acc
                    new = R[lo, hi] - ohp[0] * gr / (np.sqrt(acc) + ohp[3])
                    R[lo, hi] = new
                    R[hi, lo] = new
                    continue
                a1 = s1_R[lo, hi] if has_s1 else 0.0
                a2 = s2_R[lo, hi] if has_s2 else 0.0
                new, a1, a2 = _step(opt, R[lo, hi], g * dot, a1, a2, ohp, c1, c2)
                R[lo, hi] = new
                R[hi, lo] = new
                if has_s1:
                    s1_R[lo, hi] = a1
                    s1_R[hi, lo] = a1
                if has_s2:
                    s2_R[lo, hi] = a2
                    s2_R[hi, lo] = a2
        for s in range(n_slots):
            slot_of[row_fields[s]] = -1
        if buffered:
            pending += 1
            if pending == r_every or pos == stop - 1:
                for lo in range(n_fields):
                    for hi in range(lo, n_fields):
                        if touched[lo, hi]:
                            a1 = s1_R[lo, hi] if has_s1 else 0.0
                            a2 = s2_R[lo, hi] if has_s2 else 0.0
                            new, a1, a2 = _step(opt, R[lo, hi], GR[lo, hi], a1, a2, ohp, c1, c2)
                            R[lo, hi] = new
                            R[hi, lo] = new
                            if has_s1:
                                s1_R[lo, hi] = a1
                                s1_R[hi, lo] = a1
                            if has_s2:
                                s2_R[lo, hi] = a2
                                s2_R[hi, lo] = a2
                            GR[lo, hi] = 0.0
                            touched[lo, hi] = False
                pending = 0
    return total


@njit(cache=True, nogil=True)
def fwfm_sgd_epoch(X, y, sw, order, fields, params, state, hp, codes, t0):
    """One pass over the rows ``order``; returns Σ weighted loss. Serial, reproducible.

    ``params = (w0, w, V, R)``, ``state`` the optimiser slots in the ``kernels.sgd``
    layout with two more for R; ``hp``/``codes`` as there; all updated in place.
    """
    n = order.shape[0]
    return _fwfm_rows(X, y, sw, order, 0, n, fields, params, state, hp, codes, t0, 1)


@njit(cache=True, nogil=True, parallel=True)
def fwfm_sgd_epoch_hogwild(X, y, sw, order, fields, params, state, hp, codes, t0, n_chunks):
    """``fwfm_sgd_epoch`` with ``order`` cut into ``n_chunks`` run on threads without
    locks (Hogwild!): fast on sparse data, not reproducible bit for bit. R is shared by
    every row, so it is where threads collide: each thread sums R's gradients over
    ``HOGWILD_R_EVERY`` of its rows and steps R once along the sum. Stepped every row by
    both threads, its lines moved between the cores constantly (2 threads measured
    15k–118k rows/s against 86k on one)."""
    n = order.shape[0]
    chunk = (n + n_chunks - 1) // n_chunks
    total = 0.0
    for c in prange(n_chunks):
        start = c * chunk
        stop = min(start + chunk, n)
        total += _fwfm_rows(X, y, sw, order, start, stop, fields, params, state, hp, codes, t0,
                            HOGWILD_R_EVERY)  # fmt: skip
    return total

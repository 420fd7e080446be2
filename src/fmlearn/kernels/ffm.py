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
layout, with 3-D factor slots). Rows with every field exactly once (CTR data) take a flat
path with the same steps, laid out for vectorisation (``_ffm_rows``); there a float32
model's steps are computed in float32 (elsewhere, and for float64 models, in float64).
While one row runs, the next row's blocks (and their optimiser state) are prefetched
(kernels/prefetch.py): the model is far larger than the caches and a row's blocks lie
at random places, so without it every row waits on memory.

Field ids must lie in ``[0, n_fields)``, or be −1 for a feature without a field (it keeps
its linear weight and takes part in no pair: ``load_libffm`` gives −1 to columns absent
from the file), and CSR rows must not repeat a column: the kernels index with them
unchecked, so the model layer validates them first.
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

#: Prefetch the next row's factor blocks (and optimiser state) while the current row runs.
PREFETCH = True


@njit(cache=True, nogil=True, inline="always")
def _gather_row(indptr, indices, data, fields, row, ent_i, ent_x, ent_f):
    """The row's feature ids, values (float64) and fields, in small contiguous buffers:
    the pair loops read them m² times, ``fields`` itself is a large random-access array."""
    start = indptr[row]
    m = indptr[row + 1] - start
    for a in range(m):
        i = indices[start + a]
        ent_i[a] = i
        ent_x[a] = np.float64(data[start + a])
        ent_f[a] = fields[i]
    return m


@njit(cache=True, nogil=True, inline="always")
def _predict_rows(indptr, indices, data, fields, w0, w, V, out, first, last, k):
    """``out[row]`` for ``first <= row < last``: the pair loop, accumulated in float64.
    ``k`` is ``V.shape[2]``, passed as a literal by callers that specialise on it."""
    longest = 1
    for row in range(first, last):
        longest = max(longest, indptr[row + 1] - indptr[row])
    ent_i = np.empty(longest, dtype=np.int64)
    ent_x = np.empty(longest)
    ent_f = np.empty(longest, dtype=np.int64)
    block = V.shape[1] * k
    for row in range(first, last):
        if PREFETCH and row + 1 < last:
            prefetch_row_blocks(indptr, indices, row + 1, V, block)
        m = _gather_row(indptr, indices, data, fields, row, ent_i, ent_x, ent_f)
        linear = 0.0
        pairwise = 0.0
        for a in range(m):
            ia, xa, fa = ent_i[a], ent_x[a], ent_f[a]
            linear += w[ia] * xa
            if fa < 0:
                continue
            for b in range(a + 1, m):
                ib, fb = ent_i[b], ent_f[b]
                if fb < 0:
                    continue
                dot = 0.0
                for c in range(k):
                    dot += np.float64(V[ia, fb, c]) * np.float64(V[ib, fa, c])
                pairwise += dot * xa * ent_x[b]
        out[row] = w0 + linear + pairwise


@njit(cache=True, nogil=True)
def _predict_block(indptr, indices, data, fields, w0, w, V, out, first, last):
    """``_predict_rows`` with k = 4 (libffm's default) compiled as a constant: the k-loops
    unroll into one vector operation, instead of a short loop per pair."""
    if V.shape[2] == 4:
        _predict_rows(indptr, indices, data, fields, w0, w, V, out, first, last, 4)
    else:
        _predict_rows(indptr, indices, data, fields, w0, w, V, out, first, last, V.shape[2])


@njit(cache=True, nogil=True)
def predict_ffm_csr(indptr, indices, data, fields, w0, w, V, out):
    """Serial prediction of every row into ``out`` (float64, length n_rows)."""
    _predict_block(indptr, indices, data, fields, w0, w, V, out, 0, out.shape[0])


@njit(cache=True, nogil=True, parallel=True)
def predict_ffm_csr_parallel(indptr, indices, data, fields, w0, w, V, out, block_rows):
    """Blocks of ``block_rows`` rows in parallel; each row as in ``predict_ffm_csr``
    (identical results, bit for bit)."""
    n_rows = out.shape[0]
    n_blocks = (n_rows + block_rows - 1) // block_rows
    for block in prange(n_blocks):
        first = block * block_rows
        _predict_block(indptr, indices, data, fields, w0, w, V, out, first,
                       min(first + block_rows, n_rows))  # fmt: skip


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def _ffm_rows(X, y, sw, order, start, stop, fields, n_fields, params, state, hp, codes, t0):
    """Per-row updates for ``order[start:stop]``; returns Σ weighted loss.

    Per row, the entries' fields are mapped to slots (the distinct fields of the row, in
    order of appearance). A row with every field exactly once (one-hot fields, as in CTR
    data) takes the *flat* path: entry a then has one partner b in each other field, and
    ``P[a, f_b, :] = V[i_b, f_a, :] x_b`` (``S`` indexed by field) is gathered first; ŷ's
    pair sum is ``½ Σ_a x_a <V[i_a], P[a]>`` and the steps on V[i_a] run over the whole
    block (all fields but f_a), each a long contiguous loop that LLVM vectorises (k-long
    loops per pair stay scalar: numba runs no SLP vectoriser, and k is short). Other rows
    take the general path through ``S`` (module docstring), one slot at a time.
    """
    indptr, indices, data = X
    w0, w, V = params
    s1_w0, s2_w0, s1_w, s2_w, s1_V, s2_V = state
    has_s1, has_s2 = s1_w0.shape[0] > 0, s2_w0.shape[0] > 0
    loss, opt = codes[LOSS], codes[OPTIMIZER]
    fit_intercept, fit_linear = codes[FIT_INTERCEPT], codes[FIT_LINEAR]
    (reg_bias, reg_linear, reg_factors), ohp = _scalars(hp)
    ohp_w, ohp_v = _with_l1(ohp, hp[L1_LINEAR]), _with_l1(ohp, hp[L1_FACTORS])
    lr, eps = ohp[0], ohp[3]
    weighted = sw.shape[0] > 0
    k = V.shape[2]
    block = n_fields * k
    longest = 1
    for pos in range(start, stop):
        r = order[pos]
        longest = max(longest, indptr[r + 1] - indptr[r])
    width = max(1, min(longest, n_fields))  # distinct fields in a row: at most this many
    slot_of = np.full(n_fields, -1, dtype=np.int64)
    row_fields = np.empty(width, dtype=np.int64)
    counts = np.zeros(width, dtype=np.int64)
    ent_i = np.empty(longest, dtype=np.int64)
    ent_x = np.empty(longest)
    ent_f = np.empty(longest, dtype=np.int64)
    ent_s = np.empty(longest, dtype=np.int64)
    S = np.empty((longest, width, k))
    P = np.empty((longest, block), dtype=V.dtype)
    # the flat path's step constants in V's dtype: a float32 model steps in float32
    # (twice the lanes per vector, and float32 square roots and divisions are ~3× faster)
    consts = np.empty(4, dtype=V.dtype)
    # 2-D views: one feature's block is a row, so block loops are plain contiguous loops
    V2 = V.reshape((V.shape[0], block))
    s1_V2 = s1_V.reshape((s1_V.shape[0], s1_V.shape[1] * s1_V.shape[2]))
    total = 0.0
    for pos in range(start, stop):
        r = order[pos]
        if PREFETCH:
            # a pipeline over the shuffled rows (as kernels/sgd.py): the row's CSR entries
            # 2·A ahead, its blocks, weights and their optimiser state A ahead. A row reads
            # and writes ~nnz·n_fields·k values at random places; the loads of one row are
            # then in flight during another.
            prefetch_rows_ahead(order, pos, stop, indptr, indices, data, y, sw, PREFETCH_AHEAD)
            if pos + PREFETCH_AHEAD < stop:
                ahead = order[pos + PREFETCH_AHEAD]
                prefetch_row_params(indptr, indices, ahead, w, V2)
                prefetch_row_params(indptr, indices, ahead, s1_w, s1_V2)
        m = _gather_row(indptr, indices, data, fields, r, ent_i, ent_x, ent_f)
        n_slots = 0
        n_paired = 0
        for a in range(m):
            f = ent_f[a]
            s = -1
            if f >= 0:
                s = slot_of[f]
                if s < 0:
                    s = n_slots
                    slot_of[f] = s
                    row_fields[s] = f
                    counts[s] = 0
                    n_slots += 1
                counts[s] += 1
                n_paired += 1
            ent_s[a] = s
        flat = n_paired == n_slots and n_slots == n_fields and n_fields > 1

        # Forward: ŷ, and P (flat path) or S (general path).
        linear = 0.0
        pairwise = 0.0
        if flat:
            for a in range(m):
                fa = ent_f[a]
                if fa < 0:
                    continue
                for c in range(k):
                    P[a, fa * k + c] = 0.0
                for b in range(m):
                    ib, fb, xb = ent_i[b], ent_f[b], ent_x[b]
                    if b == a or fb < 0:
                        continue
                    for c in range(k):
                        P[a, fb * k + c] = np.float64(V[ib, fa, c]) * xb
            for a in range(m):
                ia, xa = ent_i[a], ent_x[a]
                linear += w[ia] * xa
                if ent_f[a] < 0:
                    continue
                dot = 0.0
                for j in range(block):
                    dot += np.float64(V2[ia, j]) * P[a, j]
                pairwise += dot * xa
            pairwise *= 0.5  # every pair twice, once from each side
        else:
            for a in range(m):
                for s in range(n_slots):
                    for c in range(k):
                        S[a, s, c] = 0.0
            for a in range(m):
                ia, xa, fa = ent_i[a], ent_x[a], ent_f[a]
                linear += w[ia] * xa
                if fa < 0:
                    continue
                sa = ent_s[a]
                for b in range(a + 1, m):
                    ib, fb = ent_i[b], ent_f[b]
                    if fb < 0:
                        continue
                    xb = ent_x[b]
                    sb = ent_s[b]
                    dot = 0.0
                    for c in range(k):
                        va = np.float64(V[ia, fb, c])
                        vb = np.float64(V[ib, fa, c])
                        dot += va * vb
                        S[a, sb, c] += vb * xb
                        S[b, sa, c] += va * xa
                    pairwise += dot * xa * xb
        p = w0[0] + linear + pairwise

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
        if fit_linear:
            for a in range(m):
                ia = ent_i[a]
                a1 = s1_w[ia] if has_s1 else 0.0
                a2 = s2_w[ia] if has_s2 else 0.0
                w[ia], a1, a2 = _step(
                    opt, w[ia], g * ent_x[a] + r_lin * w[ia], a1, a2, ohp_w, c1, c2
                )
                if has_s1:
                    s1_w[ia] = a1
                if has_s2:
                    s2_w[ia] = a2

        # Backward: the factor steps.
        if flat:
            for a in range(m):
                ia, fa = ent_i[a], ent_f[a]
                if fa < 0:
                    continue
                gx = g * ent_x[a]
                if opt == ADAGRAD:
                    consts[0], consts[1], consts[2], consts[3] = gx, r_fac, lr, eps
                    gx_, r_, lr_, eps_ = consts[0], consts[1], consts[2], consts[3]
                    # every block of V[i_a] but its own field's has its one partner
                    for lo, hi in ((0, fa * k), ((fa + 1) * k, block)):
                        # AdaGrad written out: without the optimiser branch in the loop
                        # LLVM vectorises it, square roots and divisions included.
                        for j in range(lo, hi):
                            v = V2[ia, j]
                            gv = gx_ * P[a, j] + r_ * v
                            acc = s1_V2[ia, j] + gv * gv
                            s1_V2[ia, j] = acc
                            V2[ia, j] = v - lr_ * gv / (np.sqrt(acc) + eps_)
                    continue
                for f in range(n_fields):
                    if f == fa:
                        continue
                    for c in range(k):
                        gv = gx * P[a, f * k + c] + r_fac * V[ia, f, c]
                        a1 = s1_V[ia, f, c] if has_s1 else 0.0
                        a2 = s2_V[ia, f, c] if has_s2 else 0.0
                        V[ia, f, c], a1, a2 = _step(opt, V[ia, f, c], gv, a1, a2, ohp_v, c1, c2)
                        if has_s1:
                            s1_V[ia, f, c] = a1
                        if has_s2:
                            s2_V[ia, f, c] = a2
        else:
            for a in range(m):
                ia, fa = ent_i[a], ent_f[a]
                if fa < 0:
                    continue
                sa = ent_s[a]
                gx = g * ent_x[a]
                for s in range(n_slots):
                    # V[i_a, f_s] has a partner unless f_s is i_a's own field, alone
                    if counts[s] <= (1 if s == sa else 0):
                        continue
                    f = row_fields[s]
                    if opt == ADAGRAD:
                        for c in range(k):
                            v = V[ia, f, c]
                            gv = gx * S[a, s, c] + r_fac * v
                            acc = s1_V[ia, f, c] + gv * gv
                            s1_V[ia, f, c] = acc
                            V[ia, f, c] = v - lr * gv / (np.sqrt(acc) + eps)
                        continue
                    for c in range(k):
                        gv = gx * S[a, s, c] + r_fac * V[ia, f, c]
                        a1 = s1_V[ia, f, c] if has_s1 else 0.0
                        a2 = s2_V[ia, f, c] if has_s2 else 0.0
                        V[ia, f, c], a1, a2 = _step(opt, V[ia, f, c], gv, a1, a2, ohp_v, c1, c2)
                        if has_s1:
                            s1_V[ia, f, c] = a1
                        if has_s2:
                            s2_V[ia, f, c] = a2
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

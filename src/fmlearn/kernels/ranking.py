"""One epoch of an FM trained for ranking on implicit feedback: BPR, WARP or logistic with
sampled negatives.

The FM scores a (user, item) pair on the row ``[user features | item features]``: with
``p_u = Σ_{f∈u} v_f x_f`` and ``q_i = Σ_{g∈i} v_g x_g``,

    s(u, i) = w0 + lin(u) + intra(u) + lin(i) + intra(i) + <p_u, q_i>

where ``lin`` is the linear part and ``intra(i) = ½(‖q_i‖² − Σ_g ‖v_g‖² x_g²)`` the pairs
within one side (e.g. item id × genre). For one user the items rank by
``b_i + <p_u, q_i>`` with ``b_i = lin(i) + intra(i)``: everything on the user's side is
a constant, which is why top-N lists are block matrix products (recommender.py).

Losses, per sampled positive (u, i) of weight c:

* ``BPR`` (Rendle et al. 2009): one negative j the user has not interacted with,
  loss ``−c log σ(s(u,i) − s(u,j))``;
* ``WARP`` (Weston et al. 2011, as LightFM): negatives are drawn until one scores above
  ``s(u,i) − 1`` (at most ``max_sampled`` draws); after t draws the rank of i is estimated
  as ⌊(n_items − 1)/t⌋ and the hinge ``1 − s(u,i) + s(u,j)`` is weighted by the paper's
  L(rank) = Σ_{r≤rank} 1/r, so positives ranked low get large steps. No violating draw:
  no step;
* ``LOGISTIC``: pointwise log-loss on (u, i) with label 1 and ``n_negatives`` sampled
  items with label 0.

For a pairwise loss the user's own terms cancel in ``s(u,i) − s(u,j)``: the user's vectors
get ``δ x_f (q_i − q_j)`` and no linear step. Gradients are exact at the step's current
parameters (all computed before any is applied; a feature shared by i and j, e.g. a genre,
gets the sum of both parts as one step). Optimiser steps, codes and state layout are those
of kernels/sgd.py (SGD, AdaGrad, Adam), with lazy L2 on the parameters a step touches,
weighted by the interaction's weight like its loss (as there). Scores are accumulated in
float64; a float32 model's factor gradients and AdaGrad steps are float32 (as the FFM's
flat path), a float64 model's float64.

Negatives are drawn uniformly over the items, or in proportion to ``neg_cdf`` (cumulative
popularity weights), and a draw that is one of the user's positives is rejected (it
counts as one of WARP's draws). Random numbers come from numba's generator, seeded per
chunk: one chunk is reproducible bit for bit, Hogwild! chunks are not.
"""

import numpy as np
from numba import njit, prange

from fmlearn.kernels import FASTMATH
from fmlearn.kernels.predict import row_predict
from fmlearn.kernels.prefetch import prefetch_row_blocks
from fmlearn.kernels.sgd import (
    ADAGRAD,
    SGD,
    _bias_corrections,
    _scalars,
    _update_matrix,
    _update_vector,
)

BPR = 0
WARP = 1
LOGISTIC = 2

# Positions in the int vector ``rcodes``.
R_LOSS, R_OPTIMIZER, R_MAX_SAMPLED, R_N_NEGATIVES = range(4)
#: Draws allowed to find a negative for BPR and LOGISTIC (users holding almost every item).
MAX_REJECTIONS = 100


@njit(cache=True, nogil=True)
def positive_bitset(indptr, indices, n_items):
    """One bit per (user, item), set where the user has the item: (n_users, ⌈n_items/64⌉)
    uint64. Checking a drawn negative is then one memory access instead of a binary
    search over the user's items (~8 dependent cache misses, the largest fixed cost of a
    step when measured on 1 M interactions)."""
    n_users = indptr.shape[0] - 1
    bits = np.zeros((n_users, (n_items + 63) // 64), dtype=np.uint64)
    for u in range(n_users):
        for ptr in range(indptr[u], indptr[u + 1]):
            j = indices[ptr]
            bits[u, j >> 6] |= np.uint64(1) << np.uint64(j & 63)
    return bits


@njit(cache=True, nogil=True, inline="always")
def _is_positive(pos, u, j):
    """Is item ``j`` one of user ``u``'s positives? ``pos = (indptr, sorted items, bits)``:
    the bitset when there is one (``bits`` non-empty), else a binary search."""
    pos_indptr, pos_items, bits = pos
    if bits.shape[0] > 0:
        return (bits[u, j >> 6] >> np.uint64(j & 63)) & np.uint64(1) != 0
    lo, hi = pos_indptr[u], pos_indptr[u + 1]
    while lo < hi:
        mid = (lo + hi) // 2
        if pos_items[mid] < j:
            lo = mid + 1
        else:
            hi = mid
    return lo < pos_indptr[u + 1] and pos_items[lo] == j


@njit(cache=True, nogil=True, inline="always")
def _draw_item(n_items, neg_cdf):
    if neg_cdf.shape[0] == 0:
        return np.random.randint(0, n_items)  # noqa: NPY002 (numba's per-thread generator)
    j = np.searchsorted(neg_cdf, np.random.random() * neg_cdf[-1], side="right")  # noqa: NPY002
    return min(j, n_items - 1)


@njit(cache=True, nogil=True, inline="always")
def _rank_weight(rank):
    """WARP's L(rank) = Σ_{r ≤ rank} 1/r (Weston et al. 2011): 1 for rank 1, ≈ ln rank +
    0.5772 beyond. LightFM's ln(rank) drops the constant, and with it every step whose
    estimated rank is 1 (all of them with two items)."""
    if rank <= 32:
        total = 0.0
        for r in range(1, rank + 1):
            total += 1.0 / r
        return total
    x = np.float64(rank)
    return np.log(x) + 0.5772156649015329 + 0.5 / x - 1.0 / (12.0 * x * x)


@njit(cache=True, nogil=True, inline="always")
def _draw_negative(pos, u, n_items, neg_cdf):
    """An item user ``u`` has not interacted with; −1 after ``MAX_REJECTIONS`` draws."""
    for _ in range(MAX_REJECTIONS):
        cand = _draw_item(n_items, neg_cdf)
        if not _is_positive(pos, u, cand):
            return cand
    return -1


@njit(cache=True, nogil=True, inline="always")
def _dot(a, b):
    s = 0.0
    for c in range(a.shape[0]):
        s += a[c] * b[c]
    return s


@njit(cache=True, nogil=True, inline="always")
def _item_score(IX, item, w, V, p, q):
    """``b_item + <p, q_item>``, filling ``q``: ``b_item`` is the FM of the item's row
    alone without w0 (its linear part and the pairs within it)."""
    return row_predict(IX[0], IX[1], IX[2], item, 0.0, w, V, q) + _dot(p, q)


@njit(cache=True, nogil=True, inline="always")
def _softplus(x):
    """log(1 + e^x), without overflow."""
    return max(x, 0.0) + np.log1p(np.exp(-abs(x)))


@njit(cache=True, nogil=True, inline="always")
def _add_item_part(gw, gv, n, x, coef, p, q, V, g):
    """Add item r's part to feature g's gradient slot n: ``coef · x (1, p + q_r − v_g x)``
    for (w_g, v_g); twice when g belongs to both items of a pair."""
    gw[n] += coef * x
    for c in range(V.shape[1]):
        gv[n, c] += coef * x * (p[c] + q[c] - np.float64(V[g, c]) * x)


@njit(cache=True, nogil=True, fastmath=FASTMATH, inline="always")
def _apply(
    UX, IX, u, i, j, coef_i, coef_j, pointwise, p, q_i, q_j, params, state, regs, ohp, opt, c1, c2,
    weight, idx, gw, gv, consts,
):  # fmt: skip
    """Step every parameter the score ``coef_i s(u,i) + coef_j s(u,j)`` depends on (j < 0:
    the ``i`` term alone), along its gradient at the current parameters plus lazy L2.

    Only a pointwise step moves w0 and the user's linear weights (a pairwise difference
    does not depend on them). Gradients: user vector ``v_f``: ``x_f Σ_r coef_r (p + q_r −
    v_f x_f)`` (pairwise: ``x_f (q_i − q_j)``), an item's ``v_g``: ``coef_r x_g (p + q_r −
    v_g x_g)`` summed over the items r holding g.
    """
    w0, w, V = params
    s1_w0, s2_w0, s1_w, s2_w, s1_V, s2_V = state
    # the penalty is weighted like the loss: weight 2 means the interaction twice
    reg_bias, reg_linear, reg_factors = weight * regs[0], weight * regs[1], weight * regs[2]
    k = V.shape[1]
    total = coef_i + (coef_j if j >= 0 else 0.0)
    # Every gradient first: a later step must not see an earlier one's parameters.
    Up, Ui, Ux = UX
    Ip, Ii, Ix = IX
    n = 0
    for ptr in range(Up[u], Up[u + 1]):
        f = Ui[ptr]
        x = np.float64(Ux[ptr])
        for c in range(k):
            qsum = coef_i * q_i[c] + (coef_j * q_j[c] if j >= 0 else 0.0)
            v = np.float64(V[f, c])
            gv[n, c] = x * (qsum + total * (p[c] - v * x))
        idx[n] = f
        gw[n] = total * x
        n += 1
    first_item = n
    a = Ip[i]
    b = Ip[j] if j >= 0 else 0
    a_end = Ip[i + 1]
    b_end = Ip[j + 1] if j >= 0 else 0
    while a < a_end or b < b_end:
        ga = Ii[a] if a < a_end else -1
        gb = Ii[b] if b < b_end else -1
        take_a = a < a_end and (b >= b_end or ga <= gb)
        take_b = b < b_end and (a >= a_end or gb <= ga)
        g = ga if take_a else gb
        gw[n] = 0.0
        for c in range(k):
            gv[n, c] = 0.0
        if take_a:
            _add_item_part(gw, gv, n, np.float64(Ix[a]), coef_i, p, q_i, V, g)
            a += 1
        if take_b:
            _add_item_part(gw, gv, n, np.float64(Ix[b]), coef_j, p, q_j, V, g)
            b += 1
        idx[n] = g
        n += 1
    if pointwise:
        _update_vector(opt, w0, s1_w0, s2_w0, 0, total + reg_bias * w0[0], ohp, c1, c2)
    for e in range(n):
        g = idx[e]
        if pointwise or e >= first_item:
            _update_vector(opt, w, s1_w, s2_w, g, gw[e] + reg_linear * w[g], ohp, c1, c2)
        if opt == ADAGRAD:
            # written out, as in kernels/sgd.py: without the optimiser branch inside the
            # loop LLVM vectorises it (k is typically 32–128 here)
            consts[0], consts[1], consts[2] = ohp[0], ohp[3], reg_factors
            lr, eps, reg = consts[0], consts[1], consts[2]
            for c in range(k):
                v = V[g, c]
                grad = gv[e, c] + reg * v
                acc = s1_V[g, c] + grad * grad
                s1_V[g, c] = acc
                V[g, c] = v - lr * grad / (np.sqrt(acc) + eps)
            continue
        if opt == SGD:
            lr = ohp[0]
            for c in range(k):
                V[g, c] -= lr * (gv[e, c] + reg_factors * V[g, c])
            continue
        for c in range(k):
            _update_matrix(opt, V, s1_V, s2_V, g, c, gv[e, c] + reg_factors * V[g, c], ohp,
                           c1, c2)  # fmt: skip


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def _ranking_rows(UX, IX, pos, pairs, order, start, stop, neg_cdf, params, state, hp, rcodes,
                  t0, seed):  # fmt: skip
    """Steps for the positives ``order[start:stop]``; returns (Σ weighted loss, steps)."""
    np.random.seed(seed)  # noqa: NPY002 (seeds numba's generator of this thread only)
    pair_user, pair_item, pair_weight = pairs
    w0, w, V = params
    loss_code, opt = rcodes[R_LOSS], rcodes[R_OPTIMIZER]
    max_sampled, n_negatives = rcodes[R_MAX_SAMPLED], rcodes[R_N_NEGATIVES]
    regs, ohp = _scalars(hp)
    n_items = IX[0].shape[0] - 1
    k = V.shape[1]
    longest = 1
    for row in range(UX[0].shape[0] - 1):
        longest = max(longest, UX[0][row + 1] - UX[0][row])
    widest = 1
    for row in range(n_items):
        widest = max(widest, IX[0][row + 1] - IX[0][row])
    idx = np.empty(longest + 2 * widest, dtype=np.int64)  # one step's parameters and gradients
    gw = np.empty(longest + 2 * widest)
    # gradients and the factor step in the model's dtype: a float32 model steps in float32
    # (twice the lanes; measured 1.55× per BPR epoch at k = 64), a float64 one as before
    gv = np.empty((longest + 2 * widest, k), dtype=V.dtype)
    consts = np.empty(3, dtype=V.dtype)
    p = np.empty(k)
    q_i = np.empty(k)
    q_j = np.empty(k)
    total = 0.0
    steps = 0
    prefetch_state = state[4].shape[0] > 0
    for pos_ in range(start, stop):
        e = order[pos_]
        if pos_ + 1 < stop:
            # the next positive's user and item vectors (and their optimiser memory) load
            # while this step runs: every step's rows lie at random places
            nxt = order[pos_ + 1]
            prefetch_row_blocks(UX[0], UX[1], pair_user[nxt], V, k)
            prefetch_row_blocks(IX[0], IX[1], pair_item[nxt], V, k)
            if prefetch_state:
                prefetch_row_blocks(UX[0], UX[1], pair_user[nxt], state[4], k)
                prefetch_row_blocks(IX[0], IX[1], pair_item[nxt], state[4], k)
        u, i, c = pair_user[e], pair_item[e], np.float64(pair_weight[e])
        # the user's side: p, and (for the pointwise loss) c_u, the FM of the user's row
        const_u = row_predict(UX[0], UX[1], UX[2], u, np.float64(w0[0]), w, V, p)
        s_i = _item_score(IX, i, w, V, p, q_i)
        pointwise = loss_code == LOGISTIC
        # one step per positive; log-loss: the positive, then n_negatives sampled negatives
        for t in range(n_negatives + 1 if pointwise else 1):
            a, b, delta = i, -1, 0.0
            if pointwise:
                label = 1.0 if t == 0 else 0.0
                s = const_u + s_i
                if t > 0:
                    a = _draw_negative(pos, u, n_items, neg_cdf)
                    if a < 0:
                        continue
                    s = const_u + _item_score(IX, a, w, V, p, q_j)
                # log-loss of σ(s) against the label, and its derivative in s
                total += c * (_softplus(s) - label * s)
                delta = c * (1.0 / (1.0 + np.exp(-s)) - label)
            elif loss_code == BPR:
                b = _draw_negative(pos, u, n_items, neg_cdf)
                if b < 0:
                    continue
                x = s_i - _item_score(IX, b, w, V, p, q_j)
                total += c * _softplus(-x)
                delta = -c / (1.0 + np.exp(x))  # d/dx of −c log σ(x)
            else:  # WARP
                for draws in range(1, max_sampled + 1):
                    cand = _draw_item(n_items, neg_cdf)
                    if _is_positive(pos, u, cand):
                        continue
                    s_j = _item_score(IX, cand, w, V, p, q_j)
                    if s_j > s_i - 1.0:
                        rank_weight = _rank_weight((n_items - 1) // draws)
                        total += c * rank_weight * (1.0 - s_i + s_j)
                        delta = -c * rank_weight
                        b = cand
                        break
                if b < 0 or delta == 0.0:
                    continue
            q_a = q_i if a == i else q_j  # a sampled negative's q is in q_j
            c1, c2 = _bias_corrections(opt, ohp, t0 + steps + 1)
            _apply(UX, IX, u, a, b, delta, -delta if b >= 0 else 0.0, pointwise, p, q_a, q_j,
                   params, state, regs, ohp, opt, c1, c2, c, idx, gw, gv, consts)  # fmt: skip
            steps += 1
            if pointwise and t < n_negatives:
                # the user's side moved: recompute p (the next negative sees the new model)
                const_u = row_predict(UX[0], UX[1], UX[2], u, np.float64(w0[0]), w, V, p)
    return total, steps


@njit(cache=True, nogil=True)
def ranking_epoch(UX, IX, pos, pairs, order, neg_cdf, params, state, hp, rcodes, t0, seed):
    """One pass over the positives ``order`` (indices into ``pairs``); serial and
    reproducible. Returns (Σ weighted loss, number of steps taken).

    ``UX``/``IX``: CSR triplets ``(indptr, indices, data)`` of the user and item feature
    rows, indices already in the model's global feature numbering; ``pos``: the
    interactions' ``(indptr, sorted item ids, bitset)`` (:func:`positive_bitset`, or an
    empty (0, 0) uint64 array to search instead); ``pairs``: ``(user, item, weight)`` per
    positive; ``params = (w0, w, V)`` and ``state`` as in kernels/sgd.py;
    ``hp`` its hyper-parameters, ``rcodes`` this module's codes; ``t0`` the steps taken
    before (Adam); ``seed`` the random stream.
    """
    return _ranking_rows(UX, IX, pos, pairs, order, 0, order.shape[0], neg_cdf, params, state,
                         hp, rcodes, t0, seed)  # fmt: skip


@njit(cache=True, nogil=True, parallel=True)
def ranking_epoch_hogwild(UX, IX, pos, pairs, order, neg_cdf, params, state, hp, rcodes, t0,
                          seed, n_chunks):  # fmt: skip
    """``ranking_epoch`` with ``order`` cut into ``n_chunks`` chunks run on threads without
    locks (Hogwild!), chunk c drawing from seed ``seed + c``: not reproducible bit for bit."""
    n = order.shape[0]
    chunk = (n + n_chunks - 1) // n_chunks
    totals = np.zeros(n_chunks)
    counts = np.zeros(n_chunks, dtype=np.int64)
    for c in prange(n_chunks):
        start = c * chunk
        stop = min(start + chunk, n)
        totals[c], counts[c] = _ranking_rows(UX, IX, pos, pairs, order, start, stop, neg_cdf,
                                             params, state, hp, rcodes, t0, seed + c)  # fmt: skip
    return totals.sum(), counts.sum()

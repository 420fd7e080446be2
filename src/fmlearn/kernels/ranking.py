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
parameters (each row's reads only that row and the sums p_u, q_i, q_j taken before any
row is stepped; the item rows of i and j are merged in index order, sorted by
recommender.py, so a feature shared by i and j, e.g. a genre, gets the sum of both parts
as one step). Optimiser steps, codes and state layout are those
of kernels/sgd.py (SGD, AdaGrad, Adam), with lazy L2 on the parameters a step touches,
weighted by the interaction's weight like its loss (as there); a positive of weight 0 is
skipped (no draws, no step: absent, as a weight-0 row in kernels/sgd.py). A score's linear
parts and its total are float64; its factor sums, the pairs within a side and the dot
products are in the model's dtype (float32 lanes for a float32 model, ~1e-8 relative from
float64 sums), as are a float32 model's factor gradients and AdaGrad steps.

Negatives are drawn uniformly over the items, or in proportion to ``neg_cdf`` (cumulative
popularity weights), and a draw that is one of the user's positives is rejected (it
counts as one of WARP's draws). Random numbers come from SplitMix64 held in a local
variable (:func:`_random_bits`), seeded per chunk: one chunk is reproducible bit for bit,
Hogwild! chunks are not. Each chunk first shuffles its positives in place (the epoch
order), then steps through them.

Layout: the kernels train on ``P = [V | w]``, each feature's vector and linear weight in
one row (and the optimiser's memory alike), so one step reads and writes one run of
cache lines per feature. Both step loops are written flat, with no gradient buffer and no
array-taking helper in the updates (scoring calls one, ``_row_terms``, once per row scored;
numba reference-counts arrays handed to inlined
helpers with atomic operations, on arrays every thread shares: the general path written
that way measured ~2× slower). When every user and item is just its identity feature (no
side features; the common case) a shorter loop takes the same steps as matrix
factorisation with biases, ~1.1× faster than the general path on the same data; the
tests compare the two. With side features a step's cost follows the feature rows it
touches (user rows + the rows of two items), not the loss.
"""

import numpy as np
from numba import njit, prange

from fmlearn.kernels import FASTMATH
from fmlearn.kernels.prefetch import prefetch_range, prefetch_row_blocks
from fmlearn.kernels.sgd import (
    ADAGRAD,
    SGD,
    _bias_corrections,
    _scalars,
    _step,
)
from fmlearn.kernels.shuffle import random_below as _random_below
from fmlearn.kernels.shuffle import random_bits as _random_bits
from fmlearn.kernels.shuffle import random_seed as _random_seed

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
def _has_bit(bits, u, j):
    """Is bit ``j`` of user ``u``'s row of ``positive_bitset`` set?

    Kernels test ``bits.shape[0]`` themselves and call this or :func:`_in_sorted`. One
    helper taking the tuple ``(indptr, items, bits)`` and branching between the two had
    numba count references to the three arrays on every draw (atomic operations: 40 %
    of a BPR epoch's kernel time, measured with perf; docs/design.md, section 9)."""
    return (bits[u, j >> 6] >> np.uint64(j & 63)) & np.uint64(1) != 0


@njit(cache=True, nogil=True, inline="always")
def _in_sorted(pos_indptr, pos_items, u, j):
    """Is item ``j`` among user ``u``'s sorted items? (A binary search: the fallback when
    there is no bitset.)"""
    lo, hi = pos_indptr[u], pos_indptr[u + 1]
    while lo < hi:
        mid = (lo + hi) // 2
        if pos_items[mid] < j:
            lo = mid + 1
        else:
            hi = mid
    return lo < pos_indptr[u + 1] and pos_items[lo] == j


@njit(cache=True, nogil=True, inline="always")
def _draw_item(state, n_items, neg_cdf):
    """(next state, an item): uniform, or by ``neg_cdf`` when it is non-empty."""
    if neg_cdf.shape[0] == 0:
        return _random_below(state, n_items)
    state, z = _random_bits(state)
    unit = np.float64(z >> np.uint64(11)) * (1.0 / 9007199254740992.0)  # [0, 1), 53 bits
    j = np.searchsorted(neg_cdf, unit * neg_cdf[-1], side="right")
    return state, min(j, n_items - 1)


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


def fuse(V, w):
    """``[V | w]``: each feature's vector and linear weight in one row of k + 1 values,
    the layout the epoch kernels train on: one step then touches one run of cache lines
    per feature instead of two arrays, and Hogwild! threads no longer write the shared
    lines of a dense ``w`` holding every item's bias."""
    out = np.empty((V.shape[0], V.shape[1] + 1), dtype=V.dtype)
    out[:, :-1] = V
    out[:, -1] = w
    return out


def fuse_state(arrays):
    """OptimizerState's ``(s1_w0, s2_w0, s1_w, s2_w, s1_V, s2_V)`` as the kernels'
    ``(s1_w0, s2_w0, S1, S2)``, with ``S = [s_V | s_w]`` (empty (0, 0) where unused)."""
    s1_w0, s2_w0, s1_w, s2_w, s1_V, s2_V = arrays

    def one(sw, sV):
        return fuse(sV, sw) if sV.size else np.zeros((0, 0), dtype=sV.dtype)

    return s1_w0, s2_w0, one(s1_w, s1_V), one(s2_w, s2_V)


def unfuse(fused, w, V):
    """Write a fused ``[V | w]`` back into ``V`` and ``w`` (no-op for empty slots)."""
    if fused.size:
        V[...] = fused[:, :-1]
        w[...] = fused[:, -1]


@njit(cache=True, nogil=True, inline="always")
def _softplus_sigmoid(x):
    """``(log(1 + e^x), σ(x))`` from one exponential, without overflow."""
    z = np.exp(-abs(x))
    return max(x, 0.0) + np.log1p(z), (1.0 if x >= 0.0 else z) / (1.0 + z)


def pack_pairs(users, items):
    """Each positive (user, item) as one int64, ``user << 32 | item``: the epoch kernels
    shuffle these in place, one array instead of two (ids must be < 2³¹, and the pairs
    fewer than 2³², the range of :func:`_random_below`)."""
    return (users.astype(np.int64) << 32) | items.astype(np.int64)


@njit(cache=True, nogil=True, inline="always")
def _shuffle(state, packed, weights, start, stop):
    """Fisher–Yates over ``packed[start:stop]`` and, when non-empty, ``weights`` alike:
    the chunk's positives in a new order, read in sequence afterwards (reading them
    through a permutation costs a random access per step). With numba's ``np.random`` it
    cost about as much per element as numpy's permutation plus gathers (~46 ms per 1 M on
    one thread; not re-measured with SplitMix64), and each thread shuffles its own chunk,
    in place, with no copies made per epoch. Returns the generator's next state."""
    weighted = weights.shape[0] > 0
    for t in range(stop - 1, start, -1):
        state, r = _random_below(state, t - start + 1)
        r += start
        packed[t], packed[r] = packed[r], packed[t]
        if weighted:
            weights[t], weights[r] = weights[r], weights[t]
    return state


@njit(cache=True, nogil=True, inline="always")
def _row_terms(Xp, Xi, Xv, row, P, Q, slot, zero):
    """The FM of CSR ``row`` alone, without w0 (its linear part and the pairs within it),
    filling ``Q[slot] = Σ v_f x_f``; sums in the model's dtype (float32 lanes)."""
    k = P.shape[1] - 1
    for c in range(k):
        Q[slot, c] = zero
    linear = 0.0
    squares = zero
    for ptr in range(Xp[row], Xp[row + 1]):
        f = Xi[ptr]
        x = Xv[ptr]
        linear += np.float64(P[f, k]) * np.float64(x)
        for c in range(k):
            vx = P[f, c] * x
            Q[slot, c] += vx
            squares += vx * vx
    norm = zero
    for c in range(k):
        norm += Q[slot, c] * Q[slot, c]
    return linear + 0.5 * (np.float64(norm) - np.float64(squares))


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def _ranking_rows(UX, IX, pos, pairs, start, stop, neg_cdf, w0, P, state, hp, rcodes, t0,
                  seed):  # fmt: skip
    """Shuffle the positives ``pairs[start:stop]`` and step on each in that order;
    returns (Σ weighted loss, steps). Written flat (no gradient buffers, no array-taking
    helper in the step)."""
    packed, pair_weight = pairs
    weighted = pair_weight.shape[0] > 0
    rng = _shuffle(_random_seed(seed), packed, pair_weight, start, stop)
    Up, Ui, Ux = UX
    Ip, Ii, Ix = IX
    s1_w0, s2_w0, S1, S2 = state
    has_s1, has_s2 = S1.shape[0] > 0, S2.shape[0] > 0
    pos_indptr, pos_items, bits = pos
    use_bits = bits.shape[0] > 0
    low = np.int64(0xFFFFFFFF)
    loss_code, opt = rcodes[R_LOSS], rcodes[R_OPTIMIZER]
    max_sampled, n_negatives = rcodes[R_MAX_SAMPLED], rcodes[R_N_NEGATIVES]
    regs, ohp = _scalars(hp)
    pointwise = loss_code == LOGISTIC
    n_items = Ip.shape[0] - 1
    k = P.shape[1] - 1
    width = k + 1
    # Q[0] = p (the user's Σ v_f x_f), Q[1] the positive's q, Q[2] a drawn item's
    Q = np.zeros((3, k), dtype=P.dtype)
    consts = np.zeros(8, dtype=P.dtype)  # one step's coefficients in the model's dtype
    zero = consts[7]
    rng, pending = _draw_item(rng, n_items, neg_cdf)  # one-draw look-ahead
    big = np.int64(1) << 62
    total = 0.0
    steps = 0
    for e in range(start, stop):
        if e + 1 < stop:
            un, inext = packed[e + 1] >> 32, packed[e + 1] & low
            prefetch_row_blocks(Up, Ui, un, P, width)
            prefetch_row_blocks(Ip, Ii, inext, P, width)
            if has_s1:
                prefetch_row_blocks(Up, Ui, un, S1, width)
                prefetch_row_blocks(Ip, Ii, inext, S1, width)
        u, i = packed[e] >> 32, packed[e] & low
        c = np.float64(pair_weight[e]) if weighted else 1.0
        if c == 0.0:
            continue  # weight 0: as if absent (no draws, no step, not even Adam's decay)
        s_i = 0.0
        const_u = 0.0
        for t in range(n_negatives + 1 if pointwise else 1):
            if t == 0 or pointwise:
                # the user's side (again after a pointwise step: it moved)
                const_u = np.float64(w0[0]) + _row_terms(Up, Ui, Ux, u, P, Q, 0, zero)
            if t == 0:
                s_i = _row_terms(Ip, Ii, Ix, i, P, Q, 1, zero)
                dot = zero
                for col in range(k):
                    dot += Q[0, col] * Q[1, col]
                s_i += np.float64(dot)
            # pick the step: item a (its q in Q[slot_a]) with coefficient delta, item b
            # (or −1; its q in Q[2]) with −delta
            a, b, delta, slot_a = i, -1, 0.0, 1
            if pointwise and t == 0:
                s = const_u + s_i
                soft, sig = _softplus_sigmoid(s)
                total += c * (soft - s)
                delta = c * (sig - 1.0)
            else:
                # draw until a candidate is taken: BPR and log-loss take the first item
                # the user has not got; WARP the first that violates the margin
                chosen = -1
                s_c = 0.0
                draws = 0
                limit = max_sampled if loss_code == WARP else MAX_REJECTIONS
                while draws < limit:
                    cand = pending
                    rng, pending = _draw_item(rng, n_items, neg_cdf)
                    prefetch_row_blocks(Ip, Ii, pending, P, width)
                    if has_s1:
                        prefetch_row_blocks(Ip, Ii, pending, S1, width)
                    if loss_code == WARP:
                        draws += 1  # a positive drawn counts as one of WARP's draws
                    if (
                        _has_bit(bits, u, cand)
                        if use_bits
                        else _in_sorted(pos_indptr, pos_items, u, cand)
                    ):
                        if loss_code != WARP:
                            draws += 1
                        continue
                    s_c = _row_terms(Ip, Ii, Ix, cand, P, Q, 2, zero)
                    dot = zero
                    for col in range(k):
                        dot += Q[0, col] * Q[2, col]
                    s_c += np.float64(dot)
                    if loss_code == WARP and not s_c > s_i - 1.0:
                        continue
                    chosen = cand
                    break
                if chosen < 0:
                    continue
                if pointwise:
                    a, slot_a = chosen, 2
                    s = const_u + s_c
                    soft, sig = _softplus_sigmoid(s)
                    total += c * soft
                    delta = c * sig
                elif loss_code == BPR:
                    soft, sig = _softplus_sigmoid(s_c - s_i)
                    total += c * soft  # −c log σ(s_i − s_c)
                    delta = -c * sig  # its derivative in s_i
                    b = chosen
                else:
                    rank_weight = _rank_weight((n_items - 1) // draws)
                    total += c * rank_weight * (1.0 - s_i + s_c)
                    delta = -c * rank_weight
                    b = chosen
                if not pointwise and delta == 0.0:
                    continue
            # the step on every row the score coef_a s(u,a) + coef_b s(u,b) depends on,
            # each from the parameters before the step (rows are stepped one by one and
            # each gradient reads only its own row and Q). With A, B_a, B_b, D per row:
            # grad v = A p + B_a q_a + B_b q_b − D v; grad w = L (+ lazy L2 on both)
            coef_b = -delta if b >= 0 else 0.0
            whole = delta + coef_b  # 0 for a pair: the user's own terms cancel
            c1, c2 = _bias_corrections(opt, ohp, t0 + steps + 1)
            reg_linear, reg_factors = c * regs[1], c * regs[2]
            if pointwise:
                a1 = s1_w0[0] if has_s1 else 0.0
                a2 = s2_w0[0] if has_s2 else 0.0
                w0[0], a1, a2 = _step(opt, w0[0], whole + c * regs[0] * w0[0], a1, a2, ohp, c1, c2)
                if has_s1:
                    s1_w0[0] = a1
                if has_s2:
                    s2_w0[0] = a2
            ptr, ptr_end = Up[u], Up[u + 1]
            pa, pa_end = Ip[a], Ip[a + 1]
            pb, pb_end = (Ip[b], Ip[b + 1]) if b >= 0 else (0, 0)
            while True:
                if ptr < ptr_end:
                    # the user's feature f: x_f (Σ_r coef_r (p + q_r − v_f x_f))
                    g = Ui[ptr]
                    x = np.float64(Ux[ptr])
                    ptr += 1
                    A, Ba, Bb = whole * x, delta * x, coef_b * x
                    D, L, linear = whole * x * x, whole * x, pointwise
                elif pa < pa_end or pb < pb_end:
                    # item features in order, one shared by a and b (a genre) once
                    ga = Ii[pa] if pa < pa_end else big
                    gb = Ii[pb] if pb < pb_end else big
                    g = min(ga, gb)
                    Ba = Bb = D = 0.0
                    if ga == g:
                        xa = np.float64(Ix[pa])
                        Ba, D = delta * xa, delta * xa * xa
                        pa += 1
                    if gb == g:
                        xb = np.float64(Ix[pb])
                        Bb, D = coef_b * xb, D + coef_b * xb * xb
                        pb += 1
                    A = Ba + Bb
                    L, linear = A, True
                else:
                    break
                consts[0], consts[1], consts[2] = A, Ba, Bb
                consts[3], consts[4], consts[5], consts[6] = D - reg_factors, ohp[0], ohp[3], 0.0
                A_, Ba_, Bb_, D_, lr, eps = (consts[0], consts[1], consts[2], consts[3],
                                             consts[4], consts[5])  # fmt: skip
                if opt == ADAGRAD:
                    for col in range(k):
                        v = P[g, col]
                        grad = A_ * Q[0, col] + Ba_ * Q[slot_a, col] + Bb_ * Q[2, col] - D_ * v
                        acc = S1[g, col] + grad * grad
                        S1[g, col] = acc
                        P[g, col] = v - lr * grad / (np.sqrt(acc) + eps)
                elif opt == SGD:
                    for col in range(k):
                        v = P[g, col]
                        P[g, col] = v - lr * (A_ * Q[0, col] + Ba_ * Q[slot_a, col]
                                              + Bb_ * Q[2, col] - D_ * v)  # fmt: skip
                else:
                    for col in range(k):
                        pull = A_ * Q[0, col] + Ba_ * Q[slot_a, col] + Bb_ * Q[2, col]
                        grad = np.float64(pull) - np.float64(D_ * P[g, col])
                        a1 = S1[g, col] if has_s1 else 0.0
                        a2 = S2[g, col] if has_s2 else 0.0
                        P[g, col], a1, a2 = _step(opt, P[g, col], grad, a1, a2, ohp, c1, c2)
                        if has_s1:
                            S1[g, col] = a1
                        if has_s2:
                            S2[g, col] = a2
                if linear:
                    a1 = S1[g, k] if has_s1 else 0.0
                    a2 = S2[g, k] if has_s2 else 0.0
                    P[g, k], a1, a2 = _step(
                        opt, P[g, k], L + reg_linear * P[g, k], a1, a2, ohp, c1, c2
                    )
                    if has_s1:
                        S1[g, k] = a1
                    if has_s2:
                        S2[g, k] = a2
            steps += 1
    return total, steps


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def _identity_rows(n_users, n_items, pos, pairs, start, stop, neg_cdf, w0, P, state, hp,
                   rcodes, t0, seed):  # fmt: skip
    """``_ranking_rows`` where every user and item is its own single feature of value 1:
    user u is row u of P, item i row ``n_users + i``. The FM's gradients then reduce to
    those of matrix factorisation with biases (user ``Σ_r coef_r v_r``, item r
    ``coef_r v_u``), and the loop is written out flat: the same steps, draws and losses
    as the general path (tests/kernels/test_ranking.py compares them), without the
    CSR walks and row merges (~1.1× faster than the general path on identity-only data,
    measured in one run)."""
    packed, pair_weight = pairs
    weighted = pair_weight.shape[0] > 0
    rng = _shuffle(_random_seed(seed), packed, pair_weight, start, stop)
    s1_w0, s2_w0, S1, S2 = state
    has_s1, has_s2 = S1.shape[0] > 0, S2.shape[0] > 0
    pos_indptr, pos_items, bits = pos
    use_bits = bits.shape[0] > 0
    loss_code, opt = rcodes[R_LOSS], rcodes[R_OPTIMIZER]
    max_sampled, n_negatives = rcodes[R_MAX_SAMPLED], rcodes[R_N_NEGATIVES]
    regs, ohp = _scalars(hp)
    pointwise = loss_code == LOGISTIC
    low = np.int64(0xFFFFFFFF)
    k = P.shape[1] - 1
    width = k + 1
    # the step's gradients, rows user, item a, item b, column k the linear weight's
    G = np.empty((3, width), dtype=P.dtype)
    consts = np.zeros(5, dtype=P.dtype)  # lr, ε, λ, δ in the model's dtype (float32 lanes)
    zero = consts[4]
    rng, pending = _draw_item(rng, n_items, neg_cdf)  # one-draw look-ahead, as _ranking_rows
    total = 0.0
    steps = 0
    for e in range(start, stop):
        if e + 1 < stop:
            un = packed[e + 1] >> 32
            ir = n_users + (packed[e + 1] & low)
            prefetch_range(P, un * width, (un + 1) * width)
            prefetch_range(P, ir * width, (ir + 1) * width)
            if has_s1:
                prefetch_range(S1, un * width, (un + 1) * width)
                prefetch_range(S1, ir * width, (ir + 1) * width)
        u, i = packed[e] >> 32, packed[e] & low
        c = np.float64(pair_weight[e]) if weighted else 1.0
        if c == 0.0:
            continue  # weight 0: as if absent (no draws, no step, not even Adam's decay)
        for t in range(n_negatives + 1 if pointwise else 1):
            # pick the step: item a with coefficient delta, item b (or −1) with −delta
            a, b, delta = i, -1, 0.0
            ra = n_users + i
            dot = zero  # in the model's dtype: float32 lanes for a float32 model
            for f in range(k):
                dot += P[u, f] * P[ra, f]
            s_a = np.float64(P[ra, k]) + np.float64(dot)
            if pointwise:
                label = 1.0
                if t > 0:
                    label = 0.0
                    a = -1
                    for _ in range(MAX_REJECTIONS):
                        cand = pending
                        rng, pending = _draw_item(rng, n_items, neg_cdf)
                        r = n_users + pending
                        prefetch_range(P, r * width, (r + 1) * width)
                        if not (
                            _has_bit(bits, u, cand)
                            if use_bits
                            else _in_sorted(pos_indptr, pos_items, u, cand)
                        ):
                            a = cand
                            break
                    if a < 0:
                        continue
                    ra = n_users + a
                    dot = zero
                    for f in range(k):
                        dot += P[u, f] * P[ra, f]
                    s_a = np.float64(P[ra, k]) + np.float64(dot)
                s = np.float64(w0[0]) + np.float64(P[u, k]) + s_a
                soft, sig = _softplus_sigmoid(s)
                total += c * (soft - label * s)
                delta = c * (sig - label)
            else:
                draws = 0
                limit = max_sampled if loss_code == WARP else MAX_REJECTIONS
                while draws < limit:
                    cand = pending
                    rng, pending = _draw_item(rng, n_items, neg_cdf)
                    r = n_users + pending
                    prefetch_range(P, r * width, (r + 1) * width)
                    if has_s1:
                        prefetch_range(S1, r * width, (r + 1) * width)
                    if loss_code == WARP:
                        draws += 1  # a positive drawn counts as one of WARP's draws
                    if (
                        _has_bit(bits, u, cand)
                        if use_bits
                        else _in_sorted(pos_indptr, pos_items, u, cand)
                    ):
                        if loss_code != WARP:
                            draws += 1
                        continue
                    rc = n_users + cand
                    dot = zero
                    for f in range(k):
                        dot += P[u, f] * P[rc, f]
                    s_b = np.float64(P[rc, k]) + np.float64(dot)
                    if loss_code == BPR:
                        soft, sig = _softplus_sigmoid(s_b - s_a)
                        total += c * soft  # −c log σ(s_a − s_b)
                        delta = -c * sig  # its derivative in s_a
                        b = cand
                        break
                    if s_b > s_a - 1.0:
                        rank_weight = _rank_weight((n_items - 1) // draws)
                        total += c * rank_weight * (1.0 - s_a + s_b)
                        delta = -c * rank_weight
                        b = cand
                        break
                if b < 0 or delta == 0.0:
                    continue
            # the step, every gradient from the parameters before it
            ra = n_users + a
            rb = n_users + b if b >= 0 else ra
            coef_b = -delta if b >= 0 else 0.0
            c1, c2 = _bias_corrections(opt, ohp, t0 + steps + 1)
            # the penalty is weighted like the loss: weight 2 means the interaction twice
            reg_linear, reg_factors = c * regs[1], c * regs[2]
            if b >= 0 and (opt == ADAGRAD or opt == SGD):
                # a pair (BPR, WARP) with the plain optimisers: the three rows in one loop,
                # column by column (each column's step reads only that column), the
                # linear weights of the two items on their own
                a1 = S1[ra, k] if has_s1 else 0.0
                a2 = S2[ra, k] if has_s2 else 0.0
                P[ra, k], a1, a2 = _step(
                    opt, P[ra, k], delta + reg_linear * P[ra, k], a1, a2, ohp, c1, c2
                )
                if has_s1:
                    S1[ra, k] = a1
                if has_s2:
                    S2[ra, k] = a2
                a1 = S1[rb, k] if has_s1 else 0.0
                a2 = S2[rb, k] if has_s2 else 0.0
                P[rb, k], a1, a2 = _step(
                    opt, P[rb, k], coef_b + reg_linear * P[rb, k], a1, a2, ohp, c1, c2
                )
                if has_s1:
                    S1[rb, k] = a1
                if has_s2:
                    S2[rb, k] = a2
                consts[0], consts[1], consts[2], consts[3] = ohp[0], ohp[3], reg_factors, delta
                lr, eps, reg, d = consts[0], consts[1], consts[2], consts[3]
                if opt == ADAGRAD:
                    for f in range(k):
                        pu, qa, qb = P[u, f], P[ra, f], P[rb, f]
                        gu = d * (qa - qb) + reg * pu
                        ga = d * pu + reg * qa
                        gb = reg * qb - d * pu
                        su = S1[u, f] + gu * gu
                        sa = S1[ra, f] + ga * ga
                        sb = S1[rb, f] + gb * gb
                        S1[u, f], S1[ra, f], S1[rb, f] = su, sa, sb
                        P[u, f] = pu - lr * gu / (np.sqrt(su) + eps)
                        P[ra, f] = qa - lr * ga / (np.sqrt(sa) + eps)
                        P[rb, f] = qb - lr * gb / (np.sqrt(sb) + eps)
                else:
                    for f in range(k):
                        pu, qa, qb = P[u, f], P[ra, f], P[rb, f]
                        P[u, f] = pu - lr * (d * (qa - qb) + reg * pu)
                        P[ra, f] = qa - lr * (d * pu + reg * qa)
                        P[rb, f] = qb - lr * (reg * qb - d * pu)
                steps += 1
                continue
            for f in range(k):
                G[0, f] = delta * np.float64(P[ra, f]) + coef_b * np.float64(P[rb, f])
                G[1, f] = delta * np.float64(P[u, f])
                G[2, f] = coef_b * np.float64(P[u, f])
            G[0, k], G[1, k], G[2, k] = delta, delta, coef_b
            if pointwise:
                a1 = s1_w0[0] if has_s1 else 0.0
                a2 = s2_w0[0] if has_s2 else 0.0
                w0[0], a1, a2 = _step(opt, w0[0], delta + c * regs[0] * w0[0], a1, a2, ohp, c1, c2)
                if has_s1:
                    s1_w0[0] = a1
                if has_s2:
                    s2_w0[0] = a2
            consts[0], consts[1], consts[2], consts[3] = ohp[0], ohp[3], reg_factors, reg_linear
            lr, eps, reg_v, reg_w = consts[0], consts[1], consts[2], consts[3]
            for slot in range(3 if b >= 0 else 2):
                r = u if slot == 0 else (ra if slot == 1 else rb)
                # the vector and, except for the user in a pairwise loss, the linear weight
                n = width if slot > 0 or pointwise else k
                if opt == ADAGRAD:
                    for f in range(n):
                        v = P[r, f]
                        grad = G[slot, f] + (reg_v if f < k else reg_w) * v
                        acc = S1[r, f] + grad * grad
                        S1[r, f] = acc
                        P[r, f] = v - lr * grad / (np.sqrt(acc) + eps)
                elif opt == SGD:
                    for f in range(n):
                        P[r, f] -= lr * (G[slot, f] + (reg_v if f < k else reg_w) * P[r, f])
                else:
                    for f in range(n):
                        reg = reg_factors if f < k else reg_linear
                        a1 = S1[r, f] if has_s1 else 0.0
                        a2 = S2[r, f] if has_s2 else 0.0
                        P[r, f], a1, a2 = _step(
                            opt, P[r, f], G[slot, f] + reg * P[r, f], a1, a2, ohp, c1, c2
                        )
                        if has_s1:
                            S1[r, f] = a1
                        if has_s2:
                            S2[r, f] = a2
            steps += 1
    return total, steps


@njit(cache=True, nogil=True)
def _rows(UX, IX, identity, pos, pairs, start, stop, neg_cdf, w0, P, state, hp, rcodes, t0,
          seed):  # fmt: skip
    if identity:
        n_users, n_items = UX[0].shape[0] - 1, IX[0].shape[0] - 1
        return _identity_rows(n_users, n_items, pos, pairs, start, stop, neg_cdf, w0, P, state,
                              hp, rcodes, t0, seed)  # fmt: skip
    return _ranking_rows(UX, IX, pos, pairs, start, stop, neg_cdf, w0, P, state, hp, rcodes,
                         t0, seed)  # fmt: skip


@njit(cache=True, nogil=True)
def ranking_epoch(UX, IX, identity, pos, pairs, neg_cdf, w0, P, state, hp, rcodes, t0, seed):
    """One pass over every positive of ``pairs``, in a new random order (``pairs`` is
    shuffled in place); serial and reproducible. Returns (Σ weighted loss, steps taken).

    ``UX``/``IX``: CSR triplets ``(indptr, indices, data)`` of the user and item feature
    rows, indices already in the model's global feature numbering; ``identity``: both are
    identity matrices (user u is feature u, item i feature n_users + i, value 1), which
    takes a shorter path with the same steps; ``pos``: the interactions' ``(indptr,
    sorted item ids, bitset)`` (:func:`positive_bitset`, or an empty (0, 0) uint64 array
    to search instead); ``pairs``: ``(packed, weight)``, the positives as
    :func:`pack_pairs` and their weights (empty: all 1); ``w0`` (1,) and
    ``P = [V | w]`` (:func:`fuse`) the model; ``state`` its optimiser memory
    (:func:`fuse_state`), ``hp`` the hyper-parameters of kernels/sgd.py, ``rcodes`` this
    module's codes; ``t0`` the steps taken before (Adam); ``seed`` the random stream.
    """
    return _rows(UX, IX, identity, pos, pairs, 0, pairs[0].shape[0], neg_cdf, w0, P, state, hp,
                 rcodes, t0, seed)  # fmt: skip


@njit(cache=True, nogil=True, parallel=True)
def ranking_epoch_hogwild(UX, IX, identity, pos, pairs, neg_cdf, w0, P, state, hp, rcodes, t0,
                          seed, n_chunks):  # fmt: skip
    """``ranking_epoch`` with ``pairs`` cut into ``n_chunks`` fixed chunks, each shuffled
    within itself and run on its own thread without locks (Hogwild!), chunk c drawing from
    seed ``seed + c``: not reproducible bit for bit. Shuffle ``pairs`` once before the
    first epoch, so that every chunk is a random part of them."""
    n = pairs[0].shape[0]
    chunk = (n + n_chunks - 1) // n_chunks
    totals = np.zeros(n_chunks)
    counts = np.zeros(n_chunks, dtype=np.int64)
    for c in prange(n_chunks):
        start = c * chunk
        stop = min(start + chunk, n)
        totals[c], counts[c] = _rows(UX, IX, identity, pos, pairs, start, stop, neg_cdf, w0, P,
                                     state, hp, rcodes, t0, seed + c)  # fmt: skip
    return totals.sum(), counts.sum()

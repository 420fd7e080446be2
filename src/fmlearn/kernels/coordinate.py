"""One coordinate sweep over all FM parameters: Gibbs sampling (MCMC) or ALS.

Both solvers share libFM's scheme (Rendle 2012, "Factorization Machines with libFM",
sections 4.2–4.3). The model is linear in each single parameter θ:
``ŷ(x) = g_θ(x) + θ h_θ(x)`` with ``h_w0 = 1``, ``h_wi = x_i`` and
``h_vif = x_i (q_f − v_if x_i)`` where ``q_f = Σ_j v_jf x_j``. With the residual cache
``e_n = ŷ_n − t_n`` (``t`` is the target, or the latent probit target), the conditional
posterior of θ under a Gaussian likelihood of precision α and a prior N(μ, 1/λ) is normal
with

    var  = 1 / (α Σ_n s_n h_n² + λ)
    mean = var · (α Σ_n s_n (θ h_n − e_n) h_n + μ λ)

(``s_n`` are sample weights). MCMC draws θ from it; ALS sets θ to the mean (with α = 1,
μ = 0 and λ the fixed L2 strength of the parameter's group, as libFM's ``-method als``
with per-group ``-regular``; the solver writes them where MCMC keeps its sampled group
priors): the exact minimiser in that coordinate of ½ Σ s e² + ½ λ θ². After a change Δ
the caches follow in O(nnz of the column): ``e_n += Δ h_n`` and, for factors,
``q_nf += Δ x_ni``. One sweep is O(k · nnz). With ``codes[BLOCK]`` (the estimators'
default for ALS) each feature's k factors are updated as one block instead
(:func:`_block_update`, O(k² · nnz)), which needs far fewer sweeps.

Hyper-parameters (MCMC only) follow the Bayesian FM of Freudenthaler, Schmidt-Thieme and
Rendle (2011): per group g of features a Normal-Gamma hyperprior on the mean and
precision of the linear weights and of every factor column, and a Gamma prior on the
noise precision α. For classification (probit link) α = 1 and the latent targets are
drawn from truncated normals (MCMC) or set to their expectations (ALS, which is then EM);
those numerics live in :mod:`fmlearn.kernels.truncated_normal`, and the cutpoints of
ordinal regression, a parameter of that task rather than of the FM, in
:mod:`fmlearn.kernels.ordinal`.

Random numbers come from the caller's ``numpy.random.Generator`` (numba draws from it
and advances its state), so ``random_state`` makes chains repeatable bit for bit.
"""

import math

import numpy as np
from numba import njit

from fmlearn.kernels import FASTMATH
from fmlearn.kernels.ordinal import class_bounds, update_cutpoints
from fmlearn.kernels.predict import row_predict
from fmlearn.kernels.truncated_normal import (
    probit_latent_mean,
    std_normal_between,
    truncated_normal,
)

# Task codes.
REGRESSION = 0
PROBIT = 1
ORDINAL = 2  # ordered probit: class j when c_{j-1} < z ≤ c_j, z ~ N(ŷ, 1)

# Positions in the float prior vector ``prior``.
# (ALS's strengths of w and V are not here: the solver writes them into the group priors)
ALPHA0, BETA0, GAMMA0, MU0, NOISE_SHAPE0, NOISE_RATE0, REG_W0 = range(7)
N_PRIOR = 7
# Positions in the int code vector ``codes``.
TASK, SAMPLE, FIT_INTERCEPT, FIT_LINEAR, ADAPT, BLOCK = range(6)
N_CODES = 6


@njit(cache=True, nogil=True, inline="always")
def conditional(sum_hh, sum_rh, alpha, mu, lam):
    """Mean and variance of one parameter's conditional posterior (module docstring).

    ``sum_hh = Σ s h²`` and ``sum_rh = Σ s (θ h − e) h`` over the rows of its column.
    """
    precision = alpha * sum_hh + lam
    if precision <= 0.0:  # a feature never seen, with a flat prior: keep it where it is
        return np.nan, 0.0
    var = 1.0 / precision
    return var * (alpha * sum_rh + mu * lam), var


@njit(cache=True, nogil=True, inline="always")
def _draw(rng, mean, var, sample):
    if sample:
        return mean + math.sqrt(var) * rng.standard_normal()
    return mean


@njit(cache=True, nogil=True, inline="always", fastmath=FASTMATH)
def _add_scaled(m, eb, d, x):
    """``eb[:m] += d · x[:m]``: a change d of one parameter reaching the buffered residuals."""
    for p in range(m):
        eb[p] += d * x[p]


@njit(cache=True, nogil=True, inline="always", fastmath=FASTMATH)
def _add_scaled_row(m, eb, d, hb, f):
    """``eb[:m] += d · hb[f, :m]``. Rows are indexed, never sliced, in the per-feature
    code: each view ``hb[f]`` is a new array whose reference count numba increments and
    decrements atomically (a fifth of an ALS sweep went to them, measured)."""
    for p in range(m):
        eb[p] += d * hb[f, p]


@njit(cache=True, nogil=True)
def prepare_caches(rng, Xr, y, codes, w0, w, V, Q, e, t, cut):
    """Fill ``Q[n, f] = q_f(x_n)``, the targets ``t`` and the residual ``e = ŷ − t``.

    Called once per ``fit``; the sweeps then keep the caches current in O(nnz) per
    parameter change (rounding drift after thousands of updates stays ~1e-12).
    """
    indptr, indices, data = Xr
    n_rows = indptr.shape[0] - 1
    k = V.shape[1]
    q = np.empty(k, dtype=np.float64)
    s = np.empty(k, dtype=np.float64)
    for n in range(n_rows):
        p = row_predict(indptr, indices, data, n, w0[0], w, V, q, s)
        for f in range(k):
            Q[n, f] = q[f]
        t[n] = y[n]
        e[n] = p - t[n]
    if codes[TASK] != REGRESSION:
        update_latent(rng, y, codes, e, t, cut)


@njit(cache=True, nogil=True)
def update_latent(rng, y, codes, e, t, cut):
    """Probit: new latent targets given ŷ = e + t — drawn (MCMC) or expected (ALS/EM).

    Ordinal: drawn within the class's interval (c_{y−1}, c_y].
    """
    sample = codes[SAMPLE] == 1
    ordinal = codes[TASK] == ORDINAL
    for n in range(e.shape[0]):
        p = e[n] + t[n]
        if ordinal:
            lo, hi = class_bounds(cut, int(y[n]))
            t[n] = p + std_normal_between(rng, lo - p, hi - p)
        elif sample:
            t[n] = truncated_normal(rng, p, y[n] > 0.0)
        else:
            t[n] = probit_latent_mean(p, y[n] > 0.0)
        e[n] = p - t[n]


@njit(cache=True, nogil=True)
def _draw_group_prior(rng, values, groups, n_groups, mu, lam, prior):
    """Draw (λ_g, μ_g) of each group from their Normal-Gamma posterior (BFM, eq. 12–13)."""
    alpha0, beta0, gamma0, mu0 = prior[ALPHA0], prior[BETA0], prior[GAMMA0], prior[MU0]
    count = np.zeros(n_groups)
    total = np.zeros(n_groups)
    squares = np.zeros(n_groups)
    for i in range(values.shape[0]):
        g = groups[i]
        count[g] += 1.0
        total[g] += values[i]
        d = values[i] - mu[g]
        squares[g] += d * d
    for g in range(n_groups):
        if count[g] == 0.0:
            continue
        d0 = mu[g] - mu0
        shape = 0.5 * (alpha0 + count[g] + 1.0)
        rate = 0.5 * (beta0 + squares[g] + gamma0 * d0 * d0)
        lam[g] = rng.gamma(shape, 1.0 / rate)
        n_post = count[g] + gamma0
        mean = (total[g] + gamma0 * mu0) / n_post
        mu[g] = mean + math.sqrt(1.0 / (n_post * lam[g])) * rng.standard_normal()


@njit(cache=True, nogil=True, fastmath=FASTMATH)
def _gather(cptr, crows, cdata, sw, i, e, Q, V, xb, sb, eb, hb):
    """Copy feature i's values, weights and residuals into contiguous buffers, with
    ``h_f = x (q_f − v_if x)`` for every f; returns the column length m.

    h_f does not depend on any of v_i1 … v_ik (q_f − v_if x is the other features' part
    of q_f), so the buffered h stay valid through all k updates of the feature and only
    ``e`` changes. The updates then stream over contiguous, read-only h (vectorised)
    instead of gathering from random rows of ``Q`` each time.
    """
    start = cptr[i]
    m = cptr[i + 1] - start
    k = Q.shape[1]
    weighted = sw.shape[0] > 0
    for p in range(m):
        n = crows[start + p]
        x = np.float64(cdata[start + p])
        xb[p] = x
        sb[p] = sw[n] if weighted else 1.0
        eb[p] = e[n]
        for f in range(k):
            hb[f, p] = x * (Q[n, f] - np.float64(V[i, f]) * x)
    return m


@njit(cache=True, nogil=True, fastmath=FASTMATH)
def _scatter(cptr, crows, i, e, Q, xb, eb, dv):
    """Write the buffered residuals back, and ``q_f += Δv_if x`` for every f."""
    start = cptr[i]
    k = Q.shape[1]
    for p in range(cptr[i + 1] - start):
        n = crows[start + p]
        e[n] = eb[p]
        x = xb[p]
        for f in range(k):
            Q[n, f] += dv[f] * x


@njit(cache=True, nogil=True, inline="always", fastmath=FASTMATH)
def _apply_and_sum(m, sb, eb, hb, f, delta, fn, v_next):
    """One pass over the buffers: apply the change ``delta`` of v_if to the residuals
    (``e += delta h_f``) and sum what the conditional of the next factor ``fn`` needs
    (``Σ s h²`` and ``Σ s (v h − e) h`` with its h, ``hb[fn]``).
    """
    sum_hh = 0.0
    sum_rh = 0.0
    for p in range(m):
        r = eb[p] + delta * hb[f, p]
        eb[p] = r
        h = hb[fn, p]
        sh = sb[p] * h
        sum_hh += sh * h
        sum_rh += sh * (v_next * h - r)
    return sum_hh, sum_rh


@njit(cache=True, nogil=True, fastmath=FASTMATH)
def _scalar_updates(rng, m, i, sb, eb, hb, V, a, lam, mu, g, sample, dv):
    """v_i1 … v_ik one at a time (libFM): k + 1 passes over the buffers, O(k m).
    The prior of factor f is N(``mu[g, f]``, 1/``lam[g, f]``)."""
    k = V.shape[1]
    v_next = np.float64(V[i, 0])
    sum_hh, sum_rh = _apply_and_sum(m, sb, eb, hb, 0, 0.0, 0, v_next)
    for f in range(k):
        v = v_next
        mean, var = conditional(sum_hh, sum_rh, a, mu[g, f], lam[g, f])
        dv[f] = 0.0
        if not np.isnan(mean):
            V[i, f] = _draw(rng, mean, var, sample)
            dv[f] = np.float64(V[i, f]) - v  # the stored value (float32 models round)
        if f + 1 < k:
            v_next = np.float64(V[i, f + 1])
            sum_hh, sum_rh = _apply_and_sum(m, sb, eb, hb, f, dv[f], f + 1, v_next)
        elif dv[f] != 0.0:
            _add_scaled_row(m, eb, dv[f], hb, f)


@njit(cache=True, nogil=True, fastmath=FASTMATH)
def _gram(m, sb, eb, hb, a, weighted, P, rhs):
    """``P = α H S Hᵀ`` (upper triangle, mirrored) and ``rhs = −H S e``: O(k² m)."""
    k = hb.shape[0]
    for f in range(k):  # rows of hb indexed, not sliced (see _add_scaled_row)
        r = 0.0
        if weighted:
            for p in range(m):
                r += sb[p] * hb[f, p] * eb[p]
        else:
            for p in range(m):
                r += hb[f, p] * eb[p]
        rhs[f] = -r  # − Σ s h_f e
        for f2 in range(f, k):
            acc = 0.0
            if weighted:
                for p in range(m):
                    acc += sb[p] * hb[f, p] * hb[f2, p]
            else:
                for p in range(m):
                    acc += hb[f, p] * hb[f2, p]
            P[f, f2] = a * acc
            P[f2, f] = a * acc


@njit(cache=True, nogil=True, inline="always", fastmath=FASTMATH)
def _add_prior(i, V, a, lam, mu, g, P, rhs):
    """Complete the normal equations from :func:`_gram`'s output: ``rhs = α H S Hᵀ v_i
    + α rhs + λ μ`` (the b of :func:`_block_update`), then ``P += diag(λ)``.

    Inlined on purpose: as a call, the copy numba loaded from its cache fused the sums
    into FMAs differently from a fresh compilation, so ALS gave results that differed in
    the last bit between the first run and later ones."""
    k = V.shape[1]
    for f in range(k):
        gv = 0.0
        for f2 in range(k):
            gv += P[f, f2] * np.float64(V[i, f2])
        rhs[f] = gv + a * rhs[f] + lam[g, f] * mu[g, f]
        P[f, f] += lam[g, f]


@njit(cache=True, nogil=True, fastmath=FASTMATH)
def _cholesky(P):
    """``P = L Lᵀ`` in place, L in the lower triangle; False (P part overwritten) if P
    is not numerically positive definite."""
    k = P.shape[0]
    for c in range(k):
        d = P[c, c]
        for j in range(c):
            d -= P[c, j] * P[c, j]
        if not d > 1e-12 * (P[c, c] + 1e-300):
            return False
        d = math.sqrt(d)
        P[c, c] = d
        for r2 in range(c + 1, k):
            acc = P[r2, c]
            for j in range(c):
                acc -= P[r2, j] * P[c, j]
            P[r2, c] = acc / d
    return True


@njit(cache=True, nogil=True, fastmath=FASTMATH)
def _cholesky_solve(rng, P, rhs, sample):
    """``rhs ← L⁻ᵀ (L⁻¹ rhs + z)`` in place, L from :func:`_cholesky`: the mean P⁻¹ b
    (z = 0), or with ``sample`` (z ~ N(0, I)) a draw from N(P⁻¹ b, P⁻¹)."""
    k = P.shape[0]
    for c in range(k):  # L u = b
        acc = rhs[c]
        for j in range(c):
            acc -= P[c, j] * rhs[j]
        rhs[c] = acc / P[c, c]
    if sample:
        for c in range(k):
            rhs[c] += rng.standard_normal()
    for c in range(k - 1, -1, -1):  # Lᵀ v' = u (+ z)
        acc = rhs[c]
        for j in range(c + 1, k):
            acc -= P[j, c] * rhs[j]
        rhs[c] = acc / P[c, c]


@njit(cache=True, nogil=True, fastmath=FASTMATH)
def _apply_block(m, i, eb, hb, V, v_new, dv):
    """Store ``v_i = v_new`` and follow with the buffered residuals: ``e += Δv_if h_f``."""
    for f in range(V.shape[1]):
        old = np.float64(V[i, f])
        V[i, f] = v_new[f]
        dv[f] = np.float64(V[i, f]) - old  # the stored value (float32 models round)
        if dv[f] != 0.0:
            _add_scaled_row(m, eb, dv[f], hb, f)


@njit(cache=True, nogil=True, fastmath=FASTMATH)
def _block_update(rng, m, i, sb, eb, hb, V, a, lam, mu, g, sample, weighted, dv, P, rhs):
    """All k factors of feature i at once, from their joint conditional.

    ŷ is linear in the vector v_i: ``e' = e + Hᵀ (v' − v)`` (rows of H are the h_f of
    :func:`_gather`). The conditional is N(P⁻¹ b, P⁻¹) with ``P = α H S Hᵀ + diag(λ)``
    and ``b = α (H S Hᵀ v − H S e) + λ μ`` — ALS takes the mean (the exact minimiser
    over v_i: block coordinate descent, which converges in far fewer sweeps than scalar
    updates), MCMC draws ``P⁻¹ b + L⁻ᵀ z`` (P = L Lᵀ), a block Gibbs step.
    O(k² m + k³). Returns False, changing nothing, if P is not positive definite (λ = 0
    and fewer informative rows than factors): then the scalar updates run. ``P`` (k × k)
    and ``rhs`` (k) are scratch.
    """
    _gram(m, sb, eb, hb, a, weighted, P, rhs)
    _add_prior(i, V, a, lam, mu, g, P, rhs)
    if not _cholesky(P):
        return False
    _cholesky_solve(rng, P, rhs, sample)
    _apply_block(m, i, eb, hb, V, rhs, dv)
    return True


@njit(cache=True, nogil=True, inline="always")
def _column_buffers(cptr, k):
    """Scratch for one feature at a time, sized by the longest column: its values,
    weights, residuals and h (k × m), then Δv (k), and P (k × k) and b (k) of the block
    update."""
    longest = 0
    for i in range(cptr.shape[0] - 1):
        longest = max(longest, cptr[i + 1] - cptr[i])
    xb = np.empty(longest)
    sb = np.empty(longest)
    eb = np.empty(longest)
    hb = np.empty((k, longest))
    return xb, sb, eb, hb, np.empty(k), np.empty((k, k)), np.empty(k)


@njit(cache=True, nogil=True, inline="always", fastmath=FASTMATH)
def _update_linear(rng, m, i, g, xb, sb, eb, w, a, hyper, sample):
    """w_i from its conditional (h = x over the buffered column), then ``e += Δw_i x``.

    The prior is its group's N(μ_g, 1/λ_g): sampled (MCMC), or ALS's fixed N(0, 1/reg)
    set per group by the solver.
    """
    _, mu_w, lam_w, _, _, _, _ = hyper
    wi = np.float64(w[i])
    sum_hh = 0.0
    sum_rh = 0.0
    for p in range(m):
        sh = sb[p] * xb[p]
        sum_hh += sh * xb[p]
        sum_rh += sh * (wi * xb[p] - eb[p])
    # μ and λ are picked after the sums, as before the split: where LLVM sees them
    # defined decides which product of the conditional's mean it fuses into an FMA
    lam = lam_w[g]
    mu = mu_w[g]
    mean, var = conditional(sum_hh, sum_rh, a, mu, lam)
    if not np.isnan(mean):
        w[i] = _draw(rng, mean, var, sample)
        delta = np.float64(w[i]) - wi
        if delta != 0.0:
            _add_scaled(m, eb, delta, xb)


@njit(cache=True, nogil=True, inline="always", fastmath=FASTMATH)
def _update_features(rng, Xc, sw, w, V, hyper, groups, prior, codes, a, Q, e):
    """Feature by feature, w_i then v_i1 … v_ik (or the block v_i), each feature on one
    buffered copy of its column (:func:`_gather` … :func:`_scatter`)."""
    cptr, crows, cdata = Xc
    _, _, _, mu_v, lam_v, _, _ = hyper
    sample = codes[SAMPLE] == 1
    block = codes[BLOCK] == 1
    weighted = sw.shape[0] > 0
    k = V.shape[1]
    xb, sb, eb, hb, dv, P, rhs = _column_buffers(cptr, k)
    for i in range(cptr.shape[0] - 1):  # X's features (relation blocks': kernels/relational)
        m = _gather(cptr, crows, cdata, sw, i, e, Q, V, xb, sb, eb, hb)
        g = groups[i]
        if codes[FIT_LINEAR] == 1:
            _update_linear(rng, m, i, g, xb, sb, eb, w, a, hyper, sample)
        # the prior's row g of (n_groups, k), passed whole: a row view costs refcounts
        if not (block and _block_update(rng, m, i, sb, eb, hb, V, a, lam_v, mu_v, g, sample,
                                        weighted, dv, P, rhs)):  # fmt: skip
            _scalar_updates(rng, m, i, sb, eb, hb, V, a, lam_v, mu_v, g, sample, dv)
        _scatter(cptr, crows, i, e, Q, xb, eb, dv)


@njit(cache=True, nogil=True, inline="always", fastmath=FASTMATH)
def _draw_noise_precision(rng, sw, e, prior):
    """α | e ~ Gamma(½ (a0 + Σ s), rate ½ (b0 + Σ s e²)) (BFM; regression only)."""
    weighted = sw.shape[0] > 0
    shape = prior[NOISE_SHAPE0]
    sse = prior[NOISE_RATE0]
    for n in range(e.shape[0]):
        s = sw[n] if weighted else 1.0
        shape += s
        sse += s * e[n] * e[n]
    return rng.gamma(0.5 * shape, 2.0 / sse)


@njit(cache=True, nogil=True, inline="always", fastmath=FASTMATH)
def _update_intercept(rng, sw, e, w0, a, prior, sample):
    """w0 from its conditional (h = 1 on every row), then ``e += Δw0``.

    The prior is flat (MCMC) or N(0, 1/reg_bias) (ALS).
    """
    weighted = sw.shape[0] > 0
    sum_hh = 0.0
    sum_rh = 0.0
    for n in range(e.shape[0]):
        s = sw[n] if weighted else 1.0
        sum_hh += s
        sum_rh += s * (w0[0] - e[n])
    lam = 0.0 if sample else prior[REG_W0]
    mean, var = conditional(sum_hh, sum_rh, a, 0.0, lam)
    if not np.isnan(mean):
        old = np.float64(w0[0])
        w0[0] = _draw(rng, mean, var, sample)
        delta = np.float64(w0[0]) - old
        for n in range(e.shape[0]):
            e[n] += delta


@njit(cache=True, nogil=True, inline="always")
def _draw_group_priors(rng, w, V, groups, n_groups, hyper, prior, fit_linear):
    """(μ_g, λ_g) of the linear weights (when fitted), then of each factor column."""
    _, mu_w, lam_w, mu_v, lam_v, _, _ = hyper
    if fit_linear:
        _draw_group_prior(rng, w, groups, n_groups, mu_w, lam_w, prior)
    for f in range(V.shape[1]):
        _draw_group_prior(rng, V[:, f], groups, n_groups, mu_v[:, f], lam_v[:, f], prior)


@njit(cache=True, nogil=True, inline="always", fastmath=FASTMATH)
def _weighted_sse(sw, e):
    """Σ s e² (s = 1 when ``sw`` is empty)."""
    weighted = sw.shape[0] > 0
    sse = 0.0
    for n in range(e.shape[0]):
        s = sw[n] if weighted else 1.0
        sse += s * e[n] * e[n]
    return sse


@njit(cache=True, nogil=True, fastmath=FASTMATH)
def sweep(rng, Xr, Xc, y, sw, params, hyper, groups, n_groups, prior, codes, Q, e, t):
    """One pass over w0, every w_i and every v_if; returns Σ s e² after the sweep.

    ``Xr``/``Xc`` are the CSR and CSC triplets of the same matrix (CSC gives each
    feature's rows). Updated in place: ``params = (w0, w, V)``; ``hyper = (alpha, mu_w,
    lam_w, mu_v, lam_v, cut, step)`` — the noise precision (1,), the group means and
    precisions of w (n_groups,) and of V (n_groups, k), and for ordinal regression the
    cutpoints and their MH step sizes (n_classes − 1,); the caches ``Q`` (n_rows × k),
    ``e`` and ``t`` (n_rows) from :func:`prepare_caches`.

    Order: cutpoints (ordinal), latent targets (probit, ordinal), noise precision α, w0,
    the group hyper-parameters of w and of every factor column, then feature by feature
    w_i, v_i1 … v_ik (or the block v_i when ``codes[BLOCK]``). Any order of full
    conditionals is a valid Gibbs sweep;
    feature-major order lets a feature's k + 1 updates work on one contiguous copy of its
    rows (:func:`_gather` … :func:`_scatter`).

    The steps below run once per sweep and are ``inline="always"``, so that LLVM still
    compiles them as one function: under ``fastmath`` its choices (which product an
    addition fuses into an FMA, whether a loop is unswitched on ``weighted``) depend on
    the code around the arithmetic, and compiled apart the same source rounded
    differently in the last bit. Of the per-feature pieces, :func:`_update_linear` is
    inlined too (as a call it cost ~4 % of a sweep on ML-100K); the others are plain
    functions.
    """
    w0, w, V = params
    alpha, _, _, _, _, cut, step = hyper
    sample = codes[SAMPLE] == 1
    if codes[TASK] == ORDINAL and sample:
        update_cutpoints(rng, y, e, t, cut, step, codes[ADAPT] == 1)
    if codes[TASK] != REGRESSION:
        update_latent(rng, y, codes, e, t, cut)
    if sample and codes[TASK] == REGRESSION:  # noise precision α | e
        alpha[0] = _draw_noise_precision(rng, sw, e, prior)
    a = alpha[0]
    if codes[FIT_INTERCEPT] == 1:
        _update_intercept(rng, sw, e, w0, a, prior, sample)
    if sample:
        _draw_group_priors(rng, w, V, groups, n_groups, hyper, prior, codes[FIT_LINEAR] == 1)
    _update_features(rng, Xc, sw, w, V, hyper, groups, prior, codes, a, Q, e)
    return _weighted_sse(sw, e)

"""Coordinate descent (ALS) for the higher-order FM (Blondel et al. 2016, section 4).

The model is linear in each single parameter: for the order-m factor θ = V[j, m−2, f],
``ŷ = g + θ h`` with ``h_n = x_nj · e_{m−1}`` of row n's values ``a = V[:, m−2, f] x``
*without* j. ALS sets θ to the exact minimiser of ½ Σ s e² + ½ λ θ² in that coordinate,
``θ ← Σ s (θ h − e) h / (Σ s h² + λ)`` (kernels/coordinate.py's conditional mean, α = 1),
as it does for the FM's parameters.

Caches: the residual ``e_n = ŷ_n − y_n`` and, per row, order and factor, the elementary
symmetric polynomials ``E[n, m−2, t, f] = e_t(a)`` for t = 0 … m. A row's ``e_{m−1}``
without j comes from them by deflation (``r_0 = 1, r_t = E_t − a_j r_{t−1}``, as
kernels/anova.py); after a change Δ of θ the caches follow exactly:
``e_n += Δ h_n`` and ``E_t += Δ x_nj r_{t−1}`` (``e_t`` is linear in a_j). A sweep costs
O(d² k nnz) and the caches O(n_rows · d² · k) memory. Classification runs the same
sweep on probit latent targets, reset before each sweep by the solver (EM).
"""

import numpy as np
from numba import njit

from fmlearn.kernels import FASTMATH


@njit(cache=True, nogil=True)
def anova_caches(Xr, y, w0, w, V, E, e):
    """Fill ``E`` (n_rows, d − 1, d + 1, k) and the residual ``e`` from the parameters."""
    indptr, indices, data = Xr
    n_orders, k = V.shape[1], V.shape[2]
    for n in range(indptr.shape[0] - 1):
        E[n] = 0.0
        pred = w0[0]
        for j in range(n_orders):
            for f in range(k):
                E[n, j, 0, f] = 1.0
        for p in range(indptr[n], indptr[n + 1]):
            i = indices[p]
            x = np.float64(data[p])
            pred += w[i] * x
            for j in range(n_orders):
                m = j + 2
                for f in range(k):
                    a = V[i, j, f] * x
                    for t in range(m, 0, -1):
                        E[n, j, t, f] += a * E[n, j, t - 1, f]
        for j in range(n_orders):
            for f in range(k):
                pred += E[n, j, j + 2, f]
        e[n] = pred - y[n]


@njit(cache=True, nogil=True, fastmath=FASTMATH)
def anova_als_sweep(Xc, sw, w0, w, V, E, e, regs, fit_intercept, fit_linear):
    """One ALS sweep over w0, then feature by feature w_i and every V[i, m−2, f]; returns
    the weighted sum of squared residuals after it. ``Xc`` is the CSC triplet, ``regs``
    ``(λ_w0, λ_w, λ_V)``; ``sw`` the sample weights (empty: all 1)."""
    cptr, crows, cdata = Xc
    weighted = sw.shape[0] > 0
    n_orders, k = V.shape[1], V.shape[2]
    r = np.empty(n_orders + 2)
    if fit_intercept:
        hh = 0.0
        rh = 0.0
        for n in range(e.shape[0]):
            s = sw[n] if weighted else 1.0
            hh += s
            rh += s * (w0[0] - e[n])
        if hh + regs[0] > 0.0:
            new = rh / (hh + regs[0])
            delta = new - w0[0]
            w0[0] = new
            for n in range(e.shape[0]):
                e[n] += delta
    for i in range(V.shape[0]):
        lo, hi = cptr[i], cptr[i + 1]
        if lo == hi:
            continue
        if fit_linear:
            hh = 0.0
            rh = 0.0
            for p in range(lo, hi):
                n = crows[p]
                x = np.float64(cdata[p])
                s = sw[n] if weighted else 1.0
                hh += s * x * x
                rh += s * (w[i] * x - e[n]) * x
            new = rh / (hh + regs[1])
            delta = new - w[i]
            w[i] = new
            for p in range(lo, hi):
                e[crows[p]] += delta * np.float64(cdata[p])
        for j in range(n_orders):
            m = j + 2
            for f in range(k):
                theta = np.float64(V[i, j, f])
                hh = 0.0
                rh = 0.0
                for p in range(lo, hi):
                    n = crows[p]
                    x = np.float64(cdata[p])
                    a = theta * x
                    r[0] = 1.0
                    for t in range(1, m):
                        r[t] = E[n, j, t, f] - a * r[t - 1]
                    h = x * r[m - 1]
                    s = sw[n] if weighted else 1.0
                    hh += s * h * h
                    rh += s * (theta * h - e[n]) * h
                if hh + regs[2] <= 0.0:
                    continue
                new = rh / (hh + regs[2])
                delta = new - theta
                if delta == 0.0:
                    continue
                V[i, j, f] = new
                for p in range(lo, hi):
                    n = crows[p]
                    x = np.float64(cdata[p])
                    a = theta * x  # the deflation uses the old value, as above
                    r[0] = 1.0
                    for t in range(1, m):
                        r[t] = E[n, j, t, f] - a * r[t - 1]
                    e[n] += delta * x * r[m - 1]
                    for t in range(1, m + 1):
                        E[n, j, t, f] += delta * x * r[t - 1]
    total = 0.0
    for n in range(e.shape[0]):
        s = sw[n] if weighted else 1.0
        total += s * e[n] * e[n]
    return total

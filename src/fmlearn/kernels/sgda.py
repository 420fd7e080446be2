"""SGD with adaptive regularisation (Rendle, "Learning Recommender Systems with Adaptive
Regularization", WSDM 2012; libFM's ``-method sgda``): one epoch.

The L2 strengths are parameters too, one per feature group for w (``reg_w[g]``) and one
per group and factor for V (``reg_v[g, f]``), learned on a validation set. After each
training row's step on θ, one validation row (taken in turn, from the start again when
they run out) takes a step on λ: the validation loss of the parameters that the *next*
step would produce, ``θ' = θ − lr (∂ℓ/∂θ + 2 λ θ)`` with each feature's most recent
training gradient ``∂ℓ/∂θ``, is differentiated with respect to λ:

    ∂ŷ(x; θ')/∂reg_w[g]    = −2 lr Σ_{i∈g} x_i w_i
    ∂ŷ(x; θ')/∂reg_v[g, f] = −2 lr (q'_f Σ_{i∈g} v_if x_i − Σ_{i∈g} v'_if x_i v_if x_i)

with ``q'_f = Σ_i v'_if x_i``, and ``λ ← max(0, λ − lr · ∂ℓ/∂ŷ · ∂ŷ/∂λ)``. The scale is
libFM's (``-method sgda``): regression descends ``(ŷ − y)²`` (derivative 2 (ŷ − y), with
ŷ clipped to the training targets' range as libFM does) with penalty ``λ θ²``;
classification the logistic loss. The first epoch of a fit takes no λ steps (the
training gradients are not all known yet). w0 is not penalised. Plain SGD steps, rows in
the order given, one thread.
"""

import numpy as np
from numba import njit

from fmlearn.kernels import FASTMATH
from fmlearn.kernels.losses import loss_value, sigmoid

REGRESSION = 0
CLASSIFICATION = 1


@njit(cache=True, nogil=True, inline="always")
def _link_gradient(task, p, target, y_min, y_max):
    """libFM's multiplier: 2 (clip(ŷ) − y) for regression, y (σ(y ŷ) − 1) for ±1 labels."""
    if task == REGRESSION:
        return 2.0 * (min(max(p, y_min), y_max) - target)
    return target * (sigmoid(target * p) - 1.0)


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def sgda_epoch(X, y, order, Xv, yv, v_pos, params, groups, reg_w, reg_v, grad_w, grad_V,
               hp, flags, lambda_steps):  # fmt: skip
    """One pass over ``order``; returns (Σ training loss, the next validation row).

    ``X``/``Xv`` are CSR triplets (training, validation), ``params = (w0, w, V)``,
    ``groups`` each feature's group, ``reg_w`` (G,) and ``reg_v`` (G, k) the learned
    strengths and ``grad_w`` (n,), ``grad_V`` (n, k) each feature's latest training
    gradient (all updated in place). ``hp = (lr, y_min, y_max)``, ``flags = (task, loss
    code for the reported loss, fit_intercept, fit_linear)``.
    """
    indptr, indices, data = X
    vptr, vind, vdat = Xv
    w0, w, V = params
    lr, y_min, y_max = hp[0], hp[1], hp[2]
    task, loss, fit_intercept, fit_linear = flags[0], flags[1], flags[2], flags[3]
    k = V.shape[1]
    n_groups = reg_w.shape[0]
    q = np.empty(k)
    s = np.empty(k)
    qd = np.empty(k)
    lam_w = np.empty(n_groups)
    sum_g = np.empty(n_groups)
    cross_g = np.empty(n_groups)
    n_valid = vptr.shape[0] - 1
    total = 0.0
    for pos in range(order.shape[0]):
        r = order[pos]
        # ---- θ step on the training row
        linear = 0.0
        for f in range(k):
            q[f] = 0.0
            s[f] = 0.0
        for ptr in range(indptr[r], indptr[r + 1]):
            i = indices[ptr]
            x = np.float64(data[ptr])
            linear += w[i] * x
            for f in range(k):
                vx = V[i, f] * x
                q[f] += vx
                s[f] += vx * vx
        pair = 0.0
        for f in range(k):
            pair += q[f] * q[f] - s[f]
        p = w0[0] + linear + 0.5 * pair
        total += loss_value(loss, p, y[r])
        mult = _link_gradient(task, p, y[r], y_min, y_max)
        if fit_intercept:
            w0[0] -= lr * mult
        for ptr in range(indptr[r], indptr[r + 1]):
            i = indices[ptr]
            x = np.float64(data[ptr])
            g = groups[i]
            if fit_linear:
                grad_w[i] = mult * x
                w[i] -= lr * (grad_w[i] + 2.0 * reg_w[g] * w[i])
            for f in range(k):
                v = V[i, f]
                grad_V[i, f] = mult * x * (q[f] - v * x)
                V[i, f] = v - lr * (grad_V[i, f] + 2.0 * reg_v[g, f] * v)
        if not lambda_steps or n_valid == 0:
            continue
        # ---- λ step on the next validation row, at the parameters θ' of a further step
        if v_pos >= n_valid:
            v_pos = 0
        lo, hi = vptr[v_pos], vptr[v_pos + 1]
        pd = w0[0]
        for ptr in range(lo, hi):
            i = vind[ptr]
            x = np.float64(vdat[ptr])
            if fit_linear:
                pd += (w[i] - lr * (grad_w[i] + 2.0 * reg_w[groups[i]] * w[i])) * x
        for f in range(k):
            qd[f] = 0.0
            sq = 0.0
            for ptr in range(lo, hi):
                i = vind[ptr]
                x = np.float64(vdat[ptr])
                v = V[i, f]
                d = (v - lr * (grad_V[i, f] + 2.0 * reg_v[groups[i], f] * v)) * x
                qd[f] += d
                sq += d * d
            pd += 0.5 * (qd[f] * qd[f] - sq)
        grad_loss = _link_gradient(task, pd, yv[v_pos], y_min, y_max)
        if fit_linear:
            for g in range(n_groups):
                lam_w[g] = 0.0
            for ptr in range(lo, hi):
                i = vind[ptr]
                lam_w[groups[i]] += np.float64(vdat[ptr]) * w[i]
            for g in range(n_groups):
                reg_w[g] = max(0.0, reg_w[g] - lr * grad_loss * (-2.0 * lr * lam_w[g]))
        for f in range(k):
            for g in range(n_groups):
                sum_g[g] = 0.0
                cross_g[g] = 0.0
            for ptr in range(lo, hi):
                i = vind[ptr]
                x = np.float64(vdat[ptr])
                g = groups[i]
                v = V[i, f]
                vd = v - lr * (grad_V[i, f] + 2.0 * reg_v[g, f] * v)
                sum_g[g] += v * x
                cross_g[g] += vd * x * v * x
            for g in range(n_groups):
                step = -2.0 * lr * (qd[f] * sum_g[g] - cross_g[g])
                reg_v[g, f] = max(0.0, reg_v[g, f] - lr * grad_loss * step)
        v_pos += 1
    return total, v_pos

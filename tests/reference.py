"""Slow, obvious pure-numpy references for the kernel tests (never used by the package).

The plain FM's prediction, gradient and losses are the public teaching code in
``fmlearn.reference`` (issue 21), so the code users read is the code that checks the
kernels; this module adds what that one leaves out (optimisers, mini-batches, sample
weights, FFM, FwFM, finite differences).

Everything here is written for readability, not speed: the FM is evaluated with an
explicit double loop over feature pairs, gradients come from the textbook formulas or
from central finite differences, and optimiser steps are spelled out one parameter
array at a time. The kernels are checked against these.

Conventions mirrored from ``fmlearn.kernels.sgd`` (they were checked to be the usual
ones, not copied blindly):

* the objective of one row ``r`` is ``s_r [loss(ŷ_r, y_r) + ½ reg_bias w0² +
  ½ Σ_{i ∈ x_r} (reg_linear w_i² + reg_factors ‖v_i‖²)]`` where the sum runs over the
  features *stored* in the row (lazy L2, as libFM) and ``s_r`` is the sample weight, which
  scales the row's penalty like its loss (weight 2 = the row twice, weight 0 = no row):
  the gradient of a present parameter ``θ`` is ``s_r (∂loss/∂ŷ · ∂ŷ/∂θ + reg · θ)``;
* a mini-batch step uses the *mean* over the B batch rows of these per-row gradients
  (a row without a feature contributes zero to its mean, loss and penalty alike), at the
  same, old parameters; the features updated are those stored in some row of the batch;
* AdaGrad: ``G += g²``, ``θ -= lr g / (√G + ε)``; Adam: ``m = β1 m + (1−β1) g``,
  ``v = β2 v + (1−β2) g²``, ``θ -= lr m̂ / (√v̂ + ε)`` with ``m̂ = m / (1 − β1^t)`` and
  ``v̂ = v / (1 − β2^t)``, ``t`` the global (1-based) update count.
"""

from __future__ import annotations

import itertools

import numpy as np
import scipy.sparse as sp

from fmlearn import reference as fm_reference

SQUARED = 0
LOGISTIC = 1
SGD = 0
ADAGRAD = 1
ADAM = 2
FTRL = 3


# ---------------------------------------------------------------------------- data
def random_csr(n_rows, n_features, density, rng, dtype=np.float64, empty_rows=True):
    """Random canonical CSR matrix with an empty row and a full row when possible.

    Row 0 is emptied and row 1 (if any) holds every feature, so that both edge cases are
    always exercised; values are N(0, 1).
    """
    dense = rng.normal(size=(n_rows, n_features))
    dense[rng.random((n_rows, n_features)) >= density] = 0.0
    if n_rows >= 1 and empty_rows:
        dense[0] = 0.0
    if n_rows >= 2:
        dense[1] = rng.normal(size=n_features)
        dense[1][dense[1] == 0.0] = 1.0
    X = sp.csr_matrix(dense.astype(dtype))
    X.sort_indices()
    return X


def kernel_csr(X):
    """``(indptr int64, indices int32, data)`` exactly as ``csr_arrays`` gives kernels."""
    return (
        np.ascontiguousarray(X.indptr, dtype=np.int64),
        np.ascontiguousarray(X.indices, dtype=np.int32),
        np.ascontiguousarray(X.data),
    )


def random_params(n_features, k, rng, dtype=np.float64, scale=0.3):
    """``(w0[1], w, V)`` with every entry non-zero (random normal)."""
    w0 = rng.normal(size=1).astype(dtype)
    w = (scale * rng.normal(size=n_features)).astype(dtype)
    V = (scale * rng.normal(size=(n_features, k))).astype(dtype)
    return w0, w, V


# ---------------------------------------------------------------------------- model
def naive_predict(X_dense, w0, w, V):
    """``ŷ = w0 + Σ_i w_i x_i + Σ_{i<j} <v_i, v_j> x_i x_j`` by the double sum, in float64.

    ``fmlearn.reference.predict_naive``, the public teaching code (issue 21), with
    ``w0`` as a kernel's length-1 array or a scalar.
    """
    return fm_reference.predict_naive(
        np.atleast_2d(np.asarray(X_dense, dtype=np.float64)),
        float(np.asarray(w0, dtype=np.float64).reshape(-1)[0]),
        np.asarray(w, dtype=np.float64),
        np.asarray(V, dtype=np.float64),
    )


def factor_sums(X_dense, V):
    """``q[r, f] = Σ_i v_if x_ri``."""
    return np.asarray(X_dense, dtype=np.float64) @ np.asarray(V, dtype=np.float64)


def predict_gradient(x, w0, w, V):
    """Analytic ``(∂ŷ/∂w0, ∂ŷ/∂w, ∂ŷ/∂V)`` for one dense row ``x``, full size.

    ``fmlearn.reference.gradient`` (``∂ŷ/∂v_if = x_i (Σ_j v_jf x_j − v_if x_i)``) spread
    over all features: zero where ``x_i`` is.
    """
    x = np.asarray(x, dtype=np.float64)
    V = np.asarray(V, dtype=np.float64)
    idx = np.flatnonzero(x)
    d0, dw_row, dV_row = fm_reference.gradient(idx, x[idx], V)
    dw, dV = np.zeros_like(x), np.zeros_like(V)
    dw[idx], dV[idx] = dw_row, dV_row
    return d0, dw, dV


# ---------------------------------------------------------------------------- losses
_LOSS_NAMES = {SQUARED: "squared", LOGISTIC: "logistic"}


def loss(code, p, y):
    """``½ (p − y)²`` or ``log(1 + exp(−y p))`` (y in ±1): ``fmlearn.reference.loss_gradient``."""
    if code not in _LOSS_NAMES:
        raise ValueError(f"unknown loss code {code}")
    p, y = np.asarray(p, dtype=np.float64), np.asarray(y, dtype=np.float64)
    return fm_reference.loss_gradient(p, y, _LOSS_NAMES[code])[0]


def loss_derivative(code, p, y):
    """``∂loss/∂p``: ``p − y`` or ``−y σ(−y p)``: ``fmlearn.reference.loss_gradient``."""
    p, y = np.asarray(p, dtype=np.float64), np.asarray(y, dtype=np.float64)
    return fm_reference.loss_gradient(p, y, _LOSS_NAMES[code])[1]


def fd_gradient(f, theta, eps=1e-6):
    """Central finite-difference gradient of the scalar function ``f`` at ``theta``.

    ``theta`` may have any shape; the result has the same shape.
    """
    theta = np.array(theta, dtype=np.float64)
    grad = np.empty_like(theta)
    flat = theta.reshape(-1)
    g = grad.reshape(-1)
    for j in range(flat.size):
        old = flat[j]
        flat[j] = old + eps
        up = f(theta.copy())
        flat[j] = old - eps
        down = f(theta.copy())
        flat[j] = old
        g[j] = (up - down) / (2.0 * eps)
    return grad


# ---------------------------------------------------------------------------- SGD
def hyper(
    lr=0.1,
    reg_bias=0.0,
    reg_linear=0.0,
    reg_factors=0.0,
    beta1=0.9,
    beta2=0.999,
    eps=1e-8,
    l1_linear=0.0,
    l1_factors=0.0,
    ftrl_beta=1.0,
):
    """The kernel's float hyper-parameter vector (layout of ``kernels.sgd.LR`` …)."""
    from fmlearn.kernels import sgd as K

    hp = np.empty(K.N_HYPER, dtype=np.float64)
    hp[K.LR] = lr
    hp[K.REG_BIAS] = reg_bias
    hp[K.REG_LINEAR] = reg_linear
    hp[K.REG_FACTORS] = reg_factors
    hp[K.BETA1] = beta1
    hp[K.BETA2] = beta2
    hp[K.EPS] = eps
    hp[K.L1_LINEAR] = l1_linear
    hp[K.L1_FACTORS] = l1_factors
    hp[K.FTRL_BETA] = ftrl_beta
    return hp


def codes(loss_code=SQUARED, optimizer=SGD, fit_intercept=True, fit_linear=True):
    """The kernel's int code vector (layout of ``kernels.sgd.LOSS`` …)."""
    from fmlearn.kernels import sgd as K

    c = np.empty(K.N_CODES, dtype=np.int64)
    c[K.LOSS] = loss_code
    c[K.OPTIMIZER] = optimizer
    c[K.FIT_INTERCEPT] = int(fit_intercept)
    c[K.FIT_LINEAR] = int(fit_linear)
    return c


def fresh_state(optimizer, params, hp=None):
    """Optimiser state ``(s1_w0, s2_w0, s1_w, s2_w, s1_V, s2_V)`` as the solver builds it:
    zeros, except FTRL's z when ``hp`` is given, set so that the closed form gives back
    the current parameters (z = −(β/α)·θ − λ1·sign θ)."""
    from fmlearn.kernels import sgd as K

    n_slots = {SGD: 0, ADAGRAD: 1, ADAM: 2, FTRL: 2}[optimizer]
    arrays = []
    for j, p in enumerate(params):
        for slot in range(2):
            shape = p.shape if slot < n_slots else (0,) * p.ndim
            arrays.append(np.zeros(shape, dtype=p.dtype))
        if optimizer == FTRL and hp is not None:
            l1 = {1: hp[K.L1_LINEAR], 2: hp[K.L1_FACTORS]}.get(j, 0.0)
            z = -(hp[K.FTRL_BETA] / hp[K.LR]) * p - l1 * np.sign(p)
            arrays[-2] = z.astype(p.dtype)
    return tuple(arrays)


def _opt_step(optimizer, theta, g, s1, s2, lr, beta1, beta2, eps, t, l1=0.0, ftrl_beta=1.0):
    """Return new ``(theta, s1, s2)``; all arrays of the same shape (float64).

    FTRL-Proximal as written in McMahan et al. (2013), algorithm 1, with λ2 = 0
    (``s1`` = z, ``s2`` = n)."""
    if optimizer == SGD:
        return theta - lr * g, s1, s2
    if optimizer == ADAGRAD:
        s1 = s1 + g * g
        return theta - lr * g / (np.sqrt(s1) + eps), s1, s2
    if optimizer == ADAM:
        s1 = beta1 * s1 + (1.0 - beta1) * g
        s2 = beta2 * s2 + (1.0 - beta2) * g * g
        m_hat = s1 / (1.0 - beta1**t)
        v_hat = s2 / (1.0 - beta2**t)
        return theta - lr * m_hat / (np.sqrt(v_hat) + eps), s1, s2
    if optimizer == FTRL:
        n = s2 + g * g
        sigma = (np.sqrt(n) - np.sqrt(s2)) / lr
        z = s1 + g - sigma * theta
        new = np.where(
            np.abs(z) <= l1, 0.0, -(z - np.sign(z) * l1) / ((ftrl_beta + np.sqrt(n)) / lr)
        )
        moved = g != 0.0  # a zero gradient leaves the weight and z as they are
        return np.where(moved, new, theta), np.where(moved, z, s1), n
    raise ValueError(f"unknown optimizer {optimizer}")


def reference_sgd_step(
    x_rows,
    y,
    sw,
    params,
    state,
    *,
    loss_code=SQUARED,
    optimizer=SGD,
    lr=0.1,
    reg_bias=0.0,
    reg_linear=0.0,
    reg_factors=0.0,
    beta1=0.9,
    beta2=0.999,
    eps=1e-8,
    l1_linear=0.0,
    l1_factors=0.0,
    ftrl_beta=1.0,
    t=1,
    fit_intercept=True,
    fit_linear=True,
    present=None,
):
    """One optimiser update on the rows ``x_rows`` (dense, shape (B, n); B = 1: plain SGD).

    The gradient is the mean over the B rows of the gradient of each row's weighted
    objective (module docstring), all at the same, old parameters (loss gradients from
    ``predict_gradient``). ``present`` (shape (B, n), default ``x_rows != 0``) says which
    features each row stores: pass the CSR structure when it holds explicit zeros.
    Features stored in no row, and their optimiser state, are left exactly as they were.
    ``sw`` may be ``None`` (all 1). ``state`` is the kernel's 6-tuple; returned updated,
    with the new ``params`` and the sum of weighted losses at the old parameters.
    """
    x_rows = np.atleast_2d(np.asarray(x_rows, dtype=np.float64))
    y = np.atleast_1d(np.asarray(y, dtype=np.float64))
    n_batch, n = x_rows.shape
    sw = np.ones(n_batch) if sw is None else np.atleast_1d(np.asarray(sw, dtype=np.float64))
    w0, w, V = (np.asarray(a, dtype=np.float64).copy() for a in params)
    dtypes = [a.dtype for a in params]
    st = [np.asarray(a, dtype=np.float64).copy() for a in state]
    if present is None:
        present = x_rows != 0.0
    present = np.atleast_2d(np.asarray(present, dtype=bool))
    assert present.shape == x_rows.shape

    g0 = 0.0
    gw = np.zeros(n)
    gV = np.zeros_like(V)
    total = 0.0
    for r in range(n_batch):
        p = naive_predict(x_rows[r : r + 1], w0, w, V)[0]
        total += sw[r] * float(loss(loss_code, p, y[r]))
        d = float(loss_derivative(loss_code, p, y[r]))
        d0, dw, dV = predict_gradient(x_rows[r], w0, w, V)
        mask = present[r].astype(np.float64)
        g0 += sw[r] * (d * d0 + reg_bias * w0[0])
        gw += sw[r] * (d * dw + reg_linear * w * mask)
        gV += sw[r] * (d * dV + reg_factors * V * mask[:, None])
    g0 /= n_batch
    gw /= n_batch
    gV /= n_batch
    present = np.any(present, axis=0)
    hyp = dict(lr=lr, beta1=beta1, beta2=beta2, eps=eps, t=t, ftrl_beta=ftrl_beta)

    if fit_intercept:
        g = np.array([g0])
        s1 = st[0] if st[0].size else np.zeros(1)
        s2 = st[1] if st[1].size else np.zeros(1)
        w0, s1, s2 = _opt_step(optimizer, w0, g, s1, s2, **hyp)
        if st[0].size:
            st[0] = s1
        if st[1].size:
            st[1] = s2
    idx = np.flatnonzero(present)
    if fit_linear:
        g = gw[idx]
        s1 = st[2][idx] if st[2].size else np.zeros(idx.size)
        s2 = st[3][idx] if st[3].size else np.zeros(idx.size)
        w[idx], s1, s2 = _opt_step(optimizer, w[idx], g, s1, s2, l1=l1_linear, **hyp)
        if st[2].size:
            st[2][idx] = s1
        if st[3].size:
            st[3][idx] = s2
    g = gV[idx]
    s1 = st[4][idx] if st[4].size else np.zeros_like(g)
    s2 = st[5][idx] if st[5].size else np.zeros_like(g)
    V[idx], s1, s2 = _opt_step(optimizer, V[idx], g, s1, s2, l1=l1_factors, **hyp)
    if st[4].size:
        st[4][idx] = s1
    if st[5].size:
        st[5][idx] = s2

    new_params = tuple(a.astype(dt) for a, dt in zip((w0, w, V), dtypes, strict=True))
    new_state = tuple(a.astype(s.dtype) for a, s in zip(st, state, strict=True))
    return new_params, new_state, total


def structure_mask(X, rows):
    """Features stored (explicit zeros included) in any of the CSR ``rows`` of ``X``."""
    mask = np.zeros(X.shape[1], dtype=bool)
    for r in rows:
        mask[X.indices[X.indptr[r] : X.indptr[r + 1]]] = True
    return mask


def reference_epoch(X, y, sw, order, params, state, *, batch_size=1, t0=0, **step_kwargs):
    """``reference_sgd_step`` over ``order`` in batches of ``batch_size`` (as ``sgd_epoch``).

    Update number ``t`` is ``t0 + (index of the batch in order) + 1``. Returns the new
    params, state and the sum of weighted losses (each at the parameters of its step).
    """
    total = 0.0
    dense = X.toarray()
    for b, start in enumerate(range(0, len(order), batch_size)):
        rows = np.asarray(order[start : start + batch_size])
        params, state, part = reference_sgd_step(
            dense[rows],
            np.asarray(y)[rows],
            None if sw is None else np.asarray(sw)[rows],
            params,
            state,
            t=t0 + b + 1,
            present=[structure_mask(X, [r]) for r in rows],
            **step_kwargs,
        )
        total += part
    return params, state, total


def rmse(a, b) -> float:
    """Root mean squared error, the metric every regression test compares."""
    return float(np.sqrt(np.mean((np.asarray(a) - np.asarray(b)) ** 2)))


# ---------------------------------------------------------------------------- FFM
def naive_predict_ffm(X_dense, fields, w0, w, V):
    """Field-aware FM by its definition: every pair i < j of a row, O(n² k) per row.

    ``V`` has shape (n_features, n_fields, k); feature i's vector for field f is V[i, f].
    """
    X_dense = np.asarray(X_dense, dtype=np.float64)
    V = np.asarray(V, dtype=np.float64)
    out = np.empty(X_dense.shape[0])
    for r, x in enumerate(X_dense):
        total = float(w0[0]) + float(np.dot(np.asarray(w, dtype=np.float64), x))
        nz = np.flatnonzero(x)
        for a, i in enumerate(nz):
            for j in nz[a + 1 :]:
                if fields[i] >= 0 and fields[j] >= 0:  # −1: a feature without a field
                    total += float(np.dot(V[i, fields[j]], V[j, fields[i]])) * x[i] * x[j]
        out[r] = total
    return out


def ffm_predict_gradient(x, present, fields, V):
    """``(∂ŷ/∂w, ∂ŷ/∂V, touched)`` for one dense row; ``touched[i, f]`` marks the factor
    blocks that have a partner in the row (the ones a lazy SGD step moves and shrinks)."""
    V = np.asarray(V, dtype=np.float64)
    dV = np.zeros_like(V)
    touched = np.zeros(V.shape[:2], dtype=bool)
    idx = np.flatnonzero(present)
    for i in idx:
        for j in idx:
            if i != j and fields[i] >= 0 and fields[j] >= 0:
                dV[i, fields[j]] += V[j, fields[i]] * x[i] * x[j]
                touched[i, fields[j]] = True
    return np.asarray(x, dtype=np.float64) * present, dV, touched


def reference_ffm_epoch(
    X,
    y,
    sw,
    order,
    fields,
    params,
    state,
    *,
    loss_code=SQUARED,
    optimizer=SGD,
    lr=0.1,
    reg_bias=0.0,
    reg_linear=0.0,
    reg_factors=0.0,
    beta1=0.9,
    beta2=0.999,
    eps=1e-8,
    l1_linear=0.0,
    l1_factors=0.0,
    ftrl_beta=1.0,
    t0=0,
):
    """Per-row steps over ``order`` on the FFM (the objective of the module docstring,
    with lazy L2 on present weights and touched factor blocks), each at the row's old
    parameters. Returns the new params, state and Σ weighted loss."""
    dense = X.toarray()
    w0, w, V = (np.asarray(a, dtype=np.float64).copy() for a in params)
    dtypes = [a.dtype for a in params]
    st = [np.asarray(a, dtype=np.float64).copy() for a in state]
    hyp = dict(lr=lr, beta1=beta1, beta2=beta2, eps=eps, ftrl_beta=ftrl_beta)
    total = 0.0
    for pos, r in enumerate(order):
        x = dense[r]
        present = structure_mask(X, [r])
        s = 1.0 if sw is None else float(sw[r])
        p = naive_predict_ffm(x[None, :], fields, w0, w, V)[0]
        total += s * float(loss(loss_code, p, y[r]))
        d = float(loss_derivative(loss_code, p, y[r]))
        dw, dV, touched = ffm_predict_gradient(x, present, fields, V)
        t = t0 + pos + 1
        updates = [
            (w0, 0, 1, np.array([s * (d + reg_bias * w0[0])]), np.array([0]), 0.0),
            (w, 2, 3, s * (d * dw + reg_linear * w), np.flatnonzero(present), l1_linear),
        ]
        for theta, j1, j2, g, idx, l1 in updates:
            s1 = st[j1][idx] if st[j1].size else np.zeros(idx.size)
            s2 = st[j2][idx] if st[j2].size else np.zeros(idx.size)
            theta[idx], s1, s2 = _opt_step(optimizer, theta[idx], g[idx], s1, s2, t=t, l1=l1, **hyp)
            if st[j1].size:
                st[j1][idx] = s1
            if st[j2].size:
                st[j2][idx] = s2
        gV = s * (d * dV + reg_factors * V)
        s1 = st[4][touched] if st[4].size else np.zeros_like(V[touched])
        s2 = st[5][touched] if st[5].size else np.zeros_like(V[touched])
        V[touched], s1, s2 = _opt_step(
            optimizer, V[touched], gV[touched], s1, s2, t=t, l1=l1_factors, **hyp
        )
        if st[4].size:
            st[4][touched] = s1
        if st[5].size:
            st[5][touched] = s2
    new_params = tuple(a.astype(dt) for a, dt in zip((w0, w, V), dtypes, strict=True))
    new_state = tuple(a.astype(s.dtype) for a, s in zip(st, state, strict=True))
    return new_params, new_state, total


# ---------------------------------------------------------------------------- FwFM
def naive_predict_fwfm(X_dense, fields, w0, w, V, R):
    """Field-weighted FM by its definition: every pair i < j, R[f(i), f(j)] <v_i, v_j>."""
    X_dense = np.asarray(X_dense, dtype=np.float64)
    V = np.asarray(V, dtype=np.float64)
    out = np.empty(X_dense.shape[0])
    for r, x in enumerate(X_dense):
        total = float(w0[0]) + float(np.dot(np.asarray(w, dtype=np.float64), x))
        nz = np.flatnonzero(x)
        for a, i in enumerate(nz):
            for j in nz[a + 1 :]:
                if fields[i] >= 0 and fields[j] >= 0:
                    total += float(R[fields[i], fields[j]] * np.dot(V[i], V[j])) * x[i] * x[j]
        out[r] = total
    return out


def fwfm_gradient(x, present, fields, V, R):
    """``(∂ŷ/∂w, ∂ŷ/∂V, ∂ŷ/∂R, touched R)`` for one dense row, pair by pair. R is one
    parameter per unordered field pair: the gradient and ``touched`` are filled in the
    upper triangle (f ≤ g) and mirrored."""
    V = np.asarray(V, dtype=np.float64)
    dV = np.zeros_like(V)
    dR = np.zeros_like(R, dtype=np.float64)
    touched = np.zeros(R.shape, dtype=bool)
    idx = [i for i in np.flatnonzero(present) if fields[i] >= 0]
    for a, i in enumerate(idx):
        for j in idx:
            if i != j:
                dV[i] += R[fields[i], fields[j]] * V[j] * x[i] * x[j]
        for j in idx[a + 1 :]:
            lo, hi = sorted((fields[i], fields[j]))
            dR[lo, hi] += float(np.dot(V[i], V[j])) * x[i] * x[j]
            touched[lo, hi] = True
    dR = np.triu(dR) + np.triu(dR, 1).T
    touched = np.triu(touched) | np.triu(touched, 1).T
    return np.asarray(x, dtype=np.float64) * present, dV, dR, touched


def reference_fwfm_epoch(
    X,
    y,
    sw,
    order,
    fields,
    params,
    state,
    *,
    loss_code=SQUARED,
    optimizer=SGD,
    lr=0.1,
    reg_bias=0.0,
    reg_linear=0.0,
    reg_factors=0.0,
    beta1=0.9,
    beta2=0.999,
    eps=1e-8,
    l1_linear=0.0,
    l1_factors=0.0,
    ftrl_beta=1.0,
    t0=0,
):
    """Per-row steps over ``order`` on the FwFM (kernels/fwfm.py's objective: lazy L2 on
    present w and on present V rows that have a field, none on R; R stepped on the
    field pairs of the row), each at the row's old parameters."""
    dense = X.toarray()
    w0, w, V, R = (np.asarray(a, dtype=np.float64).copy() for a in params)
    dtypes = [a.dtype for a in params]
    st = [np.asarray(a, dtype=np.float64).copy() for a in state]
    hyp = dict(lr=lr, beta1=beta1, beta2=beta2, eps=eps, ftrl_beta=ftrl_beta)
    total = 0.0
    for pos, r in enumerate(order):
        x = dense[r]
        present = structure_mask(X, [r])
        s = 1.0 if sw is None else float(sw[r])
        p = naive_predict_fwfm(x[None, :], fields, w0, w, V, R)[0]
        total += s * float(loss(loss_code, p, y[r]))
        d = float(loss_derivative(loss_code, p, y[r]))
        dw, dV, dR, touched_R = fwfm_gradient(x, present, fields, V, R)
        rows_V = present & (np.asarray(fields) >= 0)
        t = t0 + pos + 1
        updates = [
            (w0, 0, np.array([s * (d + reg_bias * w0[0])]), np.array([0]), 0.0),
            (w, 2, s * (d * dw + reg_linear * w), np.flatnonzero(present), l1_linear),
            (V, 4, s * (d * dV + reg_factors * V), rows_V, l1_factors),
            (R, 6, s * d * dR, touched_R, 0.0),
        ]
        for theta, j, g, idx, l1 in updates:
            s1 = st[j][idx] if st[j].size else np.zeros_like(theta[idx])
            s2 = st[j + 1][idx] if st[j + 1].size else np.zeros_like(theta[idx])
            theta[idx], s1, s2 = _opt_step(optimizer, theta[idx], g[idx], s1, s2, t=t, l1=l1, **hyp)
            if st[j].size:
                st[j][idx] = s1
            if st[j + 1].size:
                st[j + 1][idx] = s2
    new_params = tuple(a.astype(dt) for a, dt in zip((w0, w, V, R), dtypes, strict=True))
    new_state = tuple(a.astype(s.dtype) for a, s in zip(st, state, strict=True))
    return new_params, new_state, total


def naive_predict_anova(X_dense, w0, w, V):
    """``w0 + Σ_i w_i x_i + Σ_{m=2}^{d} Σ_f Σ_{i1<…<im} Π_t V[i_t, m−2, f] x_{i_t}``, every
    subset of the row's non-zeros enumerated (float64)."""
    X_dense = np.atleast_2d(np.asarray(X_dense, dtype=np.float64))
    V = np.asarray(V, dtype=np.float64)
    out = np.empty(X_dense.shape[0])
    for r, x in enumerate(X_dense):
        total = float(np.asarray(w0, dtype=np.float64).reshape(-1)[0])
        total += float(np.dot(np.asarray(w, dtype=np.float64), x))
        nz = np.flatnonzero(x)
        for m in range(2, V.shape[1] + 2):
            for subset in itertools.combinations(nz, m):
                c = list(subset)
                total += float(np.sum(np.prod(V[c, m - 2, :] * x[c, None], axis=0)))
        out[r] = total
    return out

"""Softmax (multiclass) FM kernels against a pair-by-pair definition, finite differences
and a numpy epoch written from the objective (kernels/softmax.py)."""

from itertools import combinations

import numpy as np
import pytest

from fmlearn.kernels import softmax as K
from reference import (
    ADAGRAD,
    ADAM,
    FTRL,
    SGD,
    _opt_step,
    codes,
    fd_gradient,
    fresh_state,
    hyper,
    kernel_csr,
    random_csr,
    structure_mask,
)

SOFTMAX = 2


def case(rng, shared, n_rows=25, n_features=8, C=3, k=2, dtype=np.float64):
    X = random_csr(n_rows, n_features, 0.4, rng, dtype=dtype)
    w0 = (0.3 * rng.normal(size=C)).astype(dtype)
    w = (0.3 * rng.normal(size=(n_features, C))).astype(dtype)
    if shared:
        V = (0.5 * rng.normal(size=(n_features, k))).astype(dtype)
        return X, (w0, w, V, rng.normal(size=(C, k)).astype(dtype))
    return X, (w0, w, (0.5 * rng.normal(size=(n_features, C, k))).astype(dtype))


def naive_scores(x, params):
    """Class scores of one dense row, summing over every pair i < j."""
    w0, w, V = params[:3]
    scores = np.asarray(w0, dtype=np.float64) + x @ w
    nz = np.flatnonzero(x)
    for i, j in combinations(nz, 2):
        if len(params) == 4:  # shared: Σ_f P[c, f] v_if v_jf
            scores = scores + params[3] @ (V[i] * V[j]) * x[i] * x[j]
        else:
            scores = scores + (V[i] * V[j]).sum(axis=1) * x[i] * x[j]
    return scores


def cross_entropy(scores, label):
    top = scores.max()
    return np.log(np.exp(scores - top).sum()) + top - scores[label]


def gradients(x, label, params):
    """∂ cross-entropy / ∂ each parameter array, from the model's formulas."""
    V = params[2]
    scores = naive_scores(x, params)
    p = np.exp(scores - scores.max())
    g = p / p.sum()
    g[label] -= 1.0
    dw0 = g.copy()
    dw = np.outer(x, g)
    if len(params) == 4:
        P = params[3]
        q = x @ V
        A = 0.5 * (q**2 - (x[:, None] ** 2 * V**2).sum(axis=0))
        dV = (x[:, None] * q[None, :] - x[:, None] ** 2 * V) * (g @ P)[None, :]
        return dw0, dw, dV, np.outer(g, A)
    Q = np.einsum("i,icf->cf", x, V)
    dV = g[None, :, None] * (x[:, None, None] * Q[None] - x[:, None, None] ** 2 * V)
    return dw0, dw, dV


@pytest.mark.parametrize("shared", [True, False])
def test_gradients_match_finite_differences(shared):
    rng = np.random.default_rng(0)
    X, params = case(rng, shared)
    x = X.toarray()[3]
    params = [a.astype(np.float64) for a in params]
    analytic = gradients(x, 1, params)
    for j, theta in enumerate(params):

        def f(value, j=j):
            trial = list(params)
            trial[j] = value
            return cross_entropy(naive_scores(x, trial), 1)

        np.testing.assert_allclose(analytic[j], fd_gradient(f, theta), atol=1e-7)


@pytest.mark.parametrize("shared", [True, False])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_predict_matches_pairs(shared, dtype):
    rng = np.random.default_rng(1)
    X, params = case(rng, shared, n_rows=40, dtype=dtype)
    dense = X.toarray().astype(np.float64)
    expected = np.array([naive_scores(x, [a.astype(np.float64) for a in params]) for x in dense])
    out = np.empty_like(expected)
    serial = K.predict_shared_csr if shared else K.predict_separate_csr
    serial(*kernel_csr(X), *params, out)
    tol = 1e-12 if dtype == np.float64 else 2e-6
    np.testing.assert_allclose(out, expected, rtol=tol, atol=tol)
    parallel = np.empty_like(out)
    kernel = K.predict_shared_csr_parallel if shared else K.predict_separate_csr_parallel
    kernel(*kernel_csr(X), *params, parallel, 7)
    np.testing.assert_array_equal(parallel, out)


def reference_epoch(X, y, sw, order, params, state, *, optimizer, lr=0.1, reg_bias=0.0,
                    reg_linear=0.0, reg_factors=0.0, l1_linear=0.0, l1_factors=0.0,
                    fit_intercept=True, fit_linear=True, beta1=0.9, beta2=0.999, eps=1e-8,
                    ftrl_beta=1.0):  # fmt: skip
    """Per-row steps on the weighted cross-entropy with lazy L2 (w0: reg_bias; present
    rows of w and V: reg_linear, reg_factors; P none), each at the row's old parameters."""
    dense = X.toarray()
    params = [np.asarray(a, dtype=np.float64).copy() for a in params]
    st = [np.asarray(a, dtype=np.float64).copy() for a in state]
    hyp = dict(lr=lr, beta1=beta1, beta2=beta2, eps=eps, ftrl_beta=ftrl_beta)
    total = 0.0
    for pos, r in enumerate(order):
        x, label = dense[r], int(y[r])
        s = 1.0 if sw.size == 0 else float(sw[r])
        present = structure_mask(X, [r])
        total += s * cross_entropy(naive_scores(x, params), label)
        grads = gradients(x, label, params)
        w0, w, V = params[:3]
        updates = []
        if fit_intercept:
            updates.append((0, s * (grads[0] + reg_bias * w0), slice(None), 0.0))
        if fit_linear:
            updates.append((1, s * (grads[1] + reg_linear * w), present, l1_linear))
        updates.append((2, s * (grads[2] + reg_factors * V), present, l1_factors))
        if len(params) == 4:
            updates.append((3, s * grads[3], slice(None), 0.0))
        new = {}
        for j, g, idx, l1 in updates:
            theta = params[j]
            s1 = st[2 * j][idx] if st[2 * j].size else np.zeros_like(theta[idx])
            s2 = st[2 * j + 1][idx] if st[2 * j + 1].size else np.zeros_like(theta[idx])
            new[j] = _opt_step(optimizer, theta[idx], g[idx], s1, s2, t=pos + 1, l1=l1, **hyp)
        for j, idx in ((j, idx) for j, _, idx, _ in updates):
            params[j][idx], s1, s2 = new[j]
            if st[2 * j].size:
                st[2 * j][idx] = s1
            if st[2 * j + 1].size:
                st[2 * j + 1][idx] = s2
    return params, st, total


@pytest.mark.parametrize("shared", [True, False])
@pytest.mark.parametrize("optimizer", [SGD, ADAGRAD, ADAM, FTRL])
@pytest.mark.parametrize("variant", ["plain", "regularised", "weighted", "no-bias-no-linear"])
def test_epoch_matches_reference(shared, optimizer, variant):
    rng = np.random.default_rng(2)
    X, params = case(rng, shared)
    y = rng.integers(0, 3, size=X.shape[0]).astype(np.float64)
    sw = rng.uniform(0, 2, size=X.shape[0]) if variant == "weighted" else np.empty(0)
    kw = dict(lr=0.05)
    if variant == "regularised":
        kw.update(reg_bias=0.1, reg_linear=0.2, reg_factors=0.3)
        if optimizer == FTRL:
            kw.update(l1_linear=0.01, l1_factors=0.02)
    flags = dict(
        fit_intercept=variant != "no-bias-no-linear", fit_linear=variant != "no-bias-no-linear"
    )
    hp = hyper(**kw)
    state = fresh_state(optimizer, params, hp)
    if optimizer == ADAGRAD:  # the solver starts Σg² at 1 (solvers/sgd.py)
        for a in state[::2]:
            a[...] = 1.0
    order = rng.permutation(X.shape[0])
    expected, expected_state, expected_total = reference_epoch(
        X, y, sw, order, params, state, optimizer=optimizer, **kw, **flags
    )
    got = tuple(a.copy() for a in params)
    got_state = tuple(a.copy() for a in state)
    epoch = K.shared_sgd_epoch if shared else K.separate_sgd_epoch
    total = epoch(kernel_csr(X), y, sw, order, got, got_state, hp,
                  codes(SOFTMAX, optimizer, **flags), 0)  # fmt: skip
    assert total == pytest.approx(expected_total, rel=1e-10)
    for a, b in zip(got, expected, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
    for a, b in zip(got_state, expected_state, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("shared", [True, False])
def test_hogwild_one_chunk_is_serial_with_buffered_shared_steps(shared):
    """With one chunk the Hogwild epoch is the serial one, except that w0 (and P) step
    along sums of HOGWILD_SHARED_EVERY rows; for plain SGD with no intercept and no P
    (separate layout) that is the same algorithm, bit for bit."""
    rng = np.random.default_rng(3)
    X, params = case(rng, shared, n_rows=60)
    y = rng.integers(0, 3, size=X.shape[0]).astype(np.float64)
    order = rng.permutation(X.shape[0])
    hp = hyper(lr=0.05)
    c = codes(SOFTMAX, SGD, fit_intercept=False)
    a = tuple(p.copy() for p in params)
    b = tuple(p.copy() for p in params)
    empty = fresh_state(SGD, params)
    serial = K.shared_sgd_epoch if shared else K.separate_sgd_epoch
    hogwild = K.shared_sgd_epoch_hogwild if shared else K.separate_sgd_epoch_hogwild
    t1 = serial(kernel_csr(X), y, np.empty(0), order, a, empty, hp, c, 0)
    t2 = hogwild(kernel_csr(X), y, np.empty(0), order, b, empty, hp, c, 0, 1)
    if not shared:
        assert t1 == t2
        for u, v in zip(a, b, strict=True):
            np.testing.assert_array_equal(u, v)
    else:  # P steps every 16 rows: close, not equal
        assert t2 == pytest.approx(t1, rel=0.05)
        assert not np.array_equal(a[3], b[3])

"""Higher-order FM kernels (kernels/anova.py) against the definition written out: every
pair, triple … of a row's non-zeros (itertools.combinations), gradients by the same sums
and checked by finite differences, and a numpy epoch step by step."""

import itertools

import numpy as np
import pytest

from fmlearn.kernels.anova import (
    anova_sgd_epoch,
    anova_sgd_epoch_hogwild,
    predict_anova_csr,
    predict_anova_csr_parallel,
)
from fmlearn.kernels.predict import predict_csr
from reference import (
    ADAGRAD,
    ADAM,
    FTRL,
    LOGISTIC,
    SGD,
    SQUARED,
    _opt_step,
    codes,
    fd_gradient,
    fresh_state,
    hyper,
    kernel_csr,
    loss,
    loss_derivative,
    naive_predict_anova,
    random_csr,
    structure_mask,
)


# ---------------------------------------------------------------------------- reference
def naive_gradient_V(x, V):
    """``∂ŷ/∂V[j, m−2, f] = x_j Σ_{subsets S of the others, |S| = m−1} Π_{i∈S} V[i,m−2,f] x_i``
    (the definition differentiated), full size: zero where ``x_j`` is."""
    x = np.asarray(x, dtype=np.float64)
    V = np.asarray(V, dtype=np.float64)
    dV = np.zeros_like(V)
    nz = list(np.flatnonzero(x))
    for j in nz:
        others = [i for i in nz if i != j]
        for m in range(2, V.shape[1] + 2):
            acc = np.zeros(V.shape[2])
            for subset in itertools.combinations(others, m - 1):
                c = list(subset)
                acc += np.prod(V[c, m - 2, :] * x[c, None], axis=0)
            dV[j, m - 2] = x[j] * acc
    return dV


def reference_anova_epoch(
    X,
    y,
    sw,
    order,
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
    fit_intercept=True,
    fit_linear=True,
    t0=0,
):
    """Per-row steps over ``order`` (kernels/sgd.py's objective: lazy L2 on the features
    stored in the row, weighted by the sample weight), each at the row's old parameters."""
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
        p = naive_predict_anova(x, w0, w, V)[0]
        total += s * float(loss(loss_code, p, y[r]))
        d = float(loss_derivative(loss_code, p, y[r]))
        dV = naive_gradient_V(x, V)
        t = t0 + pos + 1
        updates = []
        if fit_intercept:
            updates.append((w0, 0, np.array([s * (d + reg_bias * w0[0])]), np.array([0]), 0.0))
        if fit_linear:
            updates.append((w, 2, s * (d * x + reg_linear * w), present, l1_linear))
        updates.append((V, 4, s * (d * dV + reg_factors * V), present, l1_factors))
        for theta, j, g, idx, l1 in updates:
            s1 = st[j][idx] if st[j].size else np.zeros_like(theta[idx])
            s2 = st[j + 1][idx] if st[j + 1].size else np.zeros_like(theta[idx])
            theta[idx], s1, s2 = _opt_step(optimizer, theta[idx], g[idx], s1, s2, t=t, l1=l1, **hyp)
            if st[j].size:
                st[j][idx] = s1
            if st[j + 1].size:
                st[j + 1][idx] = s2
    new_params = tuple(a.astype(dt) for a, dt in zip((w0, w, V), dtypes, strict=True))
    new_state = tuple(a.astype(s.dtype) for a, s in zip(st, state, strict=True))
    return new_params, new_state, total


# ---------------------------------------------------------------------------- helpers
def anova_case(rng, degree, n_rows=30, n_features=9, k=3, density=0.45, dtype=np.float64):
    """Random rows (row 0 empty, row 1 full, one row with a single non-zero) and params."""
    X = random_csr(n_rows, n_features, density, rng, dtype=dtype)
    dense = X.toarray()
    dense[2] = 0.0
    dense[2, 3] = 1.7  # one non-zero: no interaction of any order
    X = type(X)(dense)
    X.sort_indices()
    w0 = rng.normal(size=1).astype(dtype)
    w = (0.3 * rng.normal(size=n_features)).astype(dtype)
    V = (0.5 * rng.normal(size=(n_features, degree - 1, k))).astype(dtype)
    return X, (w0, w, V)


def _predict(X, params, parallel_block=None):
    w0, w, V = params
    out = np.empty(X.shape[0])
    if parallel_block is None:
        predict_anova_csr(*kernel_csr(X), float(w0[0]), w, V, out)
    else:
        predict_anova_csr_parallel(*kernel_csr(X), float(w0[0]), w, V, out, parallel_block)
    return out


# ---------------------------------------------------------------------------- predict
# orders 2–5 have their own loops in the kernels, higher ones a generic loop: 6 and 7 too
# (and 1, the linear model: no order at all)
@pytest.mark.parametrize("degree", [1, 2, 3, 4, 5, 6, 7])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_predict_matches_subset_sums(degree, dtype):
    rng = np.random.default_rng(degree)
    X, params = anova_case(rng, degree, dtype=dtype)
    expected = naive_predict_anova(X.toarray(), *params)
    out = _predict(X, params)
    rtol = 1e-10 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(out, expected, rtol=rtol, atol=rtol)
    assert out[0] == float(params[0][0])  # empty row: the bias
    assert out[2] == pytest.approx(params[0][0] + 1.7 * params[1][3], rel=rtol)  # one non-zero


@pytest.mark.parametrize("degree", [2, 4])
def test_parallel_is_serial_bit_for_bit(degree):
    rng = np.random.default_rng(10 + degree)
    X, params = anova_case(rng, degree, n_rows=101)
    np.testing.assert_array_equal(_predict(X, params, parallel_block=7), _predict(X, params))


def test_degree_two_is_the_fm():
    rng = np.random.default_rng(3)
    X, (w0, w, V) = anova_case(rng, 2, n_rows=40, k=5)
    fm = np.empty(X.shape[0])
    predict_csr(*kernel_csr(X), float(w0[0]), w, np.ascontiguousarray(V[:, 0, :]), fm)
    np.testing.assert_allclose(_predict(X, (w0, w, V)), fm, rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------------------- gradient
@pytest.mark.parametrize("degree", [3, 5])
def test_subset_gradient_matches_finite_differences(degree):
    rng = np.random.default_rng(degree)
    X, (w0, w, V) = anova_case(rng, degree, n_rows=4, n_features=7, density=0.9)
    x = X.toarray()[1]
    fd = fd_gradient(lambda t: naive_predict_anova(x, w0, w, t)[0], V)
    np.testing.assert_allclose(naive_gradient_V(x, V), fd, atol=1e-8)


@pytest.mark.parametrize("degree", [2, 3, 5])
def test_one_sgd_step_follows_finite_differences(degree):
    """One plain-SGD step on one row (lr small, L2 on): θ_new = θ − lr · s (∂loss/∂θ + λ θ)
    with ∂loss/∂θ by finite differences of the subset-sum predictor."""
    rng = np.random.default_rng(40 + degree)
    X, params = anova_case(rng, degree, n_rows=4, n_features=7, density=0.9)
    w0, w, V = params
    x, y, s, lr = X.toarray()[1], np.array([0.0, 0.7, 0.0, 0.0]), 1.5, 1e-3
    sw = np.full(4, s)
    regs = dict(reg_bias=0.02, reg_linear=0.05, reg_factors=0.1)

    def loss_of(w0_, w_, V_):
        return float(loss(SQUARED, naive_predict_anova(x, w0_, w_, V_)[0], y[1]))

    want = (
        w0 - lr * s * (fd_gradient(lambda t: loss_of(t, w, V), w0) + regs["reg_bias"] * w0),
        w - lr * s * (fd_gradient(lambda t: loss_of(w0, t, V), w) + regs["reg_linear"] * w),
        V - lr * s * (fd_gradient(lambda t: loss_of(w0, w, t), V) + regs["reg_factors"] * V),
    )
    got = tuple(a.copy() for a in params)
    total = anova_sgd_epoch(kernel_csr(X), y, sw, np.array([1], dtype=np.int64), got,
                            fresh_state(SGD, got), hyper(lr=lr, **regs), codes(SQUARED, SGD),
                            0)  # fmt: skip
    for a, b in zip(got, want, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-11)
    assert total == pytest.approx(s * loss_of(w0, w, V), rel=1e-12)


# ---------------------------------------------------------------------------- epoch
@pytest.mark.parametrize("optimizer", [SGD, ADAGRAD, ADAM, FTRL])
@pytest.mark.parametrize("loss_code", [SQUARED, LOGISTIC])
@pytest.mark.parametrize("weighted", [False, True])
def test_epoch_matches_reference(optimizer, loss_code, weighted):
    rng = np.random.default_rng(21 + optimizer + 4 * loss_code)
    n = 20
    X, params = anova_case(rng, 4, n_rows=n, n_features=8, k=2)
    X.data[X.indptr[5]] = 0.0  # an explicit zero: present (shrunk), no interaction
    y = rng.normal(size=n) if loss_code == SQUARED else rng.choice([-1.0, 1.0], n)
    sw = rng.uniform(0.5, 2.0, size=n) if weighted else None
    if weighted:
        sw[3] = 0.0  # a weight-0 row: no step of any kind (FTRL too)
    order = rng.permutation(n).astype(np.int64)
    regs = dict(reg_bias=0.01, reg_linear=0.05, reg_factors=0.1, l1_linear=0.02, l1_factors=0.01)
    state = fresh_state(optimizer, params, hyper(lr=0.05, **regs))
    expected, expected_state, expected_total = reference_anova_epoch(
        X, y, sw, order, params, state, loss_code=loss_code, optimizer=optimizer, lr=0.05,
        t0=3, **regs,
    )  # fmt: skip
    got = tuple(a.copy() for a in params)
    got_state = tuple(a.copy() for a in state)
    total = anova_sgd_epoch(
        kernel_csr(X), y, np.empty(0) if sw is None else sw, order, got, got_state,
        hyper(lr=0.05, **regs), codes(loss_code, optimizer), 3,
    )  # fmt: skip
    for a, b in zip(got, expected, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    for a, b in zip(got_state, expected_state, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    assert total == pytest.approx(expected_total, rel=1e-10)
    assert not np.allclose(got[2], params[2])  # the factors moved


@pytest.mark.parametrize("degree", [1, 2, 3, 5, 6, 7])
def test_epoch_matches_reference_at_every_degree(degree):
    rng = np.random.default_rng(50 + degree)
    X, params = anova_case(rng, degree, n_rows=12, n_features=8, k=3)
    y = rng.normal(size=12)
    order = rng.permutation(12).astype(np.int64)
    regs = dict(reg_bias=0.01, reg_linear=0.05, reg_factors=0.1)
    state = fresh_state(ADAGRAD, params)
    expected, expected_state, expected_total = reference_anova_epoch(
        X, y, None, order, params, state, optimizer=ADAGRAD, lr=0.05, t0=0, **regs
    )
    got = tuple(a.copy() for a in params)
    got_state = tuple(a.copy() for a in state)
    total = anova_sgd_epoch(kernel_csr(X), y, np.empty(0), order, got, got_state,
                            hyper(lr=0.05, **regs), codes(SQUARED, ADAGRAD), 0)  # fmt: skip
    for a, b in zip(got + got_state, expected + expected_state, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    assert total == pytest.approx(expected_total, rel=1e-10)


@pytest.mark.parametrize(("fit_intercept", "fit_linear"), [(False, True), (True, False)])
def test_epoch_without_intercept_or_linear(fit_intercept, fit_linear):
    rng = np.random.default_rng(7)
    X, params = anova_case(rng, 3, n_rows=15, n_features=8, k=2)
    y = rng.normal(size=15)
    order = rng.permutation(15).astype(np.int64)
    state = fresh_state(ADAM, params)
    # L2 on: Adam divides m by √v + ε, so a gradient that is 0 but for rounding (a factor
    # of a row's only non-zero: e_1 − a_j fused into one FMA) would move a weight by
    # ~lr·1e-9 differently in numpy and in the kernel
    regs = dict(reg_linear=0.1, reg_factors=0.1)
    expected, _, _ = reference_anova_epoch(
        X, y, None, order, params, state, optimizer=ADAM, lr=0.05,
        fit_intercept=fit_intercept, fit_linear=fit_linear, **regs,
    )  # fmt: skip
    got = tuple(a.copy() for a in params)
    hp = hyper(lr=0.05, **regs)
    anova_sgd_epoch(kernel_csr(X), y, np.empty(0), order, got, state, hp,
                    codes(SQUARED, ADAM, fit_intercept, fit_linear), 0)  # fmt: skip
    for a, b in zip(got, expected, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    assert (got[0] == params[0]).all() != fit_intercept
    assert (got[1] == params[1]).all() != fit_linear


def test_hogwild_one_chunk_is_serial_bit_for_bit():
    rng = np.random.default_rng(11)
    X, params = anova_case(rng, 4, n_rows=40, n_features=9, k=3)
    y = rng.normal(size=40)
    order = rng.permutation(40).astype(np.int64)
    runs = []
    for hogwild in (False, True):
        p = tuple(a.copy() for a in params)
        st = fresh_state(ADAM, p)
        args = (kernel_csr(X), y, np.empty(0), order, p, st, hyper(lr=0.05, reg_factors=0.1),
                codes(SQUARED, ADAM), 5)  # fmt: skip
        total = anova_sgd_epoch_hogwild(*args, 1) if hogwild else anova_sgd_epoch(*args)
        runs.append((p, st, total))
    (p1, s1, t1), (p2, s2, t2) = runs
    assert t1 == t2
    for a, b in zip(p1 + s1, p2 + s2, strict=True):
        np.testing.assert_array_equal(a, b)


def test_hogwild_epochs_learn():
    rng = np.random.default_rng(4)
    X, truth = anova_case(rng, 3, n_rows=400, n_features=30, k=2, density=0.2)
    y = naive_predict_anova(X.toarray(), *truth)
    params = (np.zeros(1), np.zeros(30), 0.1 * rng.normal(size=truth[2].shape))
    state = fresh_state(ADAGRAD, params)
    before = np.mean((_predict(X, params) - y) ** 2)
    for epoch in range(20):
        order = rng.permutation(400).astype(np.int64)
        anova_sgd_epoch_hogwild(kernel_csr(X), y, np.empty(0), order, params, state,
                                hyper(lr=0.05), codes(SQUARED, ADAGRAD), epoch * 400,
                                2)  # fmt: skip
    assert np.mean((_predict(X, params) - y) ** 2) < 0.3 * before


def test_deflation_with_one_dominant_value():
    """The gradient's deflation r_t = e_t − a_j r_{t−1} loses digits when one |a_j|
    dominates the row (module docstring of kernels/anova.py): at degree 5 with one value
    100× the others' the step still matches the subset sums to ~1e-7 relative."""
    rng = np.random.default_rng(12)
    X, (w0, w, V) = anova_case(rng, 5, n_rows=3, n_features=8, k=4, density=1.0)
    V = 0.1 * V
    V[0] *= 100.0  # feature 0's values a_0 ≈ 100 × the others'
    x = X.toarray()[1]
    lr = 1.0
    y = np.array([0.0, naive_predict_anova(x, w0, w, V)[0] - 1.0, 0.0])  # ∂loss/∂ŷ ≈ 1
    got = (w0.copy(), w.copy(), V.copy())
    anova_sgd_epoch(kernel_csr(X), y, np.empty(0), np.array([1], dtype=np.int64), got,
                    fresh_state(SGD, got), hyper(lr=lr), codes(SQUARED, SGD), 0)  # fmt: skip
    step = (V - got[2]) / lr
    want = naive_gradient_V(x, V) * (naive_predict_anova(x, w0, w, V)[0] - y[1])
    scale = np.abs(want).max(axis=0, keepdims=True)  # per order and factor
    assert np.max(np.abs(step - want) / scale) < 1e-7

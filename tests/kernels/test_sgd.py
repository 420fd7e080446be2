"""SGD-family kernels against the numpy reference step (``tests/reference.py``)."""

import numpy as np
import pytest
import scipy.sparse as sp

from fmlearn.kernels import sgd as K
from fmlearn.kernels.losses import LOGISTIC, SQUARED
from fmlearn.kernels.predict import predict_csr
from reference import codes as make_codes
from reference import (
    fd_gradient,
    fresh_state,
    hyper,
    kernel_csr,
    naive_predict,
    predict_gradient,
    random_csr,
    random_params,
    reference_epoch,
    reference_sgd_step,
    structure_mask,
)

OPTIMIZERS = [K.SGD, K.ADAGRAD, K.ADAM, K.FTRL]
LOSSES = [SQUARED, LOGISTIC]


def _run(
    X,
    y,
    params,
    *,
    sw=None,
    order=None,
    state=None,
    hp=None,
    codes=None,
    t0=0,
    batch_size=1,
    optimizer=K.SGD,
    n_chunks=None,
):
    """Run one kernel epoch on copies; return ``(params, state, total)``."""
    params = tuple(p.copy() for p in params)
    hp = hyper() if hp is None else hp
    state = fresh_state(optimizer, params, hp) if state is None else tuple(s.copy() for s in state)
    codes = make_codes(optimizer=optimizer) if codes is None else codes
    assert codes[K.OPTIMIZER] == optimizer
    sw = np.empty(0) if sw is None else np.asarray(sw, dtype=np.float64)
    order = np.arange(X.shape[0], dtype=np.int64) if order is None else np.asarray(order, np.int64)
    y = np.asarray(y, dtype=np.float64)
    args = (kernel_csr(X), y, sw, order, params, state, hp, codes, t0, batch_size)
    if n_chunks is None:
        total = K.sgd_epoch(*args)
    else:
        total = K.sgd_epoch_hogwild(*args, n_chunks)
    return params, state, total


def _targets(loss_code, n, rng):
    if loss_code == SQUARED:
        return rng.normal(size=n)
    return rng.choice([-1.0, 1.0], size=n)


def _assert_tuple_close(got, want, rtol=1e-12, atol=1e-14):
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert g.shape == w.shape and g.dtype == w.dtype
        np.testing.assert_allclose(g, w, rtol=rtol, atol=atol)


def _assert_tuple_equal(got, want):
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert g.dtype == w.dtype
        np.testing.assert_array_equal(g, w)


STEP = dict(
    lr=0.05, reg_bias=0.01, reg_linear=0.02, reg_factors=0.03, beta1=0.8, beta2=0.95, eps=1e-7,
    l1_linear=0.01, l1_factors=0.02, ftrl_beta=0.7,
)  # fmt: skip


def test_layout_constants():
    layout = (K.LR, K.REG_BIAS, K.REG_LINEAR, K.REG_FACTORS, K.BETA1, K.BETA2, K.EPS)
    layout += (K.L1_LINEAR, K.L1_FACTORS, K.FTRL_BETA)
    assert layout == tuple(range(10))
    assert K.N_HYPER == 10 and K.N_CODES == 4
    assert [int(o) for o in K.Optimizer] == [K.SGD, K.ADAGRAD, K.ADAM, K.FTRL] == [0, 1, 2, 3]


# ---------------------------------------------------------------------------- gradient
def test_reference_gradient_matches_finite_differences():
    # the analytic ∂ŷ/∂θ used by the reference is itself checked against the definition
    rng = np.random.default_rng(0)
    x = np.array([0.7, 0.0, -1.3, 2.0, 0.4])
    w0, w, V = random_params(5, 3, rng)
    _, gw, gV = predict_gradient(x, w0, w, V)
    assert fd_gradient(lambda t: naive_predict(x, t, w, V)[0], w0)[0] == pytest.approx(1.0)
    np.testing.assert_allclose(
        fd_gradient(lambda t: naive_predict(x, w0, t, V)[0], w), gw, rtol=1e-7, atol=1e-9
    )
    np.testing.assert_allclose(
        fd_gradient(lambda t: naive_predict(x, w0, w, t)[0], V), gV, rtol=1e-7, atol=1e-9
    )


@pytest.mark.parametrize("k", [1, 4])
def test_kernel_gradient_matches_finite_differences(k):
    """With squared loss, ``y = ŷ − 1``, lr = 1 and no reg, one SGD step is ``θ − ∂ŷ/∂θ``."""
    rng = np.random.default_rng(k)
    X = random_csr(4, 6, 0.6, rng)
    params = random_params(6, k, rng)
    w0, w, V = params
    for r in range(1, 4):
        Xr = X[r]
        p = np.empty(1)
        predict_csr(*kernel_csr(Xr), w0[0], w, V, p)
        y = p - 1.0
        g = float(p[0] - y[0])  # ≈ 1: dloss/dŷ, known exactly (Sterbenz)
        new, _, _ = _run(Xr, y, params, hp=hyper(lr=1.0))
        x = Xr.toarray()[0]
        got = [(params[j] - new[j]) / g for j in range(3)]
        fd = [
            fd_gradient(lambda t, x=x: naive_predict(x, t, w, V)[0], w0),
            fd_gradient(lambda t, x=x: naive_predict(x, w0, t, V)[0], w),
            fd_gradient(lambda t, x=x: naive_predict(x, w0, w, t)[0], V),
        ]
        for a, b in zip(got, fd, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-8)
        # and the textbook formula, to rounding: ∂ŷ/∂v_if = x_i (q_f − v_if x_i)
        _, gw, gV = predict_gradient(x, w0, w, V)
        np.testing.assert_allclose(got[1], gw, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(got[2], gV, rtol=1e-12, atol=1e-14)


# ---------------------------------------------------------------------------- reference
@pytest.mark.parametrize("loss_code", LOSSES)
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_one_row_matches_reference(optimizer, loss_code):
    rng = np.random.default_rng(10 * optimizer + loss_code)
    X = random_csr(3, 8, 0.5, rng)
    Xr = X[1]  # the full row
    y = _targets(loss_code, 1, rng)
    params = random_params(8, 3, rng)
    codes = make_codes(loss_code, optimizer)
    got = _run(Xr, y, params, hp=hyper(**STEP), codes=codes, optimizer=optimizer, t0=4)
    want = reference_sgd_step(
        Xr.toarray(),
        y,
        None,
        params,
        fresh_state(optimizer, params, hyper(**STEP)),
        loss_code=loss_code,
        optimizer=optimizer,
        t=5,
        **STEP,
    )
    _assert_tuple_close(got[0], want[0])
    _assert_tuple_close(got[1], want[1])
    assert got[2] == pytest.approx(want[2], rel=1e-12)


@pytest.mark.parametrize("loss_code", LOSSES)
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_several_rows_and_epochs_match_reference(optimizer, loss_code):
    """Sequential per-row steps in a shuffled ``order``, sample weights, lazy reg, t0."""
    rng = np.random.default_rng(100 + 10 * optimizer + loss_code)
    X = random_csr(6, 7, 0.4, rng)
    y = _targets(loss_code, 6, rng)
    sw = rng.uniform(0.2, 2.0, size=6)
    params = random_params(7, 2, rng)
    codes = make_codes(loss_code, optimizer)
    k_params, k_state = params, fresh_state(optimizer, params, hyper(**STEP))
    r_params, r_state = params, fresh_state(optimizer, params, hyper(**STEP))
    t0 = 0
    for _ in range(3):
        order = rng.permutation(6)
        k_params, k_state, k_total = _run(
            X,
            y,
            k_params,
            sw=sw,
            order=order,
            state=k_state,
            hp=hyper(**STEP),
            codes=codes,
            t0=t0,
            optimizer=optimizer,
        )
        r_params, r_state, r_total = reference_epoch(
            X,
            y,
            sw,
            order,
            r_params,
            r_state,
            t0=t0,
            loss_code=loss_code,
            optimizer=optimizer,
            **STEP,
        )
        t0 += 6
        _assert_tuple_close(k_params, r_params, rtol=1e-11, atol=1e-13)
        _assert_tuple_close(k_state, r_state, rtol=1e-11, atol=1e-13)
        assert k_total == pytest.approx(r_total, rel=1e-11)


@pytest.mark.parametrize("batch_size", [2, 3, 10])
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_minibatch_matches_reference_mean_gradient(optimizer, batch_size):
    """A batch step is a step along the mean of the per-row gradients at the same params."""
    rng = np.random.default_rng(200 + batch_size + optimizer)
    X = random_csr(7, 9, 0.35, rng)  # 7 rows: the last batch is partial
    y = _targets(LOGISTIC, 7, rng)
    sw = rng.uniform(0.2, 2.0, size=7)
    params = random_params(9, 3, rng)
    codes = make_codes(LOGISTIC, optimizer)
    k_params, k_state = params, fresh_state(optimizer, params, hyper(**STEP))
    r_params, r_state = params, fresh_state(optimizer, params, hyper(**STEP))
    t0 = 2
    for _ in range(2):
        order = rng.permutation(7)
        k_params, k_state, k_total = _run(
            X,
            y,
            k_params,
            sw=sw,
            order=order,
            state=k_state,
            hp=hyper(**STEP),
            codes=codes,
            t0=t0,
            batch_size=batch_size,
            optimizer=optimizer,
        )
        r_params, r_state, r_total = reference_epoch(
            X,
            y,
            sw,
            order,
            r_params,
            r_state,
            t0=t0,
            batch_size=batch_size,
            loss_code=LOGISTIC,
            optimizer=optimizer,
            **STEP,
        )
        t0 += -(-7 // batch_size)
        _assert_tuple_close(k_params, r_params, rtol=1e-11, atol=1e-13)
        _assert_tuple_close(k_state, r_state, rtol=1e-11, atol=1e-13)
        assert k_total == pytest.approx(r_total, rel=1e-11)


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_batch_of_one_row_equals_per_row_step(optimizer):
    # the mini-batch code path with a single-row batch must agree with the per-row path
    rng = np.random.default_rng(300 + optimizer)
    X = random_csr(3, 6, 0.6, rng)[1]
    params = random_params(6, 3, rng)
    codes = make_codes(SQUARED, optimizer)
    a = _run(X, [0.3], params, hp=hyper(**STEP), codes=codes, optimizer=optimizer, t0=3)
    b = _run(
        X, [0.3], params, hp=hyper(**STEP), codes=codes, optimizer=optimizer, t0=3, batch_size=4
    )
    _assert_tuple_close(a[0], b[0], rtol=1e-13, atol=1e-15)
    _assert_tuple_close(a[1], b[1], rtol=1e-13, atol=1e-15)
    assert a[2] == b[2]


# ---------------------------------------------------------------------------- lazy reg
@pytest.mark.parametrize("batch_size", [1, 3])
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_lazy_regularisation_leaves_absent_features_untouched(optimizer, batch_size):
    rng = np.random.default_rng(400 + optimizer + batch_size)
    n_features = 10
    dense = rng.normal(size=(5, n_features))
    dense[:, [2, 5, 9]] = 0.0  # never present
    X = sp.csr_matrix(dense)
    params = random_params(n_features, 3, rng)
    state = tuple(
        np.abs(rng.normal(size=s.shape)).astype(s.dtype) for s in fresh_state(optimizer, params)
    )  # non-zero state: Adam would move a parameter with zero gradient
    codes = make_codes(SQUARED, optimizer)
    hp = hyper(lr=0.1, reg_bias=0.5, reg_linear=0.5, reg_factors=0.5)
    new, new_state, _ = _run(
        X,
        rng.normal(size=5),
        params,
        state=state,
        hp=hp,
        codes=codes,
        optimizer=optimizer,
        batch_size=batch_size,
    )
    absent = np.array([2, 5, 9])
    present = np.setdiff1d(np.arange(n_features), absent)
    np.testing.assert_array_equal(new[1][absent], params[1][absent])
    np.testing.assert_array_equal(new[2][absent], params[2][absent])
    for old_s, new_s in zip(state[2:], new_state[2:], strict=True):
        if old_s.size:
            np.testing.assert_array_equal(new_s[absent], old_s[absent])
            assert np.all(new_s[present] != old_s[present])
    assert np.all(new[1][present] != params[1][present])
    assert np.all(new[2][present] != params[2][present])


def test_explicit_zero_is_present_for_regularisation():
    # a stored zero gets no loss gradient but is shrunk: w_i ← w_i (1 − lr·reg)
    X = sp.csr_matrix(
        (np.array([1.5, 0.0]), np.array([0, 2], np.int32), np.array([0, 2])), shape=(1, 4)
    )
    assert X.nnz == 2
    rng = np.random.default_rng(5)
    params = random_params(4, 2, rng)
    lr, reg_w, reg_v = 0.1, 0.3, 0.2
    new, _, _ = _run(X, [1.0], params, hp=hyper(lr=lr, reg_linear=reg_w, reg_factors=reg_v))
    assert new[1][2] == pytest.approx(params[1][2] * (1 - lr * reg_w), rel=1e-14)
    np.testing.assert_allclose(new[2][2], params[2][2] * (1 - lr * reg_v), rtol=1e-14)
    np.testing.assert_array_equal(new[1][[1, 3]], params[1][[1, 3]])
    np.testing.assert_array_equal(new[2][[1, 3]], params[2][[1, 3]])
    assert structure_mask(X, [0]).tolist() == [True, False, True, False]


# ---------------------------------------------------------------------------- weights
@pytest.mark.parametrize("batch_size", [1, 2])
def test_weight_two_matches_reference(batch_size):
    rng = np.random.default_rng(6)
    X = random_csr(4, 6, 0.5, rng)
    y = rng.normal(size=4)
    params = random_params(6, 3, rng)
    sw = np.array([1.0, 2.0, 1.0, 2.0])
    hp = dict(lr=0.05, reg_bias=0.1, reg_linear=0.2, reg_factors=0.3)
    got = _run(X, y, params, sw=sw, hp=hyper(**hp), batch_size=batch_size)
    want = reference_epoch(
        X, y, sw, np.arange(4), params, fresh_state(K.SGD, params), batch_size=batch_size, **hp
    )
    _assert_tuple_close(got[0], want[0])
    assert got[2] == pytest.approx(want[2], rel=1e-12)


@pytest.mark.parametrize("reg", [0.0, 0.4])
def test_weight_two_is_doubled_sgd_step(reg):
    # plain SGD: weight 2 scales loss and penalty of the row, i.e. the whole step
    rng = np.random.default_rng(16)
    X = random_csr(3, 6, 0.5, rng)[1]
    y = rng.normal(size=1)
    params = random_params(6, 3, rng)
    regs = dict(reg_bias=reg, reg_linear=reg, reg_factors=reg)
    two = _run(X, y, params, sw=[2.0], hp=hyper(lr=0.05, **regs))
    double_lr = _run(X, y, params, hp=hyper(lr=0.1, **regs))
    _assert_tuple_close(two[0], double_lr[0], rtol=1e-14, atol=1e-16)
    assert two[2] == pytest.approx(2 * double_lr[2], rel=1e-15)


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_weight_two_is_row_twice_in_a_batch(optimizer):
    # batch {r: weight 2, s: weight 0} = batch {r, r}: same mean gradient, penalty included
    rng = np.random.default_rng(17)
    X = random_csr(3, 6, 0.5, rng)
    X = X[[1, 2]]
    y = np.array([0.5, -1.0])
    params = random_params(6, 3, rng)
    kw = dict(
        hp=hyper(**STEP), codes=make_codes(SQUARED, optimizer), optimizer=optimizer, batch_size=2
    )
    weighted, _, w_total = _run(X, y, params, sw=[2.0, 0.0], **kw)
    twice, _, t_total = _run(X, y, params, order=[0, 0], **kw)
    _assert_tuple_close(weighted, twice, rtol=1e-13, atol=1e-15)
    assert w_total == pytest.approx(t_total, rel=1e-14)
    assert not np.array_equal(weighted[2], params[2])


@pytest.mark.parametrize("batch_size", [1, 3])
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_weight_zero_leaves_params_unchanged(optimizer, batch_size):
    # weight 0 means no row, penalty included (fresh state: no Adam momentum to carry)
    rng = np.random.default_rng(7)
    X = random_csr(3, 5, 0.7, rng)
    params = random_params(5, 2, rng)
    codes = make_codes(LOGISTIC, optimizer)
    new, state, total = _run(
        X,
        [1.0, -1.0, 1.0],
        params,
        sw=np.zeros(3),
        codes=codes,
        optimizer=optimizer,
        batch_size=batch_size,
        hp=hyper(**STEP),
    )
    _assert_tuple_equal(new, params)
    _assert_tuple_equal(state, fresh_state(optimizer, params, hyper(**STEP)))
    assert total == 0.0
    # per row, only the weighted rows count: rows 0 and 2 (weight 0) change nothing. They
    # come first: after a real step Adam's momentum would still move on a zero gradient.
    if batch_size == 1:
        sw = np.array([0.0, 1.0, 0.0])
        a = _run(
            X,
            [1.0, -1.0, 1.0],
            params,
            sw=sw,
            codes=codes,
            optimizer=optimizer,
            hp=hyper(**STEP),
            order=[2, 0, 1],
        )
        b = _run(X[1], [-1.0], params, codes=codes, optimizer=optimizer, hp=hyper(**STEP), t0=2)
        _assert_tuple_equal(a[0], b[0])
        _assert_tuple_equal(a[1], b[1])


# ---------------------------------------------------------------------------- codes
@pytest.mark.parametrize("batch_size", [1, 3])
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
@pytest.mark.parametrize(("fit_intercept", "fit_linear"), [(0, 1), (1, 0), (0, 0)])
def test_fit_intercept_and_linear_codes(optimizer, batch_size, fit_intercept, fit_linear):
    rng = np.random.default_rng(8)
    X = random_csr(5, 6, 0.5, rng)
    y = rng.normal(size=5)
    params = random_params(6, 2, rng)
    state = fresh_state(optimizer, params)
    codes = make_codes(SQUARED, optimizer, fit_intercept, fit_linear)
    hp = hyper(**STEP)
    new, new_state, _ = _run(
        X, y, params, state=state, codes=codes, hp=hp, optimizer=optimizer, batch_size=batch_size
    )
    want, want_state, _ = reference_epoch(
        X,
        y,
        None,
        np.arange(5),
        params,
        state,
        batch_size=batch_size,
        optimizer=optimizer,
        fit_intercept=fit_intercept,
        fit_linear=fit_linear,
        **STEP,
    )
    if not fit_intercept:
        np.testing.assert_array_equal(new[0], params[0])
        for s_old, s_new in zip(state[:2], new_state[:2], strict=True):
            np.testing.assert_array_equal(s_new, s_old)
    else:
        assert new[0][0] != params[0][0]
    if not fit_linear:
        np.testing.assert_array_equal(new[1], params[1])
        for s_old, s_new in zip(state[2:4], new_state[2:4], strict=True):
            np.testing.assert_array_equal(s_new, s_old)
    else:
        assert np.any(new[1] != params[1])
    assert np.any(new[2] != params[2])
    _assert_tuple_close(new, want, rtol=1e-11, atol=1e-13)
    _assert_tuple_close(new_state, want_state, rtol=1e-11, atol=1e-13)


# ---------------------------------------------------------------------------- runs
def _problem(seed, n_rows=40, n_features=15, dtype=np.float64):
    rng = np.random.default_rng(seed)
    X = random_csr(n_rows, n_features, 0.25, rng, dtype=dtype)
    y = rng.choice([-1.0, 1.0], size=n_rows)
    params = random_params(n_features, 4, rng, dtype=dtype)
    return X, y, params, rng


@pytest.mark.parametrize("batch_size", [1, 4])
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_deterministic(optimizer, batch_size):
    X, y, params, rng = _problem(9)
    order = rng.permutation(X.shape[0])
    kw = dict(
        order=order,
        hp=hyper(**STEP),
        codes=make_codes(LOGISTIC, optimizer),
        optimizer=optimizer,
        batch_size=batch_size,
        sw=rng.uniform(size=X.shape[0]),
    )
    a = _run(X, y, params, **kw)
    b = _run(X, y, params, **kw)
    _assert_tuple_equal(a[0], b[0])
    _assert_tuple_equal(a[1], b[1])
    assert a[2] == b[2]


@pytest.mark.parametrize("batch_size", [1, 4])
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_hogwild_one_chunk_is_serial(optimizer, batch_size):
    X, y, params, rng = _problem(10)
    kw = dict(
        order=rng.permutation(X.shape[0]),
        hp=hyper(**STEP),
        t0=3,
        codes=make_codes(LOGISTIC, optimizer),
        optimizer=optimizer,
        batch_size=batch_size,
    )
    serial = _run(X, y, params, **kw)
    hog = _run(X, y, params, n_chunks=1, **kw)
    _assert_tuple_equal(hog[0], serial[0])
    _assert_tuple_equal(hog[1], serial[1])
    assert hog[2] == serial[2]


@pytest.mark.parametrize("batch_size", [1, 2])
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_hogwild_disjoint_chunks_equal_serial(optimizer, batch_size):
    # chunks touching disjoint features (and no shared bias) cannot race: same result
    rng = np.random.default_rng(11)
    dense = np.zeros((8, 10))
    dense[:4, :5] = rng.normal(size=(4, 5))
    dense[4:, 5:] = rng.normal(size=(4, 5))
    X = sp.csr_matrix(dense)
    y = rng.normal(size=8)
    params = random_params(10, 3, rng)
    kw = dict(
        hp=hyper(**STEP),
        codes=make_codes(SQUARED, optimizer, fit_intercept=False),
        optimizer=optimizer,
        batch_size=batch_size,
        t0=1,
    )
    serial = _run(X, y, params, **kw)
    hog = _run(X, y, params, n_chunks=2, **kw)
    _assert_tuple_equal(hog[0], serial[0])
    _assert_tuple_equal(hog[1], serial[1])
    assert hog[2] == pytest.approx(serial[2], rel=1e-14)


@pytest.mark.parametrize("batch_size", [1, 4])
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_float32_params_agree_with_float64(optimizer, batch_size):
    X64, y, params64, rng = _problem(12)
    X32 = X64.astype(np.float32)
    params32 = tuple(p.astype(np.float32) for p in params64)
    # start both from the same (float32-representable) values
    params64 = tuple(p.astype(np.float64) for p in params32)
    X64 = X32.astype(np.float64)
    kw = dict(
        hp=hyper(**STEP),
        codes=make_codes(LOGISTIC, optimizer),
        optimizer=optimizer,
        batch_size=batch_size,
    )
    p64, s64, t64 = params64, None, 0.0
    p32, s32, t32 = params32, None, 0.0
    for epoch in range(3):
        order = rng.permutation(X64.shape[0])
        p64, s64, t64 = _run(X64, y, p64, state=s64, order=order, t0=epoch * 40, **kw)
        p32, s32, t32 = _run(X32, y, p32, state=s32, order=order, t0=epoch * 40, **kw)
    for a, b in zip(p32, p64, strict=True):
        assert a.dtype == np.float32
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert all(s.dtype == np.float32 for s in s32)
    assert t32 == pytest.approx(t64, rel=1e-5)
    assert not all(np.array_equal(a, b) for a, b in zip(p64, params64, strict=True))


@pytest.mark.parametrize("batch_size", [1, 3])
def test_empty_rows_update_only_bias(batch_size):
    rng = np.random.default_rng(13)
    X = sp.csr_matrix((3, 4))
    params = random_params(4, 2, rng)
    new, _, total = _run(
        X,
        [1.0, 2.0, 3.0],
        params,
        hp=hyper(lr=0.1, reg_linear=1.0, reg_factors=1.0),
        batch_size=batch_size,
    )
    np.testing.assert_array_equal(new[1], params[1])
    np.testing.assert_array_equal(new[2], params[2])
    want, _, want_total = reference_epoch(
        X,
        [1.0, 2.0, 3.0],
        None,
        np.arange(3),
        params,
        fresh_state(K.SGD, params),
        batch_size=batch_size,
        lr=0.1,
    )
    assert new[0][0] == pytest.approx(want[0][0], rel=1e-14)
    assert total == pytest.approx(want_total, rel=1e-14)


def test_empty_order_is_a_no_op():
    X, y, params, _ = _problem(14)
    for batch_size in (1, 5):
        new, _, total = _run(
            X,
            y,
            params,
            order=np.empty(0, np.int64),
            batch_size=batch_size,
            optimizer=K.ADAM,
            codes=make_codes(LOGISTIC, K.ADAM),
        )
        _assert_tuple_equal(new, params)
        assert total == 0.0

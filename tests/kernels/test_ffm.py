"""Field-aware FM kernels against the pair-by-pair definition and finite differences."""

import numpy as np
import pytest
import scipy.sparse as sp

from fmlearn.kernels.ffm import ffm_sgd_epoch, predict_ffm_csr, predict_ffm_csr_parallel
from reference import (
    ADAGRAD,
    ADAM,
    FTRL,
    LOGISTIC,
    SGD,
    SQUARED,
    codes,
    fd_gradient,
    ffm_predict_gradient,
    fresh_state,
    hyper,
    kernel_csr,
    naive_predict_ffm,
    random_csr,
    reference_ffm_epoch,
)


def ffm_case(rng, n_rows=30, n_features=9, n_fields=3, k=3, density=0.4, dtype=np.float64):
    X = random_csr(n_rows, n_features, density, rng, dtype=dtype)
    fields = rng.integers(0, n_fields, size=n_features).astype(np.int32)
    fields[-1] = -1  # a feature without a field: linear only
    w0 = rng.normal(size=1).astype(dtype)
    w = (0.3 * rng.normal(size=n_features)).astype(dtype)
    V = (0.3 * rng.normal(size=(n_features, n_fields, k))).astype(dtype)
    return X, fields, (w0, w, V)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_predict_matches_pair_loop(seed, dtype):
    rng = np.random.default_rng(seed)
    X, fields, (w0, w, V) = ffm_case(rng, dtype=dtype)
    expected = naive_predict_ffm(X.toarray(), fields, w0, w, V)
    out = np.empty(X.shape[0])
    predict_ffm_csr(*kernel_csr(X), fields, float(w0[0]), w, V, out)
    rtol = 1e-12 if dtype == np.float64 else 1e-6
    np.testing.assert_allclose(out, expected, rtol=rtol, atol=rtol)
    parallel = np.empty(X.shape[0])
    predict_ffm_csr_parallel(*kernel_csr(X), fields, float(w0[0]), w, V, parallel, 7)
    np.testing.assert_array_equal(parallel, out)


def test_one_field_per_feature_and_shared_fields_differ_from_fm():
    """With every feature in its own field the model is an FM on V[i, f(j)]; the kernel
    must use the partner's field, not its own: swapping two fields changes ŷ."""
    rng = np.random.default_rng(3)
    X, fields, (w0, w, V) = ffm_case(rng, n_features=6, n_fields=6)
    fields = np.arange(6, dtype=np.int32)
    out = np.empty(X.shape[0])
    predict_ffm_csr(*kernel_csr(X), fields, float(w0[0]), w, V, out)
    swapped = fields.copy()
    swapped[[0, 1]] = swapped[[1, 0]]
    out2 = np.empty(X.shape[0])
    predict_ffm_csr(*kernel_csr(X), swapped, float(w0[0]), w, V, out2)
    np.testing.assert_allclose(out, naive_predict_ffm(X.toarray(), fields, w0, w, V))
    np.testing.assert_allclose(out2, naive_predict_ffm(X.toarray(), swapped, w0, w, V))
    assert not np.allclose(out, out2)


def test_reference_gradient_matches_finite_differences():
    rng = np.random.default_rng(5)
    X, fields, (w0, w, V) = ffm_case(rng, n_rows=4, n_features=6, n_fields=3, k=2, density=0.8)
    x = X.toarray()[2]
    present = x != 0
    dw, dV, touched = ffm_predict_gradient(x, present, fields, V)
    fd_w = fd_gradient(lambda t: naive_predict_ffm(x[None], fields, w0, t, V)[0], w)
    fd_V = fd_gradient(lambda t: naive_predict_ffm(x[None], fields, w0, w, t)[0], V)
    np.testing.assert_allclose(dw, fd_w, atol=1e-8)
    np.testing.assert_allclose(dV, fd_V, atol=1e-8)
    assert np.all(dV[~touched] == 0.0)


@pytest.mark.parametrize("optimizer", [SGD, ADAGRAD, ADAM, FTRL])
@pytest.mark.parametrize("loss_code", [SQUARED, LOGISTIC])
@pytest.mark.parametrize("weighted", [False, True])
def test_epoch_matches_reference(optimizer, loss_code, weighted):
    rng = np.random.default_rng(11 + optimizer)
    X, fields, params = ffm_case(rng, n_rows=25, n_features=8, n_fields=3, k=2, density=0.5)
    y = rng.normal(size=X.shape[0]) if loss_code == SQUARED else rng.choice([-1.0, 1.0], 25)
    sw = rng.uniform(0.5, 2.0, size=X.shape[0]) if weighted else None
    order = rng.permutation(X.shape[0]).astype(np.int64)
    regs = dict(reg_bias=0.01, reg_linear=0.05, reg_factors=0.1, l1_linear=0.02, l1_factors=0.01)
    state = fresh_state(optimizer, params, hyper(lr=0.05, **regs))  # FTRL: z gives params
    expected, expected_state, expected_total = reference_ffm_epoch(
        X, y, sw, order, fields, params, state, loss_code=loss_code, optimizer=optimizer,
        lr=0.05, t0=3, **regs,
    )  # fmt: skip
    got = tuple(a.copy() for a in params)
    got_state = tuple(a.copy() for a in state)
    total = ffm_sgd_epoch(
        kernel_csr(X), y, np.empty(0) if sw is None else sw, order, fields, 3, got, got_state,
        hyper(lr=0.05, **regs), codes(loss_code, optimizer), 3,
    )  # fmt: skip
    for a, b in zip(got, expected, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    for a, b in zip(got_state, expected_state, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    assert total == pytest.approx(expected_total, rel=1e-10)


@pytest.mark.parametrize("optimizer", [SGD, ADAGRAD, ADAM, FTRL])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_epoch_matches_reference_on_one_hot_rows(optimizer, dtype):
    """Rows with every field exactly once (the kernel's flat path), some also with a
    field-less feature, and a few rows missing a field (the general path)."""
    rng = np.random.default_rng(7 + optimizer)
    n_fields, per_field, k, n = 4, 3, 3, 20
    fields = np.repeat(np.arange(n_fields), per_field).astype(np.int32)
    fields = np.append(fields, -1)  # one feature without a field, last column
    cols = np.stack([f * per_field + rng.integers(0, per_field, n) for f in range(n_fields)], 1)
    rows = []
    for r in range(n):
        row = list(cols[r])
        if r % 3 == 0:
            row.append(n_fields * per_field)  # the field-less feature
        if r % 7 == 6:
            row = row[1:]  # field 0 absent: general path
        rows.append(sorted(row))
    indptr = np.cumsum([0] + [len(r) for r in rows])
    data = rng.uniform(0.5, 1.5, indptr[-1]).astype(dtype)
    X = sp.csr_matrix((data, np.concatenate(rows), indptr), shape=(n, fields.size))
    params = (
        rng.normal(size=1).astype(dtype),
        (0.3 * rng.normal(size=fields.size)).astype(dtype),
        (0.3 * rng.normal(size=(fields.size, n_fields, k))).astype(dtype),
    )
    y = rng.choice([-1.0, 1.0], n)
    order = rng.permutation(n).astype(np.int64)
    regs = dict(reg_bias=0.01, reg_linear=0.05, reg_factors=0.1, l1_linear=0.02, l1_factors=0.01)
    state = fresh_state(optimizer, params, hyper(lr=0.05, **regs))  # FTRL: z gives params
    expected, expected_state, expected_total = reference_ffm_epoch(
        X, y, None, order, fields, params, state, loss_code=LOGISTIC, optimizer=optimizer,
        lr=0.05, t0=3, **regs,
    )  # fmt: skip
    got = tuple(a.copy() for a in params)
    got_state = tuple(a.copy() for a in state)
    total = ffm_sgd_epoch(
        kernel_csr(X), y, np.empty(0), order, fields, n_fields, got, got_state,
        hyper(lr=0.05, **regs), codes(LOGISTIC, optimizer), 3,
    )  # fmt: skip
    # float32: the reference steps in float64 and rounds, the kernel's flat path steps
    # in float32
    rtol, atol = (1e-10, 1e-12) if dtype == np.float64 else (2e-5, 1e-6)
    for a, b in zip(got, expected, strict=True):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)
    for a, b in zip(got_state, expected_state, strict=True):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)
    assert total == pytest.approx(expected_total, rel=rtol)


def test_epoch_leaves_untouched_blocks_and_absent_features_alone():
    """A block V[i, f] moves only if the row has another feature in field f."""
    rng = np.random.default_rng(2)
    X, fields, params = ffm_case(rng, n_rows=1, n_features=5, n_fields=4, k=2, density=1.0)
    X = X[[0]].copy()
    X.data[:] = 0.0
    X = X.tolil()
    X[0, 0], X[0, 1] = 1.0, 2.0  # two features only
    X = X.tocsr()
    X.sort_indices()
    fields = np.array([0, 1, 2, 3, 3], dtype=np.int32)
    before = tuple(a.copy() for a in params)
    ffm_sgd_epoch(
        kernel_csr(X), np.array([1.0]), np.empty(0), np.zeros(1, np.int64), fields, 4,
        params, fresh_state(SGD, params), hyper(lr=0.1, reg_factors=0.5), codes(), 0,
    )  # fmt: skip
    V, V0 = params[2], before[2]
    moved = np.any(V != V0, axis=2)
    expected = np.zeros_like(moved)
    expected[0, 1] = expected[1, 0] = True  # V[0, field of 1] and V[1, field of 0]
    np.testing.assert_array_equal(moved, expected)
    np.testing.assert_array_equal(params[1][2:], before[1][2:])


def test_epoch_learns_a_planted_ffm():
    """Plain training recovers a planted field-aware model well beyond the mean."""
    rng = np.random.default_rng(0)
    n_fields, per_field, k = 4, 6, 2
    n_features = n_fields * per_field
    fields = np.repeat(np.arange(n_fields), per_field).astype(np.int32)
    n = 4000
    cols = np.stack([f * per_field + rng.integers(0, per_field, n) for f in range(n_fields)], 1)
    X = sp.csr_matrix(
        (np.ones(n * n_fields), cols.ravel(), np.arange(0, n * n_fields + 1, n_fields)),
        shape=(n, n_features),
    )
    true_V = rng.normal(size=(n_features, n_fields, k))
    y = naive_predict_ffm(X[:300].toarray(), fields, np.zeros(1), np.zeros(n_features), true_V)
    y_all = np.empty(n)
    predict_ffm_csr(*kernel_csr(X), fields, 0.0, np.zeros(n_features), true_V, y_all)
    np.testing.assert_allclose(y_all[:300], y)
    params = (np.zeros(1), np.zeros(n_features), 0.1 * rng.normal(size=true_V.shape))
    state = fresh_state(ADAGRAD, params)
    hp, cd = hyper(lr=0.1), codes(SQUARED, ADAGRAD)
    for epoch in range(30):
        order = rng.permutation(n).astype(np.int64)
        ffm_sgd_epoch(kernel_csr(X), y_all, np.empty(0), order, fields, n_fields, params,
                      state, hp, cd, epoch * n)  # fmt: skip
    pred = np.empty(n)
    predict_ffm_csr(*kernel_csr(X), fields, float(params[0][0]), params[1], params[2], pred)
    rmse = np.sqrt(np.mean((pred - y_all) ** 2))
    assert rmse < 0.1 * y_all.std()

"""Field-weighted FM kernels against the pair-by-pair definition and finite differences."""

import numpy as np
import pytest
import scipy.sparse as sp

from fmlearn.kernels.fwfm import (
    fwfm_sgd_epoch,
    fwfm_sgd_epoch_hogwild,
    predict_fwfm_csr,
    predict_fwfm_csr_parallel,
)
from fmlearn.kernels.predict import predict_csr
from reference import (
    ADAGRAD,
    ADAM,
    FTRL,
    LOGISTIC,
    SGD,
    SQUARED,
    codes,
    fd_gradient,
    fresh_state,
    fwfm_gradient,
    hyper,
    kernel_csr,
    naive_predict_fwfm,
    random_csr,
    reference_fwfm_epoch,
)


def fwfm_case(rng, n_rows=30, n_features=10, n_fields=3, k=3, density=0.45, dtype=np.float64):
    """Random rows where a field often holds several features (the diagonal of R counts)."""
    X = random_csr(n_rows, n_features, density, rng, dtype=dtype)
    fields = rng.integers(0, n_fields, size=n_features).astype(np.int32)
    fields[-1] = -1  # a feature without a field: linear only
    w0 = rng.normal(size=1).astype(dtype)
    w = (0.3 * rng.normal(size=n_features)).astype(dtype)
    V = (0.4 * rng.normal(size=(n_features, k))).astype(dtype)
    R = rng.normal(size=(n_fields, n_fields))
    R = ((R + R.T) / 2).astype(dtype)
    return X, fields, (w0, w, V, R)


def _predict(X, fields, params, parallel_block=None):
    w0, w, V, R = params
    out = np.empty(X.shape[0])
    if parallel_block is None:
        predict_fwfm_csr(*kernel_csr(X), fields, float(w0[0]), w, V, R, out)
    else:
        predict_fwfm_csr_parallel(*kernel_csr(X), fields, float(w0[0]), w, V, R, out,
                                  parallel_block)  # fmt: skip
    return out


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_predict_matches_pair_loop(seed, dtype):
    rng = np.random.default_rng(seed)
    X, fields, params = fwfm_case(rng, dtype=dtype)
    expected = naive_predict_fwfm(X.toarray(), fields, *params)
    out = _predict(X, fields, params)
    rtol = 1e-12 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(out, expected, rtol=rtol, atol=rtol)
    np.testing.assert_array_equal(_predict(X, fields, params, parallel_block=7), out)


def test_all_ones_is_the_fm():
    """R = 1 everywhere (the starting point of training) is exactly the plain FM."""
    rng = np.random.default_rng(1)
    X, fields, (w0, w, V, R) = fwfm_case(rng)
    fields[-1] = 0
    ones = np.ones_like(R)
    fm = np.empty(X.shape[0])
    predict_csr(*kernel_csr(X), float(w0[0]), w, V, fm)
    np.testing.assert_allclose(_predict(X, fields, (w0, w, V, ones)), fm, rtol=1e-12)


def test_reference_gradient_matches_finite_differences():
    rng = np.random.default_rng(5)
    X, fields, (w0, w, V, R) = fwfm_case(rng, n_rows=4, density=0.9)
    x = X.toarray()[1]
    present = x != 0
    dw, dV, dR, touched = fwfm_gradient(x, present, fields, V, R)

    def with_R(upper):  # one parameter per unordered pair: perturb both halves together
        sym = np.triu(upper) + np.triu(upper, 1).T
        return naive_predict_fwfm(x[None], fields, w0, w, V, sym)[0]

    fd_w = fd_gradient(lambda t: naive_predict_fwfm(x[None], fields, w0, t, V, R)[0], w)
    fd_V = fd_gradient(lambda t: naive_predict_fwfm(x[None], fields, w0, w, t, R)[0], V)
    fd_R = fd_gradient(with_R, np.triu(R))
    np.testing.assert_allclose(dw, fd_w, atol=1e-8)
    np.testing.assert_allclose(dV, fd_V, atol=1e-8)
    np.testing.assert_allclose(np.triu(dR), np.triu(fd_R), atol=1e-8)
    assert np.all(dR[~touched] == 0.0) and touched.any()


@pytest.mark.parametrize("optimizer", [SGD, ADAGRAD, ADAM, FTRL])
@pytest.mark.parametrize("loss_code", [SQUARED, LOGISTIC])
@pytest.mark.parametrize("weighted", [False, True])
def test_epoch_matches_reference(optimizer, loss_code, weighted):
    rng = np.random.default_rng(21 + optimizer)
    X, fields, params = fwfm_case(rng, n_rows=25, k=2)
    y = rng.normal(size=25) if loss_code == SQUARED else rng.choice([-1.0, 1.0], 25)
    sw = rng.uniform(0.5, 2.0, size=25) if weighted else None
    order = rng.permutation(25).astype(np.int64)
    regs = dict(reg_bias=0.01, reg_linear=0.05, reg_factors=0.1, l1_linear=0.02, l1_factors=0.01)
    state = fresh_state(optimizer, params, hyper(lr=0.05, **regs))  # FTRL: z gives params
    expected, expected_state, expected_total = reference_fwfm_epoch(
        X, y, sw, order, fields, params, state, loss_code=loss_code, optimizer=optimizer,
        lr=0.05, t0=3, **regs,
    )  # fmt: skip
    got = tuple(a.copy() for a in params)
    got_state = tuple(a.copy() for a in state)
    total = fwfm_sgd_epoch(
        kernel_csr(X), y, np.empty(0) if sw is None else sw, order, fields, got, got_state,
        hyper(lr=0.05, **regs), codes(loss_code, optimizer), 3,
    )  # fmt: skip
    for a, b in zip(got, expected, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    for a, b in zip(got_state, expected_state, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    assert total == pytest.approx(expected_total, rel=1e-10)
    np.testing.assert_array_equal(got[3], got[3].T)  # R stays symmetric


def _one_hot(rng, n, n_fields, per_field):
    cols = np.stack([f * per_field + rng.integers(0, per_field, n) for f in range(n_fields)], 1)
    return sp.csr_matrix(
        (np.ones(n * n_fields), cols.ravel(), np.arange(0, n * n_fields + 1, n_fields)),
        shape=(n, n_fields * per_field),
    )


def test_epoch_learns_planted_field_strengths():
    """Training recovers a planted FwFM, and the learned R ranks the field pairs as the
    truth does: the pair that carries the signal ends up far above the dead ones."""
    rng = np.random.default_rng(0)
    n_fields, per_field, k, n = 4, 8, 2, 6000
    fields = np.repeat(np.arange(n_fields), per_field).astype(np.int32)
    X = _one_hot(rng, n, n_fields, per_field)
    V = rng.normal(size=(n_fields * per_field, k))
    R = np.zeros((n_fields, n_fields))
    R[0, 1] = R[1, 0] = 2.0  # only fields 0 and 1 interact (strongly)
    R[2, 3] = R[3, 2] = 0.5
    y = _predict(X, fields, (np.zeros(1), np.zeros(X.shape[1]), V, R))
    params = (np.zeros(1), np.zeros(X.shape[1]), 0.1 * rng.normal(size=V.shape), np.ones_like(R))
    state = fresh_state(ADAGRAD, params)
    for epoch in range(30):
        order = rng.permutation(n).astype(np.int64)
        fwfm_sgd_epoch(kernel_csr(X), y, np.empty(0), order, fields, params, state,
                       hyper(lr=0.1), codes(SQUARED, ADAGRAD), epoch * n)  # fmt: skip
    pred = _predict(X, fields, params)
    assert np.sqrt(np.mean((pred - y) ** 2)) < 0.1 * y.std()
    # the scale of R trades off against V's: compare each pair's effect size
    norms = np.linalg.norm(params[2].reshape(n_fields, per_field, k), axis=(1, 2))
    effect = np.abs(params[3]) * np.outer(norms, norms)
    assert effect[0, 1] > 5 * max(effect[0, 2], effect[0, 3], effect[1, 2], effect[1, 3])


def test_hogwild_epoch_learns_too():
    rng = np.random.default_rng(4)
    X, fields, params = fwfm_case(rng, n_rows=400, n_features=30, n_fields=4, k=2)
    y = naive_predict_fwfm(X.toarray(), fields, *params)
    start = (np.zeros(1), np.zeros(30), 0.1 * rng.normal(size=params[2].shape),
             np.ones_like(params[3]))  # fmt: skip
    state = fresh_state(ADAGRAD, start)
    before = np.mean((_predict(X, fields, start) - y) ** 2)
    for epoch in range(20):
        order = rng.permutation(400).astype(np.int64)
        fwfm_sgd_epoch_hogwild(kernel_csr(X), y, np.empty(0), order, fields, start, state,
                               hyper(lr=0.05), codes(SQUARED, ADAGRAD), epoch * 400, 2)  # fmt: skip
    assert np.mean((_predict(X, fields, start) - y) ** 2) < 0.3 * before


def test_hogwild_steps_r_once_along_the_summed_gradients():
    """In Hogwild mode R is stepped once per HOGWILD_R_EVERY rows of a thread, along the sum
    of those rows' gradients (each at the row's current w and V, and R as it was), while w
    and V are stepped every row: checked against that rule written in numpy (plain SGD)."""
    from fmlearn.kernels.fwfm import HOGWILD_R_EVERY

    rng = np.random.default_rng(8)
    n_rows = 5
    assert n_rows <= HOGWILD_R_EVERY  # one R step, at the chunk's end
    X, fields, params = fwfm_case(rng, n_rows=n_rows)
    y = rng.normal(size=n_rows)
    lr = 0.05
    dense = X.toarray()
    w0, w, V, R = (a.copy() for a in params)
    summed = np.zeros_like(R)
    for r in range(n_rows):
        present = np.zeros(X.shape[1], dtype=bool)
        present[X.indices[X.indptr[r] : X.indptr[r + 1]]] = True
        d = naive_predict_fwfm(dense[r][None, :], fields, w0, w, V, R)[0] - y[r]
        dw, dV, dR, _ = fwfm_gradient(dense[r], present, fields, V, R)
        w0 -= lr * d
        w[present] -= lr * d * dw[present]
        has_field = present & (fields >= 0)
        V[has_field] -= lr * d * dV[has_field]
        summed += d * dR
    want = (w0, w, V, R - lr * summed)
    got = tuple(a.copy() for a in params)
    fwfm_sgd_epoch_hogwild(kernel_csr(X), y, np.empty(0), np.arange(n_rows, dtype=np.int64),
                           fields, got, fresh_state(SGD, got), hyper(lr=lr), codes(SQUARED, SGD),
                           0, 1)  # fmt: skip
    for a, b in zip(got, want, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    assert not np.allclose(got[3], params[3])  # R did move

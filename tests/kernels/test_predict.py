"""``predict_csr`` / ``predict_csr_parallel`` / ``row_predict`` against the naive FM."""

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from numba import njit

from fmlearn._validation import as_canonical_csr, csr_arrays
from fmlearn.kernels.predict import predict_csr, predict_csr_parallel, row_predict
from reference import factor_sums, kernel_csr, naive_predict, random_csr, random_params

# Tolerance relative to the size of the summed terms. The reference sees the float64
# model; a float32 model is that model rounded to float32 (relative error 6e-8 per input,
# accumulated in float64 by the kernel), hence the looser float32 bound.
RTOL = {np.float64: 1e-12, np.float32: 1e-5}


def _predict(X, w0, w, V):
    out = np.full(X.shape[0], np.nan)
    indptr, indices, data = kernel_csr(X)
    predict_csr(indptr, indices, data, w0, w, V, out)
    return out


def _assert_close(got, want, scale, rtol):
    """``|got − want| ≤ rtol · scale`` elementwise (``scale``: size of the summed terms)."""
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape
    err = np.abs(got - want)
    bound = rtol * np.asarray(scale)
    assert np.all(err <= bound), f"max error {err.max()} > bound {bound[np.argmax(err - bound)]}"


def _atol(X, w0, w, V):
    """Absolute tolerance scaled by the size of the terms that cancel in ŷ."""
    A = np.abs(X.toarray().astype(np.float64))
    Va = np.abs(V.astype(np.float64))
    scale = abs(float(w0)) + A @ np.abs(w.astype(np.float64)) + ((A @ Va) ** 2).sum(axis=1)
    return scale


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(
    ("n_rows", "n_features", "k", "density"),
    [(7, 5, 1, 0.5), (20, 12, 3, 0.3), (15, 30, 8, 0.1), (4, 1, 2, 1.0), (9, 6, 4, 0.0)],
)
def test_predict_csr_matches_naive(dtype, n_rows, n_features, k, density):
    rng = np.random.default_rng(n_rows * 1000 + n_features * 10 + k)
    X = random_csr(n_rows, n_features, density, rng)
    w0, w, V = random_params(n_features, k, rng)
    got = _predict(X.astype(dtype), dtype(w0[0]), w.astype(dtype), V.astype(dtype))
    want = naive_predict(X.toarray(), w0, w, V)
    assert got.dtype == np.float64
    assert np.all(np.isfinite(got))
    _assert_close(got, want, _atol(X, w0[0], w, V), RTOL[dtype])
    # the empty row is the bias alone, exactly
    assert got[0] == np.float64(dtype(w0[0]))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_predict_csr_zero_rows(dtype):
    X = sp.csr_matrix((0, 4), dtype=dtype)
    w0, w, V = random_params(4, 3, np.random.default_rng(0), dtype=dtype)
    out = np.empty(0)
    indptr, indices, data = kernel_csr(X)
    predict_csr(indptr, indices, data, dtype(w0[0]), w, V, out)
    out_par = np.empty(0)
    predict_csr_parallel(indptr, indices, data, dtype(w0[0]), w, V, out_par, 4)
    assert out.shape == out_par.shape == (0,)


def test_predict_only_bias_and_linear_when_one_feature_per_row():
    # with at most one feature per row there is no pair: ŷ = w0 + w_i x_i whatever V is
    rng = np.random.default_rng(1)
    X = sp.csr_matrix(np.diag(rng.normal(size=6)))
    w0, w, V = random_params(6, 5, rng)
    got = _predict(X, w0[0], w, V)
    np.testing.assert_allclose(got, w0[0] + X.toarray() @ w, rtol=1e-13, atol=1e-15)


def test_predict_accepts_csr_arrays_of_package():
    rng = np.random.default_rng(2)
    X = as_canonical_csr(random_csr(10, 7, 0.4, rng), np.float64)
    w0, w, V = random_params(7, 3, rng)
    out = np.empty(10)
    predict_csr(*csr_arrays(X), w0[0], w, V, out)
    np.testing.assert_array_equal(out, _predict(X, w0[0], w, V))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("block_rows", [1, 2, 3, 7, 64, 1000])
def test_predict_parallel_bitwise_equal_to_serial(dtype, block_rows):
    rng = np.random.default_rng(block_rows)
    X = random_csr(53, 17, 0.3, rng, dtype=dtype)
    w0, w, V = random_params(17, 4, rng, dtype=dtype)
    indptr, indices, data = kernel_csr(X)
    serial = np.empty(53)
    predict_csr(indptr, indices, data, dtype(w0[0]), w, V, serial)
    par = np.full(53, np.nan)
    predict_csr_parallel(indptr, indices, data, dtype(w0[0]), w, V, par, block_rows)
    np.testing.assert_array_equal(par, serial)


@njit(cache=False)
def _row_predict_with_q(indptr, indices, data, w0, w, V):
    n_rows = indptr.shape[0] - 1
    Q = np.full((n_rows, V.shape[1]), np.nan)
    S = np.full((n_rows, V.shape[1]), np.nan)
    out = np.empty(n_rows)
    for r in range(n_rows):
        out[r] = row_predict(indptr, indices, data, r, w0, w, V, Q[r], S[r])
    return out, Q, S


@pytest.mark.parametrize("k", [1, 5])
def test_row_predict_fills_factor_sums(k):
    rng = np.random.default_rng(k)
    X = random_csr(12, 9, 0.4, rng)
    w0, w, V = random_params(9, k, rng)
    out, Q, S = _row_predict_with_q(*kernel_csr(X), w0[0], w, V)
    np.testing.assert_allclose(Q, factor_sums(X.toarray(), V), rtol=1e-12, atol=1e-14)
    squares = (X.toarray() ** 2) @ (V**2)  # s[f] = Σ_i v_if² x_i²
    np.testing.assert_allclose(S, squares, rtol=1e-12, atol=1e-14)
    assert np.all(Q[0] == 0.0)  # empty row: q reset, not left from a previous row
    np.testing.assert_array_equal(out, _predict(X, w0[0], w, V))


def test_row_predict_resets_stale_q():
    # q starts full of garbage: row_predict must overwrite, not accumulate
    rng = np.random.default_rng(3)
    X = random_csr(3, 5, 0.6, rng)
    w0, w, V = random_params(5, 3, rng)
    indptr, indices, data = kernel_csr(X)

    @njit(cache=False)
    def run(q):
        return row_predict(indptr, indices, data, 1, w0[0], w, V, q, np.full(3, 1e6))

    q = np.full(3, 1e6)
    p = run(q)
    np.testing.assert_allclose(q, factor_sums(X.toarray()[1:2], V)[0], rtol=1e-12)
    np.testing.assert_allclose(p, naive_predict(X.toarray()[1:2], w0, w, V)[0], rtol=1e-12)


# ---------------------------------------------------------------------------- properties
@st.composite
def fm_problems(draw, max_rows=6, max_features=7, max_k=4):
    seed = draw(st.integers(0, 2**32 - 1))
    n_rows = draw(st.integers(0, max_rows))
    n_features = draw(st.integers(1, max_features))
    k = draw(st.integers(1, max_k))
    density = draw(st.sampled_from([0.0, 0.3, 0.7, 1.0]))
    rng = np.random.default_rng(seed)
    X = random_csr(n_rows, n_features, density, rng)
    params = random_params(n_features, k, rng)
    return X, params, rng


PROPERTY = settings(max_examples=60, deadline=None)


@PROPERTY
@given(fm_problems())
def test_invariant_to_column_order_within_rows(problem):
    X, (w0, w, V), rng = problem
    indptr, indices, data = kernel_csr(X)
    indices, data = indices.copy(), data.copy()
    for r in range(X.shape[0]):
        perm = indptr[r] + rng.permutation(indptr[r + 1] - indptr[r])
        indices[indptr[r] : indptr[r + 1]] = indices[perm]
        data[indptr[r] : indptr[r + 1]] = data[perm]
    shuffled = np.empty(X.shape[0])
    predict_csr(indptr, indices, data, w0[0], w, V, shuffled)
    base = _predict(X, w0[0], w, V)
    scale = _atol(X, w0[0], w, V)
    _assert_close(shuffled, base, scale, 1e-12)
    _assert_close(shuffled, naive_predict(X.toarray(), w0, w, V), scale, 1e-12)


@PROPERTY
@given(fm_problems(), st.integers(1, 5))
def test_invariant_to_explicit_zeros(problem, n_zeros):
    X, (w0, w, V), rng = problem
    n_rows, n_features = X.shape
    if n_rows == 0:
        return
    # add stored zeros at random positions not already stored, keeping rows sorted
    coo = X.tocoo()
    stored = set(zip(coo.row.tolist(), coo.col.tolist(), strict=True))
    rows, cols = list(coo.row), list(coo.col)
    vals = list(coo.data)
    for _ in range(n_zeros):
        r, c = int(rng.integers(n_rows)), int(rng.integers(n_features))
        if (r, c) not in stored:
            stored.add((r, c))
            rows.append(r)
            cols.append(c)
            vals.append(0.0)
    Xz = sp.csr_matrix((vals, (rows, cols)), shape=X.shape)
    Xz.sort_indices()
    assert Xz.nnz == len(stored)  # the zeros are really stored (scipy keeps them here)
    # adding exact zeros changes no partial sum: the result is bitwise the same
    np.testing.assert_array_equal(_predict(Xz, w0[0], w, V), _predict(X, w0[0], w, V))


@PROPERTY
@given(fm_problems(), st.integers(1, 6))
def test_duplicates_summed_by_as_canonical_csr(problem, n_dups):
    X, (w0, w, V), rng = problem
    n_rows, n_features = X.shape
    if n_rows == 0:
        return
    coo = X.tocoo()
    rows, cols, vals = list(coo.row), list(coo.col), list(coo.data)
    for _ in range(n_dups):
        rows.append(int(rng.integers(n_rows)))
        cols.append(int(rng.integers(n_features)))
        vals.append(float(rng.normal()))
    # build a non-canonical CSR directly (scipy would sum duplicates in the constructor)
    order = np.lexsort((rng.random(len(rows)), np.asarray(rows)))
    r_sorted = np.asarray(rows)[order]
    indptr = np.searchsorted(r_sorted, np.arange(n_rows + 1)).astype(np.int64)
    Xd = sp.csr_matrix(
        (np.asarray(vals)[order], np.asarray(cols, dtype=np.int32)[order], indptr),
        shape=X.shape,
    )
    dense = Xd.toarray()  # sums duplicates: the matrix the user means
    Xc = as_canonical_csr(Xd, np.float64)
    assert Xc.has_canonical_format
    got = _predict(Xc, w0[0], w, V)
    _assert_close(got, naive_predict(dense, w0, w, V), _atol(Xc, w0[0], w, V), 1e-12)


@PROPERTY
@given(fm_problems())
def test_zero_factors_is_linear_model(problem):
    X, (w0, w, V), _ = problem
    got = _predict(X, w0[0], w, np.zeros_like(V))
    want = w0[0] + X.toarray() @ w
    _assert_close(got, want, abs(w0[0]) + np.abs(X.toarray()) @ np.abs(w), 1e-12)


@pytest.mark.parametrize("k", [1, 6])
def test_float32_accumulates_in_float64(k):
    # the kernel promotes every float32 input to float64 before multiplying, so a float32
    # model predicts exactly what the same (upcast) numbers give in float64
    rng = np.random.default_rng(20 + k)
    X32 = random_csr(30, 25, 0.5, rng, dtype=np.float32)
    w0, w, V = random_params(25, k, rng, dtype=np.float32)
    X32.data *= np.float32(1e3)  # large products: float32 rounding would show
    got = _predict(X32, w0[0], w, V)
    want = _predict(
        X32.astype(np.float64), float(w0[0]), w.astype(np.float64), V.astype(np.float64)
    )
    np.testing.assert_array_equal(got, want)

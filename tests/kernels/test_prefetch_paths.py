"""Models large enough to be prefetched (``PREFETCH_MIN_BYTES``) compute exactly what the
same rows compute on a small model: the prefetch loops are hints, and they read only
rows that exist (the ones 2, 4 and 6 ahead in the order, near a chunk's end too)."""

import numpy as np
import pytest
import scipy.sparse as sp

from fmlearn.kernels import sgd as K
from fmlearn.kernels.predict import predict_csr, predict_csr_parallel
from fmlearn.kernels.prefetch import PREFETCH_MIN_BYTES
from reference import codes as make_codes
from reference import fresh_state, hyper, kernel_csr, random_csr, random_params

K_FACTORS = 8
N_LARGE = PREFETCH_MIN_BYTES // (K_FACTORS * 8) + 1000  # float64 factors over the threshold


def _pair(seed, n_rows=60, n_small=25):
    """A small problem and the same one embedded in N_LARGE features (columns spread out,
    in the same order, so every row sums its features in the same order)."""
    rng = np.random.default_rng(seed)
    X = random_csr(n_rows, n_small, 0.3, rng)
    cols = np.sort(rng.choice(N_LARGE, n_small, replace=False))
    X_large = sp.csr_matrix((X.data, cols[X.indices], X.indptr), shape=(n_rows, N_LARGE))
    small = random_params(n_small, K_FACTORS, rng)
    _, w, V = random_params(N_LARGE, K_FACTORS, rng)
    w[cols], V[cols] = small[1], small[2]
    return X, X_large, small, (small[0].copy(), w, V), cols, rng


def test_large_model_is_prefetched():
    assert N_LARGE * K_FACTORS * 8 >= PREFETCH_MIN_BYTES


def test_predict_on_a_large_model_equals_the_small_one():
    X, X_large, small, large, _, _ = _pair(0)
    want = np.empty(X.shape[0])
    predict_csr(*kernel_csr(X), small[0][0], small[1], small[2], want)
    got = np.empty(X.shape[0])
    predict_csr(*kernel_csr(X_large), large[0][0], large[1], large[2], got)
    np.testing.assert_array_equal(got, want)
    par = np.empty(X.shape[0])
    predict_csr_parallel(*kernel_csr(X_large), large[0][0], large[1], large[2], par, 7)
    np.testing.assert_array_equal(par, want)


@pytest.mark.parametrize("optimizer", [K.SGD, K.ADAGRAD, K.ADAM, K.FTRL])
def test_epoch_on_a_large_model_equals_the_small_one(optimizer):
    X, X_large, small, large, cols, rng = _pair(10 + optimizer)
    y = rng.normal(size=X.shape[0])
    order = rng.permutation(X.shape[0]).astype(np.int64)
    hp, codes = hyper(lr=0.05), make_codes(optimizer=optimizer)
    out = []
    for X_, params in ((X, small), (X_large, large)):
        params = tuple(p.copy() for p in params)
        state = fresh_state(optimizer, params, hp)
        total = K.sgd_epoch(kernel_csr(X_), y, np.empty(0), order, params, state, hp, codes, 0, 1)
        out.append((params, total))
    (s_params, s_total), (l_params, l_total) = out
    assert l_total == s_total
    np.testing.assert_array_equal(l_params[0], s_params[0])
    np.testing.assert_array_equal(l_params[1][cols], s_params[1])
    np.testing.assert_array_equal(l_params[2][cols], s_params[2])
    untouched = np.setdiff1d(np.arange(N_LARGE), cols)
    np.testing.assert_array_equal(l_params[2][untouched], large[2][untouched])

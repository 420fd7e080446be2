"""Relation-block kernels against the flat model, computed the slow, obvious way.

The reference flattens the blocks into dense rows ``[X | X_1[index_1] | …]`` and treats
the FM as a black box, as tests/kernels/test_coordinate.py does: each parameter's
``h = ∂ŷ/∂θ`` and rest ``g`` come from the naive O(n²k) prediction at θ = 0 and θ = 1,
and θ is set to (ALS) or drawn from (MCMC, with the same random numbers) its Gaussian
conditional, in the kernel's order: block by block, the block's w_i, then factor by
factor its v_if. The kernel's per-block-row sums must give the same parameters, and
its caches must equal a fresh prediction of the flat rows.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from fmlearn.kernels import coordinate as K
from fmlearn.kernels import relational as R
from fmlearn.models import FMParams
from fmlearn.relations import RelationArrays, RelationBlock, flatten
from reference import naive_predict, random_csr, random_params


def _problem(rng, n=60, n_main=4, shapes=((7, 5), (9, 6)), dtype=np.float64, unused_row=True):
    """Main X, blocks (some block rows used by no data row, one block row empty)."""
    X = random_csr(n, n_main, 0.5, rng, dtype=dtype)
    blocks = []
    for rows, cols in shapes:
        Z = random_csr(rows, cols, 0.5, rng, dtype=dtype)  # row 0 empty, row 1 full
        high = rows - 1 if unused_row else rows  # the last block row: no data row uses it
        blocks.append(RelationBlock(rng.integers(0, high, n), Z))
    return X, blocks


def _reference_block_sweep(flat, y, sw, params, n_main, widths, hyper, groups, rng, sample,
                           fit_linear, block=False):  # fmt: skip
    """The kernel's block updates on the dense flat rows, each from its exact conditional:
    one parameter at a time, or (``block``) each feature's k factors jointly, with
    ``h_f = ŷ(v_i = e_f) − ŷ(v_i = 0)`` and the draw ``P⁻¹ b + L⁻ᵀ z`` (P = L Lᵀ)."""
    w0, w, V = params
    alpha, mu_w, lam_w, mu_v, lam_v = hyper
    alpha = float(alpha[0])

    def update(array, index, mu, lam):
        old = array[index]
        array[index] = 0.0
        g = naive_predict(flat, w0, w, V)
        array[index] = 1.0
        h = naive_predict(flat, w0, w, V) - g
        array[index] = old
        precision = alpha * np.sum(sw * h * h) + lam
        var = 1.0 / precision
        mean = var * (alpha * np.sum(sw * h * (y - g)) + mu * lam)
        array[index] = mean + np.sqrt(var) * rng.standard_normal() if sample else mean

    def update_joint(i):
        k = V.shape[1]
        old = V[i].copy()
        V[i] = 0.0
        g = naive_predict(flat, w0, w, V)
        H = np.empty((flat.shape[0], k))
        for f in range(k):
            V[i] = np.eye(k)[f]
            H[:, f] = naive_predict(flat, w0, w, V) - g
        V[i] = old
        lam, mu = lam_v[groups[i]], mu_v[groups[i]]
        P = alpha * H.T @ (sw[:, None] * H) + np.diag(lam)
        b = alpha * H.T @ (sw * (y - g)) + lam * mu
        L = np.linalg.cholesky(P)
        mean = np.linalg.solve(P, b)
        V[i] = mean + np.linalg.solve(L.T, rng.standard_normal(k)) if sample else mean

    start = n_main
    for width in widths:
        features = range(start, start + width)
        if fit_linear:
            for i in features:
                update(w, i, mu_w[groups[i]], lam_w[groups[i]])
        if block:
            for i in features:
                update_joint(i)
        else:
            for f in range(V.shape[1]):
                for i in features:
                    update(V, (i, f), mu_v[groups[i], f], lam_v[groups[i], f])
        start += width


def _hyper(rng, n_groups, k):
    return (
        np.array([1.7]),
        rng.normal(scale=0.1, size=n_groups),
        rng.uniform(0.5, 2.0, size=n_groups),
        rng.normal(scale=0.1, size=(n_groups, k)),
        rng.uniform(0.5, 2.0, size=(n_groups, k)),
        np.zeros(0),
        np.zeros(0),
    )


@pytest.mark.parametrize("sample", [False, True], ids=["als", "mcmc"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("fit_linear", [True, False])
@pytest.mark.parametrize("block", [False, True], ids=["scalar", "joint"])
def test_block_sweep_matches_the_flat_conditionals(sample, weighted, fit_linear, block):
    rng = np.random.default_rng(3)
    X, blocks = _problem(rng)
    flat, groups = flatten(X, blocks)
    dense = flat.toarray()
    n, n_main, k = X.shape[0], X.shape[1], 3
    params = random_params(flat.shape[1], k, rng)
    y = rng.normal(size=n)
    sw = rng.uniform(0.2, 2.0, size=n) if weighted else np.ones(n)
    hyper = _hyper(rng, int(groups.max()) + 1, k)
    design = RelationArrays.build(blocks, n_main, np.float64)
    codes = np.zeros(K.N_CODES, dtype=np.int64)
    codes[K.TASK], codes[K.SAMPLE], codes[K.FIT_LINEAR] = K.REGRESSION, int(sample), int(fit_linear)
    codes[K.BLOCK] = int(block)

    mine = tuple(p.copy() for p in params)
    Q, e, t = np.empty((n, k)), np.empty(n), np.empty(n)
    Xr = (X.indptr.astype(np.int64), X.indices.astype(np.int32), X.data)
    R.prepare_caches(np.random.default_rng(0), Xr, design.links, design.Zr, y, codes, *mine,
                     Q, e, t, np.zeros(0))  # fmt: skip
    np.testing.assert_allclose(e, naive_predict(dense, *params) - y, atol=1e-12)
    kernel_sw = sw if weighted else np.empty(0)
    sse = R.relation_sweep(np.random.default_rng(7), design.links,
                           design.Zr, design.Zc, design.row_bounds, design.feature_bounds,
                           kernel_sw, mine, hyper, groups, codes, Q, e)  # fmt: skip

    theirs = tuple(p.copy() for p in params)
    widths = [b.n_features for b in blocks]
    _reference_block_sweep(dense, y, sw, theirs, n_main, widths, hyper[:5], groups,
                           np.random.default_rng(7), sample, fit_linear, block)  # fmt: skip
    for a, b in zip(mine, theirs, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-10)
    # the caches follow the parameters: q and the residual of the flat rows
    np.testing.assert_allclose(Q, dense @ mine[2], atol=1e-10)
    np.testing.assert_allclose(e, naive_predict(dense, *mine) - y, atol=1e-10)
    np.testing.assert_allclose(sse, np.sum(sw * e * e), rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_prediction_equals_the_flat_rows(dtype):
    rng = np.random.default_rng(5)
    X, blocks = _problem(rng, n=300, dtype=dtype, shapes=((20, 8), (3, 2), (11, 40)))
    flat, _ = flatten(X, blocks)
    params = FMParams(*random_params(flat.shape[1], 4, rng, dtype=dtype))
    design = RelationArrays.build(blocks, X.shape[1], dtype, columns=False)
    expected = naive_predict(flat.toarray(), *params.as_tuple())
    for threads in (1, 2):
        got = design.decision(X, params, n_threads=threads)
        np.testing.assert_allclose(got, expected, rtol=1e-9 if dtype == np.float64 else 1e-5,
                                   atol=1e-9 if dtype == np.float64 else 1e-5)  # fmt: skip


def test_flat_rows_and_links():
    rng = np.random.default_rng(8)
    X, blocks = _problem(rng, n=40)
    flat, groups = flatten(X, blocks)
    design = RelationArrays.build(blocks, X.shape[1], np.float64)
    Z = sp.csr_matrix((design.Zr[2], design.Zr[1], design.Zr[0]), shape=(16, 15))
    main = sp.csr_matrix((X.data, X.indices, X.indptr), shape=(40, 15))
    rebuilt = main + Z[design.links[:, 0]] + Z[design.links[:, 1]]
    assert (rebuilt != flat).nnz == 0
    # libFM's numbering: the main table's group 0, then one group per block
    widths = [b.n_features for b in blocks]
    np.testing.assert_array_equal(groups, np.repeat([0, 1, 2], [X.shape[1], *widths]))
    # each block's rows and features in their own ranges of Z
    assert list(design.row_bounds) == [0, 7, 16]
    assert list(design.feature_bounds) == [4, 9, 15]
    np.testing.assert_array_equal(design.links[:, 1], blocks[1].index + 7)
    Zc = sp.csc_matrix((design.Zc[2], design.Zc[1], design.Zc[0]), shape=(16, 15))
    assert Zc[:, :4].nnz == 0


def test_joint_updates_without_regularisation_fall_back_and_descend():
    """λ = 0 and block rows with fewer data rows than factors: P is singular, so each
    factor takes an exact scalar step on the same quadratic; the error never grows."""
    rng = np.random.default_rng(11)
    X, blocks = _problem(rng, n=12, shapes=((10, 6),), unused_row=False)
    flat, groups = flatten(X, blocks)
    dense = flat.toarray()
    n, k = X.shape[0], 8  # a feature's block rows reach ~6 data rows: fewer than k
    params = tuple(p.copy() for p in random_params(flat.shape[1], k, rng))
    y = rng.normal(size=n)
    hyper = list(_hyper(rng, int(groups.max()) + 1, k))
    hyper[1][:], hyper[2][:], hyper[3][:], hyper[4][:] = 0.0, 0.0, 0.0, 0.0  # flat prior
    design = RelationArrays.build(blocks, X.shape[1], np.float64)
    codes = np.zeros(K.N_CODES, dtype=np.int64)
    codes[K.TASK], codes[K.FIT_LINEAR], codes[K.BLOCK] = K.REGRESSION, 1, 1
    Q, e, t = np.empty((n, k)), np.empty(n), np.empty(n)
    Xr = (X.indptr.astype(np.int64), X.indices.astype(np.int32), X.data)
    R.prepare_caches(np.random.default_rng(0), Xr, design.links, design.Zr, y, codes, *params,
                     Q, e, t, np.zeros(0))  # fmt: skip
    previous = np.sum(e * e)
    for _ in range(5):
        sse = R.relation_sweep(np.random.default_rng(1), design.links,
                               design.Zr, design.Zc, design.row_bounds, design.feature_bounds,
                               np.empty(0), params, tuple(hyper), groups, codes, Q, e)  # fmt: skip
        assert sse <= previous * (1 + 1e-9)
        previous = sse
    assert np.all(np.isfinite(params[2]))
    np.testing.assert_allclose(e, naive_predict(dense, *params) - y, atol=1e-8)

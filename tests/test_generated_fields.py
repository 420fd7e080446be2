"""make_field_aware_ctr: shapes, reproducibility, the planted R, and an exact decision."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from fmlearn.datasets import PlantedFwFM, make_field_aware_ctr


@pytest.fixture(scope="module")
def small():
    return make_field_aware_ctr(
        n_samples=3000, n_fields=8, n_features=300, n_factors=3, sparsity=0.5, random_state=0
    )


def naive_fwfm(truth: PlantedFwFM, X: sp.csr_matrix) -> np.ndarray:
    """Σ_{i<j} R[f(i), f(j)] <V_i, V_j> x_i x_j written as the double loop it is."""
    fields, out = truth.fields, []
    for r in range(X.shape[0]):
        row = X.getrow(r)
        idx, val = row.indices, row.data
        total = truth.w0 + float(val @ truth.w[idx])
        for a in range(len(idx)):
            for b in range(a + 1, len(idx)):
                i, j = idx[a], idx[b]
                strength = truth.R[fields[i], fields[j]]
                total += strength * float(truth.V[i] @ truth.V[j]) * val[a] * val[b]
        out.append(total)
    return np.array(out)


def test_shapes_and_dtypes(small):
    X, y, fields, truth = small
    assert sp.issparse(X) and X.format == "csr" and X.shape == (3000, 300)
    assert np.all(np.diff(X.indptr) == 8) and np.all(X.data == 1.0)  # one id per field
    assert y.shape == (3000,) and set(np.unique(y)) <= {0, 1}
    assert fields.dtype == np.int32 and fields.shape == (300,)
    assert truth.V.shape == (300, 3) and truth.w.shape == (300,) and truth.R.shape == (8, 8)


def test_fields_follow_field_sizes(small):
    X, _, fields, truth = small
    assert sum(truth.field_sizes) == 300
    assert np.all(np.diff(fields) >= 0)  # contiguous, in order
    np.testing.assert_array_equal(np.bincount(fields), truth.field_sizes)
    # the k-th entry of every row lies in field k
    np.testing.assert_array_equal(
        fields[X.indices].reshape(-1, 8), np.tile(np.arange(8), (3000, 1))
    )


def test_random_state_is_deterministic(small):
    X, y, fields, truth = small
    X2, y2, fields2, truth2 = make_field_aware_ctr(
        n_samples=3000, n_fields=8, n_features=300, n_factors=3, sparsity=0.5, random_state=0
    )
    assert (X != X2).nnz == 0
    np.testing.assert_array_equal(y, y2)
    np.testing.assert_array_equal(fields, fields2)
    np.testing.assert_array_equal(truth.R, truth2.R)
    _, y3, _, _ = make_field_aware_ctr(
        n_samples=3000, n_fields=8, n_features=300, n_factors=3, sparsity=0.5, random_state=1
    )
    assert not np.array_equal(y, y3)


def test_planted_draws_from_the_same_model(small):
    X, _, fields, truth = small
    X_new, y_new, fields_new, truth_new = make_field_aware_ctr(
        n_samples=500, n_features=10, random_state=5, planted=truth
    )
    assert truth_new is truth
    assert X_new.shape == (500, 300) and y_new.shape == (500,)
    np.testing.assert_array_equal(fields_new, fields)
    assert (X_new != X[:500]).nnz > 0  # new rows, same columns


@pytest.mark.parametrize("sparsity", [0.0, 0.3, 0.7, 1.0])
def test_R_is_symmetric_with_the_requested_zeros(sparsity):
    *_, truth = make_field_aware_ctr(
        n_samples=10, n_fields=12, n_features=50, sparsity=sparsity, random_state=3
    )
    R = truth.R
    np.testing.assert_array_equal(R, R.T)
    np.testing.assert_array_equal(np.diag(R), 0.0)
    upper = R[np.triu_indices(12, 1)]
    assert np.sum(upper == 0) == round(sparsity * upper.size)
    assert np.all(upper >= 0)
    if sparsity < 1:
        assert upper.max() > 2 * upper[upper > 0].min()  # varied strengths, not one value


def test_decision_equals_the_naive_sum_on_one_hot_rows(small):
    X, _, _, truth = small
    rows = X[:25]
    np.testing.assert_allclose(truth.decision(rows), naive_fwfm(truth, rows), rtol=1e-10)
    # chunking changes nothing
    np.testing.assert_allclose(truth.decision(X, chunk_rows=7), truth.decision(X), rtol=1e-12)


def test_decision_is_exact_on_any_csr():
    *_, truth = make_field_aware_ctr(
        n_samples=10, n_fields=6, n_features=40, n_factors=3, sparsity=0.4, random_state=2
    )
    truth.R[2, 2] = 0.7  # a diagonal strength: same-field pairs count, self terms do not
    rng = np.random.default_rng(0)
    X = sp.random(20, 40, density=0.3, format="csr", random_state=rng)
    X.data = rng.normal(size=X.nnz)
    X = sp.csr_matrix(sp.diags((np.arange(20) != 3).astype(float)) @ X)  # row 3 empty
    X.eliminate_zeros()
    assert X[3].nnz == 0
    np.testing.assert_allclose(truth.decision(X), naive_fwfm(truth, X), rtol=1e-10, atol=1e-12)


def test_click_rate_and_signal():
    X, y, _, truth = make_field_aware_ctr(n_samples=20_000, n_features=5000, random_state=4)
    assert 0.15 < y.mean() < 0.25
    logits = truth.decision(X)
    linear = X @ truth.w + truth.w0
    assert np.std(logits - linear) > np.std(linear)  # the pairwise part carries most signal

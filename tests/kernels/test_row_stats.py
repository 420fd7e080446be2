"""``mean_pairs`` against the pairs counted one by one."""

import numpy as np
import pytest
import scipy.sparse as sp

from fmlearn.kernels.row_stats import mean_pairs


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
def test_mean_pairs_matches_naive(dtype, index_dtype):
    rng = np.random.default_rng(7)
    X = sp.random(40, 25, density=0.25, random_state=3, format="csr")
    X.data = rng.normal(size=X.nnz)
    X = X.astype(dtype)
    dense = X.toarray().astype(np.float64)
    want = np.mean(
        [sum(r[i] ** 2 * r[j] ** 2 for i in range(25) for j in range(i + 1, 25)) for r in dense]
    )
    got = mean_pairs(X.indptr.astype(index_dtype), X.data)
    assert got == pytest.approx(want, rel=1e-12)


def test_mean_pairs_counts_one_hot_pairs_and_empty_rows():
    # rows of 3, 0 and 5 ones: 3, 0 and 10 pairs
    indptr = np.array([0, 3, 3, 8])
    assert mean_pairs(indptr, np.ones(8)) == pytest.approx(13 / 3)
    assert mean_pairs(np.array([0]), np.ones(0)) == 0.0  # no rows

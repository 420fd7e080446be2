"""top_n_rows against a full stable sort: best first, ties by id, −inf never returned."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fmlearn.kernels.topk import top_n_rows


def reference(S, n, ids):
    pos = np.full((S.shape[0], n), -1)
    score = np.full((S.shape[0], n), -np.inf)
    for r in range(S.shape[0]):
        order = [c for c in np.lexsort((ids, -S[r])) if S[r, c] > -np.inf][:n]
        pos[r, : len(order)] = order
        score[r, : len(order)] = S[r, order]
    return pos, score


@settings(max_examples=60, deadline=None)
@given(
    rows=st.integers(1, 6),
    cols=st.integers(1, 40),
    n=st.integers(0, 45),
    levels=st.integers(1, 6),
    seed=st.integers(0, 2**16),
    dtype=st.sampled_from([np.float32, np.float64]),
)
def test_matches_a_stable_full_sort(rows, cols, n, levels, seed, dtype):
    rng = np.random.default_rng(seed)
    S = rng.integers(0, levels, (rows, cols)).astype(dtype)  # few levels: many ties
    S[rng.random((rows, cols)) < 0.2] = -np.inf
    ids = rng.permutation(cols).astype(np.int64)
    pos = np.empty((rows, n), dtype=np.int64)
    score = np.empty((rows, n))
    top_n_rows(S, n, ids, pos, score)
    expected_pos, expected_score = reference(S, n, ids)
    np.testing.assert_array_equal(pos, expected_pos)
    np.testing.assert_array_equal(score, expected_score)


@pytest.mark.parametrize("n", [1, 10])
def test_large_random_block(n):
    rng = np.random.default_rng(0)
    S = rng.normal(size=(50, 3000)).astype(np.float32)
    ids = np.arange(3000, dtype=np.int64)
    pos = np.empty((50, n), dtype=np.int64)
    score = np.empty((50, n))
    top_n_rows(S, n, ids, pos, score)
    np.testing.assert_array_equal(pos, np.argsort(-S, axis=1, kind="stable")[:, :n])

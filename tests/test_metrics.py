"""The per-sweep AUC against scikit-learn's roc_auc_score (ties, weights, one class)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import roc_auc_score

from fmlearn._metrics import roc_auc


@settings(max_examples=200, deadline=None)
@given(
    n=st.integers(2, 60),
    n_levels=st.integers(1, 8),
    weighted=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_roc_auc_matches_sklearn(n, n_levels, weighted, seed):
    rng = np.random.default_rng(seed)
    positive = rng.random(n) < 0.5
    score = rng.integers(0, n_levels, n).astype(float)  # few levels: many ties
    weight = rng.random(n) * 3 if weighted else np.ones(n)
    if positive.all() or not positive.any():
        assert np.isnan(roc_auc(positive, score, weight))
        return
    expected = roc_auc_score(positive, score, sample_weight=weight)
    assert roc_auc(positive, score, weight) == pytest.approx(expected, rel=1e-12, abs=1e-12)


def test_roc_auc_extremes():
    y = np.array([False, False, True, True])
    w = np.ones(4)
    assert roc_auc(y, np.array([0.1, 0.2, 0.3, 0.4]), w) == 1.0
    assert roc_auc(y, np.array([0.4, 0.3, 0.2, 0.1]), w) == 0.0
    assert roc_auc(y, np.zeros(4), w) == 0.5
    # zero weight removes a row: the misordered negative no longer counts
    assert roc_auc(y, np.array([0.1, 0.9, 0.3, 0.4]), np.array([1.0, 0.0, 1.0, 1.0])) == 1.0

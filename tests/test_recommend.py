"""recommend(): vectorised top-N equals scoring each candidate on its own."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from fmlearn import FMClassifier, FMRegressor
from fmlearn.datasets import make_recommendation
from fmlearn.recommend import recommend

N_USERS, N_ITEMS, N_CONTEXTS = 40, 30, 4


@pytest.fixture(scope="module")
def model():
    X, y, _ = make_recommendation(
        4000, n_users=N_USERS, n_items=N_ITEMS, n_contexts=N_CONTEXTS, random_state=0
    )
    return FMRegressor(n_factors=3, max_iter=10, random_state=0).fit(X, y), X, y


def _query(user, context):
    n = N_USERS + N_ITEMS + N_CONTEXTS
    row = np.zeros((1, n))
    row[0, user] = 1
    row[0, N_USERS + N_ITEMS + context] = 1
    items = sp.csr_matrix(
        (np.ones(N_ITEMS), (np.arange(N_ITEMS), N_USERS + np.arange(N_ITEMS))), (N_ITEMS, n)
    )
    return row, items


def test_top_n_matches_one_by_one_scoring(model):
    fm = model[0]
    context, items = _query(user=5, context=2)
    ids, scores = recommend(fm, context, items, n=7)
    one_by_one = np.array([fm.predict(items[j].toarray() + context)[0] for j in range(N_ITEMS)])
    expected = np.argsort(-one_by_one, kind="stable")[:7]
    np.testing.assert_array_equal(ids, expected)
    np.testing.assert_allclose(scores, one_by_one[expected])
    assert np.all(np.diff(scores) <= 0)


def test_exclude_ids_and_short_lists(model):
    fm = model[0]
    context, items = _query(user=1, context=0)
    names = np.array([f"movie{j}" for j in range(N_ITEMS)])
    best, _ = recommend(fm, context, items, n=3, ids=names)
    ids, _ = recommend(fm, context, items, n=3, ids=names, exclude=best[:2])
    assert ids[0] == best[2] and not set(best[:2]) & set(ids)
    ids, _ = recommend(fm, context, items, n=100, exclude=np.arange(N_ITEMS - 2))
    assert sorted(ids) == [N_ITEMS - 2, N_ITEMS - 1]


def test_classifier_scores_are_probabilities(model):
    _, X, y = model
    clf = FMClassifier(n_factors=3, max_iter=5, random_state=0).fit(X, y > np.median(y))
    context, items = _query(user=3, context=1)
    _, scores = recommend(clf, context, items, n=5)
    assert np.all((scores > 0) & (scores < 1))


def test_errors(model):
    fm = model[0]
    context, items = _query(user=0, context=0)
    with pytest.raises(ValueError, match="context must be one row"):
        recommend(fm, np.vstack([context, context]), items)
    with pytest.raises(ValueError, match="n must be a positive int"):
        recommend(fm, context, items, n=0)
    with pytest.raises(ValueError, match="ids must name the 30 candidates"):
        recommend(fm, context, items, ids=[1, 2])

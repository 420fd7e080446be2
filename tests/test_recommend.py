"""recommend(): vectorised top-N equals scoring each candidate on its own."""

from __future__ import annotations

import copy

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


def test_regressor_scores_are_not_clipped_so_the_top_does_not_tie(model):
    """Clipping to the rating range would tie every item predicted above y_max_."""
    context, items = _query(user=5, context=2)
    rows = items + sp.csr_matrix(np.ones((N_ITEMS, 1))) @ sp.csr_matrix(context)
    narrow = copy.deepcopy(model[0])
    # as if the training ratings had topped out here (ML-100K: many predictions above 5)
    narrow.y_max_ = float(np.median(narrow.predict(rows)))
    assert (narrow.predict(rows) == narrow.y_max_).sum() > 1  # clipped predictions tie
    _, scores = recommend(narrow, context, items, n=N_ITEMS)
    assert np.unique(scores).size == N_ITEMS
    assert scores[0] > narrow.y_max_


def test_one_encoder_builds_the_context_row_and_the_candidate_rows():
    pd = pytest.importorskip("pandas")
    from fmlearn import FMEncoder

    ratings = pd.DataFrame({"user": ["a", "b", "a", "c"], "item": ["x", "y", "y", "z"],
                            "hour": ["am", "pm", "pm", "am"]})  # fmt: skip
    encoder = FMEncoder().fit(ratings)
    y = np.array([5.0, 3.0, 4.0, 1.0])
    fm = FMRegressor(n_factors=2, max_iter=20, random_state=0).fit(encoder.transform(ratings), y)
    context = encoder.transform(pd.DataFrame({"user": ["a"], "hour": ["pm"]}), allow_missing=True)
    candidates = encoder.transform(pd.DataFrame({"item": ["x", "y", "z"]}), allow_missing=True)
    full = encoder.transform(pd.DataFrame({"user": ["a"] * 3, "item": ["x", "y", "z"],
                                           "hour": ["pm"] * 3}))  # fmt: skip
    np.testing.assert_array_equal((candidates + context.toarray()), full.toarray())
    ids, _ = recommend(fm, context, candidates, n=3, ids=np.array(["x", "y", "z"]))
    assert set(ids) == {"x", "y", "z"}
    with pytest.raises(ValueError, match="allow_missing=True"):
        encoder.transform(pd.DataFrame({"item": ["x"]}))
    empty = encoder.transform(pd.DataFrame({"other": [1, 2]}), allow_missing=True)
    assert empty.shape == (2, encoder.n_features_out_) and empty.nnz == 0

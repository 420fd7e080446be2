"""FMRecommender: learning tastes from implicit feedback, top-N lists that match brute
force, cold start from side features, and clear errors."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

import fmlearn
from fmlearn.datasets import make_implicit_feedback
from fmlearn.metrics import ndcg_at_k
from fmlearn.recommender import FMRecommender, random_split
from reference import naive_predict


@pytest.fixture(scope="module")
def feedback():
    data = make_implicit_feedback(600, 300, 18_000, random_state=0)
    train, test = random_split(data.interactions, 0.2, random_state=0)
    return data, train, test


def precision_at(ids, test, k=10) -> float:
    """Mean over users with a held-out item of |top-k ∩ held out| / k (plain loops)."""
    values = []
    for u in range(ids.shape[0]):
        held = set(test[u].indices)
        if held:
            values.append(sum(1 for i in ids[u, :k] if i in held) / k)
    return float(np.mean(values))


def popularity_lists(train, n=10):
    ranked = np.argsort(-np.asarray(train.sum(axis=0)).ravel(), kind="stable")
    lists = []
    for u in range(train.shape[0]):
        seen = set(train[u].indices)
        lists.append([i for i in ranked if i not in seen][:n])
    return np.array(lists)


@pytest.mark.parametrize("loss", ["warp", "bpr", "logistic"])
def test_learns_tastes_far_beyond_popularity(feedback, loss):
    _data, train, test = feedback
    model = FMRecommender(16, loss=loss, max_iter=20, random_state=0).fit(train)
    ids, scores = model.recommend(n=10)
    baseline = precision_at(popularity_lists(train), test)
    assert precision_at(ids, test) > 1.5 * baseline
    assert np.all(np.diff(scores, axis=1) <= 0)  # best first
    assert len(model.history_.train_loss) == 20


def test_side_features_help_and_cold_start_beats_popularity(feedback):
    """Users 0–449 train; users 450+ are new: scored from their group feature alone."""
    data, _train, _test = feedback
    known = 450
    full = data.interactions
    warm = sp.vstack([full[:known], sp.csr_matrix((full.shape[0] - known, full.shape[1]))])
    model = FMRecommender(16, max_iter=20, random_state=0).fit(
        warm.tocsr(), user_features=data.user_features, item_features=data.item_features
    )
    new = data.user_features[known:]
    ids, _ = model.recommend(user_features=new, n=10)
    truth = full[known:]
    ranked = np.argsort(-np.asarray(full[:known].sum(axis=0)).ravel(), kind="stable")
    popular = np.tile(ranked[:10], (truth.shape[0], 1))
    assert precision_at(ids, truth) > 1.3 * precision_at(popular, truth)


def test_scores_are_the_fm_on_the_concatenated_row(feedback):
    data, train, _ = feedback
    model = FMRecommender(4, max_iter=2, random_state=0, dtype="float64").fit(
        train, user_features=data.user_features, item_features=data.item_features
    )
    UX = sp.hstack([sp.identity(600), data.user_features]).tocsr()
    IX = sp.hstack([sp.identity(300), data.item_features]).tocsr()
    users, items = np.array([0, 5, 599, 17]), np.array([3, 299, 0, 3])
    rows = sp.hstack([UX[users], IX[items]]).toarray()
    expected = naive_predict(rows, np.array([model.w0_]), model.w_, model.V_)
    np.testing.assert_allclose(model.score(users, items), expected, rtol=1e-10, atol=1e-10)
    E = model.user_embeddings(users) @ model.item_embeddings(items).T
    np.testing.assert_allclose(np.diag(E), expected, rtol=1e-10, atol=1e-10)


def test_recommend_matches_brute_force(feedback):
    _data, train, _ = feedback
    model = FMRecommender(8, loss="bpr", max_iter=3, random_state=0, dtype="float64")
    model.fit(train)
    users = np.array([0, 1, 2, 77, 599])
    candidates = np.arange(0, 300, 3)
    for filter_seen in (True, False):
        ids, scores = model.recommend(users, n=7, filter_seen=filter_seen, items=candidates)
        for r, u in enumerate(users):
            pool = [i for i in candidates if not (filter_seen and train[u, i] != 0)]
            s = model.score(np.full(len(pool), u), np.array(pool))
            best = sorted(zip(-s, pool, strict=True))[:7]
            np.testing.assert_array_equal(ids[r], [i for _, i in best])
            np.testing.assert_allclose(scores[r], [-v for v, _ in best], rtol=1e-9)


def test_short_lists_are_padded():
    R = sp.csr_matrix(np.array([[1, 1, 1, 0], [1, 0, 0, 0]], dtype=float))
    model = FMRecommender(2, max_iter=2, random_state=0).fit(R)
    ids, scores = model.recommend(n=6)
    assert ids.shape == (2, 6)
    np.testing.assert_array_equal(ids[0], [3, -1, -1, -1, -1, -1])
    assert set(ids[1, :3]) == {1, 2, 3} and (ids[1, 3:] == -1).all()
    assert np.isneginf(scores[0, 1:]).all() and np.isfinite(scores[1, :3]).all()


def test_similar_items_by_cosine(feedback):
    _, train, _ = feedback
    model = FMRecommender(8, max_iter=3, random_state=0).fit(train)
    ids, sims = model.similar_items([4, 9], n=5)
    Q = model.item_embeddings()[:, :8].astype(np.float64)
    unit = Q / np.linalg.norm(Q, axis=1, keepdims=True)
    for r, item in enumerate([4, 9]):
        cos = unit @ unit[item]
        cos[item] = -np.inf
        np.testing.assert_array_equal(ids[r], np.argsort(-cos, kind="stable")[:5])
        assert item not in ids[r]
        np.testing.assert_allclose(sims[r], cos[ids[r]], rtol=1e-5)


def test_repeatable_and_hogwild(feedback):
    _, train, test = feedback
    a = FMRecommender(8, max_iter=3, random_state=3).fit(train)
    b = FMRecommender(8, max_iter=3, random_state=3).fit(train)
    np.testing.assert_array_equal(a.V_, b.V_)
    c = FMRecommender(16, max_iter=20, random_state=0, n_jobs=2).fit(train)
    ids, _ = c.recommend(n=10)
    assert precision_at(ids, test) > 1.5 * precision_at(popularity_lists(train), test)


def test_weights_scale_the_steps_like_repeated_interactions(feedback):
    """Plain SGD: weight 2 with learning rate ½ is the same run as weight 1 with rate 1."""
    _, train, _ = feedback
    kw = dict(solver="sgd", loss="bpr", max_iter=2, random_state=0, reg_factors=0.01)
    twice = train.copy()
    twice.data[:] = 2.0
    a = FMRecommender(4, learning_rate=0.05, **kw).fit(train)
    b = FMRecommender(4, learning_rate=0.025, **kw).fit(twice, sample_weight="values")
    c = FMRecommender(4, learning_rate=0.025, **kw).fit(train, sample_weight=twice)
    np.testing.assert_array_equal(a.V_, b.V_)
    np.testing.assert_array_equal(a.V_, c.V_)


def test_random_split_partitions_the_interactions(feedback):
    data, train, test = feedback
    assert train.nnz + test.nnz == data.interactions.nnz
    assert (train.multiply(test)).nnz == 0
    np.testing.assert_array_equal((train + test).toarray(), data.interactions.toarray())
    assert abs(test.nnz / data.interactions.nnz - 0.2) < 0.01


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda m, R: m.fit(sp.csr_matrix((3, 4))), "holds no interaction"),
        (lambda m, R: m.fit(-R), "negative values"),
        (lambda m, R: m.fit(R, user_features=np.ones((2, 1))), "user_features has 2 rows"),
        (lambda m, R: m.fit(R, sample_weight=R[:, :3]), "sample_weight has shape"),
        (lambda m, R: m.fit(R, sample_weight="ones"), "sample_weight must be None"),
        (lambda m, R: m.set_params(user_identity=False).fit(R), "user_identity=False needs"),
        (lambda m, R: m.fit(R).recommend([0, 3]), r"users must lie in \[0, 3\); got 3"),
        (lambda m, R: m.fit(R).recommend(n=0), "n must be a positive int"),
        (lambda m, R: m.fit(R).recommend(items=[9]), r"items must lie in \[0, 4\)"),
        (lambda m, R: m.fit(R).recommend([0], user_features=[[1.0]]), "not both"),
        (lambda m, R: m.fit(R).recommend(user_features=[[1.0]]), "0 user feature columns"),
        (lambda m, R: m.fit(R).score([0, 1], [1]), "same length"),
        (lambda m, R: m.fit(R).similar_items([1.5]), "int ids"),
        (lambda m, R: FMRecommender().recommend(), "not fitted"),
    ],
)
def test_bad_input_gets_a_clear_error(call, message):
    R = sp.csr_matrix(np.array([[1, 0, 1, 0], [0, 1, 0, 0], [1, 1, 0, 1]], dtype=float))
    with pytest.raises(ValueError, match=message):
        call(FMRecommender(2, max_iter=1, random_state=0), R)


def test_eval_set_history_and_early_stopping_keep_the_best_epoch(feedback):
    _, train, test = feedback
    model = FMRecommender(16, max_iter=40, random_state=0, learning_rate=0.2,
                          early_stopping=True, n_iter_no_change=2)  # fmt: skip
    model.fit(train, eval_set=test)
    ndcg = model.history_.valid["ndcg@10"]
    assert len(ndcg) == model.n_iter_ < 40 and len(model.history_.valid["precision@10"]) == len(
        ndcg
    )
    assert model.best_iteration_ == 1 + int(np.argmax(ndcg))
    ids, _ = model.recommend(np.flatnonzero(np.diff(test.indptr)), n=10)

    users = np.flatnonzero(np.diff(test.indptr))
    assert ndcg_at_k(ids, test, 10, users=users) == pytest.approx(max(ndcg), abs=1e-12)
    held_out = FMRecommender(8, max_iter=3, random_state=0, early_stopping=True).fit(train)
    assert "ndcg@10" in held_out.history_.valid


def test_partial_fit_continues_and_save_load_is_exact(feedback, tmp_path):
    data, train, test = feedback
    model = FMRecommender(8, max_iter=2, random_state=0, dtype="float64").fit(
        train, user_features=data.user_features, item_features=data.item_features
    )
    model.save(tmp_path / "rec.fmlearn")
    loaded = fmlearn.load(tmp_path / "rec.fmlearn")
    for a, b in zip(model.recommend(n=5), loaded.recommend(n=5), strict=True):
        np.testing.assert_array_equal(a, b)
    model.partial_fit(test)
    loaded.partial_fit(test)
    np.testing.assert_array_equal(model.V_, loaded.V_)
    assert model.n_iter_ == 3 and len(model.history_.train_loss) == 3
    # the new interactions count as seen now
    ids, _ = model.recommend(n=300 - 1)
    u = int(np.argmax(np.diff(test.indptr)))
    assert not set(test[u].indices) & set(ids[u][ids[u] >= 0])
    first = FMRecommender(4, random_state=0).partial_fit(train)
    assert first.n_iter_ == 1 and first.max_iter == 30
    with pytest.raises(ValueError, match="the model has 600 users"):
        model.partial_fit(train[:5])


def test_a_failed_fit_leaves_nothing_half_fitted(feedback):
    from fmlearn.solvers.base import DivergenceError

    _, train, test = feedback
    wild = FMRecommender(4, solver="sgd", loss="logistic", learning_rate=1e30, max_iter=2)
    with pytest.raises(DivergenceError, match="lower learning_rate"):
        wild.fit(train)
    assert not hasattr(wild, "history_") and not hasattr(wild, "V_")
    model = FMRecommender(4, solver="sgd", max_iter=2, random_state=0).fit(train)
    before = (model.V_.copy(), model.n_iter_, len(model.history_.train_loss))
    model.set_params(learning_rate=1e30, loss="logistic")
    with pytest.raises(DivergenceError):
        model.partial_fit(test)
    np.testing.assert_array_equal(model.V_, before[0])
    assert (model.n_iter_, len(model.history_.train_loss)) == before[1:]
    assert model.interactions_.nnz == train.nnz
    model.set_params(learning_rate=0.05, solver="adam")
    with pytest.raises(ValueError, match="solver='adam' differs"):
        model.partial_fit(test)


def test_popularity_sampling_trades_some_precision_for_coverage(feedback):
    """Popular negatives push popular items down: lists cover more of the catalogue, at
    some cost in precision on data where popularity is part of the taste (as here)."""
    from fmlearn.metrics import catalog_coverage

    _, train, test = feedback
    kw = dict(max_iter=20, random_state=0)
    uniform, _ = FMRecommender(16, **kw).fit(train).recommend(n=10)
    popular, _ = FMRecommender(16, negative_sampling="popularity", **kw).fit(train).recommend(n=10)
    assert precision_at(popular, test) > 1.2 * precision_at(popularity_lists(train), test)
    assert catalog_coverage(popular, 300) > catalog_coverage(uniform, 300) + 0.05


def test_review_fixes_hold_out_history_ties_padding_weights():
    """Early stopping's held-out part counts as seen afterwards; metrics stay one per
    epoch (NaN where not recorded); ties at the cut-off go by item id; similar_items pads;
    a refit without early stopping drops best_iteration_; stored zero weights are weights;
    WARP learns with two items (L(1) = 1)."""
    data = make_implicit_feedback(200, 100, 3000, random_state=0)
    R = data.interactions
    m = FMRecommender(8, max_iter=5, early_stopping=True, random_state=0).fit(R)
    assert m.interactions_.nnz == R.nnz and hasattr(m, "best_iteration_")
    ids, _ = m.recommend(n=10)
    rows = np.repeat(np.arange(200), 10)
    assert (np.asarray(R[rows, ids.ravel()]) == 0).all()
    m.set_params(early_stopping=False).fit(R)
    assert not hasattr(m, "best_iteration_")
    m.partial_fit(R, eval_set=R)
    valid = m.history_.valid["ndcg@10"]
    assert len(valid) == 6 and np.isnan(valid[:5]).all() and np.isfinite(valid[5])
    with pytest.raises(ValueError, match="eval_set has shape"):
        m.partial_fit(R, eval_set=sp.hstack([R, sp.csr_matrix((200, 5))]).tocsr())
    # ties: item 19 best, every other item tied
    m.V_[:] = 0
    m.w_[:] = 0
    m.w_[200 + 19] = 1.0
    top, _ = m.recommend(np.arange(5), n=3, filter_seen=False)
    assert (top == [19, 0, 1]).all()
    similar, sims = m.similar_items([0], n=150)
    assert similar.shape == (1, 150) and (similar[0, 99:] == -1).all()
    assert np.isneginf(sims[0, 99:]).all()
    # a stored 0 weight is a weight of 0, not a missing one
    W = R.copy()
    W.data[::2] = 0.0
    FMRecommender(4, max_iter=1, random_state=0).fit(R, sample_weight=W)
    left_half = sp.csr_matrix(np.hstack([R[:, :50].toarray(), np.zeros((200, 50))]))
    with pytest.raises(ValueError, match="no stored weight"):
        FMRecommender(4, max_iter=1).fit(R, sample_weight=left_half)
    with pytest.raises(ValueError, match="must be 2-D"):
        FMRecommender(4, max_iter=1).fit(np.ones(5))
    # WARP with two items still steps
    two = sp.csr_matrix(np.repeat(np.eye(2), 10, axis=0))  # users 0–9: item 0; 10–19: item 1
    warp = FMRecommender(4, max_iter=50, random_state=0, init_std=0.1).fit(two)
    assert warp._state.n_updates > 0
    np.testing.assert_array_equal(warp.recommend(n=1, filter_seen=False)[0].ravel(),
                                  np.repeat([0, 1], 10))  # fmt: skip


def test_side_features_straight_from_an_encoder():
    """FMEncoder's matrix (a FieldMatrix, one row per user in id order) is taken as is."""
    pd = pytest.importorskip("pandas")
    from fmlearn import FMEncoder

    users = pd.DataFrame({"user_id": [2, 0, 1], "occupation": ["a", "b", "a"], "age": [20, 30, 60]})
    ordered = users.sort_values("user_id")[["occupation", "age"]]
    U = FMEncoder(categorical=["occupation"], numeric="bin", n_bins=2).fit_transform(ordered)
    R = sp.csr_matrix(np.array([[1, 0, 1, 0], [0, 1, 0, 0], [1, 1, 0, 1]], dtype=float))
    kw = dict(n_factors=2, max_iter=3, random_state=0, dtype="float64")
    a = FMRecommender(**kw).fit(R, user_features=U)
    b = FMRecommender(**kw).fit(R, user_features=sp.csr_matrix(U))
    np.testing.assert_array_equal(a.V_, b.V_)
    new_a, _ = a.recommend(user_features=U[:2], n=2)
    new_b, _ = b.recommend(user_features=sp.csr_matrix(U[:2]), n=2)
    np.testing.assert_array_equal(new_a, new_b)

"""Estimator behaviour: learning planted models, determinism, API details."""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import roc_auc_score

from fmlearn import FMClassifier, FMRegressor
from fmlearn.datasets import make_ctr
from fmlearn.solvers import DivergenceError
from reference import rmse


@pytest.mark.parametrize("solver", ["sgd", "adagrad", "adam", "ftrl"])
def test_recovers_planted_fm(ratings, solver):
    X, y, X_test, y_test, truth = ratings
    fm = FMRegressor(n_factors=4, solver=solver, max_iter=40, random_state=0).fit(X, y)
    fm_rmse = rmse(fm.predict(X_test), y_test)
    linear_rmse = rmse(Ridge(alpha=1.0).fit(X, y).predict(X_test), y_test)
    oracle = rmse(truth.decision(X_test), y_test)
    assert fm_rmse < 1.25 * oracle  # close to the noise level (0.5)…
    assert fm_rmse < linear_rmse - 0.1  # …and clearly better than a linear model


def test_classifier_learns_planted_interactions():
    X, y, truth = make_ctr(n_samples=60_000, n_fields=8, n_features=400, random_state=2)
    X_train, X_test, y_train, y_test = X[:50_000], X[50_000:], y[:50_000], y[50_000:]
    fm = FMClassifier(n_factors=4, max_iter=20, random_state=0).fit(X_train, y_train)
    auc = roc_auc_score(y_test, fm.predict_proba(X_test)[:, 1])
    lr = LogisticRegression(max_iter=1000).fit(X_train, y_train)
    auc_lr = roc_auc_score(y_test, lr.predict_proba(X_test)[:, 1])
    auc_truth = roc_auc_score(y_test, truth.decision(X_test))
    assert auc > auc_lr + 0.01
    assert auc > auc_truth - 0.02


@pytest.mark.parametrize("Est", [FMRegressor, FMClassifier])
def test_fixed_random_state_is_bit_for_bit(ratings, Est):
    X, y = ratings[0][:3000], ratings[1][:3000]
    y = y if Est is FMRegressor else y > np.median(y)
    a = Est(max_iter=3, random_state=7).fit(X, y)
    b = Est(max_iter=3, random_state=7).fit(X, y)
    c = Est(max_iter=3, random_state=8).fit(X, y)
    assert np.array_equal(a.V_, b.V_) and np.array_equal(a.w_, b.w_) and a.w0_ == b.w0_
    assert not np.array_equal(a.V_, c.V_)


def test_dense_sparse_and_formats_give_same_model(ratings):
    X, y = ratings[0][:2000], ratings[1][:2000]
    fits = [
        FMRegressor(max_iter=2, random_state=0).fit(Xf, y)
        for Xf in (X, X.toarray(), X.tocsc(), X.tocoo(), sp.csr_array(X))
    ]
    for other in fits[1:]:
        assert np.array_equal(fits[0].V_, other.V_)


def test_unsorted_and_duplicate_entries_are_canonicalised():
    rng = np.random.default_rng(0)
    X = sp.random(500, 30, density=0.2, random_state=0, format="csr")
    y = rng.normal(size=500)
    fm = FMRegressor(max_iter=2, random_state=0).fit(X, y)
    # the same rows with every entry split into two halves, in reversed order
    indptr, indices, data = [0], [], []
    for r in range(X.shape[0]):
        cols, vals = X.indices[X.indptr[r] : X.indptr[r + 1]], X.data[X.indptr[r] : X.indptr[r + 1]]
        indices += list(cols[::-1]) * 2
        data += list(vals[::-1] / 2) * 2
        indptr.append(len(indices))
    dup = sp.csr_matrix((data, indices, indptr), shape=X.shape)
    assert not dup.has_canonical_format
    np.testing.assert_allclose(fm.predict(dup), fm.predict(X), rtol=1e-12)


def test_float32_close_to_float64(ratings):
    X, y, X_test = ratings[0][:5000], ratings[1][:5000], ratings[2]
    p64 = FMRegressor(max_iter=3, random_state=0).fit(X, y).predict(X_test)
    m32 = FMRegressor(max_iter=3, random_state=0, dtype="float32").fit(X, y)
    assert m32.V_.dtype == np.float32
    np.testing.assert_allclose(m32.predict(X_test), p64, atol=2e-3)


def test_predict_zero_and_one_rows(ratings):
    X, y = ratings[0][:1000], ratings[1][:1000]
    fm = FMRegressor(max_iter=1, random_state=0).fit(X, y)
    assert fm.predict(X[:0]).shape == (0,)
    assert fm.predict(X[:1]).shape == (1,)
    assert fm.predict(X[:1])[0] == fm.predict(X[:5])[0]


def test_parallel_predict_matches_serial(ratings, monkeypatch):
    import fmlearn.models.fm as base

    X, y = ratings[0], ratings[1]
    fm = FMRegressor(max_iter=1, random_state=0).fit(X, y)
    serial = FMRegressor(max_iter=1, random_state=0, n_jobs=1).fit(X, y).predict(X)
    monkeypatch.setattr(base, "PARALLEL_PREDICT_MIN_ROWS", 10)
    monkeypatch.setattr(base, "PREDICT_BLOCK_ROWS", 777)
    assert np.array_equal(fm.set_params(n_jobs=2).predict(X), serial)


def test_classifier_with_string_labels():
    X, y, _ = make_ctr(n_samples=3000, n_fields=5, n_features=100, random_state=0)
    labels = np.where(y == 1, "click", "no-click")
    clf = FMClassifier(max_iter=3, random_state=0).fit(X, labels)
    assert list(clf.classes_) == ["click", "no-click"]
    proba = clf.predict_proba(X)
    assert proba.shape == (3000, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    expected = clf.classes_[(proba[:, 1] > 0.5).astype(int)]
    assert np.array_equal(clf.predict(X), expected)
    np.testing.assert_allclose(np.exp(clf.predict_log_proba(X)), proba, rtol=1e-10)
    assert np.array_equal(clf.decision_function(X) > 0, proba[:, 1] > 0.5)


def test_dataframe_input_records_feature_names():
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(0)
    df = pd.DataFrame(rng.normal(size=(200, 3)), columns=["a", "b", "c"])
    y = df["a"] * df["b"] + rng.normal(scale=0.1, size=200)
    fm = FMRegressor(max_iter=5, random_state=0).fit(df, y)
    assert list(fm.feature_names_in_) == ["a", "b", "c"]
    assert fm.n_features_in_ == 3
    with pytest.raises(ValueError, match="feature names"):
        fm.predict(df[["c", "b", "a"]])


def test_clip_predictions(ratings):
    X, y = ratings[0][:2000], ratings[1][:2000]
    fm = FMRegressor(max_iter=2, random_state=0).fit(X, y)
    raw = FMRegressor(max_iter=2, random_state=0, clip_predictions=False).fit(X, y)
    big = sp.csr_matrix(X[:50].toarray() * 30.0)
    assert fm.predict(big).min() >= y.min() and fm.predict(big).max() <= y.max()
    np.testing.assert_allclose(np.clip(raw.predict(big), y.min(), y.max()), fm.predict(big))


def test_eval_set_history_and_verbose(ratings, capsys):
    X, y, X_test, y_test, _ = ratings
    fm = FMRegressor(max_iter=4, tol=None, random_state=0, verbose=1)
    fm.fit(X, y, eval_set=[(X_test, y_test)])
    h = fm.history_
    assert h.epoch == [1, 2, 3, 4] and len(h.train_loss) == len(h.seconds) == 4
    assert h.valid["rmse"][-1] == pytest.approx(rmse(fm.predict(X_test), y_test))
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 4 and "valid_rmse" in out[-1]


def test_early_stopping_restores_best_epoch(ratings):
    X, y, X_test, y_test, _ = ratings
    # an overfitting configuration: no regularisation, large steps
    fm = FMRegressor(
        n_factors=16,
        solver="sgd",
        learning_rate=0.05,
        reg_factors=0.0,
        max_iter=200,
        early_stopping=True,
        n_iter_no_change=3,
        random_state=0,
    ).fit(X, y, eval_set=[(X_test, y_test)])
    valid = np.array(fm.history_.valid["rmse"])
    assert fm.n_iter_ < 200
    assert rmse(fm.predict(X_test), y_test) == pytest.approx(valid.min())
    assert valid.argmin() == len(valid) - 1 - 3


def test_tol_stops_on_training_loss_plateau(ratings):
    X, y = ratings[0][:3000], ratings[1][:3000]
    fm = FMRegressor(max_iter=500, tol=1e-2, n_iter_no_change=2, random_state=0).fit(X, y)
    assert fm.n_iter_ < 500


def test_warm_start_continues(ratings):
    X, y = ratings[0][:5000], ratings[1][:5000]
    fm = FMRegressor(max_iter=2, tol=None, warm_start=True, random_state=0).fit(X, y)
    V_before = fm.V_.copy()
    fm.fit(X, y)
    assert fm.n_iter_ == 4 and fm.history_.epoch == [1, 2, 3, 4]
    assert not np.array_equal(V_before, fm.V_)
    cold = FMRegressor(max_iter=2, tol=None, random_state=0).fit(X, y)
    assert cold.n_iter_ == 2


def test_partial_fit_learns_online(ratings):
    X, y, X_test, y_test, _ = ratings
    fm = FMRegressor(random_state=0)
    errors = []
    for _ in range(3):
        for start in range(0, X.shape[0], 5000):
            fm.partial_fit(X[start : start + 5000], y[start : start + 5000])
        errors.append(rmse(fm.predict(X_test), y_test))
    assert errors[-1] < errors[0]
    assert fm.n_iter_ == 15


def test_classifier_partial_fit_needs_classes():
    X, y, _ = make_ctr(n_samples=1000, n_fields=4, n_features=50, random_state=0)
    clf = FMClassifier(random_state=0)
    with pytest.raises(ValueError, match="classes must be passed"):
        clf.partial_fit(X, y)
    clf.partial_fit(X[:10][y[:10] == 0], y[:10][y[:10] == 0], classes=[0, 1])
    clf.partial_fit(X, y)
    assert list(clf.classes_) == [0, 1]


def test_hogwild_threads_train_well(ratings):
    X, y, X_test, y_test, _ = ratings
    fm = FMRegressor(n_factors=4, max_iter=20, n_jobs=2, random_state=0).fit(X, y)
    assert rmse(fm.predict(X_test), y_test) < 0.7


def test_divergence_is_reported_and_model_kept(ratings):
    X, y = ratings[0][:3000], ratings[1][:3000]
    fm = FMRegressor(solver="sgd", max_iter=2, random_state=0).fit(X, y)
    V, w0 = fm.V_.copy(), fm.w0_
    fm.set_params(learning_rate=50.0, init_std=1.0)
    with pytest.raises(DivergenceError, match=r"diverged at epoch \d+.*learning_rate"):
        fm.fit(X * 10.0, y)
    assert np.array_equal(fm.V_, V) and fm.w0_ == w0


@pytest.mark.parametrize("solver", ["sgd", "adagrad", "ftrl"])
@pytest.mark.parametrize("n_features", [300, 20_000])  # all copied / rows copied
def test_partial_fit_trains_in_place_and_undoes_a_diverged_call(solver, n_features):
    """partial_fit updates the fitted arrays without copying the model, and a call that
    diverges puts back every row it touched (and the optimiser's scalars)."""
    rng = np.random.default_rng(0)
    X = sp.random(400, n_features, density=8 / n_features, random_state=0, format="csr")
    y = rng.normal(size=400)
    fm = FMRegressor(solver=solver, n_factors=4, random_state=0).partial_fit(X, y)
    V = fm.V_
    before = [a.copy() for a in (fm.w_, fm.V_, *fm._solver_state.arrays)]
    n_updates = fm._solver_state.n_updates
    fm.partial_fit(X[:50], y[:50])
    assert fm.V_ is V and not np.array_equal(fm.V_, before[1])  # trained in place
    before = [a.copy() for a in (fm.w_, fm.V_, *fm._solver_state.arrays)]
    n_updates, hyper = fm._solver_state.n_updates, fm._solver_state.ftrl_hyper
    fm.set_params(learning_rate=1e200)
    with pytest.raises(DivergenceError):
        fm.partial_fit(X[:50] * 1e3, y[:50] * 1e6)
    after = [fm.w_, fm.V_, *fm._solver_state.arrays]
    if solver == "ftrl":  # its z is re-derived for the new α first: same weights, new z
        after, before = after[:2], before[:2]
    assert all(np.array_equal(a, b) for a, b in zip(after, before, strict=True))
    assert fm._solver_state.n_updates == n_updates
    assert solver == "ftrl" or fm._solver_state.ftrl_hyper == hyper
    assert fm.n_iter_ == 2


def test_clone_and_pickle(ratings):
    import pickle

    X, y = ratings[0][:2000], ratings[1][:2000]
    fm = FMRegressor(n_factors=3, max_iter=2, random_state=0).fit(X, y)
    assert clone(fm).get_params() == fm.get_params()
    again = pickle.loads(pickle.dumps(fm))
    assert np.array_equal(again.predict(X), fm.predict(X))

"""FMOrdinalRegressor: ordered probit by MCMC, on planted ordinal data."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.special import ndtr
from sklearn.base import clone

from fmlearn import FMOrdinalRegressor, FMRegressor, load

TRUE_CUT = np.array([-1.5, -0.4, 0.5, 1.6])


def _ordinal_data(n, rng):
    """Ratings 1…5 from an ordered probit on a planted FM over user | item one-hots."""
    sizes = (60, 40)
    cols = np.column_stack([rng.integers(0, 60, n), 60 + rng.integers(0, 40, n)])
    X = sp.csr_matrix((np.ones(2 * n), cols.ravel(), np.arange(0, 2 * n + 1, 2)), (n, 100))
    w = rng.normal(0, 0.5, sum(sizes))
    V = rng.normal(0, 0.6, (sum(sizes), 2))
    score = X @ w + 0.5 * (((X @ V) ** 2).sum(1) - (X @ V**2).sum(1))
    z = score + rng.normal(size=n)
    y = 1 + np.searchsorted(TRUE_CUT, z)
    return X, y, score


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X, y, score = _ordinal_data(24_000, rng)
    return X[:20_000], y[:20_000], X[20_000:], y[20_000:], score[20_000:]


@pytest.fixture(scope="module")
def fitted(data):
    X, y, *_ = data
    return FMOrdinalRegressor(n_factors=2, max_iter=80, keep_samples=True, random_state=0).fit(X, y)


def test_recovers_cutpoints_and_probabilities(data, fitted):
    X_test, score = data[2], data[4]
    np.testing.assert_array_equal(fitted.classes_, [1, 2, 3, 4, 5])
    # one-hot fields make a common shift of the cutpoints and of every user's w_i the same
    # model, so only the gaps between cutpoints are identified
    np.testing.assert_allclose(np.diff(fitted.cutpoints_), np.diff(TRUE_CUT), atol=0.1)
    proba = fitted.predict_proba(X_test)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    upper = ndtr(TRUE_CUT[None, :] - score[:, None])
    true_proba = np.diff(np.hstack([np.zeros((len(score), 1)), upper, np.ones((len(score), 1))]))
    assert np.abs(proba - true_proba).mean() < 0.03
    # the expectation of the predicted distribution is the prediction
    np.testing.assert_allclose(fitted.predict(X_test), proba @ np.arange(1, 6))


def test_as_accurate_as_gaussian_mcmc(data, fitted):
    X, y, X_test, y_test, _ = data
    gaussian = FMRegressor(n_factors=2, solver="mcmc", max_iter=80, random_state=0).fit(X, y)
    ordinal_rmse = np.sqrt(np.mean((fitted.predict(X_test) - y_test) ** 2))
    gaussian_rmse = np.sqrt(np.mean((gaussian.predict(X_test) - y_test) ** 2))
    assert ordinal_rmse < gaussian_rmse + 0.01


def test_history_and_posterior_mean_model(data, fitted):
    X, y, X_test, y_test, _ = data
    model = FMOrdinalRegressor(n_factors=2, max_iter=30, random_state=0)
    model.fit(X, y, eval_set=[(X_test, y_test)])
    rmse = np.sqrt(np.mean((model.predict(X_test) - y_test) ** 2))
    assert model.history_.valid["rmse"][-1] == pytest.approx(rmse, abs=0.02)
    assert model.w0_ == 0.0  # the cutpoints carry the intercept


def test_save_load_and_pickle(fitted, data, tmp_path):
    X_test = data[2]
    fitted.save(tmp_path / "o.fmlearn")
    back = load(tmp_path / "o.fmlearn")
    np.testing.assert_array_equal(back.predict_proba(X_test), fitted.predict_proba(X_test))
    np.testing.assert_array_equal(back.cutpoints_, fitted.cutpoints_)
    again = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(again.predict(X_test), fitted.predict(X_test))
    assert clone(fitted).get_params() == fitted.get_params()


def test_determinism(data):
    X, y, X_test, *_ = data
    a = FMOrdinalRegressor(n_factors=2, max_iter=5, random_state=3).fit(X, y)
    b = FMOrdinalRegressor(n_factors=2, max_iter=5, random_state=3).fit(X, y)
    np.testing.assert_array_equal(a.predict_proba(X_test), b.predict_proba(X_test))


def test_bad_labels_and_solver(data):
    X, y, *_ = data
    model = FMOrdinalRegressor(max_iter=2)
    with pytest.raises(ValueError, match=r"consecutive integers: .* but not \[3\]"):
        model.fit(X, np.where(y == 3, 4, y))
    with pytest.raises(ValueError, match="must be integers; got"):
        model.fit(X, y + 0.5)
    with pytest.raises(ValueError, match="at least 2 ordered labels"):
        model.fit(X, np.ones_like(y))
    with pytest.raises(ValueError, match="needs integer labels"):
        model.fit(X, np.array(["a"] * len(y)))
    with pytest.raises(
        ValueError, match=r"'solver' parameter of FMOrdinalRegressor must be one of \{'mcmc'\}"
    ):
        FMOrdinalRegressor(solver="sgd").fit(X, y)
    assert not hasattr(model, "partial_fit")


def test_block_factor_updates_recover_the_same_model(data, fitted):
    X, y, X_test, *_ = data
    block = FMOrdinalRegressor(n_factors=2, max_iter=80, random_state=0, factor_update="block")
    block.fit(X, y)
    np.testing.assert_allclose(np.diff(block.cutpoints_), np.diff(TRUE_CUT), atol=0.1)
    assert np.abs(block.predict_proba(X_test) - fitted.predict_proba(X_test)).mean() < 0.02

"""MCMC's public results: the kept posterior samples and the trace of the sampled
hyper-parameters, consistent with the model, kept by save/load, extended by warm starts."""

from __future__ import annotations

import numpy as np
import pytest

import fmlearn
from fmlearn import FMClassifier, FMOrdinalRegressor, FMRegressor


@pytest.fixture(scope="module")
def fitted(ratings):
    X, y, *_ = ratings
    groups = np.repeat([0, 1, 2], [300, 200, 6])
    fm = FMRegressor(n_factors=3, solver="mcmc", max_iter=20, n_kept_samples=15, random_state=0)
    return fm.fit(X[:8000], y[:8000], groups=groups), groups


def test_trace_has_one_row_per_sweep_and_group(fitted):
    fm, _ = fitted
    t = fm.hyper_trace_
    assert t["alpha"].shape == (20,) and np.all(t["alpha"] > 0)
    assert t["mu_w"].shape == t["lambda_w"].shape == (20, 3)
    assert t["mu_V"].shape == t["lambda_V"].shape == (20, 3, 3)
    assert t["cutpoints"].shape == (20, 0)
    assert np.all(t["lambda_V"] > 0)
    # the noise precision settles near 1/0.5² (generated with noise 0.5)
    assert 1 / np.sqrt(t["alpha"][-10:].mean()) == pytest.approx(0.5, rel=0.1)


def test_posterior_mean_is_the_mean_of_the_samples(fitted):
    fm, _ = fitted
    assert len(fm.samples_) == 15
    np.testing.assert_allclose(np.mean([s.V for s in fm.samples_], axis=0), fm.V_, atol=1e-12)
    np.testing.assert_allclose(np.mean([s.w0[0] for s in fm.samples_]), fm.w0_, atol=1e-12)


def test_results_survive_save_load_and_grow_with_warm_start(fitted, ratings, tmp_path):
    fm, groups = fitted
    X, y, *_ = ratings
    fmlearn.save(fm, tmp_path / "m.fmlearn")
    back = fmlearn.load(tmp_path / "m.fmlearn")
    for name, values in fm.hyper_trace_.items():
        np.testing.assert_array_equal(back.hyper_trace_[name], values)
    back.set_params(warm_start=True, max_iter=5, n_kept_samples=5)
    back.fit(X[:8000], y[:8000], groups=groups)
    assert back.hyper_trace_["alpha"].shape == (25,) and len(back.samples_) == 20


def test_other_solvers_have_no_mcmc_results(ratings):
    X, y, *_ = ratings
    refit = FMRegressor(n_factors=3, solver="mcmc", max_iter=3).fit(X[:2000], y[:2000])
    refit.set_params(solver="als").fit(X[:2000], y[:2000])
    assert not hasattr(refit, "samples_") and not hasattr(refit, "hyper_trace_")


def test_probit_and_ordinal_traces(ratings):
    X, y, *_ = ratings
    X, y = X[:6000], y[:6000]
    clf = FMClassifier(n_factors=2, solver="mcmc", max_iter=6, random_state=0)
    clf.fit(X, y > np.median(y))
    assert np.all(clf.hyper_trace_["alpha"] == 1.0)  # the probit link fixes the noise
    stars = np.clip(np.round(y - y.mean() + 3), 1, 5).astype(int)
    ordinal = FMOrdinalRegressor(n_factors=2, max_iter=10, random_state=0).fit(X, stars)
    cut = ordinal.hyper_trace_["cutpoints"]
    assert cut.shape == (10, 4) and np.all(np.diff(cut, axis=1) > 0)
    kept = len(ordinal.samples_)
    np.testing.assert_allclose(ordinal.cutpoints_, cut[-kept:].mean(axis=0), atol=1e-12)


def test_continuing_without_keeping_samples_drops_the_old_ones(ratings):
    X, y, X_test, *_ = ratings
    fm = FMRegressor(n_factors=2, solver="mcmc", max_iter=10, keep_samples=True, random_state=0)
    before = fm.fit(X[:5000], y[:5000]).predict(X_test)
    assert len(fm.samples_) == 9
    fm.set_params(warm_start=True, keep_samples=False, max_iter=10).fit(X[:5000], y[:5000])
    assert fm.samples_ == []
    # predictions now come from the posterior mean of the continued chain
    assert not np.array_equal(fm.predict(X_test), before)
    with pytest.raises(ValueError, match="needs the posterior samples"):
        fm.predict(X_test, return_std=True)

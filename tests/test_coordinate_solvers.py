"""ALS and MCMC through the estimators: recovery of planted models, the Bayesian claims
(noise level, posterior spread, prior dominance, calibration), chains, files, errors."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.special import ndtr
from sklearn.linear_model import Ridge

from fmlearn import FMClassifier, FMRegressor, load
from fmlearn.models import FM, FMParams
from fmlearn.solvers import TrainData
from fmlearn.solvers.coordinate import CoordinateConfig, solve
from fmlearn.tasks import Regression
from reference import rmse


@pytest.fixture(scope="module")
def groups():
    return np.repeat([0, 1, 2], [300, 200, 6])


@pytest.mark.parametrize("update", ["scalar", "block"])
@pytest.mark.parametrize("solver", ["mcmc", "als"])
def test_recovers_planted_fm(ratings, groups, solver, update):
    X, y, X_test, y_test, truth = ratings
    fit_groups = groups if solver == "mcmc" else None
    fm = FMRegressor(n_factors=4, solver=solver, max_iter=60, random_state=0, factor_update=update)
    fm.fit(X, y, groups=fit_groups)
    oracle = rmse(truth.decision(X_test), y_test)
    linear = rmse(Ridge(alpha=1.0).fit(X, y).predict(X_test), y_test)
    assert rmse(fm.predict(X_test), y_test) < 1.15 * oracle
    assert rmse(fm.predict(X_test), y_test) < linear - 0.1


def test_mcmc_samples_the_noise_level(ratings, groups):
    X, y, *_ = ratings
    fm = FMRegressor(n_factors=4, solver="mcmc", max_iter=60, keep_samples=True, random_state=0)
    fm.fit(X, y, groups=groups)
    noise_std = 1 / np.sqrt(np.mean(fm.hyper_trace_["alpha"][-len(fm.samples_) :]))
    assert noise_std == pytest.approx(0.5, rel=0.1)  # generated with noise 0.5


def test_mcmc_posterior_of_the_mean_has_the_textbook_spread():
    """Intercept-only data: w0 | y ~ N(ȳ, σ²/n) under the flat prior libFM uses."""
    rng = np.random.default_rng(0)
    n, sigma = 400, 2.0
    y = 5.0 + sigma * rng.normal(size=n)
    X = sp.csr_matrix((n, 1))  # one feature that is never set: only w0 is identified
    fm = FMRegressor(n_factors=1, solver="mcmc", max_iter=2000, keep_samples=True)
    fm.set_params(random_state=0, n_kept_samples=1900).fit(X, y)
    w0 = np.array([s.w0[0] for s in fm.samples_])
    assert w0.mean() == pytest.approx(y.mean(), abs=3 * sigma / np.sqrt(n) / 10)
    assert w0.std() == pytest.approx(y.std() / np.sqrt(n), rel=0.15)


def test_huge_prior_precision_keeps_the_sampler_at_the_prior(ratings):
    X, y, *_ = ratings
    rng = np.random.default_rng(0)
    k = 3
    w0, w = np.zeros(1), np.zeros(X.shape[1])
    V = rng.normal(0, 0.1, (X.shape[1], k))
    params = FMParams(w0, w, V)
    # Gamma(α0/2, β0/2) hyperprior with mean α0/β0 = 1e8 and N(μ0, 1/(γ0 λ)) with γ0 = 1e8:
    # λ ≈ 1e8 and μ ≈ μ0 = 0, so every weight is drawn from ≈ N(0, 1e-8)
    config = CoordinateConfig(
        likelihood=0,
        sample=True,
        n_sweeps=5,
        n_kept=5,
        rng=rng,
        alpha0=1e8,
        beta0=1.0,
        gamma0=1e8,
    )
    data = TrainData(X, y, np.ones(len(y)), groups=np.zeros(X.shape[1], int))
    task = Regression()
    task.fit_target(y)
    chain = solve(data, task=task, model=FM(k), params=params, config=config, state=None).state
    assert np.abs(params.w).max() < 1e-3
    assert np.abs(params.V).max() < 1e-3
    assert chain.lam_w[0] > 1e7
    assert params.w0[0] == pytest.approx(y.mean(), abs=0.05)  # the flat-prior bias fits


def _probit_data(n, rng):
    sizes = (40, 30, 5)
    cols = np.column_stack(
        [rng.integers(0, s, n) + o for s, o in zip(sizes, np.cumsum((0, *sizes[:-1])), strict=True)]
    )
    X = sp.csr_matrix(
        (np.ones(cols.size), cols.ravel(), np.arange(0, cols.size + 1, 3)), shape=(n, sum(sizes))
    )
    w = rng.normal(0, 0.5, sum(sizes))
    V = rng.normal(0, 0.5, (sum(sizes), 2))
    score = -0.2 + X @ w + 0.5 * (((X @ V) ** 2).sum(1) - (X @ V**2).sum(1))
    y = np.where(score + rng.normal(size=n) > 0, "yes", "no")
    return X, y, ndtr(score)


@pytest.mark.parametrize("update", ["scalar", "block"])
def test_mcmc_probit_classifier_is_calibrated(update):
    rng = np.random.default_rng(0)
    X, y, p_true = _probit_data(30_000, rng)
    X_test, y_test, p_test = X[25_000:], y[25_000:], p_true[25_000:]
    clf = FMClassifier(
        n_factors=2, solver="mcmc", max_iter=60, random_state=0, factor_update=update
    )
    clf.fit(X[:25_000], y[:25_000])
    assert clf.link_ == "probit"
    p = clf.predict_proba(X_test)[:, 1]
    assert np.corrcoef(p, p_test)[0, 1] > 0.95
    bins = np.clip((p * 10).astype(int), 0, 9)
    positive = y_test == "yes"
    for b in range(10):
        in_bin = bins == b
        if in_bin.sum() >= 200:  # reliability: observed frequency ≈ predicted probability
            assert abs(positive[in_bin].mean() - p[in_bin].mean()) < 0.05
    assert clf.score(X_test, y_test) > 0.7


@pytest.mark.parametrize("update", ["scalar", "block"])
def test_als_classifier_learns_probit_data(update):
    rng = np.random.default_rng(1)
    X, y, p_true = _probit_data(20_000, rng)
    clf = FMClassifier(n_factors=2, solver="als", max_iter=20, random_state=0, factor_update=update)
    clf.fit(X, y)
    p = clf.predict_proba(X)[:, 1]
    assert np.corrcoef(p, p_true)[0, 1] > 0.9
    assert np.all(np.isin(clf.predict(X), ["yes", "no"]))


def test_history_records_the_averaged_prediction(ratings, groups):
    X, y, X_test, y_test, _ = ratings
    fm = FMRegressor(n_factors=4, solver="mcmc", max_iter=30, keep_samples=True, random_state=0)
    fm.fit(X, y, eval_set=[(X_test, y_test)], groups=groups)
    assert len(fm.history_.valid["rmse"]) == 30 == fm.n_iter_
    assert fm.history_.valid["rmse"][-1] == pytest.approx(rmse(fm.predict(X_test), y_test))
    assert len(fm.samples_) == 27  # default: all but the first 10% of the sweeps


def test_posterior_mean_parameters_predict_close_to_the_sample_average(ratings, groups):
    X, y, X_test, y_test, _ = ratings
    kw = dict(n_factors=4, solver="mcmc", max_iter=40, random_state=0)
    light = FMRegressor(keep_samples=False, **kw).fit(X, y, groups=groups)
    full = FMRegressor(keep_samples=True, **kw).fit(X, y, groups=groups)
    np.testing.assert_array_equal(light.V_, full.V_)
    assert abs(rmse(light.predict(X_test), y_test) - rmse(full.predict(X_test), y_test)) < 0.02


def test_return_std(ratings, groups):
    X, y, X_test, y_test, _ = ratings
    fm = FMRegressor(n_factors=4, solver="mcmc", max_iter=30, keep_samples=True, random_state=0)
    mean, std = fm.fit(X, y, groups=groups).predict(X_test, return_std=True)
    np.testing.assert_array_equal(mean, fm.predict(X_test))
    assert np.all(std >= 0.45)  # at least the noise (0.5), plus parameter uncertainty
    inside = np.abs(y_test - mean) < 1.96 * std
    assert 0.9 < inside.mean() < 0.99  # a 95% predictive interval covers about 95%
    with pytest.raises(ValueError, match="keep_samples=True"):
        light = FMRegressor(solver="mcmc", max_iter=3, keep_samples=False)
        light.fit(X, y).predict(X_test, return_std=True)
    with pytest.raises(ValueError, match="solver='adagrad'"):
        FMRegressor(max_iter=1).fit(X, y).predict(X_test, return_std=True)


@pytest.mark.parametrize("update", ["scalar", "block"])
@pytest.mark.parametrize("solver", ["mcmc", "als"])
def test_determinism(ratings, solver, update):
    X, y, X_test, *_ = ratings
    kw = {"solver": solver, "max_iter": 5, "random_state": 7, "factor_update": update}
    a = FMRegressor(n_factors=3, **kw).fit(X, y)
    b = FMRegressor(n_factors=3, **kw).fit(X, y)
    np.testing.assert_array_equal(a.V_, b.V_)
    np.testing.assert_array_equal(a.predict(X_test), b.predict(X_test))


def test_factor_update_auto_is_block_for_als_and_scalar_for_mcmc(ratings):
    X, y, *_ = ratings
    for solver, same_as in [("als", "block"), ("mcmc", "scalar")]:
        kw = {"n_factors": 3, "solver": solver, "max_iter": 3, "random_state": 1}
        auto = FMRegressor(**kw).fit(X, y)
        explicit = FMRegressor(**kw, factor_update=same_as).fit(X, y)
        other = FMRegressor(**kw, factor_update={"block": "scalar", "scalar": "block"}[same_as])
        np.testing.assert_array_equal(auto.V_, explicit.V_)
        assert not np.array_equal(auto.V_, other.fit(X, y).V_)


def test_float32_chain_agrees_with_float64(ratings):
    X, y, X_test, y_test, _ = ratings
    kw = dict(n_factors=3, solver="als", max_iter=10, random_state=0)
    p64 = FMRegressor(**kw).fit(X, y).predict(X_test)
    m32 = FMRegressor(dtype="float32", **kw).fit(X, y)
    assert m32.V_.dtype == np.float32
    assert rmse(m32.predict(X_test), y_test) == pytest.approx(rmse(p64, y_test), abs=1e-3)


@pytest.mark.parametrize("keep", [False, True])
def test_save_load_continues_the_chain(ratings, groups, tmp_path, keep):
    X, y, X_test, *_ = ratings
    fm = FMRegressor(n_factors=3, solver="mcmc", max_iter=8, keep_samples=keep, random_state=0)
    fm.fit(X, y, groups=groups)
    fm.save(tmp_path / "m.fmlearn")
    back = load(tmp_path / "m.fmlearn")
    np.testing.assert_array_equal(back.predict(X_test), fm.predict(X_test))
    assert len(back.samples_) == len(fm.samples_)
    # continuing the loaded chain and the original one gives the same model
    for model in (fm, back):
        model.set_params(warm_start=True, random_state=3).fit(X, y, groups=groups)
    np.testing.assert_array_equal(back.V_, fm.V_)
    assert back.n_iter_ == 16 and back._solver_state.n_averaged == 16


def test_classifier_chain_round_trip(tmp_path):
    rng = np.random.default_rng(2)
    X, y, _ = _probit_data(3_000, rng)
    clf = FMClassifier(n_factors=2, solver="mcmc", max_iter=6, keep_samples=True, random_state=0)
    clf.fit(X, y)
    clf.save(tmp_path / "c.fmlearn")
    back = load(tmp_path / "c.fmlearn")
    assert back.link_ == "probit"
    np.testing.assert_array_equal(back.predict_proba(X), clf.predict_proba(X))


def test_bad_input(ratings):
    X, y, *_ = ratings
    n = X.shape[1]
    mcmc = FMRegressor(solver="mcmc", max_iter=3)
    with pytest.raises(ValueError, match=rf"expected shape \({n},\), got \(5,\)"):
        mcmc.fit(X, y, groups=np.zeros(5, int))
    with pytest.raises(ValueError, match=r"without gaps; ids \[1\] are unused"):
        mcmc.fit(X, y, groups=np.where(np.arange(n) < 10, 0, 2))
    with pytest.raises(ValueError, match="must be ≥ 0"):
        mcmc.fit(X, y, groups=np.full(n, -1))
    with pytest.raises(ValueError, match="integer group ids"):
        mcmc.fit(X, y, groups=np.full(n, 0.5))
    with pytest.raises(ValueError, match="n_kept_samples=5 is larger than max_iter=3"):
        FMRegressor(solver="mcmc", max_iter=3, n_kept_samples=5).fit(X, y)
    with pytest.raises(ValueError, match="early_stopping is not available"):
        FMRegressor(solver="als", early_stopping=True).fit(X, y)
    with pytest.raises(ValueError, match="groups are read by solver='mcmc'"):
        FMRegressor(max_iter=1).fit(X, y, groups=np.zeros(n, int))
    assert not hasattr(FMRegressor(solver="mcmc"), "partial_fit")
    assert hasattr(FMRegressor(solver="sgd"), "partial_fit")


def test_eval_set_metrics_for_als_follow_the_current_model(ratings):
    X, y, X_test, y_test, _ = ratings
    fm = FMRegressor(n_factors=3, solver="als", max_iter=4, random_state=0)
    fm.fit(X, y, eval_set=[(X_test, y_test)])
    assert fm.history_.valid["rmse"][-1] == pytest.approx(rmse(fm.predict(X_test), y_test))


def test_eval_set_is_averaged_on_the_probability_scale():
    rng = np.random.default_rng(3)
    X, y, _ = _probit_data(4_000, rng)
    clf = FMClassifier(n_factors=2, solver="mcmc", max_iter=10, keep_samples=True, random_state=0)
    clf.fit(X[:3000], y[:3000], eval_set=[(X[3000:], y[3000:])])
    p = clf.predict_proba(X[3000:])[:, 1]
    ll = -np.mean(np.where(y[3000:] == "yes", np.log(p), np.log(1 - p)))
    assert clf.history_.valid["logloss"][-1] == pytest.approx(ll, rel=1e-6)


def test_keep_samples_auto_keeps_small_models_and_warns_for_big_ones(ratings, monkeypatch):
    import fmlearn.solvers.coordinate as base

    X, y, *_ = ratings
    small = FMRegressor(n_factors=2, solver="mcmc", max_iter=4, random_state=0).fit(X, y)
    assert len(small.samples_) == 4
    monkeypatch.setattr(base, "KEEP_SAMPLES_MAX_BYTES", 1000)
    with pytest.warns(UserWarning, match="only their mean is kept"):
        big = FMRegressor(n_factors=2, solver="mcmc", max_iter=4, random_state=0).fit(X, y)
    assert big.samples_ == []
    np.testing.assert_array_equal(big.V_, small.V_)  # the same chain, only less kept

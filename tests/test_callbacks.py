"""Callbacks: called after every epoch or sweep, able to stop training and to replace
the result; early stopping and progress lines are callbacks too."""

from __future__ import annotations

import numpy as np
import pytest

from fmlearn import FMClassifier, FMRegressor
from fmlearn.callbacks import Callback, EarlyStopping, Timer
from reference import rmse


class Recorder(Callback):
    def __init__(self):
        self.events = []

    def on_fit_begin(self, first, last, unit):
        self.events.append(("begin", first, last, unit))

    def on_iteration(self, info):
        self.events.append(("iteration", info.iteration, info.unit, len(info.history)))

    def on_fit_end(self, result):
        self.events.append(("end", None if result is None else len(result.history)))


@pytest.fixture(scope="module")
def small(ratings):
    X, y, X_test, y_test, _ = ratings
    return X[:5000], y[:5000], X_test[:1000], y_test[:1000]


@pytest.mark.parametrize("solver", ["adagrad", "als", "mcmc"])
def test_hooks_run_in_order_and_number_iterations_across_warm_starts(small, solver):
    X, y, *_ = small
    rec = Recorder()
    fm = FMRegressor(
        n_factors=2,
        solver=solver,
        max_iter=3,
        tol=None if solver == "adagrad" else 1e-4,
        warm_start=True,
        random_state=0,
    )
    fm.fit(X, y, callbacks=[rec])
    fm.fit(X, y, callbacks=[rec])
    unit = "epoch" if solver == "adagrad" else "sweep"
    assert rec.events[:5] == [
        ("begin", 1, 3, unit),
        ("iteration", 1, unit, 1),
        ("iteration", 2, unit, 2),
        ("iteration", 3, unit, 3),
        ("end", 3),
    ]
    assert rec.events[5] == ("begin", 4, 6, unit) and rec.events[-1] == ("end", 3)
    assert fm.history_.epoch == [1, 2, 3, 4, 5, 6]


@pytest.mark.parametrize("solver", ["sgd", "als", "mcmc"])
@pytest.mark.filterwarnings("ignore:MCMC stopped during burn-in")
def test_a_function_can_stop_training(small, solver):
    X, y, *_ = small
    fm = FMRegressor(n_factors=2, solver=solver, max_iter=50, random_state=0)
    fm.fit(X, y, callbacks=[lambda info: info.iteration == 4])
    assert fm.n_iter_ == 4 and len(fm.history_.train_loss) == 4


def test_stopping_mcmc_before_any_kept_sample_keeps_the_current_sample(small):
    X, y, *_ = small
    fm = FMRegressor(n_factors=2, solver="mcmc", max_iter=20, n_kept_samples=5, random_state=0)
    with pytest.warns(UserWarning, match="stopped during burn-in"):
        fm.fit(X, y, callbacks=[lambda info: True])
    assert fm.n_iter_ == 1 and fm.samples_ == []
    assert np.all(np.isfinite(fm.predict(X)))


def test_early_stopping_parameter_is_the_early_stopping_callback(small):
    X, y, X_test, y_test = small
    kw = dict(n_factors=2, max_iter=40, random_state=0, learning_rate=0.3)
    builtin = FMRegressor(early_stopping=True, n_iter_no_change=3, **kw)
    builtin.fit(X, y, eval_set=[(X_test, y_test)])
    explicit = FMRegressor(tol=None, **kw)
    explicit.fit(X, y, eval_set=[(X_test, y_test)], callbacks=[EarlyStopping(patience=3, tol=1e-4)])
    assert builtin.n_iter_ == explicit.n_iter_ < 40
    np.testing.assert_array_equal(builtin.V_, explicit.V_)
    best = int(np.argmin(builtin.history_.valid["rmse"]))
    assert rmse(builtin.predict(X_test), y_test) == pytest.approx(
        builtin.history_.valid["rmse"][best]
    )  # the best epoch's parameters were restored


def test_early_stopping_can_watch_any_recorded_metric(small):
    X, y, X_test, y_test = small
    labels = (y > np.median(y)).astype(int)
    test_labels = (y_test > np.median(y)).astype(int)
    clf = FMClassifier(n_factors=2, max_iter=30, tol=None, random_state=0)
    stop = EarlyStopping("logloss_1", patience=2)
    clf.fit(
        X,
        labels,
        eval_set=[(X_test, test_labels), (X_test[:500], test_labels[:500])],
        callbacks=[stop],
    )
    losses = clf.history_.valid["logloss_1"]
    # stopped because the last two epochs did not beat the best before them
    assert clf.n_iter_ < 30 and min(losses[-2:]) >= min(losses[:-2])
    with pytest.raises(ValueError, match="cannot watch 'nope'"):
        FMRegressor(max_iter=2).fit(X, y, callbacks=[EarlyStopping("nope")])


def test_iteration_info_carries_the_scored_predictions(small):
    X, y, X_test, y_test = small
    seen = {}

    def keep(info):
        seen["predictions"] = info.predictions[0].copy()
        seen["rmse"] = info.scores["rmse"]

    fm = FMRegressor(n_factors=2, solver="mcmc", max_iter=10, random_state=0)
    fm.fit(X, y, eval_set=[(X_test, y_test)], callbacks=[keep])
    # for MCMC, the running average of the kept samples' predictions: predict's output
    np.testing.assert_allclose(
        np.clip(seen["predictions"], fm.y_min_, fm.y_max_), fm.predict(X_test), rtol=1e-12
    )
    assert seen["rmse"] == fm.history_.valid["rmse"][-1]


def test_timer_and_failed_fits(small):
    X, y, *_ = small
    timer, rec = Timer(), Recorder()
    FMRegressor(n_factors=2, max_iter=3, tol=None).fit(X, y, callbacks=[timer])
    assert len(timer.wall) == len(timer.cpu) == 3 and min(timer.wall) > 0
    with pytest.raises(ValueError, match="diverged"):
        FMRegressor(solver="sgd", learning_rate=50.0, init_std=1.0, max_iter=3).fit(
            X * 10.0, y, callbacks=[rec]
        )
    assert rec.events[-1] == ("end", None)  # told that training failed
    with pytest.raises(TypeError, match="callbacks must be"):
        FMRegressor(max_iter=1).fit(X, y, callbacks=[42])


def test_mcmc_early_stopping_restores_the_posterior_mean_not_one_sample(small):
    X, y, X_test, y_test = small
    fm = FMRegressor(n_factors=2, solver="mcmc", max_iter=30, n_kept_samples=30, random_state=0)
    fm.fit(X, y, eval_set=[(X_test, y_test)], callbacks=[EarlyStopping("rmse", patience=1)])
    chain = fm._solver_state  # the chain as it was at the best sweep
    assert chain.n_averaged >= 2
    np.testing.assert_array_equal(fm.V_, chain.mean.V.astype(fm.V_.dtype))
    assert not np.array_equal(fm.V_, chain.position.V)


def test_every_callback_ends_even_if_one_fails(small):
    X, y, *_ = small

    class Failing(Callback):
        def on_fit_end(self, result):
            raise RuntimeError("boom")

    after = Recorder()
    with pytest.raises(RuntimeError, match="boom"):
        FMRegressor(n_factors=2, max_iter=2, random_state=0).fit(X, y, callbacks=[Failing(), after])
    assert after.events[-1] == ("end", None)


def test_a_callback_class_instead_of_an_instance_is_named():
    X, y = np.eye(4), np.arange(4.0)
    with pytest.raises(TypeError, match=r"pass EarlyStopping\(…\), not the class"):
        FMRegressor(max_iter=2).fit(X, y, callbacks=[EarlyStopping])


def test_history_metrics_stay_aligned_across_warm_fits(small):
    X, y, X_test, y_test = small
    fm = FMRegressor(n_factors=2, max_iter=3, tol=None, warm_start=True, random_state=0)
    fm.fit(X, y)
    fm.fit(X, y, eval_set=[(X_test, y_test)])
    rmse_values = fm.history_.valid["rmse"]
    assert fm.history_.epoch == [1, 2, 3, 4, 5, 6] and len(rmse_values) == 6
    assert np.all(np.isnan(rmse_values[:3])) and np.all(np.isfinite(rmse_values[3:]))

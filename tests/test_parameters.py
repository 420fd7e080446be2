"""An honest parameter surface: a parameter that the chosen solver does not use is an
error when set, not silently ignored; FMOrdinalRegressor has only what it uses."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from fmlearn import FMClassifier, FMOrdinalRegressor, FMRegressor


@pytest.fixture(scope="module")
def Xy(ratings):
    X, y, *_ = ratings
    return X[:2000], y[:2000]


@pytest.mark.parametrize(
    "solver, name, value, users",
    [
        ("als", "learning_rate", 0.1, "'sgd' / 'adagrad' / 'adam' / 'ftrl'"),
        ("mcmc", "batch_size", 32, "'sgd' / 'adagrad' / 'adam' / 'ftrl'"),
        ("mcmc", "tol", None, "'sgd' / 'adagrad' / 'adam' / 'ftrl'"),
        ("mcmc", "reg_factors", 0.1, "'sgd' / 'adagrad' / 'adam' / 'ftrl' / 'als'"),
        ("adagrad", "l1_linear", 0.5, "only solver 'ftrl' uses it"),
        ("als", "l1_factors", 0.5, "only solver 'ftrl' uses it"),
        ("adagrad", "n_kept_samples", 10, "'mcmc'"),
        ("adam", "keep_samples", True, "'mcmc'"),
        ("sgd", "factor_update", "block", "'als' / 'mcmc'"),
        ("als", "early_stopping", True, "'sgd' / 'adagrad' / 'adam' / 'ftrl'"),
    ],
)
@pytest.mark.parametrize("cls", [FMRegressor, FMClassifier])
def test_a_parameter_the_solver_does_not_use_is_refused(Xy, cls, solver, name, value, users):
    X, y = Xy
    model = cls(solver=solver, max_iter=2, **{name: value})
    with pytest.raises(ValueError, match=rf"{name} is not available for solver='{solver}'") as e:
        model.fit(X, y if cls is FMRegressor else y > np.median(y))
    assert users in str(e.value) and "Leave it at its default" in str(e.value)


def test_defaults_and_shared_parameters_are_accepted_by_every_solver(Xy):
    X, y = Xy
    for solver in ("sgd", "adagrad", "adam", "als", "mcmc"):
        FMRegressor(
            solver=solver,
            max_iter=2,
            n_jobs=2,
            init_std=0.05,
            fit_linear=False,
            dtype="float32",
            random_state=0,
        ).fit(X, y)
    FMRegressor(solver="als", max_iter=2, reg_factors=1.0, factor_update="scalar").fit(X, y)


def test_ordinal_regressor_has_only_the_parameters_it_uses():
    params = FMOrdinalRegressor().get_params()
    assert sorted(params) == sorted(
        [
            "n_factors",
            "solver",
            "max_iter",
            "init_std",
            "fit_linear",
            "random_state",
            "warm_start",
            "verbose",
            "dtype",
            "n_jobs",
            "n_kept_samples",
            "keep_samples",
            "factor_update",
        ]
    )


def test_ordinal_regressor_refuses_parameters_it_used_to_ignore():
    # fmlearn 0.1 accepted and ignored these; its model files that record them still load
    # (tests/test_persist_compat.py)
    for name, value in [("learning_rate", 0.1), ("tol", None), ("fit_intercept", False)]:
        assert name in FMOrdinalRegressor._removed_parameters
        with pytest.raises(TypeError, match=f"does not take {name}: "):
            FMOrdinalRegressor(**{name: value})


def test_groups_are_for_mcmc_and_als_only(Xy):
    X, y = Xy
    groups = np.zeros(X.shape[1], int)
    with pytest.raises(ValueError, match="groups are read by solver='mcmc'"):
        FMRegressor(solver="adagrad", max_iter=1).fit(X, y, groups=groups)
    FMRegressor(solver="als", max_iter=1).fit(X, y, groups=groups)  # per-group strengths


def test_init_params_take_the_estimator_dtype(Xy):
    X, y = Xy
    start = FMRegressor(n_factors=2, max_iter=1, random_state=0).fit(X, y)._model_params()
    assert start.dtype == np.float64
    for solver in ("adagrad", "als", "mcmc"):
        fm = FMRegressor(n_factors=2, solver=solver, max_iter=2, dtype="float32", random_state=0)
        fm.fit(X, y, init_params=start)
        assert fm.V_.dtype == np.float32 and fm.w_.dtype == np.float32


def test_a_cold_refit_scores_eval_sets_in_its_own_dtype(Xy):
    X, y = Xy
    fm = FMRegressor(n_factors=2, max_iter=2, tol=None, dtype="float32", random_state=0)
    fm.fit(X, y)
    fm.set_params(dtype="float64").fit(X, y, eval_set=[(X, y)])
    fresh = FMRegressor(n_factors=2, max_iter=2, tol=None, random_state=0)
    fresh.fit(X, y, eval_set=[(X, y)])
    assert fm.history_.valid["rmse"] == fresh.history_.valid["rmse"]


def test_auto_init_std_follows_the_number_of_pairs_per_row():
    from fmlearn._base import auto_init_std

    rng = np.random.default_rng(0)
    X = sp.random(50, 30, density=0.2, random_state=1, format="csr")
    X.data = rng.normal(size=X.nnz)
    dense = X.toarray()
    pairs = np.mean(
        [sum(r[i] ** 2 * r[j] ** 2 for i in range(30) for j in range(i + 1, 30)) for r in dense]
    )
    assert auto_init_std(X, 8) == pytest.approx(0.1 * (8 * pairs) ** -0.25, rel=1e-12)
    one_hot = sp.csr_matrix((np.ones(40), np.arange(40) % 8, np.arange(0, 41, 4)), shape=(10, 8))
    assert auto_init_std(one_hot, 16) == pytest.approx(0.1 * (16 * 6) ** -0.25)  # 4 ids: 6 pairs
    assert auto_init_std(sp.identity(5, format="csr"), 8) == 0.1  # no pairs: no scaling


@pytest.mark.parametrize("solver", ["adagrad", "ftrl", "als", "mcmc"])
def test_init_std_auto_is_the_rule_for_sgd_and_libfms_for_sweeps(Xy, solver):
    from fmlearn._base import auto_init_std

    X, y = Xy
    X = sp.csr_matrix(X)
    scale = auto_init_std(X, 4) if solver in ("adagrad", "ftrl") else 0.1
    auto = FMRegressor(4, solver=solver, max_iter=2, random_state=0).fit(X, y)
    explicit = FMRegressor(4, solver=solver, max_iter=2, init_std=scale, random_state=0)
    np.testing.assert_array_equal(auto.V_, explicit.fit(X, y).V_)
    assert auto.init_std == "auto"

"""FTRL-Proximal (solver="ftrl"): exact zeros from L1, its state, and every model it trains."""

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

import fmlearn
from fmlearn import FFMClassifier, FMClassifier, FMRegressor
from fmlearn.datasets import make_ctr
from fmlearn.models import FMParams
from fmlearn.solvers.sgd import OptimizerState, SGDConfig


@pytest.fixture(scope="module")
def ctr():
    X, y, truth = make_ctr(n_samples=30_000, n_fields=10, n_features=3_000, random_state=3)
    return X[:25_000], y[:25_000], X[25_000:], y[25_000:], truth


def test_l1_gives_exact_zeros_and_sparsity_reports_them(ctr):
    X, y, X_test, y_test, _ = ctr
    seen = np.unique(X.indices)
    fractions = []
    for l1 in (0.0, 2.0, 20.0):
        fm = FMClassifier(
            4, solver="ftrl", l1_linear=l1, l1_factors=l1, max_iter=3, random_state=0
        ).fit(X, y)
        zero_w = np.mean(fm.w_[seen] == 0.0)
        fractions.append((zero_w, fm.sparsity_["factors"]))
        assert fm.sparsity_["linear"] == pytest.approx(np.mean(fm.w_ == 0.0))
        assert fm.sparsity_["factors"] == pytest.approx(np.mean(fm.V_ == 0.0))
        assert roc_auc_score(y_test, fm.predict_proba(X_test)[:, 1]) > 0.6
    # without L1 only unseen features stay at 0; more L1, more exact zeros
    assert fractions[0] == (0.0, 0.0)
    assert fractions[0][0] < fractions[1][0] < fractions[2][0]
    assert fractions[1][1] < fractions[2][1]
    assert fractions[2][0] > 0.5


def test_fresh_state_gives_back_the_starting_parameters():
    """FTRL recomputes weights from (z, n): z starts where that closed form is the start."""
    rng = np.random.default_rng(0)
    params = FMParams(np.array([0.3]), rng.normal(size=20), rng.normal(size=(20, 3)))
    config = SGDConfig(0, 3, 0.2, 0, 0, 0, True, True, 1, 1, rng, l1_linear=0.5, l1_factors=0.1)
    state = OptimizerState.fresh(3, params, config)
    for j, (p, l1) in enumerate(zip(params.as_tuple(), (0.0, 0.5, 0.1), strict=True)):
        z, n = state.arrays[2 * j], state.arrays[2 * j + 1]
        assert np.all(n == 0.0)
        closed = np.where(
            np.abs(z) <= l1, 0.0, -(z - np.sign(z) * l1) * config.learning_rate / config.ftrl_beta
        )
        np.testing.assert_allclose(closed, p, rtol=1e-14, atol=1e-15)


def test_zero_weight_rows_leave_the_model_exactly_as_it_was(ctr):
    """Starting from another solver's model, FTRL moves only what weighted rows touch."""
    X, y = ctr[0][:2000], ctr[1][:2000]
    start = FMClassifier(4, solver="adagrad", max_iter=1, random_state=0).fit(X, y)
    weights = np.zeros(len(y))
    weights[-1] = 1.0
    ftrl = FMClassifier(4, solver="ftrl", max_iter=1, shuffle=False, random_state=0)
    ftrl.fit(X, y, sample_weight=weights, init_params=start._model_params())
    untouched = np.setdiff1d(np.arange(X.shape[1]), X[-1].indices)
    np.testing.assert_array_equal(ftrl.V_[untouched], start.V_[untouched])
    np.testing.assert_array_equal(ftrl.w_[untouched], start.w_[untouched])
    assert not np.array_equal(ftrl.V_[X[-1].indices], start.V_[X[-1].indices])


def test_saved_state_continues_bit_for_bit(tmp_path, ctr):
    X, y = ctr[0][:3000], ctr[1][:3000]
    kw = dict(solver="ftrl", l1_linear=0.5, max_iter=2, tol=None, random_state=0)
    fm = FMClassifier(4, warm_start=True, shuffle=False, **kw).fit(X, y)
    fm.save(tmp_path / "m")
    loaded = fmlearn.load(tmp_path / "m")
    fm.fit(X, y)
    loaded.fit(X, y)
    np.testing.assert_array_equal(loaded.V_, fm.V_)
    np.testing.assert_array_equal(loaded.w_, fm.w_)


def test_partial_fit_and_minibatches_and_threads(ctr):
    X, y, X_test, y_test, _ = ctr
    online = FMClassifier(4, solver="ftrl", random_state=0)
    for start in range(0, X.shape[0], 5000):
        online.partial_fit(X[start : start + 5000], y[start : start + 5000], classes=[0, 1])
    batched = FMClassifier(4, solver="ftrl", batch_size=16, learning_rate=0.5, max_iter=3,
                           random_state=0).fit(X, y)  # fmt: skip
    hogwild = FMClassifier(4, solver="ftrl", n_jobs=2, max_iter=3, random_state=0).fit(X, y)
    for fm in (online, batched, hogwild):
        assert roc_auc_score(y_test, fm.predict_proba(X_test)[:, 1]) > 0.6


def test_trains_the_field_aware_model(ctr):
    X, y, X_test, y_test, truth = ctr
    fields = np.repeat(np.arange(len(truth.field_sizes)), truth.field_sizes)
    ffm = FFMClassifier(solver="ftrl", l1_linear=1.0, max_iter=3, random_state=0)
    ffm.fit(X, y, fields=fields)
    assert roc_auc_score(y_test, ffm.predict_proba(X_test)[:, 1]) > 0.6
    assert ffm.sparsity_["linear"] > 0.0


def test_regression_with_ftrl_and_l1_on_factors_only(ratings):
    X, y = ratings[0][:5000], ratings[1][:5000]
    fm = FMRegressor(4, solver="ftrl", l1_factors=5.0, max_iter=5, random_state=0).fit(X, y)
    assert fm.sparsity_["factors"] > 0.0
    assert np.all(np.isfinite(fm.predict(X)))


def test_adagrad_memory_starts_at_one_so_a_rare_feature_takes_a_small_step():
    """libffm's AdaGrad: Σg² starts at 1, so the first step is lr·g/√(1+g²), not ±lr."""
    X = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    fm = FMClassifier(2, solver="adagrad", random_state=0, shuffle=False)
    fm.partial_fit(X[:1], [1], classes=[0, 1])
    g = -0.5  # ∂logloss/∂ŷ at ŷ = 0 for a positive row: the model starts at 0
    assert fm.w_[0] == pytest.approx(-0.1 * g / (np.sqrt(1.0 + g * g) + 1e-8), rel=1e-9)
    assert fm.w_[1] == 0.0
    state = fm._solver_state.arrays
    assert state[2][0] == pytest.approx(1.0 + g * g) and state[2][1] == 1.0


def test_continuing_with_another_learning_rate_or_l1_keeps_the_weights(ctr):
    """z stands for a weight only under the α and λ1 it was built with: a continued fit
    with others re-derives it, so a tiny α moves the model a little, not shrinks it."""
    X, y = ctr[0][:5000], ctr[1][:5000]
    fm = FMClassifier(4, solver="ftrl", l1_linear=0.5, max_iter=2, tol=None, random_state=0)
    fm.fit(X, y)
    V, w = fm.V_.copy(), fm.w_.copy()
    fm.set_params(warm_start=True, max_iter=1, learning_rate=0.001, l1_linear=0.1).fit(X, y)
    seen = np.unique(X.indices)
    ratio = np.abs(fm.V_[seen]) / np.abs(V[seen])
    assert 0.95 < np.median(ratio) < 1.05  # was ~0.01: every weight scaled by α'/α
    assert np.max(np.abs(fm.w_ - w)) < 0.05
    online = FMClassifier(4, solver="ftrl", random_state=0).partial_fit(X, y, classes=[0, 1])
    V = online.V_.copy()
    online.set_params(learning_rate=0.001).partial_fit(X, y)
    assert 0.95 < np.median(np.abs(online.V_[seen]) / np.abs(V[seen])) < 1.05

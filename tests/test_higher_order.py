"""Higher-order FMs through the estimators: FMRegressor / FMClassifier(degree=3…5)."""

import numpy as np
import pytest
import scipy.sparse as sp

import fmlearn
from fmlearn import FMClassifier, FMRegressor
from fmlearn.models import HOFM, HOFMParams


@pytest.fixture(scope="module")
def planted():
    """A planted degree-3 model over 5 one-hot fields of 6 values, rank 2, noise 0.1."""
    rng = np.random.default_rng(0)
    n, F, per, k = 20_000, 5, 6, 2
    cols = rng.integers(0, per, size=(n, F)) + np.arange(F) * per
    X = sp.csr_matrix((np.ones(n * F), cols.ravel(), np.arange(0, n * F + 1, F)),
                      shape=(n, F * per))  # fmt: skip
    truth = HOFMParams(
        np.zeros(1), rng.normal(0, 0.3, F * per), rng.normal(0, 0.6, (F * per, 2, k))
    )
    y = HOFM(k, degree=3).decision(X, truth) + rng.normal(0, 0.1, n)
    return X[:16_000], y[:16_000], X[16_000:], y[16_000:]


def rmse(model, X, y):
    return float(np.sqrt(np.mean((model.predict(X) - y) ** 2)))


def test_degree_three_recovers_what_the_fm_cannot(planted):
    X, y, Xt, yt = planted
    kw = dict(n_factors=4, learning_rate=0.3, reg_factors=0.0, max_iter=100, tol=None,
              random_state=0)  # fmt: skip
    fm = rmse(FMRegressor(**kw).fit(X, y), Xt, yt)
    hofm = rmse(FMRegressor(degree=3, **kw).fit(X, y), Xt, yt)
    assert hofm <= 0.3 * fm  # measured: 0.104 (the noise is 0.1) against 0.52
    assert hofm < 0.12


def test_the_defaults_learn_the_higher_orders(planted):
    """Only degree set: "auto" gives each order its own initial spread and reg_factors
    defaults to 0.01, so the order-3 factors are not shrunk to 0 before they learn."""
    X, y, Xt, yt = planted
    fm = rmse(FMRegressor(random_state=0).fit(X, y), Xt, yt)
    hofm = rmse(FMRegressor(degree=3, random_state=0).fit(X, y), Xt, yt)
    assert hofm < 0.3 * fm  # measured: 0.106 against 0.557


def test_auto_init_std_per_order_counts_subsets():
    from itertools import combinations
    from math import comb

    from fmlearn._base import auto_init_std, auto_init_std_per_order
    from fmlearn.kernels.row_stats import mean_subsets

    rng = np.random.default_rng(0)
    X = sp.random(50, 12, density=0.4, random_state=0, format="csr")
    X.data = rng.uniform(-2, 2, X.nnz)
    dense = X.toarray() ** 2
    brute = [np.mean([sum(np.prod(r[list(c)]) for c in combinations(range(12), m))
                      for r in dense]) for m in (2, 3, 4)]  # fmt: skip
    np.testing.assert_allclose(mean_subsets(X.indptr, X.data, 4), brute, rtol=1e-10)
    onehot = sp.csr_matrix((np.ones(30), np.arange(30), np.arange(0, 31, 5)), shape=(6, 30))
    stds = auto_init_std_per_order(onehot, 4, 4)
    assert stds[0] == auto_init_std(onehot, 4)
    for m, std in zip((3, 4), stds[1:], strict=True):  # spread of the order-m term: 0.3
        assert np.sqrt(4 * comb(5, m)) * std**m == pytest.approx(0.3)


def test_shapes_save_load_and_the_fitted_degree(planted, tmp_path):
    X, y, Xt, _ = planted
    model = FMRegressor(n_factors=3, degree=4, max_iter=2, random_state=0).fit(X, y)
    assert model.V_.shape == (X.shape[1], 3, 3)
    model.save(tmp_path / "h.fmlearn")
    loaded = fmlearn.load(tmp_path / "h.fmlearn")
    np.testing.assert_array_equal(loaded.predict(Xt), model.predict(Xt))
    expected = model.predict(Xt)
    model.set_params(degree=2)  # prediction uses the fitted model's degree
    np.testing.assert_array_equal(model.predict(Xt), expected)
    with pytest.raises(ValueError, match="Cannot continue training"):
        model.set_params(warm_start=True).fit(X, y)


def test_partial_fit_threads_and_float32(planted):
    X, y, Xt, yt = planted
    online = FMRegressor(degree=3, n_factors=4, random_state=0, dtype="float32")
    for start in range(0, X.shape[0], 4_000):
        online.partial_fit(X[start : start + 4_000], y[start : start + 4_000])
    assert online.V_.dtype == np.float32
    threaded = FMRegressor(degree=3, n_factors=4, max_iter=5, n_jobs=2, random_state=0).fit(X, y)
    assert rmse(threaded, Xt, yt) < np.std(yt)


def test_classifier(planted):
    X, y, Xt, yt = planted
    clf = FMClassifier(degree=3, n_factors=4, max_iter=5, random_state=0).fit(X, y > 0)
    assert clf.V_.shape == (X.shape[1], 2, 4)
    assert clf.score(Xt, yt > 0) > 0.7


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: FMRegressor(degree=3, solver="mcmc"), r"degree=3 .*SGD family.*solver='mcmc'"),
        (lambda: FMRegressor(degree=6), r"'degree' parameter .* range \[2, 5\]"),
        (lambda: FMRegressor(degree=1), r"'degree' parameter .* range \[2, 5\]"),
        (lambda: FMRegressor(degree=3, batch_size=8), "row by row"),
    ],
)
def test_refusals(planted, make, message):
    X, y, _, _ = planted
    with pytest.raises(ValueError, match=message):
        make().fit(X[:200], y[:200])


def test_als_recovers_the_higher_orders(planted):
    """Coordinate descent (kernels/anova_coordinate.py) at ALS's default strengths."""
    X, y, Xt, yt = planted
    fm = rmse(FMRegressor(n_factors=4, solver="als", max_iter=30, random_state=0).fit(X, y),
              Xt, yt)  # fmt: skip
    hofm = FMRegressor(n_factors=4, degree=3, solver="als", max_iter=30, random_state=0)
    assert rmse(hofm.fit(X, y), Xt, yt) < 0.3 * fm  # measured: 0.104 against 0.518
    with pytest.raises(ValueError, match=r"groups and per-group .* are for degree 2"):
        FMRegressor(degree=3, solver="als").fit(X[:300], y[:300], groups=np.zeros(X.shape[1], int))


def test_als_classifies_with_the_higher_orders_by_probit_em(planted):
    """FMClassifier(degree=3, solver="als"): probit EM, as the FM's ALS classifier."""
    from sklearn.metrics import log_loss

    X, y, Xt, yt = planted
    labels, test_labels = y > np.median(y), yt > np.median(y)
    kw = dict(n_factors=4, solver="als", max_iter=30, random_state=0)
    fm = FMClassifier(**kw).fit(X, labels)
    hofm = FMClassifier(degree=3, **kw).fit(X, labels)
    loss_fm = log_loss(test_labels, fm.predict_proba(Xt)[:, 1])
    loss_hofm = log_loss(test_labels, hofm.predict_proba(Xt)[:, 1])
    assert loss_hofm < 0.85 * loss_fm, (loss_hofm, loss_fm)  # measured: 0.178 against 0.223
    assert hofm.score(Xt, test_labels) > fm.score(Xt, test_labels)  # 0.928 against 0.907


def test_probit_em_never_increases_its_objective(planted):
    """Each sweep (latent targets' expectations, then exact coordinate minimisers) is a
    generalised EM step: −Σ log Φ(±ŷ) + ½ Σ λ θ² does not go up."""
    from scipy.stats import norm

    X, y, _, _ = planted
    X, labels = X[:3000], y[:3000] > np.median(y)
    sign = np.where(labels, 1.0, -1.0)
    objective = []
    for sweeps in range(1, 9):
        m = FMClassifier(n_factors=3, degree=3, solver="als", max_iter=sweeps, reg_bias=0.01,
                         reg_linear=0.1, reg_factors=0.1,
                         random_state=0).fit(X, labels)  # fmt: skip
        penalty = m.reg_bias * float(m.w0_) ** 2 + m.reg_linear * np.sum(m.w_**2)
        penalty += m.reg_factors * np.sum(m.V_**2)
        objective.append(-norm.logcdf(sign * m.decision_function(X)).sum() + 0.5 * penalty)
    assert np.all(np.diff(objective) <= 1e-9 * abs(objective[0])), np.diff(objective)
    assert objective[-1] < objective[0]


def test_multiclass_is_degree_two(planted):
    X, _, _, _ = planted
    with pytest.raises(ValueError, match=r"degree=3\): y has 3 classes"):
        FMClassifier(degree=3).fit(X[:300], np.arange(300) % 3)

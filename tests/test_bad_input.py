"""Every user mistake gets a clear ValueError/TypeError, never a numba traceback."""

import numpy as np
import pytest
import scipy.sparse as sp

from fmlearn import FMClassifier, FMRegressor


@pytest.fixture(scope="module")
def Xy():
    rng = np.random.default_rng(0)
    X = sp.random(200, 10, density=0.3, random_state=0, format="csr")
    return X, rng.normal(size=200)


@pytest.mark.parametrize(
    "param, value, expected",
    [
        (
            "n_factors",
            0,
            "The 'n_factors' parameter of FMRegressor must be an int in the "
            "range [1, inf). Got 0 instead.",
        ),
        ("n_factors", -3, "must be an int in the range [1, inf). Got -3"),
        ("n_factors", 2.5, "must be an int"),
        ("learning_rate", 0.0, "must be a float in the range (0, inf) or None. Got 0.0"),
        ("learning_rate", -1.0, "'learning_rate'"),
        ("max_iter", 0, "'max_iter' parameter of FMRegressor must be an int in the range [1"),
        (
            "solver",
            "lbfgs",
            "{'sgd', 'adagrad', 'adam', 'ftrl', 'sgda', 'als', 'mcmc'}. Got 'lbfgs'",
        ),
        ("reg_factors", -0.1, "'reg_factors'"),
        ("batch_size", 0, "'batch_size'"),
        ("validation_fraction", 1.0, "'validation_fraction'"),
        ("dtype", "float16", "'dtype'"),
        ("random_state", "seed", "'random_state'"),
        ("early_stopping", "yes", "must be a bool"),
        ("learning_rate", float("nan"), "'learning_rate'"),
    ],
)
def test_bad_parameters(Xy, param, value, expected):
    with pytest.raises(ValueError) as info:
        FMRegressor(**{param: value}).fit(*Xy)
    assert expected in str(info.value)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_X(Xy, bad):
    X, y = Xy
    X = X.copy()
    X.data[3] = bad
    with pytest.raises(ValueError, match=r"Input X contains (NaN|infinity)"):
        FMRegressor().fit(X, y)
    fm = FMRegressor(max_iter=1).fit(*Xy)
    with pytest.raises(ValueError, match="Input X contains"):
        fm.predict(X)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_y(Xy, bad):
    X, y = Xy
    y = y.copy()
    y[5] = bad
    with pytest.raises(ValueError, match=r"y contains (NaN|infinity)"):
        FMRegressor().fit(X, y)


def test_wrong_feature_count_at_predict(Xy):
    fm = FMRegressor(max_iter=1).fit(*Xy)
    with pytest.raises(ValueError, match=r"X has 11 features, but FMRegressor was fitted on 10"):
        fm.predict(sp.random(5, 11, density=0.5, format="csr"))
    with pytest.raises(ValueError, match=r"X\[:, :10\]"):  # says how to keep the model's columns
        fm.predict(sp.random(5, 11, density=0.5, format="csr"))
    # dense input must match exactly (scikit-learn's rule)
    with pytest.raises(ValueError, match="X has 9 features, but FMRegressor is expecting 10"):
        fm.predict(np.ones((5, 9)))


def test_a_model_larger_than_memory_is_refused_before_allocating(monkeypatch):
    """ids straight from a database make X as wide as the highest index: say so, and how
    to fix it, before drawing the factors (and before an out-of-memory kill mid-epoch)."""
    import fmlearn._base as base

    X = sp.csr_matrix((np.ones(4), [0, 3, 5, 99_999], [0, 2, 4]), shape=(2, 100_000))
    monkeypatch.setattr(base, "physical_memory", lambda: 2**20)  # a 1 MiB machine
    drawn = []
    monkeypatch.setattr(base.FM, "init_params", lambda *a: drawn.append(1))
    with pytest.raises(MemoryError, match="only 4 of them hold a value") as exc:
        FMRegressor(n_factors=8, max_iter=1).fit(X, np.ones(2))
    assert "adagrad optimiser's state" in str(exc.value) and "hash" in str(exc.value)
    assert drawn == []
    monkeypatch.undo()
    FMRegressor(n_factors=8, max_iter=1).fit(X, np.ones(2))  # fits where memory allows


def test_narrower_sparse_input_is_widened(Xy):
    """A test file in libFM / libSVM format is as wide as its highest index: its missing
    columns are zeros, at predict and in eval sets, and the caller's matrix is untouched."""
    X, y = Xy
    fm = FMRegressor(max_iter=2, random_state=0).fit(X, y)
    narrow = sp.csr_matrix(X[:, :7])
    widened = sp.hstack([narrow, sp.csr_matrix((X.shape[0], 3))], format="csr")
    np.testing.assert_array_equal(fm.predict(narrow), fm.predict(widened))
    np.testing.assert_array_equal(fm.predict(narrow.tocsc()), fm.predict(widened))
    assert narrow.shape == (X.shape[0], 7)
    a = FMRegressor(max_iter=2, random_state=0).fit(X, y, eval_set=[(narrow, y)])
    b = FMRegressor(max_iter=2, random_state=0).fit(X, y, eval_set=[(widened, y)])
    assert a.history_.valid == b.history_.valid


def test_non_numeric_regression_target(Xy):
    X, _ = Xy
    with pytest.raises((TypeError, ValueError), match=r"numeric|float"):
        FMRegressor().fit(X, np.array(["a"] * 200))


@pytest.mark.parametrize(
    "labels, message, solver",
    [
        (np.zeros(200), "two or more classes in y, got 1 class", "adagrad"),
        (np.arange(200) % 3, r"Only binary classification is supported .*OneVsRest", "mcmc"),
        (np.arange(200) % 3, r"Only binary classification is supported .*OneVsRest", "als"),
        (np.linspace(0, 1, 200), "Unknown label type", "adagrad"),
    ],
)
def test_classifier_labels(Xy, labels, message, solver):
    with pytest.raises(ValueError, match=message):
        FMClassifier(solver=solver).fit(Xy[0], labels)


def test_unknown_label_in_eval_set(Xy):
    X, y = Xy
    labels = (y > 0).astype(int)
    with pytest.raises(ValueError, match="not among the classes"):
        FMClassifier(max_iter=1).fit(X, labels, eval_set=[(X, labels + 5)])


def test_empty_X():
    with pytest.raises(ValueError, match="0 sample"):
        FMRegressor().fit(sp.csr_matrix((0, 5)), np.array([]))
    with pytest.raises(ValueError, match="0 feature"):
        FMRegressor().fit(np.empty((5, 0)), np.ones(5))


@pytest.mark.parametrize(
    "weights, message",
    [
        (np.ones(199), "sample_weight has 199 elements, but X has 200 rows"),
        (-np.ones(200), "non-negative"),
        (np.zeros(200), "zero for every sample"),
        (np.full(200, np.nan), "NaN or infinity"),
        (np.ones((200, 2)), "1-dimensional"),
    ],
)
def test_bad_sample_weight(Xy, weights, message):
    with pytest.raises(ValueError, match=message):
        FMRegressor().fit(*Xy, sample_weight=weights)


def test_bad_eval_set(Xy):
    X, y = Xy
    with pytest.raises(ValueError, match=r"eval_set\[0\] must be a tuple"):
        FMRegressor().fit(X, y, eval_set=[X])
    with pytest.raises(ValueError, match="X has 3 features"):
        FMRegressor().fit(X, y, eval_set=[(np.ones((4, 3)), np.ones(4))])


def test_early_stopping_needs_rows():
    with pytest.raises(ValueError, match="early_stopping needs a validation set"):
        FMRegressor(early_stopping=True, validation_fraction=0.1).fit(np.eye(5), np.arange(5.0))


def test_warm_start_with_new_shape(Xy):
    X, y = Xy
    fm = FMRegressor(max_iter=1, warm_start=True).fit(X, y)
    fm.set_params(n_factors=3)
    with pytest.raises(ValueError, match="Cannot continue training"):
        fm.fit(X, y)


def test_a_failed_fit_leaves_the_previous_model_usable(Xy):
    X, y = Xy
    fm = FMRegressor(n_factors=2, max_iter=3, random_state=0).fit(X, y)
    before = fm.predict(X)
    wider = sp.random(50, 14, density=0.3, random_state=1, format="csr")
    widest = sp.random(50, 16, density=0.3, random_state=2, format="csr")
    with pytest.raises(ValueError, match="16 features"):
        fm.fit(wider, np.ones(50), eval_set=[(widest, np.ones(50))])  # 16 columns, X 14
    assert fm.n_features_in_ == 10
    np.testing.assert_array_equal(fm.predict(X), before)

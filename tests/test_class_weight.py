"""class_weight: the same fit as the equivalent sample weights, for every solver."""

from __future__ import annotations

import numpy as np
import pytest

import fmlearn
from fmlearn import FFMClassifier, FMClassifier


@pytest.fixture(scope="module")
def clicks(ratings):
    X, y, *_ = ratings
    X, y = X[:3000], y[:3000]
    labels = np.where(y > np.quantile(y, 0.8), 7, 3)  # int labels, 20 % positive
    return X, labels


@pytest.mark.parametrize("solver", ["adagrad", "als", "mcmc"])
@pytest.mark.parametrize("class_weight", ["balanced", {7: 4.0}])
def test_class_weight_is_the_matching_sample_weight(clicks, solver, class_weight):
    X, y = clicks
    base = np.random.default_rng(0).uniform(0.5, 1.5, len(y))
    if class_weight == "balanced":
        per_class = {c: len(y) / (2 * np.sum(y == c)) for c in (3, 7)}
    else:
        per_class = {3: 1.0, 7: 4.0}
    expected = base * np.array([per_class[label] for label in y])
    kw = dict(n_factors=2, solver=solver, max_iter=4, random_state=0)
    weighted = FMClassifier(class_weight=class_weight, **kw).fit(X, y, sample_weight=base)
    manual = FMClassifier(**kw).fit(X, y, sample_weight=expected)
    np.testing.assert_allclose(weighted.V_, manual.V_, rtol=1e-12, atol=1e-12)
    assert (
        weighted.predict_proba(X)[:, 1].mean()
        > FMClassifier(**kw).fit(X, y, sample_weight=base).predict_proba(X)[:, 1].mean()
    )


def test_class_weight_errors(clicks):
    X, y = clicks
    with pytest.raises(ValueError, match=r"class_weight names labels that are not classes: \[5\]"):
        FMClassifier(class_weight={5: 2.0}, max_iter=1).fit(X, y)
    with pytest.raises(ValueError, match="'class_weight' parameter of FMClassifier must be"):
        FMClassifier(class_weight="even", max_iter=1).fit(X, y)
    with pytest.raises(ValueError, match="finite and ≥ 0"):
        FMClassifier(class_weight={7: -1.0}, max_iter=1).fit(X, y)
    with pytest.raises(ValueError, match="sees one chunk at a time"):
        FMClassifier(class_weight="balanced").partial_fit(X, y, classes=[3, 7])


def test_partial_fit_with_a_dict(clicks):
    X, y = clicks
    fm = FMClassifier(n_factors=2, class_weight={7: 3.0}, random_state=0)
    fm.partial_fit(X[:1000][y[:1000] == 3], y[:1000][y[:1000] == 3], classes=[3, 7])
    fm.partial_fit(X[1000:], y[1000:])
    assert fm.n_iter_ == 2


def test_saved_with_its_label_types_and_refits(clicks, tmp_path):
    X, y = clicks
    fm = FMClassifier(n_factors=2, max_iter=2, class_weight={7: 4.0}, random_state=0).fit(X, y)
    fmlearn.save(fm, tmp_path / "m.fmlearn")
    back = fmlearn.load(tmp_path / "m.fmlearn")
    assert back.class_weight == {7: 4.0}
    np.testing.assert_array_equal(back.predict_proba(X), fm.predict_proba(X))
    np.testing.assert_array_equal(back.fit(X, y).V_, fm.fit(X, y).V_)


def test_field_aware_classifier_takes_it_too(clicks):
    X, y = clicks
    fields = np.arange(X.shape[1]) % 3
    kw = dict(n_factors=2, max_iter=2, random_state=0)
    weighted = FFMClassifier(class_weight="balanced", **kw).fit(X, y, fields=fields)
    plain = FFMClassifier(**kw).fit(X, y, fields=fields)
    assert weighted.predict_proba(X)[:, 1].mean() > plain.predict_proba(X)[:, 1].mean()

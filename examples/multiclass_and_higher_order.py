"""
More than two classes, and interactions of three features
=========================================================

Two members of the FM family beyond the classic one, on generated data (offline, seconds):

* **Multiclass**: five classes drawn from a planted softmax FM over eight one-hot fields.
  ``FMClassifier`` fits one score per class (a softmax FM): each class its own factors
  (``multiclass="separate"``, the default) or shared factors with a projection per class
  (``"shared"``). Against multinomial logistic regression, one-vs-rest binary FMs, and the
  planted model's own log-loss (the best any model can do).
* **Higher order**: ratings with a planted three-way interaction (five one-hot fields).
  The FM models pairs only; ``degree=3`` adds the sum over every three features with
  factors of its own (Blondel et al. 2016), trained by AdaGrad or ALS.

    python examples/multiclass_and_higher_order.py [--quick]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, log_loss
from sklearn.multiclass import OneVsRestClassifier

from fmlearn import FMClassifier, FMRegressor
from fmlearn.datasets import make_multiclass
from fmlearn.models import HOFM, HOFMParams


def multiclass(n_rows: int) -> list[tuple]:
    """(model, test log-loss, accuracy, seconds) on planted 5-class data."""
    X, y, truth = make_multiclass(n_rows + 10_000, n_classes=5, n_features=300, random_state=0)
    X_train, y_train, X_test, y_test = X[:n_rows], y[:n_rows], X[n_rows:], y[n_rows:]
    models = {
        "logistic regression": LogisticRegression(max_iter=1000),
        "one-vs-rest FMs": OneVsRestClassifier(FMClassifier(n_factors=4, learning_rate=0.03,
                                                            max_iter=12, tol=None,
                                                            random_state=0)),
        "FMClassifier separate": FMClassifier(n_factors=4, learning_rate=0.03, max_iter=12,
                                              tol=None, random_state=0),
        "FMClassifier shared": FMClassifier(n_factors=4, multiclass="shared",
                                            learning_rate=0.03, max_iter=12, tol=None,
                                            random_state=0),
    }  # fmt: skip
    rows = []
    for name, model in models.items():
        start = time.perf_counter()
        model.fit(X_train, y_train)
        seconds = time.perf_counter() - start
        proba = model.predict_proba(X_test)
        rows.append((name, log_loss(y_test, proba), accuracy_score(y_test, proba.argmax(1)),
                     seconds))  # fmt: skip
    best = truth.predict_proba(X_test)
    rows.append(("planted model (best possible)", log_loss(y_test, best),
                 accuracy_score(y_test, best.argmax(1)), 0.0))  # fmt: skip
    return rows


def planted_three_way(n_rows: int, seed: int = 0):
    """Ratings from a planted degree-3 model: 5 fields × 6 values, rank 2, noise 0.1."""
    rng = np.random.default_rng(seed)
    n_fields, per = 5, 6
    cols = rng.integers(0, per, size=(n_rows, n_fields)) + np.arange(n_fields) * per
    indptr = np.arange(0, n_rows * n_fields + 1, n_fields)
    X = sp.csr_matrix((np.ones(n_rows * n_fields), cols.ravel(), indptr),
                      shape=(n_rows, n_fields * per))  # fmt: skip
    truth = HOFMParams(np.zeros(1), rng.normal(0, 0.3, n_fields * per),
                       rng.normal(0, 0.6, (n_fields * per, 2, 2)))  # fmt: skip
    y = HOFM(2, degree=3).decision(X, truth) + rng.normal(0, 0.1, n_rows)
    return X, y


def higher_order(n_rows: int) -> list[tuple]:
    """(model, test RMSE, seconds) on planted three-way ratings."""
    X, y = planted_three_way(n_rows + 5_000)
    X_train, y_train, X_test, y_test = X[:n_rows], y[:n_rows], X[n_rows:], y[n_rows:]
    models = {
        "FM (pairs), AdaGrad": FMRegressor(n_factors=4, random_state=0),
        "degree 3, AdaGrad": FMRegressor(n_factors=4, degree=3, random_state=0),
        "degree 3, ALS": FMRegressor(n_factors=4, degree=3, solver="als", max_iter=30,
                                     random_state=0),
    }  # fmt: skip
    rows = [("noise level (best possible)", 0.1, 0.0)]
    for name, model in models.items():
        start = time.perf_counter()
        model.fit(X_train, y_train)
        seconds = time.perf_counter() - start
        rows.append((name, float(np.sqrt(np.mean((model.predict(X_test) - y_test) ** 2))),
                     seconds))  # fmt: skip
    return rows


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="multiclass and higher-order FMs")
    parser.add_argument("--quick", action="store_true", help="fewer rows")
    args = parser.parse_args(argv)
    n = 10_000 if args.quick else 30_000
    print(f"Five classes, {n:,} training rows (planted softmax FM, 300 one-hot features):")
    print(f"{'model':<32} {'log-loss':>9} {'accuracy':>9} {'seconds':>8}")
    for name, loss, acc, seconds in multiclass(n):
        print(f"{name:<32} {loss:>9.4f} {acc:>9.3f} {seconds:>8.2f}")
    print(f"\nRatings with a three-way interaction, {n:,} training rows:")
    print(f"{'model':<32} {'RMSE':>9} {'seconds':>8}")
    for name, rmse, seconds in higher_order(n):
        print(f"{name:<32} {rmse:>9.4f} {seconds:>8.2f}")


if __name__ == "__main__":
    main()

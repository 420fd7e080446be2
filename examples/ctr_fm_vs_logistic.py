"""
Click-through prediction: FM vs logistic regression on Frappe and a Criteo sample
=================================================================================

* Frappe (the NFM/AFM libFM split: train on the validation file, test on the test file;
  10 one-hot fields: user, app and 8 context fields) — does a user open an app in a
  context? Pairwise terms (user × app, app × time of day …) are the whole signal.
* Criteo (the 1,999-row Kaggle 2014 sample shipped with the 1st-place solution): 13
  counts (binned) and 26 hashed categorical fields, 5-fold cross-validated. Far too small
  to learn interactions from; it shows the reader → encoder → model path on real CTR
  columns, and that with so little data an FM is not better than a linear model. The
  FM stops early on a held-out tenth of each training fold (``early_stopping=True``):
  five fixed epochs overfit 1,600 rows to a log-loss of 0.59, worse than predicting the
  base rate (0.51, the "constant" row).

    python examples/ctr_fm_vs_logistic.py [--quick]

Needs ../shared/data/frappe and ../shared/data/criteo-sample (skips what is absent).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss, roc_auc_score
from sklearn.model_selection import StratifiedKFold

from fmlearn import FMClassifier, FMEncoder
from fmlearn.io import load_libfm

# sphinx-gallery runs the examples from this folder, without __file__
EXAMPLES = Path(__file__).resolve().parent if "__file__" in globals() else Path.cwd()
DATA = EXAMPLES.parents[1] / "shared" / "data"


def _scores(y, p) -> tuple[float, float]:
    return roc_auc_score(y, p), log_loss(y, p)


def frappe(n_sweeps: int = 100) -> list[tuple]:
    X_train, y_train = load_libfm(DATA / "frappe" / "frappe.validation.libfm")
    X_test, y_test = load_libfm(DATA / "frappe" / "frappe.test.libfm", n_features=X_train.shape[1])
    rows = []
    models = {
        "logistic regression": LogisticRegression(C=1.0, max_iter=2000),
        "FM adagrad (k=10)": FMClassifier(n_factors=10, max_iter=20, random_state=0),
        "FM mcmc (k=10)": FMClassifier(n_factors=10, solver="mcmc", max_iter=n_sweeps,
                                       random_state=0),
    }  # fmt: skip
    for name, model in models.items():
        start = time.perf_counter()
        model.fit(X_train, y_train)
        seconds = time.perf_counter() - start
        rows.append((name, *_scores(y_test > 0, model.predict_proba(X_test)[:, 1]), seconds))
    return rows


def criteo(n_splits: int = 5) -> list[tuple]:
    import pandas as pd

    frame = pd.read_csv(DATA / "criteo-sample" / "kaggle2014_train.tiny.csv")
    y = frame.pop("Label").to_numpy()
    frame = frame.drop(columns="Id")
    counts = [f"I{j}" for j in range(1, 14)]
    frame[counts] = np.log1p(frame[counts].clip(lower=0))  # heavy-tailed counts
    encoder = FMEncoder(numeric="bin", n_bins=8, hashing=True, n_features=2**16)
    totals = {"constant (base rate)": [], "logistic regression": [], "FM adagrad (k=4)": []}
    folds = StratifiedKFold(n_splits, shuffle=True, random_state=0)
    for train, test in folds.split(frame, y):
        X_train = encoder.fit_transform(frame.iloc[train])
        X_test = encoder.transform(frame.iloc[test])
        base_rate = np.full(len(test), y[train].mean())
        totals["constant (base rate)"].append((0.5, log_loss(y[test], base_rate)))
        for name, model in (
            ("logistic regression", LogisticRegression(C=0.1, max_iter=2000)),
            ("FM adagrad (k=4)", FMClassifier(n_factors=4, early_stopping=True, random_state=0)),
        ):
            p = model.fit(X_train, y[train]).predict_proba(X_test)[:, 1]
            totals[name].append(_scores(y[test], p))
    return [(name, *np.mean(s, axis=0), float("nan")) for name, s in totals.items()]


def main() -> None:
    parser = argparse.ArgumentParser(
        description="Click-through prediction: FM vs logistic regression on Frappe and a "
        "Criteo sample"
    )
    parser.add_argument("--quick", action="store_true", help="30 MCMC sweeps instead of 100")
    args = parser.parse_args()
    sections = []
    if (DATA / "frappe" / "frappe.test.libfm").exists():
        sections.append(
            ("Frappe (train 57,722 / test 28,860 rows)", frappe(30 if args.quick else 100))
        )
    if (DATA / "criteo-sample" / "kaggle2014_train.tiny.csv").exists():
        sections.append(("Criteo sample (1,999 rows, 5-fold CV)", criteo()))
    if not sections:
        raise SystemExit(f"No data under {DATA}; this example needs the shared data sets.")
    for title, rows in sections:
        print(title)
        print(f"  {'model':<22}{'AUC':>8}{'log-loss':>10}{'fit s':>8}")
        for name, auc, loss, seconds in rows:
            fit = "" if np.isnan(seconds) else f"{seconds:>8.1f}"
            print(f"  {name:<22}{auc:>8.4f}{loss:>10.4f}{fit}")


if __name__ == "__main__":
    main()

"""
Context-aware app recommendation on Frappe: FMEncoder + FMClassifier in GridSearchCV
====================================================================================

Frappe logs which app (item) a user opened in which context (time of day, weekday,
weather, country, …). As in the NFM paper, each logged (user, item, context) is a
positive and two random other apps in the same context are negatives. The raw table has
integer ids and string categories; the Pipeline encodes it and a grid search picks the
FM's rank and regularisation by cross-validated AUC. A logistic regression on the same
one-hot features shows what the pairwise interactions add.

    python examples/frappe_grid_search.py [--quick]

Needs ../shared/data/frappe/Mobile_Frappe.zip (Frappe's licence does not allow us to
redistribute it; see the README there).
"""

from __future__ import annotations

import argparse
import time
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss, roc_auc_score
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline

from fmlearn import FMClassifier, FMEncoder

# sphinx-gallery runs the examples from this folder, without __file__
EXAMPLES = Path(__file__).resolve().parent if "__file__" in globals() else Path.cwd()
ARCHIVE = EXAMPLES.parents[1] / "shared" / "data" / "frappe" / "Mobile_Frappe.zip"
CONTEXT = ["daytime", "weekday", "isweekend", "homework", "cost", "weather", "country", "city"]


def load_frappe(archive: Path = ARCHIVE, n_positives: int | None = None, seed: int = 0):
    """Positives from the log and 2 sampled negatives each: ``(frame, label)``."""
    with zipfile.ZipFile(archive) as zf, zf.open("Mobile_Frappe/frappe/frappe.csv") as fh:
        log = pd.read_csv(fh, sep="\t")
    rng = np.random.default_rng(seed)
    log = log.drop(columns="cnt").drop_duplicates(ignore_index=True)
    if n_positives is not None and n_positives < len(log):
        log = log.sample(n_positives, random_state=seed, ignore_index=True)
    negatives = pd.concat([log, log], ignore_index=True)
    negatives["item"] = rng.integers(0, log["item"].max() + 1, len(negatives))
    frame = pd.concat([log, negatives], ignore_index=True)
    label = np.r_[np.ones(len(log), dtype=int), np.zeros(len(negatives), dtype=int)]
    return frame, label


def run(n_positives: int | None = 40_000, n_epochs: int = 8, seed: int = 0) -> dict:
    frame, label = load_frappe(n_positives=n_positives, seed=seed)
    X_train, X_test, y_train, y_test = train_test_split(
        frame, label, test_size=0.2, random_state=seed, stratify=label
    )
    ids = ["user", "item", "city"]  # integer ids are categories, not numbers
    pipeline = make_pipeline(
        FMEncoder(categorical=ids),
        FMClassifier(max_iter=n_epochs, random_state=seed),
    )
    grid = GridSearchCV(
        pipeline,
        {"fmclassifier__n_factors": [4, 16], "fmclassifier__reg_factors": [0.01, 0.03]},
        scoring="roc_auc",
        cv=3,
    )
    start = time.perf_counter()
    grid.fit(X_train, y_train)
    seconds = time.perf_counter() - start
    p_fm = grid.predict_proba(X_test)[:, 1]
    linear = make_pipeline(FMEncoder(categorical=ids), LogisticRegression(max_iter=2000))
    p_lr = linear.fit(X_train, y_train).predict_proba(X_test)[:, 1]
    return {
        "rows": len(frame),
        "best_params": grid.best_params_,
        "cv_auc": grid.best_score_,
        "seconds": seconds,
        "fm": (roc_auc_score(y_test, p_fm), log_loss(y_test, p_fm)),
        "logistic regression": (roc_auc_score(y_test, p_lr), log_loss(y_test, p_lr)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description="Context-aware app recommendation on Frappe: FMEncoder + FMClassifier "
        "in GridSearchCV"
    )
    parser.add_argument("--quick", action="store_true", help="40,000 positives (~15 s)")
    args = parser.parse_args()
    if not ARCHIVE.exists():
        raise SystemExit(f"{ARCHIVE} not found: this example needs the shared Frappe data.")
    result = run(40_000) if args.quick else run(None)
    print(f"Frappe, {result['rows']:,} rows (1 positive : 2 sampled negatives), 80/20 split")
    print(f"grid search (3-fold CV AUC {result['cv_auc']:.4f}, {result['seconds']:.0f} s):")
    print(f"  best {result['best_params']}")
    print(f"{'model':<22}{'test AUC':>10}{'log-loss':>10}")
    for name in ("fm", "logistic regression"):
        auc, loss = result[name]
        label = "FM (best of grid)" if name == "fm" else name
        print(f"{label:<22}{auc:>10.4f}{loss:>10.4f}")


if __name__ == "__main__":
    main()

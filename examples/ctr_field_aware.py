"""
Click-through prediction where field pairs matter: FFM and FwFM against the plain FM
====================================================================================

A Criteo/Avazu-style table — one categorical id per column (site, app, device, ad, placement …)
and a 0/1 click — is encoded with ``FMEncoder``, whose ``fields_`` tell a field-aware FM
which column every feature came from. The clicks are drawn from a planted field-weighted
FM (``fmlearn.datasets.make_field_aware_ctr``): only a few column pairs (say ad × placement)
interact, with different strengths. An FFM keeps one vector per feature *per partner
field*, so it can learn a strong pair without disturbing the others; a plain FM weighs
every pair alike and has to compromise. A field-weighted FM (FwFM) keeps the FM's single
vector per feature and learns one strength per pair of fields (``R_``): the pairs it
weighs most are the planted ones.

    python examples/ctr_field_aware.py [--quick]

Runs offline on generated data (no ../shared needed), in a few seconds.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
from sklearn.metrics import log_loss, roc_auc_score

from fmlearn import FFMClassifier, FMClassifier, FMEncoder, FwFMClassifier
from fmlearn.datasets import make_field_aware_ctr

COLUMNS = ["site", "app", "device", "ad", "advertiser", "campaign", "placement", "segment"]


def click_table(n_rows: int, random_state: int = 0):
    """``(table, clicks, truth)``: one string id per column, skewed as real ids are.

    ``truth`` is the planted model: its logits, scored against the clicks, are the best any
    model can do, and ``truth.R`` holds the planted field-pair strengths.
    """
    X, y, fields, planted = make_field_aware_ctr(
        n_rows,
        n_fields=len(COLUMNS),
        n_features=2_000,
        sparsity=0.75,
        random_state=random_state,
    )
    offsets = np.searchsorted(fields, np.arange(len(COLUMNS)))
    ids = X.indices.reshape(n_rows, len(COLUMNS)) - offsets  # one id per field and row
    table = pd.DataFrame({c: [f"{c[:2]}{i:x}" for i in ids[:, j]] for j, c in enumerate(COLUMNS)})
    planted.logits = planted.decision(X)
    return table, y, planted


def run(n_rows: int = 100_000, max_iter: int = 30) -> dict:
    table, y, truth = click_table(n_rows)
    n_train = int(0.8 * n_rows)
    encoder = FMEncoder()  # every column is a string: one-hot, one field per column
    X_train = encoder.fit_transform(table[:n_train])
    X_test = encoder.transform(table[n_train:])
    y_train, y_test = y[:n_train], y[n_train:]
    results = {}
    common = dict(max_iter=max_iter, early_stopping=True, random_state=0)
    # The encoder's matrix carries its fields_, so the field-aware models need no fields=
    # (and make_pipeline(FMEncoder(), FFMClassifier()) works the same way).
    for label, model in (
        ("FMClassifier (k=8)", FMClassifier(8, **common)),
        ("FFMClassifier (k=4)", FFMClassifier(4, **common)),
        ("FwFMClassifier (k=8)", FwFMClassifier(8, **common)),
    ):
        start = time.perf_counter()
        model.fit(X_train, y_train)
        seconds = time.perf_counter() - start
        p = model.predict_proba(X_test)[:, 1]
        results[label] = (roc_auc_score(y_test, p), log_loss(y_test, p), seconds)
    planted_auc = roc_auc_score(y_test, truth.logits[n_train:])
    # the FwFM's strongest field pairs against the planted ones (FMEncoder numbers the
    # fields in column order)
    return {
        "models": results,
        "planted_auc": planted_auc,
        "n_features": X_train.shape[1],
        "top_pairs": {"planted": _top_pairs(truth.R), "FwFM R_": _top_pairs(np.abs(model.R_))},
    }


def _top_pairs(R: np.ndarray, n: int = 3) -> list[tuple[str, str]]:
    """The ``n`` field pairs with the largest strength, strongest first."""
    rows, cols = np.triu_indices(len(R), 1)
    best = np.argsort(-R[rows, cols], kind="stable")[:n]
    return [(COLUMNS[rows[j]], COLUMNS[cols[j]]) for j in best]


def main() -> None:
    parser = argparse.ArgumentParser(
        description="Click-through prediction where field pairs matter: FFM and FwFM "
        "against the plain FM"
    )
    parser.add_argument("--quick", action="store_true", help="40,000 rows instead of 100,000")
    args = parser.parse_args()
    result = run(40_000 if args.quick else 100_000)
    print(f"{len(COLUMNS)} fields, {result['n_features']:,} one-hot features; "
          f"planted model's AUC {result['planted_auc']:.4f}")  # fmt: skip
    print(f"{'model':<22}{'test AUC':>10}{'logloss':>9}{'seconds':>9}")
    for label, (auc, loss, seconds) in result["models"].items():
        print(f"{label:<22}{auc:>10.4f}{loss:>9.4f}{seconds:>9.1f}")
    for label, pairs in result["top_pairs"].items():
        print(f"strongest field pairs, {label}: " + ", ".join(f"{a} × {b}" for a, b in pairs))


if __name__ == "__main__":
    main()

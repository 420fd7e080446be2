"""Field-aware models on Frappe: fmlearn's FM and FFM against modern-fm's FM, FFM and FwFM.

Data: ``../shared/data/frappe`` (the NFM split: train on ``frappe.validation.libfm``,
57,722 rows; test on ``frappe.test.libfm``, 28,860 rows; 5,382 one-hot columns, labels
±1 → 0/1). Every row holds exactly one feature per field, in field order, so a feature's
field is its position in the row; the script checks that each feature always sits at the
same position.

Protocol, the same for both libraries: k = 8, at most 50 epochs, ``early_stopping=True``
(each library holds out 10 % of the training rows), ``random_state=0``, one thread
(modern-fm ``n_jobs=1``), everything else at each library's defaults. Columns: test AUC
and log-loss of ``predict_proba``, epochs run, wall seconds of ``fit`` (with the
early-stopping scoring) and seconds per epoch; ``ratio`` = fmlearn's s/epoch ÷ modern-fm's
for the same model. modern-fm rows are skipped when it is not installed
(``pip install modern-fm``).

Issue 14's other data sets (the Criteo/Avazu samples, 1 M generated rows × 39 fields)
are not here yet.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from _machine import log, machine_line
from sklearn.metrics import log_loss, roc_auc_score

from fmlearn import FFMClassifier, FMClassifier
from fmlearn.io import load_libfm

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "frappe"
K, MAX_ITER = 8, 50


def load_frappe(folder: Path):
    X_train, y_train = load_libfm(folder / "frappe.validation.libfm")
    X_test, y_test = load_libfm(folder / "frappe.test.libfm", n_features=X_train.shape[1])
    fields = np.full(X_train.shape[1], -1)
    for X in (X_train, X_test):
        if X.nnz != 10 * X.shape[0]:
            raise ValueError("frappe rows should hold 10 features each")
        position = np.tile(np.arange(10), X.shape[0])
        seen = fields[X.indices]
        if not np.all((seen == -1) | (seen == position)):
            raise ValueError("a frappe feature appears at two positions")
        fields[X.indices] = position
    return X_train, (y_train > 0).astype(int), X_test, (y_test > 0).astype(int), fields


def run(name, model, X, y, X_test, y_test, fit_kw) -> dict:
    start = time.perf_counter()
    model.fit(X, y, **fit_kw)
    seconds = time.perf_counter() - start
    p = model.predict_proba(X_test)[:, 1]
    epochs = int(getattr(model, "n_iter_", 0) or 0)
    row = {
        "name": name,
        "auc": roc_auc_score(y_test, p),
        "logloss": log_loss(y_test, p),
        "epochs": epochs,
        "seconds": seconds,
        "per_epoch": seconds / epochs if epochs else float("nan"),
    }
    log(f"  {name}: AUC {row['auc']:.4f}, logloss {row['logloss']:.4f}, {epochs} epochs")
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args()
    X, y, X_test, y_test, fields = load_frappe(args.data_dir)
    common = dict(max_iter=MAX_ITER, early_stopping=True, random_state=0)
    rows = {
        "FM": [run("fmlearn", FMClassifier(K, **common), X, y, X_test, y_test, {})],
        "FFM": [
            run("fmlearn", FFMClassifier(K, **common), X, y, X_test, y_test, {"fields": fields})
        ],
        "FwFM": [],
    }
    try:
        import modern_fm
    except ImportError:
        log("modern-fm not installed: its rows are skipped")
    else:
        peer = dict(n_factors=K, n_jobs=1, **common)
        field_ids = np.maximum(fields, 0)
        for kind, cls, kw in (
            ("FM", modern_fm.FMClassifier, {}),
            ("FFM", modern_fm.FFMClassifier, {"field_ids": field_ids}),
            ("FwFM", modern_fm.FwFMClassifier, {"field_ids": field_ids}),
        ):
            rows[kind].append(run("modern-fm", cls(**peer), X, y, X_test, y_test, kw))

    print(machine_line())
    print(f"Frappe (train {X.shape[0]:,} rows, test {X_test.shape[0]:,}), k = {K}, one thread")
    print(f"{'model':6} {'library':10} {'AUC':>7} {'logloss':>8} {'epochs':>6} {'fit s':>7} "
          f"{'s/epoch':>8} {'ratio':>6}")  # fmt: skip
    for kind, found in rows.items():
        peer_epoch = next((r["per_epoch"] for r in found if r["name"] == "modern-fm"), None)
        for r in found:
            ratio = (
                f"{r['per_epoch'] / peer_epoch:6.2f}"
                if peer_epoch and r["name"] == "fmlearn"
                else "      "
            )
            print(f"{kind:6} {r['name']:10} {r['auc']:7.4f} {r['logloss']:8.4f} {r['epochs']:6d} "
                  f"{r['seconds']:7.2f} {r['per_epoch']:8.3f} {ratio}")  # fmt: skip


if __name__ == "__main__":
    main()

"""Field-aware models on click data: FM, FFM and FwFM of fmlearn and modern-fm, and a baseline.

Logistic regression, FM, FFM and FwFM on Frappe, the Criteo and Avazu samples and generated
field-weighted data, with the same protocol for both libraries.

Data (``--datasets``, all four by default; a real set whose file is absent is skipped with
a message):

* ``frappe``: ``../shared/data/frappe`` (the NFM split: train on
  ``frappe.validation.libfm``, 57,722 rows; test on ``frappe.test.libfm``, 28,860 rows;
  5,382 one-hot columns, labels ±1 → 0/1). Every row holds exactly one feature per field,
  in field order, so a feature's field is its position in the row; the script checks that
  each feature always sits at the same position.
* ``criteo``: ``../shared/data/criteo-sample/xlearn_small_{train,test}.ffm`` (xLearn's
  demo: 200 + 200 rows of Kaggle 2014 Criteo, libffm format, 18 fields, values 1/√#fields
  already applied). Its hashed features collide across fields, so it is read with
  ``load_libffm(…, field_conflict="first")``; the test file takes the train file's
  ``n_features`` and the fields are the train file's (a feature never seen in train has
  field −1: no pair in fmlearn; field 0 for modern-fm, which refuses −1).
* ``avazu``: ``../shared/data/avazu-sample/kaggle_avazu_tr.rx.csv`` (from the first hour
  of Kaggle's Avazu train set; its 2,994 rows are 499 distinct rows repeated 6 times, so
  the duplicates are dropped first: a random split would put copies of the training rows
  in the test set): ``id`` dropped, ``click`` the label, ``hour`` reduced to hour of day,
  every other column a categorical field (read as strings) through ``FMEncoder`` fitted on
  the train part (its ``fields_``); an 80/20 split by ``default_rng(0)``. Unknown test
  categories give no feature.
* ``generated``: ``make_field_aware_ctr`` (a planted FwFM with 30 % of the field pairs
  active): ``--rows`` train rows (default 1,000,000) and 20 % as many test rows from the
  same model, 39 fields, 1,000,000 features, planted k = 4. The first line of its table
  is the planted model itself (``truth``), the best any model can do.

Models: logistic regression as the baseline (scikit-learn ``LogisticRegression``, lbfgs,
on the same one-hot matrix — fmlearn's FMClassifier requires ``n_factors`` ≥ 1, so it
cannot be a linear model; C = 1, but C = 0.03 on the generated set, where C = 1 overfits
its 1 M columns and took 300 s at 200 k rows), then FM, FFM and FwFM of both libraries
(fmlearn's ``FwFMClassifier`` when fmlearn has one, else the row is skipped; modern-fm's
rows are skipped when it is not installed: ``pip install modern-fm``). The Criteo and
Avazu samples have a few hundred rows: their AUCs are noisy and their timings overhead.

Ranks and training, per data set (the same for both libraries):

* frappe: k = 8 for FM, FFM and FwFM; ≤ 50 epochs, ``early_stopping=True`` (each library
  holds out 10 % of the training rows), as in the first version of this script;
* criteo, avazu: FM and FwFM k = 8, FFM k = 4 (libffm's and xLearn's default); training
  as for frappe;
* generated: FM and FwFM k = 16, FFM k = 4 (issue 14); ``--epochs`` epochs (default 3),
  no early stopping: an FFM epoch over 1 M rows × 39 fields takes minutes.

Everything else is at each library's defaults (modern-fm trains float32, fmlearn float64),
``random_state=0``, one thread for fit and predict in both libraries unless ``--n-jobs``.
Columns: test AUC and log-loss of ``predict_proba``; epochs run (lbfgs iterations for the
logistic regression); wall seconds of ``fit`` (with the early-stopping scoring) and per
epoch; test rows per second of ``predict_proba``; model memory = bytes of the fitted
parameter arrays (w0, w, V and the field weights; ``coef_`` and ``intercept_`` for the
logistic regression); ``ratio`` = fmlearn's s/epoch ÷ modern-fm's for the same model.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from _machine import log, machine_line
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss, roc_auc_score

import fmlearn
from fmlearn import FFMClassifier, FMClassifier
from fmlearn.datasets import make_field_aware_ctr
from fmlearn.io import FMEncoder, load_libffm, load_libfm

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
DATASETS = ("frappe", "criteo", "avazu", "generated")
MAX_ITER = 50
SMALL_K = {"FM": 8, "FFM": 4, "FwFM": 8}
RANKS = {
    "frappe": {"FM": 8, "FFM": 8, "FwFM": 8},
    "criteo": SMALL_K,
    "avazu": SMALL_K,
    "generated": {"FM": 16, "FFM": 4, "FwFM": 16},
}
LR_C = {"frappe": 1.0, "criteo": 1.0, "avazu": 1.0, "generated": 0.03}
NOT_PARAMETERS = {"classes_", "fields_", "field_ids_", "feature_names_in_", "n_features_in_"}


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


def load_criteo(folder: Path):
    X, y, fields = load_libffm(folder / "xlearn_small_train.ffm", field_conflict="first")
    X_test, y_test, _ = load_libffm(
        folder / "xlearn_small_test.ffm", n_features=X.shape[1], field_conflict="first"
    )
    return X, y.astype(int), X_test, y_test.astype(int), fields


def load_avazu(folder: Path):
    import pandas as pd

    table = pd.read_csv(folder / "kaggle_avazu_tr.rx.csv", dtype=str).drop_duplicates("id")
    y = table.pop("click").astype(int).to_numpy()
    table = table.drop(columns="id")
    table["hour"] = table["hour"].str[-2:]  # YYMMDDHH → HH
    order = np.random.default_rng(0).permutation(len(table))
    train, test = order[: int(0.8 * len(table))], order[int(0.8 * len(table)) :]
    encoder = FMEncoder().fit(table.iloc[train])
    X, X_test = encoder.transform(table.iloc[train]), encoder.transform(table.iloc[test])
    return X, y[train], X_test, y[test], encoder.fields_


def load_generated(n_rows: int):
    X, y, fields, truth = make_field_aware_ctr(
        n_rows, n_fields=39, n_features=1_000_000, n_factors=4, random_state=0
    )
    X_test, y_test, _, _ = make_field_aware_ctr(n_rows // 5, random_state=1, planted=truth)
    return X, y, X_test, y_test, fields, truth


def parameter_bytes(model) -> int:
    """Bytes of the learned arrays: every fitted ``…_`` array or number but metadata."""
    if isinstance(model, LogisticRegression):
        return model.coef_.nbytes + model.intercept_.nbytes
    total = 0
    for name, value in vars(model).items():
        if name.endswith("_") and not name.startswith("_") and name not in NOT_PARAMETERS:
            if isinstance(value, np.ndarray | float | np.floating):
                total += np.asarray(value).nbytes
    return total


def run(kind, library, model, X, y, X_test, y_test, fit_kw) -> dict:
    start = time.perf_counter()
    model.fit(X, y, **fit_kw)
    seconds = time.perf_counter() - start
    start = time.perf_counter()
    p = model.predict_proba(X_test)[:, 1]
    predict_seconds = time.perf_counter() - start
    epochs = int(np.max(getattr(model, "n_iter_", 0) or 0))
    row = {
        "kind": kind,
        "library": library,
        "auc": roc_auc_score(y_test, p),
        "logloss": log_loss(y_test, p),
        "epochs": epochs,
        "seconds": seconds,
        "per_epoch": seconds / epochs if epochs else float("nan"),
        "rows_per_s": X_test.shape[0] / predict_seconds,
        "bytes": parameter_bytes(model),
    }
    log(f"  {kind} {library}: AUC {row['auc']:.4f}, logloss {row['logloss']:.4f}, "
        f"{epochs} epochs, {seconds:.1f} s")  # fmt: skip
    return row


def truth_row(truth, X_test, y_test) -> dict:
    start = time.perf_counter()
    logits = truth.decision(X_test)
    predict_seconds = time.perf_counter() - start
    p = 1.0 / (1.0 + np.exp(-logits))
    n_bytes = truth.w.nbytes + truth.V.nbytes + truth.R.nbytes + 8
    nan = float("nan")
    return {"kind": "truth", "library": "planted", "auc": roc_auc_score(y_test, logits),
            "logloss": log_loss(y_test, p), "epochs": None, "seconds": nan, "per_epoch": nan,
            "rows_per_s": X_test.shape[0] / predict_seconds, "bytes": n_bytes}  # fmt: skip


def benchmark(name, X, y, X_test, y_test, fields, args) -> list[dict]:
    """Fit every model of both libraries on one data set; one row each."""
    ranks, n_jobs = RANKS[name], args.n_jobs or 1
    if name == "generated":
        common = dict(max_iter=args.epochs, early_stopping=False, random_state=0)
    else:
        common = dict(max_iter=MAX_ITER, early_stopping=True, random_state=0)
    field_kw = {"fields": fields}
    data = (X, y, X_test, y_test)
    lr = LogisticRegression(C=LR_C[name], max_iter=1000)
    rows = [run("LR", "sklearn", lr, *data, {})]
    fwfm = getattr(fmlearn, "FwFMClassifier", None)
    for kind, cls, kw in (
        ("FM", FMClassifier, {}),
        ("FFM", FFMClassifier, field_kw),
        ("FwFM", fwfm, field_kw),
    ):
        if cls is None:
            log(f"  {kind} fmlearn: skipped, this fmlearn has no {kind}Classifier")
            continue
        model = cls(ranks[kind], n_jobs=n_jobs, **common)
        rows.append(run(kind, "fmlearn", model, *data, kw))
    try:
        import modern_fm
    except ImportError:
        log("  modern-fm not installed: its rows are skipped")
        return rows
    field_ids = {"field_ids": np.maximum(fields, 0)}
    for kind, cls, kw in (
        ("FM", modern_fm.FMClassifier, {}),
        ("FFM", modern_fm.FFMClassifier, field_ids),
        ("FwFM", modern_fm.FwFMClassifier, field_ids),
    ):
        model = cls(n_factors=ranks[kind], n_jobs=n_jobs, **common)
        rows.append(run(kind, "modern-fm", model, *data, kw))
    return rows


def size(n_bytes: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n_bytes < 1024 or unit == "GiB":
            return f"{n_bytes:.0f} {unit}" if unit == "B" else f"{n_bytes:.1f} {unit}"
        n_bytes /= 1024
    raise AssertionError


def cell(value, spec: str, width: int) -> str:
    """``value`` formatted by ``spec``, or "–" where there is no value (nan or None)."""
    missing = value is None or (isinstance(value, float) and np.isnan(value))
    return f"{'–' if missing else format(value, spec):>{width}}"


def print_table(title: str, rows: list[dict]) -> None:
    print(title)
    print(f"{'model':6} {'library':10} {'AUC':>7} {'logloss':>8} {'epochs':>6} {'fit s':>8} "
          f"{'s/epoch':>8} {'pred rows/s':>11} {'memory':>10} {'ratio':>6}")  # fmt: skip
    peer = {r["kind"]: r["per_epoch"] for r in rows if r["library"] == "modern-fm"}
    kinds = list(dict.fromkeys(r["kind"] for r in rows))
    for r in sorted(rows, key=lambda r: kinds.index(r["kind"])):
        ratio = None
        if r["library"] == "fmlearn" and peer.get(r["kind"]):
            ratio = r["per_epoch"] / peer[r["kind"]]
        print(f"{r['kind']:6} {r['library']:10} {r['auc']:7.4f} {r['logloss']:8.4f} "
              f"{cell(r['epochs'], 'd', 6)} {cell(r['seconds'], '.2f', 8)} "
              f"{cell(r['per_epoch'], '.3f', 8)} {cell(r['rows_per_s'], ',.0f', 11)} "
              f"{size(r['bytes']):>10} {cell(ratio, '.2f', 6) if ratio else ''}")  # fmt: skip
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=SHARED, help="holds frappe/ etc.")
    parser.add_argument("--datasets", default=",".join(DATASETS), help="comma-separated")
    parser.add_argument("--rows", type=int, default=1_000_000, help="generated train rows")
    parser.add_argument("--epochs", type=int, default=3, help="epochs on the generated set")
    parser.add_argument("--n-jobs", type=int, default=None, help="threads (default 1)")
    args = parser.parse_args()
    chosen = [d.strip() for d in args.datasets.split(",") if d.strip()]
    unknown = sorted(set(chosen) - set(DATASETS))
    if unknown:
        parser.error(f"unknown data sets {unknown}; choose from {', '.join(DATASETS)}")

    loaders = {
        "frappe": ("frappe", "frappe.validation.libfm", load_frappe),
        "criteo": ("criteo-sample", "xlearn_small_train.ffm", load_criteo),
        "avazu": ("avazu-sample", "kaggle_avazu_tr.rx.csv", load_avazu),
    }
    threads = f"{args.n_jobs} threads" if args.n_jobs else "one thread"
    tables = []
    for name in chosen:
        truth = None
        if name == "generated":
            log(f"generated: drawing {args.rows:,} + {args.rows // 5:,} rows …")
            *data, fields, truth = load_generated(args.rows)
            detail = f"{args.epochs} epochs"
        else:
            folder, probe, loader = loaders[name]
            if not (args.data_dir / folder / probe).exists():
                log(f"{name}: {args.data_dir / folder / probe} not found, skipped")
                continue
            log(f"{name}: loading …")
            *data, fields = loader(args.data_dir / folder)
            detail = "early stopping"
        X, _, X_test, _ = data
        log(f"{name}: {X.shape[0]:,} train rows, {X_test.shape[0]:,} test rows, "
            f"{X.shape[1]:,} columns, {len(np.unique(fields[fields >= 0]))} fields")  # fmt: skip
        rows = benchmark(name, *data, fields, args)
        if truth is not None:
            rows.insert(0, truth_row(truth, X_test, data[3]))
        ks = ", ".join(f"{kind} k = {k}" for kind, k in RANKS[name].items())
        title = (f"{name} (train {X.shape[0]:,} rows, test {X_test.shape[0]:,}, "
                 f"{X.shape[1]:,} columns), {ks}, {detail}, {threads}")  # fmt: skip
        tables.append((title, rows))

    print(machine_line())
    for title, rows in tables:
        print_table(title, rows)


if __name__ == "__main__":
    main()

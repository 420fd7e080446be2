"""Training and prediction rates of the field-aware models against the issue-14 targets.

FFM (k = 4), FwFM (k = 16) and, for scale, FM (k = 16), AdaGrad, each in float32 and
float64 with one thread and with ``--n-jobs`` threads (Hogwild!), against modern-fm's
same models (float32, its only dtype) with the same threads, in the same run.

Data: ``make_field_aware_ctr`` (39 one-hot fields, 1,000,000 features, the generator of
benchmarks/ctr_fields.py), ``--rows`` training rows (default 300,000) and the same rows
for prediction. Every fit runs ``--epochs`` epochs (default 2) without early stopping,
after a 2,000-row warm-up fit of the same configuration (numba compiles once).

Columns: ``epoch rows/s`` = rows / the fastest epoch from ``history_.seconds`` (fmlearn;
the kernel's pass and the epoch's bookkeeping); ``fit rows/s`` = rows × epochs / whole
``fit`` (validation and initialisation included: modern-fm has only this one, so the
ratio is taken on it); ``predict rows/s`` = rows / ``predict_proba`` wall time;
``ratio`` = fmlearn's fit rate ÷ modern-fm's for the same model and threads.

Usage: ``python benchmarks/field_speed.py [--rows N] [--epochs E] [--n-jobs J]``
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import log, machine_line

from fmlearn import FFMClassifier, FMClassifier, FwFMClassifier
from fmlearn.datasets import make_field_aware_ctr

MODELS = (("FFM", FFMClassifier, 4), ("FwFM", FwFMClassifier, 16), ("FM", FMClassifier, 16))
TARGETS = {"FFM": 100_000, "FwFM": 300_000}  # issue 14: epoch rows/s on 2 cores


def timed(make, X, y, kw, epochs) -> tuple:
    """Warm up on 2,000 rows, then ``(model, fit rows/s, predict rows/s)`` on all rows."""
    make().fit(X[:2000], y[:2000], **kw)
    model = make()
    start = time.perf_counter()
    model.fit(X, y, **kw)
    fit = time.perf_counter() - start
    start = time.perf_counter()
    model.predict_proba(X)
    predict = time.perf_counter() - start
    return model, X.shape[0] * epochs / fit, X.shape[0] / predict


def fmlearn_row(kind, cls, k, dtype, n_jobs, X, y, fields, epochs) -> dict:
    kw = {} if kind == "FM" else {"fields": fields}
    make = lambda: cls(  # noqa: E731
        k, max_iter=epochs, early_stopping=False, random_state=0, dtype=dtype, n_jobs=n_jobs
    )
    model, fit, predict = timed(make, X, y, kw, epochs)
    return {"kind": kind, "library": "fmlearn", "dtype": dtype, "n_jobs": n_jobs,
            "epoch": X.shape[0] / min(model.history_.seconds), "fit": fit,
            "predict": predict}  # fmt: skip


def modern_row(kind, k, n_jobs, X, y, fields, epochs) -> dict | None:
    try:
        import modern_fm
    except ImportError:
        return None
    cls = {"FFM": modern_fm.FFMClassifier, "FwFM": modern_fm.FwFMClassifier,
           "FM": modern_fm.FMClassifier}[kind]  # fmt: skip
    kw = {} if kind == "FM" else {"field_ids": np.maximum(fields, 0)}
    make = lambda: cls(  # noqa: E731
        n_factors=k, max_iter=epochs, early_stopping=False, random_state=0, n_jobs=n_jobs
    )
    _, fit, predict = timed(make, X, y, kw, epochs)
    return {"kind": kind, "library": "modern-fm", "dtype": "float32", "n_jobs": n_jobs,
            "epoch": float("nan"), "fit": fit, "predict": predict}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=300_000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--n-jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--models", default="FFM,FwFM,FM", help="comma-separated")
    args = parser.parse_args()
    wanted = set(args.models.split(","))
    log(f"generating {args.rows:,} rows × 39 fields")
    X, y, fields, _ = make_field_aware_ctr(
        args.rows, n_fields=39, n_features=1_000_000, n_factors=4, random_state=0
    )
    threads = sorted({1, args.n_jobs})
    rows = []
    for kind, cls, k in MODELS:
        if kind not in wanted:
            continue
        for n_jobs in threads:
            for dtype in ("float32", "float64"):
                rows.append(fmlearn_row(kind, cls, k, dtype, n_jobs, X, y, fields, args.epochs))
                log(f"  {rows[-1]}")
            peer = modern_row(kind, k, n_jobs, X, y, fields, args.epochs)
            if peer is not None:
                rows.append(peer)
                log(f"  {peer}")
    print(machine_line())
    print(f"make_field_aware_ctr: {args.rows:,} rows × 39 fields, 1 M features; AdaGrad, "
          f"{args.epochs} epochs; rates in rows/s")  # fmt: skip
    print(f"{'model':5} {'library':10} {'dtype':8} {'jobs':>4} {'epoch':>9} {'fit':>9} "
          f"{'predict':>9} {'ratio':>6} {'target':>8}")  # fmt: skip
    for r in rows:
        peer = [p for p in rows if p["library"] == "modern-fm" and p["kind"] == r["kind"]
                and p["n_jobs"] == r["n_jobs"]]  # fmt: skip
        ratio = f"{r['fit'] / peer[0]['fit']:6.2f}" if peer and r["library"] == "fmlearn" else ""
        target = TARGETS.get(r["kind"], "") if r["library"] == "fmlearn" else ""
        epoch = "" if np.isnan(r["epoch"]) else f"{r['epoch']:,.0f}"
        print(f"{r['kind']:5} {r['library']:10} {r['dtype']:8} {r['n_jobs']:4d} {epoch:>9} "
              f"{r['fit']:9,.0f} {r['predict']:9,.0f} {ratio:>6} {target!s:>8}")  # fmt: skip


if __name__ == "__main__":
    main()

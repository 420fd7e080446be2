"""fmlearn.dask against single-process fmlearn on generated click data (issue 18's targets).

Generated CTR rows (``make_ctr``: 39 one-hot fields, 1 M hashed features, clicks from a
planted FM), ``FMClassifier(n_factors=16, solver="adagrad", dtype="float32")``, a few
epochs, cut into ``--blocks`` row blocks (the same blocks for every Dask run, so the
model is the same whatever the number of workers: only the time differs). Rows:

* ``single process``: ``FMClassifier.fit`` (one thread, ``tol=None``), the reference;
* ``dask, W workers``: ``DaskFMClassifier`` on a ``distributed.LocalCluster`` of W worker
  processes × 1 thread on this machine (loopback). The cluster starts and the blocks are
  sent to it (persist) before the clock starts; the time is ``fit``'s.

Printed: seconds, rows/s (rows × epochs / seconds), test AUC, bytes of model rows sent
and received per round (against the whole model's bytes: only touched rows travel), the
peak RSS of each worker process. Targets (issue 18): AUC within 0.005 of single-process;
2 workers ≥ 1.6× the rows/s of 1; 1 worker ≥ 0.7× single-process.

    python benchmarks/dask_scaling.py                  # 1 M rows, 3 epochs (minutes)
    python benchmarks/dask_scaling.py --rows 4000000
    python benchmarks/dask_scaling.py --quick          # 200,000 rows, 2 epochs
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from _machine import log, machine_line, peak_rss_mib
from sklearn.metrics import roc_auc_score

from fmlearn import FMClassifier
from fmlearn.datasets import make_ctr


def estimator() -> FMClassifier:
    return FMClassifier(n_factors=16, solver="adagrad", dtype="float32", random_state=0)


def run_dask(X, y, X_test, y_test, workers: int, args) -> dict:
    import dask
    from distributed import Client, LocalCluster, wait

    from fmlearn.dask import DaskFMClassifier, from_sparse

    chunk = -(-X.shape[0] // args.blocks)
    with (
        LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                     host="127.0.0.1", dashboard_address=None, silence_logs=40) as cluster,
        Client(cluster) as client,
    ):  # fmt: skip
        dX, dy = from_sparse(X, y, chunk_rows=chunk)
        dX, dy = dask.persist(dX, dy)
        wait([dX, dy])  # the blocks are on the workers
        model = DaskFMClassifier(estimator(), max_iter=args.epochs, random_state=0)
        start = time.perf_counter()
        model.fit(dX, dy)
        seconds = time.perf_counter() - start
        rss = sorted(client.run(peak_rss_mib).values())
    auc = roc_auc_score(y_test, model.predict_proba(X_test)[:, 1])
    full = sum(a.nbytes for a in model.estimator_._to_file()[1].values())
    sent = np.mean([t["sent"] for t in model.traffic_])
    received = np.mean([t["received"] for t in model.traffic_])
    return dict(seconds=seconds, auc=auc, sent=sent, received=received, full=full, rss=rss)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--features", type=int, default=1_000_000)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--blocks", type=int, default=4, help="row blocks (same for every run)")
    ap.add_argument("--quick", action="store_true", help="200,000 rows, 2 epochs")
    args = ap.parse_args(argv)
    if args.quick:
        args.rows, args.epochs = 200_000, 2
    print(machine_line())
    log(f"generating {args.rows:,} + {args.rows // 5:,} rows")
    X, y, planted = make_ctr(args.rows, n_features=args.features, random_state=0)
    X = X.astype(np.float32)
    X_test, y_test, _ = make_ctr(args.rows // 5, planted=planted, random_state=1)
    X_test = X_test.astype(np.float32)
    rows = X.shape[0] * args.epochs

    log("single process")
    single = estimator().set_params(max_iter=args.epochs, tol=None)
    start = time.perf_counter()
    single.fit(X, y)
    single_s = time.perf_counter() - start
    single_auc = roc_auc_score(y_test, single.predict_proba(X_test)[:, 1])

    results = {}
    for workers in (1, 2):
        log(f"dask, {workers} worker(s)")
        results[workers] = run_dask(X, y, X_test, y_test, workers, args)

    print(f"\n{args.rows:,} rows × 39 fields, {X.shape[1]:,} features, k = 16, float32, "
          f"AdaGrad, {args.epochs} epochs, {args.blocks} blocks\n")  # fmt: skip
    print(f"{'':22} {'seconds':>8} {'rows/s':>10} {'AUC':>7} {'sent/round':>11} "
          f"{'recv/round':>11} {'worker RSS MiB':>16}")  # fmt: skip
    print(f"{'single process':22} {single_s:8.2f} {rows / single_s:10,.0f} {single_auc:7.4f}")
    for workers, r in results.items():
        rss = ", ".join(f"{m:.0f}" for m in r["rss"])
        print(f"{f'dask, {workers} worker(s)':22} {r['seconds']:8.2f} "
              f"{rows / r['seconds']:10,.0f} {r['auc']:7.4f} {r['sent'] / 2**20:8.1f} MiB "
              f"{r['received'] / 2**20:8.1f} MiB {rss:>16}")  # fmt: skip
    one, two = results[1], results[2]
    print(f"\nwhole model (parameters + AdaGrad state): {one['full'] / 2**20:.1f} MiB")
    print(f"AUC, dask − single: {one['auc'] - single_auc:+.4f} (target ≥ −0.005)")
    print(f"2 workers / 1 worker: {one['seconds'] / two['seconds']:.2f}× (target ≥ 1.6×)")
    print(f"1 worker / single process: {single_s / one['seconds']:.2f}× (target ≥ 0.7×)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

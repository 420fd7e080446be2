"""SGDA (SGD with adaptive regularisation, ``solver="sgda"``) on MovieLens-100K against SGD
with a regularisation grid, and against libFM's own ``-method sgda`` (issue 23).

Data: design (b) of benchmarks/mcmc_ml100k.py (user and item ids, age, gender,
occupation, release year, genres; 7 feature groups), the fixed 90/10 split of
``../shared/data/ml-100k``. The training file is shuffled once (seed 0; libFM's SGDA
asks for shuffled rows) and cut into 90 % fit rows and 10 % validation rows; the test
file is only scored. k = 8, learning rate 0.01 everywhere.

* ``sgd grid``: ``FMRegressor(solver="sgd")`` for every (reg_linear, reg_factors) of the
  grid, each stopped on the validation rows (``early_stopping``, patience 10, at most
  ``--epochs`` epochs, the best epoch restored); the row is the grid point with the best
  validation RMSE, and the table also gives the best test RMSE over the grid (an
  oracle no user has).
* ``sgda``: ``FMRegressor(solver="sgda")`` with the feature groups, the validation rows
  as its ``eval_set`` (its λ learn there), stopped the same way, at its default learning
  rate (0.005: it steps along 2 (ŷ − y), so this is SGD's 0.01).
* ``libFM sgda`` (``--libfm PATH`` or ``FMLEARN_LIBFM``): ``libFM -method sgda -meta
  groups -validation valid -iter N`` on the same files, and ``fmlearn libfm`` with the same
  command line, both in file order for a fixed ``N`` (``--libfm-iters``, libFM has no
  early stopping): libFM's final test RMSE against fmlearn's.

Targets (issue 23): SGDA within 0.005 RMSE of the best SGD from the grid, without a
grid; ``fmlearn libfm`` within 0.005 RMSE of libFM on the same command line.

    python benchmarks/sgda_ml100k.py [--quick] [--libfm ~/libfm/bin/libFM]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _machine import machine_line
from mcmc_ml100k import load_ml100k

from fmlearn import FMRegressor
from fmlearn.io import dump_libfm

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ml-100k"
GRID_LINEAR = (0.0, 0.01, 0.1)
GRID_FACTORS = (0.0, 0.01, 0.03, 0.1, 0.3)
K = 8
LR = 0.01


def rmse(model, X, y) -> float:
    return float(np.sqrt(np.mean((model.predict(X) - y) ** 2)))


def split(design, seed: int = 0):
    rng = np.random.default_rng(seed)
    order = rng.permutation(design.X_train.shape[0])
    n_fit = int(0.9 * order.size)
    fit, valid = order[:n_fit], order[n_fit:]
    X, y = design.X_train, design.y_train
    return X[fit], y[fit], X[valid], y[valid], design.X_test, design.y_test


def fit_stopped(max_epochs: int, X, y, Xv, yv, groups=None, lr=LR, **params):
    model = FMRegressor(n_factors=K, learning_rate=lr, max_iter=max_epochs,
                        early_stopping=True, n_iter_no_change=10, tol=0.0, random_state=0,
                        **params)  # fmt: skip
    start = time.perf_counter()
    model.fit(X, y, eval_set=[(Xv, yv)], **({} if groups is None else {"groups": groups}))
    seconds = time.perf_counter() - start
    return model, seconds


def libfm_pair(path: str, data, groups, n_iter: int) -> tuple[float, float, float, float]:
    """(libFM's test RMSE, its seconds, fmlearn libfm's test RMSE, its seconds)."""
    from fmlearn.cli import main

    X, y, Xv, yv, Xt, yt = data
    with tempfile.TemporaryDirectory(prefix="sgda_") as tmp:
        files = {name: os.path.join(tmp, f"{name}.libfm") for name in ("train", "valid", "test")}
        for name, (A, b) in zip(files, ((X, y), (Xv, yv), (Xt, yt)), strict=True):
            dump_libfm(A, b, files[name])
        meta = os.path.join(tmp, "meta.txt")
        np.savetxt(meta, groups, fmt="%d")
        common = ["-task", "r", "-method", "sgda", "-train", files["train"], "-validation",
                  files["valid"], "-test", files["test"], "-meta", meta, "-dim", f"1,1,{K}",
                  "-iter", str(n_iter), "-learn_rate", str(LR), "-init_stdev", "0.1"]  # fmt: skip
        start = time.perf_counter()
        done = subprocess.run([path, *common, "-out", os.path.join(tmp, "libfm.txt")],
                              capture_output=True, text=True, check=False)  # fmt: skip
        libfm_s = time.perf_counter() - start
        if done.returncode != 0 or "ERROR" in done.stdout:
            raise RuntimeError(f"libFM failed: {done.stdout[-500:]} {done.stderr[-500:]}")
        libfm_rmse = float(np.sqrt(np.mean((np.loadtxt(os.path.join(tmp, "libfm.txt")) - yt) ** 2)))
        start = time.perf_counter()
        out = os.path.join(tmp, "fmlearn.txt")
        import contextlib
        import io

        with contextlib.redirect_stdout(io.StringIO()):
            code = main(["libfm", *common, "-out", out, "-seed", "1"])
        ours_s = time.perf_counter() - start
        if code != 0:
            raise RuntimeError("fmlearn libfm failed")
        ours = float(np.sqrt(np.mean((np.loadtxt(out) - yt) ** 2)))
    return libfm_rmse, libfm_s, ours, ours_s


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smaller grid, fewer epochs")
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--libfm", default=os.environ.get("FMLEARN_LIBFM"))
    parser.add_argument("--libfm-iters", type=int, default=100)
    args = parser.parse_args(argv)
    if not DATA.exists():
        print(f"skipped: {DATA} is absent")
        return 0
    print(machine_line())
    design = load_ml100k(DATA)["b"]
    groups = design.groups
    data = split(design)
    X, y, Xv, yv, Xt, yt = data
    print(f"ML-100K (b): {X.shape[0]:,} fit / {Xv.shape[0]:,} validation / "
          f"{Xt.shape[0]:,} test rows, {X.shape[1]:,} features in {groups.max() + 1} groups, "
          f"k={K}, lr={LR}")  # fmt: skip
    epochs = 60 if args.quick else args.epochs
    grid = [(a, b) for a in ((0.0, 0.01) if args.quick else GRID_LINEAR)
            for b in ((0.0, 0.03, 0.1) if args.quick else GRID_FACTORS)]  # fmt: skip
    rows = []
    grid_seconds = 0.0
    for reg_linear, reg_factors in grid:
        model, seconds = fit_stopped(epochs, X, y, Xv, yv, solver="sgd",
                                     reg_linear=reg_linear, reg_factors=reg_factors)  # fmt: skip
        grid_seconds += seconds
        best_valid = min(model.history_.valid["rmse"])
        rows.append((best_valid, rmse(model, Xt, yt), reg_linear, reg_factors, model.n_iter_,
                     seconds))  # fmt: skip
    print(f"\n{'solver':<10} {'reg_linear':>10} {'reg_factors':>11} {'epochs':>6} "
          f"{'valid':>7} {'test':>7} {'fit s':>6}")  # fmt: skip
    for valid, test, a, b, ep, s in rows:
        print(f"{'sgd':<10} {a:>10g} {b:>11g} {ep:>6} {valid:>7.4f} {test:>7.4f} {s:>6.1f}")
    chosen = min(rows)
    oracle = min(r[1] for r in rows)
    sgda, sgda_s = fit_stopped(epochs, X, y, Xv, yv, groups=groups, solver="sgda", lr=None)
    sgda_test = rmse(sgda, Xt, yt)
    print(f"{'sgda':<10} {'learned':>10} {'learned':>11} {sgda.n_iter_:>6} "
          f"{min(sgda.history_.valid['rmse']):>7.4f} {sgda_test:>7.4f} {sgda_s:>6.1f}")  # fmt: skip
    print(f"\nlearned reg_linear_ per group: {np.round(sgda.reg_linear_, 4).tolist()}")
    print(f"learned reg_factors_ (mean over factors) per group: "
          f"{np.round(sgda.reg_factors_.mean(axis=1), 4).tolist()}")  # fmt: skip
    print(f"\nsgd, grid point chosen on validation: test {chosen[1]:.4f} (reg {chosen[2]:g}, "
          f"{chosen[3]:g}); best test over the grid {oracle:.4f}; the grid's {len(grid)} fits "
          f"took {grid_seconds:.1f} s, sgda's one fit {sgda_s:.1f} s")  # fmt: skip
    gap = sgda_test - chosen[1]
    verdict = "met" if gap <= 0.005 else "NOT met"
    print(f"target: sgda within 0.005 RMSE of the chosen sgd ({gap:+.4f}): {verdict}")
    if args.libfm:
        n_iter = 20 if args.quick else args.libfm_iters
        lib, lib_s, ours, ours_s = libfm_pair(args.libfm, data, groups, n_iter)
        print(f"\nlibFM -method sgda, {n_iter} iterations, file order: libFM test {lib:.4f} "
              f"({lib_s:.1f} s), fmlearn libfm {ours:.4f} ({ours_s:.1f} s)")  # fmt: skip
        diff = abs(ours - lib)
        print(f"target: fmlearn libfm within 0.005 of libFM ({diff:.4f}): "
              f"{'met' if diff <= 0.005 else 'NOT met'}")  # fmt: skip
    else:
        print("\nlibFM: not run (give --libfm PATH or FMLEARN_LIBFM)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""
A factorization machine from scratch: 40 lines of numpy against the compiled estimator
======================================================================================

``fmlearn.reference.ReferenceFM`` is the whole model and its training in plain numpy:
Rendle's O(k·n) prediction, the gradient, one SGD step per row. ``FMRegressor(solver="sgd")``
trains the same model with compiled kernels. Given the same ``random_state`` both draw the
same initial factors and the same row order each epoch, so they fit the same model: the
two test RMSEs agree to rounding (1e-6 is checked), and only the time differs.

The ratings are generated from a planted FM (``make_recommendation``: users × items × a
context, noise 0.5); the printed table gives each model's test RMSE and fit time, and the
largest difference between the two models' parameters.

    python examples/fm_from_scratch.py [--quick]

Runs offline on generated data, in about ten seconds (``--quick``: three).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from fmlearn import FMRegressor
from fmlearn.datasets import make_recommendation
from fmlearn.reference import ReferenceFM

SETTINGS = dict(n_factors=4, learning_rate=0.01, max_iter=10, init_std=0.1, random_state=0)


def run(n_samples: int = 20_000, n_epochs: int = 10) -> dict:
    """Fit both on the same rows; return their RMSEs, times and parameter difference."""
    X, y, _ = make_recommendation(n_samples=n_samples, random_state=1)
    n_train = int(0.9 * n_samples)
    X_train, y_train, X_test, y_test = X[:n_train], y[:n_train], X[n_train:], y[n_train:]
    settings = {**SETTINGS, "max_iter": n_epochs}

    start = time.perf_counter()
    numpy_fm = ReferenceFM(**settings, reg=(0.0, 0.0, 0.1)).fit(X_train, y_train)
    numpy_seconds = time.perf_counter() - start

    # the same model: plain SGD, every epoch run (tol=None), L2 (0, 0, 0.1) by default;
    # clip_predictions=False because ReferenceFM does not clip; shuffle=True: a permutation
    # per epoch, as ReferenceFM draws (the default shuffles in cache-sized groups)
    compiled = FMRegressor(solver="sgd", tol=None, clip_predictions=False, shuffle=True, **settings)
    compiled.fit(X_train[:100], y_train[:100])  # compiles the kernels (cached on disk)
    start = time.perf_counter()
    compiled.fit(X_train, y_train)
    numba_seconds = time.perf_counter() - start

    def rmse(model) -> float:
        return float(np.sqrt(np.mean((model.predict(X_test) - y_test) ** 2)))

    gap = max(
        abs(numpy_fm.w0_ - compiled.w0_),
        np.abs(numpy_fm.w_ - compiled.w_).max(),
        np.abs(numpy_fm.V_ - compiled.V_).max(),
    )
    return {
        "rows": n_train,
        "epochs": n_epochs,
        "numpy": (rmse(numpy_fm), numpy_seconds),
        "numba": (rmse(compiled), numba_seconds),
        "max_parameter_gap": float(gap),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description="A factorization machine from scratch: numpy against the compiled estimator"
    )
    parser.add_argument("--quick", action="store_true", help="5,000 rows, 5 epochs")
    args = parser.parse_args()
    result = run(5_000, 5) if args.quick else run()
    print(f"{result['rows']:,} training rows, {result['epochs']} epochs of plain SGD, k = 4\n")
    print(f"{'':28} {'test RMSE':>10} {'fit seconds':>12}")
    for label, key in [("ReferenceFM (numpy)", "numpy"), ("FMRegressor (numba)", "numba")]:
        rmse, seconds = result[key]
        print(f"{label:28} {rmse:10.6f} {seconds:12.3f}")
    numpy_rmse, numba_rmse = result["numpy"][0], result["numba"][0]
    speedup = result["numpy"][1] / result["numba"][1]
    print(
        f"\nRMSE difference {abs(numpy_rmse - numba_rmse):.1e}; largest parameter difference "
        f"{result['max_parameter_gap']:.1e}; the compiled fit is {speedup:,.0f}× faster."
    )


if __name__ == "__main__":
    main()

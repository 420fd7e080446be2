"""
Learning curves: how fast each solver reaches its accuracy
===========================================================

Every fitted estimator keeps ``history_``: the training loss and each ``eval_set`` metric
per epoch (SGD family) or sweep (ALS, MCMC), with the seconds each took. Plotting it answers
the two questions a first fit raises: has it converged, and which solver gets there first?

Ratings are generated from a planted FM (``make_recommendation``: users × items × a context,
noise 0.5, so no model can beat an RMSE of about 0.5). AdaGrad, ALS and MCMC are fitted with
the held-out rows as ``eval_set``; the first figure draws their validation RMSE against the
iteration and against the wall time, the second is ``fmlearn.plot.learning_curve`` of the
MCMC fit (its training loss on the left axis, the validation RMSE on the right).

    python examples/learning_curves.py [--quick]

Runs offline on generated data, in seconds; needs matplotlib (``pip install fmlearn[plot]``).
"""

from __future__ import annotations

import argparse

import matplotlib.pyplot as plt
import numpy as np

from fmlearn import FMRegressor
from fmlearn.datasets import make_recommendation
from fmlearn.plot import learning_curve

SOLVERS = {
    "adagrad": dict(solver="adagrad", learning_rate=0.05, tol=None),  # all max_iter epochs
    "als": dict(solver="als"),
    "mcmc": dict(solver="mcmc"),
}


def fit_all(n_samples: int = 200_000, n_iter: int = 100, random_state: int = 0) -> dict:
    """Fit each solver with the test rows as ``eval_set``; return the fitted models."""
    X, y, _ = make_recommendation(n_samples=n_samples, random_state=random_state)
    n_train = int(0.9 * n_samples)
    train, test = slice(0, n_train), slice(n_train, None)
    models = {}
    for name, params in SOLVERS.items():
        model = FMRegressor(n_factors=4, max_iter=n_iter, random_state=random_state)
        model.set_params(**params)
        models[name] = model.fit(X[train], y[train], eval_set=[(X[test], y[test])])
    return models


def report(models: dict) -> None:
    print(f"{'solver':8} {'iterations':>10} {'seconds':>8} {'best RMSE':>10} {'final RMSE':>10}")
    for name, model in models.items():
        rmse = np.asarray(model.history_.valid["rmse"])
        seconds = sum(model.history_.seconds)
        print(f"{name:8} {len(rmse):10d} {seconds:8.2f} {rmse.min():10.4f} {rmse[-1]:10.4f}")


def plot(models: dict) -> None:
    fig, (by_iter, by_time) = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
    for name, model in models.items():
        history = model.history_
        by_iter.plot(history.epoch, history.valid["rmse"], marker=".", label=name)
        by_time.plot(np.cumsum(history.seconds), history.valid["rmse"], marker=".", label=name)
    by_iter.set_xlabel("epoch (AdaGrad) or sweep (ALS, MCMC)")
    by_time.set_xlabel("seconds (wall time, compilation excluded)")
    for ax in (by_iter, by_time):
        ax.set_ylabel("validation RMSE")
        ax.set_ylim(0.45, 1.0)
        ax.axhline(0.5, color="grey", linestyle=":", label="noise floor")
        ax.grid(True, alpha=0.3)
    by_iter.legend()
    fig.suptitle("Validation RMSE on planted ratings")
    learning_curve(models["mcmc"])


def main() -> None:
    parser = argparse.ArgumentParser(
        description="Learning curves: how fast each solver reaches its accuracy"
    )
    parser.add_argument("--quick", action="store_true", help="fewer rows and iterations")
    args = parser.parse_args()
    models = fit_all(50_000, 40) if args.quick else fit_all()
    report(models)
    plot(models)
    plt.show()


if __name__ == "__main__":
    main()

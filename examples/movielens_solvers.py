"""
Rating prediction on MovieLens-100K: which features and which solver?
=====================================================================

Three feature sets, each built with FMEncoder from one DataFrame:

* ids: user and movie one-hot — plain matrix factorisation with biases;
* ids + side information: age decade, gender, occupation, release year, genres (a set);
* ids + side + implicit feedback: the set of movies the user rated (weights 1/√|N(u)|), as in SVD++
  and libFM's grouped implicit features — *which* movies someone chose to rate says a lot;

and three solvers: MCMC (nothing to tune), ALS and AdaGrad (with their tuned defaults).
Prints test RMSE and fit time for each. The implicit-feedback rows are long (~210
non-zeros instead of 8), so that set runs with MCMC only; about a minute in all
(``--quick``: 30 ALS and AdaGrad iterations instead of 100, about 30 s). MCMC always
gets 100 sweeps: it predicts with the average of its samples, and after 30 sweeps it has
too few of them (ids: RMSE 0.938, against 0.903 after 100, and ALS's 0.913).

    python examples/movielens_solvers.py [--quick] [--data-dir ../shared/data/ml-100k]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from fmlearn import FMEncoder, FMRegressor

# sphinx-gallery runs the examples from this folder, without __file__
EXAMPLES = Path(__file__).resolve().parent if "__file__" in globals() else Path.cwd()
SHARED = EXAMPLES.parents[1] / "shared" / "data" / "ml-100k"


def load_frames(data_dir: Path):
    """Train/test DataFrames with ids, side information and each user's rated-movie set."""
    train = pd.read_csv(data_dir / "train.tsv", sep="\t")
    test = pd.read_csv(data_dir / "test.tsv", sep="\t")
    users = pd.read_csv(data_dir / "users.tsv", sep="\t")
    items = pd.read_csv(data_dir / "items.tsv", sep="\t")
    users["age"] = users["age"] // 10 * 10
    items["genres"] = items["genres"].fillna("").str.split()
    # implicit feedback: every movie the user rated (in train or test — which movies a user
    # rated is known at prediction time, only the rating is not; libFM's convention)
    rated = pd.concat([train, test]).groupby("user_id")["item_id"].apply(list).rename("rated")
    users = users.join(rated, on="user_id")

    def join(ratings):
        frame = ratings.merge(users, on="user_id").merge(items, on="item_id")
        return frame, frame["rating"].to_numpy(dtype=float)

    return join(train), join(test)


FEATURE_SETS = {
    "ids": ["user_id", "item_id"],
    "+ side information": [
        "user_id", "item_id", "age", "gender", "occupation", "release_year", "genres",
    ],
    "+ implicit feedback": [
        "user_id", "item_id", "age", "gender", "occupation", "release_year", "genres", "rated",
    ],
}  # fmt: skip


def run(
    data_dir: Path = SHARED,
    sweeps: int = 100,
    epochs: int = 100,
    solvers: tuple = ("mcmc", "als", "adagrad"),
) -> list:
    (train, y_train), (test, y_test) = load_frames(data_dir)
    rows = []
    for name, columns in FEATURE_SETS.items():
        encoder = FMEncoder(
            categorical=[c for c in ("user_id", "item_id", "age", "release_year") if c in columns],
            multi_valued=[c for c in ("genres", "rated") if c in columns],
        )
        X_train = encoder.fit_transform(train[columns])
        X_test = encoder.transform(test[columns])
        # implicit feedback makes rows ~25× longer: run it with MCMC only, the solver that
        # gets the most out of it without tuning
        for solver in solvers if name != "+ implicit feedback" else ("mcmc",):
            n_iter = sweeps if solver == "mcmc" else epochs
            model = FMRegressor(n_factors=10, solver=solver, max_iter=n_iter, random_state=0)
            start = time.perf_counter()
            fit = {"groups": encoder.groups_} if solver == "mcmc" else {}
            model.fit(X_train, y_train, **fit)
            seconds = time.perf_counter() - start
            rmse = float(np.sqrt(np.mean((model.predict(X_test) - y_test) ** 2)))
            rows.append((name, solver, X_train.nnz / X_train.shape[0], rmse, seconds))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description="Rating prediction on MovieLens-100K: which features and which solver?"
    )
    parser.add_argument("--data-dir", type=Path, default=SHARED)
    parser.add_argument("--quick", action="store_true", help="30 ALS/AdaGrad iterations, not 100")
    args = parser.parse_args()
    if not (args.data_dir / "train.tsv").exists():
        raise SystemExit(f"{args.data_dir}/train.tsv not found (see --data-dir).")
    rows = run(args.data_dir, sweeps=100, epochs=30 if args.quick else 100)
    print(f"{'features':<22}{'solver':<9}{'nnz/row':>8}{'test RMSE':>11}{'seconds':>9}")
    for name, solver, nnz, rmse, seconds in rows:
        print(f"{name:<22}{solver:<9}{nnz:>8.1f}{rmse:>11.4f}{seconds:>9.1f}")


if __name__ == "__main__":
    main()

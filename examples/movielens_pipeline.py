"""
MovieLens-100K as one DataFrame → FMEncoder → FMRegressor, in one scikit-learn Pipeline
=======================================================================================

Ratings joined with user demographics and movie genres/years are a typical table: ids,
categories, a multi-valued genre column and numbers. The encoder turns it into the sparse
design matrix and reports each feature's column as a hyperprior group for MCMC.

    python examples/movielens_pipeline.py [--data-dir ../shared/data/ml-100k] [--quick]

Uses ../shared/data/ml-100k when present (a fixed 90/10 split); otherwise downloads
MovieLens-100K with fmlearn.datasets.fetch_movielens (network needed once).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.pipeline import make_pipeline

from fmlearn import FMEncoder, FMRegressor

# sphinx-gallery runs the examples from this folder, without __file__
EXAMPLES = Path(__file__).resolve().parent if "__file__" in globals() else Path.cwd()
SHARED = EXAMPLES.parents[1] / "shared" / "data" / "ml-100k"


def load_tables(data_dir: Path | None):
    """``(train, test)`` DataFrames: one row per rating with user and item columns."""
    data_dir = data_dir or SHARED
    if (data_dir / "train.tsv").exists():
        train = pd.read_csv(data_dir / "train.tsv", sep="\t")
        test = pd.read_csv(data_dir / "test.tsv", sep="\t")
        users = pd.read_csv(data_dir / "users.tsv", sep="\t")
        items = pd.read_csv(data_dir / "items.tsv", sep="\t")
        items["genres"] = items["genres"].fillna("").str.replace(" ", "|")
    else:  # pragma: no cover - needs the network once
        from fmlearn.datasets import fetch_movielens

        data = fetch_movielens("100k")
        ratings = data.ratings.sample(frac=1.0, random_state=42).reset_index(drop=True)
        train, test = ratings[:90_000], ratings[90_000:]
        users, items = data.users, data.items
    columns = ["user_id", "item_id", "age", "gender", "occupation", "release_year", "genres"]

    def join(ratings):
        table = ratings.merge(users, on="user_id", how="left").merge(
            items, on="item_id", how="left"
        )
        table["age"] = (table["age"] // 10) * 10  # age decade: a category
        return table[columns], table["rating"].to_numpy(dtype=float)

    return join(train), join(test)


def run(data_dir: Path | None = None, n_sweeps: int = 100) -> list[tuple[str, float, float]]:
    (X_train, y_train), (X_test, y_test) = load_tables(data_dir)
    categorical = ["user_id", "item_id", "age", "release_year"]
    results = []
    for label, columns in (
        ("ids only", ["user_id", "item_id"]),
        ("ids + side information", list(X_train.columns)),
    ):
        encoder = FMEncoder(
            categorical=[c for c in categorical if c in columns],
            multi_valued=["genres"] if "genres" in columns else None,
        )
        groups = encoder.fit(X_train[columns]).groups_
        model = make_pipeline(
            encoder, FMRegressor(n_factors=10, solver="mcmc", max_iter=n_sweeps, random_state=0)
        )
        start = time.perf_counter()
        model.fit(X_train[columns], y_train, fmregressor__groups=groups)
        seconds = time.perf_counter() - start
        rmse = float(np.sqrt(np.mean((model.predict(X_test[columns]) - y_test) ** 2)))
        results.append((label, rmse, seconds))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description="MovieLens-100K as one DataFrame → FMEncoder → FMRegressor, in one "
        "scikit-learn Pipeline"
    )
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--quick", action="store_true", help="30 sweeps instead of 100")
    args = parser.parse_args()
    results = run(args.data_dir, n_sweeps=30 if args.quick else 100)
    print(f"{'MovieLens-100K, MCMC k=10':<28}{'test RMSE':>10}{'seconds':>9}")
    for label, rmse, seconds in results:
        print(f"{label:<28}{rmse:>10.4f}{seconds:>9.1f}")


if __name__ == "__main__":
    main()

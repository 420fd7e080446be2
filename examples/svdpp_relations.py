"""
SVD++ implicit feedback as a relation block
===========================================

SVD++ describes a user also by the set of items they rated (implicit feedback): written
into every rating row, that set repeats once per rating, and a row of a user with 100
ratings carries 100 extra non-zeros. A :class:`fmlearn.RelationBlock` stores the set
once per user (``X``: one row per user) with ``index``: which user each rating row
belongs to. The model is still the FM over the flattened rows
(:func:`fmlearn.relations.flatten`), so its predictions are the flat model's, but the
MCMC (and ALS) sweep computes each user's part once (Rendle, VLDB 2013).

Generated data (offline, seconds): users pick items close to their taste, so which items
a user rated says who they are, beyond their few ratings.

    python examples/svdpp_relations.py [--quick]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import scipy.sparse as sp

from fmlearn import FMRegressor, RelationBlock
from fmlearn.relations import flatten


def planted(n_rows: int, n_items: int = 500, seed: int = 0):
    """(user, item, rating) rows, ~40 per user: items drawn by affinity to the user's taste."""
    rng = np.random.default_rng(seed)
    n_users = n_rows // 40
    P, Q = rng.normal(0, 0.7, (n_users, 3)), rng.normal(0, 0.7, (n_items, 3))
    users = rng.integers(0, n_users, n_rows)
    items = np.empty(n_rows, np.int64)
    for start in range(0, n_rows, 10_000):  # Gumbel-max: item ∝ exp(2 · taste · item)
        u = users[start : start + 10_000]
        gumbel = rng.gumbel(size=(u.size, n_items))
        items[start : start + u.size] = np.argmax(2.0 * P[u] @ Q.T + gumbel, axis=1)
    y = 3.5 + np.einsum("nf,nf->n", P[users], Q[items]) + rng.normal(0, 0.5, n_rows)
    return users, items, y, n_users, n_items


def rmse(pred, y) -> float:
    return float(np.sqrt(np.mean((pred - y) ** 2)))


def run(n_rows: int, sweeps: int) -> dict:
    users, items, y, n_users, n_items = planted(n_rows)
    rows = np.arange(n_rows)
    X = sp.csr_matrix((np.ones(n_rows), (rows, users)), shape=(n_rows, n_users))
    X = sp.hstack([X, sp.csr_matrix((np.ones(n_rows), (rows, items)))], format="csr")
    groups = np.repeat([0, 1], [n_users, n_items])  # MCMC hyperprior groups: user, item ids
    # the items each user rated (which items, not the ratings; SVD++'s N(u)), unit length
    rated = sp.csr_matrix((np.ones(n_rows), (users, items)), shape=(n_users, n_items))
    rated.data[:] = 1.0
    rated = sp.csr_matrix(sp.diags(1 / np.sqrt(np.maximum(rated.getnnz(axis=1), 1))) @ rated)
    train, test = rows < 0.8 * n_rows, rows >= 0.8 * n_rows
    block = {
        "train": [RelationBlock(users[train], rated)],
        "test": [RelationBlock(users[test], rated)],
    }

    def mcmc():
        return FMRegressor(n_factors=4, solver="mcmc", max_iter=sweeps, random_state=0)

    ids = mcmc().fit(X[train], y[train], groups=groups)
    result = {"ids only": (rmse(ids.predict(X[test]), y[test]), None)}
    start = time.perf_counter()
    model = mcmc().fit(X[train], y[train], groups=groups, relations=block["train"])
    seconds = (time.perf_counter() - start) / sweeps
    pred = model.predict(X[test], relations=block["test"])
    result["ids + implicit block"] = (rmse(pred, y[test]), seconds)
    # the fitted samples as a plain FM on the flat rows [X | rated[user]]: the same ŷ
    flat_test, _ = flatten(X[test], block["test"])
    samples = []
    for w0, w, V in (s.as_tuple() for s in model.samples_):
        pairwise = ((flat_test @ V) ** 2 - flat_test.multiply(flat_test) @ V**2).sum(axis=1)
        samples.append(w0[0] + flat_test @ w + 0.5 * pairwise)
    flat_pred = np.clip(np.mean(samples, axis=0), model.y_min_, model.y_max_)
    result["max |Δŷ|"] = float(np.abs(pred - flat_pred).max())
    # the flat design fitted as such: the same model, each row carrying the user's whole set
    flat_train, flat_groups = flatten(X[train], block["train"], groups)
    start = time.perf_counter()
    flat = mcmc().fit(flat_train, y[train], groups=flat_groups)
    seconds = (time.perf_counter() - start) / sweeps
    result["flat rows"] = (rmse(flat.predict(flat_test), y[test]), seconds)
    result["nnz/row"] = flat_train.nnz / flat_train.shape[0]
    return result


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="SVD++ implicit feedback as a RelationBlock")
    parser.add_argument("--quick", action="store_true", help="fewer rows and sweeps")
    n_rows, sweeps = (40_000, 60) if parser.parse_args(argv).quick else (100_000, 150)
    result = run(n_rows, sweeps)
    print(
        f"{n_rows:,} ratings (80 % train), MCMC k=4, {sweeps} sweeps; a flat row has "
        f"{result['nnz/row']:.0f} non-zeros, X's rows 2 (and a link to the user's block row)"
    )
    print(f"{'model':<22} {'test RMSE':>9} {'s/sweep':>8}")
    for name in ("ids only", "ids + implicit block", "flat rows"):
        score, seconds = result[name]
        print(f"{name:<22} {score:>9.4f} {'' if seconds is None else f'{seconds:.4f}':>8}")
    print(f"block model vs its samples on the flat rows: max |Δŷ| = {result['max |Δŷ|']:.1e}")
    print("(the flat fit samples the same model by another chain: its RMSE differs by chance)")


if __name__ == "__main__":
    main()

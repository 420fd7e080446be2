"""
Top-N recommendation from implicit feedback, and cold start for users never seen
================================================================================

Generated feedback (``make_implicit_feedback``: 3,000 users × 1,500 items, ~100,000
interactions; each user belongs to one of 10 groups, each item to one of 12 genres, and a
user's taste is partly its group's) is split at random 80/20. Then:

1. popularity (the most-interacted items the user has not seen) against
   ``FMRecommender(loss="warp")`` on identity features only, and with the group and genre
   as side features — precision@10 and nDCG@10 on the held-out interactions;
2. cold start: the last 500 users are left out of training entirely; the side-feature
   model recommends to them from their group alone (``recommend(user_features=…)``),
   against the popularity list they would otherwise get.

Run: ``python examples/implicit_recommendation.py`` (about a minute; ``--quick``: a third).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import scipy.sparse as sp

from fmlearn import FMRecommender
from fmlearn.datasets import make_implicit_feedback
from fmlearn.metrics import ndcg_at_k, precision_at_k
from fmlearn.recommender import random_split


def popularity_lists(train: sp.csr_matrix, users: np.ndarray, n: int = 10) -> np.ndarray:
    """Each user's n most popular unseen items (popularity counted on ``train``)."""
    ranked = np.argsort(-np.asarray(train.sum(axis=0)).ravel(), kind="stable")
    lists = np.empty((users.size, n), dtype=np.int64)
    for row, u in enumerate(users):
        seen = train.indices[train.indptr[u] : train.indptr[u + 1]]
        lists[row] = ranked[~np.isin(ranked, seen)][:n]
    return lists


def run(n_users: int = 3_000, n_items: int = 1_500, max_iter: int = 30) -> dict:
    data = make_implicit_feedback(n_users, n_items, 33 * n_users, random_state=0)
    train, test = random_split(data.interactions, 0.2, random_state=0)
    users = np.flatnonzero(np.diff(test.indptr))
    scores = {}

    def record(label, ids, seconds):
        scores[label] = (precision_at_k(ids, test, 10, users=users),
                         ndcg_at_k(ids, test, 10, users=users), seconds)  # fmt: skip

    record("popularity", popularity_lists(train, users), 0.0)
    features = {"user_features": data.user_features, "item_features": data.item_features}
    for label, side in (("FM, ids only", {}), ("FM, ids + group/genre", features)):
        start = time.perf_counter()
        model = FMRecommender(64, max_iter=max_iter, random_state=0).fit(train, **side)
        record(label, model.recommend(users, n=10)[0], time.perf_counter() - start)

    # Cold start: users from n_known on never appear in training.
    n_known = n_users - 500
    known = sp.vstack([data.interactions[:n_known], sp.csr_matrix((500, n_items))]).tocsr()
    model = FMRecommender(64, max_iter=max_iter, random_state=0).fit(known, **features)
    new_users = np.arange(n_known, n_users)
    truth = data.interactions[n_known:]
    cold_ids, _ = model.recommend(user_features=data.user_features[n_known:], n=10)
    ranked = np.argsort(-np.asarray(known.sum(axis=0)).ravel(), kind="stable")[:10]
    cold = {
        "popularity": precision_at_k(np.tile(ranked, (new_users.size, 1)), truth, 10),
        "FM from group": precision_at_k(cold_ids, truth, 10),
    }
    return {"warm": scores, "cold": cold, "n_test_users": users.size}


def main() -> None:
    parser = argparse.ArgumentParser(
        description="Top-N recommendation from implicit feedback, and cold start for users "
        "never seen"
    )
    parser.add_argument("--quick", action="store_true", help="1,000 users, 20 epochs")
    args = parser.parse_args()
    result = run(1_000, 600, 20) if args.quick else run()
    print(f"held-out interactions of {result['n_test_users']:,} users")
    print(f"{'model':26} {'precision@10':>12} {'nDCG@10':>8} {'fit s':>6}")
    for label, (p, ndcg, seconds) in result["warm"].items():
        print(f"{label:26} {p:12.4f} {ndcg:8.4f} {seconds:6.1f}")
    print("\ncold start: 500 users never seen in training, precision@10")
    for label, p in result["cold"].items():
        print(f"{label:26} {p:12.4f}")


if __name__ == "__main__":
    main()

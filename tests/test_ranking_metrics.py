"""fmlearn.metrics: the ranking metrics against slow, obvious references, hand-computed
examples, scikit-learn, and every bad input."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import ndcg_score, roc_auc_score

from fmlearn.metrics import (
    auc_per_user,
    catalog_coverage,
    map_at_k,
    ndcg_at_k,
    precision_at_k,
    ranking_report,
    recall_at_k,
)

LIST_METRICS = {
    "precision": precision_at_k,
    "recall": recall_at_k,
    "ndcg": ndcg_at_k,
    "map": map_at_k,
}


# --- slow, obvious references: loops over users and positions ---------------------------


def reference_metrics(recommended, test, k, users=None) -> dict[str, float]:
    test = sp.csr_matrix(test)
    recommended = np.asarray(recommended)
    if users is None:
        users = range(recommended.shape[0])
    totals = {"precision": 0.0, "recall": 0.0, "ndcg": 0.0, "map": 0.0}
    n_evaluated = 0
    for row, user in enumerate(users):
        row_of_test = test[user]
        relevant = {int(j) for j in row_of_test.indices[row_of_test.data != 0]}
        if not relevant:
            continue
        n_evaluated += 1
        shown = [int(j) for j in recommended[row][:k]]
        hits = 0
        dcg = 0.0
        precision_sum = 0.0
        for i, item in enumerate(shown, start=1):
            if item != -1 and item in relevant:
                hits += 1
                dcg += 1.0 / math.log2(i + 1)
                precision_sum += hits / i
        ideal = sum(1.0 / math.log2(i + 1) for i in range(1, min(k, len(relevant)) + 1))
        totals["precision"] += hits / k
        totals["recall"] += hits / len(relevant)
        totals["ndcg"] += dcg / ideal
        totals["map"] += precision_sum / min(k, len(relevant))
    return {name: total / n_evaluated for name, total in totals.items()}


def reference_auc(scores, test, users, exclude=None) -> list[float]:
    """One AUC per row by the O(n_items²) pair count; NaN without both classes."""
    test = sp.csr_matrix(test)
    exclude = None if exclude is None else sp.csr_matrix(exclude)
    out = []
    for row, user in enumerate(users):
        held = set(test[user].indices[test[user].data != 0].tolist())
        skip = set() if exclude is None else set(exclude[user].indices.tolist())
        pos = [scores[row, j] for j in range(scores.shape[1]) if j in held and j not in skip]
        neg = [scores[row, j] for j in range(scores.shape[1]) if j not in held | skip]
        if not pos or not neg:
            out.append(float("nan"))
            continue
        wins = sum((p > q) + 0.5 * (p == q) for p in pos for q in neg)
        out.append(wins / (len(pos) * len(neg)))
    return out


def random_case(rng, n_users, n_items, n, density, pad=0.3):
    """A random test matrix and random top-n lists (distinct ids, some −1 padding)."""
    test = sp.random(n_users, n_items, density=density, format="csr", random_state=rng)
    test.data[:] = rng.integers(1, 5, size=test.nnz)
    n = min(n, n_items)
    recommended = np.array([rng.permutation(n_items)[:n] for _ in range(n_users)])
    recommended[rng.random(recommended.shape) < pad] = -1
    return recommended, test


# --- 1. against the references ----------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_users=st.integers(1, 30),
    n_items=st.integers(1, 40),
    n=st.integers(0, 15),
    k=st.integers(1, 20),
    density=st.floats(0.05, 0.6),
    subset=st.booleans(),
)
def test_list_metrics_equal_reference(seed, n_users, n_items, n, k, density, subset):
    rng = np.random.default_rng(seed)
    recommended, test = random_case(rng, n_users, n_items, n, density)
    test = (test + sp.csr_matrix(([1], ([0], [0])), shape=test.shape)).tocsr()  # one to evaluate
    users = None
    if subset:  # lists for some users of test, in any order, some twice
        users = rng.integers(0, n_users, size=max(1, n_users // 2))
        users[0] = 0
        recommended = recommended[users]
    expected = reference_metrics(recommended, test, k, users)
    report = ranking_report(recommended, test, k, users=users)
    for name, metric in LIST_METRICS.items():
        assert metric(recommended, test, k, users=users) == pytest.approx(expected[name], abs=1e-12)
        assert report[name] == pytest.approx(expected[name], abs=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_larger_random_case_equals_reference(seed):
    rng = np.random.default_rng(seed)
    recommended, test = random_case(rng, 200, 300, 25, 0.02)
    for k in (1, 5, 10, 25, 40):
        expected = reference_metrics(recommended, test, k)
        for name, metric in LIST_METRICS.items():
            assert metric(recommended, test, k) == pytest.approx(expected[name], abs=1e-12)


# --- 2. hand-computed examples ------------------------------------------------------------


def test_hand_computed_example():
    # items a, b, c, d = 0, 1, 2, 3; the list [a, b, c], relevant {b, d}.
    # one hit (b) at rank 2:
    #   precision@3 = 1/3; recall@3 = 1/2;
    #   DCG = 1/log2(3), ideal DCG over min(3, 2) = 2 hits = 1/log2(2) + 1/log2(3),
    #   so nDCG@3 = (1/log2 3) / (1 + 1/log2 3);
    #   AP@3 = precision@2 / min(3, 2) = (1/2) / 2.
    test = sp.csr_matrix(np.array([[0, 1, 0, 1]]))
    recommended = np.array([[0, 1, 2]])
    assert precision_at_k(recommended, test, 3) == pytest.approx(1 / 3, abs=1e-15)
    assert recall_at_k(recommended, test, 3) == pytest.approx(1 / 2, abs=1e-15)
    inv = 1 / math.log2(3)
    assert ndcg_at_k(recommended, test, 3) == pytest.approx(inv / (1 + inv), abs=1e-15)
    assert map_at_k(recommended, test, 3) == pytest.approx(0.25, abs=1e-15)


def test_hand_computed_two_users_mean_unweighted():
    # user 0: list [3, 0, 1], relevant {0, 1, 2}: hits at ranks 2 and 3.
    #   precision@3 = 2/3, recall = 2/3,
    #   nDCG = (1/log2 3 + 1/log2 4) / (1 + 1/log2 3 + 1/log2 4),
    #   AP = (1/2 + 2/3) / 3 = 7/18.
    # user 1: list [2, -1, 4], relevant {2}: hit at rank 1 → precision 1/3, recall 1,
    #   nDCG 1, AP 1/1 = 1.
    # user 2: nothing held out → skipped, so every metric is the mean of users 0 and 1.
    test = sp.csr_matrix(
        np.array(
            [
                [1, 1, 1, 0, 0],
                [0, 0, 1, 0, 0],
                [0, 0, 0, 0, 0],
            ]
        )
    )
    recommended = np.array([[3, 0, 1], [2, -1, 4], [0, 1, 2]])
    l3, l4 = 1 / math.log2(3), 1 / math.log2(4)
    expected = {
        "precision": (2 / 3 + 1 / 3) / 2,
        "recall": (2 / 3 + 1) / 2,
        "ndcg": ((l3 + l4) / (1 + l3 + l4) + 1) / 2,
        "map": (7 / 18 + 1) / 2,
    }
    report = ranking_report(recommended, test, 3, n_items=5)
    for name, metric in LIST_METRICS.items():
        assert metric(recommended, test, 3) == pytest.approx(expected[name], abs=1e-15)
        assert report[name] == pytest.approx(expected[name], abs=1e-15)
    assert report["n_users"] == 2
    # coverage counts every row, the skipped user's too: {0, 1, 2, 3, 4} of 5 items
    assert report["coverage"] == 1.0
    assert ranking_report(recommended[:2], test, 3, users=[0, 1], n_items=10)["coverage"] == 0.5


def test_map_divides_by_k_when_more_relevant_than_k():
    # 5 relevant items, k = 2, list [0, 9]: one hit at rank 1 → AP = 1 / min(2, 5) = 1/2;
    # recall = 1/5; ideal DCG has 2 hits: nDCG = 1 / (1 + 1/log2 3).
    test = sp.csr_matrix(np.array([[1, 1, 1, 1, 1, 0, 0, 0, 0, 0]]))
    recommended = np.array([[0, 9, 1]])
    assert map_at_k(recommended, test, 2) == pytest.approx(0.5, abs=1e-15)
    assert recall_at_k(recommended, test, 2) == pytest.approx(0.2, abs=1e-15)
    assert ndcg_at_k(recommended, test, 2) == pytest.approx(1 / (1 + 1 / math.log2(3)))


def test_catalog_coverage():
    recommended = np.array([[0, 1, 5], [1, 2, -1], [-1, -1, -1]])
    assert catalog_coverage(recommended, 10, k=2) == pytest.approx(3 / 10)  # {0, 1, 2}
    assert catalog_coverage(recommended, 10, k=3) == pytest.approx(4 / 10)  # and 5
    assert catalog_coverage(recommended, 6, k=50) == pytest.approx(4 / 6)


# --- 3. nDCG against scikit-learn ---------------------------------------------------------


@pytest.mark.parametrize("k", [1, 3, 10, 50])
def test_ndcg_equals_sklearn_ndcg_score(k):
    rng = np.random.default_rng(7)
    n_users, n_items = 60, 50
    relevance = (rng.random((n_users, n_items)) < 0.15).astype(float)
    relevance[relevance.sum(axis=1) == 0, 0] = 1.0  # every user has a relevant item
    scores = rng.normal(size=(n_users, n_items))  # continuous: no ties
    ranking = np.argsort(-scores, axis=1)  # the full ranking as a recommended list
    expected = ndcg_score(relevance, scores, k=k)
    assert ndcg_at_k(ranking, sp.csr_matrix(relevance), k) == pytest.approx(expected, abs=1e-12)


# --- 4. per-user AUC ------------------------------------------------------------------------


def auc_case(seed, n_users=40, n_items=30):
    rng = np.random.default_rng(seed)
    test = sp.random(n_users, n_items, density=0.15, format="csr", random_state=rng)
    exclude = sp.random(n_users, n_items, density=0.2, format="csr", random_state=rng)
    scores = rng.integers(0, 4, size=(n_users, n_items)).astype(float)  # many ties
    return scores, test, exclude


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("use_exclude", [False, True])
def test_auc_per_user_equals_sklearn_roc_auc_score(seed, use_exclude):
    scores, test, exclude = auc_case(seed)
    exclude = exclude if use_exclude else None
    per_user = auc_per_user(scores, test, exclude=exclude, average=False)
    expected = []
    for u in range(scores.shape[0]):
        held = test[u].toarray().ravel() != 0
        keep = np.ones_like(held) if exclude is None else exclude[u].toarray().ravel() == 0
        y = held[keep]
        if y.all() or not y.any():
            expected.append(np.nan)
        else:
            expected.append(roc_auc_score(y, scores[u, keep]))
    np.testing.assert_allclose(per_user, expected, atol=1e-12, rtol=0)
    assert auc_per_user(scores, test, exclude=exclude) == pytest.approx(
        np.nanmean(expected), abs=1e-12
    )


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_users=st.integers(1, 12),
    n_items=st.integers(1, 15),
    levels=st.integers(1, 5),
)
def test_auc_per_user_equals_pair_count(seed, n_users, n_items, levels):
    rng = np.random.default_rng(seed)
    test = sp.random(n_users, n_items, density=0.3, format="csr", random_state=rng)
    exclude = sp.random(n_users, n_items, density=0.2, format="csr", random_state=rng)
    scores = rng.integers(0, levels, size=(n_users, n_items)).astype(np.float32)
    users = rng.integers(0, n_users, size=n_users)
    got = auc_per_user(scores, test, users=users, exclude=exclude, average=False)
    np.testing.assert_allclose(got, reference_auc(scores, test, users, exclude), atol=1e-12, rtol=0)


def test_auc_in_blocks_equals_one_call():
    scores, test, exclude = auc_case(11, n_users=50)
    whole = auc_per_user(scores, test, exclude=exclude, average=False)
    blocks = [np.arange(0, 17), np.arange(17, 50)]
    parts = [auc_per_user(scores[b], test, users=b, exclude=exclude, average=False) for b in blocks]
    np.testing.assert_array_equal(np.concatenate(parts), whole)
    # block means weighted by their number of evaluated users give the overall mean
    means = [auc_per_user(scores[b], test, users=b, exclude=exclude) for b in blocks]
    counts = [np.count_nonzero(~np.isnan(p)) for p in parts]
    assert np.average(means, weights=counts) == pytest.approx(
        auc_per_user(scores, test, exclude=exclude), abs=1e-12
    )


def test_auc_hand_computed_with_tie_and_exclude():
    # user 0: held out {0}, excluded {3}; scores [0.5, 0.5, 0.1, 9.0]:
    #   negatives {1, 2}: item 0 ties item 1 (½) and beats item 2 (1) → AUC = 1.5 / 2.
    # user 1: held out {0, 1, 2, 3}: no negative → NaN, left out of the mean.
    test = sp.csr_matrix(np.array([[1, 0, 0, 0], [1, 1, 1, 1]]))
    exclude = sp.csr_matrix(np.array([[0, 0, 0, 1], [0, 0, 0, 0]]))
    scores = np.array([[0.5, 0.5, 0.1, 9.0], [1.0, 2.0, 3.0, 4.0]])
    per_user = auc_per_user(scores, test, exclude=exclude, average=False)
    np.testing.assert_array_equal(per_user, [0.75, np.nan])
    assert auc_per_user(scores, test, exclude=exclude) == 0.75


def test_auc_no_user_with_both_classes_raises():
    test = sp.csr_matrix(np.array([[1, 1], [0, 0]]))
    scores = np.zeros((2, 2))
    assert np.isnan(auc_per_user(scores, test, average=False)).all()
    with pytest.raises(ValueError, match="no user has both"):
        auc_per_user(scores, test)


# --- 5. padding, short lists, skipped users, input formats --------------------------------


def test_padding_and_short_lists_are_misses():
    test = sp.csr_matrix(np.array([[1, 1, 1, 0, 0, 0]]))
    full = np.array([[0, 3, 1, 4]])
    padded = np.array([[0, -1, 1, -1]])  # padding where the misses were
    short = np.array([[0]])  # n = 1 < k = 4: three missing positions
    for metric in LIST_METRICS.values():
        assert metric(padded, test, 4) == metric(full, test, 4)
    assert precision_at_k(short, test, 4) == 0.25
    assert recall_at_k(short, test, 4) == pytest.approx(1 / 3)
    assert map_at_k(short, test, 4) == pytest.approx(1 / 3)  # (1/1) / min(4, 3)
    # only the first k columns count
    assert precision_at_k(np.array([[5, 4, 0, 1]]), test, 2) == 0.0
    # a list with no item at all is legal and scores 0
    assert precision_at_k(np.zeros((1, 0), dtype=int), test, 3) == 0.0


def test_users_without_held_out_items_are_skipped():
    test = sp.csr_matrix(np.array([[1, 0, 0], [0, 0, 0], [0, 0, 1]]))
    recommended = np.array([[0, 1], [1, 2], [2, 0]])
    # users 0 and 2 both have their item at rank 1: 1.0, whatever user 1's list is
    for metric in (recall_at_k, ndcg_at_k, map_at_k):
        assert metric(recommended, test, 2) == 1.0
    assert ranking_report(recommended, test, 2)["n_users"] == 2
    with pytest.raises(ValueError, match="no user in users has a held-out interaction"):
        precision_at_k(recommended[[1]], test, 2, users=[1])
    with pytest.raises(ValueError, match="no user in users has a held-out interaction"):
        ranking_report(recommended, sp.csr_matrix((3, 3)), 2)


def test_explicit_zeros_are_not_relevant():
    test = sp.csr_matrix(np.array([[1.0, 2.0, 3.0]]))
    test.data[1] = 0.0  # a stored zero, as scipy arithmetic leaves them
    assert test.nnz == 3
    recommended = np.array([[1, 0]])
    assert recall_at_k(recommended, test, 2) == 0.5  # item 0 of {0, 2}
    assert precision_at_k(recommended, test, 2) == 0.5
    assert test.nnz == 3  # the caller's matrix is not modified


@pytest.mark.parametrize("fmt", ["coo", "csc", "lil", "dok", "dense", "csr_array"])
def test_any_matrix_format_gives_the_same_numbers(fmt):
    rng = np.random.default_rng(3)
    recommended, test = random_case(rng, 20, 15, 6, 0.3)
    converted = {
        "dense": test.toarray(),
        "csr_array": sp.csr_array(test),
    }.get(fmt)
    if converted is None:
        converted = test.asformat(fmt)
    assert ranking_report(recommended, converted, 5) == ranking_report(recommended, test, 5)


def test_coo_duplicates_are_summed():
    # (0, 1) stored twice as +1 and −1: sums to 0, so not relevant
    test = sp.coo_matrix(([1, -1, 1], ([0, 0, 0], [1, 1, 2])), shape=(1, 3))
    assert recall_at_k(np.array([[1, 2]]), test, 2) == 1.0
    assert precision_at_k(np.array([[1, 2]]), test, 2) == 0.5


# --- 6. a perfect recommender ---------------------------------------------------------------


@pytest.mark.parametrize("k", [1, 3, 8])
def test_perfect_recommender(k):
    rng = np.random.default_rng(5)
    _, test = random_case(rng, 50, 30, 1, 0.15)
    held = [rng.permutation(test[u].indices) for u in range(test.shape[0])]
    width = max(len(h) for h in held)
    perfect = np.full((len(held), width), -1)
    for u, h in enumerate(held):
        perfect[u, : len(h)] = h
    n_rel = np.diff(test.indptr)
    evaluated = n_rel > 0
    report = ranking_report(perfect, test, k)
    assert report["precision"] == pytest.approx(np.mean(np.minimum(k, n_rel[evaluated]) / k))
    assert report["ndcg"] == pytest.approx(1.0, abs=1e-12)
    assert report["map"] == pytest.approx(1.0, abs=1e-12)
    small = evaluated & (n_rel <= k)
    assert recall_at_k(perfect[small], test, k, users=np.flatnonzero(small)) == pytest.approx(1)


# --- bad input ------------------------------------------------------------------------------


GOOD_TEST = sp.csr_matrix(np.array([[1, 0, 1], [0, 1, 0]]))
GOOD_LISTS = np.array([[0, 1], [1, 2]])


@pytest.mark.parametrize("k", [0, -1, 2.0, True, "3", None])
def test_bad_k(k):
    for metric in LIST_METRICS.values():
        with pytest.raises(ValueError, match="k must be a positive int"):
            metric(GOOD_LISTS, GOOD_TEST, k)
    with pytest.raises(ValueError, match="k must be a positive int"):
        catalog_coverage(GOOD_LISTS, 3, k)


@pytest.mark.parametrize(
    ("recommended", "match"),
    [
        (np.array([0, 1]), "recommended must be 2-D"),
        (np.zeros((2, 2, 1), dtype=int), "recommended must be 2-D"),
        (np.array([[0.0, 1.0], [1.0, 2.0]]), "recommended must hold integer item ids"),
        (np.array([[True, False], [False, True]]), "recommended must hold integer item ids"),
        (np.array([[0, -2], [1, 2]]), r"recommended item ids must be −1 .* got -2"),
        (np.array([[0, 3], [1, 2]]), r"recommended item ids .* \[0, test.shape\[1\] = 3\)"),
        (np.array([[0, 0], [1, 2]]), "recommended row 0 lists item 0 more than once"),
        (np.array([[0, 1, 2], [2, 1, 2]]), "recommended row 1 lists item 2 more than once"),
    ],
)
def test_bad_recommended(recommended, match):
    for metric in LIST_METRICS.values():
        with pytest.raises(ValueError, match=match):
            metric(recommended, GOOD_TEST, 2)
    with pytest.raises(ValueError, match=match):
        ranking_report(recommended, GOOD_TEST, 2)


def test_repeated_padding_is_not_a_duplicate():
    assert precision_at_k(np.array([[-1, 0, -1], [-1, -1, 1]]), GOOD_TEST, 3) == pytest.approx(
        1 / 3
    )


@pytest.mark.parametrize(
    ("users", "match"),
    [
        ([0], r"users must give one row of test per row of recommended: expected shape \(2,\)"),
        ([[0, 1]], "users must give one row of test per row of recommended"),
        ([0, 2], r"users must lie in \[0, 2\) \(rows of test\); got 2"),
        ([-1, 0], "users must lie in .* got -1"),
        ([0.0, 1.0], "users must hold integer row numbers"),
    ],
)
def test_bad_users(users, match):
    for metric in LIST_METRICS.values():
        with pytest.raises(ValueError, match=match):
            metric(GOOD_LISTS, GOOD_TEST, 2, users=users)


def test_rows_must_match_test_without_users():
    with pytest.raises(ValueError, match="recommended has 1 rows but test has 2 users"):
        precision_at_k(GOOD_LISTS[:1], GOOD_TEST, 2)
    with pytest.raises(ValueError, match="scores has 1 rows but test has 2 users"):
        auc_per_user(np.zeros((1, 3)), GOOD_TEST)


@pytest.mark.parametrize(
    "test",
    [
        np.array([1, 0, 1]),
        sp.coo_array(([1.0], ([1],)), shape=(3,)),
        [[1, 0], [0]],
        np.array([["a", "b"]]),
        "test",
    ],
)
def test_bad_test_matrix(test):
    with pytest.raises(ValueError, match="test must be a 2-D users × items matrix"):
        precision_at_k(GOOD_LISTS, test, 2)
    with pytest.raises(ValueError, match="test must be a 2-D users × items matrix"):
        auc_per_user(np.zeros((2, 3)), test)


@pytest.mark.parametrize(
    ("scores", "match"),
    [
        (np.zeros(3), r"scores must be 2-D \(users × items\)"),
        (np.zeros((2, 4)), r"scores must have one column per item of test \(3\); got 4"),
        (np.array([[0.0, np.nan, 1.0], [0.0, 1.0, 2.0]]), "scores contains NaN"),
        (np.array([["a", "b", "c"], ["a", "b", "c"]]), "scores must be numeric"),
    ],
)
def test_bad_scores(scores, match):
    with pytest.raises(ValueError, match=match):
        auc_per_user(scores, GOOD_TEST)


def test_bad_exclude_and_auc_users():
    scores = np.zeros((2, 3))
    with pytest.raises(ValueError, match=r"exclude must have test's shape \(2, 3\)"):
        auc_per_user(scores, GOOD_TEST, exclude=sp.csr_matrix((2, 4)))
    with pytest.raises(ValueError, match="exclude must be a 2-D users × items matrix"):
        auc_per_user(scores, GOOD_TEST, exclude=np.zeros(3))
    with pytest.raises(ValueError, match=r"users must lie in \[0, 2\)"):
        auc_per_user(scores, GOOD_TEST, users=[0, 5])
    with pytest.raises(ValueError, match="users must give one row of test per row of scores"):
        auc_per_user(scores, GOOD_TEST, users=[0])


@pytest.mark.parametrize("n_items", [0, -3, 2.5, None])
def test_bad_n_items(n_items):
    with pytest.raises(ValueError, match="n_items must be a positive int"):
        catalog_coverage(GOOD_LISTS, n_items)


def test_coverage_ids_beyond_n_items():
    with pytest.raises(ValueError, match=r"\[0, n_items = 2\); got 2"):
        catalog_coverage(GOOD_LISTS, 2)
    with pytest.raises(ValueError, match=r"\[0, n_items = 2\); got 2"):
        ranking_report(GOOD_LISTS, GOOD_TEST, 2, n_items=2)


def test_no_index_error_or_warning_on_edge_cases():
    # a test matrix with one stored entry, a single user, k far beyond the list
    test = sp.csr_matrix(([1.0], ([0], [4])), shape=(1, 5))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        report = ranking_report(np.array([[4, 3, 2, 1, 0]]), test, 100, n_items=5)
    assert report["recall"] == 1.0 and report["ndcg"] == 1.0 and report["map"] == 1.0
    assert report["precision"] == 0.01 and report["coverage"] == 1.0

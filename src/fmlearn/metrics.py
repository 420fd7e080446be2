"""Ranking metrics for top-N recommendation, evaluated against held-out interactions.

A recommender's output is judged list by list: which of the items it put first did the
user actually interact with later? The list metrics take the lists themselves, so they
work for any recommender (``FMRecommender.recommend``, a popularity baseline, another
library); ``auc_per_user`` takes the scores of every item instead, because an AUC is about
the whole ranking, not its head.

Conventions, shared by every function here:

* ``recommended`` is an int array (n_rows, n) of item ids, best first; −1 is padding (no
  item), wherever it stands. Only the first ``k`` columns count; when n < k the missing
  positions count as misses, exactly like padding — so a short list is never rewarded for
  being short. An id repeated within one row raises ``ValueError`` (a list that shows an
  item twice is a bug upstream, and would count one interaction twice).
* ``test`` is a users × items matrix, scipy sparse in any format (or a dense 2-D array),
  converted to CSR. An entry is relevant when its value is non-zero: explicit zeros that
  scipy arithmetic leaves behind (``A - B``, masking) mean "no interaction", not "an
  interaction of weight 0". The value itself is not a grade: every relevant item has gain 1.
* ``users`` (int array, one per row of ``recommended`` or ``scores``) gives the row of
  ``test`` each row belongs to; this is how a block of users is evaluated. Without it, row
  i is user i and there must be exactly ``test.shape[0]`` rows: a mismatch then is far more
  likely a mistake (lists for a subset of users) than a block that happens to start at 0.
  A user may appear in several rows; each row is one evaluation.
* Users with no relevant item in ``test`` are skipped by every metric (as LightFM's and
  implicit's evaluation do): no list can be right or wrong for them, and scoring them 0
  would make the number depend on how many such users the split left. If no user is left
  the metrics raise ``ValueError`` rather than return NaN — an empty evaluation is a broken
  split, not a result.
* Each metric is the unweighted mean over the evaluated users ("macro" average), so
  heavy users do not dominate.

Membership is one vectorised look-up: every (user row, item) pair becomes the int64 key
``row · n_items + item``, and the keys of the canonical CSR are sorted, so ``searchsorted``
finds a recommended pair in O(log nnz) — O(n_rows · k · log nnz) in all, no loop over users.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

__all__ = [
    "auc_per_user",
    "catalog_coverage",
    "map_at_k",
    "ndcg_at_k",
    "precision_at_k",
    "ranking_report",
    "recall_at_k",
]


def precision_at_k(recommended: npt.ArrayLike, test, k: int = 10, *, users=None) -> float:
    """Mean over evaluated users of (hits in the top k) / k.

    The denominator is k even when the user has fewer than k relevant items, so a perfect
    list scores min(k, n_relevant) / k: precision measures how much of the shown list was
    useful, which is what a user of a k-slot widget sees.

    Examples
    --------
    >>> import numpy as np
    >>> from fmlearn.metrics import precision_at_k
    >>> test = np.array([[1, 0, 1, 0, 0],   # user 0 interacted with items 0 and 2,
    ...                  [0, 1, 0, 0, 0],   # user 1 with item 1,
    ...                  [0, 0, 0, 0, 0]])  # user 2 with none (skipped)
    >>> recommended = np.array([[2, 1], [1, 4], [0, 3]])  # each user's list, best first
    >>> precision_at_k(recommended, test, k=2)  # users 0 and 1: 1 hit of 2 each
    0.5
    """
    hits, _ = _hits(recommended, test, k, users)
    return float(np.mean(hits.sum(axis=1) / k))


def recall_at_k(recommended: npt.ArrayLike, test, k: int = 10, *, users=None) -> float:
    """Mean over evaluated users of (hits in the top k) / (the user's relevant items).

    Not capped at k: a user with more relevant items than k cannot reach 1, which is the
    point of recall (how much of what the user wanted was found).

    Examples
    --------
    >>> import numpy as np
    >>> from fmlearn.metrics import recall_at_k
    >>> test = np.array([[1, 0, 1, 0, 0],   # user 0 interacted with items 0 and 2,
    ...                  [0, 1, 0, 0, 0],   # user 1 with item 1,
    ...                  [0, 0, 0, 0, 0]])  # user 2 with none (skipped)
    >>> recommended = np.array([[2, 1], [1, 4], [0, 3]])  # each user's list, best first
    >>> recall_at_k(recommended, test, k=2)  # user 0: 1 of 2 found, user 1: 1 of 1
    0.75
    """
    hits, n_rel = _hits(recommended, test, k, users)
    return float(np.mean(hits.sum(axis=1) / n_rel))


def ndcg_at_k(recommended: npt.ArrayLike, test, k: int = 10, *, users=None) -> float:
    """Mean over evaluated users of the normalised discounted cumulative gain at k.

    Binary gains, discount 1 / log2(rank + 1) with ranks from 1 (Järvelin & Kekäläinen
    2002, as scikit-learn's ``ndcg_score``); the ideal DCG puts min(k, n_relevant) hits
    first, so a list that is all hits scores 1 whatever the user's history length.

    Examples
    --------
    >>> import numpy as np
    >>> from fmlearn.metrics import ndcg_at_k
    >>> test = np.array([[1, 0, 1, 0, 0],   # user 0 interacted with items 0 and 2,
    ...                  [0, 1, 0, 0, 0],   # user 1 with item 1,
    ...                  [0, 0, 0, 0, 0]])  # user 2 with none (skipped)
    >>> recommended = np.array([[2, 1], [1, 4], [0, 3]])  # each user's list, best first
    >>> round(ndcg_at_k(recommended, test, k=2), 3)  # user 0: 1 / (1 + 1/log2(3)), user 1: 1
    0.807
    """
    hits, n_rel = _hits(recommended, test, k, users)
    return float(np.mean(_ndcg(hits, n_rel, k)))


def map_at_k(recommended: npt.ArrayLike, test, k: int = 10, *, users=None) -> float:
    """Mean over evaluated users of the average precision at k.

    AP@k = (Σ over hit positions i ≤ k of precision@i) / min(k, n_relevant): dividing by
    min(k, n_relevant) rather than n_relevant lets a perfect top-k list score 1 for a user
    with more than k relevant items (the usual MAP@k of recommender evaluation).

    Examples
    --------
    >>> import numpy as np
    >>> from fmlearn.metrics import map_at_k
    >>> test = np.array([[1, 0, 1, 0, 0],   # user 0 interacted with items 0 and 2,
    ...                  [0, 1, 0, 0, 0],   # user 1 with item 1,
    ...                  [0, 0, 0, 0, 0]])  # user 2 with none (skipped)
    >>> recommended = np.array([[2, 1], [1, 4], [0, 3]])  # each user's list, best first
    >>> map_at_k(recommended, test, k=2)  # user 0: 1 / 2, user 1: 1
    0.75
    """
    hits, n_rel = _hits(recommended, test, k, users)
    return float(np.mean(_average_precision(hits, n_rel, k)))


def catalog_coverage(recommended: npt.ArrayLike, n_items: int, k: int = 10) -> float:
    """Fraction of the ``n_items`` catalogue that appears in at least one row's top k.

    Every row counts (coverage needs no held-out data); padding covers nothing. A model
    that shows everyone the same bestsellers scores near k / n_items however accurate it is.

    Examples
    --------
    >>> import numpy as np
    >>> from fmlearn.metrics import catalog_coverage
    >>> recommended = np.array([[2, 1], [1, 4], [0, -1]])  # -1: padding
    >>> catalog_coverage(recommended, n_items=5, k=1)  # items 2, 1 and 0 lead a list
    0.6
    """
    k = _check_k(k)
    n_items = _check_positive_int(n_items, "n_items")
    recommended = _check_recommended(recommended, n_items, "n_items")
    top = recommended[:, :k]
    return float(np.unique(top[top >= 0]).size / n_items)


def ranking_report(
    recommended: npt.ArrayLike,
    test,
    k: int = 10,
    *,
    users=None,
    n_items: int | None = None,
) -> dict[str, float | int]:
    """All list metrics at k in one pass: ``precision``, ``recall``, ``ndcg``, ``map``,
    ``n_users`` (the rows evaluated, i.e. with ≥ 1 relevant item), and ``coverage`` when
    ``n_items`` is given (over every row, as ``catalog_coverage``).

    One membership look-up serves all metrics, so this is cheaper than calling each.

    Examples
    --------
    >>> import numpy as np
    >>> from fmlearn.metrics import ranking_report
    >>> test = np.array([[1, 0, 1, 0, 0],   # user 0 interacted with items 0 and 2,
    ...                  [0, 1, 0, 0, 0],   # user 1 with item 1,
    ...                  [0, 0, 0, 0, 0]])  # user 2 with none (skipped)
    >>> recommended = np.array([[2, 1], [1, 4], [0, 3]])  # each user's list, best first
    >>> report = ranking_report(recommended, test, k=2, n_items=5)
    >>> {name: round(value, 3) for name, value in report.items()}
    {'precision': 0.5, 'recall': 0.75, 'ndcg': 0.807, 'map': 0.75, 'n_users': 2, 'coverage': 1.0}
    """
    hits, n_rel = _hits(recommended, test, k, users)
    report: dict[str, float | int] = {
        "precision": float(np.mean(hits.sum(axis=1) / k)),
        "recall": float(np.mean(hits.sum(axis=1) / n_rel)),
        "ndcg": float(np.mean(_ndcg(hits, n_rel, k))),
        "map": float(np.mean(_average_precision(hits, n_rel, k))),
        "n_users": int(hits.shape[0]),
    }
    if n_items is not None:
        report["coverage"] = catalog_coverage(recommended, n_items, k)
    return report


def auc_per_user(
    scores: npt.ArrayLike,
    test,
    *,
    users=None,
    exclude=None,
    average: bool = True,
) -> float | np.ndarray:
    """Per-user AUC of the scores of every item: mean over users, or one value per row.

    For the user of each row, AUC = P(score of a held-out item > score of a negative) +
    ½ P(tie), where a negative is an item neither held out nor in ``exclude`` (typically the
    training interactions: items the model was fitted to rank high are neither right nor
    wrong). ``exclude`` has ``test``'s shape; its non-zero entries are left out of both
    positives and negatives.

    ``scores`` is a dense (n_rows, n_items) array for a block of users (``users`` names
    their rows of ``test``/``exclude``), so memory stays bounded on large catalogues. With
    ``average=True`` the result is the mean over rows with ≥ 1 positive and ≥ 1 negative
    (``ValueError`` if there is none); with ``average=False`` it is a float array with NaN
    for the other rows — concatenate the blocks and take ``np.nanmean`` to get the same
    mean as one call.

    Rank-based, one argsort per block: O(n_rows · n_items · log n_items), not O(n_items²).

    Examples
    --------
    >>> import numpy as np
    >>> from fmlearn.metrics import auc_per_user
    >>> test = np.array([[1, 0, 1, 0, 0], [0, 1, 0, 0, 0], [0, 0, 0, 0, 0]])
    >>> scores = np.array([[0.9, 0.1, 0.8, 0.3, 0.2],   # both held-out items first
    ...                    [0.2, 0.6, 0.1, 0.7, 0.0],   # item 1 above 3 of the 4 others
    ...                    [0.5, 0.4, 0.3, 0.2, 0.1]])  # no held-out item
    >>> auc_per_user(scores, test, average=False).tolist()
    [1.0, 0.75, nan]
    >>> auc_per_user(scores, test)  # the mean over the users that have one
    0.875
    """
    scores = np.asarray(scores)
    if scores.ndim != 2:
        raise ValueError(f"scores must be 2-D (users × items); got shape {scores.shape}.")
    if scores.dtype.kind not in "biuf":
        raise ValueError(f"scores must be numeric; got dtype {scores.dtype}.")
    test = _as_csr(test, "test")
    if scores.shape[1] != test.shape[1]:
        raise ValueError(
            f"scores must have one column per item of test ({test.shape[1]}); "
            f"got {scores.shape[1]}."
        )
    if scores.dtype.kind == "f" and np.isnan(scores).any():
        raise ValueError("scores contains NaN.")
    users = _check_users(users, scores.shape[0], test.shape[0], "scores")
    positive = _rows_dense(test, users)
    negative = ~positive
    if exclude is not None:
        exclude = _as_csr(exclude, "exclude")
        if exclude.shape != test.shape:
            raise ValueError(f"exclude must have test's shape {test.shape}; got {exclude.shape}.")
        excluded = _rows_dense(exclude, users)
        positive &= ~excluded
        negative &= ~excluded
    auc = _auc_rows(scores, positive, negative)
    if not average:
        return auc
    if np.isnan(auc).all():
        raise ValueError(
            "no user has both a held-out item and a negative item; the AUC is undefined."
        )
    return float(np.nanmean(auc))


# --- shared pieces ---------------------------------------------------------------------


def _hits(recommended, test, k, users) -> tuple[np.ndarray, np.ndarray]:
    """(hits, n_relevant) for the rows with ≥ 1 relevant item: hits[r, j] is True when the
    j-th recommended item of row r (padded to k columns) is relevant to its user."""
    k = _check_k(k)
    test = _as_csr(test, "test")
    n_users, n_items = test.shape
    recommended = _check_recommended(recommended, n_items, "test.shape[1]")
    users = _check_users(users, recommended.shape[0], n_users, "recommended")
    n_rel_all = np.diff(test.indptr)[users]
    keep = n_rel_all > 0
    if not keep.any():
        raise ValueError(
            "no user in users has a held-out interaction in test; nothing to evaluate."
        )
    top = np.full((int(keep.sum()), k), -1, dtype=np.int64)
    n_cols = min(k, recommended.shape[1])
    top[:, :n_cols] = recommended[keep, :n_cols]
    rows = users[keep]
    # canonical CSR: rows in order, sorted column indices within each row → sorted keys
    test_keys = np.repeat(np.arange(n_users, dtype=np.int64), np.diff(test.indptr))
    test_keys = test_keys * n_items + test.indices
    keys = rows[:, None] * n_items + top
    found = np.searchsorted(test_keys, keys)
    found = np.minimum(found, test_keys.size - 1)
    hits = (top >= 0) & (test_keys[found] == keys)
    return hits, n_rel_all[keep].astype(np.float64)


def _discounts(k: int) -> np.ndarray:
    return 1.0 / np.log2(np.arange(2, k + 2, dtype=np.float64))


def _ndcg(hits: np.ndarray, n_rel: np.ndarray, k: int) -> np.ndarray:
    discount = _discounts(k)
    ideal = np.cumsum(discount)[np.minimum(n_rel, k).astype(np.int64) - 1]
    return (hits @ discount) / ideal


def _average_precision(hits: np.ndarray, n_rel: np.ndarray, k: int) -> np.ndarray:
    precision_at_i = np.cumsum(hits, axis=1) / np.arange(1, k + 1)
    return (precision_at_i * hits).sum(axis=1) / np.minimum(n_rel, k)


def _auc_rows(scores: np.ndarray, positive: np.ndarray, negative: np.ndarray) -> np.ndarray:
    """AUC per row (NaN without a positive or a negative), ties half, as ``roc_auc`` of
    ``_metrics``: the rows are sorted once and flattened, a run of equal scores within a
    row is one group; each group adds its positives × (negatives below + ½ its own)."""
    n_rows, n_items = scores.shape
    auc = np.full(n_rows, np.nan)
    if n_rows == 0 or n_items == 0:
        return auc
    order = np.argsort(scores, axis=1, kind="stable")
    s = np.take_along_axis(scores, order, axis=1)
    pos = np.take_along_axis(positive, order, axis=1).ravel().astype(np.float64)
    neg = np.take_along_axis(negative, order, axis=1).ravel().astype(np.float64)
    new_run = np.ones((n_rows, n_items), dtype=bool)
    new_run[:, 1:] = s[:, 1:] != s[:, :-1]  # column 0 starts a run: a new row
    starts = np.flatnonzero(new_run.ravel())
    run_pos = np.add.reduceat(pos, starts)
    run_neg = np.add.reduceat(neg, starts)
    run_row = starts // n_items
    cum_neg = np.cumsum(run_neg)
    first_run = np.searchsorted(starts, np.arange(n_rows) * n_items)  # each row's first run
    neg_before_row = (cum_neg - run_neg)[first_run]
    neg_below = cum_neg - run_neg - neg_before_row[run_row]
    wins = np.bincount(run_row, weights=run_pos * (neg_below + 0.5 * run_neg), minlength=n_rows)
    n_pos = positive.sum(axis=1)
    n_neg = negative.sum(axis=1)
    ok = (n_pos > 0) & (n_neg > 0)
    auc[ok] = wins[ok] / (n_pos[ok] * n_neg[ok].astype(np.float64))
    return auc


def _rows_dense(matrix: sp.csr_matrix, users: np.ndarray) -> np.ndarray:
    """Non-zero pattern of ``matrix[users]`` as a dense bool array."""
    block = matrix[users]
    out = np.zeros(block.shape, dtype=bool)
    out[np.repeat(np.arange(block.shape[0]), np.diff(block.indptr)), block.indices] = True
    return out


# --- validation --------------------------------------------------------------------------


def _check_k(k) -> int:
    return _check_positive_int(k, "k")


def _check_positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{name} must be a positive int; got {value!r}.")
    return int(value)


def _as_csr(matrix, name: str) -> sp.csr_matrix:
    """Canonical CSR (sorted indices, no duplicates) holding only the non-zero entries."""
    if not sp.issparse(matrix):
        try:
            matrix = np.asarray(matrix)
        except Exception:  # ragged lists and the like
            matrix = None
        if matrix is None or matrix.dtype.kind not in "biuf":
            raise ValueError(f"{name} must be a 2-D users × items matrix of numbers.")
    if matrix.ndim != 2:
        raise ValueError(
            f"{name} must be a 2-D users × items matrix; got {matrix.ndim} dimension(s)."
        )
    csr = sp.csr_matrix(matrix, copy=True)
    csr.sum_duplicates()  # also sorts the indices
    csr.eliminate_zeros()
    return csr


def _check_recommended(recommended, n_items: int, bound: str) -> np.ndarray:
    """``recommended`` as a 2-D int64 array of ids in [−1, n_items), no id twice in a row."""
    recommended = np.asarray(recommended)
    if recommended.ndim != 2:
        raise ValueError(
            f"recommended must be 2-D (users × list positions); got shape {recommended.shape}."
        )
    if recommended.dtype.kind not in "iu":
        raise ValueError(f"recommended must hold integer item ids; got dtype {recommended.dtype}.")
    if recommended.size:
        lo, hi = int(recommended.min()), int(recommended.max())
        if lo < -1 or hi >= n_items:
            bad = lo if lo < -1 else hi
            raise ValueError(
                f"recommended item ids must be −1 (padding) or lie in [0, {bound} = {n_items}); "
                f"got {bad}."
            )
    recommended = recommended.astype(np.int64, copy=False)
    if recommended.size:
        s = np.sort(recommended, axis=1)
        repeated = (s[:, 1:] == s[:, :-1]) & (s[:, 1:] >= 0)
        if repeated.any():
            row = int(np.flatnonzero(repeated.any(axis=1))[0])
            item = int(s[row, 1:][repeated[row]][0])
            raise ValueError(f"recommended row {row} lists item {item} more than once.")
    return recommended


def _check_users(users, n_rows: int, n_users: int, rows_of: str) -> np.ndarray:
    """Row of ``test`` for each of the ``n_rows`` rows of ``rows_of``, as int64."""
    if users is None:
        if n_rows != n_users:
            raise ValueError(
                f"{rows_of} has {n_rows} rows but test has {n_users} users; pass users= to "
                f"say which row of test each row belongs to."
            )
        return np.arange(n_rows, dtype=np.int64)
    users = np.asarray(users)
    if users.shape != (n_rows,):
        raise ValueError(
            f"users must give one row of test per row of {rows_of}: expected shape "
            f"({n_rows},), got {users.shape}."
        )
    if users.dtype.kind not in "iu":
        raise ValueError(f"users must hold integer row numbers; got dtype {users.dtype}.")
    if users.size and (int(users.min()) < 0 or int(users.max()) >= n_users):
        bad = int(users.min()) if int(users.min()) < 0 else int(users.max())
        raise ValueError(f"users must lie in [0, {n_users}) (rows of test); got {bad}.")
    return users.astype(np.int64, copy=False)

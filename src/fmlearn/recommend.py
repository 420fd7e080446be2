"""Top-N recommendation: score every candidate item for one user in one context.

A recommendation query is "this user, now, on this device: which N items?". With an FM
the answer is one prediction per candidate on the row ``context + item``; building those
rows as one sparse matrix and predicting them in one call keeps it vectorised (and makes
it work for every estimator and solver, MCMC sample averaging included).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.base import is_classifier
from sklearn.utils.validation import check_is_fitted


def recommend(
    model,
    context,
    candidates,
    n: int = 10,
    *,
    exclude=None,
    ids=None,
) -> tuple[np.ndarray, np.ndarray]:
    """The ``n`` best candidates for one query, best first: ``(ids, scores)``.

    ``context`` is one row (1 × n_features, dense or sparse) holding the user and context
    features; ``candidates`` is one row per candidate item (m × n_features) holding the
    item's features (id one-hot, genres …). Each candidate is scored on ``context +
    candidate``: the prediction of a regressor (not clipped to the training range, which
    would tie the best items at the top rating), ``P(classes_[1])`` of a classifier, the
    expected label of an ordinal model. ``exclude`` (candidate positions, or ids when
    ``ids`` is given) are never returned — e.g. items the user already rated. ``ids``
    names the candidates (default: their positions). Ties keep candidate order.

    Examples
    --------
    Columns 0–19 are users, 20–29 items and 30–31 contexts (as ``make_recommendation``
    lays them out); the best 3 items for user 3 in context 0, item 2 excluded:

    >>> import numpy as np
    >>> from fmlearn import FMRegressor, recommend
    >>> from fmlearn.datasets import make_recommendation
    >>> X, y, _ = make_recommendation(2000, n_users=20, n_items=10, n_contexts=2, random_state=0)
    >>> model = FMRegressor(n_factors=4, max_iter=20, random_state=0).fit(X, y)
    >>> context = np.eye(1, 32, 3) + np.eye(1, 32, 30)  # user 3, context 0
    >>> candidates = np.eye(10, 32, 20)  # one row per item: its one-hot id
    >>> ids, scores = recommend(model, context, candidates, n=3, exclude=[2])
    >>> ids.shape, bool(2 not in ids), bool(np.all(np.diff(scores) <= 0))  # best first
    ((3,), True, True)
    """
    check_is_fitted(model)
    candidates = sp.csr_matrix(candidates)
    context = sp.csr_matrix(context)
    m, n_features = candidates.shape
    if context.shape != (1, n_features):
        raise ValueError(
            f"context must be one row with the {n_features} features of candidates; "
            f"got shape {context.shape}."
        )
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ValueError(f"n must be a positive int; got {n!r}.")
    ids = np.arange(m) if ids is None else np.asarray(ids)
    if ids.shape != (m,):
        raise ValueError(f"ids must name the {m} candidates; got shape {ids.shape}.")
    rows = candidates + sp.csr_matrix(np.ones((m, 1))) @ context  # context added to each row
    scores = _scores(model, rows)
    keep = np.ones(m, dtype=bool)
    if exclude is not None:
        keep &= ~np.isin(ids, np.asarray(exclude))
    positions = np.flatnonzero(keep)
    n = min(n, positions.size)
    # partial selection, then a stable sort of the selected by score, best first
    top = positions[np.argpartition(-scores[positions], n - 1)[:n]] if n else positions[:0]
    top = top[np.lexsort((top, -scores[top]))]
    return ids[top], scores[top]


def _scores(model, rows) -> np.ndarray:
    if is_classifier(model):
        return model.predict_proba(rows)[:, 1]
    if getattr(model, "clip_predictions", False) and hasattr(model, "_decision"):
        # unclipped: clipping to the rating range ties every item above it at y_max_
        return np.asarray(model._decision(rows), dtype=np.float64)
    return np.asarray(model.predict(rows), dtype=np.float64)

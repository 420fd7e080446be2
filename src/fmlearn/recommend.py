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

"""Generated data with a planted model: realistic shape, known truth.

The generators draw one-hot fields with skewed (Zipf-like) popularity, as real ids are,
and compute the target from an FM (or a field-weighted FM) with known parameters, so that
tests can check a solver recovers it and demos can compare against the noise level.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from fmlearn._validation import csr_arrays, make_rng
from fmlearn.kernels.predict import predict_csr
from fmlearn.models.fm import FMParams
from fmlearn.models.multiclass import SoftmaxFM, SoftmaxParams


@dataclass
class PlantedFM:
    """The generating model: its parameters, field sizes and noise level, and each
    field's ids by popularity (``id_order``: what ``planted=`` draws rows with)."""

    params: FMParams
    field_sizes: tuple[int, ...]
    noise: float
    id_order: tuple[np.ndarray, ...] | None = None

    def decision(self, X: sp.csr_matrix) -> np.ndarray:
        out = np.empty(X.shape[0])
        indptr, indices, data = csr_arrays(X)
        p = self.params
        predict_csr(indptr, indices, data, float(p.w0[0]), p.w, p.V, out)
        return out


def _one_hot_fields(n_samples, field_sizes, rng, skew, id_order=None):
    """One id per field per row, ids of each field drawn with popularity ∝ rank^−skew;
    returns the rows and ``id_order``, each field's ids from most to least popular.

    A first call draws ``id_order`` (popular ids anywhere in the field); the generators
    keep it in their planted model, so that ``planted=`` draws rows from the same
    distribution (a fresh order gave other popular ids: the column sums of a train and
    a "same distribution" test set correlated 0.7, of two halves of one set 0.99996).
    """
    n_fields = len(field_sizes)
    offsets = np.concatenate([[0], np.cumsum(field_sizes)[:-1]])
    indices = np.empty((n_samples, n_fields), dtype=np.int32)
    orders = []
    for j, size in enumerate(field_sizes):
        popularity = 1.0 / np.arange(1, size + 1) ** skew
        cdf = np.cumsum(popularity)
        ids = np.searchsorted(cdf, rng.random(n_samples) * cdf[-1], side="right")
        order = rng.permutation(size) if id_order is None else id_order[j]
        orders.append(order)
        indices[:, j] = offsets[j] + order[np.minimum(ids, size - 1)]
    indptr = np.arange(0, n_samples * n_fields + 1, n_fields, dtype=np.int64)
    data = np.ones(n_samples * n_fields)
    X = sp.csr_matrix((data, indices.ravel(), indptr), shape=(n_samples, sum(field_sizes)))
    return X, tuple(orders)


def _ctr_field_sizes(n_fields, n_features, rng) -> tuple[int, ...]:
    """Field sizes spread log-uniformly (a few huge id fields, many small ones)."""
    raw = np.exp(rng.uniform(np.log(2), np.log(n_features), n_fields))
    sizes = np.maximum(2, (raw / raw.sum() * n_features).astype(np.int64))
    sizes[np.argmax(sizes)] += n_features - sizes.sum()
    return tuple(int(s) for s in sizes)


def _planted_params(n_features, n_factors, rng, w0, linear_std, factor_std) -> FMParams:
    return FMParams(
        np.array([w0]),
        rng.normal(0.0, linear_std, n_features),
        rng.normal(0.0, factor_std, (n_features, n_factors)),
    )


def make_recommendation(
    n_samples: int = 50_000,
    n_users: int = 1_000,
    n_items: int = 500,
    n_contexts: int = 8,
    n_factors: int = 4,
    noise: float = 0.5,
    skew: float = 0.7,
    random_state=None,
) -> tuple[sp.csr_matrix, np.ndarray, PlantedFM]:
    """Ratings-like data: one-hot user | item | context, y from a planted FM plus noise.

    Returns ``(X, y, truth)``; ``X`` has ``n_users + n_items + n_contexts`` columns in that
    order. Factors are drawn ~ N(0, (0.8/√k)²), so the pairwise part has std ≈ 0.65 at the
    default k = 4 (≈ 0.96 at k = 2, 0.37 at k = 8), and linear terms std 0.5: a linear
    model leaves the interaction variance unexplained while an FM can reach
    RMSE ≈ ``noise``.

    Examples
    --------
    >>> from fmlearn.datasets import make_recommendation
    >>> X, y, truth = make_recommendation(n_samples=1000, random_state=0)
    >>> X.shape, y.shape, truth.field_sizes  # columns: 1000 users | 500 items | 8 contexts
    ((1000, 1508), (1000,), (1000, 500, 8))
    >>> int(X.getnnz(axis=1).max())  # one user, one item, one context per row
    3
    >>> truth.decision(X).shape  # the planted FM's noiseless targets
    (1000,)
    """
    rng = make_rng(random_state)
    sizes = (n_users, n_items, n_contexts)
    X, id_order = _one_hot_fields(n_samples, sizes, rng, skew)
    params = _planted_params(sum(sizes), n_factors, rng, 3.0, 0.5, n_factors**-0.5 * 0.8)
    truth = PlantedFM(params, sizes, noise, id_order)
    y = truth.decision(X) + rng.normal(0.0, noise, n_samples)
    return X, y, truth


def make_ctr(
    n_samples: int = 100_000,
    n_fields: int = 39,
    n_features: int = 100_000,
    n_factors: int = 4,
    skew: float = 1.1,
    random_state=None,
    planted: PlantedFM | None = None,
) -> tuple[sp.csr_matrix, np.ndarray, PlantedFM]:
    """Click-through-like data: ``n_fields`` one-hot hashed fields, y ∈ {0, 1}.

    Field sizes are spread log-uniformly (a few huge id fields, many small ones) to total
    ``n_features``; the click probability is σ(planted FM): about 26–28 % of rows click at
    the defaults (the intercept −1.5 alone would give 18 %). Pass the
    ``planted`` model of an earlier call to draw more rows from the same distribution
    (e.g. a test set, or a file written block by block); ``n_fields``, ``n_features``
    and ``n_factors`` are then taken from it.

    Examples
    --------
    >>> from fmlearn.datasets import make_ctr
    >>> X, y, truth = make_ctr(1000, n_fields=10, n_features=1000, random_state=0)
    >>> X.shape, sorted(set(y.tolist())), len(truth.field_sizes)
    ((1000, 1000), [0, 1], 10)
    >>> bool((X.getnnz(axis=1) == 10).all())  # one id per field in every row
    True
    >>> X_test, y_test, _ = make_ctr(200, random_state=1, planted=truth)  # same distribution
    >>> X_test.shape
    (200, 1000)
    """
    rng = make_rng(random_state)
    if planted is None:
        sizes = _ctr_field_sizes(n_fields, n_features, rng)
        X, id_order = _one_hot_fields(n_samples, sizes, rng, skew)
        scale = (n_fields * (n_fields - 1) / 2) ** -0.25 / n_factors**0.25
        params = _planted_params(n_features, n_factors, rng, -1.5, 0.3, scale)
        truth = PlantedFM(params, sizes, 0.0, id_order)
    else:
        truth = planted
        X, _ = _one_hot_fields(n_samples, truth.field_sizes, rng, skew, truth.id_order)
    logits = truth.decision(X)
    y = (rng.random(n_samples) < 1.0 / (1.0 + np.exp(-logits))).astype(np.int64)
    return X, y, truth


@dataclass
class PlantedSoftmaxFM:
    """A planted multiclass (softmax) FM: its parameters (``shared`` or ``separate``
    layout, models/multiclass.py) and field sizes."""

    params: SoftmaxParams
    field_sizes: tuple[int, ...]
    id_order: tuple[np.ndarray, ...] | None = None

    def decision(self, X: sp.csr_matrix) -> np.ndarray:
        """The (n_samples, n_classes) class scores."""
        k = self.params.n_factors
        return SoftmaxFM(k, shared=self.params.shared).decision(X, self.params)

    def predict_proba(self, X: sp.csr_matrix) -> np.ndarray:
        """The true class probabilities (the Bayes classifier's)."""
        scores = self.decision(X)
        e = np.exp(scores - scores.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)


def make_multiclass(
    n_samples: int = 100_000,
    n_classes: int = 5,
    n_fields: int = 8,
    n_features: int = 1_000,
    n_factors: int = 4,
    layout: str = "separate",
    skew: float = 1.1,
    random_state=None,
    planted: PlantedSoftmaxFM | None = None,
) -> tuple[sp.csr_matrix, np.ndarray, PlantedSoftmaxFM]:
    """Multiclass data from a planted softmax FM over one-hot fields; y ∈ {0, …, C−1}.

    ``layout="separate"`` draws a factor table per class (each class its own FM),
    ``"shared"`` one table and a projection per class (``FMClassifier(multiclass=…)``'s
    two models). Field sizes and popularity as :func:`make_ctr`'s. ``planted`` draws more
    rows from an earlier call's model (a test set).

    Examples
    --------
    >>> from fmlearn.datasets import make_multiclass
    >>> X, y, truth = make_multiclass(1000, n_classes=4, n_features=200, random_state=0)
    >>> X.shape, sorted(set(y.tolist()))
    ((1000, 200), [0, 1, 2, 3])
    >>> truth.predict_proba(X[:2]).shape
    (2, 4)
    """
    if layout not in ("separate", "shared"):
        raise ValueError(f"layout must be 'separate' or 'shared', got {layout!r}")
    rng = make_rng(random_state)
    if planted is None:
        sizes = _ctr_field_sizes(n_fields, n_features, rng)
        X, id_order = _one_hot_fields(n_samples, sizes, rng, skew)
        # pairwise scores of standard deviation ~1 per class, as make_ctr's logits
        scale = (n_fields * (n_fields - 1) / 2) ** -0.25 / n_factors**0.25
        w0 = rng.normal(0.0, 0.5, size=n_classes)
        w = rng.normal(0.0, 0.3, size=(n_features, n_classes))
        if layout == "shared":
            V = rng.normal(0.0, scale, size=(n_features, n_factors))
            P = rng.normal(0.0, 1.0, size=(n_classes, n_factors))
            params = SoftmaxParams(w0, w, V, P)
        else:
            params = SoftmaxParams(
                w0, w, rng.normal(0.0, scale, size=(n_features, n_classes, n_factors))
            )
        truth = PlantedSoftmaxFM(params, sizes, id_order)
    else:
        truth = planted
        X, _ = _one_hot_fields(n_samples, truth.field_sizes, rng, skew, truth.id_order)
    cumulative = truth.predict_proba(X).cumsum(axis=1)
    y = (cumulative < rng.random(n_samples)[:, None]).sum(axis=1)
    return X, np.minimum(y, cumulative.shape[1] - 1).astype(np.int64), truth


@dataclass
class PlantedFwFM:
    """A planted field-weighted FM (Pan et al. 2018): ``V`` shared, ``R`` weighs field pairs.

    ŷ = w0 + Σ w_i x_i + Σ_{i<j} R[f(i), f(j)] <V_i, V_j> x_i x_j, with ``R`` symmetric
    (n_fields × n_fields) and features numbered field by field (``field_sizes``).
    """

    w0: float
    w: np.ndarray
    V: np.ndarray
    R: np.ndarray
    field_sizes: tuple[int, ...]
    id_order: tuple[np.ndarray, ...] | None = None

    @property
    def fields(self) -> np.ndarray:
        """Field id (int32) of every column."""
        return np.repeat(np.arange(len(self.field_sizes), dtype=np.int32), self.field_sizes)

    def decision(self, X: sp.spmatrix, chunk_rows: int = 8192) -> np.ndarray:
        """Exact logits for any CSR ``X`` (not only one-hot), ``chunk_rows`` rows at a time.

        Per row, with ``Q_f = Σ_{i∈f} V_i x_i`` and ``S_f = Σ_{i∈f} |V_i|² x_i²``, the
        pairwise part is ``½ (Σ_{f,g} R_fg <Q_f, Q_g> − Σ_f R_ff S_f)``: the full double sum counts
        every pair twice and each feature once with itself. Memory O(chunk_rows · F · k).
        """
        X = sp.csr_matrix(X, dtype=np.float64)
        if X.shape[1] != self.w.shape[0]:
            raise ValueError(f"X has {X.shape[1]} features, but the model has {self.w.shape[0]}")
        out = X @ self.w + self.w0
        for start in range(0, X.shape[0], chunk_rows):
            chunk = X[start : start + chunk_rows]
            out[start : start + chunk.shape[0]] += self._pairwise(chunk)
        return out

    def _pairwise(self, X: sp.csr_matrix) -> np.ndarray:
        n_rows, n_fields, k = X.shape[0], self.R.shape[0], self.V.shape[1]
        rows = np.repeat(np.arange(n_rows), np.diff(X.indptr))
        cell = self.fields[X.indices] * n_rows + rows  # (field, row) of every entry
        vx = self.V[X.indices] * X.data[:, None]
        Q = np.empty((n_fields * n_rows, k))  # Q[f, r] laid out field-major: one GEMM below
        for c in range(k):
            Q[:, c] = np.bincount(cell, vx[:, c], n_fields * n_rows)
        S = np.bincount(cell, (vx * vx).sum(axis=1), n_fields * n_rows)
        Q = Q.reshape(n_fields, n_rows * k)
        full = (Q * (self.R @ Q)).reshape(n_fields, n_rows, k).sum(axis=(0, 2))
        return 0.5 * (full - np.diag(self.R) @ S.reshape(n_fields, n_rows))


def _field_pair_strengths(n_fields, sparsity, rng) -> np.ndarray:
    """Symmetric R, zero diagonal, ``sparsity`` of the pairs exactly 0, Σ_{f<g} R_fg² = 1."""
    upper = np.triu_indices(n_fields, 1)
    n_pairs = upper[0].size
    strength = np.abs(rng.normal(size=n_pairs))
    strength[rng.permutation(n_pairs)[: round(sparsity * n_pairs)]] = 0.0
    norm = np.sqrt((strength**2).sum())
    R = np.zeros((n_fields, n_fields))
    R[upper] = strength / norm if norm > 0 else strength
    return R + R.T


def _intercept_for_rate(logits, rate) -> float:
    """The w0 for which the mean click probability of these rows is ``rate`` (bisection)."""
    low, high = -30.0, 30.0
    for _ in range(60):
        mid = 0.5 * (low + high)
        if np.mean(1.0 / (1.0 + np.exp(-(logits + mid)))) < rate:
            low = mid
        else:
            high = mid
    return 0.5 * (low + high)


def make_field_aware_ctr(
    n_samples: int = 100_000,
    n_fields: int = 39,
    n_features: int = 100_000,
    n_factors: int = 4,
    skew: float = 1.1,
    sparsity: float = 0.7,
    random_state=None,
    planted: PlantedFwFM | None = None,
) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray, PlantedFwFM]:
    """Click-through-like data where field pairs interact with different strengths.

    For benchmarks where fields matter: the click probability is σ(planted FwFM), whose
    field-pair strengths ``R`` are exactly 0 for a fraction ``sparsity`` of the pairs and
    ``|N(0, 1)|``-distributed for the rest, so a few pairs matter a lot and most not at all.
    An FwFM (and an FFM) can represent it exactly; a plain FM, which weighs every pair
    alike, cannot. Fields are one-hot with Zipf popularity and log-uniform sizes, as in
    :func:`make_ctr`; the pairwise part of the logit has std ≈ 2 and the linear part
    ≈ 1.2, and w0 is set so that about 20 % of rows click.

    Returns ``(X, y, fields, truth)``: ``X`` CSR (n_samples, n_features), ``y`` ∈ {0, 1},
    ``fields`` the int32 field id of every column (each field's columns contiguous) and
    ``truth`` the :class:`PlantedFwFM`. Pass the ``planted`` model of an earlier call to
    draw more rows (a test set) from the same distribution; ``n_fields``, ``n_features``,
    ``n_factors`` and ``sparsity`` are then taken from it.

    Examples
    --------
    >>> import numpy as np
    >>> from fmlearn.datasets import make_field_aware_ctr
    >>> X, y, fields, truth = make_field_aware_ctr(1000, n_fields=6, n_features=300, random_state=0)
    >>> X.shape, fields.shape, fields.dtype.name  # fields: give them to fit(..., fields=fields)
    ((1000, 300), (300,), 'int32')
    >>> upper = truth.R[np.triu_indices(6, 1)]  # the strengths of the 15 field pairs
    >>> int((upper == 0).sum())  # sparsity=0.7: round(0.7 · 15) pairs do not interact
    10
    """
    rng = make_rng(random_state)
    if planted is None:
        sizes = _ctr_field_sizes(n_fields, n_features, rng)
        X, id_order = _one_hot_fields(n_samples, sizes, rng, skew)
        # one-hot rows: Var(pairwise) = Σ_{f<g} R_fg² · k · std_v⁴ = 2², as Σ R² = 1
        factor_std = 2.0**0.5 * n_factors**-0.25
        w = rng.normal(0.0, 1.2 / n_fields**0.5, n_features)
        V = rng.normal(0.0, factor_std, (n_features, n_factors))
        R = _field_pair_strengths(n_fields, sparsity, rng)
        truth = PlantedFwFM(0.0, w, V, R, sizes, id_order)
        truth.w0 = _intercept_for_rate(truth.decision(X[:20_000]), 0.2)
    else:
        truth = planted
        X, _ = _one_hot_fields(n_samples, truth.field_sizes, rng, skew, truth.id_order)
    logits = truth.decision(X)
    y = (rng.random(n_samples) < 1.0 / (1.0 + np.exp(-logits))).astype(np.int64)
    return X, y, truth.fields, truth


@dataclass
class ImplicitFeedback:
    """``make_implicit_feedback``'s output: interactions, side features and the truth."""

    interactions: sp.csr_matrix  # users × items, 1 where the user interacted
    user_features: sp.csr_matrix  # one-hot user group
    item_features: sp.csr_matrix  # one-hot item genre
    tastes: np.ndarray  # users × k planted taste vectors
    item_vectors: np.ndarray  # items × k
    item_bias: np.ndarray  # items: planted popularity

    def utility(self, users=None) -> np.ndarray:
        """Planted utility (without the choice noise) of every item for ``users``."""
        taste = self.tastes if users is None else self.tastes[users]
        return taste @ self.item_vectors.T + self.item_bias


def make_implicit_feedback(
    n_users: int = 1_000,
    n_items: int = 500,
    n_interactions: int = 30_000,
    n_factors: int = 8,
    n_user_groups: int = 10,
    n_genres: int = 12,
    group_share: float = 0.7,
    popularity: float = 1.0,
    random_state=None,
) -> ImplicitFeedback:
    """Implicit feedback with a planted taste model: who interacted with what.

    Each user belongs to one of ``n_user_groups`` groups and each item to one of
    ``n_genres`` genres (the side features, one-hot). A user's taste vector is its group's
    plus a personal part (``group_share`` of the variance from the group), an item's
    vector its genre's plus its own, and each item has a popularity bias of std
    ``popularity``. Utility = <taste, item> + bias; each user interacts with the items of
    highest utility + Gumbel noise (a random choice by the logit model), a Zipf-like
    number of them (at least 2, at most half the items) adding up to about
    ``n_interactions``. So side features
    predict part of the taste (cold start works from them) and identity features the rest.
    Vectorised in blocks of users; memory O(block × n_items).

    Examples
    --------
    >>> from fmlearn.datasets import make_implicit_feedback
    >>> data = make_implicit_feedback(n_users=200, n_items=100, n_interactions=2000, random_state=0)
    >>> data.interactions.shape, data.user_features.shape, data.item_features.shape
    ((200, 100), (200, 10), (100, 12))
    >>> int(data.interactions.getnnz(axis=1).min()) >= 2  # every user has 2 or more items
    True
    >>> data.utility([0, 1]).shape  # the planted utility of every item for users 0 and 1
    (2, 100)
    """
    if not 0.0 < group_share <= 1.0:
        raise ValueError(f"group_share must lie in (0, 1]; got {group_share!r}.")
    if n_items < 2:
        raise ValueError(f"n_items must be at least 2; got {n_items!r}.")
    rng = make_rng(random_state)
    scale = n_factors**-0.5
    group = rng.integers(0, n_user_groups, n_users)
    genre = rng.integers(0, n_genres, n_items)
    A = rng.normal(0.0, scale, (n_user_groups, n_factors))
    B = rng.normal(0.0, scale, (n_genres, n_factors))
    own = np.sqrt((1.0 - group_share) / group_share)
    P = 2.0 * (A[group] + own * rng.normal(0.0, scale, (n_users, n_factors)))
    Q = 2.0 * (B[genre] + own * rng.normal(0.0, scale, (n_items, n_factors)))
    bias = rng.normal(0.0, popularity, n_items)
    activity = 1.0 / np.arange(1, n_users + 1) ** 0.5
    counts = np.maximum(2, np.round(activity * n_interactions / activity.sum())).astype(int)
    counts = np.minimum(rng.permutation(counts), max(n_items // 2, 1))
    rows, cols = [], []
    block = max(1, 2**22 // max(n_items, 1))
    for start in range(0, n_users, block):
        stop = min(start + block, n_users)
        u = P[start:stop] @ Q.T + bias
        noisy = u + rng.gumbel(size=u.shape)
        # each user's counts[u] best items: a partial selection of the block's largest count
        want = counts[start:stop]
        m = int(want.max())
        top = np.argpartition(-noisy, m - 1, axis=1)[:, :m]
        top = np.take_along_axis(top, np.argsort(-np.take_along_axis(noisy, top, 1), 1), 1)
        keep = np.arange(m)[None, :] < want[:, None]
        rows.append(np.nonzero(keep)[0] + start)
        cols.append(top[keep])
    rows, cols = np.concatenate(rows), np.concatenate(cols)
    R = sp.csr_matrix((np.ones(rows.size), (rows, cols)), shape=(n_users, n_items))
    R.sort_indices()

    def one_hot(ids, width):
        return sp.csr_matrix((np.ones(ids.size), (np.arange(ids.size), ids)), (ids.size, width))

    return ImplicitFeedback(R, one_hot(group, n_user_groups), one_hot(genre, n_genres), P, Q, bias)

"""Generated data with a planted FM: realistic shape, known truth.

Both generators draw one-hot fields with skewed (Zipf-like) popularity, as real ids are,
and compute the target from an FM with known parameters, so that tests can check a solver
recovers it and demos can compare against the noise level.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from fmlearn._validation import csr_arrays, make_rng
from fmlearn.kernels.predict import predict_csr
from fmlearn.models.fm import FMParams


@dataclass
class PlantedFM:
    """The generating model: its parameters, field sizes and noise level."""

    params: FMParams
    field_sizes: tuple[int, ...]
    noise: float

    def decision(self, X: sp.csr_matrix) -> np.ndarray:
        out = np.empty(X.shape[0])
        indptr, indices, data = csr_arrays(X)
        p = self.params
        predict_csr(indptr, indices, data, float(p.w0[0]), p.w, p.V, out)
        return out


def _one_hot_fields(n_samples, field_sizes, rng, skew) -> sp.csr_matrix:
    """One id per field per row, ids of each field drawn with popularity ∝ rank^−skew."""
    n_fields = len(field_sizes)
    offsets = np.concatenate([[0], np.cumsum(field_sizes)[:-1]])
    indices = np.empty((n_samples, n_fields), dtype=np.int32)
    for j, size in enumerate(field_sizes):
        popularity = 1.0 / np.arange(1, size + 1) ** skew
        cdf = np.cumsum(popularity)
        ids = np.searchsorted(cdf, rng.random(n_samples) * cdf[-1], side="right")
        ids = rng.permutation(size)[np.minimum(ids, size - 1)]  # popular ids anywhere
        indices[:, j] = offsets[j] + ids
    indptr = np.arange(0, n_samples * n_fields + 1, n_fields, dtype=np.int64)
    data = np.ones(n_samples * n_fields)
    return sp.csr_matrix((data, indices.ravel(), indptr), shape=(n_samples, sum(field_sizes)))


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
    order. Pairwise terms have unit scale (factors ~ N(0, 1/√k)), linear terms std 0.5, so
    a linear model leaves the interaction variance unexplained while an FM can reach
    RMSE ≈ ``noise``.
    """
    rng = make_rng(random_state)
    sizes = (n_users, n_items, n_contexts)
    X = _one_hot_fields(n_samples, sizes, rng, skew)
    params = _planted_params(sum(sizes), n_factors, rng, 3.0, 0.5, n_factors**-0.5 * 0.8)
    truth = PlantedFM(params, sizes, noise)
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
    ``n_features``; the click probability is σ(planted FM), centred near 20%. Pass the
    ``planted`` model of an earlier call to draw more rows from the same distribution
    (e.g. a test set, or a file written block by block); ``n_fields``, ``n_features``
    and ``n_factors`` are then taken from it.
    """
    rng = make_rng(random_state)
    if planted is None:
        raw = np.exp(rng.uniform(np.log(2), np.log(n_features), n_fields))
        sizes = np.maximum(2, (raw / raw.sum() * n_features).astype(np.int64))
        sizes[np.argmax(sizes)] += n_features - sizes.sum()
        sizes = tuple(int(s) for s in sizes)
        X = _one_hot_fields(n_samples, sizes, rng, skew)
        scale = (n_fields * (n_fields - 1) / 2) ** -0.25 / n_factors**0.25
        params = _planted_params(n_features, n_factors, rng, -1.5, 0.3, scale)
        truth = PlantedFM(params, sizes, 0.0)
    else:
        truth = planted
        X = _one_hot_fields(n_samples, truth.field_sizes, rng, skew)
    logits = truth.decision(X)
    y = (rng.random(n_samples) < 1.0 / (1.0 + np.exp(-logits))).astype(np.int64)
    return X, y, truth

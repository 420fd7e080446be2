"""Ordinal regression: ordered probit over consecutive integer labels (MCMC only)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from scipy.special import ndtr, ndtri

from fmlearn.kernels import coordinate
from fmlearn.tasks.base import MetricsFn, Task, weighted_mean


class OrdinalRegression(Task):
    """Labels ``classes_[0] … classes_[K−1]`` (consecutive integers) from a latent score.

    ``z = ŷ(x) + ε``, ``ε ~ N(0, 1)``, gives label j when ``c_{j−1} < z ≤ c_j``; the
    cutpoints ``c`` are the likelihood's own parameters (:meth:`initial_link_params`),
    sampled with the model. The model has no intercept: the cutpoints absorb it. The
    target is encoded as the label's index 0 … K−1.
    """

    name: ClassVar[str] = "ordinal"
    likelihood: ClassVar[int] = coordinate.ORDINAL
    fitted_attributes: ClassVar[tuple[str, ...]] = ("classes_",)

    @classmethod
    def check_target(cls, target: dict) -> None:
        classes = np.asarray(target["classes_"])
        if (
            classes.ndim != 1
            or classes.size < 2
            or classes.dtype.kind not in "iu"
            or np.any(np.diff(classes) != 1)
        ):
            raise ValueError(f"classes_ must be two or more consecutive integers, got {classes!r}")

    has_intercept: ClassVar[bool] = False

    @property
    def link(self) -> str:
        return "ordered_probit"

    def learn_target(self, y, previous: dict | None = None, classes=None) -> dict:
        labels = integer_labels(y)
        found = np.unique(labels)
        if previous is None:
            if found.size < 2:
                raise ValueError(
                    f"{self.owner} needs at least 2 ordered labels; y has {found.size} (one class)."
                )
            expected = np.arange(found[0], found[-1] + 1)
            if found.size != expected.size:
                missing = np.setdiff1d(expected, found)[:5].tolist()
                raise ValueError(
                    "Ordinal labels must be consecutive integers: y has labels "
                    f"{found[:10].tolist()} but not {missing}. Renumber them 0…K−1 (or 1…K)."
                )
            return {"classes_": expected}
        known = previous["classes_"]
        outside = found[(found < known[0]) | (found > known[-1])]
        if outside.size:
            raise ValueError(
                f"y has labels {outside[:5].tolist()} outside the fitted classes "
                f"{known[0]}…{known[-1]}."
            )
        return {"classes_": known}

    def encode(self, y) -> np.ndarray:
        return (integer_labels(y) - self.target["classes_"][0]).astype(np.float64)

    def initial_link_params(self, y: np.ndarray) -> np.ndarray:
        """Cutpoints that reproduce the label frequencies while ŷ ≈ 0 (the start)."""
        n_classes = int(y.max()) + 1
        counts = np.bincount(y.astype(np.int64), minlength=n_classes)
        cumulative = np.cumsum(counts)[:-1] / counts.sum()
        cut = ndtri(np.clip(cumulative, 1e-6, 1 - 1e-6))
        return np.maximum.accumulate(cut + np.arange(cut.size) * 1e-6)

    def to_mean_scale(self, raw, link_params):
        """The expected label index under the cutpoints ``link_params``."""
        return probabilities(raw, link_params) @ np.arange(link_params.size + 1)

    def metrics(self) -> MetricsFn:
        def rmse(expected, y, sample_weight):
            return {"rmse": float(np.sqrt(weighted_mean((expected - y) ** 2, sample_weight)))}

        return rmse


def probabilities(raw: np.ndarray, cut: np.ndarray) -> np.ndarray:
    """P(class j | ŷ) = Φ(c_j − ŷ) − Φ(c_{j−1} − ŷ), as an (n, K) array."""
    upper = ndtr(cut[None, :] - raw[:, None])
    cdf = np.hstack([np.zeros((raw.size, 1)), upper, np.ones((raw.size, 1))])
    return np.diff(cdf, axis=1)


def integer_labels(y) -> np.ndarray:
    """``y`` as int64 labels; a clear error for strings, NaN or fractions."""
    y = np.asarray(y).ravel()
    if y.dtype.kind in "iu":
        return y.astype(np.int64)
    try:
        values = y.astype(np.float64)
    except (TypeError, ValueError):
        raise ValueError(
            f"FMOrdinalRegressor needs integer labels; got values like {y[:1]!r}."
        ) from None
    if not np.all(np.isfinite(values)):
        raise ValueError("Input y contains NaN or infinity.")
    if np.any(values != np.round(values)):
        bad = values[values != np.round(values)][:3].tolist()
        raise ValueError(f"Ordinal labels must be integers; got {bad}.")
    return values.astype(np.int64)

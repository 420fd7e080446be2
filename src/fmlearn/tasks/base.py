"""The contract every task fulfils (docs/design.md, "How to add a task or a loss")."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

import numpy as np

#: ``metrics(raw, y_encoded, sample_weight) -> {name: value}``; the first is watched by
#: early stopping (smaller is better).
MetricsFn = Callable[[np.ndarray, np.ndarray, np.ndarray], dict]


class Task:
    """Target encoding, loss, likelihood, link, metrics and defaults of one learning task.

    ``owner`` is the estimator's class name, used in error messages; ``family`` the
    solver family that will fit it (``"sgd"``, ``"als"`` or ``"mcmc"``), which decides the
    link where a task has two (binary: logit for SGD, probit for ALS/MCMC).
    """

    name: ClassVar[str]
    #: ``kernels.losses`` code the SGD family descends; None: no SGD solver for this task.
    sgd_loss: ClassVar[int | None] = None
    #: ``kernels.coordinate`` likelihood code for ALS/MCMC; None: no coordinate solver.
    likelihood: ClassVar[int | None] = None
    #: Estimator attributes :meth:`learn_target` returns (saved in model files).
    fitted_attributes: ClassVar[tuple[str, ...]] = ()
    #: ``(reg_bias, reg_linear, reg_factors)`` used for None, per solver family.
    default_regularization: ClassVar[dict[str, tuple[float, float, float]]] = {}
    #: False: the model has no intercept (ordinal cutpoints carry it).
    has_intercept: ClassVar[bool] = True

    def __init__(self, owner: str = "estimator", family: str = "sgd"):
        self.owner = owner
        self.family = family
        #: What :meth:`fit_target` learned; :meth:`encode` and :meth:`metrics` use it.
        self.target: dict = {}

    def fit_target(self, y, previous: dict | None = None, classes=None) -> dict:
        """Learn (or, with ``previous``, extend) what ``y`` says; return it and keep it.

        ``previous`` holds the estimator's earlier values (warm start, partial_fit). The
        dict becomes estimator attributes only once the fit succeeds, so a failed fit
        leaves the estimator as it was.
        """
        self.target = self.learn_target(y, previous, classes)
        return self.target

    @classmethod
    def check_target(cls, target: dict) -> None:
        """``ValueError`` if fitted target attributes read from a file make no sense."""

    def learn_target(self, y, previous: dict | None = None, classes=None) -> dict:
        """The fitted attributes ``y`` determines (``classes_``, ``y_min_`` …)."""
        raise NotImplementedError

    def encode(self, y) -> np.ndarray:
        """The float64 target the loss or likelihood expects (−1/+1 for classes)."""
        raise NotImplementedError

    def metrics(self) -> MetricsFn:
        """The per-iteration metrics of raw predictions (uses :attr:`target`)."""
        raise NotImplementedError

    @property
    def link(self) -> str:
        """The link between ŷ and the target."""
        return "identity"

    def initial_link_params(self, y: np.ndarray) -> np.ndarray:
        """Extra parameters of the likelihood, sampled with the model (ordinal cutpoints)."""
        return np.zeros(0)

    def to_mean_scale(self, raw: np.ndarray, link_params: np.ndarray) -> np.ndarray:
        """The scale MCMC averages predictions on (probabilities for classification)."""
        return raw

    def from_mean_scale(self, mean: np.ndarray) -> np.ndarray:
        """Back from :meth:`to_mean_scale` to what :meth:`metrics` takes."""
        return mean

    def stratify(self, y: np.ndarray) -> np.ndarray | None:
        """Labels to stratify a validation split on (None: a plain random split)."""
        return None

    def default_reg(self) -> tuple[float, float, float]:
        """``(reg_bias, reg_linear, reg_factors)`` for this task and solver family."""
        return self.default_regularization.get(self.family, (0.0, 0.0, 0.0))


def weighted_mean(values: np.ndarray, sample_weight: np.ndarray) -> float:
    """Weighted mean; NaN when every weight is 0 (an eval set of zero-weight rows)."""
    if sample_weight.sum() <= 0:
        return float("nan")
    return float(np.average(values, weights=sample_weight))

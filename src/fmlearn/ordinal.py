"""FMOrdinalRegressor: ordered probit for ordered labels such as 1–5 star ratings."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from scipy.special import ndtr, ndtri
from sklearn.base import RegressorMixin
from sklearn.utils.validation import check_is_fitted

from fmlearn._base import BaseFM
from fmlearn._validation import Options
from fmlearn.kernels import coordinate
from fmlearn.kernels.losses import SQUARED


class FMOrdinalRegressor(RegressorMixin, BaseFM):
    """Bayesian FM with an ordered-probit likelihood, sampled by MCMC.

    A latent score ``z = ŷ(x) + ε``, ``ε ~ N(0, 1)``, gives label ``classes_[j]`` when
    ``c_{j−1} < z ≤ c_j``. The cutpoints ``c`` are sampled with the FM parameters
    (Metropolis–Hastings with z integrated out; their step sizes adapt during burn-in),
    the latent scores by truncated normals, everything else as in ``FMRegressor(solver=
    "mcmc")``. Unlike squared error it knows that ratings are bounded and discrete, so
    it can express "surely 5" or "either 1 or 5".

    Labels must be consecutive integers (e.g. 1…5); ``classes_`` lists them.
    ``predict_proba`` gives the posterior predictive probability of each label and
    ``predict`` its expectation (the prediction with the least squared error), so
    ``score`` is R² as for other regressors. The model has no intercept: the cutpoints
    absorb it. Only ``solver="mcmc"``; other parameters are those of
    :class:`FMRegressor`.
    """

    _loss = SQUARED
    _coordinate_task = coordinate.ORDINAL
    _default_regularization: ClassVar[dict] = {"sgd": (0.0, 0.0, 0.0), "als": (0.0, 0.0, 0.0)}
    _parameter_constraints: ClassVar[dict] = {
        **BaseFM._parameter_constraints,
        "solver": [Options(("mcmc",))],
    }

    def __init__(
        self,
        n_factors: int = 8,
        *,
        solver: str = "mcmc",
        learning_rate: float | None = None,
        max_iter: int = 100,
        reg_bias: float | None = None,
        reg_linear: float | None = None,
        reg_factors: float | None = None,
        init_std: float = 0.1,
        fit_intercept: bool = True,
        fit_linear: bool = True,
        batch_size: int = 1,
        shuffle: bool = True,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        n_iter_no_change: int = 5,
        tol: float | None = 1e-4,
        random_state=None,
        warm_start: bool = False,
        verbose: int = 0,
        dtype="float64",
        n_jobs: int | None = None,
        n_kept_samples: int | None = None,
        keep_samples: bool | str = "auto",
        factor_update: str = "auto",
    ):
        self.n_factors = n_factors
        self.solver = solver
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.reg_bias = reg_bias
        self.reg_linear = reg_linear
        self.reg_factors = reg_factors
        self.init_std = init_std
        self.fit_intercept = fit_intercept
        self.fit_linear = fit_linear
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.dtype = dtype
        self.n_jobs = n_jobs
        self.n_kept_samples = n_kept_samples
        self.keep_samples = keep_samples
        self.factor_update = factor_update

    # Task hooks -------------------------------------------------------------------------
    def _learn_target(self, y, *, reset: bool, classes=None) -> dict:
        labels = _integer_labels(y)
        found = np.unique(labels)
        if reset:
            if found.size < 2:
                raise ValueError(
                    f"FMOrdinalRegressor needs at least 2 ordered labels; y has {found.size}."
                )
            expected = np.arange(found[0], found[-1] + 1)
            if found.size != expected.size:
                missing = np.setdiff1d(expected, found)[:5].tolist()
                raise ValueError(
                    "Ordinal labels must be consecutive integers: y has labels "
                    f"{found[:10].tolist()} but not {missing}. Renumber them 0…K−1 (or 1…K)."
                )
            return {"classes_": expected}
        outside = found[(found < self.classes_[0]) | (found > self.classes_[-1])]
        if outside.size:
            raise ValueError(
                f"y has labels {outside[:5].tolist()} outside the fitted classes "
                f"{self.classes_[0]}…{self.classes_[-1]}."
            )
        return {"classes_": self.classes_}

    def _encode_target(self, y, target: dict) -> np.ndarray:
        return (_integer_labels(y) - target["classes_"][0]).astype(np.float64)

    def _initial_cutpoints(self, y) -> np.ndarray:
        """Cutpoints that reproduce the label frequencies while ŷ ≈ 0 (the start)."""
        n_classes = int(y.max()) + 1
        counts = np.bincount(y.astype(np.int64), minlength=n_classes)
        cumulative = np.cumsum(counts)[:-1] / counts.sum()
        cut = ndtri(np.clip(cumulative, 1e-6, 1 - 1e-6))
        return np.maximum.accumulate(cut + np.arange(cut.size) * 1e-6)

    def _links(self, target: dict | None = None, chain=None):
        if chain is None:
            return None, None

        def expected_index(raw):
            return _probabilities(raw, chain.cut) @ np.arange(chain.cut.size + 1)

        return expected_index, None

    def _metrics_for(self, target: dict):
        def metrics(expected, y, sample_weight):
            if sample_weight.sum() <= 0:
                return {"rmse": float("nan")}
            return {"rmse": float(np.sqrt(np.average((expected - y) ** 2, weights=sample_weight)))}

        return metrics

    # Prediction -------------------------------------------------------------------------
    def predict_proba(self, X) -> np.ndarray:
        """P(label = ``classes_[j]``), shape (n_samples, n_classes), averaged over samples."""
        check_is_fitted(self, "V_")
        X = self._check_predict_X(X)
        chain = self._chain
        if chain.samples:
            total = np.zeros((X.shape[0], self.classes_.size))
            for params, cut in zip(chain.samples, chain.sample_cut, strict=True):
                total += _probabilities(self._predict_params(X, params), cut)
            return total / len(chain.samples)
        return _probabilities(self._predict_params(X, self._params()), chain.mean_cut)

    def predict(self, X) -> np.ndarray:
        """Expected label under the posterior predictive distribution (a float)."""
        return self.predict_proba(X) @ self.classes_.astype(np.float64)

    def _decision(self, X) -> np.ndarray:
        return self.predict(X)

    @property
    def cutpoints_(self) -> np.ndarray:
        """Posterior mean of the cutpoints c_0 < … < c_{K−2}."""
        check_is_fitted(self, "V_")
        return self._chain.mean_cut.copy()


def _probabilities(raw: np.ndarray, cut: np.ndarray) -> np.ndarray:
    """P(class j | ŷ) = Φ(c_j − ŷ) − Φ(c_{j−1} − ŷ), as an (n, K) array."""
    upper = ndtr(cut[None, :] - raw[:, None])
    cdf = np.hstack([np.zeros((raw.size, 1)), upper, np.ones((raw.size, 1))])
    return np.diff(cdf, axis=1)


def _integer_labels(y) -> np.ndarray:
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

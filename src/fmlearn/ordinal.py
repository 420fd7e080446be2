"""FMOrdinalRegressor: ordered probit for ordered labels such as 1–5 star ratings."""

from __future__ import annotations

import warnings
from typing import ClassVar

import numpy as np
from sklearn.base import RegressorMixin

from fmlearn._base import BaseFM
from fmlearn._validation import Options
from fmlearn.tasks import OrdinalRegression
from fmlearn.tasks.ordinal import probabilities

_SAMPLED = "the ordinal model is sampled by MCMC, which has no {what}"


class FMOrdinalRegressor(RegressorMixin, BaseFM):
    """Bayesian FM with an ordered-probit likelihood, sampled by MCMC.

    A latent score ``z = ŷ(x) + ε``, ``ε ~ N(0, 1)``, gives label ``classes_[j]`` when
    ``c_{j−1} < z ≤ c_j``. The cutpoints ``c`` are sampled with the FM parameters
    (Metropolis–Hastings with z integrated out; their step sizes adapt during burn-in),
    the latent scores by truncated normals, everything else as in ``FMRegressor(solver=
    "mcmc")``. Unlike squared error it knows that ratings are bounded and discrete, so
    it can express "surely 5" or "either 1 or 5". The model has no intercept: the
    cutpoints absorb it.

    **A regressor, on purpose.** ``predict`` returns the expected label under the
    posterior predictive distribution — the prediction with the least squared error —
    and ``score`` is R², so the model drops into a regression workflow (RMSE on star
    ratings, ``cross_val_score``, a ``Pipeline`` beside ``FMRegressor``);
    ``predict_proba`` gives each label's probability, and its argmax is the most likely
    label. The price: labels must be consecutive integers (e.g. 1…5; ``classes_`` lists
    them), so scikit-learn's regressor checks that fit continuous targets cannot apply
    (tests/test_common.py runs them on targets cut into five ordered levels instead).

    Parameters
    ----------
    n_factors, max_iter, init_std, fit_linear, random_state, warm_start, verbose, dtype,
    n_jobs, n_kept_samples, keep_samples, factor_update
        As for :class:`FMRegressor` with ``solver="mcmc"`` (``n_jobs`` only sets the
        threads of ``predict``: the sweeps are sequential).
    solver : {"mcmc"}, default="mcmc"
        The only solver with an ordered-probit likelihood.

    Attributes
    ----------
    classes_ : ndarray of int
    cutpoints_ : ndarray of shape (n_classes − 1,)
        Posterior mean of the cutpoints c_0 < … < c_{K−2}.
    w0_ : float (always 0), w_, V_, history_, n_iter_, samples_, hyper_trace_ (with
    ``"cutpoints"`` per sweep), n_features_in_, feature_names_in_
        As for :class:`FMRegressor`.
    """

    _task_class = OrdinalRegression
    _parameter_constraints: ClassVar[dict] = {
        **BaseFM._parameter_constraints,
        "solver": [Options(("mcmc",))],
    }
    #: Accepted (and ignored) by fmlearn 0.1; a FutureWarning until 0.3, then TypeError.
    _removed_parameters: ClassVar[dict[str, str]] = {
        "learning_rate": _SAMPLED.format(what="learning rate"),
        "reg_bias": "MCMC samples the regularisation",
        "reg_linear": "MCMC samples the regularisation",
        "reg_factors": "MCMC samples the regularisation",
        "fit_intercept": "the cutpoints carry the intercept",
        "batch_size": _SAMPLED.format(what="batches"),
        "shuffle": _SAMPLED.format(what="row order"),
        "early_stopping": _SAMPLED.format(what="early stopping"),
        "validation_fraction": _SAMPLED.format(what="early stopping"),
        "n_iter_no_change": _SAMPLED.format(what="early stopping"),
        "tol": _SAMPLED.format(what="convergence tolerance"),
    }

    def __init__(
        self,
        n_factors: int = 8,
        *,
        solver: str = "mcmc",
        max_iter: int = 100,
        init_std: float = 0.1,
        fit_linear: bool = True,
        random_state=None,
        warm_start: bool = False,
        verbose: int = 0,
        dtype="float64",
        n_jobs: int | None = None,
        n_kept_samples: int | None = None,
        keep_samples: bool | str = "auto",
        factor_update: str = "auto",
        **removed,
    ):
        self.n_factors = n_factors
        self.solver = solver
        self.max_iter = max_iter
        self.init_std = init_std
        self.fit_linear = fit_linear
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.dtype = dtype
        self.n_jobs = n_jobs
        self.n_kept_samples = n_kept_samples
        self.keep_samples = keep_samples
        self.factor_update = factor_update
        for name in removed:
            if name not in self._removed_parameters:
                raise TypeError(
                    f"FMOrdinalRegressor.__init__() got an unexpected keyword argument {name!r}"
                )
            warnings.warn(
                f"FMOrdinalRegressor ignores {name} ({self._removed_parameters[name]}). It is "
                "accepted until fmlearn 0.3 and will then raise TypeError; remove it.",
                FutureWarning,
                stacklevel=2,
            )

    def predict_proba(self, X) -> np.ndarray:
        """P(label = ``classes_[j]``), shape (n_samples, n_classes), averaged over samples."""
        X = self._check_predict_X(X)
        model = self._make_model(fitted=True)
        chain = self._solver_state
        if self.samples_:
            total = np.zeros((X.shape[0], self.classes_.size))
            for params, cut in zip(self.samples_, chain.sample_cut, strict=True):
                total += probabilities(model.decision(X, params, self._predict_threads()), cut)
            return total / len(self.samples_)
        raw = model.decision(X, self._model_params(), self._predict_threads())
        return probabilities(raw, self.cutpoints_)

    def predict(self, X) -> np.ndarray:
        """Expected label under the posterior predictive distribution (a float)."""
        return self.predict_proba(X) @ self.classes_.astype(np.float64)

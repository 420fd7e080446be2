"""FMRegressor: squared loss, predictions clipped to the training target range."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from sklearn.base import RegressorMixin
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted

from fmlearn._base import BaseFM, _online_solver
from fmlearn._validation import BOOLEAN
from fmlearn.kernels.losses import SQUARED


class FMRegressor(RegressorMixin, BaseFM):
    """Factorization Machine for regression (Rendle 2010), trained by SGD/AdaGrad/Adam.

    ``ŷ(x) = w0 + Σ_i w_i x_i + Σ_{i<j} <v_i, v_j> x_i x_j``, computed in O(k · nnz(x)).

    Parameters
    ----------
    n_factors : int, default=8
        Rank k of the pairwise interactions (libFM's ``-dim 1,1,k``).
    solver : {"sgd", "adagrad", "adam", "als", "mcmc"}, default="adagrad"
        ``"sgd"`` with ``batch_size=1`` is libFM's ``-method sgd``. AdaGrad is the default
        because its per-parameter steps stay bounded on unscaled features, where plain
        SGD at a fixed rate can diverge. ``"als"`` (coordinate descent) and ``"mcmc"``
        (Gibbs sampling of the Bayesian FM, libFM's ``-method mcmc``) sweep over all
        parameters and need no learning rate; MCMC needs no regularisation either (it
        samples it, per feature group: see ``fit(groups=…)``) and is usually the most
        accurate. They ignore ``learning_rate``, ``batch_size``, ``shuffle``, ``tol`` and
        ``early_stopping``, and have no ``partial_fit``.
    learning_rate : float or None, default=None
        Step size; None picks the solver's default (sgd 0.01, adagrad 0.1, adam 0.005).
    max_iter : int, default=100
        Maximum number of epochs (passes over the training data), or sweeps for ALS/MCMC.
    reg_bias, reg_linear, reg_factors : float or None, default=None
        L2 strengths for w0, w and V (libFM's ``-regular r0,r1,r2``); None picks the
        solver's default. The SGD family regularises lazily, as libFM: a parameter is
        shrunk only when its feature is in the row/mini-batch being updated, so its
        penalty grows with its frequency; default (0, 0, 0.1), tuned on MovieLens-100K
        (k=10; benchmarks/sgd_ml100k.py): ≤ 100 epochs end at test RMSE 0.922 (sgd
        0.926, adam 0.920), where 0.01 overfits (0.99 after 100 epochs). On dense data
        every row holds every feature, so the lazy penalty acts at every update and 0.1
        is far too strong (use ~0.01, or ALS/MCMC).
        ALS penalises the whole objective ½Σe² + ½λ‖θ‖² once, as libFM's
        ALS, so its strengths are on a larger scale: default (0, 5, 13), test RMSE 0.910
        on the same data after 60 sweeps (benchmarks/mcmc_ml100k.py; libFM's ALS 0.915).
        MCMC ignores them: it samples the precisions.
    init_std : float, default=0.1
        Standard deviation of the normal initialisation of V.
    fit_intercept, fit_linear : bool, default=True
        Learn w0 / w (False keeps them at 0).
    batch_size : int, default=1
        Rows per update: 1 is plain SGD like libFM; larger averages the gradient.
    shuffle : bool, default=True
        Shuffle rows before each epoch.
    early_stopping : bool, default=False
        Stop when the validation RMSE has not improved by ``tol`` for
        ``n_iter_no_change`` epochs and restore the best epoch's parameters. The
        validation set is ``eval_set[0]`` if given to ``fit``, else
        ``validation_fraction`` of the training rows.
    validation_fraction : float, default=0.1
    n_iter_no_change : int, default=5
    tol : float or None, default=1e-4
        Without early stopping, training stops when the training loss has not improved by
        ``tol`` for ``n_iter_no_change`` epochs; None always runs ``max_iter`` epochs.
    random_state : int, RandomState, Generator or None, default=None
        Seeds initialisation, shuffling and the validation split. With ``n_jobs=1`` (the
        fit default) a fixed seed gives bit-for-bit identical models.
    warm_start : bool, default=False
        Continue from the fitted parameters (and optimiser state) on the next ``fit``.
    verbose : int, default=0
        1 prints one line per epoch (train loss, validation metrics, seconds).
    dtype : {"float64", "float32"}, default="float64"
        Parameter and data dtype; float32 halves memory. Sums are accumulated in float64.
    n_jobs : int or None, default=None
        Threads. None: ``fit`` runs on one thread (reproducible), ``predict`` on all
        cores. An int applies to both; ``fit`` with more than one thread uses lock-free
        parallel SGD (Hogwild!), which is fast on sparse data but not reproducible.
    clip_predictions : bool, default=True
        Clip predictions to ``[y_min_, y_max_]``, the training target range (as libFM).
    n_kept_samples : int or None, default=None
        MCMC: the last ``n_kept_samples`` sweeps are averaged (None: all but the first
        10%, the burn-in). Must not exceed ``max_iter``.
    keep_samples : bool or "auto", default="auto"
        MCMC: keep every averaged sample, so that ``predict`` averages the samples'
        predictions, exactly as libFM and myFM do, and ``predict(X, return_std=True)``
        works. "auto" keeps them while they take ≤ 512 MiB (n_kept × model size) and
        otherwise warns and keeps only their mean: ``w_``/``V_`` are always the posterior
        means, and without samples ``predict`` uses those (benchmarks/mcmc_ml100k.py:
        MovieLens-100K test RMSE 0.903 instead of 0.900; the probit classifier on
        Frappe AUC 0.948 instead of 0.954 and log-loss 0.273 instead of 0.236). ``history_``
        always records the exact average on ``eval_set``.
    factor_update : {"auto", "scalar", "block"}, default="auto"
        ALS/MCMC: how a feature's k factors are updated in a sweep. ``"scalar"``: one at
        a time, as libFM and myFM (O(k · nnz) per sweep). ``"block"``: all k at once from
        their joint conditional (ALS: the exact minimiser over the vector, i.e. block
        coordinate descent; MCMC: a block Gibbs step), O(k² · nnz) per sweep — about 1.7×
        the time of a scalar sweep at k = 10, but the chain moves further per sweep.
        "auto": block for ALS, scalar for MCMC. On MovieLens-100K (rank 10;
        benchmarks/mcmc_ml100k.py): ALS test RMSE after 60 sweeps 0.9102 block vs 0.9126
        scalar; MCMC after 200 sweeps with side information 0.8918 vs 0.8932, and with
        implicit feedback too 0.8877 vs 0.8914, at 1.6× and 1.5× the time per sweep.

    Attributes
    ----------
    w0_ : float
    w_ : ndarray of shape (n_features,)
    V_ : ndarray of shape (n_features, n_factors)
    history_ : FitHistory
        Per epoch: ``train_loss`` (mean ½(ŷ−y)²), ``valid["rmse"]``, ``seconds``.
    n_iter_ : int
    y_min_, y_max_ : float
    n_features_in_ : int
    feature_names_in_ : ndarray of str (only for DataFrame input)
    """

    _loss = SQUARED
    _default_regularization: ClassVar[dict] = {"sgd": (0.0, 0.0, 0.1), "als": (0.0, 5.0, 13.0)}
    _parameter_constraints: ClassVar[dict] = {
        **BaseFM._parameter_constraints,
        "clip_predictions": [BOOLEAN],
    }

    def __init__(
        self,
        n_factors: int = 8,
        *,
        solver: str = "adagrad",
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
        clip_predictions: bool = True,
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
        self.clip_predictions = clip_predictions
        self.n_kept_samples = n_kept_samples
        self.keep_samples = keep_samples
        self.factor_update = factor_update

    def _learn_target(self, y, *, reset: bool, classes=None) -> dict:
        if classes is not None:
            raise TypeError("FMRegressor.partial_fit() got an unexpected argument 'classes'.")
        y = _numeric_target(y, type(self).__name__)
        low, high = float(y.min()), float(y.max())
        if not reset:  # warm start or partial_fit: widen the range seen so far
            low, high = min(low, self.y_min_), max(high, self.y_max_)
        return {"y_min_": low, "y_max_": high}

    def _encode_target(self, y, target: dict) -> np.ndarray:
        return _numeric_target(y, type(self).__name__)

    @available_if(_online_solver)
    def partial_fit(self, X, y, sample_weight=None):
        """One pass over ``(X, y)``, continuing from the current model (online learning)."""
        return super().partial_fit(X, y, sample_weight)

    def predict(self, X, return_std: bool = False):
        """Predicted targets, clipped to ``[y_min_, y_max_]`` if ``clip_predictions``.

        ``return_std=True`` (``solver="mcmc"`` with ``keep_samples=True``) also returns
        the standard deviation of the posterior predictive distribution of y: the spread
        of the kept samples' predictions and the sampled noise, ``√(Var_s ŷ_s + E_s 1/α_s)``.
        """
        if return_std:
            return self._predict_with_std(X)
        raw = self._decision(X)
        if self.clip_predictions:
            np.clip(raw, self.y_min_, self.y_max_, out=raw)
        return raw

    def _predict_with_std(self, X):
        check_is_fitted(self, "V_")
        samples = self._samples()
        if not samples:
            raise ValueError(
                "return_std=True needs the posterior samples: fit with solver='mcmc' and "
                f"keep_samples=True (this model: solver={self.solver!r}, "
                f"keep_samples={self.keep_samples})."
            )
        X = self._check_predict_X(X)
        preds = np.stack([self._predict_params(X, p) for p in samples])
        mean = preds.mean(axis=0)
        noise = np.mean(1.0 / np.asarray(self._chain.sample_alpha[-len(samples) :]))
        std = np.sqrt(preds.var(axis=0) + noise)
        if self.clip_predictions:
            np.clip(mean, self.y_min_, self.y_max_, out=mean)
        return mean, std

    def _metrics_for(self, target: dict):
        low, high = target["y_min_"], target["y_max_"]

        def metrics(raw, y, sample_weight):
            if self.clip_predictions:
                raw = np.clip(raw, low, high)
            return {"rmse": _weighted_rmse(raw, y, sample_weight)}

        return metrics


def _weighted_rmse(pred, y, sample_weight) -> float:
    if sample_weight.sum() <= 0:
        return float("nan")
    return float(np.sqrt(np.average((pred - y) ** 2, weights=sample_weight)))


def _numeric_target(y, owner: str) -> np.ndarray:
    y = np.asarray(y)
    if y.dtype.kind not in "biuf":
        try:
            y = y.astype(np.float64)
        except (TypeError, ValueError):
            raise TypeError(
                f"{owner} needs a numeric target y; got values like {y.ravel()[:1]!r} "
                f"(dtype {y.dtype}). Use FMClassifier for class labels."
            ) from None
    y = y.astype(np.float64).ravel()
    if not np.all(np.isfinite(y)):
        raise ValueError("Input y contains NaN or infinity.")
    return y

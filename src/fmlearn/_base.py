"""BaseFM: the scikit-learn API shared by every FM estimator.

``fit`` = validate parameters → validate data (→ canonical CSR) → encode the target (task
hook) → initialise or warm-start → solver → set fitted attributes. Nothing is assigned to
the estimator until the solver has finished, so a failed fit leaves the previous model
intact. Task subclasses supply only the target encoding, the loss code and the metrics.
"""

from __future__ import annotations

import os
import warnings
from typing import ClassVar

import numba
import numpy as np
from sklearn.base import BaseEstimator
from sklearn.model_selection import train_test_split
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted, validate_data

from fmlearn._params import FitHistory, FMParams
from fmlearn._validation import (
    BOOLEAN,
    NONE,
    RANDOM_STATE,
    Interval,
    Options,
    as_canonical_csr,
    check_sample_weight,
    csr_arrays,
    make_rng,
    resolve_dtype,
    validate_params,
)
from fmlearn.kernels.predict import predict_csr, predict_csr_parallel
from fmlearn.solvers import coordinate as coordinate_solver
from fmlearn.solvers import sgd as sgd_solver

#: Learning rate used when ``learning_rate=None``, per solver (tuned on ML-100K and on
#: generated CTR data; see benchmarks/README.md).
DEFAULT_LEARNING_RATES = {"sgd": 0.01, "adagrad": 0.1, "adam": 0.005}

#: Solvers that sweep coordinate-wise over the parameters instead of passing over rows.
COORDINATE_SOLVERS = ("als", "mcmc")

#: Below this many rows ``predict`` stays on one thread: spawning work costs more.
PARALLEL_PREDICT_MIN_ROWS = 20_000
PREDICT_BLOCK_ROWS = 4096


def _online_solver(estimator) -> bool:
    """``partial_fit`` exists only for the SGD family: ALS and MCMC sweep the whole data."""
    return estimator.solver not in COORDINATE_SOLVERS


class BaseFM(BaseEstimator):
    """Shared implementation of :class:`FMRegressor` and :class:`FMClassifier`."""

    _parameter_constraints: ClassVar[dict] = {
        "n_factors": [Interval(int, 1, None)],
        "solver": [Options(("sgd", "adagrad", "adam", "als", "mcmc"))],
        "learning_rate": [Interval(float, 0, None, closed="neither"), NONE],
        "max_iter": [Interval(int, 1, None)],
        "reg_bias": [Interval(float, 0, None), NONE],
        "reg_linear": [Interval(float, 0, None), NONE],
        "reg_factors": [Interval(float, 0, None), NONE],
        "init_std": [Interval(float, 0, None)],
        "fit_intercept": [BOOLEAN],
        "fit_linear": [BOOLEAN],
        "batch_size": [Interval(int, 1, None)],
        "shuffle": [BOOLEAN],
        "early_stopping": [BOOLEAN],
        "validation_fraction": [Interval(float, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(int, 1, None)],
        "tol": [Interval(float, 0, None), NONE],
        "random_state": [RANDOM_STATE],
        "warm_start": [BOOLEAN],
        "verbose": [Interval(int, 0, None)],
        "dtype": [Options(("float64", "float32", np.float64, np.float32))],
        "n_jobs": [Interval(int, -1, None), NONE],
        "n_kept_samples": [Interval(int, 1, None), NONE],
        "keep_samples": [BOOLEAN, Options(("auto",))],
        "factor_update": [Options(("auto", "scalar", "block"))],
    }

    # Task hooks -------------------------------------------------------------------------
    _loss: int
    #: ``(reg_bias, reg_linear, reg_factors)`` used for None, per solver family.
    _default_regularization: ClassVar[dict[str, tuple[float, float, float]]]

    def _learn_target(self, y, *, reset: bool, classes=None) -> dict:
        """Fitted attributes the target determines (``classes_``, ``y_min_`` …).

        Returned, not set, so that a failed fit leaves the estimator as it was;
        ``reset=False`` (warm start, partial_fit) extends what was learned before.
        """
        raise NotImplementedError

    def _encode_target(self, y, target: dict) -> np.ndarray:
        """The float64 target the loss expects (−1/+1 for classes)."""
        raise NotImplementedError

    def _metrics_for(self, target: dict):
        """``metrics(raw, y_encoded, sample_weight) -> {name: value}``; first is watched."""
        raise NotImplementedError

    def _links(self, target: dict | None = None, chain=None):
        """``(link, inverse)`` between ŷ and the scale MCMC averages on (identity here).

        ``target`` is the fitted-attribute dict during ``fit`` (None: use the fitted model);
        ``chain`` the chain being sampled (ordinal links read its current cutpoints).
        """
        return None, None

    #: Which likelihood the coordinate solvers use (kernels.coordinate task code).
    _coordinate_task: ClassVar[int] = coordinate_solver.K.REGRESSION

    def _initial_cutpoints(self, y) -> np.ndarray | None:
        """Ordinal regression's starting cutpoints (None: not an ordinal model)."""
        return None

    # Fitting ----------------------------------------------------------------------------
    def fit(self, X, y, sample_weight=None, eval_set=None, groups=None):
        """Fit the FM to ``X`` (n_samples, n_features; dense, any sparse format, DataFrame).

        ``eval_set`` is a list of ``(X, y)`` or ``(X, y, sample_weight)`` tuples whose
        metrics are recorded in ``history_`` each epoch; with ``early_stopping=True`` the
        first one is watched (otherwise ``validation_fraction`` of the training rows is
        held out). For ``solver="mcmc"`` the metrics are those of the averaged prediction.

        ``groups`` (``solver="mcmc"`` only; libFM's ``-meta``): an int array giving each
        feature's group 0..G−1, e.g. 0 for user ids, 1 for item ids, 2 for genres. Each
        group gets its own prior mean and precision for w and for every factor column.
        """
        validate_params(self, self._parameter_constraints)
        warm = self.warm_start and hasattr(self, "w_")
        X, y = self._validate_Xy(X, y, reset=not warm)
        target = self._learn_target(y, reset=not warm)
        y = self._encode_target(y, target)
        sw = check_sample_weight(sample_weight, X.shape[0])
        rng = make_rng(self.random_state)
        evals = self._eval_sets(eval_set, target)
        if self.solver in COORDINATE_SOLVERS:
            return self._fit_coordinate(X, y, sw, rng, evals, target, warm, groups)
        if groups is not None:
            raise ValueError(
                f"groups are the hyperprior groups of solver='mcmc'; solver={self.solver!r} "
                "does not use them."
            )
        if self.early_stopping and not evals:
            X, y, sw, held_out = self._hold_out(X, y, sw, rng)
            evals = [held_out]
        params, state, history = self._start(X.shape[1], rng, warm)
        config = self._config(self.max_iter, monitor=self.early_stopping, tol=self.tol)
        with _numba_threads(config.n_threads):
            params, state, history = sgd_solver.solve(
                X, y, sw, params, state, config, rng, evals, self._metrics_for(target), history
            )
        self._set_fitted(params, state, history, target)
        return self

    @available_if(_online_solver)
    def partial_fit(self, X, y, sample_weight=None, **kwargs):
        """One pass over the given rows, continuing from the current model (online).

        Optimiser state (AdaGrad/Adam memory) carries over between calls.
        """
        first = not hasattr(self, "w_")
        if first:
            validate_params(self, self._parameter_constraints)
        X, y = self._validate_Xy(X, y, reset=first)
        target = self._learn_target(y, reset=first, **kwargs)
        y = self._encode_target(y, target)
        sw = check_sample_weight(sample_weight, X.shape[0])
        rng = make_rng(self.random_state if first else None)
        params, state, history = self._start(X.shape[1], rng, warm=not first)
        config = self._config(1, monitor=False, tol=None)
        with _numba_threads(config.n_threads):
            params, state, history = sgd_solver.solve(
                X, y, sw, params, state, config, rng, (), None, history
            )
        self._set_fitted(params, state, history, target)
        return self

    def _fit_coordinate(self, X, y, sw, rng, evals, target, warm, groups):
        """``fit`` for ALS and MCMC: sweeps over the whole data, no learning rate."""
        if self.early_stopping:
            raise ValueError(
                f"early_stopping is not available for solver={self.solver!r}: it needs no "
                "validation set to pick a stopping point (pass eval_set to watch the "
                "learning curve in history_)."
            )
        mcmc = self.solver == "mcmc"
        n_kept = _n_kept(self.n_kept_samples, self.max_iter) if mcmc else 0
        groups = _check_groups(groups, X.shape[1])  # None: one group
        n_groups = int(groups.max()) + 1 if groups.size else 1
        params, chain, history = self._start_chain(X.shape[1], rng, warm, n_groups, y)
        config = coordinate_solver.CoordinateConfig(
            task=self._coordinate_task,
            sample=mcmc,
            n_sweeps=int(self.max_iter),
            n_kept=n_kept,
            **self._regularization(),
            # ordinal models have no intercept: the cutpoints carry it
            fit_intercept=bool(self.fit_intercept)
            and self._coordinate_task != coordinate_solver.K.ORDINAL,
            fit_linear=bool(self.fit_linear),
            keep_samples=_keep_samples(self.keep_samples, n_kept, X.shape[1], self),
            verbose=int(self.verbose),
            # "auto": ALS minimises over each feature's whole factor vector (block
            # coordinate descent converges in far fewer sweeps); MCMC keeps libFM's
            # scalar Gibbs steps, O(k nnz) per sweep instead of O(k² nnz)
            block=self.factor_update == "block" or (self.factor_update == "auto" and not mcmc),
        )
        link, inverse = self._links(target, chain)
        params, chain, history = coordinate_solver.solve(
            X, y, sw, params, chain, groups, config, rng, evals,
            self._metrics_for(target), history, link, inverse,
        )  # fmt: skip
        self._set_fitted(params, None, history, target)
        self._chain = chain if mcmc else None
        if mcmc:  # the model is the posterior mean; the chain's position is kept to continue
            self._chain_params = params
            mean = chain.mean
            dtype = params.V.dtype
            self.w0_ = float(mean.w0[0])
            self.w_ = mean.w.astype(dtype)
            self.V_ = mean.V.astype(dtype)
        return self

    def _check_continuable(self, n_features: int) -> None:
        """Warm starts need the fitted shapes: same features, same rank."""
        if self.V_.shape != (n_features, self.n_factors):
            raise ValueError(
                f"Cannot continue training: the model has V_ of shape {self.V_.shape} but "
                f"n_factors={self.n_factors} and X has {n_features} features. "
                "Set warm_start=False to start afresh."
            )

    def _start_chain(self, n_features, rng, warm, n_groups, y):
        """Initial (or continued) parameters, chain state and history for ALS/MCMC."""
        chain = getattr(self, "_chain", None) if warm else None
        if warm:
            self._check_continuable(n_features)
        if chain is not None and chain.n_groups != n_groups:
            raise ValueError(
                f"Cannot continue the chain: it has {chain.n_groups} groups, groups has "
                f"{n_groups}. Set warm_start=False to start afresh."
            )
        if warm:
            source = getattr(self, "_chain_params", None) if chain is not None else None
            params = source.copy() if source is not None else self._params().copy()
            history = FitHistory.from_dict(self.history_.to_dict())
        else:
            dtype = resolve_dtype(self.dtype)
            params = FMParams.initial(n_features, self.n_factors, self.init_std, rng, dtype)
            history = FitHistory()
        if chain is None or self.solver != "mcmc":
            cut = self._initial_cutpoints(y)
            chain = coordinate_solver.ChainState.fresh(n_groups, self.n_factors, cut)
        else:
            chain = chain.copy()
        return params, chain, history

    def _validate_Xy(self, X, y, *, reset: bool):
        X, y = validate_data(self, X, y, accept_sparse=True, dtype=self._dtype(reset), reset=reset)
        return as_canonical_csr(X, self._dtype(reset)), y

    def _dtype(self, reset: bool = False):
        if not reset and hasattr(self, "V_"):
            return self.V_.dtype.type
        return resolve_dtype(self.dtype)

    def _eval_sets(self, eval_set, target) -> list[sgd_solver.EvalSet]:
        result = []
        for j, item in enumerate(eval_set or ()):
            if not isinstance(item, tuple | list) or len(item) not in (2, 3):
                raise ValueError(
                    f"eval_set[{j}] must be a tuple (X, y) or (X, y, sample_weight); "
                    f"got {type(item).__name__}."
                )
            Xe, ye = validate_data(
                self, item[0], item[1], accept_sparse=True, dtype=self._dtype(), reset=False
            )
            ye = self._encode_target(ye, target)
            swe = check_sample_weight(item[2] if len(item) == 3 else None, Xe.shape[0])
            result.append(sgd_solver.EvalSet(as_canonical_csr(Xe, self._dtype()), ye, swe))
        return result

    def _hold_out(self, X, y, sw, rng):
        n = X.shape[0]
        n_valid = int(np.floor(self.validation_fraction * n))
        if n_valid < 1 or n - n_valid < 1:
            raise ValueError(
                f"early_stopping needs a validation set: validation_fraction="
                f"{self.validation_fraction} of {n} rows leaves {n_valid} validation rows. "
                "Use more data, a larger validation_fraction, or pass eval_set."
            )
        stratify = y if self._loss == 1 and np.unique(y).size == 2 else None
        try:
            train, valid = train_test_split(
                np.arange(n),
                test_size=n_valid,
                stratify=stratify,
                random_state=int(rng.integers(2**31 - 1)),
            )
        except ValueError:  # too few of a class to stratify
            train, valid = train_test_split(
                np.arange(n), test_size=n_valid, random_state=int(rng.integers(2**31 - 1))
            )
        train.sort()
        valid.sort()
        held_out = sgd_solver.EvalSet(X[valid], y[valid], sw[valid])
        return X[train], y[train], sw[train], held_out

    def _start(self, n_features, rng, warm):
        """Initial parameters, optimiser state and history (copies when warm-starting)."""
        optimizer = sgd_solver.OPTIMIZERS[self.solver]
        if warm:
            self._check_continuable(n_features)
        if warm:
            params = self._params().copy()
            state = getattr(self, "_optimizer_state", None)
            state = state.copy() if state is not None else None
            history = FitHistory.from_dict(self.history_.to_dict())
        else:
            dtype = resolve_dtype(self.dtype)
            params = FMParams.initial(n_features, self.n_factors, self.init_std, rng, dtype)
            state, history = None, FitHistory()
        if state is None or not state.matches(optimizer, params):
            state = sgd_solver.OptimizerState.fresh(optimizer, params)
        return params, state, history

    def _config(self, max_epochs, *, monitor, tol) -> sgd_solver.SGDConfig:
        lr = self.learning_rate
        if lr is None:
            lr = DEFAULT_LEARNING_RATES[self.solver]
        return sgd_solver.SGDConfig(
            loss=self._loss,
            optimizer=sgd_solver.OPTIMIZERS[self.solver],
            learning_rate=float(lr),
            **self._regularization(),
            fit_intercept=bool(self.fit_intercept),
            fit_linear=bool(self.fit_linear),
            batch_size=int(self.batch_size),
            max_epochs=int(max_epochs),
            shuffle=bool(self.shuffle),
            tol=None if tol is None else float(tol),
            n_iter_no_change=int(self.n_iter_no_change),
            monitor_valid=monitor,
            n_threads=_n_threads(self.n_jobs, default=1),
            verbose=int(self.verbose),
        )

    def _regularization(self) -> dict:
        """``reg_bias/linear/factors`` with None replaced by the solver's default.

        The SGD family regularises lazily, per update (a feature's penalty grows with its
        frequency); ALS uses fixed strengths on the whole objective, as libFM does, so the
        two scales differ by about the number of rows per feature. MCMC samples them.
        """
        defaults = self._default_regularization["als" if self.solver == "als" else "sgd"]
        names = ("reg_bias", "reg_linear", "reg_factors")
        return {
            name: float(default if getattr(self, name) is None else getattr(self, name))
            for name, default in zip(names, defaults, strict=True)
        }

    def _set_fitted(self, params: FMParams, state, history: FitHistory, target: dict) -> None:
        for name, value in target.items():
            setattr(self, name, value)
        self.w0_ = float(params.w0[0])
        self.w_ = params.w
        self.V_ = params.V
        self._optimizer_state = state
        self._chain = None
        self._chain_params = None
        self.history_ = history
        self.n_iter_ = len(history)

    def _params(self) -> FMParams:
        dtype = self.V_.dtype
        return FMParams(np.array([self.w0_], dtype=dtype), self.w_, self.V_)

    # Prediction -------------------------------------------------------------------------
    def _decision(self, X) -> np.ndarray:
        """Raw FM output ŷ(x) for each row (float64); any row count, including 0."""
        check_is_fitted(self, "V_")
        X = self._check_predict_X(X)
        samples = self._samples()
        if not samples:
            return self._predict_params(X, self._params())
        # Posterior predictive mean: average the kept samples' predictions on the scale
        # the link gives (probabilities for classification), as libFM and myFM do.
        link, inverse = self._links()
        link = link or (lambda z: z)
        inverse = inverse or (lambda z: z)
        total = np.zeros(X.shape[0])
        for params in samples:
            total += link(self._predict_params(X, params))
        return inverse(total / len(samples))

    def _check_predict_X(self, X):
        X = validate_data(
            self,
            X,
            accept_sparse=True,
            dtype=self.V_.dtype.type,
            reset=False,
            ensure_min_samples=0,
        )
        return as_canonical_csr(X, self.V_.dtype.type)

    def _samples(self) -> list:
        chain = getattr(self, "_chain", None)
        return chain.samples if chain is not None else []

    def _predict_params(self, X, params: FMParams) -> np.ndarray:
        out = np.empty(X.shape[0], dtype=np.float64)
        indptr, indices, data = csr_arrays(X)
        w0 = float(params.w0[0])
        n_threads = _n_threads(self.n_jobs, default=numba.config.NUMBA_NUM_THREADS)
        if X.shape[0] < PARALLEL_PREDICT_MIN_ROWS or n_threads == 1:
            predict_csr(indptr, indices, data, w0, params.w, params.V, out)
        else:
            with _numba_threads(n_threads):
                predict_csr_parallel(
                    indptr, indices, data, w0, params.w, params.V, out, PREDICT_BLOCK_ROWS
                )
        return out

    # Persistence ------------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> None:
        """Save the fitted model to ``path`` (see :mod:`fmlearn.persist`); atomic."""
        from fmlearn.persist import save

        save(self, path)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


#: ``keep_samples="auto"`` keeps the MCMC samples while they fit in this many bytes.
KEEP_SAMPLES_MAX_BYTES = 512 * 2**20


def _keep_samples(keep, n_kept: int, n_features: int, estimator) -> bool:
    """Resolve ``keep_samples``: "auto" keeps them unless they would take > 512 MiB."""
    if keep != "auto":
        return bool(keep)
    itemsize = np.dtype(resolve_dtype(estimator.dtype)).itemsize
    size = n_kept * (n_features * (estimator.n_factors + 1) + 1) * itemsize
    if size <= KEEP_SAMPLES_MAX_BYTES:
        return True
    warnings.warn(
        f"keep_samples='auto': {n_kept} samples of this model would take "
        f"{size / 2**30:.1f} GiB, so only their mean is kept and predict uses the posterior "
        "mean of the parameters (slightly less accurate than averaging predictions). "
        "Set keep_samples=True to keep them anyway, or False to silence this.",
        UserWarning,
        stacklevel=4,
    )
    return False


def _n_kept(n_kept_samples, max_iter) -> int:
    """MCMC samples averaged: the given number, or all but the first 10% of the sweeps."""
    if n_kept_samples is None:
        return max(1, max_iter - max_iter // 10)
    if n_kept_samples > max_iter:
        raise ValueError(
            f"n_kept_samples={n_kept_samples} is larger than max_iter={max_iter}: only "
            f"{max_iter} samples are drawn. Lower n_kept_samples or raise max_iter."
        )
    return int(n_kept_samples)


def _check_groups(groups, n_features: int) -> np.ndarray:
    """Feature → group ids as int64 0..G−1 with every group used (libFM's -meta)."""
    if groups is None:
        return np.zeros(n_features, dtype=np.int64)
    groups = np.asarray(groups)
    if groups.ndim != 1 or groups.shape[0] != n_features:
        raise ValueError(
            f"groups must give one group id per feature: expected shape ({n_features},), "
            f"got {groups.shape}."
        )
    if groups.dtype.kind not in "iu" and not (
        groups.dtype.kind == "f" and np.all(np.isfinite(groups)) and np.all(groups % 1 == 0)
    ):
        raise ValueError(f"groups must hold integer group ids; got dtype {groups.dtype}.")
    groups = groups.astype(np.int64)
    if groups.size and groups.min() < 0:
        raise ValueError(f"groups must be ≥ 0; got {groups.min()}.")
    used = np.unique(groups)
    if used.size and used.size != used[-1] + 1:
        missing = sorted(set(range(int(used[-1]) + 1)) - set(used.tolist()))[:5]
        raise ValueError(
            f"groups must number groups 0..G−1 without gaps; ids {missing} are unused."
        )
    return groups


def _n_threads(n_jobs, default: int) -> int:
    n_max = numba.config.NUMBA_NUM_THREADS
    if n_jobs is None:
        return max(1, min(default, n_max))
    if n_jobs < 0:
        return max(1, n_max + 1 + n_jobs)
    return max(1, min(int(n_jobs), n_max))


class _numba_threads:
    """Set numba's thread count for a block and restore it afterwards."""

    def __init__(self, n: int):
        self.n = n

    def __enter__(self):
        self.previous = numba.get_num_threads()
        numba.set_num_threads(self.n)

    def __exit__(self, *exc):
        numba.set_num_threads(self.previous)
        return False

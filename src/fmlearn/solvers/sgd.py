"""The epoch loop of the SGD family (sgd, adagrad, adam) around ``kernels.sgd.sgd_epoch``.

It owns everything that happens between epochs: shuffling, progress lines, validation
metrics, early stopping with the best epoch restored, and the divergence check that stops
a fit whose loss became NaN or infinite.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from fmlearn._params import FitHistory, FMParams
from fmlearn._progress import Progress
from fmlearn._validation import csr_arrays
from fmlearn.kernels import sgd as K
from fmlearn.kernels.predict import predict_csr

OPTIMIZERS = {"sgd": K.SGD, "adagrad": K.ADAGRAD, "adam": K.ADAM}
N_STATE_SLOTS = {K.SGD: 0, K.ADAGRAD: 1, K.ADAM: 2}


@dataclass
class SGDConfig:
    """Everything the loop needs, resolved to numbers and int codes by the estimator."""

    loss: int
    optimizer: int
    learning_rate: float
    reg_bias: float
    reg_linear: float
    reg_factors: float
    fit_intercept: bool
    fit_linear: bool
    batch_size: int
    max_epochs: int
    shuffle: bool = True
    tol: float | None = None
    n_iter_no_change: int = 5
    monitor_valid: bool = False
    n_threads: int = 1
    verbose: int = 0
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    learning_rate_name: str = "learning_rate"

    def hyper(self) -> np.ndarray:
        hp = np.empty(K.N_HYPER, dtype=np.float64)
        hp[K.LR] = self.learning_rate
        hp[K.REG_BIAS] = self.reg_bias
        hp[K.REG_LINEAR] = self.reg_linear
        hp[K.REG_FACTORS] = self.reg_factors
        hp[K.BETA1], hp[K.BETA2], hp[K.EPS] = self.beta1, self.beta2, self.eps
        return hp

    def codes(self) -> np.ndarray:
        codes = np.empty(K.N_CODES, dtype=np.int64)
        codes[K.LOSS] = self.loss
        codes[K.OPTIMIZER] = self.optimizer
        codes[K.FIT_INTERCEPT] = int(self.fit_intercept)
        codes[K.FIT_LINEAR] = int(self.fit_linear)
        return codes


@dataclass
class OptimizerState:
    """Per-parameter optimiser memory (AdaGrad's Σg², Adam's moments) and update count."""

    arrays: tuple = field(default_factory=tuple)
    n_updates: int = 0

    @classmethod
    def fresh(cls, optimizer: int, params: FMParams) -> OptimizerState:
        n_slots = N_STATE_SLOTS[optimizer]
        arrays = []
        for p in params.as_tuple():
            for slot in range(2):
                shape = p.shape if slot < n_slots else (0,) * p.ndim
                arrays.append(np.zeros(shape, dtype=p.dtype))
        # order expected by the kernel: s1_w0, s2_w0, s1_w, s2_w, s1_V, s2_V
        return cls(tuple(arrays), 0)

    def matches(self, optimizer: int, params: FMParams) -> bool:
        n_slots = N_STATE_SLOTS[optimizer]
        if len(self.arrays) != 6:
            return False
        for j, p in enumerate(params.as_tuple()):
            for slot in range(2):
                a = self.arrays[2 * j + slot]
                expected = p.shape if slot < n_slots else (0,) * p.ndim
                if a.shape != expected or a.dtype != p.dtype:
                    return False
        return True

    def copy(self) -> OptimizerState:
        return OptimizerState(tuple(a.copy() for a in self.arrays), self.n_updates)


@dataclass
class EvalSet:
    """A validation set in kernel form; ``y`` is already encoded (−1/+1 for classes)."""

    X: sp.csr_matrix
    y: np.ndarray
    sample_weight: np.ndarray


MetricsFn = Callable[[np.ndarray, np.ndarray, np.ndarray], dict]


def decision_values(X: sp.csr_matrix, params: FMParams) -> np.ndarray:
    """Raw FM output for every row of a canonical CSR matrix (serial)."""
    out = np.empty(X.shape[0], dtype=np.float64)
    indptr, indices, data = csr_arrays(X)
    predict_csr(indptr, indices, data, float(params.w0[0]), params.w, params.V, out)
    return out


def _evaluate(eval_sets, params, metrics_fn) -> dict:
    scores = {}
    for j, es in enumerate(eval_sets):
        suffix = "" if j == 0 else f"_{j}"
        for name, value in metrics_fn(
            decision_values(es.X, params), es.y, es.sample_weight
        ).items():
            scores[name + suffix] = value
    return scores


class DivergenceError(FloatingPointError, ValueError):
    """Training produced NaN or infinite values; the estimator keeps its previous state."""


def _check_finite(epoch, mean_loss, params, config) -> None:
    bad = None
    if not np.isfinite(mean_loss):
        bad = f"the training loss became {mean_loss}"
    elif not all(np.all(np.isfinite(p)) for p in params.as_tuple()):
        bad = "the parameters became NaN or infinite"
    if bad:
        raise DivergenceError(
            f"Training diverged at epoch {epoch}: {bad}. Try a smaller learning_rate "
            f"(now {config.learning_rate:g}) or stronger regularisation. "
            "The estimator was left unchanged."
        )


def solve(
    X: sp.csr_matrix,
    y: np.ndarray,
    sample_weight: np.ndarray,
    params: FMParams,
    state: OptimizerState,
    config: SGDConfig,
    rng: np.random.Generator,
    eval_sets: list[EvalSet] = (),
    metrics_fn: MetricsFn | None = None,
    history: FitHistory | None = None,
) -> tuple[FMParams, OptimizerState, FitHistory]:
    """Train ``params`` (updated in place; pass a copy) for up to ``config.max_epochs``.

    Early stopping watches the first metric of ``eval_sets[0]`` when
    ``config.monitor_valid``, else the training loss (when ``config.tol`` is set); it
    stops after ``n_iter_no_change`` epochs without an improvement of ``tol`` and, when
    watching a validation set, returns the parameters of the best epoch.
    """
    history = history if history is not None else FitHistory()
    Xk = csr_arrays(X)
    hp, codes = config.hyper(), config.codes()
    n = X.shape[0]
    weight_total = float(sample_weight.sum()) or 1.0
    identity = np.arange(n, dtype=np.int64)
    unit = np.all(sample_weight == 1.0)
    weights = np.empty(0, dtype=np.float64) if unit else sample_weight
    n_chunks = max(1, min(config.n_threads, n // max(config.batch_size, 1000)))
    updates_per_epoch = -(-n // config.batch_size)
    best, best_params, best_state, stale = np.inf, None, None, 0
    first_epoch = len(history) + 1
    last_epoch = first_epoch + config.max_epochs - 1
    progress = Progress(first_epoch, last_epoch, enabled=bool(config.verbose))
    try:
        for epoch in range(first_epoch, first_epoch + config.max_epochs):
            t_start = time.perf_counter()
            order = rng.permutation(n) if config.shuffle else identity  # int64 already
            args = (Xk, y, weights, order, params.as_tuple(), state.arrays, hp, codes)
            if n_chunks == 1:
                total = K.sgd_epoch(*args, state.n_updates, config.batch_size)
            else:
                total = K.sgd_epoch_hogwild(*args, state.n_updates, config.batch_size, n_chunks)
            state.n_updates += updates_per_epoch
            mean_loss = total / weight_total
            _check_finite(epoch, mean_loss, params, config)
            scores = _evaluate(eval_sets, params, metrics_fn) if eval_sets else {}
            seconds = time.perf_counter() - t_start
            history.append(epoch, mean_loss, seconds, scores)
            progress.update(epoch, mean_loss, scores, seconds)
            watched = next(iter(scores.values())) if config.monitor_valid else mean_loss
            if config.monitor_valid or config.tol is not None:
                tol = config.tol or 0.0
                if watched < best - tol:
                    best, stale = watched, 0
                    if config.monitor_valid:
                        best_params, best_state = params.copy(), state.copy()
                else:
                    stale += 1
                    if stale >= config.n_iter_no_change:
                        break
    finally:
        progress.close()
    if best_params is not None:
        params, state = best_params, best_state
    return params, state, history

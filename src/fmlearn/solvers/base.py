"""The solver contract: what every solver receives and returns, and what they share.

Every solver is a function with one signature, registered under a name::

    solve(data, *, task, model, params, config, state, callbacks) -> FitResult

``data`` (:class:`TrainData`) is the validated training set with its evaluation sets;
``task`` (:mod:`fmlearn.tasks`) encodes the target and scores predictions; ``model``
(:mod:`fmlearn.models`) initialises and predicts; ``params`` is where training starts;
``config`` is the solver's own dataclass, built from the estimator's parameters by the
solver's ``make_config``; ``state`` is what a previous fit left to continue from (an
optimiser's memory, a Markov chain) or None. The result holds the parameters to predict
with, the state to continue from and the history of this fit. Solvers never see an
estimator, so they can be called, tested and benchmarked on their own.

Shared here, so that no solver re-implements them: the history, evaluation on the
``eval_set``s, the divergence check, and the per-iteration bookkeeping
(:class:`Monitor`) that runs callbacks and stops training when one asks.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import scipy.sparse as sp

from fmlearn._validation import csr_arrays
from fmlearn.relations import RelationArrays
from fmlearn.solvers.order import row_bytes, row_order
from fmlearn.solvers.streamed import TrainChunk


# ------------------------------------------------------------------------------ history
@dataclass
class FitHistory:
    """Per-iteration record of a fit (``history_``): what users plot to see convergence.

    ``train_loss`` is the mean weighted loss over the training rows (½(ŷ−y)² for
    regression, log-loss for classification) — for the SGD family as seen while passing
    over them, for ALS/MCMC after the sweep. ``valid`` maps a metric name (``"rmse"``,
    ``"logloss"``, ``"auc"`` …; ``"rmse_1"`` for the second eval set) to one value per
    iteration; for MCMC they score the running average of the kept samples' predictions.
    ``seconds`` is wall time per iteration.
    """

    epoch: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    valid: dict[str, list[float]] = field(default_factory=dict)
    seconds: list[float] = field(default_factory=list)

    def append(self, epoch: int, train_loss: float, seconds: float, valid=None) -> None:
        self.epoch.append(int(epoch))
        self.train_loss.append(float(train_loss))
        self.seconds.append(float(seconds))
        for name, value in (valid or {}).items():
            self.valid.setdefault(name, []).append(float(value))

    def extend(self, other: FitHistory) -> FitHistory:
        """This history followed by ``other`` (a continued fit), as a new object.

        Every metric keeps one value per iteration: NaN where a part did not record it
        (a warm fit with an eval_set after one without).
        """
        merged = FitHistory.from_dict(self.to_dict())
        for name in other.valid:
            merged.valid.setdefault(name, [float("nan")] * len(self))
        for j in range(len(other)):
            scores = {name: values[j] for name, values in other.valid.items()}
            merged.append(other.epoch[j], other.train_loss[j], other.seconds[j], scores)
        for values in merged.valid.values():
            values.extend([float("nan")] * (len(merged) - len(values)))
        return merged

    def __len__(self) -> int:
        return len(self.epoch)

    def to_dict(self) -> dict:
        return {
            "epoch": list(self.epoch),
            "train_loss": list(self.train_loss),
            "valid": {k: list(v) for k, v in self.valid.items()},
            "seconds": list(self.seconds),
        }

    @classmethod
    def from_dict(cls, d: dict) -> FitHistory:
        return cls(
            epoch=[int(e) for e in d["epoch"]],
            train_loss=[float(x) for x in d["train_loss"]],
            valid={str(k): [float(x) for x in v] for k, v in d["valid"].items()},
            seconds=[float(x) for x in d["seconds"]],
        )


# ------------------------------------------------------------------------------ inputs
@dataclass
class EvalSet:
    """A validation set in kernel form; ``y`` is already encoded by the task."""

    X: sp.csr_matrix
    y: np.ndarray
    sample_weight: np.ndarray
    relations: RelationArrays | None = None  # its rows' relation blocks, if any

    def decision(self, model, params) -> np.ndarray:
        """ŷ of the set's rows (with their relation blocks)."""
        if self.relations is None:
            return model.decision(self.X, params)
        return self.relations.decision(self.X, params)


@dataclass
class TrainData:
    """The training rows (canonical CSR, encoded target, weights) and what comes with them.

    ``groups`` gives each feature's hyperprior group (MCMC; None: one group), of the
    main table and the relation blocks.
    """

    X: sp.csr_matrix
    y: np.ndarray
    sample_weight: np.ndarray
    eval_sets: list[EvalSet] = field(default_factory=list)
    groups: np.ndarray | None = None
    # relation blocks kept apart (the coordinate solvers' relational sweep); the SGD
    # family gets them flattened into X. ``relation_widths``: the blocks' feature counts.
    relations: RelationArrays | None = None
    relation_widths: tuple[int, ...] = ()
    _chunk: Any = field(default=None, repr=False, compare=False)

    @property
    def n_features(self) -> int:
        """The model's features: X's columns and those of the relation blocks."""
        return self.X.shape[1] + (self.relations.n_features if self.relations else 0)

    @cached_property
    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The CSR triplet in kernel dtypes, converted once per fit."""
        return csr_arrays(self.X)

    @property
    def n_rows(self) -> int:
        return self.X.shape[0]

    def kernel_weights(self) -> np.ndarray:
        """The weights as kernels take them: empty when all are 1 (saves a read per row)."""
        if np.all(self.sample_weight == 1.0):
            return np.empty(0, dtype=np.float64)
        return self.sample_weight

    def epoch_chunks(self, rng: np.random.Generator, shuffle):
        """One epoch's rows as the SGD family takes them: a single chunk (a stream's
        epoch has several, :class:`fmlearn.solvers.streamed.StreamData`)."""
        if self._chunk is None:
            weights = self.kernel_weights()
            total = float(self.sample_weight.sum())
            self._chunk = TrainChunk(self.arrays, self.y, weights, total, np.empty(0))
        self._chunk.order = row_order(self.n_rows, rng, shuffle, row_bytes(self.X))
        yield self._chunk


# ------------------------------------------------------------------------------ outputs
@dataclass
class FitResult:
    """What a solver returns: parameters to predict with, state to continue, history.

    For MCMC, ``params`` is the posterior mean and ``state`` the chain (its current
    sample, hyper-parameters, kept samples and trace). ``history`` covers this fit only.
    """

    params: Any
    state: Any
    history: FitHistory


@dataclass
class IterationInfo:
    """What a callback sees after each epoch or sweep.

    ``params`` and ``state`` are the solver's live objects (for MCMC the current sample,
    not the posterior mean): read them during the call, ``copy()`` them to keep them.
    ``predictions`` are the raw predictions on each eval set that the metrics scored
    (for MCMC the running average, mapped back from the averaging scale).
    """

    iteration: int
    unit: str
    params: Any
    state: Any
    train_loss: float
    scores: dict[str, float]
    seconds: float
    history: FitHistory
    predictions: list[np.ndarray] = field(default_factory=list)


class DivergenceError(FloatingPointError, ValueError):
    """Training produced NaN or infinite values; the estimator keeps its previous state."""


def check_finite(iteration: int, unit: str, mean_loss: float, params, remedy: str) -> None:
    """Raise :class:`DivergenceError` if the loss or any parameter is NaN or infinite."""
    bad = None
    if not np.isfinite(mean_loss):
        bad = f"the training loss became {mean_loss}"
    elif not all(np.all(np.isfinite(p)) for p in params.as_tuple()):
        bad = "the parameters became NaN or infinite"
    if bad:
        raise DivergenceError(
            f"Training diverged at {unit} {iteration}: {bad}. {remedy} "
            "The estimator was left unchanged."
        )


def score_eval_sets(eval_sets, predictions, metrics) -> dict[str, float]:
    """Metrics of each eval set's raw predictions; names get ``_j`` for set j > 0."""
    scores = {}
    for j, (es, raw) in enumerate(zip(eval_sets, predictions, strict=True)):
        suffix = "" if j == 0 else f"_{j}"
        for name, value in metrics(raw, es.y, es.sample_weight).items():
            scores[name + suffix] = value
    return scores


# ----------------------------------------------------------------------------- callbacks
class Monitor:
    """The per-iteration bookkeeping every solver shares.

    Records the history, calls the callbacks (objects with ``on_fit_begin``,
    ``on_iteration`` and ``on_fit_end``, see :mod:`fmlearn.callbacks`, or plain functions
    of an :class:`IterationInfo`) and says when one of them asks to stop. Use it as a
    context manager around the loop, then pass the result through :meth:`finish`.
    """

    def __init__(self, callbacks: Sequence, first: int, n_iterations: int, unit: str):
        self.callbacks = [_as_callback(c) for c in callbacks]
        self.first, self.last, self.unit = first, first + n_iterations - 1, unit
        self.history = FitHistory()
        self._done = False

    def __enter__(self) -> Monitor:
        for cb in self.callbacks:
            cb.on_fit_begin(self.first, self.last, self.unit)
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is not None and not self._done:
            for cb in self.callbacks:
                cb.on_fit_end(None)  # training failed: callbacks release what they hold
        return False

    def iterations(self) -> range:
        return range(self.first, self.last + 1)

    def record(self, iteration, params, state, train_loss, scores, seconds, predictions=()):
        """Append to the history and run the callbacks; True if training should stop."""
        self.history.append(iteration, train_loss, seconds, scores)
        info = IterationInfo(
            iteration,
            self.unit,
            params,
            state,
            float(train_loss),
            scores,
            seconds,
            self.history,
            list(predictions),
        )
        stop = False
        for cb in self.callbacks:
            stop = bool(cb.on_iteration(info)) or stop
        return stop

    def finish(self, result: FitResult) -> FitResult:
        """Let callbacks replace the result (early stopping restores the best epoch)."""
        pending = list(self.callbacks)
        try:
            while pending:
                replaced = pending.pop(0).on_fit_end(result)
                if replaced is not None:
                    result = replaced
        finally:
            self._done = True
            for cb in pending:  # an on_fit_end raised: let the others close (progress bars)
                try:
                    cb.on_fit_end(None)
                except Exception:
                    pass
        return result


class _FunctionCallback:
    def __init__(self, function: Callable[[IterationInfo], Any]):
        self.function = function

    def on_fit_begin(self, first: int, last: int, unit: str) -> None:
        pass

    def on_iteration(self, info: IterationInfo) -> bool:
        return bool(self.function(info))

    def on_fit_end(self, result):
        return None


def _as_callback(callback):
    if isinstance(callback, type):
        raise TypeError(
            f"callbacks take instances: pass {callback.__name__}(…), not the class itself."
        )
    if all(hasattr(callback, m) for m in ("on_fit_begin", "on_iteration", "on_fit_end")):
        return callback
    if callable(callback):
        return _FunctionCallback(callback)
    raise TypeError(
        f"callbacks must be fmlearn.callbacks.Callback objects or functions of one "
        f"IterationInfo; got {type(callback).__name__}."
    )


class Stopwatch:
    """Wall time of one iteration: ``with Stopwatch() as clock: …; clock.seconds``."""

    def __enter__(self) -> Stopwatch:
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc) -> bool:
        self.seconds = time.perf_counter() - self.start
        return False


def regularization(params: dict, task) -> dict:
    """``reg_bias/linear/factors`` with None replaced by the task's default for the family.

    The SGD family regularises lazily, per update (a feature's penalty grows with its
    frequency); ALS penalises the whole objective once, as libFM, so the two scales
    differ by about the number of rows per feature. MCMC samples them.
    """
    names = ("reg_bias", "reg_linear", "reg_factors")
    return {
        name: _strength(default if params[name] is None else params[name])
        for name, default in zip(names, task.default_reg(), strict=True)
    }


def _strength(value):
    """A float, or a float64 array of per-group values (ALS's ``reg_linear``/``reg_factors``
    with ``groups``)."""
    if isinstance(value, list | tuple | np.ndarray):
        return np.asarray(value, dtype=np.float64)
    return float(value)


# ------------------------------------------------------------------------------ registry
@dataclass(frozen=True)
class Solver:
    """A registered solver: its function and what the estimators need to know about it.

    ``family`` selects the task's defaults and link (``"sgd"``, ``"als"``, ``"mcmc"``).
    ``make_config(params, task, rng)`` turns the estimator's parameters into the solver's
    config. ``parameters`` are the estimator parameters only this solver (or its family)
    reads: an estimator refuses them, set away from their default, for other solvers.
    ``state_from_arrays(meta, arrays, model, params)`` rebuilds a saved state.
    ``online``: the solver can learn from one batch at a time (``partial_fit``). ``unit``
    names an iteration in messages and progress lines. ``uses_groups``: it reads
    ``TrainData.groups``. ``prepare(data, params, task, rng)`` may change the data
    before training (the SGD family's early-stopping split) and
    ``default_callbacks(params, online=…)`` adds callbacks the parameters ask for.
    Which models a solver can train is the models' business: each lists the solver
    families it supports (``Model.families``), so a new model edits no solver.
    """

    name: str
    family: str
    solve: Callable[..., FitResult]
    make_config: Callable[..., Any]
    parameters: frozenset[str] = frozenset()
    state_from_arrays: Callable[..., Any] | None = None
    online: bool = False
    unit: str = "epoch"
    uses_groups: bool = False
    prepare: Callable[..., TrainData] | None = None
    default_callbacks: Callable[..., list] | None = None
    describe: str = ""


_SOLVERS: dict[str, Solver] = {}


def register_solver(solver: Solver) -> Solver:
    """Make ``solver`` available to estimators as ``solver=solver.name``."""
    _SOLVERS[solver.name] = solver
    return solver


def get_solver(name: str) -> Solver:
    try:
        return _SOLVERS[name]
    except KeyError:
        raise ValueError(
            f"Unknown solver {name!r}; registered solvers: {sorted(_SOLVERS)}."
        ) from None


def solver_names(families=None) -> tuple[str, ...]:
    """Registered solver names, in registration order (those of the given ``families``)."""
    return tuple(n for n, s in _SOLVERS.items() if families is None or s.family in families)


class RegisteredSolver:
    """Parameter constraint: a registered solver of one of ``families`` (a model's).

    Read at validation time, so a solver registered after the estimator class was
    defined is accepted as well.
    """

    def __init__(self, families):
        self.families = frozenset(families)

    def accepts(self, value) -> bool:
        return isinstance(value, str) and value in solver_names(self.families)

    def describe(self) -> str:
        return "one of {" + ", ".join(repr(n) for n in solver_names(self.families)) + "}"

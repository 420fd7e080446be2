"""The SGD family (sgd, adagrad, adam, ftrl): epochs over shuffled rows around
``model.sgd_epoch``.

Between epochs it shuffles, checks for divergence and scores the eval sets; early
stopping and progress lines are callbacks (:mod:`fmlearn.callbacks`). Regularisation is
lazy, per update (kernels/sgd.py), and the optimiser's memory (AdaGrad's Σg², Adam's
moments) is the solver state, saved with the model so that training can continue.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np
from sklearn.model_selection import train_test_split

from fmlearn._utils import format_bytes, physical_memory
from fmlearn.callbacks import EarlyStopping
from fmlearn.kernels import sgd as K
from fmlearn.solvers.base import (
    EvalSet,
    FitResult,
    Monitor,
    Solver,
    Stopwatch,
    TrainData,
    check_finite,
    register_solver,
    regularization,
    score_eval_sets,
)
from fmlearn.tasks import Task

OPTIMIZERS = {"sgd": K.SGD, "adagrad": K.ADAGRAD, "adam": K.ADAM, "ftrl": K.FTRL}
#: How many state arrays each optimiser keeps per parameter array.
N_STATE_SLOTS = {K.SGD: 0, K.ADAGRAD: 1, K.ADAM: 2, K.FTRL: 2}
#: Learning rate used when ``learning_rate=None`` (tuned on ML-100K and generated CTR
#: data; benchmarks/README.md). FTRL's is its α.
DEFAULT_LEARNING_RATES = {"sgd": 0.01, "adagrad": 0.1, "adam": 0.005, "ftrl": 0.1}
#: FTRL's β (McMahan et al. 2013: "β = 1 is usually good enough").
FTRL_BETA = 1.0
#: AdaGrad's Σg² starts here, as in libffm, not at 0: from 0 the first step on a
#: parameter is ±lr whatever its gradient, so every id seen once or twice jumps by the
#: full learning rate — noise on click data, where most ids are rare. From 1 a small
#: gradient takes a small step (lr·g/√(1+g²)). Measured (init_std="auto", lr 0.1):
#: generated click data 200k rows × 39 fields, 2 epochs, AUC 0.613 → 0.667; ML-100K
#: RMSE 0.9198 → 0.9177 (early stopping); Frappe AUC 0.9454 → 0.9426.
ADAGRAD_INITIAL_ACCUMULATOR = 1.0
#: ``reg_factors`` when None for a higher-order FM (``degree`` > 2), regression and
#: classification alike: the tasks' defaults (0.1, 0.03) shrink the order-3 factors to 0
#: within an epoch (AdaGrad, lazy L2) and the model stays an FM; 0.01 let degree 3
#: recover planted degree-3 data (RMSE 0.11 against the FM's 0.95) and helped on Frappe
#: (AUC +0.005; benchmarks/higher_order.py, part 4).
HIGHER_ORDER_REG_FACTORS = 0.01
#: Estimator parameters the SGD family reads and the coordinate solvers do not.
PARAMETERS = frozenset(
    {
        "learning_rate",
        "batch_size",
        "shuffle",
        "early_stopping",
        "validation_fraction",
        "n_iter_no_change",
        "tol",
        "reg_bias",
        "reg_linear",
        "reg_factors",
    }
)
#: FTRL reads two more: its L1 strengths, which make weights exactly zero.
FTRL_PARAMETERS = PARAMETERS | {"l1_linear", "l1_factors"}


@dataclass
class SGDConfig:
    """Everything the loop needs, resolved to numbers and int codes."""

    loss: int
    optimizer: int
    learning_rate: float
    reg_bias: float
    reg_linear: float
    reg_factors: float
    fit_intercept: bool
    fit_linear: bool
    batch_size: int
    n_epochs: int
    rng: np.random.Generator
    shuffle: bool | str = "grouped"
    n_threads: int = 1
    first_epoch: int = 1
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    l1_linear: float = 0.0
    l1_factors: float = 0.0
    ftrl_beta: float = FTRL_BETA

    def hyper(self) -> np.ndarray:
        hp = np.empty(K.N_HYPER, dtype=np.float64)
        hp[K.LR] = self.learning_rate
        hp[K.REG_BIAS] = self.reg_bias
        hp[K.REG_LINEAR] = self.reg_linear
        hp[K.REG_FACTORS] = self.reg_factors
        hp[K.BETA1], hp[K.BETA2], hp[K.EPS] = self.beta1, self.beta2, self.eps
        hp[K.L1_LINEAR], hp[K.L1_FACTORS] = self.l1_linear, self.l1_factors
        hp[K.FTRL_BETA] = self.ftrl_beta
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
    """Per-parameter optimiser memory (AdaGrad's Σg², Adam's moments) and update count.

    ``arrays`` holds two slots per parameter array, in the kernel's order
    ``(s1_w0, s2_w0, s1_w, s2_w, s1_V, s2_V)``; unused slots are empty arrays.
    """

    optimizer: int
    arrays: tuple
    n_updates: int = 0
    #: FTRL only: the (α, β, λ1 of w, λ1 of V) its z was built for — z means a weight only
    #: for those, so a continued fit with others re-derives it (:meth:`rebase`).
    ftrl_hyper: tuple | None = None

    @classmethod
    def fresh(cls, optimizer: int, params, config: SGDConfig | None = None) -> OptimizerState:
        """Zero memory, except AdaGrad's Σg², which starts at
        :data:`ADAGRAD_INITIAL_ACCUMULATOR`, and FTRL's z: FTRL computes each weight from
        (z, n) in closed form, so z starts where that form gives back the starting
        parameters (the random factors, or a warm-started model) instead of zero."""
        n_slots = N_STATE_SLOTS[optimizer]
        _check_state_size(optimizer, params, n_slots)
        arrays = [
            np.zeros(_slot_shape(p, slot, n_slots), dtype=p.dtype)
            for p in params.as_tuple()
            for slot in range(2)
        ]
        if optimizer == K.ADAGRAD:
            for j in range(0, len(arrays), 2):
                arrays[j][...] = ADAGRAD_INITIAL_ACCUMULATOR
        state = cls(optimizer, tuple(arrays), 0)
        if optimizer == K.FTRL and config is not None:
            state.rebase(params, config)
        return state

    def rebase(self, params, config: SGDConfig) -> None:
        """FTRL: make z give back the current parameters under ``config``'s α, β and λ1
        (kept n): ``z = −(β + √n)/α · w − λ1 · sign w`` where w ≠ 0; where w = 0, z is
        clipped into [−λ1, λ1]. A no-op when the state was built for the same values."""
        hyper = (config.learning_rate, config.ftrl_beta, config.l1_linear, config.l1_factors)
        if self.optimizer != K.FTRL or self.ftrl_hyper == hyper:
            return
        alpha, beta = config.learning_rate, config.ftrl_beta
        for j, p in enumerate(params.as_tuple()):
            l1 = {1: config.l1_linear, 2: config.l1_factors}.get(j, 0.0)
            _ftrl_z(self.arrays[2 * j], self.arrays[2 * j + 1], p, alpha, beta, l1)
        self.ftrl_hyper = hyper

    def matches(self, optimizer: int, params) -> bool:
        """True if this state fits ``optimizer`` and the shapes and dtype of ``params``."""
        n_slots = N_STATE_SLOTS[optimizer]
        expected = [
            (_slot_shape(p, s, n_slots), p.dtype) for p in params.as_tuple() for s in (0, 1)
        ]
        return (
            self.optimizer == optimizer
            and len(self.arrays) == len(expected)
            and all((a.shape, a.dtype) == e for a, e in zip(self.arrays, expected, strict=True))
        )

    def copy(self) -> OptimizerState:
        arrays = tuple(a.copy() for a in self.arrays)
        return OptimizerState(self.optimizer, arrays, self.n_updates, self.ftrl_hyper)

    def fitted_attributes(self) -> dict:
        """Public estimator attributes this state provides (none: it is internal memory)."""
        return {}

    def to_arrays(self) -> tuple[dict, dict[str, np.ndarray]]:
        """``(metadata, arrays)`` for the model file: ``slot1_0`` … (slot, parameter)."""
        arrays = {f"slot{j % 2 + 1}_{j // 2}": a for j, a in enumerate(self.arrays)}
        meta = {"n_updates": int(self.n_updates)}
        if self.ftrl_hyper is not None:
            meta["ftrl_hyper"] = [float(v) for v in self.ftrl_hyper]
        return meta, arrays

    @classmethod
    def from_arrays(cls, optimizer: int, meta: dict, arrays: dict, params) -> OptimizerState:
        """The inverse of :meth:`to_arrays`; ``ValueError`` if it does not fit ``params``."""
        n = 2 * len(params.as_tuple())
        slots = tuple(arrays[f"slot{j % 2 + 1}_{j // 2}"] for j in range(n))
        hyper = meta.get("ftrl_hyper")
        hyper = tuple(float(v) for v in hyper) if hyper is not None else None
        state = cls(optimizer, slots, int(meta["n_updates"]), hyper)
        if not state.matches(optimizer, params):
            raise ValueError("the optimizer state does not fit the parameters")
        return state


def _ftrl_z(z, n, w, alpha: float, beta: float, l1: float, chunk: int = 2**20) -> None:
    """Set FTRL's ``z`` (in place) so that its closed form gives back ``w``; by chunks of
    ``chunk`` values, so that the temporaries stay small beside a large model."""
    zf, nf, wf = z.reshape(-1), n.reshape(-1), w.reshape(-1)
    for start in range(0, wf.size, chunk):
        part = slice(start, start + chunk)
        wp = wf[part].astype(np.float64)
        zp = -(beta + np.sqrt(nf[part].astype(np.float64))) / alpha * wp - l1 * np.sign(wp)
        zf[part] = np.where(wp == 0.0, np.clip(zf[part], -l1, l1), zp)


def _check_state_size(optimizer: int, params, n_slots: int) -> None:
    """Refuse, before allocating, optimiser memory that cannot fit beside the parameters:
    ``np.zeros`` would succeed lazily and the process be killed mid-epoch instead."""
    model = sum(p.nbytes for p in params.as_tuple())
    memory = physical_memory()
    if memory is None or model * (1 + n_slots) <= memory:
        return
    name = next(n for n, code in OPTIMIZERS.items() if code == optimizer)
    raise MemoryError(
        f"solver={name!r} keeps {n_slots} array(s) the size of the parameters: "
        f"{format_bytes(model * (1 + n_slots))} in all ({format_bytes(model)} of "
        f"parameters) and this machine has {format_bytes(memory)}. Use solver='sgd' (no "
        "state), dtype='float32', fewer features (hashing) or a lower n_factors."
    )


def _slot_shape(p: np.ndarray, slot: int, n_slots: int) -> tuple:
    return p.shape if slot < n_slots else (0,) * p.ndim


def make_config(
    params: dict,
    task: Task,
    *,
    optimizer: str,
    rng,
    first_iteration: int,
    n_iterations: int,
    n_threads: int,
    n_features: int,
) -> SGDConfig:
    if task.sgd_loss is None:
        raise ValueError(f"{task.owner} has no loss for solver={optimizer!r}; use solver='mcmc'.")
    lr = params["learning_rate"]
    regs = regularization(params, task)
    if params.get("degree", 2) > 2 and params["reg_factors"] is None:
        regs["reg_factors"] = HIGHER_ORDER_REG_FACTORS
    per_group = [name for name, value in regs.items() if isinstance(value, np.ndarray)]
    if per_group:
        raise ValueError(
            f"{per_group[0]} has per-group values, which solver='als' reads (with groups, "
            f"as libFM's -regular with -meta); solver={optimizer!r} takes one value."
        )
    return SGDConfig(
        loss=task.sgd_loss,
        optimizer=OPTIMIZERS[optimizer],
        learning_rate=float(DEFAULT_LEARNING_RATES[optimizer] if lr is None else lr),
        **regs,
        fit_intercept=bool(params["fit_intercept"]) and task.has_intercept,
        fit_linear=bool(params["fit_linear"]),
        batch_size=int(params.get("batch_size", 1)),  # estimators without it: row by row
        l1_linear=float(params.get("l1_linear", 0.0)),
        l1_factors=float(params.get("l1_factors", 0.0)),
        n_epochs=int(n_iterations),
        rng=rng,
        shuffle=params["shuffle"],  # "grouped", True (a permutation) or False
        n_threads=n_threads,
        first_epoch=first_iteration,
    )


def hold_out(data: TrainData, params: dict, task: Task, rng) -> TrainData:
    """With ``early_stopping`` and no eval_set, set ``validation_fraction`` of the rows aside.

    The split is stratified for classification (when each class can be) and the held-out
    rows become the first eval set, the one early stopping watches.
    """
    if not params["early_stopping"] or data.eval_sets:
        return data
    n = data.n_rows
    n_valid = int(np.floor(params["validation_fraction"] * n))
    if n_valid < 1 or n - n_valid < 1:
        raise ValueError(
            f"early_stopping needs a validation set: validation_fraction="
            f"{params['validation_fraction']} of {n} rows leaves {n_valid} validation rows. "
            "Use more data, a larger validation_fraction, or pass eval_set."
        )
    seed = int(rng.integers(2**31 - 1))
    try:
        train, valid = train_test_split(
            np.arange(n), test_size=n_valid, stratify=task.stratify(data.y), random_state=seed
        )
    except ValueError:  # too few of a class to stratify
        train, valid = train_test_split(
            np.arange(n), test_size=n_valid, random_state=int(rng.integers(2**31 - 1))
        )
    train.sort()
    valid.sort()
    held_out = EvalSet(data.X[valid], data.y[valid], data.sample_weight[valid])
    X, y, sw = data.X[train], data.y[train], data.sample_weight[train]
    return TrainData(X, y, sw, [held_out], data.groups)


def default_callbacks(params: dict, *, online: bool) -> list:
    """Early stopping from the estimator's parameters (none for ``partial_fit``).

    ``early_stopping=True`` watches the first metric of the first eval set and restores
    the best epoch; otherwise ``tol`` stops when the training loss stalls.
    """
    if online:
        return []
    patience = int(params["n_iter_no_change"])
    if params["early_stopping"]:
        return [EarlyStopping(monitor=None, patience=patience, tol=params["tol"] or 0.0)]
    if params["tol"] is not None:
        return [
            EarlyStopping("train_loss", patience=patience, tol=params["tol"], restore_best=False)
        ]
    return []


def solve(
    data: TrainData,
    *,
    task: Task,
    model,
    params,
    config: SGDConfig,
    state: OptimizerState | None,
    callbacks=(),
) -> FitResult:
    """Train ``params`` (updated in place: pass a copy) for up to ``config.n_epochs``.

    ``state`` continues an earlier fit when it matches the optimiser (else it starts
    afresh). Callbacks may stop early and replace the result (the best epoch).
    """
    if state is None or not state.matches(config.optimizer, params):
        state = OptimizerState.fresh(config.optimizer, params, config)
    else:
        state.rebase(params, config)  # FTRL continued with another α, β or λ1
    hp, codes = config.hyper(), config.codes()
    metrics = task.metrics()
    remedy = (
        f"Try a smaller learning_rate (now {config.learning_rate:g}) or stronger regularisation."
    )
    with Monitor(callbacks, config.first_epoch, config.n_epochs, "epoch") as monitor:
        for epoch in monitor.iterations():
            with Stopwatch() as clock:
                total, weight_total = 0.0, 0.0
                # in memory: one chunk; a stream (fit(FileStream(…))): its chunks in turn
                for chunk in data.epoch_chunks(config.rng, config.shuffle):
                    n = chunk.n_rows
                    n_chunks = max(1, min(config.n_threads, n // max(config.batch_size, 1000)))
                    total += model.sgd_epoch(
                        chunk.arrays,
                        chunk.y,
                        chunk.weights,
                        chunk.order,
                        params,
                        state.arrays,
                        hp,
                        codes,
                        state.n_updates,
                        config.batch_size,
                        n_chunks,
                    )
                    state.n_updates += -(-n // config.batch_size)
                    weight_total += chunk.weight_total
                mean_loss = total / (weight_total or 1.0)
                check_finite(epoch, "epoch", mean_loss, params, remedy)
                predictions = [es.decision(model, params) for es in data.eval_sets]
                scores = score_eval_sets(data.eval_sets, predictions, metrics)
            if monitor.record(epoch, params, state, mean_loss, scores, clock.seconds, predictions):
                break
        return monitor.finish(FitResult(params, state, monitor.history))


def _state_from_arrays(meta, arrays, model, params, *, optimizer: str) -> OptimizerState:
    return OptimizerState.from_arrays(OPTIMIZERS[optimizer], meta, arrays, params)


for _name, _describe in (
    ("sgd", "plain stochastic gradient descent (libFM's -method sgd with batch_size=1)"),
    ("adagrad", "AdaGrad: per-parameter steps lr / √Σg²"),
    ("adam", "Adam: bias-corrected first and second moments"),
    ("ftrl", "FTRL-Proximal: per-coordinate steps with L1 that gives exact zeros"),
):
    register_solver(
        Solver(
            name=_name,
            family="sgd",
            solve=solve,
            make_config=partial(make_config, optimizer=_name),
            parameters=FTRL_PARAMETERS if _name == "ftrl" else PARAMETERS,
            state_from_arrays=partial(_state_from_arrays, optimizer=_name),
            online=True,
            unit="epoch",
            prepare=hold_out,
            default_callbacks=default_callbacks,
            describe=_describe,
        )
    )

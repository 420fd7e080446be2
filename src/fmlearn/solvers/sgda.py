"""``solver="sgda"``: SGD whose L2 strengths are learned on a validation set (Rendle,
WSDM 2012; libFM's ``-method sgda``), so that SGD needs no regularisation grid.

The validation rows are the first ``eval_set`` or, without one, ``validation_fraction`` of
the training rows set aside (as for early stopping). One strength per feature group
(``fit(..., groups=…)``, libFM's ``-meta``; one group without) for w and one per group and
factor for V, all starting at 0; the fitted ones are ``reg_linear_`` (n_groups,) and
``reg_factors_`` (n_groups, k). The update rules and their scale are in
:mod:`fmlearn.kernels.sgda`. It trains the classic FM (degree 2) for regression and
binary classification, without sample weights.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fmlearn._validation import csr_arrays
from fmlearn.kernels import sgda as K
from fmlearn.models.fm import FM
from fmlearn.solvers.base import (
    FitResult,
    Monitor,
    Solver,
    Stopwatch,
    TrainData,
    check_finite,
    register_solver,
    score_eval_sets,
)
from fmlearn.solvers.order import row_bytes, row_order
from fmlearn.solvers.sgd import default_callbacks, hold_out
from fmlearn.tasks import Task

#: The learning rate for θ and λ when None: SGDA steps along 2 (ŷ − y) (libFM's scale),
#: so 0.005 takes the steps of ``solver="sgd"`` at its default 0.01. On ML-100K with side
#: features the validation RMSE preferred it to 0.01 (0.8888 against 0.8942; test 0.924
#: against 0.929, benchmarks/sgda_ml100k.py).
DEFAULT_LEARNING_RATE = 0.005
PARAMETERS = frozenset(
    {"learning_rate", "shuffle", "early_stopping", "validation_fraction", "n_iter_no_change", "tol"}
)


@dataclass
class SGDAConfig:
    task: int
    loss: int
    learning_rate: float
    fit_intercept: bool
    fit_linear: bool
    n_epochs: int
    rng: np.random.Generator
    shuffle: bool | str
    first_epoch: int
    y_range: tuple[float, float]


@dataclass
class AdaptiveRegularization:
    """The learned strengths and each feature's latest training gradient (what the next
    λ step needs): the state a continued fit starts from, saved with the model."""

    reg_w: np.ndarray  # (n_groups,)
    reg_v: np.ndarray  # (n_groups, k)
    grad_w: np.ndarray  # (n_features,)
    grad_V: np.ndarray  # (n_features, k)
    n_epochs: int = 0

    @classmethod
    def fresh(cls, n_groups: int, n_features: int, k: int) -> AdaptiveRegularization:
        return cls(np.zeros(n_groups), np.zeros((n_groups, k)), np.zeros(n_features),
                   np.zeros((n_features, k)))  # fmt: skip

    def copy(self) -> AdaptiveRegularization:
        return AdaptiveRegularization(self.reg_w.copy(), self.reg_v.copy(), self.grad_w.copy(),
                                      self.grad_V.copy(), self.n_epochs)  # fmt: skip

    def fitted_attributes(self) -> dict:
        return {"reg_linear_": self.reg_w.copy(), "reg_factors_": self.reg_v.copy()}

    def to_arrays(self) -> tuple[dict, dict[str, np.ndarray]]:
        arrays = {"reg_w": self.reg_w, "reg_v": self.reg_v, "grad_w": self.grad_w,
                  "grad_V": self.grad_V}  # fmt: skip
        return {"n_epochs": int(self.n_epochs)}, arrays

    def matches(self, n_groups: int, n_features: int, k: int) -> bool:
        return self.reg_v.shape == (n_groups, k) and self.grad_V.shape == (n_features, k)


def _state_from_arrays(meta, arrays, model, params) -> AdaptiveRegularization:
    state = AdaptiveRegularization(
        *(np.asarray(arrays[name], dtype=np.float64) for name in ("reg_w", "reg_v", "grad_w",
                                                                   "grad_V")),
        int(meta["n_epochs"]),
    )  # fmt: skip
    n_groups = state.reg_w.shape[0]
    if state.reg_w.ndim != 1 or not state.matches(n_groups, params.n_features, params.n_factors):
        raise ValueError("the adaptive regularisation state does not fit the parameters")
    if not all(np.all(np.isfinite(a)) for a in (state.reg_w, state.reg_v)):
        raise ValueError("the learned regularisation contains NaN or infinity")
    return state


def make_config(params: dict, task: Task, *, rng, first_iteration: int, n_iterations: int,
                n_threads: int, n_features: int) -> SGDAConfig:  # fmt: skip
    if task.name not in ("regression", "binary"):
        raise ValueError(f"solver='sgda' fits regression and two classes; {task.owner} has "
                         f"a {task.name} target.")  # fmt: skip
    lr = params["learning_rate"]
    target = task.target
    return SGDAConfig(
        task=K.REGRESSION if task.name == "regression" else K.CLASSIFICATION,
        loss=task.sgd_loss,
        learning_rate=float(DEFAULT_LEARNING_RATE if lr is None else lr),
        fit_intercept=bool(params["fit_intercept"]),
        fit_linear=bool(params["fit_linear"]),
        n_epochs=int(n_iterations),
        rng=rng,
        shuffle=params["shuffle"],  # "grouped", True (a permutation) or False
        first_epoch=first_iteration,
        y_range=(float(target.get("y_min_", -np.inf)), float(target.get("y_max_", np.inf))),
    )


def prepare(data: TrainData, params: dict, task: Task, rng) -> TrainData:
    """The validation rows λ learns on: the first eval set, or ``validation_fraction`` of
    the training rows set aside."""
    if data.eval_sets:
        return data
    return hold_out(data, {**params, "early_stopping": True}, task, rng)


def solve(data: TrainData, *, task: Task, model, params, config: SGDAConfig, state,
          callbacks=()) -> FitResult:  # fmt: skip
    """Epochs of θ steps on the training rows and λ steps on the validation rows."""
    if type(model) is not FM:
        raise ValueError(
            f"solver='sgda' trains the classic FM (degree 2, two classes at most); "
            f"{task.owner} has a {model.name!r} model here."
        )
    if data.kernel_weights().size:
        raise ValueError("solver='sgda' takes no sample weights (nor class_weight), as libFM's.")
    groups = data.groups if data.groups is not None else np.zeros(params.n_features, np.int64)
    n_groups = int(groups.max()) + 1 if groups.size else 1
    k = params.n_factors
    if state is None or not state.matches(n_groups, params.n_features, k):
        state = AdaptiveRegularization.fresh(n_groups, params.n_features, k)
    valid = data.eval_sets[0]
    Xv = csr_arrays(valid.X)
    hp = np.array([config.learning_rate, *config.y_range])
    flags = np.array([config.task, config.loss, config.fit_intercept, config.fit_linear], np.int64)
    groups = groups.astype(np.int64)
    metrics = task.metrics()
    remedy = f"Try a smaller learning_rate (now {config.learning_rate:g})."
    with Monitor(callbacks, config.first_epoch, config.n_epochs, "epoch") as monitor:
        for epoch in monitor.iterations():
            with Stopwatch() as clock:
                order = row_order(data.n_rows, config.rng, config.shuffle, row_bytes(data.X))
                total, _ = K.sgda_epoch(
                    data.arrays, data.y, order, Xv, valid.y, 0, params.as_tuple(), groups,
                    state.reg_w, state.reg_v, state.grad_w, state.grad_V, hp, flags,
                    state.n_epochs > 0,
                )  # fmt: skip
                state.n_epochs += 1
                mean_loss = total / max(data.n_rows, 1)
                check_finite(epoch, "epoch", mean_loss, params, remedy)
                predictions = [es.decision(model, params) for es in data.eval_sets]
                scores = score_eval_sets(data.eval_sets, predictions, metrics)
            if monitor.record(epoch, params, state, mean_loss, scores, clock.seconds, predictions):
                break
        return monitor.finish(FitResult(params, state, monitor.history))


register_solver(
    Solver(
        name="sgda",
        # a family of its own: it trains the classic FM only, so the models that the SGD
        # family reaches (FFM, FwFM, higher order, multiclass) do not list it
        family="sgda",
        solve=solve,
        make_config=make_config,
        parameters=PARAMETERS,
        state_from_arrays=_state_from_arrays,
        unit="epoch",
        prepare=prepare,
        default_callbacks=default_callbacks,
        uses_groups=True,
        describe="SGD with adaptive regularisation learned on a validation set (libFM's "
        "-method sgda)",
    )
)

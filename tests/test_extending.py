"""Adding a model, a task and a solver without editing persist, the CLI or BaseFM.

docs/design.md promises that a new member of the family is new code, not edits to the
shared parts. This test is that promise kept: it defines a toy *model* (a linear model
w0 + Σ w_i x_i, an FM with no factors), a toy *task* (regression on log(1 + y), whose
link maps predictions back to y's scale) and a toy *solver* (exact ridge regression by
scipy's sparse least squares), registers the solver, and builds an estimator from them
by subclassing BaseFM — then fits, predicts, calls back, saves and loads it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.sparse.linalg import lsqr
from sklearn.base import RegressorMixin

import fmlearn
from fmlearn._base import BaseFM
from fmlearn._validation import BOOLEAN, NONE, RANDOM_STATE, Interval, Options
from fmlearn.kernels import losses
from fmlearn.models import Model
from fmlearn.solvers import FitResult, Solver, register_solver
from fmlearn.solvers.base import Monitor, Stopwatch, score_eval_sets
from fmlearn.tasks import Task


# --------------------------------------------------------------------------- the model
@dataclass
class LinearParams:
    w0: np.ndarray  # (1,)
    w: np.ndarray  # (n,)

    @property
    def dtype(self):
        return self.w.dtype

    @property
    def n_features(self):
        return self.w.shape[0]

    def arrays(self):
        return {"w0_": self.w0, "w_": self.w}

    def as_tuple(self):
        return (self.w0, self.w)

    def copy(self):
        return LinearParams(self.w0.copy(), self.w.copy())

    def fitted_attributes(self):
        return {"w0_": float(self.w0[0]), "w_": self.w}


class LinearModel(Model):
    name = "linear"
    families = frozenset({"toy"})

    def __init__(self, dtype=np.float64):
        self._dtype = np.dtype(dtype).type

    @property
    def dtype(self):
        return self._dtype

    def init_params(self, n_features, rng):
        return LinearParams(np.zeros(1, self.dtype), np.zeros(n_features, self.dtype))

    def decision(self, X, params, n_threads=1):
        return np.asarray(X @ params.w, dtype=np.float64) + float(params.w0[0])

    def params_from_arrays(self, arrays, n_features):
        w0, w = arrays["w0_"], arrays["w_"]
        if w.shape != (n_features,) or w0.shape != (1,):
            raise ValueError(f"shapes {w0.shape}, {w.shape}")
        return LinearParams(w0, w)

    def params_from_estimator(self, estimator):
        return LinearParams(np.array([estimator.w0_], dtype=estimator.w_.dtype), estimator.w_)


# ---------------------------------------------------------------------------- the task
class LogRegressionTask(Task):
    """Positive targets, learned as log(1 + y) with squared loss; RMSE on y's scale."""

    name = "log-regression"
    sgd_loss = losses.SQUARED
    fitted_attributes = ("y_max_",)

    def learn_target(self, y, previous=None, classes=None):
        y = np.asarray(y, dtype=np.float64)
        if np.any(y < 0):
            raise ValueError("LogRegressionTask needs y ≥ 0.")
        return {"y_max_": float(y.max())}

    def encode(self, y):
        return np.log1p(np.asarray(y, dtype=np.float64))

    def metrics(self):
        def rmse(raw, y, sample_weight):
            return {"rmse": float(np.sqrt(np.average((np.expm1(raw) - np.expm1(y)) ** 2)))}

        return rmse


# -------------------------------------------------------------------------- the solver
@dataclass
class RidgeConfig:
    damp: float
    n_iterations: int
    first_iteration: int


def make_ridge_config(params, task, *, rng, first_iteration, n_iterations, n_threads, n_features):
    return RidgeConfig(float(params["reg_linear"] or 0.0), n_iterations, first_iteration)


def solve_ridge(data, *, task, model, params, config, state, callbacks=()):
    """Each iteration solves the ridge problem exactly (so one iteration is enough)."""
    X = sp.hstack([sp.csr_matrix(np.ones((data.n_rows, 1))), data.X], format="csr")
    metrics = task.metrics()
    with Monitor(callbacks, config.first_iteration, config.n_iterations, "solve") as monitor:
        for iteration in monitor.iterations():
            with Stopwatch() as clock:
                theta = lsqr(X, data.y, damp=np.sqrt(config.damp), atol=1e-12, btol=1e-12)[0]
                params.w0[0], params.w[:] = theta[0], theta[1:]
                loss = 0.5 * np.mean((model.decision(data.X, params) - data.y) ** 2)
                predictions = [es.decision(model, params) for es in data.eval_sets]
                scores = score_eval_sets(data.eval_sets, predictions, metrics)
            if monitor.record(iteration, params, None, loss, scores, clock.seconds, predictions):
                break
        return monitor.finish(FitResult(params, None, monitor.history))


register_solver(
    Solver(
        name="toy-ridge",
        family="toy",
        solve=solve_ridge,
        make_config=make_ridge_config,
        parameters=frozenset({"reg_linear"}),
        unit="solve",
    )
)


# ----------------------------------------------------------------------- the estimator
class LinearLogRegressor(RegressorMixin, BaseFM):
    """A linear model of log(1 + y): every piece above, nothing edited elsewhere."""

    _task_class = LogRegressionTask
    _model_class = LinearModel
    _parameter_constraints: ClassVar[dict] = {
        "solver": [Options(("toy-ridge",))],
        "reg_linear": [Interval(float, 0, None)],
        "max_iter": [Interval(int, 1, None)],
        "random_state": [RANDOM_STATE],
        "warm_start": [BOOLEAN],
        "verbose": [Interval(int, 0, None)],
        "n_jobs": [Interval(int, -1, None), NONE],
    }

    def __init__(
        self,
        *,
        solver="toy-ridge",
        reg_linear=1.0,
        max_iter=1,
        random_state=None,
        warm_start=False,
        verbose=0,
        n_jobs=None,
    ):
        self.solver = solver
        self.reg_linear = reg_linear
        self.max_iter = max_iter
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.n_jobs = n_jobs

    def _make_model(self, fitted=False):
        return LinearModel(self._fitted_dtype if fitted else np.float64)

    def predict(self, X):
        return np.expm1(self._decision(X))


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = sp.random(400, 12, density=0.3, random_state=1, format="csr")
    w = 0.5 * rng.normal(size=12)
    y = np.expm1(3.0 + X @ w + 0.01 * rng.normal(size=400))
    assert np.all(y > 0)
    return X, y, w


def test_toy_estimator_fits_predicts_and_calls_back(data):
    X, y, w = data
    seen = []
    model = LinearLogRegressor(reg_linear=1e-6).fit(
        X, y, eval_set=[(X, y)], callbacks=[lambda info: seen.append(info.iteration)]
    )
    assert seen == [1] and model.n_iter_ == 1
    np.testing.assert_allclose(model.w_, w, atol=0.05)
    assert model.history_.valid["rmse"][0] == pytest.approx(
        np.sqrt(np.mean((model.predict(X) - y) ** 2))
    )
    ridge = LinearLogRegressor(reg_linear=1e3).fit(X, y)
    assert np.linalg.norm(ridge.w_) < 0.5 * np.linalg.norm(model.w_)  # the penalty applies


def test_toy_estimator_saves_and_loads_without_pickle(data, tmp_path):
    X, y, _ = data
    model = LinearLogRegressor(reg_linear=0.1).fit(X, y)
    fmlearn.save(model, tmp_path / "toy.fmlearn")
    back = fmlearn.load(tmp_path / "toy.fmlearn")
    assert type(back) is LinearLogRegressor and back.get_params() == model.get_params()
    np.testing.assert_array_equal(back.predict(X), model.predict(X))
    assert back.y_max_ == model.y_max_


def test_toy_task_errors_reach_the_user(data):
    X, y, _ = data
    with pytest.raises(ValueError, match="needs y ≥ 0"):
        LinearLogRegressor().fit(X, -y - 1)
    with pytest.raises(ValueError, match="'solver' parameter of LinearLogRegressor"):
        LinearLogRegressor(solver="adagrad").fit(X, y)
    with pytest.raises(ValueError, match=r"'solver' parameter of FMRegressor .* Got 'toy-ridge'"):
        fmlearn.FMRegressor(solver="toy-ridge").fit(X, y)  # trains linear models only

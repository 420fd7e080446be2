"""Callbacks: code that runs after every epoch or sweep, and may stop training.

Pass them to ``fit(X, y, callbacks=[...])``. A callback is an object with three methods
(subclass :class:`Callback` and override what you need) or simply a function of an
:class:`~fmlearn.solvers.base.IterationInfo` that returns True to stop::

    def stop_when_good(info):
        return info.scores.get("rmse", 1.0) < 0.9

    FMRegressor().fit(X, y, eval_set=[(X_val, y_val)], callbacks=[stop_when_good])

They are ``fit`` arguments, not constructor parameters, because they observe one fit and
often hold state (a progress bar, a recording): as parameters they would be cloned by
grid searches and written into model files. Early stopping and progress lines are
callbacks too, built from the estimator's ``early_stopping``/``tol`` and ``verbose``.
"""

from __future__ import annotations

import sys
import time

from fmlearn._progress import Progress


class Callback:
    """Base class: every hook does nothing until overridden."""

    def on_fit_begin(self, first: int, last: int, unit: str) -> None:
        """Training will run iterations ``first … last`` (``unit``: "epoch" or "sweep")."""

    def on_iteration(self, info) -> bool | None:
        """After each iteration; return True to stop training after this one."""
        return None

    def on_fit_end(self, result):
        """After training with its ``FitResult`` (None if training failed).

        Return a replacement result (early stopping returns the best epoch's) or None.
        """
        return None


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by ``tol`` for ``patience`` iterations.

    ``monitor`` is a metric name in ``history_.valid`` (``"rmse"``, ``"logloss_1"`` …),
    ``"train_loss"``, or None for the first metric of the first eval set. Smaller is
    better (AUC-like metrics: monitor a loss instead). With ``restore_best`` the result
    is the parameters (and optimiser state) of the best iteration; the history keeps
    every iteration that ran. For MCMC the result is the chain as it was at the best
    sweep, and the average of the samples kept until then (never a single sample).
    """

    def __init__(
        self,
        monitor: str | None = None,
        *,
        patience: int = 5,
        tol: float = 0.0,
        restore_best: bool = True,
    ):
        self.monitor = monitor
        self.patience = patience
        self.tol = tol
        self.restore_best = restore_best

    def on_fit_begin(self, first, last, unit):
        self.best = float("inf")
        self.stale = 0
        self.best_params = self.best_state = None

    def on_iteration(self, info) -> bool:
        value = self._watched(info)
        if value < self.best - self.tol:
            self.best, self.stale = value, 0
            if self.restore_best:
                self.best_params = info.params.copy()
                self.best_state = None if info.state is None else info.state.copy()
            return False
        self.stale += 1
        return self.stale >= self.patience

    def on_fit_end(self, result):
        if result is None or self.best_params is None:
            return None
        params = self.best_params
        posterior_mean = getattr(self.best_state, "posterior_mean", None)
        if posterior_mean is not None:  # MCMC: the kept samples' mean, not one sample
            params = posterior_mean(params.dtype)
        return type(result)(params, self.best_state, result.history)

    def _watched(self, info) -> float:
        if self.monitor == "train_loss":
            return info.train_loss
        if self.monitor is None:
            if not info.scores:
                raise ValueError("EarlyStopping(monitor=None) needs an eval_set to watch.")
            return next(iter(info.scores.values()))
        if self.monitor not in info.scores:
            raise ValueError(
                f"EarlyStopping cannot watch {self.monitor!r}: this fit records "
                f"{['train_loss', *info.scores]}."
            )
        return info.scores[self.monitor]


class ProgressBar(Callback):
    """A live bar on a terminal, one line per iteration elsewhere (``verbose=1``)."""

    def __init__(self, stream=None):
        self.stream = stream
        self._progress = None

    def on_fit_begin(self, first, last, unit):
        stream = self.stream if self.stream is not None else sys.stdout
        self._progress = Progress(first, last, enabled=True, unit=unit, stream=stream)

    def on_iteration(self, info):
        self._progress.update(info.iteration, info.train_loss, info.scores, info.seconds)

    def on_fit_end(self, result):
        if self._progress is not None:
            self._progress.close()
            self._progress = None


class Timer(Callback):
    """Records wall and CPU (this thread) seconds at the end of every iteration.

    ``wall`` and ``cpu`` hold, per iteration, the time since the previous one ended (or
    since the fit began): what benchmarks report as seconds per epoch or sweep.
    """

    def on_fit_begin(self, first, last, unit):
        self.wall, self.cpu = [], []
        self._wall, self._cpu = time.perf_counter(), time.thread_time()

    def on_iteration(self, info):
        wall, cpu = time.perf_counter(), time.thread_time()
        self.wall.append(wall - self._wall)
        self.cpu.append(cpu - self._cpu)
        self._wall, self._cpu = wall, cpu

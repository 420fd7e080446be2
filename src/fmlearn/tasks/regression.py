"""Regression: squared loss, Gaussian likelihood, RMSE; predictions clipped to the seen range."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from fmlearn.kernels import coordinate, losses
from fmlearn.tasks.base import MetricsFn, Task, weighted_mean


class Regression(Task):
    """Real-valued targets. ``clip`` clips predictions to ``[y_min_, y_max_]`` (libFM)."""

    name: ClassVar[str] = "regression"
    sgd_loss: ClassVar[int] = losses.SQUARED
    likelihood: ClassVar[int] = coordinate.REGRESSION
    fitted_attributes: ClassVar[tuple[str, ...]] = ("y_min_", "y_max_")

    @classmethod
    def check_target(cls, target: dict) -> None:
        low, high = target["y_min_"], target["y_max_"]
        if not all(isinstance(v, int | float) and np.isfinite(v) for v in (low, high)):
            raise ValueError(f"y_min_={low!r} and y_max_={high!r} must be finite numbers")
        if low > high:
            raise ValueError(f"y_min_={low} > y_max_={high}")

    # SGD family, lazy L2 (a feature's penalty grows with its frequency): tuned on
    # MovieLens-100K; ALS penalises the whole objective once, as libFM (larger scale).
    default_regularization: ClassVar[dict] = {"sgd": (0.0, 0.0, 0.1), "als": (0.0, 5.0, 13.0)}

    def __init__(self, owner: str = "estimator", family: str = "sgd", clip: bool = True):
        super().__init__(owner, family)
        self.clip = clip

    def learn_target(self, y, previous: dict | None = None, classes=None) -> dict:
        if classes is not None:
            raise TypeError(f"{self.owner}.partial_fit() got an unexpected argument 'classes'.")
        y = self.encode(y)
        low, high = float(y.min()), float(y.max())
        if previous:  # warm start or partial_fit: widen the range seen so far
            low, high = min(low, previous["y_min_"]), max(high, previous["y_max_"])
        return {"y_min_": low, "y_max_": high}

    def encode(self, y) -> np.ndarray:
        y = np.asarray(y)
        if y.dtype.kind not in "biuf":
            try:
                y = y.astype(np.float64)
            except (TypeError, ValueError):
                raise TypeError(
                    f"{self.owner} needs a numeric target y; got values like {y.ravel()[:1]!r} "
                    f"(dtype {y.dtype}). Use FMClassifier for class labels."
                ) from None
        y = y.astype(np.float64).ravel()
        if not np.all(np.isfinite(y)):
            raise ValueError("Input y contains NaN or infinity.")
        return y

    def metrics(self) -> MetricsFn:
        low, high = self.target["y_min_"], self.target["y_max_"]
        clip = self.clip

        def rmse(raw, y, sample_weight):
            if clip:
                raw = np.clip(raw, low, high)
            mse = weighted_mean((raw - y) ** 2, sample_weight)
            return {"rmse": float(np.sqrt(mse))}

        return rmse

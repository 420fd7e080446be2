"""The objects passed between solvers, estimators and persistence.

:class:`FMParams` is the one place the parameter layout lives; :class:`FitHistory` is
the one record of training. Both are plain data so they can be saved without pickle.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class FMParams:
    """FM parameters: bias ``w0``, linear weights ``w`` (n,), factors ``V`` (n, k).

    ``w0`` is stored as a length-1 array so kernels can update it in place.
    """

    w0: np.ndarray
    w: np.ndarray
    V: np.ndarray

    @classmethod
    def initial(cls, n_features: int, n_factors: int, init_std: float, rng, dtype) -> FMParams:
        """Zero bias and weights, factors ~ N(0, init_std²) (libFM's ``-init_stdev``).

        Drawn in float64 blocks of ~1M values and stored in ``dtype``: the same numbers
        as one big draw, without a full-size float64 temporary for float32 models.
        """
        V = np.empty((n_features, n_factors), dtype=dtype)
        step = max(1, 2**20 // max(n_factors, 1))
        for start in range(0, n_features, step):
            stop = min(start + step, n_features)
            V[start:stop] = rng.normal(0.0, init_std, size=(stop - start, n_factors))
        return cls(np.zeros(1, dtype=dtype), np.zeros(n_features, dtype=dtype), V)

    @property
    def n_features(self) -> int:
        return self.w.shape[0]

    @property
    def n_factors(self) -> int:
        return self.V.shape[1]

    def copy(self) -> FMParams:
        return FMParams(self.w0.copy(), self.w.copy(), self.V.copy())

    def as_tuple(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return (self.w0, self.w, self.V)


@dataclass
class FitHistory:
    """Per-epoch record of a fit: what users plot to see convergence.

    ``train_loss`` is the mean weighted loss seen while passing over the training rows
    (½(ŷ−y)² for regression, log-loss for classification). ``valid`` maps a metric name
    (``"rmse"``, ``"logloss"``, ``"auc"`` …) to one value per epoch, for the validation set
    (``early_stopping``) or the first ``eval_set``. ``seconds`` is wall time per epoch.
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

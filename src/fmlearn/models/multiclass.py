"""Multiclass (softmax) FMs: one score per class, C classes (kernels/softmax.py).

Two layouts, chosen by ``FMClassifier(multiclass=…)``:

* ``"separate"`` (the default): each class is its own FM, ``V`` (n, C, k).
* ``"shared"``: the classes share the factors ``V`` (n, k) and each has its own
  projection of the k pairwise components, ``P`` (C, k), besides its own bias and linear
  weights. The factor work of a row is done once for all classes. P is not penalised,
  and penalising it per row drove it to 0 (the model linear); since ``V / a, P · a²``
  is the same model, L2 on V alone lets P grow instead (an open problem: the
  FMClassifier docstring has the measurement).

Both have per-class ``w0`` (C,) and ``w`` (n, C). :class:`SoftmaxParams` is the one
place the layouts live; :class:`SoftmaxFM` initialises and predicts with them.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import ClassVar

import numba
import numpy as np
import scipy.sparse as sp

from fmlearn._utils import format_bytes, physical_memory
from fmlearn._validation import csr_arrays
from fmlearn.kernels import softmax as K
from fmlearn.models.base import Model, normal_table

PARALLEL_PREDICT_MIN_ROWS = 20_000
PREDICT_BLOCK_ROWS = 4096
#: Above this many classes a fit warns about the size of the model (issue 20).
MANY_CLASSES = 1000


@dataclass
class SoftmaxParams:
    """``w0`` (C,), ``w`` (n, C), ``V`` (n, k) with ``P`` (C, k) — shared — or ``V``
    (n, C, k) with ``P`` None — separate."""

    w0: np.ndarray
    w: np.ndarray
    V: np.ndarray
    P: np.ndarray | None = None

    @property
    def shared(self) -> bool:
        return self.P is not None

    @property
    def n_features(self) -> int:
        return self.w.shape[0]

    @property
    def n_classes(self) -> int:
        return self.w0.shape[0]

    @property
    def n_factors(self) -> int:
        return self.V.shape[-1]

    @property
    def dtype(self) -> np.dtype:
        return self.V.dtype

    def copy(self) -> SoftmaxParams:
        return SoftmaxParams(*(a.copy() for a in self.as_tuple()))

    def astype(self, dtype) -> SoftmaxParams:
        return SoftmaxParams(*(a.astype(dtype) for a in self.as_tuple()))

    def as_tuple(self) -> tuple[np.ndarray, ...]:
        """``(w0, w, V, P)`` or ``(w0, w, V)``: the order the kernels take them in."""
        return (self.w0, self.w, self.V) + ((self.P,) if self.shared else ())

    def arrays(self) -> dict[str, np.ndarray]:
        arrays = {"w0_": self.w0, "w_": self.w, "V_": self.V}
        if self.shared:
            arrays["P_"] = self.P
        return arrays

    def fitted_attributes(self) -> dict:
        return self.arrays()


class SoftmaxFM(Model):
    """A rank-``n_factors`` softmax FM over ``n_classes`` classes, stored in ``dtype``.

    w0 and w start at 0, V ~ N(0, init_std²) as the FM's, and P (shared layout)
    ~ N(0, 1). Not at 1: the softmax does not change when the same vector is added to
    every row of P (every class score moves by the same Σ_f A_f), so P = 1 is the
    degenerate P = 0 — V's gradient ``Σ_c g_c P[c, f]`` is then 0 and only P learns at
    first (measured on generated softmax data, C = 5: test log-loss 1.35 with P = 1,
    logistic regression's, against 0.86–0.89 with P ~ N(0, 1)).
    """

    name: ClassVar[str] = "softmax"
    families: ClassVar[frozenset[str]] = frozenset({"sgd"})

    def __init__(
        self,
        n_factors: int,
        init_std: float = 0.1,
        dtype=np.float64,
        n_classes: int | None = None,
        shared: bool = True,
    ):
        self.n_factors = int(n_factors)
        self.init_std = float(init_std)
        self._dtype = np.dtype(dtype).type
        self.n_classes = n_classes
        self.shared = bool(shared)

    @property
    def dtype(self) -> type:
        return self._dtype

    def init_params(self, n_features: int, rng: np.random.Generator) -> SoftmaxParams:
        C, k, dtype = int(self.n_classes), self.n_factors, self.dtype
        _check_size(n_features, C, k, self.shared, dtype)
        w0 = np.zeros(C, dtype=dtype)
        w = np.zeros((n_features, C), dtype=dtype)
        if self.shared:
            V = normal_table(rng, (n_features, k), self.init_std, dtype)
            return SoftmaxParams(w0, w, V, normal_table(rng, (C, k), 1.0, dtype))
        return SoftmaxParams(w0, w, normal_table(rng, (n_features, C, k), self.init_std, dtype))

    def decision(self, X: sp.csr_matrix, params: SoftmaxParams, n_threads: int = 1) -> np.ndarray:
        """Per-class scores ŷ (n_rows, C), float64; the same bits on any thread count."""
        out = np.empty((X.shape[0], params.n_classes), dtype=np.float64)
        csr = csr_arrays(X)
        p = params.as_tuple()
        serial = X.shape[0] < PARALLEL_PREDICT_MIN_ROWS or n_threads <= 1
        if serial:
            (K.predict_shared_csr if params.shared else K.predict_separate_csr)(*csr, *p, out)
            return out
        previous = numba.get_num_threads()
        numba.set_num_threads(min(n_threads, numba.config.NUMBA_NUM_THREADS))
        try:
            kernel = (
                K.predict_shared_csr_parallel if params.shared else K.predict_separate_csr_parallel
            )
            kernel(*csr, *p, out, PREDICT_BLOCK_ROWS)
        finally:
            numba.set_num_threads(previous)
        return out

    def sgd_epoch(
        self, X, y, sample_weight, order, params, state, hp, codes, t0, batch_size, n_chunks
    ) -> float:
        """One SGD-family pass (kernels/softmax.py), row by row; Σ weighted loss."""
        if batch_size != 1:
            raise ValueError("the multiclass FM trains row by row (batch_size=1)")
        args = (X, y, sample_weight, order, params.as_tuple(), state, hp, codes, t0)
        if n_chunks == 1:
            kernel = K.shared_sgd_epoch if params.shared else K.separate_sgd_epoch
            return kernel(*args)
        kernel = K.shared_sgd_epoch_hogwild if params.shared else K.separate_sgd_epoch_hogwild
        return kernel(*args, n_chunks)

    def params_from_arrays(
        self, arrays: dict[str, np.ndarray], n_features: int, check_values: bool = True
    ) -> SoftmaxParams:
        missing = [name for name in ("w0_", "w_", "V_") if name not in arrays]
        if self.shared and "P_" not in arrays:
            missing.append("P_")
        if missing:
            raise ValueError(f"missing array {missing[0]}")
        w0, w, V = arrays["w0_"], arrays["w_"], arrays["V_"]
        P = arrays["P_"] if self.shared else None
        learned = [a for a in (w0, w, V, P) if a is not None]
        if V.dtype not in (np.float32, np.float64) or any(a.dtype != V.dtype for a in learned):
            raise ValueError(f"parameter dtypes {[str(a.dtype) for a in learned]}")
        C = w0.shape[0] if w0.ndim == 1 else -1
        shapes = [a.shape for a in learned]
        if C < 2 or w.shape != (V.shape[0], C) or V.ndim != (2 if self.shared else 3):
            raise ValueError(f"parameter shapes {shapes}")
        if (P is not None and P.shape != (C, V.shape[1])) or (P is None and V.shape[1] != C):
            raise ValueError(f"parameter shapes {shapes}")
        if self.n_classes is not None and C != self.n_classes:
            raise ValueError(f"w0_ has {C} classes but the model {self.n_classes}")
        if V.shape[0] != n_features:
            raise ValueError(f"V_ has {V.shape[0]} rows but n_features_in_={n_features}")
        if V.shape[-1] != self.n_factors:
            raise ValueError(f"V_ has rank {V.shape[-1]} but n_factors={self.n_factors}")
        if check_values and not all(np.all(np.isfinite(a)) for a in learned):
            raise ValueError("parameters contain NaN or infinity")
        # the separate layout's kernels view V as (n, C·k): C order (a copy only if not)
        return SoftmaxParams(w0, w, np.ascontiguousarray(V), P)

    @classmethod
    def saved_rank(cls, arrays):
        V = arrays.get("V_")
        return int(V.shape[-1]) if isinstance(V, np.ndarray) and V.ndim in (2, 3) else None

    def params_from_estimator(self, estimator) -> SoftmaxParams:
        V = np.ascontiguousarray(estimator.V_)  # the kernels view V as (n, C·k)
        return SoftmaxParams(estimator.w0_, estimator.w_, V, getattr(estimator, "P_", None))


def _check_size(n_features: int, n_classes: int, k: int, shared: bool, dtype) -> None:
    """Warn about a model of very many classes (its size grows with C), and refuse one
    larger than memory before allocating it."""
    values = n_features * n_classes * (1 + (1 if shared else k)) + (n_features * k if shared else 0)
    size = values * np.dtype(dtype).itemsize
    memory = physical_memory()
    if memory is not None and size > memory:
        raise MemoryError(
            f"A softmax FM of {n_classes:,} classes over {n_features:,} features would take "
            f"{format_bytes(size)} of this machine's {format_bytes(memory)}."
        )
    if n_classes > MANY_CLASSES:
        warnings.warn(
            f"{n_classes:,} classes: the model holds {n_classes:,} weights per feature "
            f"({format_bytes(size)} in all) and every row computes every class's score. "
            "Check that y holds class labels, not a continuous target; for many classes "
            "consider a ranking model (FMRecommender).",
            UserWarning,
            stacklevel=2,
        )

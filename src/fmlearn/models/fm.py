"""The classic factorization machine (Rendle 2010): bias w0, linear weights w, factors V.

``ŷ(x) = w0 + Σ_i w_i x_i + Σ_{i<j} <v_i, v_j> x_i x_j``, computed in O(k · nnz(x)) by
``kernels.predict`` (Rendle's identity). :class:`FMParams` is the one place this layout
lives; :class:`FM` initialises and predicts with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numba
import numpy as np
import scipy.sparse as sp

from fmlearn._validation import csr_arrays
from fmlearn.kernels import sgd as sgd_kernels
from fmlearn.kernels.predict import predict_csr, predict_csr_parallel
from fmlearn.models.base import Model, normal_table

#: Below this many rows prediction stays on one thread: starting threads costs more.
PARALLEL_PREDICT_MIN_ROWS = 20_000
PREDICT_BLOCK_ROWS = 4096


@dataclass
class FMParams:
    """FM parameters: bias ``w0`` (1,), linear weights ``w`` (n,), factors ``V`` (n, k).

    ``w0`` is a length-1 array so that kernels can update it in place.
    """

    w0: np.ndarray
    w: np.ndarray
    V: np.ndarray

    @property
    def n_features(self) -> int:
        return self.w.shape[0]

    @property
    def n_factors(self) -> int:
        return self.V.shape[1]

    @property
    def dtype(self) -> np.dtype:
        return self.V.dtype

    def copy(self) -> FMParams:
        return FMParams(self.w0.copy(), self.w.copy(), self.V.copy())

    def astype(self, dtype) -> FMParams:
        return FMParams(*(a.astype(dtype) for a in self.as_tuple()))

    def as_tuple(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(w0, w, V)``: the order every kernel takes them in."""
        return (self.w0, self.w, self.V)

    def arrays(self) -> dict[str, np.ndarray]:
        return {"w0_": self.w0, "w_": self.w, "V_": self.V}

    def fitted_attributes(self) -> dict:
        return {"w0_": float(self.w0[0]), "w_": self.w, "V_": self.V}


class FM(Model):
    """A rank-``n_factors`` FM whose parameters are stored in ``dtype``.

    ``init_std`` is the standard deviation of the normal draw of V (libFM's
    ``-init_stdev``); w0 and w start at 0.
    """

    name: ClassVar[str] = "fm"
    families: ClassVar[frozenset[str]] = frozenset({"sgd", "sgda", "als", "mcmc"})

    def __init__(self, n_factors: int, init_std: float = 0.1, dtype=np.float64):
        self.n_factors = int(n_factors)
        self.init_std = float(init_std)
        self._dtype = np.dtype(dtype).type

    @property
    def dtype(self) -> type:
        return self._dtype

    def init_params(self, n_features: int, rng: np.random.Generator) -> FMParams:
        """Zero bias and weights, factors ~ N(0, init_std²).

        Drawn in float64 blocks of ~1M values and stored in ``dtype``: the same numbers
        as one big draw, without a full-size float64 temporary for float32 models.
        """
        k = self.n_factors
        V = normal_table(rng, (n_features, k), self.init_std, self.dtype)
        return FMParams(np.zeros(1, dtype=self.dtype), np.zeros(n_features, dtype=self.dtype), V)

    def decision(self, X: sp.csr_matrix, params: FMParams, n_threads: int = 1) -> np.ndarray:
        """ŷ for every row; row blocks run in parallel when there are enough rows.

        Both paths compute each row with the same ``row_predict``, so the result does
        not depend on the thread count, bit for bit.
        """
        out = np.empty(X.shape[0], dtype=np.float64)
        indptr, indices, data = csr_arrays(X)
        w0 = float(params.w0[0])
        if X.shape[0] < PARALLEL_PREDICT_MIN_ROWS or n_threads <= 1:
            predict_csr(indptr, indices, data, w0, params.w, params.V, out)
            return out
        previous = numba.get_num_threads()
        numba.set_num_threads(min(n_threads, numba.config.NUMBA_NUM_THREADS))
        try:
            predict_csr_parallel(
                indptr, indices, data, w0, params.w, params.V, out, PREDICT_BLOCK_ROWS
            )
        finally:
            numba.set_num_threads(previous)
        return out

    def sgd_epoch(
        self, X, y, sample_weight, order, params, state, hp, codes, t0, batch_size, n_chunks
    ) -> float:
        """One SGD-family pass over ``order`` (kernels/sgd.py); returns Σ weighted loss.

        ``X`` is the CSR triplet (``TrainData.arrays``); ``state`` the optimiser arrays.
        """
        args = (X, y, sample_weight, order, params.as_tuple(), state, hp, codes)
        if n_chunks == 1:
            return sgd_kernels.sgd_epoch(*args, t0, batch_size)
        return sgd_kernels.sgd_epoch_hogwild(*args, t0, batch_size, n_chunks)

    def params_from_arrays(
        self, arrays: dict[str, np.ndarray], n_features: int, check_values: bool = True
    ) -> FMParams:
        missing = [name for name in ("w0_", "w_", "V_") if name not in arrays]
        if missing:
            raise ValueError(f"missing array {missing[0]}")
        w0, w, V = arrays["w0_"], arrays["w_"], arrays["V_"]
        if V.dtype not in (np.float32, np.float64) or w.dtype != V.dtype or w0.dtype != V.dtype:
            raise ValueError(f"parameter dtypes {w0.dtype}, {w.dtype}, {V.dtype}")
        if V.ndim != 2 or w.shape != (V.shape[0],) or w0.shape != (1,):
            raise ValueError(f"parameter shapes {w0.shape}, {w.shape}, {V.shape}")
        if V.shape[0] != n_features:
            raise ValueError(f"V_ has {V.shape[0]} rows but n_features_in_={n_features}")
        if V.shape[1] != self.n_factors:
            raise ValueError(f"V_ has {V.shape[1]} columns but n_factors={self.n_factors}")
        if check_values and not (
            np.all(np.isfinite(V)) and np.all(np.isfinite(w)) and np.isfinite(w0[0])
        ):
            raise ValueError("parameters contain NaN or infinity")
        return FMParams(w0, w, V)

    @classmethod
    def saved_rank(cls, arrays):
        V = arrays.get("V_")
        return int(V.shape[-1]) if isinstance(V, np.ndarray) and V.ndim == 2 else None

    def params_from_estimator(self, estimator) -> FMParams:
        V = estimator.V_
        return FMParams(np.array([estimator.w0_], dtype=V.dtype), estimator.w_, V)

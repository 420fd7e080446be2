"""The higher-order FM (Blondel et al., NeurIPS 2016), with separate factors per order.

``ŷ(x) = w0 + Σ_i w_i x_i + Σ_{m=2}^{d} Σ_f A^m(p^{(m)}_f, x)``, ``A^m`` the ANOVA kernel
of order m (the m-th elementary symmetric polynomial of the row's ``p_if x_i``). The
factors are one table ``V`` of shape (n_features, d − 1, k), ``V[:, m−2, :]`` those of
order m, one feature's factors of every order contiguous. d = 2 is the classic FM.
Prediction and a step cost O(d² k · nnz) per row (kernels/anova.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numba
import numpy as np
import scipy.sparse as sp

from fmlearn._validation import csr_arrays
from fmlearn.kernels import anova as anova_kernels
from fmlearn.models.base import Model, normal_table

#: Below this many rows prediction stays on one thread: starting threads costs more.
PARALLEL_PREDICT_MIN_ROWS = 20_000
PREDICT_BLOCK_ROWS = 4096


@dataclass
class HOFMParams:
    """``w0`` (1,), ``w`` (n,), ``V`` (n, d − 1, k): ``V[:, m−2, :]`` the order-m factors."""

    w0: np.ndarray
    w: np.ndarray
    V: np.ndarray

    @property
    def n_features(self) -> int:
        return self.w.shape[0]

    @property
    def n_factors(self) -> int:
        return self.V.shape[2]

    @property
    def degree(self) -> int:
        return self.V.shape[1] + 1

    @property
    def dtype(self) -> np.dtype:
        return self.V.dtype

    def copy(self) -> HOFMParams:
        return HOFMParams(self.w0.copy(), self.w.copy(), self.V.copy())

    def astype(self, dtype) -> HOFMParams:
        return HOFMParams(*(a.astype(dtype) for a in self.as_tuple()))

    def as_tuple(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(w0, w, V)``: the order every kernel takes them in."""
        return (self.w0, self.w, self.V)

    def arrays(self) -> dict[str, np.ndarray]:
        return {"w0_": self.w0, "w_": self.w, "V_": self.V}

    def fitted_attributes(self) -> dict:
        return {"w0_": float(self.w0[0]), "w_": self.w, "V_": self.V}


class HOFM(Model):
    """A degree-``degree``, rank-``n_factors`` higher-order FM stored in ``dtype``.

    ``init_std`` is the standard deviation of the normal draw of V: one for every order,
    or one per order 2 … degree (the estimators' "auto" gives each order its own,
    ``_base.auto_init_std``); w0 and w start at 0. Trained by the SGD family, row by row.
    """

    name: ClassVar[str] = "hofm"
    families: ClassVar[frozenset[str]] = frozenset({"sgd", "als"})

    def __init__(self, n_factors: int, init_std=0.1, dtype=np.float64, degree: int = 3):
        self.n_factors = int(n_factors)
        # one value for every order, or one per order 2 … degree
        self.init_std = float(init_std) if np.ndim(init_std) == 0 else tuple(map(float, init_std))
        self._dtype = np.dtype(dtype).type
        if int(degree) != degree or degree < 2:
            raise ValueError(f"degree must be an integer ≥ 2; got {degree!r}")
        self.degree = int(degree)

    @property
    def dtype(self) -> type:
        return self._dtype

    def init_params(self, n_features: int, rng: np.random.Generator) -> HOFMParams:
        """Zero bias and weights, the factors of order m ~ N(0, init_std[m]²)."""
        shape = (n_features, self.degree - 1, self.n_factors)
        if isinstance(self.init_std, tuple):  # per order, drawn order by order
            if len(self.init_std) != self.degree - 1:
                raise ValueError(
                    f"init_std has {len(self.init_std)} values for degree {self.degree}"
                )
            V = np.empty(shape, dtype=self.dtype)
            for j, std in enumerate(self.init_std):
                V[:, j, :] = normal_table(rng, (n_features, self.n_factors), std, self.dtype)
        else:
            V = normal_table(rng, shape, self.init_std, self.dtype)
        return HOFMParams(np.zeros(1, dtype=self.dtype), np.zeros(n_features, dtype=self.dtype), V)

    def decision(self, X: sp.csr_matrix, params: HOFMParams, n_threads: int = 1) -> np.ndarray:
        """ŷ for every row; the same per-row kernel on one or several threads (same bits)."""
        out = np.empty(X.shape[0], dtype=np.float64)
        indptr, indices, data = csr_arrays(X)
        w0 = float(params.w0[0])
        if X.shape[0] < PARALLEL_PREDICT_MIN_ROWS or n_threads <= 1:
            anova_kernels.predict_anova_csr(indptr, indices, data, w0, params.w, params.V, out)
            return out
        previous = numba.get_num_threads()
        numba.set_num_threads(min(n_threads, numba.config.NUMBA_NUM_THREADS))
        try:
            anova_kernels.predict_anova_csr_parallel(
                indptr, indices, data, w0, params.w, params.V, out, PREDICT_BLOCK_ROWS
            )
        finally:
            numba.set_num_threads(previous)
        return out

    def sgd_epoch(
        self, X, y, sample_weight, order, params, state, hp, codes, t0, batch_size, n_chunks
    ) -> float:
        """One SGD-family pass (kernels/anova.py), row by row; Σ weighted loss."""
        if batch_size != 1:
            raise ValueError("the higher-order FM trains row by row (batch_size=1)")
        args = (X, y, sample_weight, order, params.as_tuple(), state, hp, codes, t0)
        if n_chunks == 1:
            return anova_kernels.anova_sgd_epoch(*args)
        return anova_kernels.anova_sgd_epoch_hogwild(*args, n_chunks)

    def params_from_arrays(
        self, arrays: dict[str, np.ndarray], n_features: int, check_values: bool = True
    ) -> HOFMParams:
        missing = [name for name in ("w0_", "w_", "V_") if name not in arrays]
        if missing:
            raise ValueError(f"missing array {missing[0]}")
        w0, w, V = arrays["w0_"], arrays["w_"], arrays["V_"]
        if V.dtype not in (np.float32, np.float64) or w.dtype != V.dtype or w0.dtype != V.dtype:
            raise ValueError(f"parameter dtypes {w0.dtype}, {w.dtype}, {V.dtype}")
        if V.ndim != 3 or w.shape != (V.shape[0],) or w0.shape != (1,):
            raise ValueError(f"parameter shapes {w0.shape}, {w.shape}, {V.shape}")
        if V.shape[0] != n_features:
            raise ValueError(f"V_ has {V.shape[0]} rows but n_features_in_={n_features}")
        if V.shape[1] + 1 != self.degree:
            raise ValueError(
                f"V_ holds the factors of degree {V.shape[1] + 1} but degree={self.degree}"
            )
        if V.shape[2] != self.n_factors:
            raise ValueError(f"V_ has {V.shape[2]} factors but n_factors={self.n_factors}")
        if check_values and not (
            np.all(np.isfinite(V)) and np.all(np.isfinite(w)) and np.isfinite(w0[0])
        ):
            raise ValueError("parameters contain NaN or infinity")
        return HOFMParams(w0, w, np.ascontiguousarray(V))  # the epoch kernel needs C order

    @classmethod
    def saved_rank(cls, arrays):
        V = arrays.get("V_")
        return int(V.shape[-1]) if isinstance(V, np.ndarray) and V.ndim == 3 else None

    def params_from_estimator(self, estimator) -> HOFMParams:
        V = np.ascontiguousarray(estimator.V_)  # the epoch kernel needs C order
        return HOFMParams(np.array([estimator.w0_], dtype=V.dtype), estimator.w_, V)
